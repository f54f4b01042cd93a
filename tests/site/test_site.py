"""`curator site`: the static web leaderboard, built from the real imported board, checked in a
real headless Chromium (skipped where /usr/bin/chromium is absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from boardkit import git, make_entry, make_report, write
from curator.api.registry import Registry
from curator.board import store
from curator.board.approve import approve
from curator.core.errors import CuratorError
from curator.site import build_site, setting_slug
from curator.site.plots import certified_curve

CURATOR = str(Path(sys.executable).parent / "curator")
HAS_CHROMIUM = Path("/usr/bin/chromium").exists()
VERIFIED_ID = "smoothing-demo-cifar10-l2"


def _board_with_one_verified(repo: Path, tmp: Path) -> Path:
    """The committed board (151 legacy entries) in a git repo, plus one approved smoothing entry."""
    work = tmp / "board"
    shutil.copytree(repo / "leaderboard", work / "leaderboard")
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "board")
    # 500 samples (the claim's selection, the publishable minimum), 41% of them certified at 0.25
    entry = make_entry(VERIFIED_ID, radius_text="0.25", certified=41.0, clean=70.0,
                       title="A <b>bold</b> & 'quoted' smoothing claim")
    radii = [None if i % 7 == 0 else round(0.02 * (i % 25), 3) for i in range(500)]
    report = make_report(entry, radii=radii)
    sub = write(tmp / "sub" / f"{VERIFIED_ID}.json", entry)
    rep = write(tmp / "sub" / "report.json", report)
    approve(sub, rep, store_root=work / "leaderboard", registry=Registry(), publish=True)
    return work / "leaderboard"


@pytest.fixture(scope="module")
def built(repo, tmp_path_factory):
    if not (repo / "leaderboard" / "entries").is_dir():
        pytest.skip("the imported board is not in this checkout")
    tmp = tmp_path_factory.mktemp("site")
    root = _board_with_one_verified(repo, tmp)
    out = tmp / "site"
    summary = build_site(root, out)
    return root, out, summary


def test_site_pages_and_determinism(built, tmp_path):
    root, out, summary = built
    entries = [e for _, e in store.load_entries(root)]
    settings = Counter((e["setting"]["dataset"], e["setting"]["norm"], e["setting"]["radius_text"]) for e in entries)
    # the imported SoK board: 151 legacy rows in 18 settings, the board's four re-verified submissions (one
    # confirmed, three recorded) and the one entry approved here
    legacy = [e for e in entries if e["status"] == "legacy"]
    assert len(legacy) == 151
    assert len({(e["setting"]["dataset"], e["setting"]["norm"], e["setting"]["radius"]) for e in legacy}) == 18
    assert summary.entries == len(entries) and summary.settings == len(settings) and summary.verified == 2
    assert summary.warnings == []
    # index, settings, one report page per report-backed row, and the benchmark track's page
    assert summary.reports == 5 and "benchmark.html" in summary.pages
    assert len(summary.pages) == 1 + len(settings) + summary.reports + 1
    for (d, n, r), count in settings.items():
        page = (out / "settings" / f"{setting_slug(d, n, r)}.html").read_text()
        assert page.count("<tr id=") == count
    index = (out / "index.html").read_text()
    assert ("2 of 156 rows re-verified (1 refuted, 2 unconfirmed, 4 re-run as another row, 146 not re-verifiable, "
            "1 pending).") in index and "How to submit" in index
    wong = (out / "settings" / "mnist-linf-0-1.html").read_text()
    assert "1 of 13 rows re-verified (1 re-run as another row, 11 not re-verifiable)." in wong
    assert "not re-verifiable: no public weights" in wong and "re-verified as another row" in wong
    # the benchmark track's results are in the store, so the site from the repository has the page
    bench = (out / "benchmark.html").read_text()
    assert "Suite shared-full" in bench and bench.count("<h3 id=") == 4 and 'href="benchmark.html"' in index
    assert all((out / "plots" / f"benchmark-shared-full-{m}.svg").is_file()
               for m in ("wong-kolter-2018", "mnist-net-256x2", "mnist-net-256x4", "mnist-net-256x6"))
    # submitted strings are escaped, never markup
    report_page = (out / "reports" / f"{VERIFIED_ID}.html").read_text()
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39; smoothing claim" in report_page
    assert "<b>bold</b>" not in report_page
    # same store → byte-identical site
    again = tmp_path / "again"
    build_site(root, again)
    for p in sorted(out.rglob("*")):
        if p.is_file():
            assert (again / p.relative_to(out)).read_bytes() == p.read_bytes(), p
    svg = (out / "plots" / "trend-cifar10-l2-0-25.svg").read_text()
    assert "<svg" in svg and "Date" not in svg


def test_site_refuses_to_replace_an_unrelated_folder(built, tmp_path):
    root, _, _ = built
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    with pytest.raises(CuratorError, match="not a previous curator site"):
        build_site(root, precious)
    assert (precious / "thesis.tex").read_text() == "keep me"
    cli = subprocess.run([CURATOR, "site", "--out", str(precious), "--store", str(root)], capture_output=True,
                         text=True)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr


def test_certified_curve_counts_correct_samples_at_each_radius():
    report = {"samples": {"radius": [0.5, None, 0.25, 1.0, 0.75], "label": [1, 1, 2, 3, 4],
                          "predicted": [1, 0, 2, 3, 9]}}
    # correct and certified: 0.5, 0.25, 1.0 (the 0.75 one predicts the wrong class)
    assert certified_curve(report) == [(0.0, 60.0), (0.25, 60.0), (0.5, 40.0), (1.0, 20.0), (1.0 * 1.02 + 1e-9, 0.0)]


@pytest.mark.skipif(not HAS_CHROMIUM, reason="/usr/bin/chromium is not installed")
def test_site_in_headless_chromium(built, tmp_path):
    from cdp import Browser

    root, out, summary = built
    shots = []
    with Browser(tmp_path / "profile") as b:
        for page in summary.pages:
            errors = b.goto((out / page).as_uri())
            assert errors == [], (page, errors)
            broken = b.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                                ".map(i => i.src)")
            assert broken == [], (page, broken)

        b.goto((out / "index.html").as_uri())
        shots.append(b.screenshot(tmp_path / "index.png"))
        assert b.evaluate("document.querySelectorAll('#settings tbody tr').length") == summary.settings >= 18
        assert b.evaluate("document.images.length") == summary.settings
        total = 0
        for link in b.evaluate("Array.from(document.querySelectorAll('#settings tbody a')).map(a => a.href)"):
            b.goto(link)
            total += b.evaluate("document.querySelectorAll('#board tbody tr').length")
        assert total == summary.entries >= 152

        b.goto((out / "settings" / "cifar10-l2-0-25.html").as_uri())
        shots.append(b.screenshot(tmp_path / "setting-before-sort.png"))
        ids = "Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.id)"
        cert = "Array.from(document.querySelectorAll('#board tbody tr')).map(r => parseFloat(r.cells[1].dataset.sort))"
        before = b.evaluate(ids)
        assert b.evaluate(cert) == sorted(b.evaluate(cert), reverse=True)  # ranked order as built
        b.click("#board thead th:nth-child(2)")  # Certified: ascending
        after = b.evaluate(ids)
        assert after != before and b.evaluate(cert) == sorted(b.evaluate(cert))
        b.click("#board thead th:nth-child(2)")  # and back: descending
        assert b.evaluate(cert) == sorted(b.evaluate(cert), reverse=True)
        b.click("#board thead th:nth-child(6)")  # Year
        years = b.evaluate("Array.from(document.querySelectorAll('#board tbody tr'))"
                           ".map(r => r.cells[5].dataset.sort).filter(v => v !== '').map(Number)")
        assert years == sorted(years)
        assert b.evaluate("document.querySelector('#board thead th:nth-child(6)').getAttribute('aria-sort')") \
            == "ascending"

        # the verified entry: badge, interval and link to its report with the radius plot
        row = b.evaluate(f"document.getElementById('{VERIFIED_ID}').innerText")
        assert "re-verified" in row and "smoothing 1.0.0" in row
        b.click(f"#{VERIFIED_ID} a[href$='.html']")
        b.wait_event("Page.loadEventFired")
        assert b.evaluate("location.pathname").endswith(f"/reports/{VERIFIED_ID}.html")
        assert b.evaluate("document.images.length") == 1
        assert b.evaluate("document.images[0].naturalWidth") > 0
        assert "confirmed" in b.evaluate("document.body.innerText")
        shots.append(b.screenshot(tmp_path / "report.png"))
    for shot in shots:
        assert shot.stat().st_size > 10_000
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dest = os.environ.get("CURATOR_ARTIFACTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(dest) / f"site-{shot.name}")


def _svg_texts(svg: str) -> list[str]:
    import re

    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_plots_are_labelled_and_do_not_exaggerate_small_differences():
    from curator.site.plots import radius_svg, trend_svg

    # two claims 0.2 points apart: the y-axis still spans 0–100 %, so they do not look far apart
    texts = _svg_texts(trend_svg("mnist · linf · ε=0.1", [(2019, 98.4, False), (2019, 98.2, True)]))
    assert "year of publication" in texts and "certified accuracy (% of test samples)" in texts
    assert {"0", "100"} <= set(texts) and "2019" in texts
    assert not any("e3" in t or t.startswith("+") for t in texts)  # whole years, no axis offset
    report = {"samples": {"radius": [0.5, 0.2], "label": [1, 2], "predicted": [1, 2]}}
    texts = _svg_texts(radius_svg("r", report, 0.3, 50.0, "l2"))
    assert "radius ε (l2 norm, inputs in [0, 1])" in texts and {"0", "100"} <= set(texts)
