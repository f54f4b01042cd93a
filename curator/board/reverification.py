"""What the board may say about a row: its re-verification state, computed from the store.

A row is shown as ``re-verified`` only when a report file kept in the store
(``reports/<id>/<sha256>.json``, the name being the sha256 of its bytes) passes every check of
:func:`report_problems`: it is schema-valid, it binds to exactly this claim (its ``entry.sha256``
is the claim's digest, same model sha256, verifier, setting — :func:`curator.board.report_binding.report_mismatches`),
it covers the claim's full sample selection (not a smoke run or one shard), and its numbers and
verdict are what its per-sample arrays give when recomputed (:func:`curator.verify.report.summarize` on a
copy). Nothing an entry says about itself — ``status``, ``reports[]`` — can make a row re-verified;
those fields can only make it look *worse* (a ``refuted`` status shows as refuted).

States (:data:`STATES`):

* ``re-verified`` — a valid report confirms the claim; the row shows curator's certified accuracy
  with its interval, the clean accuracy curator measured, the verifier and the report;
* ``refuted`` — a valid report refutes it, or the maintainers refuted the entry;
* ``unconfirmed`` — a valid report certifies less than claimed with a weaker verifier: the row
  shows curator's measured lower bound;
* ``not-reverifiable`` — the maintainers' annotation ``reverification`` says why it cannot be
  re-run (no public weights, a layer the verifiers lack, needs a GPU, ...);
* ``pending`` — annotated as re-verifiable, not yet done;
* ``claimed`` — nothing is known beyond the claim (a submission awaiting verification).

The checks live in :func:`report_problems`, the one place to extend (e.g. with publication rules).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from curator.board import store
from curator.core.errors import CuratorError
from curator.core.jsonio import JsonFileError, sha256_file
from curator.core.sampling import indices_sha256, select_indices

STATES = ("re-verified", "refuted", "unconfirmed", "superseded", "not-reverifiable", "pending", "claimed")
ANNOTATION_STATES = ("not-reverifiable", "pending")
ANNOTATION_FIELD = "reverification"
# A verdict recomputed from a valid report → the row's state; refutation wins over confirmation
# when two valid reports disagree (a refutation is the cautious thing to show).
VERDICT_STATES = {"refuted": "refuted", "confirmed": "re-verified", "unconfirmed": "unconfirmed"}
_PRIORITY = {"refuted": 0, "re-verified": 1, "unconfirmed": 2}
_SUMMARY_KEYS = ("value", "lower", "upper", "successes", "n", "confidence")


@dataclass(frozen=True)
class RowState:
    """One row's re-verification state and, for report-backed states, what curator measured."""

    state: str
    reason: str | None = None
    certified: dict[str, Any] | None = None  # curator's interval: value, lower, upper, confidence (percent)
    clean: float | None = None  # curator's clean accuracy (percent)
    verifier: str | None = None  # "crown 1.0.0"
    report: str | None = None  # store-relative path of the report, reports/<id>/<sha>.json
    n: int | None = None
    attacked: dict[str, Any] | None = None  # the attack's robust-accuracy interval (an upper bound), if it ran
    superseded_by: str | None = None  # id of a report-backed entry that names this one in `supersedes`
    problems: tuple[str, ...] = field(default_factory=tuple)  # why stored reports were not used

    @property
    def label(self) -> str:
        if self.state == "not-reverifiable":
            return f"not re-verifiable: {self.reason}" if self.reason else "not re-verifiable"
        if self.state == "pending":
            return "re-verification pending"
        if self.state == "superseded":
            return "re-verified as another row"
        return self.state

    @property
    def from_report(self) -> bool:
        return self.report is not None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "label": self.label, "reason": self.reason, "certified": self.certified,
                "clean": self.clean, "verifier": self.verifier, "report": self.report, "n": self.n,
                "attacked": self.attacked,
                "superseded_by": self.superseded_by, "problems": list(self.problems)}


# --------------------------------------------------------------------------- checks of one report


