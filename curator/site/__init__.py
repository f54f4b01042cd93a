"""``curator site``: the leaderboard as a static web site.

Layout of the output folder::

    index.html                    how to submit, the board's coverage, every setting with its best entry, trend plots
    settings/<setting>.html       one sortable table per setting (+ trend plot), each row's re-verification state
    reports/<entry-id>.html       the report behind a row's re-verification state (interval, verifier, plot)
    reports/<entry-id>/<sha>.json the report files themselves, as stored
    benchmark.html                the benchmark track (the store's benchmark/*.json), when there are results
    plots/*.svg                   trend and radius plots
    style.css

A row's state (re-verified, refuted, unconfirmed, not re-verifiable, pending, claimed) is
:func:`curator.board.reverification.board_states` — the same as the README's: a row is re-verified only
when a stored report on exactly its claim and full selection confirms it, never because of what the
entry says about itself.

Guarantees: every string from an entry or report is HTML-escaped (jinja2 autoescape); nothing is
loaded from another origin (no CDN, the sorting script is inline); output is byte-identical for
the same store (no dates, stable order, deterministic SVG). The site is built in a temporary
folder and moved into place at the end; an existing output folder is only replaced when it holds
a previous build (the ``.curator-site`` marker), never an unrelated folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from curator import __version__
from curator.board import store
from curator.board.reverification import RowState, board_states, coverage
from curator.core.errors import CuratorError
from curator.core.jsonio import read_json
from curator.site import plots

MARKER = ".curator-site"
# Re-verification state → CSS class of its badge.
STATE_KINDS = {"re-verified": "ok", "refuted": "bad", "unconfirmed": "warn", "not-reverifiable": "claimed",
               "pending": "claimed", "superseded": "claimed", "claimed": "claimed"}


@dataclass
class SiteSummary:
    out: str
    settings: int
    entries: int
    verified: int  # rows whose state is re-verified
    pages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # stored reports that were not used, and why
    reports: int = 0  # report pages (every report-backed state: re-verified, unconfirmed, refuted)

    def as_dict(self) -> dict[str, Any]:
        return {"out": self.out, "settings": self.settings, "entries": self.entries, "verified": self.verified,
                "reports": self.reports, "pages": self.pages, "warnings": self.warnings}


def setting_slug(dataset: str, norm: str, radius_text: str) -> str:
    return "-".join([dataset, norm, store.slugify(radius_text) or "0"])


def _env() -> Environment:
    env = Environment(loader=PackageLoader("curator.site", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.2f}".rstrip("0").rstrip(".") + "%"
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
    return env


def _report_of(root: Path, state: RowState) -> dict[str, Any] | None:
    """The report behind a report-backed state (already checked by curator.board.reverification)."""
    if not state.from_report:
        return None
    return read_json(root / state.report)


def _badge(entry: dict[str, Any], state: RowState) -> tuple[str, str]:
    label = state.label if entry.get("status") != "disputed" else f"{state.label} (disputed)"
    return label, STATE_KINDS.get(state.state, "claimed")


def _rows(entries: list[dict[str, Any]], states: dict[str, RowState], links: dict[str, str]) -> list[dict[str, Any]]:
    ordered = sorted(entries, key=lambda e: (e.get("status") == "refuted", -float(e["result"]["certified_accuracy"]),
                                            e["id"]))
    ranked = [e for e in ordered if e.get("status") != "refuted"]
    rows = []
    for e in ordered:
        acc = float(e["result"]["certified_accuracy"])
        rank = 1 + sum(1 for o in ranked if float(o["result"]["certified_accuracy"]) > acc) \
            if e.get("status") != "refuted" else None
        state = states[e["id"]]
        label, kind = _badge(e, state)
        paper = e.get("paper", {})
        rows.append({
            "id": e["id"], "rank": rank, "certified": e["result"]["certified_accuracy"],
            "clean": e["result"].get("clean_accuracy"),
            "method": (e.get("training") or {}).get("method"),
            "title": paper.get("title"), "url": paper.get("url"), "venue": paper.get("venue"),
            "year": paper.get("year"), "arxiv": paper.get("arxiv"),
            "type": e.get("certification", {}).get("type"), "status": e.get("status"),
            "state": state.state, "badge": label, "badge_kind": kind, "interval": state.certified,
            "attacked": state.attacked, "measured_clean": state.clean if state.from_report else None,
            "verifier": state.verifier if state.from_report else None,
            "reason": state.reason if state.state in ("pending", "superseded") else None,
            "superseded_by": state.superseded_by, "superseded_link": links.get(state.superseded_by or ""),
            "report_page": f"../reports/{e['id']}.html" if state.from_report else None,
        })
    return rows


def _benchmark_page(root: Path, tmp: Path, env: Environment) -> bool:
    """``benchmark.html`` and its plots from the store's benchmark results (curator.benchmark.render)."""
    from curator.benchmark.render import model_tables, plots_for, store_results

    results = store_results(root)
    if not results:
        return False
    suites = []
    for r in sorted(results, key=lambda r: r["suite"]["name"]):
        for name, svg in plots_for(r).items():
            (tmp / "plots" / f"benchmark-{name}").write_text(svg, encoding="utf-8")
        suites.append({"name": r["suite"]["name"], "description": r["suite"].get("description"),
                       "time_limit": r["suite"]["time_limit"], "seed": r["seed"],
                       "torch": r["environment"]["torch"], "device": r["environment"]["device"],
                       "models": model_tables(r)})
    html = env.get_template("benchmark.html").render(root="", suites=suites, version=__version__)
    (tmp / "benchmark.html").write_text(html, encoding="utf-8")
    return True


