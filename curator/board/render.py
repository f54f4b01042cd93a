"""The leaderboard as tables: ``leaderboard/README.md`` and ``curator show``.

One table per setting (dataset, norm, radius), ranked by claimed certified accuracy; ties share a
rank (1, 2, 2, 4). The output is a pure function of the entries and the reports kept in the store —
no dates, no environment — so re-rendering an unchanged board gives identical bytes and
``curator render --check`` can tell a stale README from a current one.

Which entries appear: every status except ``refuted`` (a refuted number is not a result). Each row
shows its re-verification state (:mod:`curator.board.reverification`, computed from the stored reports,
never from what an entry says about itself) and, where a valid report exists, curator's measured
certified accuracy with its interval beside the claim. A coverage line per setting and for the
whole board counts the states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from curator.board.reverification import RowState, board_states, coverage
from curator.board.store import load_entries
from curator.core.errors import CuratorError
from curator.core.jsonio import write_text_atomic
from curator.core.radius import RADIUS_TOLERANCE
from curator.core.validate import check_entry

README = "README.md"
DATASET_NAMES = {
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "tinyimagenet": "TinyImageNet",
    "imagenet64": "ImageNet 64x64",
    "imagenet": "ImageNet",
}
NORM_NAMES = {"linf": "ℓ∞", "l2": "ℓ2", "l1": "ℓ1"}
_DATASET_ORDER = {name: i for i, name in enumerate(DATASET_NAMES)}
_NORM_ORDER = {"linf": 0, "l2": 1, "l1": 2}
HEADERS = ["Rank", "Claimed %", "Clean %", "Curator % [99% CI]", "Method", "Paper", "Venue", "Certificate",
           "Re-verification"]
HIDDEN_STATUSES = ("refuted",)


def dataset_key(name: str) -> str:
    """A dataset name without case or punctuation (``CIFAR-10`` → ``cifar10``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Setting:
    dataset: str
    norm: str
    radius: float
    radius_text: str

    @property
    def title(self) -> str:
        return f"{DATASET_NAMES.get(self.dataset, self.dataset)}, {NORM_NAMES.get(self.norm, self.norm)}, ε = {self.radius_text}"

    def sort_key(self) -> tuple:
        return (_DATASET_ORDER.get(self.dataset, len(_DATASET_ORDER)), self.dataset, _NORM_ORDER.get(self.norm, 9), self.radius)

    def matches(self, dataset: str, norm: str, radius: float) -> bool:
        """``dataset`` as a user types it: ``cifar10``, ``CIFAR10``, ``CIFAR-10``, ``cifar_10`` all match."""
        names = {dataset_key(self.dataset), dataset_key(DATASET_NAMES.get(self.dataset, self.dataset))}
        return dataset_key(dataset) in names and self.norm == norm and abs(self.radius - radius) <= RADIUS_TOLERANCE * max(1.0, radius)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "norm": self.norm, "radius": self.radius, "radius_text": self.radius_text}


def _number(value: Any) -> str:
    # str() keeps what the entry holds: 98.43, 16, 69.0 (a JSON number is shown as written).
    return "—" if value is None else str(value)


def _venue(paper: dict[str, Any]) -> str:
    venue, year = paper.get("venue"), paper.get("year")
    if venue is not None and year is not None and str(year) in str(venue):
        year = None  # "ICML 2018" already says it
    parts = [p for p in (venue, year) if p is not None]
    return " ".join(str(p) for p in parts) or "—"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def measured_text(state: RowState) -> str:
    """Curator's certified accuracy with its interval, ``94.32 [93.71, 94.89]``, or ``—``."""
    c = state.certified
    if state.from_report and not c and state.attacked:
        return f"≤ {_pct(state.attacked.get('upper'))} ({state.attacked.get('name')} attack)"
    if not state.from_report or not c or c.get("value") is None:
        return "—"
    return f"{_pct(c['value'])} [{_pct(c.get('lower'))}, {_pct(c.get('upper'))}]"


def state_details(state: RowState) -> list[str]:
    """What follows the state's label in a cell: verifier, clean accuracy or lower bound."""
    parts = []
    if state.verifier:
        parts.append(state.verifier)
    if state.state in ("pending", "superseded") and state.reason:
        parts.append(state.reason)
    if state.state == "unconfirmed" and state.certified:
        parts.append(f"lower bound {_pct(state.certified.get('lower'))}%")
    if state.from_report and state.clean is not None:
        parts.append(f"clean {_pct(state.clean)}%")
    return parts


