"""``curator benchmark``: suites, runs, shards, merging, soundness cross-checks, rendering.

The shipped CI suite (bench/suites/shared-ci.json, on ../shared) runs once per session in two
shards that are merged by the CLI; the known facts are checked on the merged result. The small
digits suite (no shared material) covers the cross-check's ability to fail and the error paths.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchkit import REPO, digits_suite
from curator.api import Verifier
from curator.api.registry import get_registry
from curator.benchmark.result import (
    BenchmarkResultError,
    check_result_schema,
    load_result,
    merge_results,
    write_result,
)
from curator.benchmark.runner import BenchmarkError, BenchOptions, load_suite, run_suite
from curator.cli import main
from methodkit import CertifyEverything, host_with

CI_SUITE = REPO / "bench" / "suites" / "shared-ci.json"
VNN = ("artifacts", "vnncomp2022-mnist_fc")
# MNIST test index behind each VNN-COMP mnist_fc property prop_0 … prop_14 (the vnnlib boxes are
# these images ± ε clipped to [0, 1]; found by matching the boxes against the test set).
PROP_INDEX = [762, 9534, 49, 8595, 8674, 9334, 1948, 6146, 9192, 6851, 7759, 5685, 6112, 8919, 6354]


def cells(result, model, kind=None, label=None, radius_text=None):
    return [c for c in result["cells"] if c["model"] == model and (kind is None or c["method"]["kind"] == kind)
            and (label is None or c["method"]["label"] == label)
            and (radius_text is None or c["radius_text"] == radius_text)]


def certified_correct(cell):
    s = cell["samples"]
    return {i for i, st, p, y in zip(s["index"], s["status"], s["predicted"], s["label"], strict=True) if st == "certified" and p == y}


# --------------------------------------------------------------------------- the shipped CI suite


@pytest.fixture(scope="module")
def ci_result(shared, tmp_path_factory):
    """shared-ci in two shards (in process), merged and rendered through the CLI."""
    tmp = tmp_path_factory.mktemp("bench")
    paths = []
    for i in range(2):
        r = run_suite(CI_SUITE, BenchOptions(shard=(i, 2), shared=shared, progress=False, cache_dir=tmp / "cache"))
        p = tmp / f"shard{i}.json"
        write_result(p, r)
        paths.append(p)
    runner = CliRunner()
    merged_path = tmp / "merged.json"
    out = runner.invoke(main, ["benchmark", "merge", *map(str, paths), "--out", str(merged_path), "--format", "json"])
    assert out.exit_code == 0, out.output
    rendered = runner.invoke(main, ["benchmark", "render", str(merged_path), "--out", str(tmp / "page")])
    assert rendered.exit_code == 0, rendered.output
    return load_result(merged_path), [load_result(p) for p in paths], tmp


def test_merged_result_is_complete_and_recomputed(ci_result, shared):
    merged, shards, _ = ci_result
    check_result_schema(merged)
    # the suite's text as written: results carry no path of the machine that ran them
    assert str(shared) not in json.dumps([merged["suite"], merged["models"]])
    assert merged["models"][0]["model"]["url"].startswith("file://${CURATOR_SHARED}/")
    assert merged["shard"]["merged_from"] == [0, 1]
    for c in merged["cells"]:
        parts = [next(x for x in s["cells"] if (x["model"], x["radius_text"], x["method"]["label"]) ==
                      (c["model"], c["radius_text"], c["method"]["label"])) for s in shards]
        assert c["summary"]["n"] == sum(p["summary"]["n"] for p in parts)
        assert c["summary"]["successes"] == sum(p["summary"]["successes"] for p in parts)
    wk = cells(merged, "wong-kolter-2018", kind="clean")[0]
    assert wk["summary"]["n"] == 6 and len(set(wk["samples"]["index"])) == 6


def test_crown_certifies_far_more_than_ibp_on_wong_kolter(ci_result):
    merged, _, _ = ci_result
    crown = cells(merged, "wong-kolter-2018", label="crown", radius_text="0.1")[0]
    ibp = cells(merged, "wong-kolter-2018", label="ibp", radius_text="0.1")[0]
    assert crown["summary"]["accuracy"]["value"] >= ibp["summary"]["accuracy"]["value"] + 50
    assert certified_correct(ibp) <= certified_correct(crown)


def test_attack_bounds_every_verifier(ci_result):
    merged, _, _ = ci_result
    for attack in [c for c in merged["cells"] if c["method"]["kind"] == "attack"]:
        broken = {i for i, st in zip(attack["samples"]["index"], attack["samples"]["status"], strict=True)
                  if st in ("broken", "misclassified")}
        for v in cells(merged, attack["model"], kind="verifier", radius_text=attack["radius_text"]):
            assert attack["summary"]["accuracy"]["value"] >= v["summary"]["accuracy"]["value"]
            assert not (certified_correct(v) & broken), (v["model"], v["method"]["label"], attack["radius_text"])
    assert merged["soundness"] == []


def test_no_verifier_certifies_a_sat_instance_of_mnist_fc(ci_result, shared):
    merged, _, _ = ci_result
    base = shared.joinpath(*VNN)
    truth = {r["instance"]: r["true_result"] for r in csv.DictReader(open(base / "true_results.csv"))}
    checked_sat = 0
    for c in merged["cells"]:
        if not c["model"].startswith("mnist-net-") or c["method"]["kind"] != "verifier":
            continue
        net = c["model"].removeprefix("mnist-net-")
        for i in c["samples"]["index"]:
            answer = truth[f"mnist-net_{net}-prop_{PROP_INDEX.index(i)}_{c['radius_text']}"]
            if answer == "sat":
                checked_sat += 1
                assert i not in certified_correct(c), (c["model"], c["method"]["label"], i, c["radius_text"])
    assert checked_sat >= 10  # the suite's images include sat instances on every net
    # and milp proves some instances that are unsat: the complete method does its job
    milp = cells(merged, "mnist-net-256x2", label="milp", radius_text="0.03")[0]
    assert certified_correct(milp)


def test_certified_radius_is_sound_under_attack(ci_result):
    """No adversarial example inside any sample's certified radius: a stronger PGD than the
    suite's (100 steps, 5 restarts) at exactly each bisection radius."""
    from curator.api import VerifyTask
    from curator.benchmark.runner import model_url
    from curator.verify.artifacts import fetch
    from curator.verify.models import load_model

    merged, _, tmp = ci_result
    rows = [r for r in merged["radius"] if r["search"]["kind"] == "bisection"]
    assert {r["method"]["label"] for r in rows} == {"ibp", "crown"}
    reg = get_registry()
    suite = json.loads(CI_SUITE.read_text())
    spec = next(m for m in suite["models"] if m["id"] == "mnist-net-256x2")
    block = dict(spec["model"])
    shared = str(REPO.parent / "shared")
    block["url"] = model_url(block["url"].replace("${CURATOR_SHARED}", shared))
    model = load_model(block, fetch(block["url"], block["sha256"], tmp / "cache", progress=False), reg)
    split = reg.dataset("mnist").load(Path(shared) / "artifacts" / "mnist", tmp / "cache", progress=False)
    pgd = reg.verifier("pgd")
    positive = 0
    for r in rows:
        s = r["samples"]
        crown_or_ibp = r["method"]["label"]
        for i, rad in zip(s["index"], s["radius"], strict=True):
            if not rad:
                continue
            positive += 1
            x, y = split.take([i])
            task = VerifyTask(model=model, inputs=x, labels=y, indices=[i], norm="linf", radius=rad,
                              params={"steps": 100, "restarts": 5}, num_classes=10)
            assert pgd.verify(task)[0].status == "not_broken", (crown_or_ibp, i, rad)
        assert r["summary"]["average_radius"] == pytest.approx(sum(s["radius"]) / len(s["radius"]), abs=1e-7)
    assert positive >= 2
    crown = next(r for r in rows if r["method"]["label"] == "crown")
    ibp = next(r for r in rows if r["method"]["label"] == "ibp")
    assert crown["summary"]["average_radius"] >= ibp["summary"]["average_radius"]


