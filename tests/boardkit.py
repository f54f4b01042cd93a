"""Builders for store tests: entries, hand-made reports valid against report.schema.json, and real
git repositories holding a small board."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

from curator.core.digest import claim_digest
from curator.core.jsonio import dumps
from curator.core.radius import parse_radius

MODEL_SHA = "95014ab0c04c73f48b3be0cb7acc42aff60ce4420c6c43bec25e9a1447279e08"
# At the smoothing floor for publication (curator.board.publication): alpha <= 0.01, n >= 10,000.
SMOOTHING_PARAMS = {"sigma": 0.25, "n0": 100, "n": 100000, "alpha": 0.001}
# Cohen et al.'s CIFAR-10 protocol: every 20th test image, 500 in all (the publishable minimum).
SELECTION = {"kind": "every_kth", "k": 20}
TEST_SIZES = {"cifar10": 10000, "mnist": 10000, "digits": 360}


def make_entry(eid: str = "demo-net-l2", *, dataset: str = "cifar10", norm: str = "l2", radius_text: str = "0.25",
               certified: float = 60.0, clean: float | None = 75.0, status: str = "submitted",
               year: int = 2019, model: bool = True, verifier: str = "smoothing",
               params: dict[str, Any] | None = None, title: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {
        "schema_version": 1,
        "id": eid,
        "paper": {"title": title or f"Paper of {eid}", "authors": ["A. Author"], "year": year,
                  "url": f"https://example.org/{eid}"},
        "setting": {"dataset": dataset, "norm": norm, "radius": parse_radius(radius_text), "radius_text": radius_text},
        "result": {"certified_accuracy": certified},
        "certification": {"type": "probabilistic", "alpha": 0.001},
        "training": {"method": f"method {eid}"},
        "provenance": {"submitter": "tester", "submitted_at": "2026-11-30", "source": "test"},
        "status": status,
    }
    if clean is not None:
        e["result"]["clean_accuracy"] = clean
    if model:
        e["result"]["sample_selection"] = dict(SELECTION)
        e["result"]["n_samples"] = len(_claim_indices(e))
        e["certification"].update({"verifier": verifier, "params": dict(params or SMOOTHING_PARAMS)})
        e["model"] = {"url": "https://example.org/model.safetensors", "sha256": MODEL_SHA, "format": "safetensors",
                      "architecture": {"name": "fc", "kwargs": {"input_shape": [3, 32, 32], "hidden": [16],
                                                                "num_classes": 10}},
                      "input_shape": [3, 32, 32], "num_classes": 10}
    else:
        e["certification"] = {"type": "deterministic"}
    return e


def _claim_indices(entry: dict[str, Any]) -> list[int]:
    from curator.core.sampling import select_indices

    size = TEST_SIZES.get(entry["setting"]["dataset"], 10000)
    return select_indices(entry["result"].get("sample_selection") or {"kind": "all"}, size)


def make_report(entry: dict[str, Any], *, verdict: str | None = None, certified: float | None = None,
                radii: list[float | None] | None = None, n: int | None = None, seed: int = 0) -> dict[str, Any]:
    """A report as ``curator verify`` writes one for ``entry``: on the claim's own selection, numbers
    and verdict computed by curator.verify.report.summarize from per-sample arrays that certify about the
    claimed accuracy. ``verdict``/``certified`` overwrite the computed ones (a forged report); ``n``
    or ``radii`` run other samples than the claim's (a smoke run)."""
    from curator.core.sampling import indices_sha256
    from curator.core.stats import publishable_minimum
    from curator.verify.report import summarize

    claimed = entry["result"]["certified_accuracy"]
    indices = _claim_indices(entry)
    size = TEST_SIZES.get(entry["setting"]["dataset"], 10000)
    smoke = (n is not None and n != len(indices)) or (radii is not None and len(radii) != len(indices))
    if radii is None:
        n = len(indices) if n is None else n
        k = round(claimed / 100.0 * n)
        r = entry["setting"]["radius"]
        radii = [round(r + 0.05 * (i % 4), 4) if i < k else (None if i % 2 else round(r / 2, 4)) for i in range(n)]
    n = len(radii)
    indices = indices[:n] if n <= len(indices) else list(range(n))
    status = ["certified" if r is not None and r >= entry["setting"]["radius"] else
              ("abstain" if r is None else "not_certified") for r in radii]
    report = {
        "report_version": 1,
        "entry": {"id": entry["id"], "sha256": claim_digest(entry), "claimed_certified_accuracy": claimed,
                  "verifier": entry["certification"]["verifier"],
                  "same_protocol": "claimed_with" not in entry["certification"]},
        "model": {"sha256": entry["model"]["sha256"], "format": entry["model"]["format"],
                  "architecture": entry["model"]["architecture"]["name"]},
        "dataset": {"name": entry["setting"]["dataset"], "n_total": size, "selection": {"kind": "first", "n": n},
                    "indices_sha256": indices_sha256(indices)},
        "threat": {"norm": entry["setting"]["norm"], "radius": entry["setting"]["radius"],
                   "radius_text": entry["setting"]["radius_text"]},
        "verifier": {"name": entry["certification"]["verifier"], "version": "1.0.0",
                     "params": dict(entry["certification"]["params"], batch_size=100)},
        "seed": seed,
        "environment": {"python": "3.11", "torch": "2.13.0", "device": "cpu", "curator": "0.1.0"},
        "samples": {"index": indices, "label": [i % 10 for i in range(n)],
                    "predicted": [i % 10 for i in range(n)], "status": status, "radius": radii,
                    "seconds": [0.01] * n},
        "certified_accuracy": {"confidence": 0.99},
        "timings": {"total": 1.0},
        "shard": {"index": 0, "count": 1, "run_id": f"run-{entry['id']}-{seed}"},
        "created_at": "2026-11-30T00:00:00Z",
        "smoke_run": smoke,
        "minimum_n": publishable_minimum(size),
    }
    summarize(report)
    if certified is not None:
        report["certified_accuracy"]["value"] = certified
    if verdict is not None and verdict != report["verdict"]["status"]:
        report["verdict"] = {"status": verdict, "reason": f"test verdict {verdict}"}
    return report


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(doc), encoding="utf-8")
    return path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def legacy_board() -> list[dict[str, Any]]:
    """Three legacy claims in two settings (no model: imported numbers)."""
    return [
        make_entry("old-a", dataset="cifar10", norm="l2", radius_text="0.25", certified=55.0, status="legacy", clean=None,
                   model=False, year=2019),
        make_entry("old-b", dataset="cifar10", norm="l2", radius_text="0.25", certified=61.0, status="legacy", clean=None,
                   model=False, year=2020),
        make_entry("old-c", dataset="mnist", norm="linf", radius_text="0.1", certified=94.0, status="legacy", clean=None,
                   model=False, year=2018),
    ]


def init_board_repo(path: Path, entries: list[dict[str, Any]] | None = None) -> Path:
    """A git repository with ``leaderboard/`` holding ``entries`` and its rendered README, committed."""
    from curator.board import store
    from curator.board.render import write_readme

    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Maintainer")
    git(path, "config", "user.email", "maintainer@example.org")
    root = path / "leaderboard"
    for e in copy.deepcopy(entries if entries is not None else legacy_board()):
        store.write_entry(root, e)
    root.mkdir(parents=True, exist_ok=True)
    write_readme(root)
    (path / "notes.txt").write_text("unrelated file\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "board")
    return path


def repo_state(path: Path) -> dict[str, str]:
    """What must not change when an approval is refused or rolled back."""
    import hashlib

    files = {}
    for p in sorted(path.rglob("*")):
        if ".git" in p.relative_to(path).parts or not p.is_file():
            continue
        files[p.relative_to(path).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return {
        "head": git(path, "rev-parse", "HEAD"),
        "branch": git(path, "symbolic-ref", "-q", "HEAD"),
        "status": git(path, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": git(path, "ls-files", "-s"),
        "count": git(path, "rev-list", "--count", "--all"),
        "files": repr(files),
    }
