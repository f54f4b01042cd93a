"""``curator enrich``: fill missing paper metadata (arXiv ids, authors, years, published venues)
into existing entries, as a reviewable diff.

Guarantees:

* Only the ``paper`` block changes, and in it only *missing* fields are filled (``authors`` when
  empty, ``year`` when null, ``venue``, ``arxiv``, ``doi``, ``openreview`` when absent). Titles
  and URLs are never rewritten (``validate --online`` reports disagreements for a person to
  judge). Every other byte of the entry — numbers, setting, status — is unchanged; this is
  checked before anything is written (:class:`EnrichError` otherwise).
* A record is used only when its normalised title matches the entry's (difflib ratio ≥ 0.9),
  so a search hit for another paper is never merged in.
* Entries with ``reports`` are skipped: the paper block is part of the claim digest that a
  verification report signs, so changing it would orphan the report.
* Nothing is written unless asked (``apply``), and then each file atomically.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from curator.api import Scraper
from curator.core.errors import CuratorError
from curator.core.jsonio import dumps
from curator.core.refs import title_similarity
from curator.core.venues import is_preprint_venue
from curator.papers.http import HttpClient, ScrapeError
from curator.papers.online_check import TITLE_SIMILARITY_THRESHOLD, strongest_ref
from curator.papers.scrape import link_published, paper_block, resolve

FILLABLE = ("authors", "year", "venue", "arxiv", "doi", "openreview")


class EnrichError(CuratorError):
    pass


@dataclass
class Change:
    file: str
    before: dict[str, Any]
    after: dict[str, Any]
    fields: dict[str, tuple[Any, Any]]
    sources: list[str]

    def diff(self) -> str:
        name = self.file
        try:
            rel = os.path.relpath(name)
            if not rel.startswith(".."):
                name = rel
        except ValueError:  # another drive (Windows)
            pass
        old, new = (f"a/{name}", f"b/{name}") if not os.path.isabs(name) else (name, name)
        return "".join(
            difflib.unified_diff(
                dumps(self.before).splitlines(keepends=True),
                dumps(self.after).splitlines(keepends=True),
                fromfile=old,
                tofile=new,
            )
        )


@dataclass
class EnrichResult:
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": len(self.changes),
            "unchanged": len(self.unchanged),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "failed": [{"file": f, "error": e} for f, e in self.failed],
            "changes": [
                {"file": c.file, "sources": c.sources, "fields": {k: {"old": o, "new": n} for k, (o, n) in c.fields.items()}}
                for c in self.changes
            ],
        }


def _is_missing(paper: dict[str, Any], key: str) -> bool:
    value = paper.get(key)
    return value is None or value == [] or value == ""


def lookup(paper: dict[str, Any], scrapers: list[Scraper], http: HttpClient) -> tuple[dict[str, Any], list[str]]:
    """The paper block the services give for ``paper`` (title-checked), and who answered."""
    title = paper.get("title", "")
    record = resolve(strongest_ref(paper), scrapers, http)
    sources = [record.source or "?"]
    if title_similarity(record.title, title) < TITLE_SIMILARITY_THRESHOLD:
        raise ScrapeError(f"{record.source} answered with another title: {record.title!r}")
    if is_preprint_venue(record.venue):
        linked = link_published(record, scrapers, http)
        if linked is not record:
            sources.append("published")
        record = linked
    by_name = {s.name: s for s in scrapers}
    if record.arxiv is None and "semantic-scholar" in by_name and title:
        # Venue records rarely name the preprint; Semantic Scholar's externalIds do.
        try:
            s2 = by_name["semantic-scholar"].resolve(title, http)
        except ScrapeError:
            s2 = None
        if s2 is not None and s2.arxiv and title_similarity(s2.title, title) >= TITLE_SIMILARITY_THRESHOLD:
            record = replace(record, arxiv=s2.arxiv, authors=record.authors or s2.authors, year=record.year or s2.year)
            sources.append("semantic-scholar")
    if not record.url:
        record = replace(record, url=paper.get("url"))
    return paper_block(record), sources


def merged_paper(paper: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(paper)
    for key in FILLABLE:
        if _is_missing(out, key) and not _is_missing(found, key):
            out[key] = copy.deepcopy(found[key])
    return out


def enrich_entries(
    items: Iterable[tuple[str, dict[str, Any]]],
    scrapers: list[Scraper],
    http: HttpClient,
    progress: Callable[[int, int, str], None] | None = None,
) -> EnrichResult:
    items = list(items)
    result = EnrichResult()
    memo: dict[str, tuple[dict[str, Any], list[str]] | ScrapeError] = {}
    for i, (file, entry) in enumerate(items, 1):
        if progress:
            progress(i, len(items), file)
        paper = entry.get("paper")
        if not isinstance(paper, dict) or not paper.get("title"):
            result.skipped.append((file, "no paper block with a title"))
            continue
        if entry.get("reports"):
            result.skipped.append((file, "has verification reports (the paper block is part of the signed claim)"))
            continue
        if not any(_is_missing(paper, k) for k in FILLABLE):
            result.unchanged.append(file)
            continue
        ref = strongest_ref(paper)
        if ref not in memo:
            try:
                memo[ref] = lookup(paper, scrapers, http)
            except ScrapeError as exc:
                memo[ref] = exc
        answer = memo[ref]
        if isinstance(answer, ScrapeError):
            result.failed.append((file, str(answer)))
            continue
        found, sources = answer
        if title_similarity(found.get("title", ""), paper["title"]) < TITLE_SIMILARITY_THRESHOLD:
            result.failed.append((file, f"the services' title {found.get('title')!r} does not match"))
            continue
        new_paper = merged_paper(paper, found)
        if new_paper == paper:
            result.unchanged.append(file)
            continue
        after = copy.deepcopy(entry)
        after["paper"] = new_paper
        check_only_paper_changed(entry, after, file)
        fields = {k: (paper.get(k), new_paper.get(k)) for k in FILLABLE if paper.get(k) != new_paper.get(k)}
        result.changes.append(Change(file, entry, after, fields, sources))
    return result


def check_only_paper_changed(before: dict[str, Any], after: dict[str, Any], file: str) -> None:
    """The guarantee of this module, checked on every change before it can be written."""
    strip = lambda e: {k: v for k, v in e.items() if k != "paper"}  # noqa: E731
    if dumps(strip(before)) != dumps(strip(after)):
        raise EnrichError(f"{file}: enrich would change more than the paper block; refusing")
    old, new = before["paper"], after["paper"]
    for key, value in old.items():
        if key not in FILLABLE or not _is_missing(old, key):
            if new.get(key) != value:
                raise EnrichError(f"{file}: enrich would rewrite /paper/{key}; refusing")


def apply_changes(changes: list[Change]) -> list[str]:
    from curator.core.jsonio import write_json_atomic

    written = []
    for change in changes:
        write_json_atomic(Path(change.file), change.after)
        written.append(change.file)
    return written
