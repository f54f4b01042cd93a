"""Semantic rules, plugin checks, duplicates and hostile files of curator.core.validate."""

import json
import os
import types

import pytest

from curator.api import Architecture, Dataset, Verifier, hookimpl
from curator.api.registry import PluginHost
from curator.core.errors import UsageError
from curator.verify.claim_checks import check_claim, validate_claims
from factories import make_entry, write_entry


def problems(entry, registry=None, file=None):
    return {(p.pointer, p.severity): p.message for p in check_claim(entry, file or f"{entry['id']}.json", registry)}


def test_valid_entry_passes():
    assert problems(make_entry()) == {}


def test_id_must_equal_file_stem():
    found = problems(make_entry(), file="somewhere/other-name.json")
    assert "does not match the file name" in found[("/id", "error")]


@pytest.mark.parametrize("text, radius, ok", [("8/255", 8 / 255, True), ("0.1", 0.1, True), ("36/255", 36 / 255, True),
                                              ("8/255", 0.0314, False), ("eight", 0.03, False), ("8/0", 0.03, False)])
def test_radius_text_must_parse_and_match(text, radius, ok):
    entry = make_entry()
    entry["setting"].update(radius_text=text, radius=radius)
    found = problems(entry)
    if ok:
        assert found == {}
    else:
        assert ("/setting/radius", "error") in found or ("/setting/radius_text", "error") in found


def test_certified_above_clean_is_an_error():
    entry = make_entry()
    entry["result"].update(certified_accuracy=60.0, clean_accuracy=50.0)
    assert "exceeds clean accuracy" in problems(entry)[("/result/certified_accuracy", "error")]


def test_fraction_hint_warning_for_one_value_error_for_both():
    entry = make_entry()
    entry["result"] = {"certified_accuracy": 0.6}
    found = problems(entry)
    assert "percent, not fraction?" in found[("/result/certified_accuracy", "warning")]
    assert not [k for k in found if k[1] == "error"]
    entry["result"] = {"certified_accuracy": 0.6, "clean_accuracy": 0.9}
    found = problems(entry)
    assert "not fractions" in found[("/result", "error")]
    entry["result"] = {"certified_accuracy": 0, "clean_accuracy": 80}
    assert problems(entry) == {}


def test_probabilistic_needs_alpha_unless_legacy():
    entry = make_entry(certification={"type": "probabilistic"})
    assert ("/certification/alpha", "error") in problems(entry)
    entry["status"] = "legacy"
    assert problems(entry) == {}
    entry = make_entry(certification={"type": "probabilistic", "alpha": 0.001})
    assert problems(entry) == {}


# --------------------------------------------------------------------------- plugin checks


class _Smooth(Verifier):
    name = "test-smooth"
    version = "1.0"
    certification = "probabilistic"
    norms = ("l2",)
    params_schema = {"type": "object", "additionalProperties": False, "required": ["sigma"],
                     "properties": {"sigma": {"type": "number", "exclusiveMinimum": 0}, "n": {"type": "integer"}}}


class _Pgd(Verifier):
    name = "test-pgd"
    version = "1.0"
    certification = "attack"


class _Arch(Architecture):
    name = "test-mlp"
    version = "1.0"
    kwargs_schema = {"type": "object", "additionalProperties": False, "properties": {"width": {"type": "integer"}}}


class _Mnist(Dataset):
    name = "mnist"
    version = "1.0"


def _registry(*objs):
    module = types.ModuleType("test_validate_plugin")

    @hookimpl
    def register_verifiers(register):
        for o in objs:
            if isinstance(o, Verifier):
                register(o)

    @hookimpl
    def register_architectures(register):
        for o in objs:
            if isinstance(o, Architecture):
                register(o)

    @hookimpl
    def register_datasets(register):
        for o in objs:
            if isinstance(o, Dataset):
                register(o)

    module.register_verifiers = register_verifiers
    module.register_architectures = register_architectures
    module.register_datasets = register_datasets
    host = PluginHost()
    host.add_plugin(module, "test-validate")
    return host.registry


def _smoothing_entry(**params):
    entry = make_entry(certification={"type": "probabilistic", "alpha": 0.001, "verifier": "test-smooth", "params": params})
    entry["setting"].update(norm="l2", radius=0.5, radius_text="0.5", dataset="mnist")
    return entry


