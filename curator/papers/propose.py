"""Candidate claims from a paper's own LaTeX tables (``curator propose``).

Method (see docs/scrapers.md for the measured precision and recall):

1. Tables come from :func:`curator.papers.latex_tables.find_tables` (rows × cells, multicolumn and
   multirow expanded, markup removed, header = the rows before the first full rule).
2. Each column is classified from its header text: a *claim* column reports certified / verified
   / provable accuracy or error ("Cert. acc.", "Verified err.", "CRA"); a *clean* column
   reports standard accuracy or error; *radius*, *σ*, *dataset* and *label* columns give
   context; empirical (PGD, AutoAttack), time and parameter columns are ignored. A column whose
   header is only a radius ("0.25", "ε=2/255") is a claim column when the caption is about
   certified accuracy (the layout of randomized-smoothing tables).
3. Every number in a claim column becomes a claim. Its dataset, norm and radius come from the
   most specific place that names them: the column header, then the row (label cells, a radius
   column), then a section row in the body (``\\multicolumn{5}{l}{MNIST, ε = 0.3}``), then the
   caption when it names exactly one. A norm that is nowhere written is ℓ∞ for k/255 radii and
   ℓ2 for randomized smoothing (σ); otherwise the cell is not proposed.
4. Numbers: ``±`` spreads and bold/underline markup are dropped; a table whose metric values
   are all ≤ 1 is read as fractions (×100); errors become accuracies (100 − error).

"Clean / certified" pairs in one cell (``98.9 / 97.4``) are split when the header or caption
names the order. Limits: transposed tables (methods as columns) and numbers inside running text are not read;
user macros are not expanded. Proposals are drafts (status ``submitted``) for a person to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from curator.core.radius import parse_radius
from curator.papers.latex_tables import Table

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_RADIUS_VALUE = rf"{_NUM}(?:\s*/\s*{_NUM})?"
_CELL_NUMBER = re.compile(
    rf"^[<>≤≥~≈]?\s*({_NUM})\s*%?\s*(?:(?:±|∓|\+/?-)\s*{_NUM}\s*%?)?\s*(?:\(\s*[-+±]?\s*{_NUM}\s*%?\s*\))?\s*$"
)
_PURE_RADIUS = re.compile(rf"^\s*(?:(?:ε|eps(?:ilon)?|δ|r|radius)\s*[=:]?\s*)?({_RADIUS_VALUE})\s*$", re.I)
_RADIUS_IN_TEXT = [
    re.compile(rf"(?<![A-Za-z])(?:ε|eps(?:ilon)?|δ|r)(?:_?(?:test|train))?\s*[=:]\s*({_RADIUS_VALUE})", re.I),
    re.compile(rf"\bradius(?:\s+of)?\s*[=:]?\s*({_RADIUS_VALUE})", re.I),
    re.compile(rf"(?<![\d.])({_NUM}\s*/\s*255)(?![\d])"),
]

_DATASETS = [
    (re.compile(r"fashion[- ]?mnist|\bf-?mnist\b", re.I), "fashion-mnist"),
    (re.compile(r"\bmnist\b", re.I), "mnist"),
    (re.compile(r"cifar[- ]?100\b", re.I), "cifar100"),
    (re.compile(r"cifar[- ]?10\b|\bcifar\b", re.I), "cifar10"),
    (re.compile(r"tiny[- ]?image[- ]?net|\btin\b", re.I), "tinyimagenet"),
    (re.compile(r"image[- ]?net", re.I), "imagenet"),
    (re.compile(r"\bsvhn\b", re.I), "svhn"),
]
_NORMS = [
    (re.compile(r"ε_?∞|ℓ\s*∞|ℓ_?∞|\bl_?inf(?:inity|ty)?\b|\bl\s*-\s*inf|\bL∞|∞\s*-?\s*norm|ℓ_?\{?∞", re.I), "linf"),
    (re.compile(r"ε_2\b|ℓ\s*_?2\b|\bl_?2\b|\bL2\b|ℓ_2", re.I), "l2"),
    (re.compile(r"ℓ\s*_?1\b|\bl_?1\b|\bL1\b|ℓ_1", re.I), "l1"),
]

_CERT = re.compile(r"cert|verif|provabl|\bcra\b|\bvra\b|guarant|robust(?:ness)?\s+(?:test\s+)?(?:acc|err)"
                   r"|rob\.\s*(?:acc|err)|\brob\.?\b", re.I)
_EMPIRICAL = re.compile(r"pgd|attack|\baa\b|empiric|\badv\b|adversarial\s+acc|fgsm|\bcw\b|upper\s+bound|\bemp\.", re.I)
_CLEAN = re.compile(r"clean|standard|natural|\bnat\.?\b|nominal|\bstd\.?\b|^acc(?:uracy)?\.?\s*(?:\(%\))?$|test\s+acc", re.I)
_ERROR = re.compile(r"err", re.I)
_OTHER = re.compile(r"time|\bsec\b|\(s\)|hour|gpu|param|epoch|#|memory|flops|lipschitz|\blip\.|\bbound\b|speed|batch"
                    r"|\blr\b|width|depth|layers|size", re.I)
_SMOOTHING = re.compile(r"σ|sigma|smooth|gaussian noise|noise level", re.I)
_SIGMA_HEADER = re.compile(r"^\s*(?:σ|sigma|noise(?:\s+level)?|σ_?(?:train|test)?)\s*(?:\(.*\))?\s*$", re.I)
_RADIUS_HEADER = re.compile(r"^\s*(?:(?:ε|eps(?:ilon)?|δ)(?:_?(?:test|train|∞|2|1|inf))?|radius|r|perturbation(?:\s+size)?|budget)"
                            r"\s*(?:\(.*\))?\s*$", re.I)
_DATASET_HEADER = re.compile(r"^\s*(?:dataset|data|benchmark)\s*$", re.I)
_NORM_HEADER = re.compile(r"^\s*(?:norm|threat(?:\s+model)?|perturbation|ℓ_?p)\s*$", re.I)


_PAIR = re.compile(rf"^\s*({_NUM})\s*%?\s*/\s*({_NUM})\s*%?\s*$")
_CLEAN_FIRST = re.compile(r"(?:clean|nat\w*\.?|std\.?|standard|nominal)\s*(?:acc\w*\.?)?\s*/\s*(?:cert|verif|rob|prov)", re.I)
_CERT_FIRST = re.compile(r"(?:cert\w*\.?|verif\w*\.?|rob\w*\.?|prov\w*\.?)\s*(?:acc\w*\.?)?\s*/\s*(?:clean|nat|std|standard|nominal)", re.I)


def pair_order(text: str) -> int | None:
    """For "clean / certified" cells (``98.9 / 97.4``): the index of the certified number, read
    from the header or caption that names the pair; None when nothing names it."""
    if _CLEAN_FIRST.search(text or ""):
        return 1
    if _CERT_FIRST.search(text or ""):
        return 0
    return None


def find_dataset(text: str) -> str | None:
    for pattern, slug in _DATASETS:
        if pattern.search(text or ""):
            return slug
    return None


def datasets_in(text: str) -> set[str]:
    found, rest = set(), text or ""
    for pattern, slug in _DATASETS:
        if pattern.search(rest):
            found.add(slug)
            rest = pattern.sub(" ", rest)
    return found


def find_norm(text: str) -> str | None:
    for pattern, norm in _NORMS:
        if pattern.search(text or ""):
            return norm
    return None


def norms_in(text: str) -> set[str]:
    return {norm for pattern, norm in _NORMS if pattern.search(text or "")}


def _canon_radius(value: str) -> str | None:
    value = re.sub(r"\s+", "", value)
    try:
        r = parse_radius(value)
    except ValueError:
        return None
    return value if 0 < r <= 1000 else None


def radii_in(text: str) -> list[str]:
    out: list[str] = []
    for pattern in _RADIUS_IN_TEXT:
        for m in pattern.finditer(text or ""):
            r = _canon_radius(m.group(1))
            if r and all(abs(parse_radius(r) - parse_radius(o)) > 1e-12 for o in out):
                out.append(r)
    return out


def find_radius(text: str) -> str | None:
    found = radii_in(text)
    return found[0] if found else None


def cell_number(text: str) -> float | None:
    m = _CELL_NUMBER.match(text or "")
    return float(m.group(1)) if m else None


@dataclass
class Column:
    index: int
    header: str
    role: str  # claim | clean | radius | sigma | dataset | norm | label | other
    kind: str = "accuracy"  # accuracy | error (claim and clean columns)
    dataset: str | None = None
    norm: str | None = None
    radius: str | None = None


@dataclass
class Claim:
    dataset: str
    norm: str
    radius_text: str
    certified_accuracy: float
    clean_accuracy: float | None
    method: str
    file: str
    table: int
    row: int
    column: int
    kind: str
    cell: str
    smoothing: bool = False
    caption: str = ""

    @property
    def radius(self) -> float:
        return parse_radius(self.radius_text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "norm": self.norm, "radius_text": self.radius_text, "radius": self.radius,
            "certified_accuracy": self.certified_accuracy, "clean_accuracy": self.clean_accuracy, "method": self.method,
            "file": self.file, "table": self.table, "row": self.row, "column": self.column, "kind": self.kind,
            "cell": self.cell, "smoothing": self.smoothing,
        }


@dataclass
class TableReading:
    table: Table
    columns: list[Column] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    relevant: bool = False


def _header_rows(table: Table) -> int:
    if table.header_rows:
        return table.header_rows
    n = 0
    for row in table.rows:
        body = [c for c in row[1:] if c.strip()]
        if body and sum(cell_number(c) is not None for c in body) * 2 >= len(body):
            break
        n += 1
    return min(n, max(0, len(table.rows) - 1))


def classify_columns(table: Table, caption_cert: bool) -> list[Column]:
    n_header = _header_rows(table)
    width = max((len(r) for r in table.rows), default=0)
    cols = []
    for j in range(width):
        cells = []
        for i in range(n_header):
            c = table.rows[i][j] if j < len(table.rows[i]) else ""
            if c and c not in cells:
                cells.append(c)
        header = " ".join(cells)
        col = Column(j, header, "label", dataset=find_dataset(header), norm=find_norm(header))
        pure = [m.group(1) for c in cells if (m := _PURE_RADIUS.match(c))]
        col.radius = _canon_radius(pure[-1]) if pure else find_radius(header)
        last = cells[-1] if cells else ""
        cert, emp = bool(_CERT.search(header)), bool(_EMPIRICAL.search(header))
        clean, other = bool(_CLEAN.search(last) or _CLEAN.search(header)), bool(_OTHER.search(header))
        if _SIGMA_HEADER.match(last):
            col.role = "sigma"
        elif _RADIUS_HEADER.match(last):
            col.role = "radius"
        elif _DATASET_HEADER.match(last):
            col.role = "dataset"
        elif _NORM_HEADER.match(last):
            col.role = "norm"
        elif emp and not (cert and not _EMPIRICAL.search(last)):
            col.role = "other"
        elif cert and not (_CLEAN.search(last) and not _CERT.search(last)):
            col.role = "claim"
        elif clean:
            col.role = "clean"
        elif other:
            col.role = "other"
        elif pure and caption_cert:
            col.role = "claim"  # "0.25 | 0.5 | 0.75" under a certified-accuracy caption
        if col.role in ("claim", "clean"):
            # "Error (%)" over "Standard | Verified": the metric word may sit in a spanning header.
            col.kind = "error" if _ERROR.search(header) and not re.search(r"acc", last, re.I) else "accuracy"
            if col.role == "claim" and pure and not (_CERT.search(header) or _CLEAN.search(header)) and caption_cert:
                col.kind = "error" if _ERROR.search(table.caption) and not re.search(r"acc", table.caption, re.I) else "accuracy"
        cols.append(col)
    return cols


def _section_context(row: list[str]) -> str | None:
    """A body row without numbers that labels the rows below it ("MNIST, ε = 0.3")."""
    cells = [c for c in row if c.strip()]
    if not cells or any(cell_number(c) is not None for c in cells):
        return None
    if len(set(cells)) == 1 or (row[0].strip() and len(cells) == 1):
        return cells[0]
    return None


@dataclass
class _TableFacts:
    """What one table says for all its rows: the caption's and headers' threat-model hints, and
    the scale of its metric cells."""

    caption: str
    smoothing: bool
    datasets: set[str]
    norms: set[str]
    radii: list[str]
    header_norms: set[str]
    scale: float  # 100 when the cells are fractions (and conversion is on), else 1
    convert: bool

    def sole_dataset(self) -> str | None:
        return next(iter(self.datasets)) if len(self.datasets) == 1 else None

    def sole_norm(self) -> str | None:
        if len(self.header_norms) == 1:
            return next(iter(self.header_norms))
        return next(iter(self.norms)) if len(self.norms) == 1 else None


def _table_facts(table: Table, columns: list[Column], n_header: int, convert: bool) -> _TableFacts:
    caption = table.caption or ""
    all_header = " ".join(" ".join(r) for r in table.rows[:n_header])
    # Fractions or percentages: decided once per table from every metric cell.
    values = [v for row in table.rows[n_header:] for c in columns if c.role in ("claim", "clean") and c.index < len(row)
              and (v := cell_number(row[c.index])) is not None]
    return _TableFacts(
        caption=caption,
        smoothing=bool(_SMOOTHING.search(caption) or _SMOOTHING.search(all_header)),
        datasets=datasets_in(caption), norms=norms_in(caption), radii=radii_in(caption),
        header_norms={c.norm for c in columns if c.norm},
        scale=100.0 if convert and values and max(values) <= 1.0 else 1.0,
        convert=convert,
    )


@dataclass
class _RowLabels:
    """A row's label cells: the text that may name a dataset or norm, a radius cell, the method."""

    text: str
    radius_cell: str
    method: str  # with the σ of a smoothing row appended


