"""The identity of a claim, shared by ``verify`` (which signs a report for it) and ``approve``
(which checks that a report belongs to the entry being approved)."""

from __future__ import annotations

from typing import Any

from curator.core.jsonio import canonical_bytes, sha256_bytes

# Fields that the board itself changes as a claim moves through its lifecycle, and the
# maintainers' re-verification note; they are not part of what the submitter claimed, so they do
# not change the claim's digest (and approve does not take them from a submission).
LIFECYCLE_FIELDS = ("status", "history", "reports", "reverification")
BOARD_PROVENANCE = "pr"  # provenance.pr: written by approve, not by the submitter


def claim_digest(entry: dict[str, Any]) -> str:
    """sha256 of the entry's canonical JSON without its lifecycle fields."""
    claim = {k: v for k, v in entry.items() if k not in LIFECYCLE_FIELDS}
    provenance = claim.get("provenance")
    if isinstance(provenance, dict) and BOARD_PROVENANCE in provenance:
        # approve records the pull request that brought the claim: the stored entry must keep the
        # digest its report was made for.
        claim["provenance"] = {k: v for k, v in provenance.items() if k != BOARD_PROVENANCE}
    return sha256_bytes(canonical_bytes(claim))


def same_protocol(entry: dict[str, Any]) -> bool:
    """Whether a run of ``certification.verifier`` is the claim's own protocol: yes unless the claim
    says its number came from another certifier (``certification.claimed_with``)."""
    return "claimed_with" not in (entry.get("certification") or {})
