"""Confirming against the upper end: a rule "claimed <= upper" would confirm claims far above what curator
measured when n is small (and any claim below it). A claim is confirmed only inside the interval and on a
publishable n; the verdict carries curator's measured number and interval."""

from __future__ import annotations

from curator.core.stats import decide, proportion
from trustkit import example, run, set_path, write_claim


def test_a_claim_far_above_the_measurement_on_few_samples_is_not_confirmed(tmp_path):
    # the honest demo model, claimed at 99% on 10 images (fewer noise draws to stay fast)
    entry = set_path(example(), result__certified_accuracy=99.0, result__clean_accuracy=99.0, result__n_samples=10,
                     result__sample_selection={"kind": "first", "n": 10}, certification__params__n=2000)
    report = run(write_claim(tmp_path / "claim", entry), tmp_path)
    measured = report["certified_accuracy"]
    assert measured["value"] < 99.0 <= measured["upper"]  # the old rule confirmed this
    assert report["verdict"]["status"] == "unconfirmed", report["verdict"]
    shown = report["verdict"]["measured"]
    assert (shown["value"], shown["lower"], shown["upper"], shown["n"]) == (
        measured["value"], measured["lower"], measured["upper"], 10)


def test_a_claim_below_the_interval_is_not_confirmed():
    measured = proportion(315, 360)  # the demo's 87.5% [82.4%, 91.6%]
    low = decide(60.0, measured, same_protocol=True, min_n=360)
    assert low.status == "unconfirmed" and "significantly more" in low.reason
    assert low.as_dict()["measured"]["lower"] > 60.0
    inside = decide(88.0, measured, same_protocol=True, min_n=360)
    assert inside.status == "confirmed" and inside.as_dict()["measured"]["value"] == 87.5


def test_the_text_summary_shows_the_measured_number_beside_the_claim(tmp_path):
    from curator.cli.verify_cmd import text_summary

    entry = set_path(example(), result__n_samples=10, result__sample_selection={"kind": "first", "n": 10},
                     certification__params__n=2000)
    report = run(write_claim(tmp_path / "claim", entry), tmp_path)
    text = text_summary(report)
    c = report["certified_accuracy"]
    assert f"claimed certified accuracy {entry['result']['certified_accuracy']:.2f}%" in text
    assert f"curator certified {c['value']:.2f}%" in text and f"[{c['lower']:.2f}%, {c['upper']:.2f}%]" in text
    assert report["verdict"]["status"] != "confirmed"  # 10 samples confirm nothing