def coverage_problems(entry: dict[str, Any], report: dict[str, Any], registry: Any = None) -> list[str]:
    """Why ``report`` does not cover the claim's full selection (empty when it does). The test-set
    size the selection is resolved on comes from the dataset plugin when it fixes one, not from the
    report (curator.board.publication.dataset_size)."""
    from curator.board.publication import dataset_size, registry_or_installed

    result = entry.get("result", {})
    dataset = report.get("dataset", {})
    # An attack that refutes the claim up front leaves the verifier's arrays empty: its own
    # per-sample arrays are then what must cover the selection.
    indices = report.get("samples", {}).get("index", []) or \
        ((report.get("attack") or {}).get("samples") or {}).get("index", [])
    n_total, _, out = dataset_size(entry, report, registry_or_installed(registry))
    if indices_sha256(indices) != dataset.get("indices_sha256"):
        out.append("the report's per-sample indices do not hash to its dataset.indices_sha256")
    try:
        claim = select_indices(result.get("sample_selection"), n_total)
    except CuratorError as exc:
        return out + [f"the claim's sample selection cannot be resolved on the report's test set: {exc}"]
    if indices_sha256(claim) != dataset.get("indices_sha256"):
        out.append(f"the report covers {len(indices)} samples, not the claim's full selection ({len(claim)} of "
                   f"{n_total}): a smoke run, a shard or another selection")
    if "n_samples" in result and len(indices) != result["n_samples"]:
        out.append(f"the report has {len(indices)} samples, the claim states n_samples = {result['n_samples']}")
    return out


