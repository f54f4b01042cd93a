"""Each bundled scraper against its service's real response format, served on 127.0.0.1."""

from __future__ import annotations

import pytest

from curator.api.registry import get_host
from curator.core.schemas import ENTRY_SCHEMA_ID, validate
from curator.papers.http import HttpClient, NotFound, ScrapeError
from curator.papers.scrape import link_published, paper_block, resolve
from scrape_support import serve, serve_all, services  # noqa: F401  (fixture)


@pytest.fixture
def scrapers(services):
    serve_all(services)
    registry = get_host(reload=True).registry
    return {s.name: s for s in registry.all("scraper")}


def _resolve(scrapers, ref, only=None):
    return resolve(ref, list(scrapers.values()), HttpClient(), only=only)


@pytest.mark.parametrize(
    "ref",
    ["arxiv:2210.04871", "2210.04871v2", "https://arxiv.org/abs/2210.04871v3", "http://arxiv.org/pdf/2210.04871.pdf", "arXiv:2210.04871"],
)
def test_arxiv_every_spelling_gives_the_versionless_record(scrapers, ref):
    r = _resolve(scrapers, ref)
    assert r.source == "arxiv"
    assert r.arxiv == "2210.04871"
    assert r.title == "Certified Training: Small Boxes are All You Need"
    assert r.authors == ["Mark Niklas Müller", "Franziska Eckert", "Marc Fischer", "Martin Vechev"]
    assert r.year == 2022 and r.venue is None
    assert r.url == "https://arxiv.org/abs/2210.04871"
    assert r.abstract.startswith("To obtain")


def test_arxiv_old_style_id_and_doi(scrapers):
    r = _resolve(scrapers, "https://arxiv.org/abs/cs/0501001v2")
    assert r.arxiv == "cs/0501001" and r.doi == "10.1000/xyz123"
    assert r.title == "An old-style identifier with a wrapped title"


def test_arxiv_error_entry_and_empty_feed_are_not_found(scrapers):
    with pytest.raises(NotFound, match="incorrect id format for 2210.99999"):
        _resolve(scrapers, "arxiv:2210.99999", only="arxiv")
    with pytest.raises(NotFound, match="no paper with id 2301.00000"):
        _resolve(scrapers, "arxiv:2301.00000", only="arxiv")


def test_arxiv_unknown_everywhere_names_every_scraper_tried(scrapers):
    with pytest.raises(NotFound, match=r"tried: arxiv, semantic-scholar"):
        _resolve(scrapers, "arxiv:2301.00000")


def test_openreview_v2(scrapers):
    r = _resolve(scrapers, "https://openreview.net/pdf?id=mzyZ4wzKlM")
    assert r.source == "openreview" and r.openreview == "mzyZ4wzKlM"
    assert r.title == "Expressive Losses for Verified Robustness via Convex Combinations"
    assert r.venue == "ICLR" and r.year == 2024
    assert r.authors[0] == "Alessandro De Palma" and len(r.authors) == 6


def test_openreview_falls_back_to_v1_for_older_venues(scrapers):
    r = _resolve(scrapers, "https://openreview.net/forum?id=Q76Y7wkiji")
    assert r.title == "Boosting the Certified Robustness of L-infinity Distance Nets"
    assert r.venue == "ICLR" and r.year == 2022
    assert r.authors == ["Bohang Zhang", "Du Jiang", "Di He", "Liwei Wang"]
    with pytest.raises(NotFound):
        _resolve(scrapers, "openreview:NoSuchNote1")


def test_semantic_scholar_links_the_preprint_to_its_venue(scrapers):
    r = _resolve(scrapers, "arxiv:2210.04871", only="semantic-scholar")
    assert r.venue == "ICLR" and r.year == 2022  # S2's year is the preprint's; dblp has the venue's
    assert r.arxiv == "2210.04871" and r.doi == "10.48550/arXiv.2210.04871"
    assert r.url == "https://arxiv.org/abs/2210.04871"  # an arXiv DOI is not a publisher page


def test_semantic_scholar_title_match(scrapers):
    r = _resolve(scrapers, "Fast certified robust training with short warmup", only="semantic-scholar")
    assert r.title == "Fast Certified Robust Training with Short Warmup"
    assert r.venue == "NeurIPS" and r.arxiv == "2103.17268"


@pytest.mark.parametrize("key", ["s2-test-key", None], ids=["key-set", "key-unset"])
def test_semantic_scholar_sends_the_api_key_only_when_set(scrapers, services, monkeypatch, key):
    if key:
        monkeypatch.setenv("CURATOR_S2_API_KEY", key)
    else:
        monkeypatch.delenv("CURATOR_S2_API_KEY", raising=False)
    _resolve(scrapers, "arxiv:2210.04871", only="semantic-scholar")
    _resolve(scrapers, "Fast certified robust training with short warmup", only="semantic-scholar")
    sent = [request.headers.get("x-api-key") for request, _ in services.log if request.path.startswith("/s2/")]
    assert len(sent) == 2 and sent == [key, key]