def _row_labels(row: list[str], columns: list[Column], previous_method: str) -> tuple[_RowLabels, str]:
    """The row's labels, and the method a following row with a blank label inherits."""
    label_cols = [c for c in columns if c.role in ("label", "dataset", "norm", "radius", "sigma") and c.index < len(row)]
    text = " ".join(row[c.index] for c in label_cols if c.role in ("label", "dataset", "norm"))
    radius_cell = next((row[c.index] for c in label_cols if c.role == "radius" and row[c.index].strip()), "")
    sigma_cell = next((row[c.index] for c in label_cols if c.role == "sigma" and row[c.index].strip()), "")
    method = " ".join(dict.fromkeys(row[c.index] for c in label_cols if c.role == "label" and row[c.index].strip()))
    # A blank label cell means "as above" (σ rows of one method, several radii of one model).
    method = method or previous_method
    shown = f"{method} (σ={sigma_cell})".strip() if sigma_cell else method
    return _RowLabels(text, radius_cell, shown), method


def _cell_value(cell: str, col: Column, caption: str) -> tuple[float, float | None] | None:
    """The claimed number of a cell, and the clean accuracy when the cell is a pair of both."""
    value = cell_number(cell)
    if value is not None:
        return value, None
    m = _PAIR.match(cell)
    if m is None:
        return None
    order = pair_order(col.header)
    order = order if order is not None else pair_order(caption)
    if order is None:
        return None
    return float(m.group(order + 1)), float(m.group(2 - order))


