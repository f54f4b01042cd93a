"""The leaderboard as tables: ``leaderboard/README.md`` and ``curator show``.

One table per setting (dataset, norm, radius), ranked by certified accuracy; ties share a rank
(1, 2, 2, 4). The output is a pure function of the entries — no dates, no environment — so
re-rendering an unchanged board gives identical bytes and ``curator render --check`` can tell a
stale README from a current one.

Which entries appear: every status except ``refuted`` (a refuted number is not a result). The
status column says ``re-verified`` (linked to the newest confirming report) for ``verified`` /
``published`` entries that carry a report, ``disputed`` for disputed ones, and ``claimed`` for
everything else (legacy imports, submissions awaiting verification).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tabulate import tabulate

from .errors import CuratorError
from .jsonio import write_text_atomic
from .radius import RADIUS_TOLERANCE
from .store import load_entries
from .validate import check_entry

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
HEADERS = ["Rank", "Certified %", "Clean %", "Method", "Paper", "Venue", "Certificate", "Status"]
HIDDEN_STATUSES = ("refuted",)


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
        return self.dataset == dataset and self.norm == norm and abs(self.radius - radius) <= RADIUS_TOLERANCE * max(1.0, radius)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "norm": self.norm, "radius": self.radius, "radius_text": self.radius_text}


def _number(value: Any) -> str:
    # str() keeps what the entry holds: 98.43, 16, 69.0 (a JSON number is shown as written).
    return "—" if value is None else str(value)


def _venue(paper: dict[str, Any]) -> str:
    parts = [p for p in (paper.get("venue"), paper.get("year")) if p is not None]
    return " ".join(str(p) for p in parts) or "—"


def _report(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The newest confirming report, when the status says the claim was re-verified."""
    if entry.get("status") not in ("verified", "published"):
        return None
    confirmed = [r for r in entry.get("reports") or [] if r.get("verdict") == "confirmed"]
    if not confirmed:
        return None
    return sorted(confirmed, key=lambda r: (r.get("date") or "", r.get("path") or ""))[-1]


def status_label(entry: dict[str, Any]) -> str:
    if _report(entry) is not None:
        return "re-verified"
    return "disputed" if entry.get("status") == "disputed" else "claimed"


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


def ranked_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One setting's entries as ranked rows (competition ranking: ties share a rank)."""
    ordered = sorted(entries, key=lambda e: (-float(e["result"]["certified_accuracy"]), e["id"]))
    rows = []
    rank = 0
    previous = None
    for i, e in enumerate(ordered, start=1):
        cert = e["result"]["certified_accuracy"]
        if cert != previous:
            rank, previous = i, cert
        paper = e["paper"]
        report = _report(e)
        rows.append(
            {
                "rank": rank,
                "id": e["id"],
                "certified_accuracy": cert,
                "clean_accuracy": e["result"].get("clean_accuracy"),
                "method": (e.get("training") or {}).get("method") or e["certification"].get("verifier"),
                "paper": {"title": paper["title"], "url": paper["url"]},
                "venue": _venue(paper),
                "certificate": e["certification"]["type"],
                "status": status_label(e),
                "entry_status": e["status"],
                "report": report.get("path") if report else None,
            }
        )
    return rows


def _md_text(text: str) -> str:
    # Inside a pipe table: a bare | ends the cell and [ ] would start a link.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("[", "\\[").replace("]", "\\]").replace("\n", " ")


def _md_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20").replace("|", "%7C")


def _md_row(row: dict[str, Any]) -> list[str]:
    status = row["status"]
    if row["report"]:
        status = f"[{status}]({_md_url(row['report'])})"
    return [
        str(row["rank"]),
        _number(row["certified_accuracy"]),
        _number(row["clean_accuracy"]),
        _md_text(row["method"] or "—"),
        f"[{_md_text(row['paper']['title'])}]({_md_url(row['paper']['url'])})",
        _md_text(row["venue"]),
        row["certificate"],
        status,
    ]


def render_markdown(entries: Iterable[dict[str, Any]]) -> str:
    """``leaderboard/README.md`` for ``entries`` (schema-valid dicts): byte-identical for equal input."""
    entries = list(entries)
    groups = group_by_setting(entries)
    shown = sum(len(m) for _, m in groups)
    lines = [
        "# Leaderboard",
        "",
        "<!-- Generated by `curator render` from leaderboard/entries; do not edit by hand. -->",
        "",
        f"{shown} entries in {len(groups)} settings. Certified accuracy is the percentage of test samples certified "
        "robust *and* correctly classified at the given radius (inputs in [0, 1]). Ties share a rank.",
        "",
        "Status: **re-verified** — curator re-ran the verifier on the published model and the report (linked) "
        "confirmed the number; **claimed** — the number as published, not re-run (imported boards, pending "
        "submissions); **disputed** — under review. Refuted claims are not listed. Certificate: *deterministic* "
        "bounds hold for every input in the ball; *probabilistic* ones (randomized smoothing) hold with probability "
        "at least 1 − α.",
        "",
    ]
    for setting, members in groups:
        lines.append(f"## {setting.title}")
        lines.append("")
        table = tabulate([_md_row(r) for r in ranked_rows(members)], headers=HEADERS, tablefmt="github", disable_numparse=True)
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
    text = render_markdown(load_valid_entries(root))
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
        [r["rank"], _number(r["certified_accuracy"]), _number(r["clean_accuracy"]), r["method"] or "—", short(r["paper"]["title"]),
         r["venue"], r["certificate"], r["status"]]
        for r in rows
    ]
    return tabulate(body, headers=HEADERS, tablefmt="simple", disable_numparse=True)
