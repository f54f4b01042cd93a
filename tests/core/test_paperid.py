from curator.core.paperid import arxiv_id, arxiv_id_from_url, doi_from_ref, normalise_title, openreview_id_from_url, paper_keys


def test_normalise_title_drops_case_punctuation_latex_html():
    a = normalise_title("Certified Training: Small Boxes are All You Need")
    assert a == "certified training small boxes are all you need"
    assert normalise_title("  certified   training — Small boxes are all you need. ") == a
    assert normalise_title("<i>Certified</i> Training: Small Boxes are All You&nbsp;Need") == a
    assert normalise_title(r"Towards certifying \(\ell_\infty\) robustness") == "towards certifying l infinity robustness"
    assert normalise_title("Towards certifying ℓ∞ robustness") == "towards certifying l infinity robustness"
    assert normalise_title("Provably Robust Boosted Décision Stumps") == "provably robust boosted decision stumps"
    assert normalise_title(None) == ""


def test_arxiv_ids_from_urls():
    assert arxiv_id_from_url("https://arxiv.org/abs/2210.04871") == "2210.04871"
    assert arxiv_id_from_url("https://arxiv.org/abs/2210.04871v3") == "2210.04871"
    assert arxiv_id_from_url("https://arxiv.org/pdf/1906.03526.pdf") == "1906.03526"
    assert arxiv_id_from_url("http://arxiv.org/pdf/1906.03526v2") == "1906.03526"
    assert arxiv_id_from_url("https://arxiv.org/abs/1711.00851?context=cs") == "1711.00851"
    assert arxiv_id_from_url("https://arxiv.org/abs/cs/0112017v1") == "cs/0112017"
    assert arxiv_id_from_url("https://arxiv.org/abs/math.GT/0309136") == "math.GT/0309136"
    assert arxiv_id_from_url("https://openreview.net/forum?id=AQ9UL-7UvZx") is None
    assert arxiv_id_from_url("https://evil.org/abs/2210.04871") is None
    assert arxiv_id_from_url(None) is None


def test_arxiv_id_from_bare_and_prefixed_refs():
    assert arxiv_id("2210.04871v2") == "2210.04871"
    assert arxiv_id("arXiv:2210.04871") == "2210.04871"
    assert arxiv_id("10.48550/arXiv.2210.04871") == "2210.04871"
    assert arxiv_id("not an id") is None


def test_openreview_ids():
    assert openreview_id_from_url("https://openreview.net/forum?id=AQ9UL-7UvZx") == "AQ9UL-7UvZx"
    assert openreview_id_from_url("https://openreview.net/pdf?id=mzyZ4wzKlM") == "mzyZ4wzKlM"
    assert openreview_id_from_url("https://openreview.net/forum?id=Pbj8H_jEHYv&noteId=x") == "Pbj8H_jEHYv"
    assert openreview_id_from_url("https://openreview.net/group?id=ICLR.cc") is None
    assert openreview_id_from_url("https://example.org/forum?id=AQ9UL-7UvZx") is None


def test_doi():
    assert doi_from_ref("https://doi.org/10.1109/SP.2019.00044") == "10.1109/sp.2019.00044"
    assert doi_from_ref("doi:10.1109/SP.2019.00044") == "10.1109/sp.2019.00044"
    assert doi_from_ref("https://arxiv.org/abs/1") is None


def test_paper_keys_from_fields_and_url():
    keys = paper_keys({"title": "Certified Training: Small Boxes are All You Need", "url": "https://arxiv.org/abs/2210.04871v1",
                       "doi": "10.5555/ABC"})
    assert keys == {"arxiv:2210.04871", "doi:10.5555/abc", "title:certified training small boxes are all you need"}
    keys = paper_keys({"title": "X", "url": "https://openreview.net/pdf?id=mzyZ4wzKlM", "arxiv": "2305.14000"})
    assert keys == {"openreview:mzyZ4wzKlM", "arxiv:2305.14000", "title:x"}
    assert paper_keys(None) == set()


def test_proceedings_links_meet_on_one_page_key():
    from curator.core.paperid import proceedings_page_url

    pairs = [
        ("http://proceedings.mlr.press/v139/zhang21b/zhang21b.pdf", "https://proceedings.mlr.press/v139/zhang21b.html"),
        ("https://www.ijcai.org/Proceedings/2019/0654.pdf", "https://ijcai.org/proceedings/2019/654"),
        ("https://papers.nips.cc/paper/2021/file/988f9153ac4fd966ea302dd9ab9bae15-Paper.pdf",
         "https://proceedings.neurips.cc/paper/2021/hash/988f9153ac4fd966ea302dd9ab9bae15-Abstract.html"),
        ("https://proceedings.neurips.cc/paper_files/paper/2022/file/abc123-Paper-Conference.pdf",
         "https://proceedings.neurips.cc/paper_files/paper/2022/hash/abc123-Abstract-Conference.html"),
        ("https://openaccess.thecvf.com/content_ICCV_2019/papers/Gowal_X_ICCV_2019_paper.pdf",
         "https://openaccess.thecvf.com/content_ICCV_2019/html/Gowal_X_ICCV_2019_paper.html"),
    ]
    for a, b in pairs:
        assert proceedings_page_url(a) == proceedings_page_url(b) is not None
        ka = paper_keys({"title": "One spelling", "url": a})
        kb = paper_keys({"title": "Another spelling", "url": b})
        assert ka & kb, (a, b)
    assert proceedings_page_url("https://example.org/paper.pdf") is None
    assert not any(k.startswith("url:") for k in paper_keys({"title": "x", "url": "https://github.com/x/y"}))
