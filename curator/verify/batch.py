"""The one way the host runs a verifier or an attack over a batch of samples, and its failure policy.

``curator verify`` (attack pre-pass and verifier) and ``curator benchmark`` (every method, every
radius) send each batch through :func:`run_batch`. Whatever the plugin does, every sample of the
batch gets exactly one result, and a plugin's failure is never a number and never a traceback:

- a plugin that raises gives ``error`` for every sample of the batch;
- a sample with no result, with more than one, with one that is not a :class:`SampleResult`,
  whose label is not the sample's, or whose status is not one of its kind's (:data:`STATUSES` for
  a verifier, :data:`ATTACK_STATUSES` for an attack) gets ``error``.

The reason is in the error result's ``extra["reason"]`` and in a note.

An attack's refuting answers are then replayed (:func:`replay_attack`): a ``broken`` or
``misclassified`` whose witness does not replay becomes ``error`` the same way.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from curator.api import ATTACK_STATUSES, STATUSES, Attack, Method, SampleResult, VerifyTask
from curator.engines.witness import refuting_witness, replay_witness
from curator.verify.report import ATTACK_REFUTES

MAX_NOTE_CHARS = 500


def statuses_of(method: Method) -> tuple[str, ...]:
    return ATTACK_STATUSES if isinstance(method, Attack) else STATUSES


def error_result(index: int, label: int, reason: str, seconds: float = 0.0) -> SampleResult:
    return SampleResult(int(index), int(label), -1, "error", seconds, extra={"reason": reason})


def _call(method: Method, task: VerifyTask) -> list[Any]:
    if isinstance(method, Attack):
        return list(method.verify(task))
    from curator.engines.cascade import verify_task  # a cascade's certificate needs curator's rule

    return list(verify_task(method, task))


def run_batch(method: Method, task: VerifyTask, notes: list[str], where: str = "") -> list[SampleResult]:
    """``method`` on ``task``: one checked result per row of the task, in row order. ``where``
    (e.g. " at radius 0.1") says in the notes which call failed."""
    labels = [int(v) for v in task.labels.tolist()]
    t0 = time.monotonic()
    try:
        got = _call(method, task)
    except Exception as exc:  # noqa: BLE001 - foreign code: its failure becomes error samples
        reason = f"{type(exc).__name__}: {exc}"
        if task.indices:
            notes.append(f"{method.name} failed{where} on samples {task.indices[0]}..{task.indices[-1]}: "
                         f"{reason}"[:MAX_NOTE_CHARS])
        per = (time.monotonic() - t0) / max(1, len(task.indices))
        return [error_result(i, y, reason, per) for i, y in zip(task.indices, labels, strict=True)]
    return checked_results(method, task.indices, labels, got, notes, where)


def checked_results(method: Method, indices: list[int], labels: list[int], got: list[Any], notes: list[str],
                    where: str = "") -> list[SampleResult]:
    """One result per sample from what the plugin returned, each checked on its own (module docstring)."""
    by_index: dict[int, list[Any]] = {}
    strays = 0
    for r in got:
        try:
            key = int(r.index)
        except (AttributeError, TypeError, ValueError):
            strays += 1
            continue
        by_index.setdefault(key, []).append(r)
    asked = {int(i) for i in indices}
    strays += sum(len(rs) for i, rs in by_index.items() if i not in asked)
    if strays:
        notes.append(f"{method.name}{where} returned {strays} result(s) for no sample of its batch")
    allowed = statuses_of(method)
    out = []
    for i, y in zip(indices, labels, strict=True):
        found = by_index.get(int(i), [])
        problem = _problem(found, y, allowed)
        if problem is None:
            out.append(dataclasses.replace(found[0], index=int(i), label=y))  # plain ints, whatever the plugin used
        else:
            notes.append(f"{method.name}{where}: sample {i}: {problem}"[:MAX_NOTE_CHARS])
            out.append(error_result(i, y, problem))
    return out


def _problem(found: list[Any], label: int, allowed: tuple[str, ...]) -> str | None:
    if not found:
        return "no result"
    if len(found) > 1:
        return f"{len(found)} results for one sample"
    r = found[0]
    if not isinstance(r, SampleResult):
        return f"a {type(r).__name__} result, not a SampleResult"
    if r.status not in allowed:
        return f"unknown status {r.status!r} (one of {', '.join(allowed)} expected)"
    if int(r.label) != label:
        return f"result for label {int(r.label)}, the sample's label is {label}"
    return None


@dataclass(frozen=True)
class Replayed:
    """A refuting attack result whose witness curator replayed."""

    witness: Any  # the input, shaped like the sample
    predicted: int  # the model's class there, run by curator
    why: str  # the replay's sentence for the report


def replay_attack(attack: Attack, model: Any, inputs: Any, results: list[SampleResult], norm: str, radius: float,
                  notes: list[str], where: str = "") -> tuple[list[SampleResult], dict[int, Replayed]]:
    """The attack's results with every refuting one checked: a witness that does not replay
    turns its result into ``error``. Also returns the replayed witnesses by row."""
    out: list[SampleResult] = []
    replayed: dict[int, Replayed] = {}
    for row, r in enumerate(results):
        if r.status in ATTACK_REFUTES:
            witness = refuting_witness(r, inputs[row])
            predicted, why = replay_witness(model, inputs[row], int(r.label), witness, norm, radius)
            if predicted is None:
                reason = f"the attack said {r.status} but its witness does not replay ({why})"
                notes.append(f"{attack.name}{where}: sample {r.index}: {reason}"[:MAX_NOTE_CHARS])
                r = error_result(r.index, r.label, reason, r.seconds)
            else:
                replayed[row] = Replayed(witness, predicted, why)
        out.append(r)
    return out, replayed
