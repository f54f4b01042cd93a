"""Shared set-up for the scraper tests: a local HTTP server (pytest-httpserver on 127.0.0.1)
standing in for every service, wired in through the CURATOR_*_URL overrides, and an empty
response cache per test. Import the fixtures into a test module by name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "scrapers"

PATHS = {
    "CURATOR_ARXIV_URL": "/arxiv/api/query",
    "CURATOR_ARXIV_EPRINT_URL": "/arxiv/e-print",
    "CURATOR_OPENREVIEW_URL": "/or2",
    "CURATOR_OPENREVIEW_V1_URL": "/or1",
    "CURATOR_S2_URL": "/s2/graph/v1",
    "CURATOR_DBLP_URL": "/dblp/search/publ/api",
    "CURATOR_CROSSREF_URL": "/crossref",
    "CURATOR_DOI_URL": "/doi",
    "CURATOR_PROCEEDINGS_URL": "/proc",
}


def fixture_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def services(httpserver, monkeypatch, tmp_path):
    """The httpserver, with every service's base URL pointing at it and fast, bounded retries."""
    # The server runs in this process: keep its access log out of the commands' stderr.
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.ERROR)
    for env, path in PATHS.items():
        monkeypatch.setenv(env, httpserver.url_for(path))
    monkeypatch.setenv("CURATOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CURATOR_RATE_LIMIT_SCALE", "0")
    monkeypatch.setenv("CURATOR_HTTP_RETRIES", "2")
    monkeypatch.setenv("CURATOR_HTTP_TIMEOUT", "2")
    monkeypatch.delenv("CURATOR_PLUGINS", raising=False)
    return httpserver


def serve(httpserver, path: str, fixture: str, content_type: str, query: dict | None = None, status: int = 200):
    httpserver.expect_request(path, query_string=query).respond_with_data(
        fixture_bytes(fixture), status=status, content_type=content_type
    )


def serve_all(httpserver) -> None:
    """Every service answering its real-format fixture."""
    serve(httpserver, "/arxiv/api/query", "arxiv_2210.04871.xml", "application/atom+xml; charset=utf-8",
          {"id_list": "2210.04871", "max_results": "1"})
    serve(httpserver, "/arxiv/api/query", "arxiv_cs0501001.xml", "application/atom+xml; charset=utf-8",
          {"id_list": "cs/0501001", "max_results": "1"})
    serve(httpserver, "/arxiv/api/query", "arxiv_error.xml", "application/atom+xml; charset=utf-8",
          {"id_list": "2210.99999", "max_results": "1"})
    serve(httpserver, "/arxiv/api/query", "arxiv_empty.xml", "application/atom+xml; charset=utf-8",
          {"id_list": "2301.00000", "max_results": "1"})
    serve(httpserver, "/or2/notes", "openreview_v2_mzyZ4wzKlM.json", "application/json", {"id": "mzyZ4wzKlM"})
    serve(httpserver, "/or2/notes", "openreview_empty.json", "application/json", {"id": "Q76Y7wkiji"})
    serve(httpserver, "/or1/notes", "openreview_v1_Q76Y7wkiji.json", "application/json", {"id": "Q76Y7wkiji"})
    serve(httpserver, "/or2/notes", "openreview_empty.json", "application/json", {"id": "AQ9UL-7UvZx"})
    serve(httpserver, "/or1/notes", "openreview_v1_AQ9UL-7UvZx.json", "application/json", {"id": "AQ9UL-7UvZx"})
    serve(httpserver, "/or2/notes", "openreview_empty.json", "application/json", {"id": "NoSuchNote1"})
    serve(httpserver, "/or1/notes", "openreview_empty.json", "application/json", {"id": "NoSuchNote1"})
    serve(httpserver, "/s2/graph/v1/paper/ARXIV:2210.04871", "s2_arxiv_2210.04871.json", "application/json")
    serve(httpserver, "/s2/graph/v1/paper/ARXIV:2301.00000", "s2_404.json", "application/json", status=404)
    serve(httpserver, "/s2/graph/v1/paper/search/match", "s2_match.json", "application/json")
    serve(httpserver, "/dblp/search/publ/api", "dblp_search.json", "application/json",
          {"q": "Certified Training: Small Boxes are All You Need", "format": "json", "h": "10"})
    serve(httpserver, "/dblp/search/publ/api", "dblp_empty.json", "application/json")
    serve(httpserver, "/crossref/works/10.1109/iccv.2019.00494", "crossref_iccv2019.json", "application/json")
    httpserver.expect_request("/crossref/works/10.48550/arxiv.2210.04871").respond_with_data(
        "Resource not found.", status=404, content_type="text/plain")
    serve(httpserver, "/doi/10.48550/arxiv.2210.04871", "csl_arxiv_2210.04871.json", "application/vnd.citationstyles.csl+json")
    serve(httpserver, "/proc/proceedings.mlr.press/v139/zhang21b.html", "pmlr_v139_zhang21b.html", "text/html; charset=utf-8")
    serve(httpserver, "/proc/openaccess.thecvf.com/content_ICCV_2019/html/Gowal_Scalable_Verified_Training_for_Provably_Robust_Image_Classification_ICCV_2019_paper.html",  # noqa: E501
          "cvf_iccv2019_gowal.html", "text/html; charset=utf-8")
    serve(httpserver, "/proc/www.ijcai.org/proceedings/2019/654", "ijcai_2019_654.html", "text/html; charset=UTF-8")
    serve(httpserver, "/proc/proceedings.neurips.cc/paper/2021/hash/988f9153ac4fd966ea302dd9ab9bae15-Abstract.html",
          "neurips_2021_shi.html", "text/html; charset=utf-8")
