"""`curator scrape` and `curator new`, run as commands against the local stand-in services."""

from __future__ import annotations

import json
import types

import pytest
from click.testing import CliRunner

from curator.api import SampleResult, Verifier, hookimpl
from curator.api.registry import get_host
from curator.cli import main
from curator.core.schemas import ENTRY_SCHEMA_ID, validate
from scrape_support import serve_all, services  # noqa: F401  (fixture)


class _ToyIBP(Verifier):
    """A registered verifier for `curator new` to name (the real ones live in other plugins)."""

    name = "toy-ibp"
    version = "1"
    certification = "deterministic"
    params_schema = {"type": "object", "additionalProperties": False, "properties": {"eps_steps": {"type": "integer", "minimum": 1}}}

    def verify(self, task):  # pragma: no cover - never run here
        return [SampleResult(i, 0, 0, "error", 0.0) for i in task.indices]


@pytest.fixture
def cli(services):
    serve_all(services)
    host = get_host(reload=True)
    plugin = types.SimpleNamespace(register_verifiers=hookimpl(lambda register: register(_ToyIBP())))
    plugin.register_verifiers.__name__ = "register_verifiers"
    host.add_plugin(plugin, "toy-verifiers")
    yield CliRunner()
    get_host(reload=True)


def test_scrape_text_names_the_scraper(cli):
    res = cli.invoke(main, ["scrape", "https://arxiv.org/abs/2210.04871v3"])
    assert res.exit_code == 0, res.output
    assert "answered by: arxiv" in res.output
    assert "title:     Certified Training: Small Boxes are All You Need" in res.output


