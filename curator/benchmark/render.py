"""Benchmark results as the SoK-style benchmark page: markdown for the repository, HTML for the site.

Layout: one section per dataset, one subsection per model, one table per ε with a row per
verifier (certified accuracy, mean seconds per instance, timeouts) and the reference rows — the
attack's accuracy (an upper bound on robust accuracy) and clean accuracy — in italics; the best
certified accuracy among verifiers is bold. Then the average certified radius per verifier, the
soundness flags, and a plot of certified accuracy versus ε per verifier (SVG, deterministic).

Output is byte-identical for the same results (no dates; sorted; deterministic SVG).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curator.board.store import slugify
from curator.core.jsonio import write_text_atomic

BENCHMARK_MD = "README.md"
RESULTS_DIR = "benchmark"  # in a leaderboard store: benchmark/*.json → benchmark/README.md + benchmark/plots/


def _pct(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") + "%"


def _slug(text: str) -> str:
    return slugify(text) or "x"


def model_tables(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per model: its info, the ε tables (rows with numbers and flags) and the radius rows."""
    out = []
    flags = {(f["model"], f["index"], f["verifier"]) for f in result["soundness"]}
    for m in result["models"]:
        cells = [c for c in result["cells"] if c["model"] == m["id"]]
        clean = next((c for c in cells if c["method"]["kind"] == "clean"), None)
        radii = sorted({(c["radius"], c["radius_text"]) for c in cells if c["method"]["kind"] != "clean"})
        tables = []
        for radius, text in radii:
            here = [c for c in cells if c["radius_text"] == text and c["method"]["kind"] != "clean"]
            vers = [c for c in here if c["method"]["kind"] == "verifier"]
            best = max((c["summary"]["accuracy"]["value"] for c in vers), default=None)
            rows = []
            for c in vers:
                s = c["summary"]
                n_flag = sum(1 for (mm, _, v) in flags if mm == m["id"] and v == c["method"]["label"])
                rows.append({"label": c["method"]["label"], "kind": "verifier", "accuracy": s["accuracy"]["value"],
                             "successes": s["successes"], "n": s["n"], "seconds": s["mean_seconds"],
                             "timeout": s["timeout"], "error": s["error"],
                             "best": best is not None and best > 0 and s["accuracy"]["value"] == best,
                             "note": c.get("threat_note"), "flags": n_flag})
            for c in here:
                if c["method"]["kind"] == "attack":
                    s = c["summary"]
                    rows.append({"label": f"{c['method']['label']} upper bound", "kind": "attack",
                                 "accuracy": s["accuracy"]["value"], "successes": s["successes"], "n": s["n"],
                                 "seconds": s["mean_seconds"], "timeout": s["timeout"], "error": s["error"],
                                 "best": False, "note": None, "flags": 0})
            if clean is not None:
                s = clean["summary"]
                rows.append({"label": "clean accuracy", "kind": "clean", "accuracy": s["accuracy"]["value"],
                             "successes": s["successes"], "n": s["n"], "seconds": s["mean_seconds"], "timeout": 0,
                             "error": 0, "best": False, "note": None, "flags": 0})
            tables.append({"radius": radius, "radius_text": text, "rows": rows})
        radius_rows = [{"label": r["method"]["label"], "average": r["summary"]["average_radius"],
                        "seconds": r["summary"]["mean_seconds"], "timed_out": r["summary"]["timed_out"],
                        "n": r["summary"]["n"], "search": r["search"]}
                       for r in result["radius"] if r["model"] == m["id"]]
        out.append({"model": m, "tables": tables, "radius": radius_rows,
                    "flags": [f for f in result["soundness"] if f["model"] == m["id"]],
                    "plot": f"{_slug(result['suite']['name'])}-{_slug(m['id'])}.svg"})
    return out


