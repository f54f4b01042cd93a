"""Builders of valid documents for tests (each test then breaks exactly what it checks)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

_ENTRY: dict[str, Any] = {
    "schema_version": 1,
    "id": "cifar10-linf-8-255-sabr",
    "paper": {
        "title": "Certified Training: Small Boxes are All You Need",
        "authors": ["Mark Niklas Müller", "Franziska Eckert", "Marc Fischer", "Martin Vechev"],
        "year": 2023,
        "venue": "ICLR 2023",
        "url": "https://arxiv.org/abs/2210.04871",
        "arxiv": "2210.04871",
    },
    "setting": {"dataset": "cifar10", "norm": "linf", "radius": 8 / 255, "radius_text": "8/255"},
    "result": {"certified_accuracy": 35.13, "clean_accuracy": 52.38, "n_samples": 10000},
    "certification": {"type": "deterministic"},
    "training": {"method": "SABR"},
    "provenance": {"submitter": "tests", "submitted_at": "2024-06-12", "source": "tests/factories.py"},
    "status": "submitted",
}


def make_entry(**overrides: Any) -> dict[str, Any]:
    """A schema-valid, semantically valid entry; top-level keys replaced by ``overrides``."""
    entry = copy.deepcopy(_ENTRY)
    entry.update(copy.deepcopy(overrides))
    return entry


def write_entry(folder: Path, entry: dict[str, Any], name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or entry['id']}.json"
    path.write_text(json.dumps(entry, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
