"""Run a bound method over a :class:`curator.api.VerifyTask`: the shared body of the bundled
``ibp`` and ``crown`` verifiers (public so that third-party bound verifiers can reuse it).

Guarantee of a ``certified`` result: the lower bound of ``f_p(x') - f_j(x')`` is > 0 for every
class ``j ≠ p`` and every ``x'`` in the threat set ``B_norm(x, radius) ∩ [0,1]^d``, where ``p`` is
the clean prediction — so the network's argmax is ``p`` on the whole set (ties impossible). The
bounds are computed in ``dtype`` (float32 by default); rounding can move a bound by about 1e-6
relative, which is why the margin lower bound is recorded in ``extra`` for the report.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator

import torch

from curator.api import CuratorError, SampleResult, VerifyTask, params_with_defaults
from curator.engines.bounds.convert import UnsupportedLayerError, from_module
from curator.engines.bounds.network import BoundedNetwork

DTYPES = {"float32": torch.float32, "float64": torch.float64}


# Converted networks by model (weakly: a model that is dropped takes its entry with it), keyed by
# input shape, dtype, device and the identity and version of every weight and buffer, so that an
# in-place weight update gives a fresh conversion and repeated calls on one model convert it once.
_NETWORKS: weakref.WeakKeyDictionary[torch.nn.Module, dict] = weakref.WeakKeyDictionary()


def _weights_key(model: torch.nn.Module) -> tuple:
    return tuple((name, t.data_ptr(), t._version, t.dtype, tuple(t.shape))
                 for name, t in model.state_dict(keep_vars=True).items())


def bounded_network(task: VerifyTask, dtype: torch.dtype = torch.float32) -> BoundedNetwork:
    """The task's model converted for bound propagation, on the task's device (converted once per
    model, weights version, input shape, dtype and device; callers must not change its options)."""
    key = (tuple(task.inputs.shape[1:]), dtype, str(task.device), _weights_key(task.model))
    try:
        per_model = _NETWORKS.setdefault(task.model, {})
    except TypeError:  # a model that cannot be weakly referenced is converted every time
        per_model = {}
    if key in per_model:
        return per_model[key]
    try:
        net = from_module(task.model, tuple(task.inputs.shape[1:]), dtype=dtype)
    except UnsupportedLayerError as exc:
        raise CuratorError(f"cannot bound this model: {exc}") from exc
    net = net.to(task.device, dtype)
    per_model.clear()  # only the latest weights of a model are worth keeping
    per_model[key] = net
    return net


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def certify_task(
    task: VerifyTask,
    methods: list[tuple[str, str]],
    batch_size: int,
    dtype: str = "float32",
    with_ibp: bool = False,
    alpha: dict | None = None,
) -> list[SampleResult]:
    """Certify every row of ``task`` with the best of the given (method, intermediate) bounds.

    Each bound is sound, so their elementwise maximum is too. ``with_ibp`` and ``alpha`` go to the
    ``crown`` methods (:meth:`BoundedNetwork.spec_lower_bounds`): the elided IBP bound from the same
    intervals as CROWN's (no second IBP pass), and α-CROWN's slope optimisation. The bound computation of a batch
    cannot be interrupted: its time is shared equally by its samples, and a sample whose share
    exceeds ``task.time_limit`` is reported as ``timeout`` (its bound is then not used).
    """
    if task.norm not in ("linf", "l2", "l1"):
        raise CuratorError(f"unsupported norm {task.norm!r}")
    torch_dtype = DTYPES[dtype]
    net = bounded_network(task, torch_dtype)
    results: list[SampleResult] = []
    model = task.model
    radii = task.radius_of_rows()
    # One radius per row either way, so a batch slices it like the inputs.
    eps = (radii.to(task.device, torch_dtype) if isinstance(radii, torch.Tensor)
           else torch.full((len(task.labels),), radii, dtype=torch_dtype, device=task.device))
    for sl in batches(len(task.labels), batch_size):
        start = time.perf_counter()
        x = task.inputs[sl].to(task.device, torch_dtype)
        with torch.no_grad():
            predicted = net(x).argmax(1)
            lb = None
            for method, intermediate in methods:
                extra = {"with_ibp": with_ibp, "alpha": alpha} if method == "crown" else {}
                b = net.margin_lower_bounds(x, predicted, task.norm, eps[sl], method, intermediate, **extra)
                lb = b if lb is None else torch.maximum(lb, b)
            worst = lb.min(1).values.cpu()
            # The clean prediction of the task's own model decides `predicted` (it matches net's).
            model_pred = model(task.inputs[sl].to(task.device)).argmax(1).cpu()
        seconds = (time.perf_counter() - start) / x.shape[0]
        for i, row in enumerate(range(sl.start, sl.stop)):
            pred = int(model_pred[i])
            bound = float(worst[i])
            if task.time_limit is not None and seconds > task.time_limit:
                status = "timeout"
            elif pred != int(predicted[i]):
                # The converted network disagrees with the model on the clean input (rounding at a
                # tie): nothing was proved about the model's own prediction.
                status = "error"
            else:
                status = "certified" if bound > 0 else "not_certified"
            results.append(
                SampleResult(
                    index=int(task.indices[row]),
                    label=int(task.labels[row]),
                    predicted=pred,
                    status=status,
                    seconds=seconds,
                    extra={"margin_lower_bound": bound},
                )
            )
        if task.progress is not None:
            task.progress(sl.stop - sl.start)
    return results


# The name the bundled bound verifiers import.
with_defaults = params_with_defaults
