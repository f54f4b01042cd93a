"""Hardening: ``merge-reports`` refuses broken shard sets, never produces a wrong number.

Real shard reports from ``curator verify`` (the digits smoothing example, 3 shards) are damaged the
ways a CI run damages them: a shard that died mid-run (JSON cut off; or a report that holds only
the samples done before the crash, numbers recomputed so it is schema-valid), a missing shard, a
shard given twice (same file, a renamed copy), shards from two runs (another seed, another sample
count), an out-of-range shard index. Each is refused with exit 1 and no output file; the intact
set merges to exactly the unsharded run (the control). tests/verify/test_pipeline.py covers the basic
given-twice/missing/other-run/overlap refusals at the library level.
"""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
from click.testing import CliRunner

from curator.cli import main
from curator.verify.pipeline import verify_entry
from curator.verify.report import ReportError, merge_reports, summarize
from verifykit import copy_example, opts

SAMPLES, SHARDS = 9, 3
FAST = {"result__sample_selection": {"kind": "evenly_spaced", "n": 120},
        "certification__params": {"sigma": 0.25, "n0": 50, "n": 2000, "alpha": 0.001, "batch_size": 2000,
                                  "mode": "certify"}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("merge")
    entry = copy_example(tmp, **FAST)
    whole = verify_entry(entry, opts(tmp, samples=SAMPLES))
    shards = [verify_entry(entry, opts(tmp, samples=SAMPLES, shard=(i, SHARDS))) for i in range(SHARDS)]
    other_seed = verify_entry(entry, opts(tmp, samples=SAMPLES, shard=(1, SHARDS), seed=7))
    other_count = verify_entry(entry, opts(tmp, samples=SAMPLES + 3, shard=(1, SHARDS)))
    return {"whole": whole, "shards": shards, "other_seed": other_seed, "other_count": other_count}


def _cli(tmp_path, docs_or_texts):
    paths = []
    for i, d in enumerate(docs_or_texts):
        p = tmp_path / f"shard-{i}.json"
        p.write_text(d if isinstance(d, str) else json.dumps(d))
        paths.append(p)
    out = tmp_path / "merged.json"
    result = CliRunner().invoke(main, ["merge-reports", *map(str, paths), "--out", str(out), "--format", "json"])
    return result, out


def test_intact_shards_merge_to_the_unsharded_run(run, tmp_path):
    result, out = _cli(tmp_path, run["shards"])
    merged = json.loads(out.read_text())
    assert result.exit_code in (0, 1) and out.exists()
    for key in ("totals", "certified_accuracy", "verdict"):
        assert merged[key] == run["whole"][key], key
    assert merged["samples"]["index"] == run["whole"]["samples"]["index"]


def _died_mid_run(shard, keep: int):
    """What a shard that crashed after ``keep`` samples would hold, made schema-valid."""
    r = copy.deepcopy(shard)
    for k in ("index", "label", "predicted", "status", "radius", "seconds"):
        r["samples"][k] = r["samples"][k][:keep]
    for k in list(r["samples"].get("extra", {})):
        r["samples"]["extra"][k] = r["samples"]["extra"][k][:keep]
    return summarize(r)


def _cases(run):
    a, b, c = run["shards"]
    cut = json.dumps(b)
    return {
        "truncated-json": ([a, cut[: len(cut) // 2], c], "malformed JSON|not a report|Expecting|Unterminated"),
        "empty-file": ([a, "", c], "malformed JSON|Expecting"),
        "died-mid-run": ([a, _died_mid_run(b, 1), c], "not the run's selection"),
        "died-before-any-sample": ([a, _died_mid_run(b, 0), c], "not the run's selection|schema|minItems|samples"),
        "missing-shard": ([a, c], "missing shard"),
        "same-shard-twice": ([a, b, b, c], "given twice"),
        "duplicate-instead-of-other": ([a, b, b], "given twice"),
        "other-seed": ([a, run["other_seed"], c], "another run|differ"),
        "other-sample-count": ([a, run["other_count"], c], "another run|differ"),
        "index-out-of-range": ([a, dict(copy.deepcopy(b), shard={**b["shard"], "index": 5}), c],
                               "missing shard|outside|selection"),
    }


CASES = ["truncated-json", "empty-file", "died-mid-run", "died-before-any-sample", "missing-shard", "same-shard-twice",
         "duplicate-instead-of-other", "other-seed", "other-sample-count", "index-out-of-range"]


@pytest.mark.parametrize("case", CASES)
def test_broken_shard_sets_are_refused_with_no_output(run, tmp_path, case):
    docs, expect = _cases(run)[case]
    result, out = _cli(tmp_path, docs)
    assert result.exit_code == 1, (case, result.output)
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) <= 3, result.stderr
    assert re.search(expect, result.stderr), result.stderr
    assert not out.exists()


def test_library_refuses_a_shard_whose_samples_were_dropped(run):
    a, b, c = run["shards"]
    with pytest.raises(ReportError, match="selection"):
        merge_reports([a, _died_mid_run(b, 2), c])
    # a whole merged report merged again with a shard: refused as given twice
    merged = merge_reports([a, b, c])
    with pytest.raises(ReportError, match="given twice"):
        merge_reports([merged, a])


def test_copied_file_under_another_name_is_still_a_duplicate(run, tmp_path):
    a, b, c = run["shards"]
    pa = tmp_path / "a.json"
    pa.write_text(json.dumps(b))
    shutil.copy(pa, tmp_path / "renamed.json")
    docs = [a, json.loads((tmp_path / "renamed.json").read_text()), b, c]
    with pytest.raises(ReportError, match="given twice"):
        merge_reports(docs)
