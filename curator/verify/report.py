"""Re-verification reports: building them, recomputing their numbers, merging shards, writing them.

A report's numbers (totals, certified accuracy, verdict) are always *recomputed* from its
per-sample arrays by :func:`summarize` — when it is built, and again when shards are merged — so
a merged report can never carry a number that its samples do not support.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curator import __version__
from curator.api import SampleResult
from curator.core.errors import CuratorError
from curator.core.jsonio import MAX_REPORT_BYTES, canonical_bytes, read_json, sha256_bytes, write_json_atomic
from curator.core.sampling import indices_sha256, merged_shard, shards_of_one_run, sum_timings
from curator.core.schemas import REPORT_SCHEMA_ID, require_valid
from curator.core.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MAX_UNDECIDED_SHARE,
    Interval,
    certified_accuracy,
    decide,
    proportion,
)

REPORT_VERSION = 1
ATTACK_REFUTES = ("broken", "misclassified")  # attack outcomes that prove a sample not robust
MAX_WITNESS_VALUES = 10  # witnesses stored in full (input values); the rest by index and margin only
# A report on other samples than the claim's own full selection (--samples N, --all) says so first.
SMOKE_PREFIX = "smoke run, not the claim's full selection (cannot publish): "


class ReportError(CuratorError):
    pass


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def environment(device: str, plugins: dict[str, str | None] | None = None) -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "curator": __version__,
        "plugins": dict(plugins or {}),
        "platform": platform.platform(),
    }


def run_id(entry_sha: str, model_sha: str, indices_sha: str, verifier: dict[str, Any], seed: int, count: int) -> str:
    """Identical across the shards of one run: everything that must agree for shards to merge."""
    return sha256_bytes(canonical_bytes({
        "entry": entry_sha, "model": model_sha, "indices": indices_sha, "verifier": verifier, "seed": seed,
        "shards": count,
    }))[:16]


def sample_arrays(results: Sequence[SampleResult]) -> dict[str, Any]:
    """Per-sample outcomes as parallel arrays; ``extra`` holds every numeric extra all samples share."""
    extra_keys = sorted(set.intersection(*(set(r.extra) for r in results))) if results else []
    extra: dict[str, list[Any]] = {}
    for key in extra_keys:
        values = [r.extra[key] for r in results]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            extra[key] = [float(v) if isinstance(v, float) else int(v) for v in values]
    return {
        "index": [int(r.index) for r in results],
        "label": [int(r.label) for r in results],
        "predicted": [int(r.predicted) for r in results],
        "status": [r.status for r in results],
        "radius": [None if r.radius is None else float(r.radius) for r in results],
        "seconds": [round(max(0.0, float(r.seconds)), 6) for r in results],
        "extra": extra,
    }


def attack_counts(attack: dict[str, Any] | None) -> Interval | None:
    """The attacked (robust) accuracy: samples the attack did not prove wrong, over the samples
    attacked — an upper bound on robust accuracy, so its interval's upper end refutes claims."""
    if not attack or not attack.get("samples"):
        return None
    statuses = attack["samples"]["status"]
    not_broken = sum(1 for s in statuses if s not in ATTACK_REFUTES)
    return proportion(not_broken, len(statuses), attack.get("confidence", DEFAULT_CONFIDENCE))


def summarize(report: dict[str, Any], confidence: float | None = None) -> dict[str, Any]:
    """Recompute totals, certified/clean accuracy and the verdict from the per-sample arrays."""
    s = report["samples"]
    conf = confidence or report.get("certified_accuracy", {}).get("confidence", DEFAULT_CONFIDENCE)
    n = len(s["index"])
    for key in ("label", "predicted", "status", "radius", "seconds"):
        if len(s[key]) != n:
            raise ReportError(f"samples.{key} has {len(s[key])} values for {n} samples")
    correct = [p == y for p, y in zip(s["predicted"], s["label"], strict=True)]
    cert = certified_accuracy(s["status"], s["label"], s["predicted"], conf)
    totals = {
        "n": n,
        "certified_correct": cert.successes,
        "correct": sum(correct),
        "certified": s["status"].count("certified"),
        "abstain": s["status"].count("abstain"),
        "timeout": s["status"].count("timeout"),
        "error": s["status"].count("error"),
    }
    report["totals"] = totals
    report["certified_accuracy"] = cert.as_dict()
    report["clean_accuracy"] = proportion(totals["correct"], n, conf).as_dict()
    attack = report.get("attack")
    attack_iv = attack_counts(attack)
    if attack_iv is not None:
        attack["robust_accuracy"] = attack_iv.as_dict()
    shard = report["shard"]
    entry = report["entry"]
    if shard["count"] > 1 and len(shard.get("merged_from", [])) != shard["count"]:
        report["verdict"] = {"status": "partial", "reason": (
            f"shard {shard['index'] + 1} of {shard['count']}: merge all shards (curator merge-reports) for a verdict; "
            f"this shard certifies {cert.value:.2f}% of its {n} samples")}
        return report
    verdict = decide(
        entry["claimed_certified_accuracy"], cert,
        same_protocol=bool(entry.get("same_protocol", False)),
        attack=attack_iv if (attack and attack.get("refutes", True)) else None,
        soundness_failures=report.get("soundness") or [],
        undecided=totals["timeout"] + totals["error"],
        max_undecided_share=DEFAULT_MAX_UNDECIDED_SHARE,
        verifier=report["verifier"]["name"],
        claimed_n=entry.get("claimed_n_samples"),
        min_n=report.get("minimum_n"),
    )
    report["verdict"] = verdict.as_dict()
    if report.get("smoke_run"):
        report["verdict"]["reason"] = f"{SMOKE_PREFIX}{report['verdict']['reason']}"
    return report


