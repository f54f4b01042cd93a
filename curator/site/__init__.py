"""``curator site``: the leaderboard as a static web site.

Layout of the output folder::

    index.html                    every setting, its best entry, a trend thumbnail
    settings/<setting>.html       one sortable table per setting (+ trend plot)
    reports/<entry-id>.html       the re-verification of a verified entry (interval, verifier, plot)
    reports/<entry-id>/<sha>.json the report files themselves, as stored
    plots/*.svg                   trend and radius plots
    style.css

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

from .. import __version__, store
from ..errors import CuratorError
from ..jsonio import JsonFileError, read_json, sha256_file
from . import plots

MARKER = ".curator-site"
VERIFIED_STATUSES = ("verified", "published")
BADGES = {"verified": ("re-verified", "ok"), "published": ("re-verified", "ok"), "legacy": ("claimed", "claimed"),
          "submitted": ("claimed", "claimed"), "disputed": ("disputed", "warn"), "refuted": ("refuted", "bad")}


@dataclass
class SiteSummary:
    out: str
    settings: int
    entries: int
    verified: int
    pages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"out": self.out, "settings": self.settings, "entries": self.entries, "verified": self.verified,
                "pages": self.pages, "warnings": self.warnings}


def setting_slug(dataset: str, norm: str, radius_text: str) -> str:
    return "-".join([dataset, norm, store.slugify(radius_text) or "0"])


def _env() -> Environment:
    env = Environment(loader=PackageLoader("curator.site", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.2f}".rstrip("0").rstrip(".") + "%"
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
    return env


def _latest_report(root: Path, entry: dict[str, Any], warnings: list[str]) -> tuple[dict, dict] | None:
    """The newest confirmed report of an entry whose file is present and matches its sha256."""
    for ref in reversed(entry.get("reports", [])):
        if ref.get("verdict") != "confirmed":
            continue
        try:
            path = store.report_path(root, entry["id"], ref.get("sha256", ""))
        except store.StorePathError as exc:
            warnings.append(f"{entry['id']}: {exc}")
            continue
        if not path.is_file():
            warnings.append(f"{entry['id']}: report {ref.get('path')} is missing")
            continue
        if sha256_file(path) != ref["sha256"]:
            warnings.append(f"{entry['id']}: report {ref.get('path')} does not match its sha256")
            continue
        try:
            return ref, read_json(path)
        except JsonFileError as exc:
            warnings.append(f"{entry['id']}: {exc}")
    return None


def _rows(entries: list[dict[str, Any]], reports: dict[str, tuple[dict, dict]]) -> list[dict[str, Any]]:
    ordered = sorted(entries, key=lambda e: (e.get("status") == "refuted", -float(e["result"]["certified_accuracy"]),
                                            e["id"]))
    ranked = [e for e in ordered if e.get("status") != "refuted"]
    rows = []
    for e in ordered:
        acc = float(e["result"]["certified_accuracy"])
        rank = 1 + sum(1 for o in ranked if float(o["result"]["certified_accuracy"]) > acc) \
            if e.get("status") != "refuted" else None
        label, kind = BADGES.get(e.get("status"), (e.get("status"), "claimed"))
        rep = reports.get(e["id"])
        interval = None
        verifier = None
        if rep is not None:
            ca = rep[1].get("certified_accuracy", {})
            interval = {"value": ca.get("value"), "lower": ca.get("lower"), "upper": ca.get("upper"),
                        "confidence": ca.get("confidence")}
            verifier = f"{rep[1]['verifier']['name']} {rep[1]['verifier']['version']}"
        paper = e.get("paper", {})
        rows.append({
            "id": e["id"], "rank": rank, "certified": e["result"]["certified_accuracy"],
            "clean": e["result"].get("clean_accuracy"),
            "method": (e.get("training") or {}).get("method") or paper.get("title"),
            "title": paper.get("title"), "url": paper.get("url"), "venue": paper.get("venue"),
            "year": paper.get("year"), "arxiv": paper.get("arxiv"),
            "type": e.get("certification", {}).get("type"), "status": e.get("status"),
            "badge": label, "badge_kind": kind, "interval": interval, "verifier": verifier,
            "report_page": f"../reports/{e['id']}.html" if rep is not None else None,
        })
    return rows


def _benchmark_page(root: Path, tmp: Path, env: Environment) -> bool:
    """``benchmark.html`` and its plots from the store's benchmark results (curator.benchmark_render)."""
    from ..benchmark_render import model_tables, plots_for, store_results

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


