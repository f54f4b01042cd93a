"""The plugin host: broken plugins, name collisions, CURATOR_PLUGINS, a third-party distribution."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curator.api import Verifier
from curator.api.registry import PluginHost
from curator.core.errors import PluginError
from pluginkit import plugin_module

CURATOR = str(Path(sys.executable).parent / "curator")

# --------------------------------------------------------------------------- a real third-party distribution

PLUGIN_SRC = '''
"""A third-party curator plugin: an exact verifier for linear classifiers under linf."""
import time
from curator.api import Verifier, SampleResult, hookimpl

class LinearLinf(Verifier):
    name = "tp-linear-linf"
    version = "0.3.1"
    certification = "deterministic"
    norms = ("linf",)
    params_schema = {"type": "object", "additionalProperties": False,
                     "properties": {"margin": {"type": "number", "minimum": 0, "default": 0}}}

    def verify(self, task):
        # For f(x) = Wx + b the worst-case margin y vs j over the linf ball is exact:
        # (w_y - w_j).x + b_y - b_j - eps * ||w_y - w_j||_1 (box clipping only helps).
        W, b = task.model.weight, task.model.bias
        out = []
        for i, (x, y) in enumerate(zip(task.inputs, task.labels)):
            t0 = time.perf_counter()
            x = x.flatten()
            logits = W @ x + b
            pred = int(logits.argmax())
            d = W[pred] - W
            worst = d @ x + (b[pred] - b) - task.radius * d.abs().sum(dim=1)
            worst[pred] = float("inf")
            ok = bool((worst > task.params.get("margin", 0)).all())
            out.append(SampleResult(task.indices[i], int(y), pred, "certified" if ok else "not_certified",
                                    time.perf_counter() - t0))
        return out

@hookimpl
def register_verifiers(register):
    register(LinearLinf())
'''

BROKEN_SRC = 'raise RuntimeError("this plugin is broken on purpose")\n'

CLASH_SRC = '''
from curator.api import Importer, hookimpl

class Clash(Importer):
    name = "sok-board"
    version = "9.9"

@hookimpl
def register_importers(register):
    register(Clash())
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "curator-thirdparty-example"
version = "0.3.1"
dependencies = []

[project.entry-points.curator]
thirdparty = "tp_plugin"
broken = "tp_broken"
clash = "tp_clash"

[tool.setuptools]
py-modules = ["tp_plugin", "tp_broken", "tp_clash"]
'''


@pytest.fixture(scope="module")
def thirdparty(tmp_path_factory):
    """A tiny distribution built and pip-installed into its own target folder (no index access)."""
    src = tmp_path_factory.mktemp("tp-src")
    (src / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (src / "tp_plugin.py").write_text(PLUGIN_SRC, encoding="utf-8")
    (src / "tp_broken.py").write_text(BROKEN_SRC, encoding="utf-8")
    (src / "tp_clash.py").write_text(CLASH_SRC, encoding="utf-8")
    target = tmp_path_factory.mktemp("tp-site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                           "--target", str(target), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert list(target.glob("curator_thirdparty_example-0.3.1.dist-info"))
    return target


def curator(target, *args, only=None):
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("CURATOR_PLUGINS", None)
    if only is not None:
        env["CURATOR_PLUGINS"] = only
    return subprocess.run([CURATOR, *args], capture_output=True, text=True, env=env)


def test_thirdparty_plugin_found_listed_and_used(thirdparty, tmp_path):
    proc = curator(thirdparty, "plugins", "--format", "json", only="thirdparty,sok-board")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    plugins = {p["name"]: p for p in doc["plugins"]}
    assert set(plugins) == {"thirdparty", "sok-board"} and doc["failures"] == []
    tp = plugins["thirdparty"]
    assert tp["distribution"] == "curator-thirdparty-example" and tp["version"] == "0.3.1"
    assert tp["hooks"] == ["register_verifiers"]
    (verifier,) = tp["registered"]["verifier"]
    assert verifier["name"] == "tp-linear-linf" and verifier["params_schema"]["properties"]["margin"]["minimum"] == 0

    # Used by the host: validate checks an entry's params against the plugin's schema …
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from factories import make_entry, write_entry

    entry = make_entry(certification={"type": "deterministic", "verifier": "tp-linear-linf", "params": {"margin": -1}})
    path = write_entry(tmp_path, entry)
    proc = curator(thirdparty, "validate", str(path), only="thirdparty")
    assert proc.returncode == 1 and f"{path}: /certification/params/margin:" in proc.stdout
    entry["certification"]["params"] = {"margin": 0}
    write_entry(tmp_path, entry)
    assert curator(thirdparty, "validate", str(path), only="thirdparty").returncode == 0

    # … and its verify() runs through the registry on a real task.
    script = textwrap.dedent('''
        import torch
        from curator.api import VerifyTask
        from curator.api.registry import get_registry
        v = get_registry().verifier("tp-linear-linf")
        model = torch.nn.Linear(2, 2)
        with torch.no_grad():
            model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]])); model.bias.zero_()
        x = torch.tensor([[0.9, 0.1], [0.52, 0.48]])
        res = v.verify(VerifyTask(model=model, inputs=x, labels=torch.tensor([0, 0]), indices=[0, 1], norm="linf",
                                  radius=0.1, params={}, num_classes=2))
        print([r.status for r in res])
    ''')
    env = dict(os.environ, PYTHONPATH=str(thirdparty), CURATOR_PLUGINS="thirdparty")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['certified', 'not_certified']"


def test_broken_plugin_reported_and_skipped_strict_fails(thirdparty):
    proc = curator(thirdparty, "plugins", "--format", "json", only="broken,sok-board")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [p["name"] for p in doc["plugins"]] == ["sok-board"]
    assert doc["failures"][0]["name"] == "broken" and "broken on purpose" in doc["failures"][0]["error"]
    assert "plugin 'broken' was skipped" in proc.stderr
    proc = curator(thirdparty, "plugins", "--strict", only="broken,sok-board")
    assert proc.returncode == 1 and "broken on purpose" in proc.stderr and "Traceback" not in proc.stderr


def test_name_collision_names_both_plugins(thirdparty):
    proc = curator(thirdparty, "plugins", only="clash,sok-board")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "'sok-board'" in proc.stderr and "'clash'" in proc.stderr and "two plugins" in proc.stderr


def test_curator_plugins_filter(thirdparty):
    doc = json.loads(curator(thirdparty, "plugins", "--format", "json", only="thirdparty").stdout)
    assert [p["name"] for p in doc["plugins"]] == ["thirdparty"]


# --------------------------------------------------------------------------- in-process host


class _V(Verifier):
    name = "same-name"
    version = "1"


def test_collision_in_process_names_both():
    host = PluginHost()
    host.add_plugin(plugin_module("a", register_verifiers=[_V()]), "alpha")
    host.add_plugin(plugin_module("b", register_verifiers=[_V()]), "beta")
    with pytest.raises(PluginError, match="'same-name' is registered by two plugins: '(alpha|beta)' and '(alpha|beta)'"):
        _ = host.registry


def test_invalid_registrations_are_plugin_errors():
    bad_name = _V()
    bad_name.name = "Bad Name"
    host = PluginHost()
    host.add_plugin(plugin_module("a", register_verifiers=[bad_name]), "alpha")
    with pytest.raises(PluginError, match="invalid name"):
        _ = host.registry

    class NotAnImporter:
        name = "x"
        version = "1"

    host = PluginHost()
    host.add_plugin(plugin_module("b", register_importers=[NotAnImporter()]), "beta")
    with pytest.raises(PluginError, match="takes Importer objects"):
        _ = host.registry

    bad_schema = _V()
    bad_schema.params_schema = {"type": "no-such-type"}
    host = PluginHost()
    host.add_plugin(plugin_module("c", register_verifiers=[bad_schema]), "gamma")
    with pytest.raises(PluginError, match="invalid params schema"):
        _ = host.registry


def test_loading_the_plugins_imports_neither_torch_nor_scipy():
    """`curator validate` loads every plugin once per file in CI: the bundled ones keep torch and
    scipy (about 1.5 s of imports) inside the methods that need them."""
    code = ("import sys; from curator.api.registry import get_registry; r = get_registry(); "
            "assert r.names('verifier') and r.names('dataset'); "
            "print(sorted(m for m in ('torch', 'scipy', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_plugins_lists_each_verifiers_certificate_norms_and_params():
    from click.testing import CliRunner

    from curator.cli import main

    text = CliRunner().invoke(main, ["plugins"]).stdout
    crown = text.split("verifier: crown", 1)[1].splitlines()
    assert crown[1].strip() == "certificate: deterministic; norms: linf, l2, l1"
    assert "intermediate: crown | ibp = crown" in crown[2]
    smoothing = text.split("verifier: smoothing", 1)[1].splitlines()
    assert "certificate: probabilistic" in smoothing[1] and "*sigma: number" in smoothing[2]
    doc = json.loads(CliRunner().invoke(main, ["plugins", "--format", "json"]).stdout)
    verifiers = {o["name"]: o for p in doc["plugins"] for o in p["registered"].get("verifier", [])}
    assert verifiers["crown"]["certification"] == "deterministic" and "linf" in verifiers["crown"]["norms"]
    assert "intermediate" in verifiers["crown"]["params_schema"]["properties"]
