"""Bundled attack ``pgd``: PGD with random restarts on the margin loss (Madry et al. 2018).

Inside the same threat set as the verifiers (ℓ∞/ℓ2/ℓ1 ball ∩ [0,1]). ``broken`` carries
``extra["witness"]`` (a CPU tensor shaped like one input) that was re-executed on the task's model
and is misclassified there, ``extra["margin"]`` (f_y − max_{j≠y} f_j at the witness, < 0) and
``extra["witness_class"]``; ``predicted`` is always the clean prediction.
Failing to break a sample proves nothing.
"""

from __future__ import annotations

import time
from typing import Any

from curator.api import Attack, SampleResult, VerifyTask, hookimpl, params_with_defaults

__version__ = "1.0.0"

PARAMS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "steps": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 50},
        "restarts": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 3},
        "step_size": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": None,
                      "description": "Step length in the attack norm; null = 2.5·radius/steps."},
        "seed": {"type": ["integer", "null"], "default": None, "description": "null = the task's seed."},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 256},
    },
}


class PGD(Attack):
    name = "pgd"
    version = __version__
    description = "PGD with random restarts on the margin loss inside the lp ball ∩ [0,1]; witnesses are replayed."
    norms = ("linf", "l2", "l1")
    params_schema = PARAMS_SCHEMA

    def verify(self, task: VerifyTask) -> list[SampleResult]:
        import torch  # lazily: torch is not needed to list plugins

        from curator.engines.pgd import in_threat_set, margins, pgd

        p = params_with_defaults(PARAMS_SCHEMA, task.params)
        seed = task.seed if p["seed"] is None else int(p["seed"])
        bs = int(p["batch_size"])
        model = task.model
        results: list[SampleResult] = []
        for start in range(0, len(task.labels), bs):
            stop = min(len(task.labels), start + bs)
            t0 = time.perf_counter()
            x = task.inputs[start:stop].to(task.device)
            y = task.labels[start:stop].to(task.device).long()
            deadline = t0 + task.time_limit * (stop - start) if task.time_limit is not None else None
            res = pgd(model, x, y, task.norm, float(task.radius), int(p["steps"]), int(p["restarts"]),
                      p["step_size"], seed + start, deadline)
            with torch.no_grad():
                clean = model(x)
                replay = model(res.witness)
            clean_pred, clean_m = clean.argmax(1), margins(clean, y)
            replay_pred, replay_m = replay.argmax(1), margins(replay, y)
            inside = in_threat_set(res.witness, x, task.norm, float(task.radius))
            seconds = (time.perf_counter() - t0) / (stop - start)
            for i in range(stop - start):
                row = start + i
                extra: dict[str, Any] = {}
                if int(clean_pred[i]) != int(y[i]):
                    status = "misclassified"
                    extra = {"witness": x[i].detach().cpu().clone(), "margin": float(clean_m[i])}
                    pred = int(clean_pred[i])
                elif int(replay_pred[i]) != int(y[i]) and bool(inside[i]):
                    status = "broken"
                    extra = {"witness": res.witness[i].detach().cpu().clone(), "margin": float(replay_m[i]),
                             "witness_class": int(replay_pred[i])}
                    pred = int(clean_pred[i])
                else:
                    status = "timeout" if res.timed_out else "not_broken"
                    extra = {"margin": float(replay_m[i])}
                    pred = int(clean_pred[i])
                results.append(SampleResult(index=int(task.indices[row]), label=int(y[i]), predicted=pred,
                                            status=status, seconds=seconds, extra=extra))
            if task.progress is not None:
                task.progress(stop - start)
        return results


@hookimpl
def register_verifiers(register):
    register(PGD())