def recomputed(report: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``report`` with totals, intervals and verdict recomputed from its per-sample arrays."""
    from curator.verify.report import summarize

    return summarize(copy.deepcopy(report))


def consistency_problems(report: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Where the report's stored numbers differ from those its arrays give."""
    out = []
    stored_ca = report.get("certified_accuracy") or {}
    if any(stored_ca.get(k) != fresh["certified_accuracy"].get(k) for k in _SUMMARY_KEYS):
        out.append(f"the report's certified accuracy {stored_ca.get('value')} (n={stored_ca.get('n')}) is not what "
                   f"its per-sample arrays give ({fresh['certified_accuracy']['value']}, "
                   f"n={fresh['certified_accuracy']['n']})")
    if report.get("totals") != fresh["totals"]:
        out.append("the report's totals are not what its per-sample arrays give")
    stored_verdict = (report.get("verdict") or {}).get("status")
    if stored_verdict != fresh["verdict"]["status"]:
        out.append(f"the report says {stored_verdict!r}, its per-sample arrays give {fresh['verdict']['status']!r}")
    return out


def report_problems(entry: dict[str, Any], report: dict[str, Any], registry: Any = None) -> list[str]:
    """Every reason why ``report`` may not set the board's state of ``entry`` (empty: it may).

    Any state needs a report on exactly this claim, over its full selection, whose stored numbers
    are what its per-sample arrays give. "re-verified" needs more: everything
    :func:`curator.board.publication.publication_problems` asks of a report that publishes (minimum n,
    protocol floor, recomputed verdict ``confirmed``) — the same check approve and ci publish run.
    """
    from curator.board.publication import publication_problems
    from curator.board.report_binding import report_mismatches
    from curator.verify.report import ReportError

    try:
        fresh = recomputed(report)
    except (ReportError, KeyError, TypeError, ValueError) as exc:
        return report_mismatches(entry, report) + coverage_problems(entry, report, registry) + [
            f"the report's numbers cannot be recomputed from its per-sample arrays: {exc}"]
    if fresh["verdict"]["status"] == "confirmed":
        # The publication check holds every check below (binding, full selection, recomputed numbers)
        # and the publishable minimum and protocol floor on top: after the cheap comparison with the
        # numbers just recomputed, it runs alone.
        return consistency_problems(report, fresh) or publication_problems(entry, report, registry)
    problems = report_mismatches(entry, report) + coverage_problems(entry, report, registry)
    problems += consistency_problems(report, fresh)
    if fresh["verdict"]["status"] not in VERDICT_STATES:
        problems.append(f"the report's verdict is {fresh['verdict']['status']!r}: {fresh['verdict'].get('reason')}")
    return problems


# --------------------------------------------------------------------------- the store


def stored_reports(root: Path, entry_id: str) -> list[tuple[str, dict[str, Any] | None, list[str]]]:
    """``(store-relative path, report or None, problems)`` for every file in ``reports/<id>/``."""
    from curator.verify.report import ReportError, load_report

    try:
        folder = store.safe_path(Path(root), store.REPORTS_DIR, store.check_slug(entry_id, "entry id"))
    except store.StorePathError as exc:
        return [(f"{store.REPORTS_DIR}/{entry_id}", None, [str(exc)])]
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        rel = f"{store.REPORTS_DIR}/{entry_id}/{path.name}"
        try:
            store.report_path(Path(root), entry_id, path.stem)
            if sha256_file(path) != path.stem:
                out.append((rel, None, [f"{rel}: the file's sha256 is not its name (edited after it was stored)"]))
                continue
            out.append((rel, load_report(path), []))
        except (store.StorePathError, JsonFileError, ReportError) as exc:
            out.append((rel, None, [f"{rel}: {exc}"]))
    return out


def _from_report(rel: str, report: dict[str, Any]) -> RowState:
    fresh = recomputed(report)
    ca = fresh["certified_accuracy"]
    verifier = report.get("verifier", {})
    attack = fresh.get("attack") or {}
    robust = attack.get("robust_accuracy")
    keys = ("value", "lower", "upper", "confidence")
    return RowState(
        VERDICT_STATES[fresh["verdict"]["status"]], reason=fresh["verdict"].get("reason"),
        # an attack that refuted the claim up front leaves nothing certified to show
        certified={k: ca.get(k) for k in keys} if ca.get("n") else None,
        clean=(fresh.get("clean_accuracy") or {}).get("value") if ca.get("n") else None,
        verifier=f"{verifier.get('name')} {verifier.get('version')}".strip(), report=rel, n=ca.get("n"),
        attacked=dict({k: robust.get(k) for k in keys}, name=attack.get("name")) if robust else None)


def _annotation(entry: dict[str, Any]) -> RowState | None:
    note = entry.get(ANNOTATION_FIELD)
    if isinstance(note, dict) and note.get("state") in ANNOTATION_STATES:
        return RowState(note["state"], reason=note.get("reason"))
    return None


def row_state(store_root: str | Path | None, entry: dict[str, Any]) -> RowState:
    """The state the board shows for ``entry``, from the reports kept in ``store_root`` (``None``:
    no store, so no report-backed state — only the annotation or a refuted status count)."""
    valid: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    found_reports = stored_reports(Path(store_root), entry.get("id", "")) if store_root is not None else []
    for rel, report, found in found_reports:
        if report is not None:
            found = [f"{rel}: {p}" for p in report_problems(entry, report)]
        if found:
            problems.extend(found)
        else:
            valid.append((rel, report))
    if valid:
        # Newest first, then (stable) by state priority: the newest report of the winning state.
        valid.sort(key=lambda item: (item[1].get("created_at") or "", item[0]), reverse=True)
        states = sorted((_from_report(rel, rep) for rel, rep in valid), key=lambda s: _PRIORITY[s.state])
        return replace(states[0], problems=tuple(problems))
    if entry.get("status") == "refuted":
        return RowState("refuted", reason="refuted by the maintainers", problems=tuple(problems))
    note = _annotation(entry)
    if note is not None:
        return replace(note, problems=tuple(problems))
    return RowState("claimed", problems=tuple(problems))


def board_states(store_root: str | Path | None, entries: Iterable[dict[str, Any]]) -> dict[str, RowState]:
    """``id → RowState`` for every entry; a row named in another's ``supersedes`` links to it when
    that other row's state comes from a valid report."""
    entries = list(entries)
    states = {e["id"]: row_state(store_root, e) for e in entries}
    for e in sorted(entries, key=lambda e: e["id"]):
        target = e.get("supersedes")
        if isinstance(target, str) and target in states and states[e["id"]].from_report \
                and states[target].superseded_by is None and target != e["id"]:
            # A row waiting for its public weights to be re-run is no longer waiting once they were.
            waiting = states[target].state == "pending"
            states[target] = replace(states[target], superseded_by=e["id"],
                                     **({"state": "superseded", "reason": states[e["id"]].label} if waiting else {}))
    return states


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Coverage:
    rows: int
    counts: Mapping[str, int]

    @property
    def reverified(self) -> int:
        return self.counts.get("re-verified", 0)

    def line(self) -> str:
        """``4 of 151 rows re-verified (1 unconfirmed, 5 pending, 145 not re-verifiable)``."""
        names = {"refuted": "refuted", "unconfirmed": "unconfirmed", "superseded": "re-run as another row",
                 "pending": "pending",
                 "not-reverifiable": "not re-verifiable", "claimed": "claimed, not yet re-verified"}
        rest = [f"{self.counts[s]} {names[s]}" for s in STATES[1:] if self.counts.get(s)]
        noun = "row" if self.rows == 1 else "rows"
        return f"{self.reverified} of {self.rows} {noun} re-verified" + (f" ({', '.join(rest)})" if rest else "")

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "re-verified": self.reverified, "counts": dict(self.counts), "line": self.line()}


def coverage(states: Iterable[RowState]) -> Coverage:
    counts: dict[str, int] = {}
    n = 0
    for s in states:
        counts[s.state] = counts.get(s.state, 0) + 1
        n += 1
    return Coverage(n, {s: counts[s] for s in STATES if s in counts})
