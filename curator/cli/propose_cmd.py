"""``curator propose arxiv:ID``: draft entries from the certified-accuracy tables of a paper's
LaTeX source. Drafts have status ``submitted`` and a ``provenance.proposed_from`` pointer; they
are never published automatically."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from curator.api.registry import get_registry
from curator.board.store import slugify
from curator.cli.common import emit, format_option
from curator.core.errors import CuratorError, UsageError
from curator.core.jsonio import write_json_atomic
from curator.core.refs import arxiv_id, normalise_title
from curator.core.schemas import ENTRY_SCHEMA_ID, validate
from curator.papers.eprint import download, read_sources
from curator.papers.http import HttpClient, ScrapeError
from curator.papers.latex_tables import find_tables
from curator.papers.propose import Claim, latex_title, read_table
from curator.papers.scrape import paper_block, resolve


def draft_entry(claim: Claim, paper: dict[str, Any], aid: str) -> dict[str, Any]:
    family = (normalise_title(paper["authors"][0]).split() or ["paper"])[-1] if paper.get("authors") else "arxiv"
    eid = slugify(f"{family}{paper.get('year') or ''}-{claim.dataset}-{claim.norm}-{claim.radius_text}"
                  f"-t{claim.table}-r{claim.row}-c{claim.column}")
    if family == "arxiv":
        eid = slugify(f"arxiv-{aid}-{claim.dataset}-{claim.norm}-{claim.radius_text}-t{claim.table}-r{claim.row}-c{claim.column}")
    result: dict[str, Any] = {"certified_accuracy": claim.certified_accuracy}
    if claim.clean_accuracy is not None:
        result["clean_accuracy"] = claim.clean_accuracy
    return {
        "schema_version": 1,
        "id": eid[:128].strip("-"),
        "paper": paper,
        "setting": {"dataset": claim.dataset, "norm": claim.norm, "radius": claim.radius, "radius_text": claim.radius_text},
        "result": result,
        "certification": {"type": "probabilistic" if claim.smoothing else "deterministic"},
        "training": {"method": claim.method[:120]},
        "provenance": {
            "submitter": "curator propose",
            "submitted_at": datetime.now(UTC).strftime("%Y-%m-%d"),
            "source": (f"arXiv:{aid} LaTeX source, {claim.file}, table {claim.table}, row {claim.row}, "
                       f"column {claim.column}: {claim.cell!r}")[:500],
            "proposed_from": {"file": claim.file[:500], "table": claim.table, "row": claim.row, "column": claim.column},
        },
        "status": "submitted",
    }


def _paper_for(aid: str, sources: dict[str, str], http: HttpClient) -> tuple[dict[str, Any], str]:
    try:
        record = resolve(f"arxiv:{aid}", get_registry().all("scraper"), http, only="arxiv")
        return paper_block(record), "arxiv"
    except ScrapeError as exc:
        title = next((t for name in sorted(sources) if (t := latex_title(sources[name]))), None) or f"arXiv:{aid}"
        click.echo(f"warning: paper metadata from the LaTeX title only ({exc})", err=True)
        return {"title": title[:500], "authors": [], "year": None, "url": f"https://arxiv.org/abs/{aid}", "arxiv": aid}, "latex"


@click.command("propose")
@click.argument("ref")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write one draft entry per claim into this folder (atomically). Without it, only list the claims.")
@click.option("--source", "local", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read this e-print file (.tar.gz / .gz / .tex) instead of downloading it.")
@click.option("--offline", is_flag=True, help="Answer from the response cache only.")
@format_option
def propose_command(ref: str, out: Path | None, local: Path | None, offline: bool, fmt: str) -> None:
    """Propose claims from the certified-accuracy tables of arXiv paper REF (arxiv:ID or URL).

    Downloads the LaTeX source, reads every table about certified / verified accuracy or error,
    and lists (or, with --out, writes) draft entries with status submitted and a
    provenance.proposed_from pointer {file, table, row, column}. Check every draft by hand.
    """
    aid = arxiv_id(ref)
    if aid is None:
        raise UsageError(f"{ref!r} is not an arXiv id or URL (propose reads arXiv LaTeX sources)")
    http = HttpClient(offline=offline)
    data = local.read_bytes() if local else download(aid, http)
    sources = read_sources(data)
    for item in sources.skipped:
        click.echo(f"warning: e-print member skipped: {item}", err=True)
    claims: list[Claim] = []
    tables_read = relevant = 0
    for name in sorted(sources.files):
        for table in find_tables(sources.files[name], name):
            tables_read += 1
            reading = read_table(table)
            relevant += reading.relevant
            claims.extend(reading.claims)
    paper, paper_source = _paper_for(aid, sources.files, http)
    drafts = [draft_entry(c, paper, aid) for c in claims]
    seen: dict[str, int] = {}
    for d in drafts:  # ids must be unique within the proposal
        n = seen.get(d["id"], 0)
        seen[d["id"]] = n + 1
        if n:
            d["id"] = f"{d['id'][:120]}-{n + 1}"
    for d in drafts:
        problems = validate(d, ENTRY_SCHEMA_ID)
        if problems:
            raise CuratorError(f"draft {d['id']} is not schema-valid: {problems[0][0] or '/'}: {problems[0][1]}")
    written: list[str] = []
    if out is not None:
        for d in drafts:
            path = out / f"{d['id']}.json"
            write_json_atomic(path, d)
            written.append(str(path))
    doc = {
        "arxiv": aid,
        "paper": paper,
        "paper_source": paper_source,
        "tex_files": len(sources.files),
        "tables": tables_read,
        "relevant_tables": relevant,
        "claims": [c.as_dict() for c in claims],
        "written": written,
    }

    def text(d: dict[str, Any]) -> str:
        lines = [f"arXiv:{aid}: {d['tex_files']} TeX file(s), {d['tables']} table(s), "
                 f"{d['relevant_tables']} about certified accuracy, {len(claims)} claim(s)"]
        for c in claims:
            clean = f", clean {c.clean_accuracy:g}" if c.clean_accuracy is not None else ""
            lines.append(f"  {c.file} table {c.table} row {c.row} col {c.column}: {c.dataset} {c.norm} {c.radius_text}: "
                         f"{c.certified_accuracy:g}% certified{clean} — {c.method}")
        if written:
            lines.append(f"wrote {len(written)} draft(s) to {out} (status submitted; check each before opening a PR)")
        return "\n".join(lines)

    emit(doc, fmt, text)


COMMANDS = [propose_command]
