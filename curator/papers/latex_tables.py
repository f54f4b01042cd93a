"""Reading LaTeX tables into grids of plain-text cells.

:func:`find_tables` finds every ``tabular``-like environment (``tabular``, ``tabular*``,
``tabularx``, ``longtable``) of a ``.tex`` text, with the caption of its enclosing ``table``
environment, and splits it into rows (``\\\\``) and cells (``&``). ``\\multicolumn{n}`` is
expanded to ``n`` cells carrying the same text (so a spanning header labels every column below
it), ``\\multirow{n}`` fills the ``n - 1`` empty cells below (negative ``n``: above). Rules
(``\\hline``, ``\\midrule``, ``\\cmidrule``, …) are dropped, but a rule after the first row(s)
marks the end of the header. :func:`clean_cell` reduces markup to text: ``\\textbf{97.4}`` →
``97.4``, ``$\\pm$`` → ``±``, ``$\\ell_\\infty$`` → ``ℓ∞``, ``$\\epsilon$`` → ``ε``.

This is a reader of the table idioms papers use, not a TeX engine: user macros are not expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BEGIN_RE = re.compile(r"\\begin\{(tabular\*|tabularx|tabulary|tabular|longtable)\}")
_TABLE_BEGIN_RE = re.compile(r"\\begin\{(table\*?|sidewaystable\*?|wraptable|figure\*?)\}")


@dataclass
class Table:
    file: str
    index: int  # 0-based position among the tabulars of this file
    caption: str
    rows: list[list[str]]  # cleaned cell text, multicolumn/multirow expanded
    header_rows: int  # rows before the first rule that follows a row (0 = unknown)
    label: str = ""
    raw_rows: list[list[str]] = field(default_factory=list)


def strip_comments(text: str) -> str:
    return re.sub(r"(?<!\\)%[^\n]*", "", text)


def _group(text: str, start: int, open_ch: str = "{", close_ch: str = "}") -> tuple[str, int] | None:
    """The balanced group opening at ``text[start]`` (after spaces): (content, index after it)."""
    i = start
    while i < len(text) and text[i] in " \t\n":
        i += 1
    if i >= len(text) or text[i] != open_ch:
        return None
    depth = 0
    j = i
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
        j += 1
    return None


def _env_end(text: str, name: str, start: int) -> int | None:
    """Index of the ``\\end{name}`` matching a ``\\begin{name}`` that ended at ``start``."""
    begin, end = f"\\begin{{{name}}}", f"\\end{{{name}}}"
    depth = 1
    i = start
    while True:
        nb = text.find(begin, i)
        ne = text.find(end, i)
        if ne < 0:
            return None
        if 0 <= nb < ne:
            depth += 1
            i = nb + len(begin)
            continue
        depth -= 1
        if depth == 0:
            return ne
        i = ne + len(end)


def _command_arg(text: str, command: str) -> str:
    m = re.search(rf"\\{command}\s*(?:\[[^\]]*\])?\s*(?=\{{)", text)
    if not m:
        return ""
    g = _group(text, m.end())
    return g[0] if g else ""


def _split_top(text: str, sep_re: re.Pattern[str]) -> list[str]:
    """Split at matches of ``sep_re`` that are outside braces."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and depth == 0:
            m = sep_re.match(text, i)
            if m:
                parts.append(text[last:i])
                i = last = m.end()
                continue
            i += 2
            continue
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0 and sep_re.pattern == "&" and ch == "&":
            parts.append(text[last:i])
            last = i + 1
        i += 1
    parts.append(text[last:])
    return parts


_ROW_SEP = re.compile(r"\\\\(?:\s*\[[^\]]*\])?|\\tabularnewline")
_CELL_SEP = re.compile("&")
_RULES = re.compile(
    r"\\(?:hline|toprule|midrule|bottomrule|hdashline|cline|cmidrule|addlinespace|specialrule|morecmidrules|noalign|rowcolor|arrayrulecolor|endhead|endfirsthead|endfoot|endlastfoot)\b"
    r"(?:\s*\([^)]*\))?(?:\s*\[[^\]]*\])?(?:\s*\{[^{}]*\})*"
)
_HEADER_RULES = re.compile(r"\\(?:hline|midrule|hdashline|specialrule)\b")


def _rows_of(body: str) -> tuple[list[str], list[bool]]:
    """Row texts and, per row, whether a full rule (``\\hline``, ``\\midrule``) preceded it.

    Partial rules (``\\cmidrule``, ``\\cline``) sit inside multi-row headers and do not count.
    """
    rows: list[str] = []
    ruled: list[bool] = []
    pending = False
    for chunk in _split_top(body, _ROW_SEP):
        had_rule = bool(_HEADER_RULES.search(chunk))
        text = _RULES.sub(" ", chunk).strip()
        if not text:
            pending = pending or had_rule
            continue
        rows.append(text)
        ruled.append(had_rule or pending)
        pending = False
    return rows, ruled


