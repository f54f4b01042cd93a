"""The entry schema: every required field, unknown fields and wrong types name their pointer."""

import pytest

from curator.core.schemas import ENTRY_SCHEMA_ID, REPORT_SCHEMA_ID, get_schema, validate
from factories import make_entry


def _required_pointers(schema, base=""):
    """Every (pointer, parent path) of a required field in the entry schema's object tree."""
    for name in schema.get("required", []):
        yield base + "/" + name
    for name, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object":
            yield from _required_pointers(sub, base + "/" + name)


def test_valid_entry_has_no_errors():
    assert validate(make_entry(), ENTRY_SCHEMA_ID) == []


def _present_pointers(entry):
    out = set()

    def walk(node, base):
        if isinstance(node, dict):
            for k, v in node.items():
                out.add(base + "/" + k)
                walk(v, base + "/" + k)

    walk(entry, "")
    return out


@pytest.mark.parametrize("ptr", sorted(set(_required_pointers(get_schema(ENTRY_SCHEMA_ID)))))
def test_each_required_field_missing_names_its_pointer(ptr):
    entry = make_entry(model={
        "url": "https://example.org/m.safetensors", "sha256": "0" * 64, "format": "safetensors",
        "architecture": {"name": "cnn-small"}, "input_shape": [3, 32, 32], "num_classes": 10,
        "normalization": {"mean": [0.5], "std": [0.5]},
    }, certification={"type": "deterministic", "verifier": "ibp", "params": {}})
    entry["provenance"]["proposed_from"] = {"file": "x.pdf", "table": 1}
    entry["result"]["sample_selection"] = {"kind": "all"}
    entry["reverification"] = {"state": "pending", "reason": "public weights"}
    assert ptr in _present_pointers(entry), ptr
    parts = ptr.strip("/").split("/")
    parent = entry
    for p in parts[:-1]:
        parent = parent[p]
    del parent[parts[-1]]
    errors = validate(entry, ENTRY_SCHEMA_ID)
    assert (ptr, "required field is missing") in errors


def test_unknown_field_anywhere_is_named():
    entry = make_entry(colour="red")
    entry["paper"]["citations"] = 3
    errors = dict(validate(entry, ENTRY_SCHEMA_ID))
    assert "unknown field 'colour'" in errors["/colour"]
    assert "unknown field 'citations'" in errors["/paper/citations"]


def test_wrong_types_name_their_pointer():
    entry = make_entry()
    entry["result"]["certified_accuracy"] = "35%"
    entry["paper"]["authors"] = "Alice"
    entry["setting"]["norm"] = "l7"
    errors = dict(validate(entry, ENTRY_SCHEMA_ID))
    assert "not of type 'number'" in errors["/result/certified_accuracy"]
    assert "not of type 'array'" in errors["/paper/authors"]
    assert "/setting/norm" in errors


def test_all_errors_not_just_the_first():
    entry = make_entry(schema_version=2, status="great")
    entry["result"]["certified_accuracy"] = 140
    pointers = {p for p, _ in validate(entry, ENTRY_SCHEMA_ID)}
    assert {"/schema_version", "/status", "/result/certified_accuracy"} <= pointers


def test_model_requires_verifier_and_params():
    entry = make_entry(model={"url": "https://example.org/m.onnx", "sha256": "a" * 64, "format": "onnx",
                              "architecture": {"name": "onnx"}, "input_shape": [784], "num_classes": 10})
    pointers = {p for p, _ in validate(entry, ENTRY_SCHEMA_ID)}
    assert {"/certification/verifier", "/certification/params"} <= pointers


def test_report_schema_loads_with_a_stable_id():
    assert get_schema(REPORT_SCHEMA_ID)["$id"] == REPORT_SCHEMA_ID
