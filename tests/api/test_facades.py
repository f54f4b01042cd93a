"""The facades of curator.api: every public name resolves, and importing them costs no torch."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import curator.api

FACADES = sorted(f"curator.api.{m.name}" for m in pkgutil.iter_modules(curator.api.__path__) if not m.name.startswith("_"))


def test_the_facades_are_found():
    assert {"curator.api.http", "curator.api.papers", "curator.api.data", "curator.api.nn", "curator.api.stats",
            "curator.api.files"} <= set(FACADES)


@pytest.mark.parametrize("name", FACADES)
def test_every_public_name_resolves_and_the_module_says_what_it_offers(name):
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} has no docstring"
    for attr in getattr(module, "__all__", ()):
        assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_a_name_a_facade_does_not_offer_is_an_attribute_error():
    from curator.api import data, nn

    for module in (data, nn):
        with pytest.raises(AttributeError, match="has no attribute 'load_model'"):
            _ = module.load_model


def _imported_after(code: str) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in ('torch', 'scipy', 'numpy') if m in sys.modules)))"
    return json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


def test_importing_the_api_and_every_facade_imports_neither_torch_nor_scipy():
    assert _imported_after("import curator.api") == []
    assert _imported_after("\n".join(f"import {name}" for name in FACADES)) == []


def test_torch_comes_with_the_first_tensor_name_used():
    assert "torch" in _imported_after("from curator.api import data\ndata.read_idx")
    assert "torch" in _imported_after("from curator.api.nn import Residual")
    assert "torch" not in _imported_after("from curator.api import data\ndata.fetch, data.find_local")