def _threat_model(col: Column, labels: _RowLabels, section: str, facts: _TableFacts) -> tuple[str, str, str] | None:
    """(dataset, radius, norm) of a claim cell, from the most specific place that names each."""
    dataset = col.dataset or find_dataset(labels.text) or find_dataset(section) or facts.sole_dataset()
    radius = col.radius
    if radius is None and labels.radius_cell:
        m = _PURE_RADIUS.match(labels.radius_cell)
        radius = _canon_radius(m.group(1)) if m else find_radius(labels.radius_cell)
    radius = radius or find_radius(labels.text) or find_radius(section) or (facts.radii[0] if len(facts.radii) == 1 else None)
    norm = col.norm or find_norm(labels.text) or find_norm(section) or facts.sole_norm()
    if norm is None and radius and "/255" in radius.replace(" ", ""):
        norm = "linf"
    if norm is None and facts.smoothing:
        norm = "l2"
    return (dataset, radius, norm) if dataset and radius and norm else None


def _accuracies(row: list[str], col: Column, columns: list[Column], value: float, pair_clean: float | None,
                facts: _TableFacts) -> tuple[float, float | None] | None:
    """(certified, clean) accuracy in percent; None when the certified one is no percentage."""
    acc = value * facts.scale
    error = col.kind == "error" and facts.convert
    if error:
        acc = 100.0 - acc
    if not 0 <= acc <= 100:
        return None
    clean = _clean_for(row, col, columns, facts.scale)
    if pair_clean is not None:
        clean = round(100.0 - pair_clean * facts.scale if error else pair_clean * facts.scale, 6)
    if clean is not None and clean < acc:
        clean = None
    return acc, clean


