"""A fixed public seed: smoothing noise drawn from seed 0 would let a model be trained on curator's own
noise draws. Each run draws a fresh seed, records it, and can be replayed with it; the shards of one run
share the one seed `ci plan` picks."""

from __future__ import annotations

import pytest

from curator.verify.pipeline import VerifyError, VerifyOptions, verify_entry
from trustkit import example, set_path, write_claim

FAST = {"certification__params__n": 500, "certification__params__n0": 20}


def _verify(path, tmp, **kw):
    return verify_entry(path, VerifyOptions(cache_dir=tmp / "cache", progress=False, device="cpu", samples=3, **kw))


def test_each_run_draws_a_fresh_seed_and_the_report_replays_it(tmp_path):
    path = write_claim(tmp_path / "claim", set_path(example(), **FAST))
    first, second = _verify(path, tmp_path), _verify(path, tmp_path)
    assert first["seed"] != second["seed"] and first["seed"] != 0
    replay = _verify(path, tmp_path, seed=first["seed"])
    assert replay["seed"] == first["seed"]
    assert replay["samples"] == {**first["samples"], "seconds": replay["samples"]["seconds"]}


def test_a_sharded_run_needs_its_seed_given(tmp_path):
    path = write_claim(tmp_path / "claim", set_path(example(), **FAST))
    with pytest.raises(VerifyError, match="share a seed"):
        _verify(path, tmp_path, shard=(0, 2))


def test_ci_plan_picks_one_fresh_seed_per_run_for_all_its_shards(tmp_path):
    from curator.ci.commands import verify_argv
    from curator.ci.shards import reverify_matrix

    claims = tmp_path / "claims" / "submissions"
    claims.mkdir(parents=True)
    for name in ("alpha-claim", "beta-claim"):
        (claims / f"{name}.json").write_text("{}")
    one, two = reverify_matrix(tmp_path / "claims", 3), reverify_matrix(tmp_path / "claims", 3)
    for matrix in (one, two):
        seeds = {}
        for cell in matrix["include"]:
            assert seeds.setdefault(cell["id"], cell["seed"]) == cell["seed"]
        assert len(seeds) == 2
    assert [c["seed"] for c in one["include"]] != [c["seed"] for c in two["include"]]
    argv = verify_argv("claims/submissions/alpha-claim.json", "1/3", "out.json", seed=one["include"][0]["seed"])
    assert argv[argv.index("--seed") + 1] == str(one["include"][0]["seed"])
