"""The one rule for whether a report may publish a claim: :func:`publication_problems`.

``curator approve``, ``curator ci publish`` and the board's "re-verified" badge all ask it. Every
field of the entry and of the report is treated as the submitter's choice: nothing the report
says about itself is believed when curator can recompute it. A report publishes a claim only when

* it is a schema-valid report on exactly this claim (:func:`curator.board.report_binding.report_mismatches`:
  digest, model, verifier and params, setting, claimed number);
* it covers the claim's **full** selection: its sample indices hash to the claim's own
  ``result.sample_selection`` resolved on the dataset (``all`` when the claim states none), and
  ``result.n_samples``, when stated, is that many — a ``--samples N`` smoke run never publishes;
* it has at least :func:`curator.core.stats.publishable_minimum` samples (500, or the whole test set
  when the dataset plugin says it is smaller);
* totals, intervals and verdict, recomputed from its per-sample arrays by
  :func:`curator.verify.report.summarize` (on a copy, at the default 99% confidence, with the minimum
  above), equal the stored ones, and the recomputed verdict is ``confirmed`` (claim inside the
  interval);
* the verifier's protocol floor (:meth:`curator.api.Verifier.publication_floor`) holds for the
  params that ran, and a probabilistic claim's ``certification.alpha`` is the ``alpha`` it ran with.

It only reads the two documents and the plugin registry: it runs no model and loads no data, so the
site can call it on every stored entry and report. See docs/verdicts.md.
"""

from __future__ import annotations

import copy
from typing import Any

from curator.api import params_with_defaults
from curator.core.errors import CuratorError
from curator.core.jsonio import canonical_bytes
from curator.core.sampling import indices_sha256, select_indices
from curator.core.stats import DEFAULT_CONFIDENCE, MIN_PUBLISHABLE_N, publishable_minimum

# Recomputed from the per-sample arrays and compared with what the report stores.
RECOMPUTED = ("totals", "certified_accuracy", "clean_accuracy", "verdict")

__all__ = ["publication_problems", "protocol_floor", "claim_indices", "RECOMPUTED"]