def _cells_of(row: str) -> list[str]:
    return [c for c in _split_top(row, _CELL_SEP)]


_MULTICOL_RE = re.compile(r"^\s*\\multicolumn\s*(?=\{)")
_MULTIROW_RE = re.compile(r"^\s*\\multirow\s*(?:\[[^\]]*\])?\s*(?=\{)")


def _expand_row(cells: list[str], spans: bool = True) -> list[tuple[str, int | None]]:
    """Cells with multicolumn expanded; each item is (raw text, multirow span or None).

    ``spans=False`` (an ablation for the benchmark) keeps a spanning cell in its first column
    only and leaves the rest empty, and drops multirow spans."""
    out: list[tuple[str, int | None]] = []
    for cell in cells:
        span, text = 1, cell
        m = _MULTICOL_RE.match(cell)
        if m:
            g1 = _group(cell, m.end())
            g2 = _group(cell, g1[1]) if g1 else None
            g3 = _group(cell, g2[1]) if g2 else None
            if g1 and g2 and g3:
                try:
                    span = max(1, int(g1[0].strip()))
                except ValueError:
                    span = 1
                text = g3[0] + cell[g3[1]:]
        rows = None
        m = _MULTIROW_RE.match(text)
        if m:
            g1 = _group(text, m.end())
            if g1:
                after = g1[1]
                g2 = None
                # \multirow{n}[bigstruts]{width}[fixup]{text}
                rest = text[after:].lstrip()
                if rest.startswith("["):
                    after = text.index("]", after) + 1
                g2 = _group(text, after)
                if g2:
                    after = g2[1]
                    rest = text[after:].lstrip()
                    if rest.startswith("["):
                        after = text.index("]", after) + 1
                    g3 = _group(text, after)
                    if g3:
                        try:
                            rows = int(g1[0].strip())
                        except ValueError:
                            rows = None
                        text = g3[0] + text[g3[1]:]
        if not spans:
            out.append((text, None))
            out.extend(("", None) for _ in range(span - 1))
            continue
        for _ in range(span):
            out.append((text, rows))
    return out


_ONE_ARG_KEEP = (
    "textbf", "textit", "emph", "underline", "mathbf", "boldsymbol", "bm", "textrm", "text", "mathrm", "textsc",
    "textsf", "texttt", "uline", "hl", "mbox", "ensuremath", "textnormal", "mathit", "mathsf", "textup", "textmd",
    "ul", "bf", "it", "makecell", "shortstack", "thead", "mathcal", "operatorname", "small", "footnotesize",
)
_ONE_ARG_DROP = ("cite", "citep", "citet", "citealp", "ref", "label", "tnote", "footnote", "cellcolor", "color", "textcolor_first",
                 "rowcolor", "vspace", "hspace", "phantom", "rule")