def test_rendered_page_has_tables_bold_and_plots(ci_result):
    merged, _, tmp = ci_result
    text = (tmp / "page" / "README.md").read_text()
    assert "**linf ε = 0.1**" in text and "| crown | **100%** |" in text
    assert "*pgd upper bound*" in text and "*clean accuracy*" in text
    svgs = sorted((tmp / "page" / "plots").glob("*.svg"))
    assert len(svgs) == 4 and all(p.read_text().startswith("<?xml") for p in svgs)
    # deterministic: rendering again changes nothing
    from curator.benchmark.render import write_markdown

    assert write_markdown([merged], tmp / "page", check=True) == []


def test_render_and_site_pick_up_store_results(ci_result, tmp_path):
    merged, _, _ = ci_result
    store = tmp_path / "leaderboard"
    (store / "entries").mkdir(parents=True)
    (store / "benchmark").mkdir()
    write_result(store / "benchmark" / "shared-ci.json", merged)
    runner = CliRunner()
    out = runner.invoke(main, ["render", "--store", str(store)])
    assert out.exit_code == 0, out.output
    assert (store / "benchmark" / "README.md").is_file()
    assert runner.invoke(main, ["render", "--store", str(store), "--check"]).exit_code == 0
    (store / "benchmark" / "README.md").write_text("stale\n")
    assert runner.invoke(main, ["render", "--store", str(store), "--check"]).exit_code == 1
    site = runner.invoke(main, ["site", "--store", str(store), "--out", str(tmp_path / "site")])
    assert site.exit_code == 0, site.output
    html = (tmp_path / "site" / "benchmark.html").read_text()
    assert "<strong>100%</strong>" in html and "plots/benchmark-shared-ci-wong-kolter-2018.svg" in html
    assert (tmp_path / "site" / "plots" / "benchmark-shared-ci-wong-kolter-2018.svg").is_file()
    assert 'href="benchmark.html"' in (tmp_path / "site" / "index.html").read_text()