def read_table(table: Table, *, convert: bool = True, sections: bool = True) -> TableReading:
    """The claims of one table. ``convert=False`` / ``sections=False`` switch off error→accuracy and
    fraction→percent conversion and section rows (ablations measured by bench/bench_propose.py)."""
    reading = TableReading(table)
    caption = table.caption or ""
    caption_cert = bool(_CERT.search(caption)) and not (_EMPIRICAL.search(caption) and not _CERT.search(caption))
    columns = classify_columns(table, caption_cert)
    reading.columns = columns
    claim_cols = [c for c in columns if c.role == "claim"]
    if not claim_cols:
        return reading
    reading.relevant = True
    n_header = _header_rows(table)
    facts = _table_facts(table, columns, n_header, convert)
    section = ""
    previous_method = ""
    for i in range(n_header, len(table.rows)):
        row = table.rows[i]
        sec = _section_context(row) if sections else None
        if sec is not None:
            section = sec
            previous_method = ""
            continue
        labels, previous_method = _row_labels(row, columns, previous_method)
        for col in claim_cols:
            claim = _read_cell(table, i, col, columns, labels, section, facts) if col.index < len(row) else None
            if claim is not None:
                reading.claims.append(claim)
    return reading


def _read_cell(table: Table, i: int, col: Column, columns: list[Column], labels: _RowLabels, section: str,
               facts: _TableFacts) -> Claim | None:
    row = table.rows[i]
    cell = _cell_value(row[col.index], col, facts.caption)
    where = _threat_model(col, labels, section, facts) if cell is not None else None
    accuracies = _accuracies(row, col, columns, cell[0], cell[1], facts) if where is not None else None
    if accuracies is None:
        return None
    (dataset, radius, norm), (acc, clean) = where, accuracies
    return Claim(
        dataset=dataset, norm=norm, radius_text=radius, certified_accuracy=round(acc, 6),
        clean_accuracy=clean, method=labels.method[:120] or "?", file=table.file, table=table.index, row=i,
        column=col.index, kind=col.kind, cell=row[col.index], smoothing=facts.smoothing, caption=facts.caption,
    )


