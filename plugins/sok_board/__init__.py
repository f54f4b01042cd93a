"""Importer ``sok-board``: the SoK certified-robustness leaderboard (``data/board.yml``) as entries.

The board (sokcertifiedrobustness.github.io) is a YAML list of settings, each with a ranked list
of records ``{score: "98.43%", title, link, venue?, prob, comment?}``. Every record becomes one
``legacy`` entry holding only facts: title, link (and the arXiv/OpenReview ids in it), venue and
year, the number as published, deterministic/probabilistic, and a method name where the record
states one ("Approach name: CC-IBP"). Free-text comments are not copied.

Output is a pure function of the file: ids are derived from the setting and title, and the
provenance date is the snapshot's date, not "now", so re-importing gives byte-identical entries.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import yaml

from curator.api import CuratorError, ImportBatch, Importer, hookimpl
from curator.api.papers import arxiv_id_from_url, normalise_title, openreview_id_from_url, paper_keys, parse_radius

__version__ = "1.0.0"

MAX_BOARD_BYTES = 8 * 1024 * 1024
SNAPSHOT_SOURCE = "sokcertifiedrobustness/sokcertifiedrobustness.github.io@15afd15b data/board.yml"
SNAPSHOT_DATE = "2024-06-12"  # the commit date of that snapshot
SUBMITTER = "sok-board import"

# The board's dataset names → curator dataset slugs.
DATASETS = {
    "mnist": "mnist",
    "cifar-10": "cifar10",
    "cifar10": "cifar10",
    "tinyimagenet": "tinyimagenet",
    "tiny imagenet": "tinyimagenet",
    "imagenet 64x64": "imagenet64",
    "imagenet64": "imagenet64",
    "imagenet": "imagenet",
}
NORMS = {r"\infty": "linf", "2": "l2", "1": "l1"}

_SETTING_RE = re.compile(r"^(?P<dataset>[^,]+),\s*\\\(\\ell_(?P<norm>\\infty|2|1)\\\),\s*\\\(\\epsilon\s*=\s*(?P<radius>[0-9./]+)\\\)$")
_SCORE_RE = re.compile(r"^(?P<num>[0-9]{1,3}(?:\.[0-9]+)?)\s*%$")
_VENUE_YEAR_RE = re.compile(r"\b(?P<year>(?:19|20)[0-9]{2})\b")
_APPROACH_RE = re.compile(r"^\s*approach name\s*:\s*(?P<name>[^<>\n]{1,120}?)\s*$", re.IGNORECASE)
_NEW_ARXIV_RE = re.compile(r"^(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})\.[0-9]{4,5}$")
_HREF_RE = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
TITLE_SLUG_CHARS = 48


class BoardFormatError(CuratorError):
    pass


def _fail(source: Path, pointer: str, message: str) -> BoardFormatError:
    return BoardFormatError(f"{source}: {pointer}: {message}")


def parse_setting(text: str) -> tuple[str, str, str]:
    """``"MNIST,&nbsp; \\(\\ell_\\infty\\),&nbsp; \\(\\epsilon=0.1\\)"`` → ``("mnist", "linf", "0.1")``."""
    plain = re.sub(r"\s+", " ", html.unescape(text).replace("\xa0", " ")).strip()
    m = _SETTING_RE.match(plain)
    if not m:
        raise ValueError(f"unrecognised setting {text!r}")
    name = m.group("dataset").strip().lower()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {m.group('dataset')!r} in setting {text!r}")
    return DATASETS[name], NORMS[m.group("norm")], m.group("radius")


def parse_score(score: Any) -> int | float:
    """``"98.43% "`` → ``98.43``; ``"16%"`` → ``16``: the published digits, as a JSON number."""
    if not isinstance(score, str):
        raise ValueError(f"score {score!r} is not a string like '98.43%'")
    m = _SCORE_RE.match(score.strip())
    if not m:
        raise ValueError(f"score {score!r} is not a percentage like '98.43%'")
    num = m.group("num")
    value: int | float = float(num) if "." in num else int(num)
    if not 0 <= value <= 100:
        raise ValueError(f"score {score!r} is outside 0–100%")
    return value


def split_venue(venue: Any) -> tuple[str | None, int | None]:
    """``"ICLR 2024"`` → ``("ICLR", 2024)``; a venue without a year keeps ``year=None``."""
    if not isinstance(venue, str) or not venue.strip():
        return None, None
    text = re.sub(r"\s+", " ", venue).strip()
    m = _VENUE_YEAR_RE.search(text)
    if not m:
        return text, None
    rest = re.sub(r"\s+", " ", (text[: m.start()] + " " + text[m.end():])).strip()
    return (rest or None), int(m.group("year"))


def year_from_arxiv(aid: str | None) -> int | None:
    """A new-style arXiv id starts with YYMM of its first version: ``2210.04871`` → 2022."""
    m = _NEW_ARXIV_RE.match(aid or "")
    return 2000 + int(m.group("yy")) if m else None


def method_from_comment(comment: Any) -> str | None:
    """Only an explicit "Approach name: X" is a method name; other comments are free text."""
    if not isinstance(comment, str):
        return None
    m = _APPROACH_RE.match(html.unescape(comment))
    return m.group("name") if m else None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalise_title(text)).strip("-")


def title_slug(title: str) -> str:
    """The title's words, trimmed at a word boundary to at most :data:`TITLE_SLUG_CHARS`."""
    s = slug(title)
    if len(s) <= TITLE_SLUG_CHARS:
        return s or "untitled"
    cut = s[: TITLE_SLUG_CHARS + 1].rsplit("-", 1)[0]
    return cut or s[:TITLE_SLUG_CHARS]


