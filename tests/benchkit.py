"""A small benchmark suite on the bundled digits model (no shared material), written into a test folder."""

import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def digits_suite(tmp_path, name="suite.json", **changes):
    suite = {
        "suite_version": 1, "name": "digits-small", "dataset": {"name": "digits", "selection": {"kind": "first", "n": 8}},
        "time_limit": 5, "attack": {"name": "pgd", "params": {"steps": 20, "restarts": 2}},
        "radius_search": {"high": 0.5, "tolerance": 0.01, "max_iterations": 6},
        "verifiers": [{"name": "ibp"}, {"name": "crown"}],
        "models": [{"id": "digits-mlp", "model": {
            "url": "file://${SUITE_DIR}/digits-mlp.safetensors",
            "sha256": "7f68b719e0b211cacf1d636024aeec4c00733592b4a1b07df90bf737c8fbd2ba", "format": "safetensors",
            "architecture": {"name": "fc", "kwargs": {"input_shape": [1, 8, 8], "hidden": [128, 128], "num_classes": 10}},
            "input_shape": [1, 8, 8], "num_classes": 10}, "norm": "linf", "epsilons": ["0.02", "0.05"],
            "verifiers": ["ibp", "crown"]}],
    }
    l2 = copy.deepcopy(suite["models"][0])
    l2.update(id="digits-mlp-l2", norm="l2", epsilons=["0.1", "0.25"], verifiers=["crown", "smoothing"])
    suite["models"].append(l2)
    suite["verifiers"] = [{"name": "ibp"}, {"name": "crown"},
                          {"name": "smoothing", "params": {"sigma": 0.25, "n0": 50, "n": 500, "batch_size": 500}}]
    for k, v in changes.items():
        suite[k] = v
    (tmp_path / "digits-mlp.safetensors").write_bytes((REPO / "examples" / "digits-mlp.safetensors").read_bytes())
    path = tmp_path / name
    path.write_text(json.dumps(suite))
    return path


def one_model_suite(tmp_path, verifiers, attack, epsilon="0.3", n=4):
    """The first digits model only, at one ε, without radius search: a quick run of ``verifiers``
    (suite ``verifiers`` entries) and ``attack`` (a suite ``attack`` entry or None)."""
    path = digits_suite(tmp_path, verifiers=verifiers, attack=attack, radius_search={"enabled": False},
                        dataset={"name": "digits", "selection": {"kind": "first", "n": n}})
    suite = json.loads(path.read_text())
    suite["models"] = suite["models"][:1]
    suite["models"][0]["epsilons"] = [epsilon]
    del suite["models"][0]["verifiers"]
    path.write_text(json.dumps(suite))
    return path