def test_dblp_prefers_the_published_record_over_corr(scrapers):
    r = _resolve(scrapers, "Certified Training: Small Boxes are All You Need")
    assert r.source == "dblp"
    assert r.title == "Certified Training: Small Boxes are All You Need"  # trailing dot gone
    assert r.venue == "ICLR" and r.year == 2023
    assert r.openreview == "7oFuxtJtUMH"
    assert r.authors[2] == "Marc Fischer"  # homonym number dropped


def test_dblp_empty_result_is_not_found(scrapers):
    with pytest.raises(NotFound, match="dblp: no publication titled"):
        _resolve(scrapers, "A title nobody wrote", only="dblp")


def test_link_published_uses_dblp_when_s2_year_is_the_preprints(scrapers):
    preprint = _resolve(scrapers, "arxiv:2210.04871")
    linked = link_published(preprint, list(scrapers.values()), HttpClient())
    assert linked.venue == "ICLR" and linked.year == 2023
    assert linked.arxiv == "2210.04871" and linked.title == preprint.title


def test_doi_crossref(scrapers):
    r = _resolve(scrapers, "https://doi.org/10.1109/ICCV.2019.00494")
    assert r.source == "doi"
    assert r.title == "Scalable Verified Training for Provably Robust Image Classification"
    assert r.authors[:2] == ["Sven Gowal", "Krishnamurthy Dvijotham"]
    assert r.year == 2019 and r.venue == "ICCV"
    assert r.doi == "10.1109/iccv.2019.00494"


def test_doi_falls_back_to_content_negotiation(scrapers, services):
    r = _resolve(scrapers, "doi:10.48550/arXiv.2210.04871", only="doi")
    assert r.title == "Certified Training: Small Boxes are All You Need"
    assert r.arxiv == "2210.04871" and r.year == 2022
    accepts = [req.headers.get("Accept") for req, _ in services.log if req.path.startswith("/doi/")]
    assert accepts == ["application/vnd.citationstyles.csl+json"]


@pytest.mark.parametrize(
    "url,title,venue,first_author",
    [
        ("http://proceedings.mlr.press/v139/zhang21b.html",
         "Towards Certifying L-infinity Robustness using Neural Networks with L-inf-dist Neurons", "ICML", "Bohang Zhang"),
        ("https://proceedings.mlr.press/v139/zhang21b/zhang21b.pdf",
         "Towards Certifying L-infinity Robustness using Neural Networks with L-inf-dist Neurons", "ICML", "Bohang Zhang"),
        ("https://openaccess.thecvf.com/content_ICCV_2019/html/Gowal_Scalable_Verified_Training_for_Provably_Robust_Image_Classification_ICCV_2019_paper.html",
         "Scalable Verified Training for Provably Robust Image Classification", "ICCV", "Sven Gowal"),
        ("https://www.ijcai.org/Proceedings/2019/0654.pdf",
         "Robustra: Training Provable Robust Neural Networks over Reference Adversarial Space", "IJCAI", "Linyi Li"),
        ("https://proceedings.neurips.cc/paper/2021/file/988f9153ac4fd966ea302dd9ab9bae15-Paper.pdf",
         "Fast Certified Robust Training with Short Warmup", "NeurIPS", "Zhouxing Shi"),
    ],
)
def test_proceedings_pages(scrapers, url, title, venue, first_author):
    r = _resolve(scrapers, url)
    assert r.source == "proceedings"
    assert (r.title, r.venue, r.authors[0]) == (title, venue, first_author)
    block = paper_block(r)
    assert block["url"].startswith("https://")


def test_proceedings_page_without_meta_tags(scrapers, services):
    services.expect_request("/proc/proceedings.mlr.press/v1/nothing.html").respond_with_data(
        "<html><title>x</title></html>", content_type="text/html")
    with pytest.raises(ScrapeError, match="no citation_title meta tag"):
        _resolve(scrapers, "https://proceedings.mlr.press/v1/nothing.html", only="proceedings")


def test_paper_blocks_are_schema_valid(scrapers):
    for ref in ("arxiv:2210.04871", "openreview:mzyZ4wzKlM", "doi:10.1109/ICCV.2019.00494", "https://www.ijcai.org/proceedings/2019/654"):
        block = paper_block(_resolve(scrapers, ref))
        entry = {
            "schema_version": 1, "id": "x", "paper": block,
            "setting": {"dataset": "mnist", "norm": "linf", "radius": 0.1, "radius_text": "0.1"},
            "result": {"certified_accuracy": 90.0}, "certification": {"type": "deterministic"},
            "provenance": {"submitter": "t", "submitted_at": "2024-01-01", "source": "test"}, "status": "submitted",
        }
        assert validate(entry, ENTRY_SCHEMA_ID) == [], ref