def radius_slug(radius_text: str) -> str:
    return re.sub(r"[^0-9]+", "-", radius_text).strip("-")


class SokBoardImporter(Importer):
    name = "sok-board"
    version = __version__
    description = "The SoK certified-robustness leaderboard (sokcertifiedrobustness.github.io data/board.yml)"

    def __init__(self, source_label: str = SNAPSHOT_SOURCE, submitted_at: str = SNAPSHOT_DATE) -> None:
        self.source_label = source_label
        self.submitted_at = submitted_at

    def read(self, source: Path) -> ImportBatch:
        board = self._load(Path(source))
        entries: list[dict[str, Any]] = []
        warnings: list[str] = []
        used_ids: set[str] = set()
        records_by_paper: list[tuple[set[str], str, str, str]] = []  # keys, title, link, where
        comments: dict[str, list[tuple[set[str], str]]] = {}  # comment text → (paper keys, title)

        for s_idx, block in enumerate(board):
            where = f"/{s_idx}"
            if not isinstance(block, dict) or not isinstance(block.get("setting"), str) or not isinstance(block.get("records"), list):
                raise _fail(source, where, "a setting needs 'setting' (text) and 'records' (list)")
            try:
                dataset, norm, radius_text = parse_setting(block["setting"])
                radius = parse_radius(radius_text)
            except ValueError as exc:
                raise _fail(source, where + "/setting", str(exc)) from None
            label = f"{dataset} {norm} {radius_text}"
            if block.get("text"):
                warnings.append(f"{label}: the setting's note is free text and was not imported")
            scores: list[int | float] = []
            for r_idx, record in enumerate(block["records"]):
                rwhere = f"{where}/records/{r_idx}"
                entry, keys = self._entry(source, rwhere, record, dataset, norm, radius, radius_text, used_ids)
                entries.append(entry)
                scores.append(entry["result"]["certified_accuracy"])
                records_by_paper.append((keys, entry["paper"]["title"], entry["paper"]["url"], f"{label} #{r_idx + 1}"))
                comment = record.get("comment")
                if isinstance(comment, str) and comment.strip():
                    comments.setdefault(comment.strip(), []).append((keys, entry["paper"]["title"]))
                    for href in _HREF_RE.findall(comment):
                        if paper_keys({"url": href, "title": ""}) and not (paper_keys({"url": href, "title": ""}) & keys):
                            warnings.append(f"{label} #{r_idx + 1} ({entry['paper']['title']}): "
                                            f"its comment links to another paper ({href})")
            warnings.extend(self._order_warnings(label, scores, block["records"]))
        warnings.extend(self._same_paper_warnings(records_by_paper))
        warnings.extend(self._shared_comment_warnings(comments))
        return ImportBatch(entries=entries, warnings=warnings)

    # ----------------------------------------------------------------------- helpers

    def _load(self, source: Path) -> list[Any]:
        try:
            size = source.stat().st_size
            if size > MAX_BOARD_BYTES:
                raise _fail(source, "/", f"file is {size} bytes, over the {MAX_BOARD_BYTES}-byte limit")
            text = source.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(source, "/", f"not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise BoardFormatError(f"{source}: cannot read: {exc.strerror or exc}") from None
        try:
            board = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise _fail(source, "/", f"malformed YAML: {getattr(exc, 'problem', None) or exc}{where}") from None
        if not isinstance(board, list):
            raise _fail(source, "/", "the board must be a list of settings")
        return board

    def _entry(self, source: Path, where: str, record: Any, dataset: str, norm: str, radius: float,
               radius_text: str, used_ids: set[str]) -> tuple[dict[str, Any], set[str]]:
        if not isinstance(record, dict):
            raise _fail(source, where, "a record must be a mapping")
        title = record.get("title")
        link = record.get("link")
        if not isinstance(title, str) or not title.strip():
            raise _fail(source, where + "/title", "missing title")
        if not isinstance(link, str) or not re.match(r"^https?://\S+$", link.strip()):
            raise _fail(source, where + "/link", f"missing or non-http link {link!r}")
        title = re.sub(r"\s+", " ", title).strip()
        link = link.strip()
        try:
            score = parse_score(record.get("score"))
        except ValueError as exc:
            raise _fail(source, where + "/score", str(exc)) from None
        prob = record.get("prob", False)
        if not isinstance(prob, bool):
            raise _fail(source, where + "/prob", f"prob must be true or false, not {prob!r}")

        paper: dict[str, Any] = {"title": title, "authors": [], "year": None}
        venue, year = split_venue(record.get("venue"))
        aid = arxiv_id_from_url(link)
        if year is None:
            year = year_from_arxiv(aid)
        paper["year"] = year
        if venue:
            paper["venue"] = venue
        paper["url"] = link
        if aid:
            paper["arxiv"] = aid
        orid = openreview_id_from_url(link)
        if orid:
            paper["openreview"] = orid

        method = method_from_comment(record.get("comment"))
        base = f"{dataset}-{norm}-{radius_slug(radius_text)}-{title_slug(title)}"
        eid = base
        if eid in used_ids and method:
            eid = f"{base}-{slug(method)}"
        n = 2
        while eid in used_ids:
            eid = f"{base}-{n}"
            n += 1
        used_ids.add(eid)

        entry: dict[str, Any] = {
            "schema_version": 1,
            "id": eid,
            "paper": paper,
            "setting": {"dataset": dataset, "norm": norm, "radius": radius, "radius_text": radius_text},
            "result": {"certified_accuracy": score},
            "certification": {"type": "probabilistic" if prob else "deterministic"},
        }
        if method:
            entry["training"] = {"method": method}
        entry["provenance"] = {"submitter": SUBMITTER, "submitted_at": self.submitted_at, "source": f"{self.source_label} {where}"}
        entry["status"] = "legacy"
        return entry, paper_keys(paper)

    @staticmethod
    def _order_warnings(label: str, scores: list[int | float], records: list[Any]) -> list[str]:
        out = []
        for i in range(1, len(scores)):
            a, b = scores[i - 1], scores[i]
            ta, tb = records[i - 1].get("title", "?").strip(), records[i].get("title", "?").strip()
            if a == b:
                out.append(f"{label}: #{i} and #{i + 1} tie at {a}% ({ta!r} / {tb!r}); they share a rank")
            elif b > a:
                out.append(f"{label}: #{i + 1} ({tb!r}, {b}%) is listed below #{i} ({ta!r}, {a}%): "
                           "the board's order contradicts its scores")
        return out

    @staticmethod
    def _shared_comment_warnings(comments: dict[str, list[tuple[set[str], str]]]) -> list[str]:
        # The same free-text comment on records of different papers is often a copy-paste slip
        # (the board's l1 rows of one paper carry another paper's comment); the comment is not
        # imported, but a curator should look at those records.
        out = []
        for text, uses in sorted(comments.items()):
            papers: list[tuple[set[str], str]] = []
            for keys, title in uses:
                if not any(keys & other for other, _ in papers):
                    papers.append((keys, title))
            if len(papers) > 1:
                titles = " / ".join(repr(t) for _, t in papers)
                out.append(f"the same comment {text[:60]!r} is on records of {len(papers)} different papers ({titles}): "
                           "copied from another record?")
        return out

    @staticmethod
    def _same_paper_warnings(records: list[tuple[set[str], str, str, str]]) -> list[str]:
        # Group records that share any identity key (union-find over keys), then report groups
        # that use more than one title spelling or link.
        parent: dict[str, str] = {}

        def find(k: str) -> str:
            while parent.setdefault(k, k) != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for keys, *_ in records:
            ks = sorted(keys)
            for k in ks[1:]:
                parent[find(k)] = find(ks[0])
        groups: dict[str, list[tuple[str, str, str]]] = {}
        for keys, title, link, where in records:
            groups.setdefault(find(sorted(keys)[0]), []).append((title, link, where))
        out = []
        for members in groups.values():
            titles = sorted({t for t, _, _ in members})
            links = sorted({u for _, u, _ in members})
            if len(titles) > 1 or len(links) > 1:
                what = []
                if len(titles) > 1:
                    what.append("titles " + " / ".join(repr(t) for t in titles))
                if len(links) > 1:
                    what.append("links " + " / ".join(links))
                out.append(f"one paper under several spellings or links ({len(members)} records): {'; '.join(what)}")
        return sorted(out)


@hookimpl
def register_importers(register):
    register(SokBoardImporter())
