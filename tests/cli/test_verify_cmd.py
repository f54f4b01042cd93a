"""``curator verify``, ``merge-reports``, ``report certified-accuracy`` and ``demo`` through the CLI."""

import json

from click.testing import CliRunner

from curator.cli import main
from curator.verify.report import load_report
from verifykit import copy_example

LOG = "artifacts/smoothing-logs/cohen2019/cifar10/resnet110/noise_0.25/test/sigma_0.25"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_verify_json_output_report_file_and_exit_0(tmp_path):
    entry = copy_example(tmp_path)
    out = tmp_path / "r.json"
    code, stdout, _ = run("verify", entry, "--samples", 3, "--quiet", "--format", "json", "--out", out,
                          "--cache-dir", tmp_path / "c", "--device", "cpu")
    doc = json.loads(stdout)
    assert code == (0 if doc["verdict"]["status"] == "confirmed" else 1)
    assert load_report(out) == doc


def test_verify_exit_1_when_refuted_and_text_names_the_verdict(tmp_path):
    # curator runs exactly the claim's own 120 samples (fewer noise draws to stay fast): the
    # one-sample rule applies.
    entry = copy_example(tmp_path, result__certified_accuracy=100.0, result__clean_accuracy=100.0,
                         certification__params__n=2000)
    code, stdout, _ = run("verify", entry, "--quiet", "--cache-dir", tmp_path / "c")
    assert code == 1 and "REFUTED" in stdout and "interval" in stdout


def test_claim_measured_on_other_samples_is_compared_two_sample(tmp_path):
    # The claim states 120 samples, curator runs 8 of them: 100% on 120 does not differ
    # significantly from 6/8, so the verdict is unconfirmed, not refuted (docs/verdicts.md).
    entry = copy_example(tmp_path, result__certified_accuracy=100.0, result__clean_accuracy=100.0,
                         result__n_samples=120, result__sample_selection={"kind": "evenly_spaced", "n": 120})
    code, stdout, _ = run("verify", entry, "--samples", 8, "--quiet", "--cache-dir", tmp_path / "c")
    assert code == 1 and "UNCONFIRMED" in stdout and "do not differ significantly" in stdout


def test_verify_usage_and_input_errors(tmp_path):
    entry = copy_example(tmp_path)
    assert run("verify", entry, "--samples", 2, "--all")[0] == 2
    assert run("verify", tmp_path / "missing.json")[0] == 2
    code, _, err = run("verify", entry, "--shard", "3/2", "--quiet")
    assert code == 2 and "--shard" in err  # a usage error, like --samples with --all
    bad = copy_example(tmp_path, model__sha256="1" * 64)
    code, _, err = run("verify", bad, "--samples", 2, "--quiet", "--cache-dir", tmp_path / "c")
    assert code == 1 and "sha256" in err


def test_merge_reports_cli(tmp_path):
    entry = copy_example(tmp_path)
    parts = []
    for i in (1, 2):
        p = tmp_path / f"s{i}.json"
        code, stdout, _ = run("verify", entry, "--samples", 4, "--shard", f"{i}/2", "--seed", 7, "--quiet", "--out", p,
                              "--cache-dir", tmp_path / "c")
        assert code == 0 and "PARTIAL" in stdout
        parts.append(p)
    merged = tmp_path / "m.json"
    code, stdout, _ = run("merge-reports", *parts, "--out", merged, "--format", "json")
    doc = json.loads(stdout)
    assert doc["totals"]["n"] == 4 and doc["shard"]["merged_from"] == [0, 1]
    assert code == (0 if doc["verdict"]["status"] == "confirmed" else 1)
    code, _, err = run("merge-reports", parts[0], "--out", tmp_path / "x.json")
    assert code == 1 and "missing shard" in err and not (tmp_path / "x.json").exists()


def test_report_certified_accuracy_from_cohen_log(shared):
    code, stdout, _ = run("report", "certified-accuracy", shared / LOG, "--radius", 0.25, "--radius", 0.5,
                          "--format", "json")
    doc = json.loads(stdout)
    assert code == 0 and [r["value"] for r in doc["results"]] == [60.0, 42.8] and doc["n"] == 500


def test_demo_smoke(repo, monkeypatch):
    monkeypatch.chdir(repo)
    code, stdout, _ = run("demo", "--samples", 3, "--quiet")
    assert "curator verify examples/digits-smoothing.json" in stdout and "certified" in stdout
    # a 3-sample prefix is a smoke run: it cannot confirm, it must not refute
    assert "UNCONFIRMED (SMOKE RUN" in stdout and "fewer than the 360 samples" in stdout and code == 0
