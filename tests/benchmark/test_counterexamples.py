"""A counterexample counts whoever produced it: the benchmark replays every verifier's
``not_certified`` witness and flags the certificates it contradicts, for a third-party complete
verifier exactly as for the bundled milp."""

from benchkit import one_model_suite
from curator.api import SampleResult, Verifier
from curator.api.registry import get_registry
from curator.benchmark.result import check_result_schema
from curator.benchmark.runner import BenchOptions, run_suite
from methodkit import CertifyEverything, host_with


class FindsCounterexamples(Verifier):
    """A third party's complete-style verifier: never certifies; returns the bundled PGD's
    adversarial examples as its counterexamples."""
    name = "finds-counterexamples"
    version = "0.0.1"
    norms = ("linf",)

    def verify(self, task):
        attacked = get_registry().attack("pgd").verify(task)
        return [SampleResult(a.index, a.label, a.label if a.status == "broken" else a.predicted, "not_certified",
                             0.0, extra={"witness": a.extra["witness"]} if a.status == "broken" else {})
                for a in attacked]


def test_a_third_party_verifiers_counterexamples_flag_unsound_certificates(tmp_path):
    host = host_with(CertifyEverything(), FindsCounterexamples())
    suite = one_model_suite(tmp_path, verifiers=[{"name": "certify-everything"}, {"name": "finds-counterexamples"}],
                            attack=None, n=8)
    result = run_suite(suite, BenchOptions(progress=False, cache_dir=tmp_path / "cache"), host=host)
    check_result_schema(result)
    flagged = [(f["verifier"], f["evidence"]) for f in result["soundness"]]
    assert flagged and set(flagged) == {("certify-everything", "finds-counterexamples")}


def test_a_counterexample_that_does_not_replay_flags_nothing(tmp_path):
    class FakeCounterexamples(FindsCounterexamples):
        """Witnesses far outside the threat set: no evidence."""
        name = "fake-counterexamples"

        def verify(self, task):
            return [SampleResult(i, int(y), int(y), "not_certified", 0.0, extra={"witness": 1 - x})
                    for i, y, x in zip(task.indices, task.labels, task.inputs, strict=True)]

    host = host_with(CertifyEverything(), FakeCounterexamples())
    suite = one_model_suite(tmp_path, verifiers=[{"name": "certify-everything"}, {"name": "fake-counterexamples"}],
                            attack=None)
    result = run_suite(suite, BenchOptions(progress=False, cache_dir=tmp_path / "cache"), host=host)
    assert result["soundness"] == []