def test_merge_refuses_incomplete_or_mixed_runs(ci_result):
    _, shards, _ = ci_result
    with pytest.raises(BenchmarkResultError, match="missing shard"):
        merge_results([shards[0]])
    with pytest.raises(BenchmarkResultError, match="given twice"):
        merge_results([shards[0], shards[0]])
    other = copy.deepcopy(shards[1])
    other["shard"]["run_id"] = "0" * 16
    with pytest.raises(BenchmarkResultError, match="another run"):
        merge_results([shards[0], other])


# --------------------------------------------------------------------------- small suites, no shared material


def test_unsound_verifier_is_flagged(tmp_path):
    host = host_with(CertifyEverything(), name="broken")
    path = digits_suite(tmp_path, verifiers=[{"name": "crown"}, {"name": "certify-everything"}])
    suite = json.loads(path.read_text())
    suite["models"] = suite["models"][:1]
    suite["models"][0]["epsilons"] = ["0.3"]
    del suite["models"][0]["verifiers"]
    suite["radius_search"]["verifiers"] = ["certify-everything"]
    path.write_text(json.dumps(suite))
    r = run_suite(path, BenchOptions(progress=False, cache_dir=tmp_path / "cache"), host=host)
    check_result_schema(r)
    flagged = {(f["verifier"], f["evidence"]) for f in r["soundness"]}
    assert ("certify-everything", "pgd") in flagged
    assert ("certify-everything", "pgd at the certified radius") in flagged
    assert not any(v == "crown" for v, _ in flagged)
    # the CLI exits 1 on soundness flags
    runner = CliRunner()
    # (the CLI uses the process-wide host, which does not know the broken verifier: run a clean suite)
    ok = runner.invoke(main, ["benchmark", str(digits_suite(tmp_path)), "--quiet", "--cache-dir",
                              str(tmp_path / "cache"), "--out", str(tmp_path / "res"), "--format", "json",
                              "--model", "digits-mlp", "--verifier", "crown"])
    assert ok.exit_code == 0, ok.output
    written = load_result(tmp_path / "res" / "digits-small.json")
    assert json.loads(ok.output)["totals"] == written["totals"]
    assert {c["model"] for c in written["cells"]} == {"digits-mlp"}
    assert {c["method"]["label"] for c in written["cells"] if c["method"]["kind"] == "verifier"} == {"crown"}
    assert written["suite"]["only"] == {"models": ["digits-mlp"], "verifiers": ["crown"]}
    bad = runner.invoke(main, ["benchmark", str(tmp_path / "suite.json"), "--model", "nope", "--quiet"])
    assert bad.exit_code == 1 and "no model 'nope'" in bad.output