def build_site(store_root: str | os.PathLike, out: str | os.PathLike) -> SiteSummary:
    root = Path(store_root)
    out = Path(out)
    if not (root / store.ENTRIES_DIR).is_dir():
        raise CuratorError(f"{root} has no {store.ENTRIES_DIR}/ folder: not a leaderboard store")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise CuratorError(f"{out} exists and is not a previous curator site; refusing to replace it")
    if out.is_symlink():
        raise CuratorError(f"{out} is a symbolic link; refusing to replace it")

    loaded = store.load_entries(root)
    warnings: list[str] = []
    by_setting: dict[tuple, list[dict[str, Any]]] = {}
    for path, e in loaded:
        s = e["setting"]
        by_setting.setdefault((s["dataset"], s["norm"], float(s["radius"])), []).append(e)
    reports: dict[str, tuple[dict, dict]] = {}
    for _, e in loaded:
        if e.get("status") in VERIFIED_STATUSES + ("disputed",):
            found = _latest_report(root, e, warnings)
            if found is not None:
                reports[e["id"]] = found

    env = _env()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a published site is world-readable
    try:
        for sub in ("settings", "reports", "plots"):
            (tmp / sub).mkdir()
        shutil.copyfile(Path(__file__).parent / "templates" / "style.css", tmp / "style.css")
        settings_info = []
        used_slugs: set[str] = set()
        for key in sorted(by_setting):
            entries = by_setting[key]
            radius_text = entries[0]["setting"]["radius_text"]
            slug = setting_slug(key[0], key[1], radius_text)
            while slug in used_slugs:
                slug += "-x"
            used_slugs.add(slug)
            label = f"{key[0]} · {key[1]} · ε={radius_text}"
            rows = _rows(entries, reports)
            points = [(e["paper"]["year"], float(e["result"]["certified_accuracy"]),
                       e["id"] in reports) for e in entries if e.get("status") != "refuted"
                      and isinstance(e.get("paper", {}).get("year"), int)]
            (tmp / "plots" / f"trend-{slug}.svg").write_text(plots.trend_svg(label, points), encoding="utf-8")
            best = rows[0] if rows and rows[0]["rank"] == 1 else None
            info = {"slug": slug, "label": label, "dataset": key[0], "norm": key[1], "radius_text": radius_text,
                    "count": len(entries), "verified": sum(1 for r in rows if r["report_page"]), "best": best}
            settings_info.append(info)
            html = env.get_template("setting.html").render(root="../", setting=info, rows=rows,
                                                           version=__version__)
            (tmp / "settings" / f"{slug}.html").write_text(html, encoding="utf-8")
            for e in entries:
                if e["id"] not in reports:
                    continue
                ref, rep = reports[e["id"]]
                plot = None
                # Radii are only comparable with the claim when the verifier certified the claimed
                # norm itself (no reduction such as linf through l2, which the report notes).
                if not rep.get("threat", {}).get("note") and \
                        any(r is not None for r in rep.get("samples", {}).get("radius", [])):
                    plot = f"../plots/radius-{e['id']}.svg"
                    (tmp / "plots" / f"radius-{e['id']}.svg").write_text(
                        plots.radius_svg(f"{e['id']}", rep, float(e["setting"]["radius"]),
                                         float(e["result"]["certified_accuracy"])), encoding="utf-8")
                rep_dir = tmp / "reports" / e["id"]
                rep_dir.mkdir(exist_ok=True)
                shutil.copyfile(store.report_path(root, e["id"], ref["sha256"]), rep_dir / f"{ref['sha256']}.json")
                html = env.get_template("report.html").render(
                    root="../", entry=e, ref=ref, report=rep, setting=info, plot=plot,
                    badge=BADGES.get(e.get("status"), (e.get("status"), "claimed")),
                    report_file=f"{e['id']}/{ref['sha256']}.json", version=__version__)
                (tmp / "reports" / f"{e['id']}.html").write_text(html, encoding="utf-8")
        has_benchmark = _benchmark_page(root, tmp, env)
        html = env.get_template("index.html").render(root="", settings=settings_info, total=len(loaded),
                                                     verified=len(reports), version=__version__,
                                                     benchmark=has_benchmark)
        (tmp / "index.html").write_text(html, encoding="utf-8")
        (tmp / MARKER).write_text("built by curator site; this folder is replaced on every build\n")
        pages = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*.html"))
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SiteSummary(str(out), len(settings_info), len(loaded), len(reports), pages, warnings)
