"""One failure policy for every batch the host runs: a verifier or an attack that raises, answers
for the wrong samples or with a status of no kind gives ``error`` samples with the reason, in
``curator verify`` and ``curator benchmark`` alike, and never a traceback.

The misbehaving plugins are third-party ones, registered through the plugin host.
"""

import pytest
import torch

from benchkit import one_model_suite
from curator.api import Attack, SampleResult, Verifier
from curator.benchmark.result import check_result_schema
from curator.benchmark.runner import BenchOptions, run_suite
from curator.verify.pipeline import verify_entry
from curator.verify.report import check_schema
from methodkit import host_with
from verifykit import copy_example, opts

# how a plugin misbehaves -> what the note about it says
MISBEHAVIOURS = {
    "raises": "RuntimeError: the plugin fell over",
    "unknown-status": "unknown status 'proved'",
    "every-result-twice": "2 results for one sample",
    "no-results": "no result",
    "wrong-label": "the sample's label is",
}


def honest_answers(method, task):
    with torch.no_grad():
        pred = task.model(task.inputs).argmax(1)
    status = "not_broken" if isinstance(method, Attack) else "not_certified"
    return [SampleResult(i, int(y), int(p), status, 0.0) for i, y, p in zip(task.indices, task.labels, pred, strict=True)]


def misbehave(how, answers):
    if how == "raises":
        raise RuntimeError("the plugin fell over")
    if how == "unknown-status":
        return [SampleResult(r.index, r.label, r.predicted, "proved", 0.0) for r in answers]
    if how == "every-result-twice":
        return answers + answers
    if how == "no-results":
        return []
    assert how == "wrong-label"
    return [SampleResult(r.index, r.label + 1, r.predicted, r.status, 0.0) for r in answers]


def method(base, how=None):
    """An instance of a ``base`` subclass that answers honestly, or misbehaves ``how``."""

    def verify(self, task):
        answers = honest_answers(self, task)
        return answers if how is None else misbehave(how, answers)

    kind = "attack" if base is Attack else "verifier"
    name = f"{how}-{kind}" if how else f"honest-{kind}"
    return type(name.title().replace("-", ""), (base,), {"name": name, "version": "0.0.1", "verify": verify})()


@pytest.fixture(scope="module")
def host():
    return host_with(method(Verifier), method(Attack),
                     *(method(base, how) for how in MISBEHAVIOURS for base in (Verifier, Attack)))


def deterministic_claim(tmp_path, verifier):
    return copy_example(tmp_path, certification={"type": "deterministic", "verifier": verifier, "params": {}},
                        result__certified_accuracy=5.0)


def reason_noted(notes, how):
    return any(MISBEHAVIOURS[how] in n for n in notes)


@pytest.mark.parametrize("how", MISBEHAVIOURS)
def test_verify_turns_a_misbehaving_attack_into_error_samples(tmp_path, host, how):
    report = verify_entry(deterministic_claim(tmp_path, "honest-verifier"),
                          opts(tmp_path, samples=4, attack=f"{how}-attack"), host=host)
    check_schema(report)
    assert report["attack"]["samples"]["status"] == ["error"] * 4
    assert reason_noted(report["notes"], how), report["notes"]
    # errors refute nothing: the verifier still ran on every sample
    assert report["attack"]["early_stop"] is False and report["samples"]["status"] == ["not_certified"] * 4


@pytest.mark.parametrize("how", MISBEHAVIOURS)
def test_verify_turns_a_misbehaving_verifier_into_error_samples(tmp_path, host, how):
    report = verify_entry(deterministic_claim(tmp_path, f"{how}-verifier"),
                          opts(tmp_path, samples=4, attack="honest-attack"), host=host)
    check_schema(report)
    assert report["samples"]["status"] == ["error"] * 4 and report["totals"]["error"] == 4
    assert reason_noted(report["notes"], how), report["notes"]
    assert report["attack"]["samples"]["status"] == ["not_broken"] * 4


@pytest.mark.parametrize("how", MISBEHAVIOURS)
def test_benchmark_turns_misbehaving_verifiers_and_attacks_into_error_samples(tmp_path, host, how):
    suite = one_model_suite(tmp_path, verifiers=[{"name": "honest-verifier"}, {"name": f"{how}-verifier"}],
                            attack={"name": f"{how}-attack"})
    result = run_suite(suite, BenchOptions(progress=False, cache_dir=tmp_path / "cache"), host=host)
    check_result_schema(result)
    by_label = {c["method"]["label"]: c for c in result["cells"]}
    assert by_label[f"{how}-verifier"]["samples"]["status"] == ["error"] * 4
    assert by_label[f"{how}-attack"]["samples"]["status"] == ["error"] * 4
    assert by_label["honest-verifier"]["samples"]["status"] == ["not_certified"] * 4
    assert reason_noted(result["notes"], how), result["notes"]


def test_an_attack_witness_that_does_not_replay_is_an_error_sample(tmp_path):
    class FarWitness(Attack):
        """Claims every sample broken with a witness far outside the threat set."""
        name = "far-witness"
        version = "0.0.1"

        def verify(self, task):
            return [SampleResult(i, int(y), (int(y) + 1) % 10, "broken", 0.0, extra={"witness": 1 - x})
                    for i, y, x in zip(task.indices, task.labels, task.inputs, strict=True)]

    host = host_with(method(Verifier), FarWitness())
    report = verify_entry(deterministic_claim(tmp_path, "honest-verifier"),
                          opts(tmp_path, samples=3, attack="far-witness"), host=host)
    assert report["attack"]["samples"]["status"] == ["error"] * 3 and report["attack"]["witnesses"] == []
    assert any("does not replay" in n for n in report["notes"])
