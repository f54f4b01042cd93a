import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curator.core.errors import CuratorError, UsageError
from curator.core.sampling import indices_sha256, parse_shard, select_indices, shard


def test_every_kth_is_cohen_protocol():
    idx = select_indices({"kind": "every_kth", "k": 20}, 10000)
    assert len(idx) == 500 and idx[:3] == [0, 20, 40] and idx[-1] == 9980
    assert select_indices({"kind": "every_kth", "k": 100, "offset": 5}, 1000) == list(range(5, 1000, 100))


def test_kinds():
    assert select_indices(None, 5) == [0, 1, 2, 3, 4]
    assert select_indices({"kind": "all"}, 3) == [0, 1, 2]
    assert select_indices({"kind": "first", "n": 3}, 10) == [0, 1, 2]
    assert select_indices({"kind": "evenly_spaced", "n": 4}, 10) == [0, 2, 5, 7]
    assert select_indices({"kind": "every_kth", "k": 20}, 10000, n=3) == [0, 20, 40]


@pytest.mark.parametrize(
    "sel,total",
    [
        ({"kind": "first", "n": 11}, 10),
        ({"kind": "evenly_spaced", "n": 11}, 10),
        ({"kind": "every_kth"}, 10),
        ({"kind": "every_kth", "k": 0}, 10),
        ({"kind": "every_kth", "k": 2, "offset": 10}, 10),
        ({"kind": "random"}, 10),
    ],
)
def test_bad_selection(sel, total):
    with pytest.raises(CuratorError):
        select_indices(sel, total)


def test_indices_sha256_is_comma_joined_decimals():
    assert indices_sha256([0, 20, 40]) == hashlib.sha256(b"0,20,40").hexdigest()
    assert indices_sha256([]) == hashlib.sha256(b"").hexdigest()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 50))
def test_evenly_spaced_distinct_sorted_in_range(total, n):
    n = min(n, total)
    idx = select_indices({"kind": "evenly_spaced", "n": n}, total)
    assert len(idx) == n == len(set(idx)) and idx == sorted(idx) and idx[0] == 0 and idx[-1] < total


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**6), max_size=300), st.integers(1, 40))
def test_shards_partition_exactly(indices, n):
    parts = [shard(indices, i, n) for i in range(n)]
    assert sum(parts, []) == indices
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_shard_and_parse_errors():
    with pytest.raises(CuratorError):
        shard([1, 2], 2, 2)
    with pytest.raises(CuratorError):
        shard([1, 2], 0, 0)
    assert parse_shard("1/4") == (0, 4) and parse_shard("4/4") == (3, 4)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(CuratorError):
            parse_shard(bad)


@pytest.mark.parametrize("text,parsed", [("1/1", (0, 1)), ("1/4", (0, 4)), ("4/4", (3, 4)), ("10/12", (9, 12))])
def test_parse_shard_takes_1_based_text_and_gives_0_based_index(text, parsed):
    assert parse_shard(text) == parsed


@pytest.mark.parametrize("bad", ["0/4", "5/4", "1/0", "01/4", "+1/4", " 1/4", "1/4 ", "-1/4", "1", "1/2/3", "", "a/b"])
def test_parse_shard_refuses_anything_else_as_a_usage_error(bad):
    with pytest.raises(UsageError, match="1-based"):
        parse_shard(bad)


def test_shards_of_one_run_orders_and_refuses():
    from curator.core.sampling import merged_shard, shards_of_one_run, sum_timings

    def doc(i, n=3, run="r", seed=0, **shard):
        return {"shard": {"index": i, "count": n, "run_id": run, **shard}, "seed": seed, "timings": {"total": 1.5}}

    a, b, c = doc(0), doc(1), doc(2)
    ordered, count = shards_of_one_run([c, a, b], ["c", "a", "b"], ("seed",), CuratorError)
    assert ordered == [a, b, c] and count == 3
    ab = {**doc(0), "shard": merged_shard(a, 3) | {"merged_from": [0, 1]}}
    assert shards_of_one_run([c, ab], ["c", "ab"], ("seed",), CuratorError)[0] == [ab, c]
    assert sum_timings([a, b, c]) == {"total": 4.5}
    for docs, message in (([a, b], "missing shard"), ([a, b, b, c], "given twice"), ([ab, b, c], "given twice"),
                          ([a, doc(1, run="s"), c], "another run"), ([a, doc(1, seed=1), c], "differ in 'seed'"),
                          ([a, b, c, doc(3)], "outside")):
        with pytest.raises(CuratorError, match=message):
            shards_of_one_run(docs, [f"d{i}" for i in range(len(docs))], ("seed",), CuratorError)


# --------------------------------------------------------------------------- explicit indices


def test_indices_kind_is_exactly_the_list():
    assert select_indices({"kind": "indices", "indices": [3, 7, 9]}, 10) == [3, 7, 9]
    assert select_indices({"kind": "indices", "indices": [3, 7, 9]}, 10, n=2) == [3, 7]


@pytest.mark.parametrize("indices,fragment", [([3, 3], "strictly increasing"), ([5, 2], "strictly increasing"),
                                              ([10], "past the end"), ([-1], "non-negative"), ([], "non-empty")])
def test_bad_index_lists(indices, fragment):
    with pytest.raises(CuratorError, match=fragment):
        select_indices({"kind": "indices", "indices": indices}, 10)


def _indices_file(folder, text):
    path = folder / "sel.txt"
    path.write_text(text)
    return {"kind": "indices_file", "path": "sel.txt", "sha256": hashlib.sha256(text.encode()).hexdigest()}


@pytest.mark.parametrize("text", ["[1, 4, 8]", "1\n4\n8\n", "1,4,8"])
def test_indices_file_formats_and_hash(tmp_path, text):
    from curator.core.sampling import claim_indices_sha256

    sel = _indices_file(tmp_path, text)
    assert select_indices(sel, 10, base_dir=tmp_path) == [1, 4, 8]
    assert claim_indices_sha256(sel, 10, tmp_path) == indices_sha256([1, 4, 8])


def test_indices_file_is_pinned_and_stays_in_its_folder(tmp_path):
    sel = _indices_file(tmp_path, "[1, 2]")
    (tmp_path / "sel.txt").write_text("[1, 3]")
    with pytest.raises(CuratorError, match="does not match"):
        select_indices(sel, 10, base_dir=tmp_path)
    inner = tmp_path / "entry"
    inner.mkdir()
    with pytest.raises(CuratorError, match="outside the entry's folder"):
        select_indices({**sel, "path": "../sel.txt"}, 10, base_dir=inner)
    with pytest.raises(CuratorError, match="entry's folder"):
        select_indices(sel, 10)
