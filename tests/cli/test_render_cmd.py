"""``curator render [--check]``, ``curator show`` and ``curator demo`` through the CLI."""

import json
import shutil

from click.testing import CliRunner

from curator.cli import main


def run(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _store(repo, tmp_path):
    store = tmp_path / "lb"
    shutil.copytree(repo / "leaderboard", store)
    return store


def test_render_check_exit_codes(repo, tmp_path):
    store = _store(repo, tmp_path)
    assert run("render", "--store", str(store), "--check")[0] == 0
    readme = store / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("98.43", "99.99"), encoding="utf-8")
    code, out, _ = run("render", "--store", str(store), "--check", "--format", "json")
    assert code == 1 and json.loads(out)["state"] == "stale"
    code, out, _ = run("render", "--store", str(store))
    assert code == 0 and "written" in out
    assert readme.read_bytes() == (repo / "leaderboard" / "README.md").read_bytes()
    assert run("render", "--store", str(tmp_path / "none"))[0] == 2


def test_render_refuses_an_invalid_store(repo, tmp_path):
    store = _store(repo, tmp_path)
    victim = next((store / "entries").rglob("*.json"))
    victim.write_text("{}", encoding="utf-8")
    code, _, err = run("render", "--store", str(store))
    assert code == 1 and "invalid entries" in err and "required field is missing" in err


def test_show_cifar10_linf_8_255(repo):
    code, out, _ = run("show", "--store", str(repo / "leaderboard"), "--dataset", "cifar10", "--norm", "linf", "--radius", "8/255")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "CIFAR-10, ℓ∞, ε = 8/255"
    # the setting's coverage line (one row has public weights, the rest none)
    assert lines[1] == "0 of 13 rows re-verified (12 not re-verifiable, 1 pending)."
    assert lines[5].split()[:2] == ["1", "41.78"]
    assert len(lines) == 5 + 13


def test_show_matches_dataset_names_as_people_write_them(repo):
    outs = set()
    for name in ("cifar10", "CIFAR10", "CIFAR-10", "Cifar_10"):
        code, out, err = run("show", "--store", str(repo / "leaderboard"), "--dataset", name, "--norm", "LINF",
                             "--radius", "8/255")
        assert code == 0, (name, err)
        outs.add(out)
    assert len(outs) == 1
    code, out, _ = run("show", "--store", str(repo / "leaderboard"), "--dataset", "ImageNet 64x64", "--norm", "linf",
                       "--radius", "1/255")
    assert code == 0 and out.startswith("ImageNet 64x64, ℓ∞, ε = 1/255")


def test_show_json_and_errors(repo):
    code, out, _ = run("show", "--store", str(repo / "leaderboard"), "--dataset", "mnist", "--norm", "linf", "--radius", "0.1",
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["setting"]["radius_text"] == "0.1" and len(doc["rows"]) == 13
    assert doc["coverage"]["rows"] == 13 and doc["coverage"]["re-verified"] == 1
    # the legacy Wong & Kolter row and its re-verification on the full test set (crown, confirmed)
    wong = {r["id"]: r["reverification"] for r in doc["rows"] if r["certified_accuracy"] == 94.18}
    assert {k: v["state"] for k, v in wong.items()} == {
        "mnist-linf-0-1-provable-defenses-against-adversarial-examples": "superseded",
        "mnist-linf-0-1-wong-kolter-2018": "re-verified"}
    assert wong["mnist-linf-0-1-provable-defenses-against-adversarial-examples"]["superseded_by"] == \
        "mnist-linf-0-1-wong-kolter-2018"
    assert [r["rank"] for r in doc["rows"]][:6] == [1, 2, 3, 4, 4, 6]
    code, _, err = run("show", "--store", str(repo / "leaderboard"), "--dataset", "svhn", "--norm", "linf", "--radius", "0.1")
    assert code == 1 and "no entries for svhn" in err
    code, _, _ = run("show", "--store", str(repo / "leaderboard"), "--dataset", "mnist", "--norm", "linf", "--radius", "big")
    assert code == 2


def test_demo_on_the_bundled_board(repo, tmp_path):
    store = _store(repo, tmp_path)
    code, out, _ = run("demo", "--no-verify", "--store", str(store))
    assert code == 0, out
    n = len(list((repo / "leaderboard" / "entries").rglob("*.json")))
    assert f"{n} entries, 0 errors" in out and "current — OK" in out and "CIFAR-10, ℓ∞, ε = 8/255" in out
    (store / "README.md").write_text("stale\n", encoding="utf-8")
    assert run("demo", "--no-verify", "--store", str(store))[0] == 1


def test_demo_reimports_the_real_board(repo, shared, tmp_path):
    store = _store(repo, tmp_path)
    code, out, _ = run("demo", "--no-verify", "--store", str(store), "--board", str(shared / "data" / "sok" / "board.yml"))
    assert code == 0 and "identical to the bundled entries — OK" in out


def test_the_committed_store_validates_with_its_benchmark_results(repo):
    # leaderboard/benchmark/*.json are benchmark results, checked against their own schema
    code, out, err = run("validate", str(repo / "leaderboard"), "--format", "json")
    doc = json.loads(out)
    assert code == 0, out
    assert doc["reports"] >= 4 and len(list((repo / "leaderboard" / "benchmark").glob("*.json"))) >= 4
