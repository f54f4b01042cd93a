"""Bundled verifier ``ibp``: interval bound propagation (Gowal et al. 2018), deterministic.

``certified`` proves that the clean prediction is the network's argmax on the whole threat set
(ℓ∞/ℓ2/ℓ1 ball ∩ [0,1]): intervals are pushed through every layer, and the margin specification
is folded into the affine layers after the last ReLU (the elision of the final layer). See
docs/verifiers.md.
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
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 256},
        "dtype": {"enum": ["float32", "float64"], "default": "float32"},
    },
}


class IBP(Verifier):
    name = "ibp"
    version = __version__
    description = "Interval bound propagation (Gowal et al. 2018) on curator's bound engine; sound, incomplete."
    certification = "deterministic"
    norms = ("linf", "l2", "l1")
    params_schema = PARAMS_SCHEMA
    per_sample_radius = True

    def verify(self, task: VerifyTask) -> list[SampleResult]:
        from curator.engines.bounds.certify import certify_task  # lazily: torch is not needed to list plugins

        p = params_with_defaults(PARAMS_SCHEMA, task.params)
        return certify_task(task, [("ibp", "ibp")], int(p["batch_size"]), p["dtype"])


@hookimpl
def register_verifiers(register):
    register(IBP())