# A cell is a few words; anything longer is cut before cleaning (a hostile source can make
# one "cell" of the whole file). Cleaning is one pass over tokens, linear in the cell's length:
# no pattern below can backtrack over more than one token.
MAX_CELL_CHARS = 2000
_TOKEN = re.compile(r"\\(?:[a-zA-Z]+\*?|.|\Z)|[{}\[\]$~]|\s+|[^\\{}\[\]$~\s]+", re.S)
_SYMBOLS = {"ell": "ℓ", "infty": "∞", "epsilon": "ε", "varepsilon": "ε", "sigma": "σ", "delta": "δ", "pm": "±",
            "mp": "∓", "times": "×", "approx": "≈", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥"}
_ESCAPES = {"%": "%", "&": "&", "_": "_", ",": " ", ";": " ", ":": " ", "!": " ", ">": " ", " ": " "}
_FRACS = ("frac", "tfrac", "dfrac", "nfrac")
_KEEP, _DROP = frozenset(_ONE_ARG_KEEP), frozenset(_ONE_ARG_DROP)


def _group_start(toks: list[str], i: int, next_close: list[int]) -> int | None:
    """Index of the ``{`` that opens a command's argument at ``toks[i:]`` (spaces and one ``[…]``
    option may come first), or None."""
    n = len(toks)
    while i < n and toks[i].isspace():
        i += 1
    if i < n and toks[i] == "[" and next_close[i] >= 0:
        i = next_close[i] + 1
        while i < n and toks[i].isspace():
            i += 1
    return i if i < n and toks[i] == "{" else None


def _next_close(toks: list[str]) -> list[int]:
    out, nxt = [-1] * len(toks), -1
    for k in range(len(toks) - 1, -1, -1):
        nxt = k if toks[k] == "]" else nxt
        out[k] = nxt
    return out


def _markup_to_text(toks: list[str]) -> str:
    """Drop citations, labels and colours with their arguments, keep the text of formatting
    commands, turn ``\frac{a}{b}`` into a/b and symbols into their characters; braces vanish."""
    next_close, out, closers = _next_close(toks), [], []
    dropping, drop_next = 0, False
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        i += 1
        if dropping:
            dropping += (tok == "{") - (tok == "}")
            if dropping == 0 and drop_next and i < n and toks[i] == "{":
                dropping, drop_next, i = 1, False, i + 1
            continue
        if tok == "{":
            closers.append("")
        elif tok == "}":
            out.append(closers.pop() if closers else "")
        elif tok.startswith("\\") and tok[1:2].isalpha():
            name = tok[1:].rstrip("*")
            j = _group_start(toks, i, next_close) if name in _KEEP or name in _DROP or name in _FRACS \
                or name == "textcolor" else None
            if j is None:
                out.append(_SYMBOLS.get(name, ""))
                continue
            i = j + 1
            if name in _DROP or name == "textcolor":
                dropping, drop_next = 1, name != "textcolor"
            else:
                out.append(" " if name in _KEEP else "")
                closers.append(" " if name in _KEEP else "/")
        elif tok.startswith("\\"):
            out.append(_ESCAPES.get(tok[1:], ""))
        elif tok in ("$",):
            continue
        else:
            out.append(" " if tok == "~" or tok.isspace() else tok)
    return "".join(out)


def clean_cell(text: str) -> str:
    toks = _TOKEN.findall(text[:MAX_CELL_CHARS])
    t = " ".join(_markup_to_text(toks).split())
    t = t.replace(" _", "_").replace("_ ", "_")
    t = re.sub(r"ℓ_([∞12])", r"ℓ\1", t)
    t = re.sub(r"\b[Ll]_(∞|[12](?![0-9]))", r"ℓ\1", t)
    t = re.sub(r"\^\*+", "", t)
    return " ".join(t.split())


def _fill_multirows(grid: list[list[tuple[str, int | None]]]) -> list[list[str]]:
    width = max((len(r) for r in grid), default=0)
    out = [[c[0] for c in r] + [""] * (width - len(r)) for r in grid]
    for i, row in enumerate(grid):
        for j, (text, span) in enumerate(row):
            if span is None or span == 0:
                continue
            if span > 0:
                for k in range(i + 1, min(len(out), i + span)):
                    if not out[k][j].strip():
                        out[k][j] = text
            else:
                for k in range(max(0, i + span + 1), i):
                    if not out[k][j].strip():
                        out[k][j] = text
    return out


def parse_tabular(body: str, spans: bool = True) -> tuple[list[list[str]], int, list[list[str]]]:
    rows, ruled = _rows_of(body)
    grid = [_expand_row(_cells_of(r), spans) for r in rows]
    raw = _fill_multirows(grid)
    cleaned = [[clean_cell(c) for c in r] for r in raw]
    header = 0
    for i, flag in enumerate(ruled):
        if i > 0 and flag:
            header = i
            break
    return cleaned, header, raw


def find_tables(text: str, file: str, spans: bool = True) -> list[Table]:
    """Every tabular in ``text`` (comments removed), in document order."""
    text = strip_comments(text)
    tables: list[Table] = []
    floats = []  # (start, end, caption, label) of table-like environments
    for m in _TABLE_BEGIN_RE.finditer(text):
        end = _env_end(text, m.group(1), m.end())
        if end is not None:
            inner = text[m.end() : end]
            floats.append((m.start(), end, _command_arg(inner, "caption"), _command_arg(inner, "label")))
    pos = 0
    while True:
        m = _BEGIN_RE.search(text, pos)
        if not m:
            break
        name = m.group(1)
        end = _env_end(text, name, m.end())
        if end is None:
            break
        i = m.end()
        # skip [pos], {width} (tabular*, tabularx, tabulary) and {colspec}
        rest = text[i:].lstrip()
        i = len(text) - len(rest)
        if rest.startswith("["):
            i = text.index("]", i) + 1
        if name in ("tabular*", "tabularx", "tabulary"):
            g = _group(text, i)
            i = g[1] if g else i
        g = _group(text, i)
        body = text[(g[1] if g else i) : end]
        caption, label = "", ""
        for start, fend, cap, lab in floats:
            if start < m.start() < fend:
                caption, label = cap, lab
        if name == "longtable":
            # A longtable carries its own caption as a row: take it out of the body.
            own = _command_arg(body, "caption")
            if own:
                caption = caption or own
                cm = re.search(r"\\caption\s*(?:\[[^\]]*\])?\s*(?=\{)", body)
                cg = _group(body, cm.end()) if cm else None
                if cm and cg:
                    body = body[: cm.start()] + body[cg[1]:]
                    body = re.sub(r"^\s*(?:\\label\{[^{}]*\})?\s*\\\\", "", body)
        rows, header, raw = parse_tabular(body, spans)
        tables.append(Table(file=file, index=len(tables), caption=clean_cell(caption), rows=rows, header_rows=header, label=label,
                            raw_rows=raw))
        pos = end
    return tables