def test_scrape_json_and_published_link(cli):
    res = cli.invoke(main, ["scrape", "arxiv:2210.04871", "--published", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["scraper"] == "arxiv+published"
    assert doc["paper"]["arxiv"] == "2210.04871" and doc["paper"]["venue"] == "ICLR" and doc["paper"]["year"] == 2023


def test_scrape_title_goes_to_dblp(cli):
    res = cli.invoke(main, ["scrape", "Certified Training: Small Boxes are All You Need", "--format", "json"])
    doc = json.loads(res.stdout)
    assert doc["scraper"] == "dblp" and doc["record"]["venue"] == "ICLR"


def test_scrape_offline_miss_then_hit(cli):
    res = cli.invoke(main, ["scrape", "openreview:mzyZ4wzKlM", "--offline"])
    assert res.exit_code == 1
    assert res.stderr.startswith("error: openreview: offline and no cached response")
    assert res.stderr.count("\n") == 1
    assert cli.invoke(main, ["scrape", "openreview:mzyZ4wzKlM"]).exit_code == 0
    res = cli.invoke(main, ["scrape", "openreview:mzyZ4wzKlM", "--offline", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["record"]["venue"] == "ICLR"


def test_scrape_not_found_is_one_line(cli):
    res = cli.invoke(main, ["scrape", "arxiv:2210.99999", "--scraper", "arxiv"])
    assert res.exit_code == 1
    assert res.stderr == "error: arxiv: incorrect id format for 2210.99999 (" + res.stderr.split("(", 1)[1]
    assert res.stderr.count("\n") == 1


def test_new_scaffolds_a_valid_entry(cli, tmp_path):
    out = tmp_path / "entry.json"
    res = cli.invoke(main, [
        "new", "--paper", "https://openreview.net/pdf?id=mzyZ4wzKlM", "--dataset", "mnist", "--norm", "linf",
        "--radius", "0.1", "--certified", "98.43", "--verifier", "toy-ibp", "--params", '{"eps_steps": 2}',
        "--submitter", "A. Researcher", "--out", str(out),
    ])
    assert res.exit_code == 0, res.output
    entry = json.loads(out.read_text())
    assert validate(entry, ENTRY_SCHEMA_ID) == []
    assert entry["id"] == "palma2024-mnist-linf-0-1"
    assert entry["status"] == "submitted"
    assert entry["paper"]["title"] == "Expressive Losses for Verified Robustness via Convex Combinations"
    assert entry["paper"]["venue"] == "ICLR" and entry["paper"]["openreview"] == "mzyZ4wzKlM"
    assert entry["setting"] == {"dataset": "mnist", "norm": "linf", "radius": 0.1, "radius_text": "0.1"}
    assert entry["result"] == {"certified_accuracy": 98.43}
    assert entry["certification"] == {"type": "deterministic", "verifier": "toy-ibp", "params": {"eps_steps": 2}}


def test_new_rejects_bad_params_and_unknown_verifier_without_writing(cli, tmp_path):
    out = tmp_path / "entry.json"
    base = ["new", "--paper", "arxiv:2210.04871", "--dataset", "cifar10", "--norm", "linf", "--radius", "8/255",
            "--certified", "34.0", "--out", str(out)]
    res = cli.invoke(main, base + ["--verifier", "toy-ibp", "--params", '{"eps_steps": 0}'])
    assert res.exit_code == 2 and "--params /eps_steps" in res.stderr
    res = cli.invoke(main, base + ["--verifier", "no-such-verifier"])
    assert res.exit_code == 1 and "unknown verifier 'no-such-verifier'" in res.stderr
    assert not out.exists()


def test_new_fails_cleanly_when_the_paper_is_unknown(cli, tmp_path):
    out = tmp_path / "entry.json"
    res = cli.invoke(main, ["new", "--paper", "openreview:NoSuchNote1", "--dataset", "mnist", "--norm", "linf",
                            "--radius", "0.1", "--certified", "90", "--verifier", "toy-ibp", "--out", str(out)])
    assert res.exit_code == 1 and res.stderr.startswith("error: openreview: no note with id NoSuchNote1")
    assert not out.exists()


def test_failure_modes_through_the_command_are_one_line_each(cli, services):
    services.clear()
    services.expect_request("/or2/notes").respond_with_data("slow down", status=429, headers={"Retry-After": "0"})
    services.expect_request("/crossref/works/10.1109/iccv.2019.00494").respond_with_data(
        '{"status":"ok","message":{"DOI":"10.1', content_type="application/json")
    services.expect_request("/arxiv/api/query").respond_with_data(
        "<feed xmlns='http://www.w3.org/2005/Atom'><entry>", content_type="application/atom+xml")
    cases = [
        (["scrape", "openreview:mzyZ4wzKlM"], "error: openreview: HTTP 429 TOO MANY REQUESTS after 3 attempts"),
        (["scrape", "doi:10.1109/ICCV.2019.00494", "--scraper", "doi"], "error: crossref: malformed JSON"),
        (["scrape", "arxiv:2210.04871", "--scraper", "arxiv"], "error: arxiv: malformed XML"),
    ]
    for args, start in cases:
        res = cli.invoke(main, args)
        assert res.exit_code == 1, res.output
        assert res.stderr.startswith(start), res.stderr
        assert res.stderr.count("\n") == 1
        assert "Traceback" not in res.output


def test_new_offline_on_a_fresh_clone_builds_the_paper_block_from_the_reference(cli, tmp_path):
    out = tmp_path / "entry.json"
    res = cli.invoke(main, ["new", "--paper", "arxiv:1711.00851", "--dataset", "mnist", "--norm", "linf", "--radius", "0.1",
                            "--certified", "94.18", "--verifier", "toy-ibp", "--offline", "--title", "Provable defenses",
                            "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "fill in paper.title, authors and year" in res.stderr
    entry = json.loads(out.read_text())
    assert validate(entry, ENTRY_SCHEMA_ID) == []
    assert entry["paper"]["url"] == "https://arxiv.org/abs/1711.00851" and entry["paper"]["title"] == "Provable defenses"
    assert entry["id"] == "1711-00851-mnist-linf-0-1"
    res = cli.invoke(main, ["new", "--paper", "Some Title Only", "--dataset", "mnist", "--norm", "linf", "--radius", "0.1",
                            "--certified", "94.18", "--verifier", "toy-ibp", "--offline"])
    assert res.exit_code == 2 and "titles are resolved online" in res.stderr
