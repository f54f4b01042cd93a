"""Shared pieces of tests/hardening/test_trust_*.py: claims on the bundled digits data, tiny networks saved with
safetensors, real verify runs, and a real git board to approve into."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

from boardkit import init_board_repo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str = "digits-smoothing.json") -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def set_path(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``a__b=v`` sets ``entry["a"]["b"] = v`` (a copy)."""
    entry = copy.deepcopy(entry)
    for dotted, value in changes.items():
        node = entry
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return entry


def write_claim(folder: Path, entry: dict[str, Any], model: Path | None = None) -> Path:
    """``folder/<id>.json`` with its model beside it (the example's MLP unless ``model``)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = model or EXAMPLES / "digits-mlp.safetensors"
    if src.parent != folder:
        shutil.copy(src, folder / src.name)
    entry = set_path(entry, model__url=f"file://./{src.name}")
    path = folder / f"{entry['id']}.json"
    path.write_text(json.dumps(entry, indent=2))
    return path


def zero_network(folder: Path, hidden: int = 8) -> tuple[Path, dict[str, Any]]:
    """An ``fc`` network whose weights are all zero, saved with safetensors; returns (path, model block)."""
    from safetensors.torch import save_file

    from curator.api.registry import get_registry
    from curator.core.jsonio import sha256_file

    kwargs = {"input_shape": [1, 8, 8], "hidden": [hidden], "num_classes": 10}
    net = get_registry().get("architecture", "fc").build(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zero.safetensors"
    save_file({k: v.detach().clone().zero_() for k, v in net.state_dict().items()}, str(path))
    block = {"url": "file://./zero.safetensors", "sha256": sha256_file(path), "format": "safetensors",
             "architecture": {"name": "fc", "kwargs": kwargs}, "input_shape": [1, 8, 8], "num_classes": 10}
    return path, block


def deterministic_claim(entry_id: str, model: dict[str, Any], certified: float, *, verifier: str = "lipschitz",
                        params: dict[str, Any] | None = None, selection: dict[str, Any] | None = None,
                        n_samples: int = 360, norm: str = "l2", radius: float = 0.25) -> dict[str, Any]:
    entry = example()
    entry["id"] = entry_id
    entry["setting"] = {"dataset": "digits", "norm": norm, "radius": radius, "radius_text": str(radius)}
    entry["result"] = {"certified_accuracy": certified, "n_samples": n_samples,
                       "sample_selection": selection or {"kind": "all"}}
    entry["certification"] = {"type": "deterministic", "verifier": verifier, "params": dict(params or {})}
    entry["model"] = model
    return entry


def run(path: Path, tmp: Path, **kw: Any) -> dict[str, Any]:
    from curator.verify.pipeline import VerifyOptions, verify_entry

    kw.setdefault("seed", 0)
    return verify_entry(path, VerifyOptions(cache_dir=tmp / "cache", progress=False, device="cpu", **kw))


def confirmed_claim(folder: Path, entry: dict[str, Any], model: Path | None = None, **kw: Any):
    """Measure first, then claim exactly what curator measured and re-run with the same seed: a
    claim and report that the verdict rules alone confirm. Returns (entry path, report)."""
    first = run(write_claim(folder / "measure", entry, model), folder, **kw)
    value = round(first["certified_accuracy"]["value"], 2)
    entry = set_path(entry, result__certified_accuracy=value)
    entry["result"].pop("clean_accuracy", None)
    path = write_claim(folder / "claim", entry, model)
    return path, run(path, folder, **kw)


def board(tmp: Path) -> Path:
    return init_board_repo(tmp / "board", entries=[])


def write_report(tmp: Path, report: dict[str, Any], name: str = "report.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps(report))
    return path


def approve_into(board_repo: Path, entry_path: Path, report: dict[str, Any], tmp: Path):
    """``curator approve --publish`` with the installed plugins (their protocol floors apply)."""
    from curator.api.registry import get_registry
    from curator.board.approve import approve

    sub = board_repo.parent / "submissions" / entry_path.name
    sub.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(entry_path, sub)
    return approve(sub, write_report(tmp, report), store_root=board_repo / "leaderboard", publish=True,
                   registry=get_registry())
