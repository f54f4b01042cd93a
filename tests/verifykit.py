"""The bundled digits example copied into a test folder, and verify options for tests that compare runs."""

import json
import shutil
from pathlib import Path

from curator.verify.pipeline import VerifyOptions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_example(tmp_path, name="digits-smoothing.json", **changes):
    entry = json.loads((EXAMPLES / name).read_text())
    for path, value in changes.items():
        obj = entry
        keys = path.split("__")
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value
    shutil.copy(EXAMPLES / "digits-mlp.safetensors", tmp_path / "digits-mlp.safetensors")
    p = tmp_path / f"{entry['id']}.json"
    p.write_text(json.dumps(entry))
    return p


def opts(tmp_path, **kw):
    kw.setdefault("seed", 0)  # these tests compare runs: a fixed seed (the default is a fresh one per run)
    return VerifyOptions(cache_dir=tmp_path / "cache", progress=False, **kw)
