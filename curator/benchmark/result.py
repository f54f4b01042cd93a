"""Benchmark results: their numbers, recomputed from per-sample arrays, and merging shards.

A benchmark result (schema ``benchmark-result/v1``) belongs to the report family: it reuses the
report's provenance blocks (environment, shard, model) and its interval definition. Like a
report, every summary number is *recomputed* by :func:`summarize_result` from the per-sample
arrays — when the result is built and again after merging — so a merged result never carries a
number its samples do not support.

Rows (``cells``) are one (model, ε, method) each, where a method is a verifier, the attack (the
upper-bound reference row) or ``clean`` (the clean-accuracy reference row). ``radius`` rows hold
the per-sample certified radius of a verifier on a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curator.core.errors import CuratorError
from curator.core.jsonio import read_json, write_json_atomic
from curator.core.sampling import merged_shard, shards_of_one_run, sum_timings
from curator.core.schemas import BENCHMARK_RESULT_SCHEMA_ID, require_valid
from curator.core.stats import DEFAULT_CONFIDENCE, proportion
from curator.verify.report import ATTACK_REFUTES, now_iso

RESULT_SCHEMA_ID = BENCHMARK_RESULT_SCHEMA_ID
RESULT_VERSION = 1
SAMPLE_KEYS = ("index", "label", "predicted", "status", "radius", "seconds")
RADIUS_KEYS = ("index", "label", "predicted", "radius", "iterations", "seconds", "timed_out")


class BenchmarkResultError(CuratorError):
    pass


def cell_key(cell: dict[str, Any]) -> tuple:
    return (cell["model"], cell["radius_text"], cell["method"]["kind"], cell["method"]["label"])


def radius_key(row: dict[str, Any]) -> tuple:
    return (row["model"], row["method"]["label"])


def _successes(cell: dict[str, Any]) -> int:
    s = cell["samples"]
    kind = cell["method"]["kind"]
    if kind == "clean":
        return sum(1 for p, y in zip(s["predicted"], s["label"], strict=True) if p == y)
    if kind == "attack":
        return sum(1 for st in s["status"] if st not in ATTACK_REFUTES)
    return sum(1 for st, p, y in zip(s["status"], s["predicted"], s["label"], strict=True) if st == "certified" and p == y)


def summarize_cell(cell: dict[str, Any], confidence: float = DEFAULT_CONFIDENCE) -> dict[str, Any]:
    """``summary``: accuracy (certified / attacked / clean) with its Clopper-Pearson interval,
    mean seconds per instance (all samples, and correctly predicted ones as the SoK page reports),
    timeouts, errors, abstentions."""
    s = cell["samples"]
    n = len(s["index"])
    for key in SAMPLE_KEYS:
        if len(s[key]) != n:
            raise BenchmarkResultError(f"cell {cell_key(cell)}: samples.{key} has {len(s[key])} values for {n}")
    secs = s["seconds"]
    correct_secs = [t for t, p, y in zip(secs, s["predicted"], s["label"], strict=True) if p == y]
    cell["summary"] = {
        "n": n,
        "successes": _successes(cell),
        "accuracy": proportion(_successes(cell), n, confidence).as_dict(),
        "mean_seconds": round(sum(secs) / n, 6) if n else 0.0,
        "mean_seconds_correct": round(sum(correct_secs) / len(correct_secs), 6) if correct_secs else 0.0,
        "timeout": s["status"].count("timeout"),
        "error": s["status"].count("error"),
        "abstain": s["status"].count("abstain"),
    }
    return cell


def summarize_radius(row: dict[str, Any]) -> dict[str, Any]:
    """``summary``: the average certified radius over all samples (0 for wrongly predicted or
    never-certified samples, as the SoK benchmark averages) and mean search seconds."""
    s = row["samples"]
    n = len(s["index"])
    for key in RADIUS_KEYS:
        if len(s[key]) != n:
            raise BenchmarkResultError(f"radius row {radius_key(row)}: samples.{key} has {len(s[key])} values for {n}")
    radii = [r if (r is not None and p == y) else 0.0 for r, p, y in zip(s["radius"], s["predicted"], s["label"], strict=True)]
    row["summary"] = {
        "n": n,
        "average_radius": round(sum(radii) / n, 8) if n else 0.0,
        "mean_seconds": round(sum(s["seconds"]) / n, 6) if n else 0.0,
        "timed_out": sum(1 for t in s["timed_out"] if t),
    }
    return row


def summarize_result(result: dict[str, Any]) -> dict[str, Any]:
    conf = result.get("confidence", DEFAULT_CONFIDENCE)
    for cell in result["cells"]:
        summarize_cell(cell, conf)
    for row in result["radius"]:
        summarize_radius(row)
    result["totals"] = {
        "cells": len(result["cells"]),
        "instances": sum(c["summary"]["n"] for c in result["cells"] if c["method"]["kind"] != "clean"),
        "soundness_flags": len(result["soundness"]),
    }
    return result


# --------------------------------------------------------------------------- files


def check_result_schema(result: dict[str, Any], where: str = "benchmark result") -> None:
    require_valid(result, RESULT_SCHEMA_ID, BenchmarkResultError, where, "benchmark-result")


def write_result(path, result: dict[str, Any]) -> None:
    """Validate against the schema, then write atomically (temp file + rename)."""
    check_result_schema(result, str(path))
    write_json_atomic(path, result)


def load_result(path) -> dict[str, Any]:
    data = read_json(path, max_bytes=256 * 1024 * 1024)
    if not isinstance(data, dict):
        raise BenchmarkResultError(f"{path}: not a benchmark result (a JSON object is expected)")
    check_result_schema(data, str(path))
    return data


# --------------------------------------------------------------------------- merging

_SAME = ("suite", "seed", "models", "confidence")


def merge_results(results: Sequence[dict[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Combine the shard results of one benchmark run; summaries are recomputed.

    Refuses (never a wrong number): different run ids, suites, seeds or model lists; a shard given
    twice; missing shards; a sample in two shards; cells present in one shard but not another.
    """
    if not results:
        raise BenchmarkResultError("no benchmark result to merge")
    names = list(names or [f"result {i + 1}" for i in range(len(results))])
    ordered, count = shards_of_one_run(results, names, _SAME, BenchmarkResultError)
    first = results[0]

    def concat(rows_of: str, key_fn, keys: tuple[str, ...]) -> list[dict[str, Any]]:
        order: list[tuple] = []
        merged: dict[tuple, dict[str, Any]] = {}
        for r in ordered:
            for row in r[rows_of]:
                k = key_fn(row)
                if k not in merged:
                    order.append(k)
                    merged[k] = {**{x: y for x, y in row.items() if x not in ("samples", "summary")},
                                 "samples": {x: [] for x in keys}, "_seen": set(), "_parts": 0}
                m = merged[k]
                m["_parts"] += 1
                for idx in row["samples"]["index"]:
                    if idx in m["_seen"]:
                        raise BenchmarkResultError(f"sample {idx} of {k} appears in two shards")
                    m["_seen"].add(idx)
                for x in keys:
                    m["samples"][x].extend(row["samples"][x])
        out = []
        for k in order:
            m = merged[k]
            if m["_parts"] != len(ordered):
                raise BenchmarkResultError(f"{rows_of} row {k} is in {m['_parts']} of {len(ordered)} shard results")
            del m["_seen"], m["_parts"]
            out.append(m)
        return out

    merged = {k: v for k, v in first.items() if k not in ("cells", "radius", "soundness", "timings", "notes")}
    merged["cells"] = concat("cells", cell_key, SAMPLE_KEYS)
    merged["radius"] = concat("radius", radius_key, RADIUS_KEYS)
    merged["soundness"] = [f for r in ordered for f in r["soundness"]]
    merged["timings"] = {k: round(v, 6) for k, v in sum_timings(ordered).items()}
    notes: list[str] = []
    for r in ordered:
        notes.extend(n for n in r.get("notes", []) if n not in notes)
    merged["notes"] = notes
    merged["shard"] = merged_shard(first, count)
    merged["created_at"] = now_iso()
    return summarize_result(merged)