def _clean_for(row: list[str], claim: Column, columns: list[Column], scale: float) -> float | None:
    candidates = [c for c in columns if c.role == "clean" and c.index < len(row) and (c.dataset in (None, claim.dataset))
                  and (c.radius in (None, claim.radius))]
    if not candidates:
        return None
    left = [c for c in candidates if c.index < claim.index]
    col = left[-1] if left else candidates[0]
    value = cell_number(row[col.index])
    if value is None:
        return None
    value *= scale
    if col.kind == "error":
        value = 100.0 - value
    return round(value, 6) if 0 <= value <= 100 else None


def propose_from_tables(tables: list[Table]) -> list[Claim]:
    claims: list[Claim] = []
    for table in tables:
        claims.extend(read_table(table).claims)
    return claims


def latex_title(text: str) -> str | None:
    """The ``\\title{…}`` of a LaTeX source, markup removed."""
    from curator.papers.latex_tables import _command_arg, clean_cell, strip_comments

    title = _command_arg(strip_comments(text), "title")
    title = clean_cell(re.sub(r"\\\\", " ", title)) if title else ""
    return title or None


def score_claims(predicted: list[tuple[str, str, str, float]], expected: list[tuple[str, str, str, float]],
                 tol: float = 0.005) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of predicted claims against labels.

    A claim is (dataset, norm, radius text, certified accuracy %); two match when dataset and norm
    are equal, the radii agree to 1e-9 and the numbers to ``tol``. Each label matches once.
    """
    remaining = list(expected)
    tp = 0
    for d, n, r, v in predicted:
        for k, (ed, en, er, ev) in enumerate(remaining):
            if d == ed and n == en and abs(parse_radius(r) - parse_radius(er)) < 1e-9 and abs(v - ev) <= tol:
                tp += 1
                del remaining[k]
                break
    return tp, len(predicted) - tp, len(remaining)
