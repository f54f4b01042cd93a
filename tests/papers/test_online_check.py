"""`check_online` and `curator validate --online` against the local stand-in services."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from curator.api.registry import get_host
from curator.cli import main
from curator.papers.http import HttpClient
from curator.papers.online_check import TITLE_SIMILARITY_THRESHOLD, check_online
from factories import make_entry, write_entry
from scrape_support import serve_all, services  # noqa: F401  (fixture)


@pytest.fixture
def online(services):
    serve_all(services)
    scrapers = get_host(reload=True).registry.all("scraper")
    return lambda entry: check_online(entry, "e.json", scrapers=scrapers, http=HttpClient())


def _paper(**kw):
    paper = dict(make_entry()["paper"])
    paper.update(kw)
    return make_entry(paper=paper)


def test_a_correct_entry_passes_even_with_the_venue_year(online):
    # arXiv says 2022 (first version), the entry says 2023 (ICLR): dblp's published record agrees.
    assert online(make_entry()) == []


def test_a_wrong_title_is_an_error_with_the_similarity(online):
    problems = online(_paper(title="Certified Training: Large Boxes are Not What You Need at All"))
    assert [p.pointer for p in problems] == ["/paper/title"]
    assert f"< {TITLE_SIMILARITY_THRESHOLD}" in problems[0].message and problems[0].severity == "error"


def test_title_spelling_variants_pass(online):
    assert online(_paper(title="certified training -- small boxes are all you need.")) == []


def test_a_wrong_year_and_wrong_authors(online):
    problems = online(_paper(year=2019, authors=["Mark Niklas Müller", "Someone Else"]))
    assert {p.pointer: p.severity for p in problems} == {"/paper/year": "error", "/paper/authors": "error"}
    assert "Someone Else" in [p for p in problems if p.pointer == "/paper/authors"][0].message


def test_missing_authors_is_a_warning(online):
    problems = online(_paper(authors=[]))
    assert [(p.pointer, p.severity) for p in problems] == [("/paper/authors", "warning")]


def test_openreview_entry_of_the_imported_board(online):
    entry = make_entry(paper={"title": "Boosting the certified robustness of L-infinity distance nets", "authors": [], "year": 2022,
                              "venue": "ICLR", "url": "https://openreview.net/pdf?id=Q76Y7wkiji", "openreview": "Q76Y7wkiji"})
    assert [(p.pointer, p.severity) for p in online(entry)] == [("/paper/authors", "warning")]


def test_unknown_paper_is_an_error_and_an_outage_a_warning(online, services):
    missing = online(_paper(arxiv="2301.00000", url="https://arxiv.org/abs/2301.00000"))
    assert [(p.pointer, p.severity) for p in missing] == [("/paper", "error")]
    services.clear()
    services.expect_request("/arxiv/api/query").respond_with_data("down", status=503)
    services.expect_request("/s2/graph/v1/paper/ARXIV:2210.04871").respond_with_data("down", status=503)
    outage = online(make_entry())
    assert [(p.pointer, p.severity) for p in outage] == [("/paper", "warning")]
    assert "HTTP 503" in outage[0].message


def test_validate_online_command(services, tmp_path):
    serve_all(services)
    get_host(reload=True)
    write_entry(tmp_path / "b", make_entry())
    bad = make_entry(id="wrong-title")
    bad["paper"]["title"] = "A Completely Different Paper About Something Else"
    bad["setting"] = {"dataset": "cifar10", "norm": "linf", "radius": 2 / 255, "radius_text": "2/255"}  # not a duplicate
    write_entry(tmp_path / "b", bad)
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "b"), "--online", "--format", "json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert [(p["pointer"], p["file"].endswith("wrong-title.json")) for p in doc["problems"]] == [("/paper/title", True)]
    # offline: the answers are in the cache now
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "b" / "cifar10-linf-8-255-sabr.json"), "--online", "--offline"])
    assert res.exit_code == 0, res.output


def test_duplicate_under_two_proceedings_links_is_found(tmp_path):
    a = make_entry(id="pmlr-html", paper={"title": "Towards Certifying L-infinity Robustness using Neural Networks with L-inf-dist Neurons",
                                          "authors": [], "year": 2021, "url": "http://proceedings.mlr.press/v139/zhang21b.html"})
    b = make_entry(id="pmlr-pdf", paper={"title": "Towards certifying l-inf robustness using neural networks with l-inf-dist neurons",
                                         "authors": [], "year": 2021, "url": "https://proceedings.mlr.press/v139/zhang21b/zhang21b.pdf"})
    write_entry(tmp_path, a)
    write_entry(tmp_path, b)
    res = CliRunner().invoke(main, ["validate", str(tmp_path), "--format", "json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 1
    assert any("duplicate of" in p["message"] and "url:https://proceedings.mlr.press/v139/zhang21b.html" in p["message"]
               for p in doc["problems"])
