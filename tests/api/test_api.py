"""curator.api helpers that plugins share."""

from curator.api import params_with_defaults
from curator.api.registry import get_registry


def test_params_with_defaults_fills_only_what_is_missing():
    schema = {"type": "object", "properties": {"a": {"type": "integer", "default": 1}, "b": {"type": "number"},
                                               "c": {"enum": ["x", "y"], "default": "x"}}}
    assert params_with_defaults(schema, {"c": "y", "b": 0.5}) == {"a": 1, "b": 0.5, "c": "y"}
    assert params_with_defaults(schema, None) == {"a": 1, "c": "x"}
    assert params_with_defaults(None, {"z": 2}) == {"z": 2}


def test_milp_runs_with_its_schema_defaults():
    milp = get_registry().verifier("milp")
    assert params_with_defaults(milp.params_schema, {}) == {"time_limit": 60, "bounds": "crown", "replay_tolerance": 1e-4}
