"""Bundled verifier ``lipschitz``: certification from a global Lipschitz bound (deterministic).

With ``K[p, j]`` a bound on the Lipschitz constant of the margin ``f_p − f_j`` in the threat norm
(see :func:`curator.engines.lipschitz.margin_lipschitz` and docs/verifiers.md), a sample is ``certified``
iff ``f_p(x) − f_j(x) > K[p, j] · radius`` for every ``j ≠ p`` (``p`` the clean prediction): then
no point within the radius can change the argmax. Meant for Lipschitz-constrained networks; on
ordinary ones the product of operator norms is far too loose to certify anything.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from curator.api import SampleResult, Verifier, VerifyTask, hookimpl, params_with_defaults

__version__ = "1.0.0"

PARAMS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "l2_method": {"enum": ["exact", "power"], "default": "exact",
                      "description": "exact: SVD (or Schur bound for huge layers), a proof; power: power "
                                     "iteration times 1+safety, an estimate."},
        "iterations": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 200},
        "safety": {"type": "number", "minimum": 0, "maximum": 10, "default": 0.05},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1024},
    },
}


# K depends only on the model's weights, the norm and the params, not on the inputs, and an exact ℓ2
# constant of a conv net takes tens of seconds: the hosts call verify once per batch, so K is
# computed once per model. The key holds every weight tensor's in-place version counter, so
# weights changed in place (a training step, load_state_dict) give a new key, never a stale K.
_CONSTANTS: weakref.WeakKeyDictionary[Any, tuple[tuple, dict[tuple, Any]]] = weakref.WeakKeyDictionary()


def _weights_version(model) -> tuple:
    return tuple((id(t), t._version) for t in (*model.parameters(), *model.buffers()))


def margin_constants(task: VerifyTask, p: dict[str, Any]):
    """``K[p, j]`` for the task's model (see :func:`curator.engines.lipschitz.margin_lipschitz`), cached per
    model, weights version, norm, params and device."""
    import torch

    from curator.engines.bounds.certify import bounded_network
    from curator.engines.lipschitz import margin_lipschitz

    version = _weights_version(task.model)
    if task.model not in _CONSTANTS or _CONSTANTS[task.model][0] != version:
        _CONSTANTS[task.model] = (version, {})
    cached = _CONSTANTS[task.model][1]
    key = (task.norm, p["l2_method"], int(p["iterations"]), float(p["safety"]), str(task.device))
    if key not in cached:
        net = bounded_network(task, torch.float32)
        cached[key] = margin_lipschitz(net, task.norm, p["l2_method"], iterations=int(p["iterations"]),
                                       safety=float(p["safety"]))
    return cached[key]


class Lipschitz(Verifier):
    name = "lipschitz"
    version = __version__
    description = "Global Lipschitz bound from layer operator norms; certified iff margin > K·radius."
    certification = "deterministic"
    norms = ("linf", "l2", "l1")
    params_schema = PARAMS_SCHEMA
    per_sample_radius = True
    publication_floor_rule = "l2_method exact: only a proved upper bound on the Lipschitz constant certifies"

    def publication_floor(self, params: dict[str, Any]) -> list[str]:
        p = params_with_defaults(PARAMS_SCHEMA, params)
        if p["l2_method"] != "exact":
            return [f"lipschitz l2_method {p['l2_method']!r} estimates the spectral norm by power iteration "
                    f"({p['iterations']} iterations, safety {p['safety']:g}); an estimate can be below the true "
                    "constant and certify inputs that are not robust: use l2_method exact"]
        return []

    def verify(self, task: VerifyTask) -> list[SampleResult]:
        import torch  # lazily: torch is not needed to list plugins

        p = params_with_defaults(PARAMS_SCHEMA, task.params)
        t0 = time.perf_counter()
        K = margin_constants(task, p)
        setup = time.perf_counter() - t0
        n = len(task.labels)
        r = task.radius_of_rows()
        radii = (r.detach().double().cpu() if isinstance(r, torch.Tensor)
                 else torch.full((n,), r, dtype=torch.float64))
        results: list[SampleResult] = []
        bs = int(p["batch_size"])
        for start in range(0, n, bs):
            stop = min(n, start + bs)
            t1 = time.perf_counter()
            with torch.no_grad():
                logits = task.model(task.inputs[start:stop].to(task.device)).double().cpu()
            pred = logits.argmax(1)
            margin = logits.gather(1, pred[:, None]) - logits  # [B, K]
            needed = K[pred] * radii[start:stop, None]
            slack = margin - needed
            slack.scatter_(1, pred[:, None], float("inf"))
            worst = slack.min(1).values
            seconds = (time.perf_counter() - t1) / (stop - start) + setup / n
            for i in range(stop - start):
                row = start + i
                if task.time_limit is not None and seconds > task.time_limit:
                    status = "timeout"
                else:
                    status = "certified" if float(worst[i]) > 0 else "not_certified"
                results.append(SampleResult(
                    index=int(task.indices[row]), label=int(task.labels[row]), predicted=int(pred[i]),
                    status=status, seconds=seconds,
                    extra={"margin_slack": float(worst[i]), "lipschitz_max": float(K[pred[i]].max())},
                ))
            if task.progress is not None:
                task.progress(stop - start)
        return results


@hookimpl
def register_verifiers(register):
    register(Lipschitz())
