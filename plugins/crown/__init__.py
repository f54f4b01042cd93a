"""Bundled verifier ``crown``: backward linear bound propagation (Zhang et al. 2018), deterministic.

Adaptive ReLU lower slopes; pre-activation bounds from CROWN itself (or IBP with
``intermediate: "ibp"``), intersected with IBP. All margins ``f_p − f_j`` are bounded in one
backward pass; the final bound is the larger of the CROWN and the IBP bound (both sound), so every
sample ``ibp`` certifies ``crown`` certifies too. See docs/verifiers.md.
"""

from __future__ import annotations

from typing import Any

from curator.api import SampleResult, Verifier, VerifyTask, hookimpl, params_with_defaults

__version__ = "1.0.0"

PARAMS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "intermediate": {"enum": ["crown", "ibp"], "default": "crown",
                         "description": "How pre-activation bounds of hidden layers are computed."},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 32},
        "dtype": {"enum": ["float32", "float64"], "default": "float32"},
    },
}


class CROWN(Verifier):
    name = "crown"
    version = __version__
    description = "CROWN (Zhang et al. 2018) with adaptive slopes and CROWN intermediate bounds; sound, incomplete."
    certification = "deterministic"
    norms = ("linf", "l2", "l1")
    params_schema = PARAMS_SCHEMA
    per_sample_radius = True

    def verify(self, task: VerifyTask) -> list[SampleResult]:
        from curator.bounds.certify import certify_task  # lazily: torch is not needed to list plugins

        p = params_with_defaults(PARAMS_SCHEMA, task.params)
        methods = [("crown", p["intermediate"]), ("ibp", "ibp")]
        return certify_task(task, methods, int(p["batch_size"]), p["dtype"])


@hookimpl
def register_verifiers(register):
    register(CROWN())