def test_verifier_params_validate_against_its_schema_with_pointer():
    reg = _registry(_Smooth(), _Pgd(), _Mnist())
    assert problems(_smoothing_entry(sigma=0.5, n=1000), reg) == {}
    found = problems(_smoothing_entry(sigma=-1, n="many", extra=1), reg)
    assert ("/certification/params/sigma", "error") in found
    assert ("/certification/params/n", "error") in found
    assert ("/certification/params/extra", "error") in found


def test_unknown_verifier_wrong_type_wrong_norm_and_attacks():
    reg = _registry(_Smooth(), _Pgd())
    entry = _smoothing_entry(sigma=0.5)
    entry["certification"]["verifier"] = "nope"
    assert "unknown verifier 'nope' (installed: test-pgd, test-smooth)" in problems(entry, reg)[("/certification/verifier", "error")]
    entry = _smoothing_entry(sigma=0.5)
    entry["certification"] = {"type": "deterministic", "verifier": "test-smooth", "params": {"sigma": 0.5}}
    entry["setting"].update(norm="linf", radius=0.1, radius_text="0.1")
    found = problems(entry, reg)
    assert ("/certification/type", "error") in found and ("/setting/norm", "error") in found
    entry["certification"] = {"type": "deterministic", "verifier": "test-pgd", "params": {}}
    assert "is an attack" in problems(entry, reg)[("/certification/verifier", "error")]


def test_plugin_checks_skipped_when_no_plugin_of_that_kind():
    reg = _registry()  # nothing registered
    entry = _smoothing_entry(sigma="whatever")
    entry["setting"]["dataset"] = "not-a-dataset"
    assert problems(entry, reg) == {}


def test_architecture_and_kwargs_and_dataset():
    reg = _registry(_Arch(), _Mnist())
    model = {"url": "https://example.org/m.safetensors", "sha256": "0" * 64, "format": "safetensors",
             "architecture": {"name": "test-mlp", "kwargs": {"width": "wide"}}, "input_shape": [784], "num_classes": 10}
    entry = make_entry(model=model, certification={"type": "deterministic", "verifier": "x", "params": {}})
    found = problems(entry, reg)
    assert ("/model/architecture/kwargs/width", "error") in found
    assert "unknown dataset 'cifar10' (installed: mnist)" in found[("/setting/dataset", "error")]
    entry["model"]["architecture"] = {"name": "resnet"}
    assert ("/model/architecture/name", "error") in problems(entry, reg)
    entry = make_entry(status="legacy")  # legacy records are listed, never re-run: no dataset needed
    assert problems(entry, reg) == {}


# --------------------------------------------------------------------------- many files


def test_duplicate_same_paper_setting_method_names_first(tmp_path):
    a = write_entry(tmp_path / "a", make_entry(id="first"))
    other = make_entry(id="second")
    other["paper"]["url"] = "https://arxiv.org/pdf/2210.04871v2.pdf"
    other["paper"]["title"] = "A different spelling"
    other["paper"].pop("arxiv")
    write_entry(tmp_path / "b", other)
    report = validate_claims([tmp_path], use_plugins=False)
    dups = [p for p in report.errors if "duplicate" in p.message]
    assert len(dups) == 1 and dups[0].file.endswith("second.json") and str(a) in dups[0].message
    assert "arxiv:2210.04871" in dups[0].message


def test_same_paper_other_method_or_setting_is_not_a_duplicate(tmp_path):
    write_entry(tmp_path, make_entry(id="one"))
    e = make_entry(id="two", training={"method": "CC-IBP"})
    write_entry(tmp_path, e)
    e = make_entry(id="three")
    e["setting"].update(radius=2 / 255, radius_text="2/255")
    write_entry(tmp_path, e)
    assert validate_claims([tmp_path], use_plugins=False).ok


def test_title_spelling_variants_are_the_same_paper(tmp_path):
    e = make_entry(id="one")
    e["paper"] = {"title": "Certified training: small boxes are all you need.", "authors": [], "year": None, "url": "https://example.org/a"}
    write_entry(tmp_path, e)
    e = make_entry(id="two")
    e["paper"] = {"title": "Certified Training — Small Boxes are All You Need", "authors": [], "year": None, "url": "https://example.org/b"}
    write_entry(tmp_path, e)
    report = validate_claims([tmp_path], use_plugins=False)
    assert [p.file for p in report.errors] == [str(tmp_path / "two.json")]


