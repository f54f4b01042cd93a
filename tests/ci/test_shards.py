"""curator.ci.shards: the re-verification matrix, shard names and their 1-based convention."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from curator.ci.shards import reverify_matrix, shard_report_name
from curator.cli import main
from curator.core.errors import UsageError
from curator.core.sampling import parse_shard, shard


def test_plan_is_claims_times_shards(tmp_path):
    (tmp_path / "submissions").mkdir()
    (tmp_path / "submissions" / "b.json").write_text("{}")
    (tmp_path / "submissions" / "a.json").write_text("{}")
    (tmp_path / "notes.json").write_text("{}")
    matrix = reverify_matrix(tmp_path, 2)["include"]
    assert [(m["id"], m["shard"]) for m in matrix] == [("a", "1/2"), ("a", "2/2"), ("b", "1/2"), ("b", "2/2")]
    result = CliRunner().invoke(main, ["ci", "plan", "--entries-dir", str(tmp_path), "--shards", "3"])
    assert result.exit_code == 0
    assert len(json.loads(result.output)["include"]) == 6


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1", "a/b", "1/0", "", "01/2", " 1/2", "+1/2"])
def test_bad_shards_are_usage_errors(bad, tmp_path):
    with pytest.raises(UsageError):
        shard_report_name("a", bad)
    entry = tmp_path / "submissions" / "a.json"
    entry.parent.mkdir(exist_ok=True)
    entry.write_text("{}")
    result = CliRunner().invoke(main, ["ci", "reverify-shard", "--entry", str(entry), "--shard", bad,
                                       "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--shard" in result.output


def test_the_matrix_shards_are_1_based_and_cover_the_samples_once(tmp_path):
    """What reverify.yml hands on: the matrix's ``shard`` goes to ``ci reverify-shard --shard`` and on
    to ``curator verify --shard``; its report is named with the same 1-based i."""
    (tmp_path / "submissions").mkdir()
    (tmp_path / "submissions" / "a.json").write_text("{}")
    matrix = reverify_matrix(tmp_path, 3)["include"]
    assert [(m["shard"], m["index"]) for m in matrix] == [("1/3", 1), ("2/3", 2), ("3/3", 3)]
    assert [shard_report_name("a", m["shard"]) for m in matrix] == [
        "a.shard-1-of-3.json", "a.shard-2-of-3.json", "a.shard-3-of-3.json"]
    assert shard_report_name("a", "2/3", smoke=True) == "a.smoke.shard-2-of-3.json"
    assert [parse_shard(m["shard"]) for m in matrix] == [(0, 3), (1, 3), (2, 3)]
    samples = list(range(10))
    assert sum((shard(samples, *parse_shard(m["shard"])) for m in matrix), []) == samples
