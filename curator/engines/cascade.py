"""Cascades of classifiers (Wong et al. 2018, "Scaling provable adversarial defenses") and a sound
certificate for them that any deterministic verifier can give.

A cascade ``f_1 … f_m`` answers an input ``z`` with the first stage ``k < m`` whose own certifier
(the *router*) proves ``f_k`` constant on the ball around ``z``, and with ``f_m`` when none does.
The published evaluation certifies a test point ``x`` when the stage it is routed to certifies it;
that is not a certificate of the cascade: a perturbed ``x'`` may be routed to an *earlier* stage
that certifies ``x'`` but not ``x`` (Mangal et al., "On the Perils of Cascading Robust
Classifiers", ICLR 2023), or fall through to a later stage.

curator's rule (the argument is in docs/verifiers.md, "Cascades"): ``x`` is certified with class
``p`` when

1. every stage before the last predicts ``p`` at ``x`` itself, and
2. the verifier certifies the last stage at ``x`` (prediction ``p``) on the claim's threat set.

If a router certifies stage ``k`` at ``x'`` (with ``||x' - x|| ≤ ε``), ``f_k`` is constant on the
ball around ``x'``, which contains ``x``, so the cascade answers ``f_k(x) = p``; if no stage is
routed, it answers ``f_m(x') = p`` by (2). The rule holds for every sound router of the same norm
and a radius ≥ the claim's, so the deployed cascade's own router need not be re-implemented.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from curator.api import SampleResult, Verifier, VerifyTask

__all__ = ["Cascade", "find_cascade", "stage_models", "certify_cascade", "verify_task"]


class Cascade(nn.Module):
    """The stages of a cascade. ``forward`` is the last (fallback) stage: routing needs a
    certifier, so the routed output is not a plain forward pass (see :func:`certify_cascade`)."""

    def __init__(self, stages: list[nn.Module]):
        super().__init__()
        if not stages:
            raise ValueError("a cascade needs at least one stage")
        self.stages = nn.ModuleList(stages)

    def forward(self, x):
        return self.stages[-1](x)


def find_cascade(model: nn.Module) -> tuple[list[nn.Module], Cascade] | None:
    """``(prefix layers, cascade)`` when ``model`` is a cascade, possibly behind the input
    normalisation curator prepends (``Sequential(Normalize, Cascade)``); else None."""
    if isinstance(model, Cascade):
        return [], model
    if isinstance(model, nn.Sequential):
        children = list(model.children())
        if children and isinstance(children[-1], Cascade) and not any(isinstance(c, Cascade) for c in children[:-1]):
            return children[:-1], children[-1]
    return None


def stage_models(model: nn.Module) -> list[nn.Module]:
    """One plain network per stage, each behind the cascade's prefix layers (the normalisation)."""
    found = find_cascade(model)
    if found is None:
        raise ValueError("not a cascade")
    prefix, cascade = found
    return [nn.Sequential(*prefix, *(list(s) if isinstance(s, nn.Sequential) else [s])).eval() for s in cascade.stages]


def _combine(per_stage: list[SampleResult]) -> SampleResult:
    last = per_stage[-1]
    preds = [r.predicted for r in per_stage]
    statuses = [r.status for r in per_stage]
    # Where the verifier itself routes the clean input: the cascade's clean prediction.
    routed = next((k for k, r in enumerate(per_stage[:-1]) if r.status == "certified"), len(per_stage) - 1)
    if last.status == "certified" and all(p == last.predicted for p in preds):
        status = "certified"
    elif "error" in statuses:
        status = "error"
    elif "timeout" in statuses:
        status = "timeout"
    else:
        status = "not_certified"
    extra = {"cascade_stage": routed, "stage_status": statuses, "stage_predicted": preds}
    if "margin_lower_bound" in last.extra:
        extra["margin_lower_bound"] = last.extra["margin_lower_bound"]
    return SampleResult(last.index, last.label, per_stage[routed].predicted, status,
                        sum(r.seconds for r in per_stage), extra=extra)


def certify_cascade(verifier: Verifier, task: VerifyTask) -> list[SampleResult]:
    """Run ``verifier`` on every stage of the task's cascade and combine by curator's sound rule
    (module docstring). Only deterministic verifiers: a smoothed certificate is about another
    classifier than the cascade's stages."""
    if getattr(verifier, "certification", "deterministic") != "deterministic":
        raise ValueError(f"verifier {verifier.name!r} gives {verifier.certification} certificates; "
                         "a cascade needs a deterministic verifier per stage")
    stages = stage_models(task.model)
    per_stage: list[dict[int, SampleResult]] = []
    for k, stage in enumerate(stages):
        # Progress is counted once per sample, on the last stage.
        sub = dataclasses.replace(task, model=stage, progress=task.progress if k == len(stages) - 1 else None)
        got = {r.index: r for r in verifier.verify(sub)}
        per_stage.append(got)
    out = []
    for i, label in zip(task.indices, task.labels.tolist(), strict=True):
        rows = [got.get(i) for got in per_stage]
        if any(r is None for r in rows):
            out.append(SampleResult(i, int(label), -1, "error", 0.0, extra={"reason": "a stage returned no result"}))
        else:
            out.append(_combine(rows))  # type: ignore[arg-type]
    return out


def verify_task(verifier: Verifier, task: VerifyTask) -> list[SampleResult]:
    """``verifier.verify(task)``, or :func:`certify_cascade` when the task's model is a cascade:
    the one call the host makes per batch."""
    if find_cascade(task.model) is not None:
        return certify_cascade(verifier, task)
    return verifier.verify(task)


def is_cascade(model: Any) -> bool:
    return isinstance(model, nn.Module) and find_cascade(model) is not None
