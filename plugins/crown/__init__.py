"""Bundled verifier ``crown``: backward linear bound propagation (Zhang et al. 2018), deterministic.

Adaptive ReLU lower slopes; pre-activation bounds from CROWN itself (or IBP with
``intermediate: "ibp"``), intersected with IBP recomputed from the tightened bounds of the layers
before. All margins ``f_p − f_j`` are bounded in one backward pass; the final bound is the larger of
the CROWN and the IBP bound (both sound, IBP from the same tightened intervals, so never looser than
plain IBP), so every sample ``ibp`` certifies ``crown`` certifies too.

``alpha_iterations > 0`` turns on α-CROWN (Xu et al. 2021): the lower slopes of the unstable ReLUs
are optimised per margin by projected gradient ascent (Adam with step ``alpha_lr``, then clamping to
[0, 1]). Guarantee: every slope in [0, 1] gives a sound bound, the best bound seen per margin is
kept and the first iterate is CROWN's, so α-CROWN is sound and never looser than CROWN. See
docs/verifiers.md.
"""

from __future__ import annotations

from typing import Any

from curator.api import SampleResult, Verifier, VerifyTask, hookimpl, params_with_defaults

__version__ = "1.1.0"

PARAMS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "intermediate": {"enum": ["crown", "ibp"], "default": "crown",
                         "description": "How pre-activation bounds of hidden layers are computed."},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 32},
        "dtype": {"enum": ["float32", "float64"], "default": "float32"},
        "alpha_iterations": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 0,
                             "description": "α-CROWN gradient steps on the final lower slopes (0: plain CROWN)."},
        "alpha_lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 10, "default": 0.1,
                     "description": "α-CROWN step size (Adam)."},
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
        from curator.engines.bounds.certify import certify_task  # lazily: torch is not needed to list plugins

        p = params_with_defaults(PARAMS_SCHEMA, task.params)
        alpha = {"iterations": int(p["alpha_iterations"]), "lr": float(p["alpha_lr"])}
        return certify_task(task, [("crown", p["intermediate"])], int(p["batch_size"]), p["dtype"],
                            with_ibp=True, alpha=alpha)


@hookimpl
def register_verifiers(register):
    register(CROWN())
