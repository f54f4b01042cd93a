"""Bundled plugin ``milp``: complete verification by mixed-integer programming (Tjeng et al. 2019).

What a ``certified`` answer guarantees: for every input ``x'`` in the threat set
``{x' : ||x' - x||_norm <= radius} ∩ [0, 1]^d`` the network's logit of the predicted class exceeds
every other logit, as computed in exact arithmetic on the float32 weights (the MILP is solved in
float64 by HiGHS with feasibility tolerance 1e-7; bounds are padded for float64 rounding). The
proof is either CROWN's lower bound on every margin being > 0, or HiGHS proving that no point of
the set has margin ``f_y - f_j <= 0`` (the cut-off problem is infeasible: its dual bound is +inf)
for every remaining class ``j``. A best-found objective at a non-zero MIP gap is never a proof.

``not_certified`` carries ``extra["witness"]`` (a tensor shaped like the input, inside the threat
set) that was re-executed in the float32 torch model and has margin <= 1e-4 (the VNN-COMP rule;
``extra["witness_margin"]`` gives the replayed value). A solver counterexample that does not replay
is reported as ``error``, never as a result. ``timeout`` means the per-sample time limit ran out
before either. Samples the model misclassifies at the clean input are ``not_certified`` with the
clean input as witness, without solving.

Norms: ℓ∞ exactly; ℓ1 exactly, with auxiliary variables ``t_i >= |x_i - x0_i|``, ``Σ t_i <= ε``
(big-M bounds come from the enclosing ℓ∞ box of radius ε); ℓ2 is refused — its ball needs a
quadratic constraint, which HiGHS's MILP does not take.
"""

from __future__ import annotations

import time
from typing import Any

from curator.api import SampleResult, Verifier, VerifyTask, hookimpl, params_with_defaults

__all__ = ["MilpVerifier"]


class MilpVerifier(Verifier):
    name = "milp"
    version = "1.0"
    description = ("Complete verification: big-M MILP over CROWN bounds (Tjeng et al. 2019), HiGHS via scipy; "
                   "counterexamples replayed in torch")
    certification = "deterministic"
    norms = ("linf", "l1")
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "time_limit": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                           "description": "seconds per sample unless the run sets its own limit"},
            "bounds": {"enum": ["crown", "ibp"], "default": "crown",
                       "description": "pre-activation bounds that set the big-M constants"},
            "replay_tolerance": {"type": "number", "minimum": 0, "maximum": 0.01, "default": 1e-4,
                                 "description": "largest replayed margin a counterexample may have"},
        },
    }

    def verify(self, task: VerifyTask) -> list[SampleResult]:
        import numpy as np
        import torch

        from .encoding import verify_box
        from .network import UnsupportedNetwork, extract

        if task.norm not in self.norms:
            raise ValueError(f"milp: norm {task.norm!r} is not supported (l2 balls need a quadratic constraint; "
                             "use linf or l1)")
        params = params_with_defaults(self.params_schema, task.params)
        time_limit = float(task.time_limit or params["time_limit"])
        model = task.model.eval()
        input_shape = tuple(task.inputs.shape[1:])
        results: list[SampleResult] = []
        try:
            net = extract(model, input_shape)
            net_error = None
        except UnsupportedNetwork as exc:
            net, net_error = None, str(exc)

        def replay(x32: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                xt = torch.from_numpy(x32).to(task.device).view((1,) + input_shape)
                return model(xt)[0].double().cpu().numpy()

        for row in range(task.inputs.shape[0]):
            start = time.perf_counter()
            index, label = task.indices[row], int(task.labels[row])
            x0 = task.inputs[row].detach().double().cpu().numpy().ravel()
            with torch.no_grad():
                predicted = int(model(task.inputs[row : row + 1].to(task.device)).argmax(1)[0])
            extra: dict[str, Any] = {}
            if net_error is not None:
                status, extra["error"] = "error", f"milp: {net_error}"
            elif predicted != label:
                status = "not_certified"
                extra.update(witness=task.inputs[row].detach().cpu().clone(), reason="misclassified")
            else:
                lo = np.maximum(x0 - task.radius, 0.0)
                hi = np.minimum(x0 + task.radius, 1.0)
                l1 = (x0, float(task.radius)) if task.norm == "l1" else None
                box = verify_box(net, lo, hi, predicted, replay, time_limit=time_limit,
                                 bound_method=params["bounds"], replay_tolerance=float(params["replay_tolerance"]),
                                 num_classes=task.num_classes, l1_ball=l1)
                status = box.status
                extra.update(certified_by=box.certified_by, unstable_relus=box.unstable,
                             targets=[t.as_dict() for t in box.targets])
                if box.status == "not_certified":
                    extra.update(witness=torch.from_numpy(box.witness).view(input_shape),
                                 witness_margin=box.witness_margin, witness_class=box.witness_class)
                if box.message:
                    extra["error" if box.status == "error" else "message"] = box.message
            results.append(SampleResult(index=index, label=label, predicted=predicted, status=status,
                                        seconds=time.perf_counter() - start, extra=extra))
            if task.progress is not None:
                task.progress(1)
        return results


@hookimpl
def register_verifiers(register):
    register(MilpVerifier())