def status_label(entry: dict[str, Any], state: RowState | None = None) -> str:
    """The row's re-verification label; ``re-verified`` only with a valid stored report (``state``)."""
    from curator.board.reverification import row_state

    label = (state or row_state(None, entry)).label
    return f"{label} (disputed)" if entry.get("status") == "disputed" else label


def group_by_setting(entries: Iterable[dict[str, Any]]) -> list[tuple[Setting, list[dict[str, Any]]]]:
    """Entries grouped by (dataset, norm, radius), settings in board order, hidden statuses dropped.

    Two entries whose radii agree within tolerance share a setting; its heading uses the most
    common ``radius_text``; on a tie a fraction wins ("8/255" over "0.0314"), then alphabetical order.
    """
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for e in entries:
        if e.get("status") in HIDDEN_STATUSES:
            continue
        s = e["setting"]
        key = (s["dataset"], s["norm"], round(float(s["radius"]), 9))
        groups.setdefault(key, []).append(e)
    out = []
    for (dataset, norm, radius), members in groups.items():
        texts: dict[str, int] = {}
        for m in members:
            texts[m["setting"]["radius_text"]] = texts.get(m["setting"]["radius_text"], 0) + 1
        text = sorted(texts, key=lambda t: (-texts[t], "/" not in t, t))[0]
        out.append((Setting(dataset, norm, radius, text), members))
    out.sort(key=lambda item: item[0].sort_key())
    return out


def ranked_rows(entries: list[dict[str, Any]], states: dict[str, RowState] | None = None) -> list[dict[str, Any]]:
    """One setting's entries as ranked rows (competition ranking: ties share a rank).

    ``states`` (``id → RowState``, from :func:`curator.board.reverification.board_states`) give each row
    its re-verification; without them no row is re-verified."""
    states = states if states is not None else board_states(None, entries)
    ordered = sorted(entries, key=lambda e: (-float(e["result"]["certified_accuracy"]), e["id"]))
    rows = []
    rank = 0
    previous = None
    for i, e in enumerate(ordered, start=1):
        cert = e["result"]["certified_accuracy"]
        if cert != previous:
            rank, previous = i, cert
        paper = e["paper"]
        state = states[e["id"]]
        rows.append(
            {
                "rank": rank,
                "id": e["id"],
                "certified_accuracy": cert,
                "clean_accuracy": e["result"].get("clean_accuracy"),
                "measured": measured_text(state),
                "method": (e.get("training") or {}).get("method") or e["certification"].get("verifier"),
                "paper": {"title": paper["title"], "url": paper["url"]},
                "venue": _venue(paper),
                "certificate": e["certification"]["type"],
                "status": status_label(e, state),
                "entry_status": e["status"],
                "report": state.report,
                "details": state_details(state),
                "reverification": state.as_dict(),
            }
        )
    return rows


def _md_text(text: str) -> str:
    # Inside a pipe table: a bare | ends the cell and [ ] would start a link.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("[", "\\[").replace("]", "\\]").replace("\n", " ")


def _md_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20").replace("|", "%7C")


def _md_status(row: dict[str, Any]) -> str:
    rv = row["reverification"]
    label = _md_text(row["status"])
    if row["report"]:
        label = f"[{label}]({_md_url(row['report'])})"
    parts = [label] + [_md_text(p) for p in row["details"]]
    if rv["superseded_by"]:
        parts.append(f"see [{_md_text(rv['superseded_by'])}](#{rv['superseded_by']})")
    return " · ".join(parts)


def _md_row(row: dict[str, Any]) -> list[str]:
    # The anchor names the row (ids are slugs): a superseded row links to it, and a reader can find an entry.
    return [
        f'<a id="{row["id"]}"></a>{row["rank"]}',
        _number(row["certified_accuracy"]),
        _number(row["clean_accuracy"]),
        row["measured"],
        _md_text(row["method"] or "—"),
        f"[{_md_text(row['paper']['title'])}]({_md_url(row['paper']['url'])})",
        _md_text(row["venue"]),
        row["certificate"],
        _md_status(row),
    ]


