"""Precision and recall of `curator propose` on hand-labelled LaTeX tables (tests/data/latex/).

Each .tex file holds one or more tables in a style real papers use; expected.json lists the
claims a careful reader would take from them. Files named h*.tex were written after the reader
was frozen (held out); t*.tex were written alongside it. Baselines, measured in the same process:

* keyword: every number of a table whose caption mentions certified/verified accuracy, with
  dataset, norm and radius from the caption only (what a caption-level extractor sees);
* grid-only: curator's own column classifier on the raw grid -- no multicolumn/multirow
  expansion, no error/fraction conversion, no section rows (what each of those is worth).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from curator.papers.latex_tables import find_tables  # noqa: E402
from curator.papers.propose import (  # noqa: E402
    _CERT,
    cell_number,
    datasets_in,
    norms_in,
    propose_from_tables,
    radii_in,
    read_table,
    score_claims,
)

DATA = REPO / "tests" / "data" / "latex"


def baseline(tables):
    out = []
    for t in tables:
        if not _CERT.search(t.caption):
            continue
        ds, ns, rs = datasets_in(t.caption), norms_in(t.caption), radii_in(t.caption)
        if len(ds) != 1 or len(ns) != 1 or len(rs) != 1:
            continue
        for row in t.rows[1:]:
            for cell in row[1:]:
                v = cell_number(cell)
                if v is not None:
                    out.append((next(iter(ds)), next(iter(ns)), rs[0], v))
    return out


def main() -> int:
    expected = json.loads((DATA / "expected.json").read_text())
    files = sorted(p for p in DATA.glob("*.tex"))
    rows = []
    totals = {"curator": [0, 0, 0], "baseline": [0, 0, 0], "grid": [0, 0, 0], "heldout": [0, 0, 0], "insample": [0, 0, 0]}
    t0 = time.perf_counter()
    n_tables = 0
    for path in files:
        tables = find_tables(path.read_text(encoding="utf-8"), path.name)
        n_tables += len(tables)
        labels = [tuple(x) for x in expected[path.name]]
        ours = [(c.dataset, c.norm, c.radius_text, c.certified_accuracy) for c in propose_from_tables(tables)]
        base = baseline(tables)
        raw_tables = find_tables(path.read_text(encoding="utf-8"), path.name, spans=False)
        grid = [(c.dataset, c.norm, c.radius_text, c.certified_accuracy)
                for t in raw_tables for c in read_table(t, convert=False, sections=False).claims]
        s_ours, s_base, s_grid = score_claims(ours, labels), score_claims(base, labels), score_claims(grid, labels)
        split = "heldout" if path.name.startswith("h") else "insample"
        for k in range(3):
            totals["curator"][k] += s_ours[k]
            totals[split][k] += s_ours[k]
            totals["baseline"][k] += s_base[k]
            totals["grid"][k] += s_grid[k]
        rows.append((path.name, len(labels), *s_ours, *s_base))
    elapsed = time.perf_counter() - t0
    print(f"{'file':<40} {'labels':>6} {'TP':>4} {'FP':>4} {'FN':>4} | {'base TP':>7} {'FP':>4} {'FN':>4}")
    for r in rows:
        print(f"{r[0]:<40} {r[1]:>6} {r[2]:>4} {r[3]:>4} {r[4]:>4} | {r[5]:>7} {r[6]:>4} {r[7]:>4}")

    def prf(tp, fp, fn):
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    po, ro, fo = prf(*totals["curator"])
    pb, rb, fb = prf(*totals["baseline"])
    pg, rg, fg = prf(*totals["grid"])
    n_labels = sum(len(v) for k, v in expected.items() if not k.startswith("_"))
    print()
    print(f"{len(files)} files, {n_tables} tables, {n_labels} labelled claims")
    print(f"curator propose : precision {po:.3f}  recall {ro:.3f}  F1 {fo:.3f}  "
          f"(TP {totals['curator'][0]}, FP {totals['curator'][1]}, FN {totals['curator'][2]})")
    print(f"keyword baseline: precision {pb:.3f}  recall {rb:.3f}  F1 {fb:.3f}  "
          f"(TP {totals['baseline'][0]}, FP {totals['baseline'][1]}, FN {totals['baseline'][2]})")
    print(f"grid-only       : precision {pg:.3f}  recall {rg:.3f}  F1 {fg:.3f}  "
          f"(TP {totals['grid'][0]}, FP {totals['grid'][1]}, FN {totals['grid'][2]})")
    for split in ("insample", "heldout"):
        if sum(totals[split]):
            ps, rs_, fs = prf(*totals[split])
            print(f"  curator on {split:<9}: precision {ps:.3f}  recall {rs_:.3f}  F1 {fs:.3f}  "
                  f"(TP {totals[split][0]}, FP {totals[split][1]}, FN {totals[split][2]})")
    print(f"ratio curator/grid-only: F1 x{fo / fg if fg else float('inf'):.2f}; "
          f"curator/keyword: F1 {'x%.2f' % (fo / fb) if fb else 'baseline scores 0'}")
    print(f"reading + extraction: {elapsed * 1000:.1f} ms for {n_tables} tables ({elapsed * 1000 / max(n_tables, 1):.2f} ms/table)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
