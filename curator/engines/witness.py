"""Witness replay: an attack's or a verifier's counterexample re-executed in curator's own code.

A witness is evidence only when it lies in the threat set (the norm ball around the clean input,
intersected with the [0, 1] box, with float32 slack) and the model, run here, classifies it as
claimed. Whoever produced it, curator checks it the same way.
"""

from __future__ import annotations

from typing import Any

from curator.api import SampleResult

__all__ = ["REPLAY_TOLERANCE", "replay_prediction", "replay_witness", "replayed_class", "refuting_witness"]

REPLAY_TOLERANCE = 1e-5  # relative slack on the radius when replaying a witness (float32 arithmetic)


def _norm(delta, norm: str):
    flat = delta.flatten()
    return {"l1": flat.abs().sum(), "l2": flat.pow(2).sum().sqrt(), "linf": flat.abs().max()}[norm]


def replay_prediction(model, x, witness, norm: str, radius: float) -> tuple[int | None, str]:
    """The model's class at ``witness`` when the witness lies in the threat set (ball ∩ box, with
    float32 slack), else ``None`` and why; the second item is a sentence for the report."""
    import torch

    w = torch.as_tensor(witness, dtype=x.dtype, device=x.device).reshape(x.shape)
    if not bool(torch.isfinite(w).all()):
        return None, "witness has non-finite values"
    if float(w.min()) < -1e-6 or float(w.max()) > 1 + 1e-6:
        return None, "witness leaves the [0, 1] box"
    dist = float(_norm(w - x, norm))
    if dist > radius * (1 + REPLAY_TOLERANCE) + 1e-7:
        return None, f"witness is at {norm} distance {dist:.6g} > radius {radius:g}"
    with torch.no_grad():
        pred = int(model(w.unsqueeze(0)).argmax(dim=1))
    return pred, f"predicted {pred} at {norm} distance {dist:.6g}"


def replay_witness(model, x, label: int, witness, norm: str, radius: float) -> tuple[int | None, str]:
    """The model's class at ``witness`` when the witness refutes robustness at ``x`` (inside the
    threat set and not classified ``label``), else None; and why. A witness that does not replay
    is not evidence."""
    if witness is None:
        return None, "no witness"
    pred, why = replay_prediction(model, x, witness, norm, radius)
    if pred == label:
        return None, "the model classifies the witness correctly"
    return pred, why


def replayed_class(model, x, witness, norm: str, radius: float) -> int | None:
    """The model's class at ``witness`` when the witness lies in the threat set, else None."""
    return None if witness is None else replay_prediction(model, x, witness, norm, radius)[0]


def refuting_witness(result: SampleResult, x) -> Any:
    """The input behind an attack result that refutes robustness: the clean input ``x`` itself for
    ``misclassified``, the attack's ``extra["witness"]`` for ``broken`` (None when it gave none)."""
    return x if result.status == "misclassified" else result.extra.get("witness")