def render_markdown(entries: Iterable[dict[str, Any]], states: dict[str, RowState] | None = None) -> str:
    """``leaderboard/README.md`` for ``entries`` (schema-valid dicts) and their ``states``
    (:func:`curator.board.reverification.board_states`; default: no stored reports): byte-identical for
    equal input."""
    entries = list(entries)
    states = states if states is not None else board_states(None, entries)
    groups = group_by_setting(entries)
    shown = sum(len(m) for _, m in groups)
    overall = coverage(states[e["id"]] for _, members in groups for e in members)
    lines = [
        "# Leaderboard",
        "",
        "<!-- Generated by `curator render` from leaderboard/entries and leaderboard/reports; do not edit by hand. -->",
        "",
        f"{shown} entries in {len(groups)} settings. **{overall.line()}.**",
        "",
        "Claimed %: certified accuracy as the paper or submitter states it — the percentage of test samples "
        "certified robust *and* correctly classified at the given radius (inputs in [0, 1]); ties share a rank. "
        "Curator %: what curator measured when it re-ran the verifier on the published model, with its 99% "
        "interval.",
        "",
        "Re-verification: **re-verified** — a stored report (linked) on exactly this claim and its full sample "
        "selection confirms the number; **unconfirmed** — curator certified less with its verifier (its lower bound "
        "shown); **refuted** — significantly less than claimed (refuted rows are not listed); **not re-verifiable** "
        "— the reason is given (no public weights, a layer curator's verifiers lack, needs a GPU); **pending** — "
        "public weights exist, the re-run is to come; **claimed** — awaiting verification. Certificate: "
        "*deterministic* bounds hold for every input in the ball; *probabilistic* ones (randomized smoothing) hold "
        "with probability at least 1 − α. To submit a claim, see [docs/submitting.md](../docs/submitting.md).",
        "",
    ]
    for setting, members in groups:
        lines.append(f"## {setting.title}")
        lines.append("")
        lines.append(coverage(states[e["id"]] for e in members).line() + ".")
        lines.append("")
        table = tabulate([_md_row(r) for r in ranked_rows(members, states)], headers=HEADERS, tablefmt="github",
                         disable_numparse=True)
        lines.extend(line.rstrip() for line in table.splitlines())
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def load_valid_entries(root: Path) -> list[dict[str, Any]]:
    """Every entry of the store after a schema check (render refuses an invalid board)."""
    entries = []
    problems = []
    for path, entry in load_entries(root):
        found = [p for p in check_entry(entry, str(path), None) if p.severity == "error"]
        if found:
            problems.extend(found)
        else:
            entries.append(entry)
    if problems:
        lines = "\n".join(str(p) for p in problems[:20])
        raise CuratorError(f"the store {root} has invalid entries (run `curator validate {root}`):\n{lines}")
    return entries


def write_readme(root: Path, check: bool = False) -> bool:
    """Render ``root/README.md`` from ``root/entries``; return True when it was already current.

    With ``check=True`` nothing is written (``curator render --check`` exits 1 on False);
    otherwise a stale or missing README is replaced atomically.
    """
    root = Path(root)
    entries = load_valid_entries(root)
    text = render_markdown(entries, board_states(root, entries))
    target = root / README
    current = target.is_file() and target.read_bytes() == text.encode("utf-8")
    if not current and not check:
        write_text_atomic(target, text)
    return current


def find_setting(entries: Iterable[dict[str, Any]], dataset: str, norm: str, radius: float) -> tuple[Setting, list[dict[str, Any]]] | None:
    for setting, members in group_by_setting(entries):
        if setting.matches(dataset, norm, radius):
            return setting, members
    return None


def terminal_table(rows: list[dict[str, Any]], title_width: int = 60) -> str:
    """A setting's rows for a terminal (tabulate "simple"; titles shortened, links left out)."""
    def short(t: str) -> str:
        return t if len(t) <= title_width else t[: title_width - 1] + "…"

    body = [
        [r["rank"], _number(r["certified_accuracy"]), _number(r["clean_accuracy"]), r["measured"], r["method"] or "—",
         short(r["paper"]["title"]), r["venue"], r["certificate"], r["status"]]
        for r in rows
    ]
    return tabulate(body, headers=HEADERS, tablefmt="simple", disable_numparse=True)