def protocol_floor(verifier: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The report's ``protocol_floor`` block: which floor applied to this run and what it found."""
    rule = getattr(verifier, "publication_floor_rule", "") or "none stated by the verifier"
    return {"verifier": verifier.name, "rule": rule, "problems": list(verifier.publication_floor(params))}


def claim_indices(entry: dict[str, Any], n_total: int) -> list[int]:
    """The test indices of the claim's own selection (``all`` when it states none)."""
    return select_indices(entry.get("result", {}).get("sample_selection") or {"kind": "all"}, n_total)


def registry_or_installed(registry: Any) -> Any:
    """``registry``, or the installed plugins' when none is given."""
    if registry is None:
        from curator.api.registry import get_registry

        registry = get_registry()
    return registry


def _installed(registry: Any, kind: str) -> bool:
    return bool(registry.names(kind))


def dataset_size(entry: dict[str, Any], report: dict[str, Any], registry: Any) -> tuple[int, int, list[str]]:
    """(test-set size to resolve the selection on, the publishable minimum, problems). The report's
    own ``n_total`` lowers the minimum only when the dataset plugin vouches for the same size."""
    name = entry.get("setting", {}).get("dataset")
    stated = report["dataset"]["n_total"]
    known = None
    if _installed(registry, "dataset") and registry.has("dataset", name):
        known = getattr(registry.dataset(name), "test_size", None)
    if known is None:
        return stated, MIN_PUBLISHABLE_N, []
    problems = [] if stated == known else [
        f"report dataset.n_total {stated} is not the {known} test images of {name}"]
    return known, publishable_minimum(known), problems


def _coverage_problems(entry: dict[str, Any], report: dict[str, Any], n_total: int, minimum: int) -> list[str]:
    out: list[str] = []
    try:
        want = claim_indices(entry, n_total)
    except CuratorError as exc:
        return [f"the claim's result.sample_selection cannot be resolved on {n_total} images: {exc}"]
    want_sha = indices_sha256(want)
    ran = report["samples"]["index"]
    if report["dataset"]["indices_sha256"] != want_sha or indices_sha256(ran) != want_sha:
        out.append(f"smoke run: the report covers {len(ran)} samples, not the claim's full selection of {len(want)} "
                   "(dataset.indices_sha256 and the sample indices must be the claim's own)")
    elif report.get("smoke_run"):
        out.append("the report is marked smoke_run")
    n_claimed = entry.get("result", {}).get("n_samples")
    if n_claimed is not None and n_claimed != len(want):
        out.append(f"the claim says n_samples {n_claimed}, its sample_selection has {len(want)} images")
    if len(ran) < minimum:
        out.append(f"{len(ran)} samples are fewer than the {minimum} a publishable claim needs")
    return out


def _recompute_problems(report: dict[str, Any], minimum: int) -> list[str]:
    """Item by item, the stored numbers against those recomputed from the per-sample arrays."""
    from curator.verify.report import ReportError, summarize

    again = copy.deepcopy(report)
    again["minimum_n"] = minimum
    again["certified_accuracy"] = {"confidence": DEFAULT_CONFIDENCE}
    try:
        summarize(again, DEFAULT_CONFIDENCE)
    except (ReportError, KeyError, TypeError, ValueError) as exc:
        return [f"the report's numbers cannot be recomputed from its per-sample arrays: {exc}"]
    out = [f"stored {key} differs from the one recomputed from the per-sample arrays"
           for key in RECOMPUTED if canonical_bytes(report.get(key)) != canonical_bytes(again.get(key))]
    status = again["verdict"]["status"]
    if status != "confirmed":
        out.append(f"recomputed verdict is {status}, not confirmed: {again['verdict']['reason']}")
    return out


def _floor_problems(entry: dict[str, Any], report: dict[str, Any], registry: Any) -> list[str]:
    name = report["verifier"]["name"]
    params = report["verifier"]["params"]
    out: list[str] = []
    if _installed(registry, "verifier"):
        if not registry.has("verifier", name):
            return [f"verifier {name!r} is not installed: its protocol floor cannot be checked"]
        try:
            verifier = registry.certifier(name)
        except CuratorError as exc:  # an attack names no protocol floor: it certifies nothing
            return [f"verifier {name!r}: {exc}"]
        params = params_with_defaults(verifier.params_schema, params)
        out += [f"protocol floor of {name} ({verifier.publication_floor_rule or 'none stated'}): {p}"
                for p in verifier.publication_floor(params)]
    cert = entry.get("certification", {})
    if cert.get("type") == "probabilistic" and "alpha" in params and params["alpha"] != cert.get("alpha"):
        out.append(f"the run used alpha {params['alpha']!r}, the claim states certification.alpha "
                   f"{cert.get('alpha')!r}: they must be equal")
    return out


def publication_problems(entry: dict[str, Any], report: dict[str, Any], registry: Any = None) -> list[str]:
    """Why ``report`` may not publish ``entry`` as re-verified; empty when it may.

    ``registry`` is the plugin registry (default: the installed plugins): it gives the dataset's
    test-set size and the verifier's protocol floor. Reads only the two documents.
    """
    from curator.board.report_binding import report_mismatches
    from curator.core.schemas import REPORT_SCHEMA_ID, validate
    from curator.verify.claim_checks import check_claim

    if not isinstance(entry, dict) or not isinstance(report, dict):
        return ["the entry and the report must be JSON objects"]
    schema = [f"report {ptr or '/'}: {msg}" for ptr, msg in validate(report, REPORT_SCHEMA_ID)]
    if schema:
        return ["the report is not valid against report.schema.json"] + schema[:20]
    registry = registry_or_installed(registry)
    out = [str(p) for p in check_claim(entry, f"{entry.get('id')}.json", registry) if p.severity == "error"]
    if out:
        return out
    out += report_mismatches(entry, report)
    n_total, minimum, size_problems = dataset_size(entry, report, registry)
    out += size_problems
    out += _coverage_problems(entry, report, n_total, minimum)
    out += _recompute_problems(report, minimum)
    out += _floor_problems(entry, report, registry)
    return out
