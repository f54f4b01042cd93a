"""Every hook of curator/api/hookspecs.py has a one-line docstring, a section in docs/plugins.md
and a ``test_hook_<name>`` here that installs a third-party-style plugin next to the bundled ones
and drives a curator command through what it registered (datasette's rule: a new hook without
its test or its documentation fails this module)."""

from __future__ import annotations

import inspect
import json
import re

import pytest
from click.testing import CliRunner

from curator.api import (
    Architecture,
    Dataset,
    DatasetSplit,
    ImportBatch,
    Importer,
    PaperRecord,
    SampleResult,
    Scraper,
    Verifier,
    VerifyTask,
    hookspecs,
)
from curator.api.http import base_url
from curator.api.registry import get_host, get_registry
from curator.cli import main
from factories import make_entry, write_entry
from pluginkit import plugin_module

HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "curator_spec"))


def test_the_hooks_are_found():
    assert HOOKS == ["register_architectures", "register_datasets", "register_importers", "register_scrapers",
                     "register_verifiers"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_one_line_docstring(hook):
    doc = (getattr(hookspecs, hook).__doc__ or "").strip()
    assert doc and "\n" not in doc, f"hook {hook} needs a one-line docstring"


def test_the_registered_base_classes_have_docstrings():
    for base in (Verifier, Scraper, Importer, Dataset, Architecture):
        assert (base.__doc__ or "").strip(), f"{base.__name__} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_docs(hook, repo):
    doc = (repo / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert "## Hooks" in doc
    headings = [line for line in doc.splitlines() if re.match(r"^#{2,4} ", line)]
    assert any(f"`{hook}" in line for line in headings), f"docs/plugins.md has no section on {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert callable(globals().get(f"test_hook_{hook}")), f"no test_hook_{hook} in {__name__}"


# --------------------------------------------------------------------------- installing a plugin


@pytest.fixture
def install(monkeypatch):
    """Adds a plugin module to the process-wide host beside the bundled plugins, as an installed
    distribution's entry point would; the host is rebuilt from the entry points afterwards."""
    monkeypatch.delenv("CURATOR_PLUGINS", raising=False)
    host = get_host(reload=True)

    def add(**hooks):
        host.add_plugin(plugin_module("tp_plugin", **hooks), "thirdparty", version="0.1")

    yield add
    get_host(reload=True)


def curator(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def listed(kind):
    doc = json.loads(curator("plugins", "--format", "json").stdout)
    (plugin,) = [p for p in doc["plugins"] if p["name"] == "thirdparty"]
    return plugin["registered"][kind]


# --------------------------------------------------------------------------- one test per hook


class AcceptAll(Verifier):
    name = "tp-accept-all"
    version = "0.1"
    certification = "deterministic"
    norms = ("linf",)
    params_schema = {"type": "object", "additionalProperties": False,
                     "properties": {"margin": {"type": "number", "minimum": 0, "default": 0}}}

    def verify(self, task):
        return [SampleResult(i, int(y), int(y), "certified", 0.0, extra={"margin": task.params["margin"]})
                for i, y in zip(task.indices, task.labels, strict=True)]


def test_hook_register_verifiers(install, tmp_path):
    import torch

    from curator.engines.cascade import verify_task

    install(register_verifiers=[AcceptAll()])
    (described,) = listed("verifier")
    assert described["name"] == "tp-accept-all" and described["norms"] == ["linf"]

    entry = make_entry(certification={"type": "deterministic", "verifier": "tp-accept-all", "params": {"margin": -1}})
    path = write_entry(tmp_path, entry)
    result = curator("validate", str(path))
    assert result.exit_code == 1 and f"{path}: /certification/params/margin:" in result.stdout
    entry["certification"]["params"] = {"margin": 0.5}
    write_entry(tmp_path, entry)
    assert curator("validate", str(path)).exit_code == 0

    task = VerifyTask(model=torch.nn.Identity(), inputs=torch.zeros(2, 3), labels=torch.tensor([1, 0]), indices=[7, 8],
                      norm="linf", radius=0.1, params={"margin": 0.5}, num_classes=2)
    results = verify_task(get_registry().verifier("tp-accept-all"), task)
    assert [(r.index, r.status, r.extra["margin"]) for r in results] == [(7, "certified", 0.5), (8, "certified", 0.5)]


class HandleScraper(Scraper):
    name = "tp-handle"
    version = "0.1"
    patterns = ("tp:NUMBER",)
    priority = 1

    def matches(self, ref):
        return re.fullmatch(r"tp:\d+", ref) is not None

    def resolve(self, ref, http):
        def parse(response):
            doc = response.json()
            return PaperRecord(title=doc["title"], year=doc["year"], arxiv=doc.get("arxiv"))

        url = f"{base_url('tp_handle', 'https://handles.invalid')}/paper/{ref[3:]}"
        return http.get(url, service="tp-handle", accept="application/json", parse=parse)


def test_hook_register_scrapers(install, httpserver, monkeypatch, tmp_path):
    monkeypatch.setenv("CURATOR_TP_HANDLE_URL", httpserver.url_for("/handles"))
    monkeypatch.setenv("CURATOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CURATOR_RATE_LIMIT_SCALE", "0")
    httpserver.expect_request("/handles/paper/42").respond_with_json(
        {"title": "Certified Training: Small Boxes are All You Need", "year": 2023, "arxiv": "2210.04871"})
    install(register_scrapers=[HandleScraper()])
    assert listed("scraper")[0]["patterns"] == ["tp:NUMBER"]

    result = curator("scrape", "tp:42", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["scraper"] == "tp-handle"  # the host records which scraper answered
    assert doc["record"]["title"] == "Certified Training: Small Boxes are All You Need"
    assert doc["paper"]["arxiv"] == "2210.04871" and doc["paper"]["year"] == 2023


class JsonListImporter(Importer):
    name = "tp-json-list"
    version = "0.1"

    def read(self, source):
        entries = json.loads(source.read_text(encoding="utf-8"))
        return ImportBatch(entries, warnings=[f"{source.name}: {len(entries)} entries taken as they are"])


def test_hook_register_importers(install, tmp_path):
    install(register_importers=[JsonListImporter()])
    assert listed("importer")[0]["name"] == "tp-json-list"
    source, store = tmp_path / "board.json", tmp_path / "leaderboard"

    source.write_text(json.dumps([make_entry(id="Not An Id")]), encoding="utf-8")
    result = curator("import", "tp-json-list", str(source), "--into", str(store))
    assert result.exit_code == 1 and "importer 'tp-json-list' produced" in result.output and not store.exists()

    entry = make_entry()
    source.write_text(json.dumps([entry]), encoding="utf-8")
    result = curator("import", "tp-json-list", str(source), "--into", str(store), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["entries"] == 1 and doc["warnings"] == ["board.json: 1 entries taken as they are"]
    (written,) = doc["written"]
    assert json.loads(open(written, encoding="utf-8").read()) == entry


class TinyDataset(Dataset):
    name = "tp-tiny"
    version = "0.1"
    input_shape = (1, 2, 2)
    num_classes = 2
    test_size = 4

    def load(self, data_dir, cache_dir, progress=True):
        import torch

        return DatasetSplit(torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]), 2, source="tp")


def model_entry(model, **overrides):
    """A claim about a model file, certified by the bundled crown (a model block needs a verifier)."""
    certification = {"type": "deterministic", "verifier": "crown", "params": {}}
    return make_entry(model={"url": "https://example.org/m", "sha256": "0" * 64, **model},
                      certification=certification, **overrides)


def tiny_entry(dataset, input_shape):
    setting = {"dataset": dataset, "norm": "linf", "radius": 0.1, "radius_text": "0.1"}
    return model_entry({"format": "onnx", "input_shape": input_shape, "num_classes": 2}, id="tiny-model", setting=setting)


def test_hook_register_datasets(install, tmp_path):
    install(register_datasets=[TinyDataset()])
    assert listed("dataset")[0]["test_size"] == 4

    path = write_entry(tmp_path, tiny_entry("tp-tiny", [1, 2, 2]))
    result = curator("validate", str(path))
    assert result.exit_code == 0, result.output

    write_entry(tmp_path, tiny_entry("tp-tiny", [1, 3, 3]))
    result = curator("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}: /model/input_shape: [1, 3, 3], but the tp-tiny test set's inputs are [1, 2, 2]" in result.stdout

    write_entry(tmp_path, tiny_entry("tp-missing", [1, 2, 2]))
    result = curator("validate", str(path))
    assert result.exit_code == 1 and re.search(r"unknown dataset 'tp-missing' \(installed: [^)]*tp-tiny", result.stdout)

    split = get_registry().dataset("tp-tiny").load(None, tmp_path)
    assert len(split) == 4 and split.take([1, 3])[1].tolist() == [1, 1]


class TinyLinear(Architecture):
    name = "tp-linear"
    version = "0.1"
    kwargs_schema = {"type": "object", "additionalProperties": False, "required": ["inputs", "classes"],
                     "properties": {"inputs": {"type": "integer", "minimum": 1}, "classes": {"type": "integer", "minimum": 1}}}

    def build(self, inputs, classes):
        from torch import nn

        return nn.Sequential(nn.Flatten(), nn.Linear(inputs, classes))


def linear_entry(**kwargs):
    return model_entry({"format": "state_dict", "architecture": {"name": "tp-linear", "kwargs": kwargs},
                        "input_shape": [3, 32, 32], "num_classes": 10})


def test_hook_register_architectures(install, tmp_path):
    from curator.api.nn import build_architecture

    install(register_architectures=[TinyLinear()])
    assert listed("architecture")[0]["kwargs_schema"]["required"] == ["inputs", "classes"]

    path = write_entry(tmp_path, linear_entry(inputs=3 * 32 * 32, classes=10))
    result = curator("validate", str(path))
    assert result.exit_code == 0, result.output

    write_entry(tmp_path, linear_entry(inputs=3 * 32 * 32, classes=9))  # built on the meta device, then run
    result = curator("validate", str(path))
    assert result.exit_code == 1
    assert "/model/num_classes: architecture 'tp-linear' maps input_shape [3, 32, 32] to [1, 9], not [1, 10]" in result.stdout

    write_entry(tmp_path, linear_entry(inputs=0, classes=10))
    result = curator("validate", str(path))
    assert result.exit_code == 1 and f"{path}: /model/architecture/kwargs/inputs:" in result.stdout

    net = build_architecture(get_registry(), "tp-linear", {"inputs": 4, "classes": 2})
    assert net[1].in_features == 4 and net[1].out_features == 2
