"""Claim proposals: the reader on the hand-labelled table set, the e-print reader's safety, and
`curator propose` end to end against a local e-print server."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.api.registry import get_host
from curator.cli import main
from curator.core.schemas import ENTRY_SCHEMA_ID, validate
from curator.papers.eprint import read_sources, safe_member_name
from curator.papers.http import ScrapeError
from curator.papers.latex_tables import find_tables
from curator.papers.propose import propose_from_tables, read_table, score_claims
from scrape_support import serve_all, services  # noqa: F401  (fixture)

LATEX = Path(__file__).resolve().parents[1] / "data" / "latex"


def _claims(name: str):
    tables = find_tables((LATEX / name).read_text(encoding="utf-8"), name)
    return propose_from_tables(tables)


def test_labelled_set_precision_and_recall():
    expected = json.loads((LATEX / "expected.json").read_text())
    tp = fp = fn = 0
    files = sorted(LATEX.glob("*.tex"))
    assert len(files) >= 10
    for path in files:
        ours = [(c.dataset, c.norm, c.radius_text, c.certified_accuracy) for c in _claims(path.name)]
        a, b, c = score_claims(ours, [tuple(x) for x in expected[path.name]])
        tp, fp, fn = tp + a, fp + b, fn + c
    assert tp / (tp + fp) >= 0.95
    assert tp / (tp + fn) >= 0.9


def test_errors_become_accuracies_with_clean_accuracy():
    claims = _claims("t01_ibp_error_multirow.tex")
    ours = [c for c in claims if c.method == "Interval bound propagation (ours)" and c.radius_text == "0.1"]
    assert len(ours) == 1 and ours[0].kind == "error"
    assert ours[0].certified_accuracy == pytest.approx(97.77) and ours[0].clean_accuracy == pytest.approx(99.35)
    assert (ours[0].table, ours[0].row, ours[0].column) == (0, 3, 3)


def test_fractions_are_scaled_and_pm_is_dropped():
    assert sorted(c.certified_accuracy for c in _claims("t05_fractions.tex")) == pytest.approx([89.13, 91.96])
    sabr = [c for c in _claims("t04_booktabs_pm.tex") if c.cell.startswith("98.06")]
    assert sabr[0].certified_accuracy == 98.06 and sabr[0].clean_accuracy == 99.25


def test_smoothing_tables_skip_radius_zero_and_keep_sigma_in_the_method():
    claims = _claims("t02_smoothing_sigma_rows.tex")
    assert all(c.radius > 0 for c in claims) and all(c.smoothing and c.norm == "l2" for c in claims)
    assert {c.method for c in claims} == {"σ = 0.25", "σ = 0.50", "σ = 1.00"}


def test_empirical_and_cost_columns_are_not_claims():
    assert _claims("t11_not_certified.tex") == []
    assert {c.column for c in _claims("t09_distractor_columns.tex")} == {3}


def test_ablation_without_span_expansion_loses_claims():
    text = (LATEX / "t03_crown_ibp_two_header_rows.tex").read_text()
    full = propose_from_tables(find_tables(text, "t03"))
    bare = [c for t in find_tables(text, "t03", spans=False) for c in read_table(t, convert=False, sections=False).claims]
    assert len(full) == 6 and len(bare) < len(full)


# ---------------------------------------------------------------------------------- e-print


def _tar_gz(members: dict[str, bytes], extra=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return buf.getvalue()


def test_unsafe_member_names_are_refused():
    for bad in ("../evil.tex", "/etc/passwd", "a/../../b.tex", "C:/x.tex", "a\\..\\b.tex"):
        assert safe_member_name(bad) is None, bad
    assert safe_member_name("./sec/results.tex") == "sec/results.tex"


def test_archive_reading_skips_escapes_and_links():
    link = tarfile.TarInfo("tables/link.tex")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    data = _tar_gz({"main.tex": b"\\title{T}", "../escape.tex": b"x", "fig.png": b"\x89PNG"}, extra=[link])
    src = read_sources(data)
    assert src.kind == "tar" and list(src.files) == ["main.tex"]
    assert any("unsafe path" in s for s in src.skipped) and any("not a regular file" in s for s in src.skipped)


def test_single_gzipped_tex_pdf_only_and_bombs(monkeypatch):
    import curator.papers.eprint as eprint

    monkeypatch.setattr(eprint, "MAX_UNPACKED", 100_000)  # the cap itself, made small to keep the test fast
    assert read_sources(gzip.compress(b"\\documentclass{article}")).files == {"main.tex": "\\documentclass{article}"}
    with pytest.raises(ScrapeError, match="only a PDF"):
        read_sources(b"%PDF-1.5 ...")
    bomb = gzip.compress(b"\\" + b"0" * 5_000_000, compresslevel=9)  # 5 kB that inflate to 5 MB
    with pytest.raises(ScrapeError, match="decompresses to more than"):
        read_sources(bomb)
    with pytest.raises(ScrapeError, match="truncated"):
        read_sources(gzip.compress(b"\\x" * 1000)[:-12])


def test_propose_command_end_to_end(services, tmp_path):
    serve_all(services)
    get_host(reload=True)
    archive = _tar_gz({
        "main.tex": b"\\documentclass{article}\\title{Certified Training: Small Boxes are All You Need}"
                    b"\\begin{document}\\input{sec/results}\\end{document}",
        "sec/results.tex": (LATEX / "t04_booktabs_pm.tex").read_bytes(),
    })
    services.expect_request("/arxiv/e-print/2210.04871").respond_with_data(archive, content_type="application/x-eprint-tar")
    out = tmp_path / "drafts"
    res = CliRunner().invoke(main, ["propose", "https://arxiv.org/abs/2210.04871v2", "--out", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["paper_source"] == "arxiv" and len(doc["claims"]) == 7 and len(doc["written"]) == 7
    drafts = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert len(drafts) == 7
    for d in drafts:
        assert validate(d, ENTRY_SCHEMA_ID) == []
        assert d["status"] == "submitted"
        assert d["provenance"]["proposed_from"]["file"] == "sec/results.tex"
        assert d["paper"]["arxiv"] == "2210.04871" and d["paper"]["authors"][0] == "Mark Niklas Müller"
    best = [d for d in drafts if d["result"]["certified_accuracy"] == 98.06][0]
    assert best["setting"] == {"dataset": "mnist", "norm": "linf", "radius": 0.1, "radius_text": "0.1"}
    assert best["provenance"]["proposed_from"] == {"file": "sec/results.tex", "table": 0, "row": 2, "column": 4}
    assert best["training"]["method"] == "SABR (ours)"


def test_propose_without_out_writes_nothing_and_pdf_only_is_one_line(services, tmp_path, monkeypatch):
    serve_all(services)
    get_host(reload=True)
    services.expect_request("/arxiv/e-print/2210.04871").respond_with_data(b"%PDF-1.4 binary", content_type="application/pdf")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["propose", "arxiv:2210.04871"])
    assert res.exit_code == 1 and res.stderr.startswith("error: e-print: arXiv has only a PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # the HTTP cache only: no draft, no partial file


def test_clean_certified_pairs_in_one_cell():
    tex = r"""\begin{table}\caption{Clean / certified accuracy (\%) on CIFAR-10 under $\ell_\infty$ perturbations.}
    \begin{tabular}{lcc}\toprule Method & $\epsilon=2/255$ & $\epsilon=8/255$ \\ \midrule
    IBP & 61.46 / 50.28 & 48.94 / 34.97 \\ \bottomrule\end{tabular}\end{table}
    \begin{table}\caption{Results on MNIST, $\ell_\infty$, $\epsilon = 0.3$.}
    \begin{tabular}{lc}\toprule Method & Cert. / Std. acc. \\ \midrule IBP & 93.10 / 97.67 \\ \bottomrule\end{tabular}\end{table}"""
    claims = propose_from_tables(find_tables(tex, "x.tex"))
    got = sorted((c.dataset, c.radius_text, c.certified_accuracy, c.clean_accuracy) for c in claims)
    assert got == [("cifar10", "2/255", 50.28, 61.46), ("cifar10", "8/255", 34.97, 48.94), ("mnist", "0.3", 93.10, 97.67)]