def test_bisection_radius_is_a_certified_radius(tmp_path):
    r = run_suite(digits_suite(tmp_path), BenchOptions(progress=False, cache_dir=tmp_path / "cache"))
    reg = get_registry()
    crown = reg.verifier("crown")
    from curator.api import VerifyTask
    from curator.verify.artifacts import fetch
    from curator.verify.models import load_model

    spec = json.loads((tmp_path / "suite.json").read_text())["models"][0]["model"]
    model = load_model(spec, fetch((tmp_path / "digits-mlp.safetensors").as_uri(), spec["sha256"], tmp_path / "cache",
                                   progress=False), reg)
    split = reg.dataset("digits").load(None, tmp_path / "cache", progress=False)
    row = next(x for x in r["radius"] if x["method"]["label"] == "crown")
    assert row["search"]["kind"] == "bisection" and row["search"]["high"] == 0.5
    for i, rad, its in zip(row["samples"]["index"], row["samples"]["radius"], row["samples"]["iterations"], strict=True):
        assert its <= 6
        if rad > 0:  # re-certify at exactly the reported radius
            x, y = split.take([i])
            res = crown.verify(VerifyTask(model=model, inputs=x, labels=y, indices=[i], norm="linf", radius=rad,
                                          params={}, num_classes=10))[0]
            assert res.status == "certified" and res.predicted == int(y[0])
    assert r["soundness"] == []
    # smoothing reports its own radius (l2 model): certified samples carry σ·Φ⁻¹(p_lower) > 0
    smooth = next(x for x in r["radius"] if x["method"]["label"] == "smoothing")
    assert smooth["search"]["kind"] == "direct" and smooth["model"] == "digits-mlp-l2"
    cell = next(c for c in r["cells"] if c["method"]["label"] == "smoothing" and c["radius_text"] == "0.1")
    for st, _p, _y, rad in zip(cell["samples"]["status"], cell["samples"]["predicted"], cell["samples"]["label"],
                             smooth["samples"]["radius"], strict=True):
        if st == "certified":  # certified at ε = 0.1 means a radius of at least 0.1
            assert rad >= 0.1 - 1e-9
        elif st in ("abstain", "timeout", "error"):
            assert rad == 0
    assert any(rad > 0 for rad in smooth["samples"]["radius"])
    assert any("smoothed classifier" in n for n in r["notes"])


def test_suite_errors_name_file_and_pointer(tmp_path, monkeypatch):
    reg = get_registry()
    monkeypatch.delenv("CURATOR_SHARED", raising=False)
    bad = digits_suite(tmp_path, "bad.json", time_limit=-1)
    with pytest.raises(BenchmarkError, match=r"bad.json: /time_limit"):
        load_suite(bad, reg)
    unknown = digits_suite(tmp_path, verifiers=[{"name": "no-such-verifier"}])
    with pytest.raises(BenchmarkError, match="not installed"):
        load_suite(unknown, reg)
    params = digits_suite(tmp_path, verifiers=[{"name": "crown", "params": {"intermediate": "magic"}}])
    with pytest.raises(BenchmarkError, match="params of crown"):
        load_suite(params, reg)
    shared = digits_suite(tmp_path, dataset={"name": "mnist", "data_dir": "${CURATOR_SHARED}/artifacts/mnist"})
    with pytest.raises(BenchmarkError, match=r"suite.json: /dataset/data_dir: \$\{CURATOR_SHARED\}.*--shared"):
        load_suite(shared, reg)
    assert load_suite(shared, reg, shared=Path("/x")).data["dataset"]["data_dir"] == "/x/artifacts/mnist"
    # A relative --shared (as the docs write it, ../shared) must become absolute: it ends up in file:// URLs.
    monkeypatch.chdir(tmp_path)
    expected = str((tmp_path.parent / "shared").resolve()) + "/artifacts/mnist"
    assert load_suite(shared, reg, shared=Path("../shared")).data["dataset"]["data_dir"] == expected
    typo = digits_suite(tmp_path, dataset={"name": "mnist", "data_dir": "${SHARED}/mnist"})
    with pytest.raises(BenchmarkError, match="unknown variable"):
        load_suite(typo, reg)
    runner = CliRunner()
    out = runner.invoke(main, ["benchmark", str(bad)])
    assert out.exit_code == 1 and "/time_limit" in out.output
    assert runner.invoke(main, ["benchmark", str(tmp_path / "missing.json")]).exit_code == 2