def check_schema(report: dict[str, Any], where: str = "report") -> None:
    require_valid(report, REPORT_SCHEMA_ID, ReportError, where, "report")


def write_report(path: str | Path, report: dict[str, Any]) -> None:
    """Validate against the schema, then write atomically (temp file + rename)."""
    check_schema(report, str(path))
    write_json_atomic(path, report)


def load_report(path: str | Path) -> dict[str, Any]:
    report = read_json(path, max_bytes=MAX_REPORT_BYTES)
    if not isinstance(report, dict):
        raise ReportError(f"{path}: not a report (a JSON object is expected)")
    check_schema(report, str(path))
    return report


# --------------------------------------------------------------------------- merging

# Parts that must be identical across the shards of one run (besides shard.run_id).
_SAME = ("entry", "model", "dataset", "threat", "verifier", "seed")


def merge_reports(reports: Sequence[dict[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Combine the shard reports of one run into one report with recomputed numbers.

    Refuses (ReportError, never a wrong number): fewer than one report; different run ids,
    entries, models, datasets, threat models, verifiers/params or seeds; a shard given twice;
    missing shards; overlapping sample indices.
    """
    if not reports:
        raise ReportError("no report to merge")
    names = list(names or [f"report {i + 1}" for i in range(len(reports))])
    ordered, count = shards_of_one_run(reports, names, _SAME, ReportError)
    first = reports[0]
    seen: dict[int, str] = {}
    for name, r in zip(names, reports, strict=True):
        for idx in r["samples"]["index"]:
            if idx in seen:
                raise ReportError(f"sample {idx} appears in both {seen[idx]} and {name}: overlapping shards")
            seen[idx] = name

    # The shards must give back exactly the run's selected samples, in order: a shard that stopped
    # early (or was edited) has fewer samples and would otherwise merge into a wrong number.
    merged_indices = [i for r in ordered for i in r["samples"]["index"]]
    if indices_sha256(merged_indices) != first["dataset"]["indices_sha256"]:
        raise ReportError(f"the shards hold {len(merged_indices)} samples that are not the run's selection "
                          f"(dataset.indices_sha256 differs): a shard is incomplete or altered")
    merged = {k: v for k, v in first.items() if k not in ("samples", "soundness", "attack", "timings")}
    merged["samples"] = _concat_samples([r["samples"] for r in ordered])
    merged["soundness"] = [w for r in ordered for w in (r.get("soundness") or [])]
    merged["attack"] = _merge_attack([r.get("attack") for r in ordered])
    merged["timings"] = sum_timings(ordered)
    merged["shard"] = merged_shard(first, count)
    merged["created_at"] = now_iso()
    return summarize(merged)


def _concat_samples(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: [] for k in ("index", "label", "predicted", "status", "radius", "seconds")}
    extra_keys = set.intersection(*(set(p.get("extra", {})) for p in parts)) if parts else set()
    out["extra"] = {k: [] for k in sorted(extra_keys)}
    for p in parts:
        for k in ("index", "label", "predicted", "status", "radius", "seconds"):
            out[k].extend(p[k])
        for k in extra_keys:
            out["extra"][k].extend(p["extra"][k])
    return out


def _merge_attack(parts: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    present = [p for p in parts if p]
    if not present:
        return None
    if len(present) != len(parts):
        raise ReportError("some shards ran an attack and others did not: not one run")
    first = dict(present[0])
    first["samples"] = {k: [v for p in present for v in p["samples"][k]] for k in first["samples"]}
    first["witnesses"] = [w for p in present for w in p.get("witnesses", [])]
    return first