def curve_points(result: dict[str, Any], model_id: str) -> dict[str, list[tuple[float, float]]]:
    """``label → [(ε, accuracy %)]`` for the verifiers and the attack of one model."""
    series: dict[str, list[tuple[float, float]]] = {}
    for c in result["cells"]:
        if c["model"] != model_id or c["method"]["kind"] == "clean":
            continue
        label = c["method"]["label"] + (" (upper bound)" if c["method"]["kind"] == "attack" else "")
        series.setdefault(label, []).append((c["radius"], c["summary"]["accuracy"]["value"]))
    return {k: sorted(v) for k, v in sorted(series.items())}


def accuracy_plot_svg(title: str, series: dict[str, list[tuple[float, float]]], clean: float | None,
                      norm: str) -> str:
    """Certified accuracy versus ε, one line per verifier; the attack dashed, clean accuracy dotted."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    from curator.site.plots import _RC, _svg

    with rc_context(_RC):
        fig = Figure(figsize=(4.6, 2.8))
        ax = fig.add_subplot()
        for i, (label, pts) in enumerate(series.items()):
            style = "--" if label.endswith("(upper bound)") else "-"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", markersize=3, linewidth=1.5,
                    label=label, color=f"C{i % 10}")
        if clean is not None:
            ax.axhline(clean, color="#6e7781", linestyle=":", linewidth=1, label="clean accuracy")
        ax.set_ylim(-2, 102)
        ax.set_xlim(left=0)
        ax.set_title(title)
        ax.set_xlabel(f"ε ({norm})")
        ax.set_ylabel("certified accuracy (%)")
        ax.legend(loc="best", frameon=False, fontsize=7)
        ax.grid(alpha=0.3)
        return _svg(fig)


def plots_for(result: dict[str, Any]) -> dict[str, str]:
    """file name → SVG text, one plot per model."""
    out = {}
    for info in model_tables(result):
        m = info["model"]
        clean = next((c["summary"]["accuracy"]["value"] for c in result["cells"]
                      if c["model"] == m["id"] and c["method"]["kind"] == "clean"), None)
        out[info["plot"]] = accuracy_plot_svg(m.get("title") or m["id"], curve_points(result, m["id"]), clean,
                                              m["norm"])
    return out


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[dict[str, Any]], plots_prefix: str = "plots/") -> str:
    lines = ["# Benchmark", "",
             "Fixed models, every verifier, the same samples — produced by `curator benchmark` (see docs/benchmark.md).",
             "**Bold**: the best certified accuracy among verifiers. *Italic rows* are references: the attack's "
             "accuracy bounds robust accuracy from above, clean accuracy bounds everything. Times are mean seconds "
             "per instance (one sample at one ε).", ""]
    previous = None
    for result in sorted(results, key=lambda r: (r["suite"]["name"], [m["id"] for m in r["models"]])):
        suite = result["suite"]
        if suite["name"] != previous:
            lines += [f"## Suite `{suite['name']}`", ""]
            if suite.get("description"):
                lines += [_md_escape(suite["description"]), ""]
            previous = suite["name"]
        env = result["environment"]
        only = suite.get("only") or {}
        subset = "".join(f"; only {k} {', '.join(v)}" for k, v in sorted(only.items()) if v)
        limit = next((m["selection"]["limit"] for m in result["models"] if "limit" in m["selection"]), None)
        lines += [f"Run: time limit {suite['time_limit']:g} s per instance; seed {result['seed']}; torch {env['torch']} "
                  f"on {env['device']}; total {result['timings'].get('total', 0):.0f} s"
                  + (f"; first {limit} samples" if limit else "") + subset + ".", ""]
        by_dataset: dict[str, list[dict[str, Any]]] = {}
        for info in model_tables(result):
            by_dataset.setdefault(info["model"]["dataset"], []).append(info)
        for dataset in sorted(by_dataset):
            lines += [f"### {dataset}", ""]
            for info in by_dataset[dataset]:
                m = info["model"]
                lines += [f"#### {_md_escape(m.get('title') or m['id'])}", ""]
                meta = [f"model `{m['id']}` ({m['model']['format']}, sha256 `{m['model']['sha256'][:12]}…`)",
                        f"{info['tables'][0]['rows'][0]['n'] if info['tables'] and info['tables'][0]['rows'] else 0} "
                        f"samples ({_md_escape(_selection_text(m['selection']))})"]
                if m.get("source"):
                    meta.append(f"source: {_md_escape(m['source'])}")
                lines += ["; ".join(meta) + ".", ""]
                for t in info["tables"]:
                    lines += [f"**{m['norm']} ε = {t['radius_text']}**", "",
                              "| Method | Certified accuracy | Time (s) | Timeouts |", "| --- | ---: | ---: | ---: |"]
                    for r in t["rows"]:
                        acc = _pct(r["accuracy"])
                        if r["best"]:
                            acc = f"**{acc}**"
                        label = _md_escape(r["label"])
                        if r["kind"] != "verifier":
                            label, acc = f"*{label}*", f"*{acc}*"
                        if r["flags"]:
                            label += f" ⚠ {r['flags']} unsound"
                        lines.append(f"| {label} | {acc} | {r['seconds']:.3f} | {r['timeout'] or ''} |")
                    lines.append("")
                if info["radius"]:
                    lines += ["Average certified radius (0 for misclassified or uncertified samples):", "",
                              "| Verifier | Average radius | Time (s) | Search |", "| --- | ---: | ---: | --- |"]
                    for r in info["radius"]:
                        lines.append(f"| {_md_escape(r['label'])} | {r['average']:.4f} | {r['seconds']:.2f} | "
                                     f"{_search_text(r['search'])} |")
                    lines.append("")
                if info["flags"]:
                    lines += ["Soundness flags:", ""]
                    lines += [f"- sample {f['index']}, {_md_escape(f['verifier'])}: {_md_escape(f.get('detail', ''))}"
                              for f in info["flags"]]
                    lines.append("")
                lines += [f"![certified accuracy versus ε]({plots_prefix}{info['plot']})", ""]
        if result.get("notes"):
            lines += ["Notes:", ""] + [f"- {_md_escape(n)}" for n in result["notes"]] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _selection_text(sel: dict[str, Any]) -> str:
    kind = sel.get("kind", "all")
    if kind == "indices":
        return f"test indices {', '.join(str(i) for i in sel['indices'][:8])}{'…' if len(sel['indices']) > 8 else ''}"
    parts = [kind] + [f"{k}={v}" for k, v in sorted(sel.items()) if k != "kind"]
    return " ".join(parts)


def _search_text(search: dict[str, Any]) -> str:
    if search.get("kind") == "direct":
        return "computed by the verifier"
    return (f"bisection on [{search['low']:g}, {search['high']:g}], tolerance {search['tolerance']:g}, "
            f"≤ {search['max_iterations']} steps, {search['time_limit']:g} s")


def write_markdown(results: Sequence[dict[str, Any]], out: Path, check: bool = False) -> list[Path]:
    """``out/benchmark.md`` and ``out/plots/*.svg``; returns the files that changed (with
    ``check=True`` nothing is written, the stale files are returned)."""
    out = Path(out)
    files = {out / BENCHMARK_MD: render_markdown(results)}
    for r in results:
        for name, svg in plots_for(r).items():
            files[out / "plots" / name] = svg
    changed = []
    for path, text in sorted(files.items()):
        if path.is_file() and path.read_bytes() == text.encode("utf-8"):
            continue
        changed.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
    return changed


def store_results(store_root: Path) -> list[dict[str, Any]]:
    """The merged results kept in a leaderboard store (``benchmark/*.json``), schema-checked."""
    from curator.benchmark.result import load_result

    folder = Path(store_root) / RESULTS_DIR
    if not folder.is_dir():
        return []
    return [load_result(p) for p in sorted(folder.glob("*.json"))]