def _check_out(root: Path, out: Path) -> None:
    if not (root / store.ENTRIES_DIR).is_dir():
        raise CuratorError(f"{root} has no {store.ENTRIES_DIR}/ folder: not a leaderboard store")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise CuratorError(f"{out} exists and is not a previous curator site; refusing to replace it")
    if out.is_symlink():
        raise CuratorError(f"{out} is a symbolic link; refusing to replace it")


def _settings(entries: list[dict[str, Any]]) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """``(slug, label, radius_text, entries)`` per (dataset, norm, radius), in a stable order."""
    by_setting: dict[tuple, list[dict[str, Any]]] = {}
    for e in entries:
        s = e["setting"]
        by_setting.setdefault((s["dataset"], s["norm"], float(s["radius"])), []).append(e)
    out, used = [], set()
    for key in sorted(by_setting):
        members = by_setting[key]
        radius_text = members[0]["setting"]["radius_text"]
        slug = setting_slug(key[0], key[1], radius_text)
        while slug in used:
            slug += "-x"
        used.add(slug)
        out.append((slug, f"{key[0]} · {key[1]} · ε={radius_text}", radius_text, members))
    return out


def _setting_page(tmp: Path, env: Environment, slug: str, label: str, radius_text: str,
                  members: list[dict[str, Any]], states: dict[str, RowState], links: dict[str, str]) -> dict:
    dataset, norm = members[0]["setting"]["dataset"], members[0]["setting"]["norm"]
    rows = _rows(members, states, links)
    points = [(e["paper"]["year"], float(e["result"]["certified_accuracy"]), states[e["id"]].state == "re-verified")
              for e in members if e.get("status") != "refuted" and isinstance(e.get("paper", {}).get("year"), int)]
    (tmp / "plots" / f"trend-{slug}.svg").write_text(plots.trend_svg(label, points), encoding="utf-8")
    best = rows[0] if rows and rows[0]["rank"] == 1 else None
    cov = coverage(states[e["id"]] for e in members)
    info = {"slug": slug, "label": label, "dataset": dataset, "norm": norm, "radius_text": radius_text,
            "count": len(members), "verified": cov.reverified, "coverage": cov.line(), "best": best}
    html = env.get_template("setting.html").render(root="../", setting=info, rows=rows, version=__version__)
    (tmp / "settings" / f"{slug}.html").write_text(html, encoding="utf-8")
    return info


def _report_page(root: Path, tmp: Path, env: Environment, entry: dict[str, Any], state: RowState,
                 info: dict[str, Any]) -> None:
    report = _report_of(root, state)
    sha = Path(state.report).stem
    plot = None
    # Radii are only comparable with the claim when the verifier certified the claimed norm itself
    # (no reduction such as linf through l2, which the report notes).
    if not report.get("threat", {}).get("note") and \
            any(r is not None for r in report.get("samples", {}).get("radius", [])):
        plot = f"../plots/radius-{entry['id']}.svg"
        (tmp / "plots" / f"radius-{entry['id']}.svg").write_text(
            plots.radius_svg(entry["id"], report, float(entry["setting"]["radius"]),
                             float(entry["result"]["certified_accuracy"]), entry["setting"]["norm"]),
            encoding="utf-8")
    rep_dir = tmp / "reports" / entry["id"]
    rep_dir.mkdir(exist_ok=True)
    shutil.copyfile(root / state.report, rep_dir / f"{sha}.json")
    html = env.get_template("report.html").render(
        root="../", entry=entry, ref={"sha256": sha}, report=report, setting=info, plot=plot,
        badge=_badge(entry, state), state=state, report_file=f"{entry['id']}/{sha}.json", version=__version__)
    (tmp / "reports" / f"{entry['id']}.html").write_text(html, encoding="utf-8")


def _replace(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def build_site(store_root: str | os.PathLike, out: str | os.PathLike) -> SiteSummary:
    root = Path(store_root)
    out = Path(out)
    _check_out(root, out)
    entries = [e for _, e in store.load_entries(root)]
    states = board_states(root, entries)
    groups = _settings(entries)
    links = {e["id"]: f"../settings/{slug}.html#{e['id']}" for slug, _, _, members in groups for e in members}
    warnings = [f"{eid}: {p}" for eid, st in sorted(states.items()) for p in st.problems]

    env = _env()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a published site is world-readable
    try:
        for sub in ("settings", "reports", "plots"):
            (tmp / sub).mkdir()
        shutil.copyfile(Path(__file__).parent / "templates" / "style.css", tmp / "style.css")
        settings_info = []
        for slug, label, radius_text, members in groups:
            info = _setting_page(tmp, env, slug, label, radius_text, members, states, links)
            settings_info.append(info)
            for e in members:
                if states[e["id"]].from_report:
                    _report_page(root, tmp, env, e, states[e["id"]], info)
        has_benchmark = _benchmark_page(root, tmp, env)
        shown = [states[e["id"]] for e in entries if e.get("status") != "refuted"]
        html = env.get_template("index.html").render(root="", settings=settings_info, total=len(entries),
                                                     coverage=coverage(shown).line(), version=__version__,
                                                     benchmark=has_benchmark)
        (tmp / "index.html").write_text(html, encoding="utf-8")
        (tmp / MARKER).write_text("built by curator site; this folder is replaced on every build\n")
        pages = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*.html"))
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    verified = sum(1 for st in states.values() if st.state == "re-verified")
    return SiteSummary(str(out), len(settings_info), len(entries), verified, pages, warnings,
                       sum(1 for st in states.values() if st.from_report))
