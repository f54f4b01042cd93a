"""How fast ``curator validate`` checks a large board: 10,000 entries (target < 5 s).

Baseline, measured in the same process on the same files: read each file, ``json.loads`` it and
run plain ``jsonschema`` (Draft 2020-12, the entry schema) over it — the least any validator
must do. The ratio says what curator's extras (semantic rules, plugin checks, duplicate keys,
path safety) cost on top.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from jsonschema import Draft202012Validator

from curator.api.registry import get_registry
from curator.core.schemas import ENTRY_SCHEMA_ID, get_schema, registry
from curator.verify.claim_checks import validate_claims

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
DATASETS = ("mnist", "cifar10", "imagenet")


def make(i: int) -> dict:
    dataset = DATASETS[i % 3]
    k = 1 + i % 16
    eid = f"{dataset}-linf-{k}-255-paper-{i}"
    return {
        "schema_version": 1,
        "id": eid,
        "paper": {
            "title": f"Synthetic paper number {i} on certified training",
            "authors": ["A. Author", "B. Author"],
            "year": 2020 + i % 5,
            "venue": "ICLR 2024",
            "url": f"https://arxiv.org/abs/2{i % 10}01.{i:05d}",
        },
        "setting": {"dataset": dataset, "norm": "linf", "radius": k / 255, "radius_text": f"{k}/255"},
        "result": {"certified_accuracy": 30 + i % 50, "clean_accuracy": 90.0},
        "certification": {"type": "probabilistic" if i % 2 else "deterministic", **({"alpha": 0.001} if i % 2 else {})},
        "training": {"method": f"method-{i % 7}"},
        "provenance": {"submitter": "bench", "submitted_at": "2024-06-12", "source": "bench"},
        "status": "submitted",
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(N):
            d = root / DATASETS[i % 3] / "linf"
            d.mkdir(parents=True, exist_ok=True)
            e = make(i)
            (d / f"{e['id']}.json").write_text(json.dumps(e, indent=2) + "\n", encoding="utf-8")
        files = sorted(root.rglob("*.json"))

        # Loading the installed plugins (some import torch) is a one-off start-up cost, timed apart.
        t0 = time.perf_counter()
        plugins = get_registry()
        load = time.perf_counter() - t0

        validator = Draft202012Validator(get_schema(ENTRY_SCHEMA_ID), registry=registry())
        t0 = time.perf_counter()
        bad = 0
        for f in files:
            doc = json.loads(f.read_text(encoding="utf-8"))
            bad += sum(1 for _ in validator.iter_errors(doc))
        base = time.perf_counter() - t0
        assert bad == 0

        t0 = time.perf_counter()
        report = validate_claims([root], registry=plugins)
        took = time.perf_counter() - t0
        assert report.ok and report.files == N, report.problems[:3]

    print(f"validate: {N} entries in {took:.2f} s = {N / took:,.0f} entries/s (target: 10,000 in < 5 s)")
    print(f"baseline (read + json + jsonschema only): {base:.2f} s = {N / base:,.0f} entries/s")
    print(f"ratio curator/baseline: {took / base:.2f}x")
    print(f"plugin loading (once per process, not included above): {load:.2f} s")


if __name__ == "__main__":
    main()