def test_hostile_files_each_one_line(tmp_path):
    write_entry(tmp_path, make_entry())
    (tmp_path / "malformed.json").write_text('{"id": ', encoding="utf-8")
    (tmp_path / "latin1.json").write_bytes('{"title": "Müller"}'.encode("latin-1"))
    (tmp_path / "nan.json").write_text('{"x": NaN}', encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "huge.json").write_text('{"pad": "' + "x" * (2 * 1024 * 1024) + '"}', encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    report = validate_claims([tmp_path], use_plugins=False)
    by_file = {os.path.basename(p.file): p.message for p in report.problems}
    assert "malformed JSON" in by_file["malformed.json"]
    assert "not UTF-8" in by_file["latin1.json"]
    assert "NaN is not valid JSON" in by_file["nan.json"]
    assert "is not of type 'object'" in by_file["list.json"]
    assert "limit" in by_file["huge.json"]
    assert "notes.txt" not in by_file
    assert report.files == 6 and not report.ok


def test_symlink_escaping_the_folder_is_not_read(tmp_path):
    outside = tmp_path / "outside"
    secret = write_entry(outside, make_entry(id="secret"))
    board = tmp_path / "board"
    write_entry(board, make_entry())
    (board / "secret.json").symlink_to(secret)
    (board / "elsewhere").symlink_to(outside, target_is_directory=True)
    (board / "inner.json").symlink_to(board / f"{make_entry()['id']}.json")  # inside: read once, by its target
    report = validate_claims([board], use_plugins=False)
    msgs = {os.path.basename(p.file): p.message for p in report.problems}
    assert "outside" in msgs["secret.json"] and "outside" in msgs["elsewhere"]
    assert report.files == 1


def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        validate_claims([tmp_path / "nope"], use_plugins=False)


def test_report_json_shape(tmp_path):
    write_entry(tmp_path, make_entry(result={"certified_accuracy": 0.5}))
    doc = validate_claims([tmp_path], use_plugins=False).as_dict()
    assert doc["ok"] is True and doc["warnings"] == 1 and doc["files"] == 1
    json.dumps(doc)


def test_reports_in_the_store_are_checked_against_the_report_schema(tmp_path):
    write_entry(tmp_path / "entries" / "cifar10" / "linf", make_entry())
    reports = tmp_path / "reports" / "x"
    reports.mkdir(parents=True)
    (reports / ("a" * 64 + ".json")).write_text(json.dumps({"report_version": 1, "entry": {}}), encoding="utf-8")
    report = validate_claims([tmp_path], use_plugins=False)
    assert report.reports == 1 and len(report.entries) == 1
    pointers = {p.pointer for p in report.errors}
    assert "/entry/id" in pointers and "/verdict" in pointers and "/id" not in pointers


# --------------------------------------------------------------------------- models as published

MODEL = {"url": "https://example.org/m.onnx", "sha256": "0" * 64, "format": "onnx", "input_shape": [1, 28, 28],
         "num_classes": 10}


def model_entry(model, **kw):
    setting = {"dataset": "mnist", "norm": "linf", "radius": 0.1, "radius_text": "0.1"}
    cert = {"type": "deterministic", "verifier": "crown", "params": {}}
    return make_entry(id="mnist-model", setting=setting, certification=cert, model=model, **kw)


@pytest.fixture(scope="module")
def installed():
    from curator.api.registry import get_registry

    return get_registry()


def test_onnx_needs_no_architecture_and_accepts_the_name_onnx(installed):
    assert problems(model_entry(MODEL), installed) == {}
    assert problems(model_entry({**MODEL, "architecture": {"name": "onnx"}}), installed) == {}


def test_state_dict_still_needs_an_architecture(installed):
    found = problems(model_entry({**MODEL, "format": "state_dict"}), installed)
    assert found == {("/model/architecture", "error"): "required field is missing"}


WK = {"name": "wong-kolter-small", "kwargs": {"in_channels": 1, "in_size": 28}}


def test_input_shape_is_checked_against_the_dataset(installed):
    found = problems(model_entry({**MODEL, "format": "state_dict", "architecture": WK, "input_shape": [784]}), installed)
    assert "the mnist test set's inputs are [1, 28, 28]" in found[("/model/input_shape", "error")]


def test_input_shape_is_checked_against_the_architecture(installed):
    arch = {"name": "wong-kolter-small", "kwargs": {"in_channels": 3, "in_size": 28}}
    found = problems(model_entry({**MODEL, "format": "state_dict", "architecture": arch}), installed)
    assert "does not accept input_shape [1, 28, 28]" in found[("/model/input_shape", "error")]
    found = problems(model_entry({**MODEL, "format": "state_dict", "architecture": WK, "num_classes": 7}), installed)
    assert "[1, 10], not [1, 7]" in found[("/model/num_classes", "error")]


def test_sequential_kwargs_take_the_claims_input_shape(installed):
    layers = [{"type": "flatten"}, {"type": "linear", "out_features": 10}]
    ok = model_entry({**MODEL, "format": "state_dict", "architecture": {"name": "sequential", "kwargs": {"layers": layers}}})
    assert problems(ok, installed) == {}
    bad = [{"type": "linear", "out_features": 10}]
    found = problems(model_entry({**MODEL, "format": "state_dict",
                                  "architecture": {"name": "sequential", "kwargs": {"layers": bad}}}), installed)
    assert "flatten" in found[("/model/architecture", "error")]


def test_state_dict_key_only_for_torch_files(installed):
    found = problems(model_entry({**MODEL, "state_dict_key": ["state_dict"]}), installed)
    assert ("/model/state_dict_key", "error") in found


def test_supersedes_links_rows_of_one_paper_instead_of_duplicating(tmp_path):
    legacy = make_entry(id="legacy-row", status="legacy")
    again = make_entry(id="reverified-row", supersedes="legacy-row")
    write_entry(tmp_path, legacy)
    write_entry(tmp_path, again)
    report = validate_claims([tmp_path], use_plugins=False)
    assert report.ok, [str(p) for p in report.problems]
    del again["supersedes"]
    write_entry(tmp_path, again)
    assert any("duplicate" in p.message for p in validate_claims([tmp_path], use_plugins=False).errors)


def test_supersedes_must_exist_in_the_store_and_share_the_setting(tmp_path):
    store = tmp_path / "store" / "entries" / "cifar10" / "linf"
    write_entry(store, make_entry(id="legacy-row", status="legacy"))
    subs = tmp_path / "subs"
    write_entry(subs, make_entry(id="new-row", supersedes="legacy-row"))
    assert validate_claims([subs], use_plugins=False, store=tmp_path / "store").ok
    write_entry(subs, make_entry(id="new-row", supersedes="missing-row"))
    assert not validate_claims([subs], use_plugins=False).errors  # nothing to check it against
    errors = validate_claims([subs], use_plugins=False, store=tmp_path / "store").errors
    assert [(p.pointer, "no entry 'missing-row'" in p.message) for p in errors] == [("/supersedes", True)]
    other = {"dataset": "cifar10", "norm": "l2", "radius": 0.5, "radius_text": "0.5"}
    write_entry(subs, make_entry(id="new-row", supersedes="legacy-row", setting=other))
    errors = validate_claims([subs], use_plugins=False, store=tmp_path / "store").errors
    assert any(p.pointer == "/supersedes" and "another setting" in p.message for p in errors)


def test_a_cascade_claim_is_shape_checked_stage_by_stage(installed):
    good = {"name": "cascade", "kwargs": {"stages": [WK, WK]}}
    assert problems(model_entry({**MODEL, "format": "state_dict", "state_dict_key": ["state_dict"], "architecture": good}),
                    installed) == {}
    bad = {"name": "cascade", "kwargs": {"stages": [WK, {"name": "wong-kolter-small", "kwargs": {"in_channels": 3}}]}}
    found = problems(model_entry({**MODEL, "format": "state_dict", "architecture": bad}), installed)
    assert "does not accept input_shape [1, 28, 28]" in found[("/model/input_shape", "error")]
    nested = {"name": "cascade", "kwargs": {"stages": [good]}}
    found = problems(model_entry({**MODEL, "format": "state_dict", "architecture": nested}), installed)
    assert "cannot be a stage of a cascade" in found[("/model/architecture", "error")]