def test_a_suite_takes_no_attack_as_verifier_nor_verifier_as_attack(tmp_path):
    reg = get_registry()
    with pytest.raises(BenchmarkError, match=r"/verifiers/0: pgd is an attack; it certifies nothing"):
        load_suite(digits_suite(tmp_path, verifiers=[{"name": "pgd"}]), reg)
    with pytest.raises(BenchmarkError, match=r"/attack: crown is a verifier, not an attack"):
        load_suite(digits_suite(tmp_path, attack={"name": "crown"}), reg)


def test_shipped_suites_are_valid():
    reg = get_registry()
    for name in ("shared-ci.json", "shared-full.json"):
        suite = load_suite(REPO / "bench" / "suites" / name, reg, shared=Path("/shared"))
        assert suite.data["models"][0]["model"]["url"].startswith("file:///shared/")


class OneRadiusAtATime(Verifier):
    """crown as a verifier that does not declare ``per_sample_radius``: it must never see mixed radii."""
    name = "crown-one-radius"
    version = "0.0.1"

    def verify(self, task):
        assert task.radii is None
        return get_registry().verifier("crown").verify(task)


def test_batched_bisection_matches_one_sample_at_a_time(tmp_path):
    from curator.benchmark.runner import Ctx, search_radii, search_radius
    from curator.verify.artifacts import fetch
    from curator.verify.models import load_model

    reg = get_registry()
    digits_suite(tmp_path)
    spec = json.loads((tmp_path / "suite.json").read_text())["models"][0]["model"]
    model = load_model(spec, fetch((tmp_path / "digits-mlp.safetensors").as_uri(), spec["sha256"], tmp_path / "cache",
                                   progress=False), reg)
    split = reg.dataset("digits").load(None, tmp_path / "cache", progress=False)
    indices = list(range(12))
    x, y = split.take(indices)
    ctx = Ctx(model=model, x=x, y=y, indices=indices, norm="linf", num_classes=10, device="cpu", seed=0,
              time_limit=5.0, batch_size=5, notes=[])
    rows = [r for r in range(12) if int(model(x[r:r + 1]).argmax(1)) == int(y[r])]
    proven = [0.0] * len(rows)
    refuted = [0.05 if k % 2 else None for k in range(len(rows))]  # some rows warmed up by a grid ε
    args = (0.0, 0.5, 0.002, 10, 60.0)
    crown = reg.verifier("crown")
    done = []
    batched = search_radii(crown, {}, ctx, rows, *args, proven, refuted, on_done=done.append)
    alone = [search_radius(crown, {}, ctx, row, *args, p, r) for row, p, r in zip(rows, proven, refuted, strict=True)]
    grouped = search_radii(OneRadiusAtATime(), {}, ctx, rows, *args, proven, refuted)
    assert sum(done) == len(rows)
    assert [(b[0], b[1]) for b in batched] == [(a[0], a[1]) for a in alone] == [(g[0], g[1]) for g in grouped]
    assert any(b[0] > 0 for b in batched) and all(b[1] > 0 for b in batched)
    assert all(b[0] < 0.05 for b, r in zip(batched, refuted, strict=True) if r is not None)
    assert ctx.notes == []


def test_text_summary_names_shards_and_merges(ci_result):
    from curator.cli.benchmark_cmd import text_summary

    merged, shards, _ = ci_result
    assert "(2 shards merged)" in text_summary(merged, None).splitlines()[0]
    assert "(shard 2/2)" in text_summary(shards[1], None).splitlines()[0]
