"""``curator scrape`` and ``curator new``: paper metadata from the web, and a scaffolded entry."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from curator.api.registry import get_registry
from curator.board.store import slugify
from curator.cli.common import emit, format_option
from curator.core.errors import CuratorError, UsageError
from curator.core.jsonio import dumps, write_text_atomic
from curator.core.radius import parse_radius
from curator.core.refs import normalise_title
from curator.core.schemas import ENTRY_SCHEMA_ID, validate
from curator.papers.http import HttpClient
from curator.papers.scrape import link_published, paper_block, record_dict, resolve

offline_option = click.option(
    "--offline", is_flag=True, help="Answer from the response cache only (expired entries included); a miss is an error."
)


def http_client(offline: bool) -> HttpClient:
    return HttpClient(offline=offline)


def scrape_ref(ref: str, offline: bool, only: str | None = None, published: bool = False):
    registry = get_registry()
    scrapers = registry.all("scraper")
    http = http_client(offline)
    record = resolve(ref, scrapers, http, only=only)
    if published:
        linked = link_published(record, scrapers, http)
        if linked is not record:
            linked.source = f"{record.source}+published"
        record = linked
    return record


def _record_text(doc: dict[str, Any]) -> str:
    r = doc["record"]
    lines = [f"answered by: {doc['scraper']}"]
    for key in ("title", "authors", "year", "venue", "arxiv", "doi", "openreview", "url", "pdf_url"):
        value = r.get(key)
        if value in (None, [], ""):
            continue
        if key == "authors":
            value = "; ".join(value)
        lines.append(f"{key + ':':<11}{value}")
    return "\n".join(lines)


@click.command("scrape")
@click.argument("ref")
@click.option("--scraper", "only", default=None, help="Ask only this scraper (see `curator plugins`).")
@click.option("--published", is_flag=True, help="For a preprint, also look up its published venue/year/DOI.")
@offline_option
@format_option
def scrape_command(ref: str, only: str | None, published: bool, offline: bool, fmt: str) -> None:
    """Resolve REF (URL, arxiv:ID, doi:…, openreview:ID or a title) to paper metadata.

    Prints the normalised record and the scraper that answered; --format json adds the entry's
    ``paper`` block as `curator new` would write it.
    """
    record = scrape_ref(ref, offline, only=only, published=published)
    doc = {"ref": ref, "scraper": record.source, "record": record_dict(record), "paper": paper_block(record)}
    emit(doc, fmt, _record_text)


def offline_record(ref: str, title: str | None = None):
    """A paper record from the reference itself, for ``new --offline`` on a fresh clone (no cached
    scraper answers): the arXiv id, DOI, OpenReview id or URL it names, ``title`` (else the
    reference, marked TODO), no authors, no year — the submitter completes them."""
    from curator.api import PaperRecord
    from curator.core.refs import classify

    r = classify(ref)
    fields = {"arxiv": None, "doi": None, "openreview": None, "url": None}
    if r.kind in fields:
        fields[r.kind] = r.value
    if r.kind == "title":
        raise UsageError(f"--offline: {ref!r} is a title, and titles are resolved online; give arxiv:ID, doi:…, "
                         "openreview:ID or the paper's URL")
    return PaperRecord(title=title or f"TODO: title of {ref}", source="offline: from the reference", **fields)


def default_entry_id(paper: dict[str, Any], dataset: str, norm: str, radius_text: str) -> str:
    """``<first author family name><year>-<dataset>-<norm>-<radius>``, e.g. ``muller2023-cifar10-linf-8-255``."""
    author = paper["authors"][0] if paper.get("authors") else normalise_title(paper["title"]).split(" ")[0]
    family = normalise_title(author).split(" ")[-1] if author else "paper"
    year = paper.get("year") or ""
    eid = slugify(f"{family}{year}-{dataset}-{norm}-{radius_text}")
    return eid[:128].strip("-")


def _submitter() -> str:
    try:
        import git

        name = git.Repo(search_parent_directories=True).config_reader().get_value("user", "name", "")
        if name:
            return str(name)
    except Exception:
        pass
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def build_entry(
    paper: dict[str, Any],
    *,
    dataset: str,
    norm: str,
    radius_text: str,
    certified: float,
    verifier: str,
    cert_type: str,
    params: dict[str, Any],
    clean: float | None,
    n_samples: int | None,
    submitter: str,
    source: str,
    entry_id: str | None,
) -> dict[str, Any]:
    radius = parse_radius(radius_text)
    entry: dict[str, Any] = {
        "schema_version": 1,
        "id": entry_id or default_entry_id(paper, dataset, norm, radius_text),
        "paper": paper,
        "setting": {"dataset": dataset, "norm": norm, "radius": radius, "radius_text": radius_text},
        "result": {"certified_accuracy": certified},
        "certification": {"type": cert_type, "verifier": verifier, "params": params},
        "provenance": {
            "submitter": submitter,
            "submitted_at": datetime.now(UTC).strftime("%Y-%m-%d"),
            "source": source,
        },
        "status": "submitted",
    }
    if clean is not None:
        entry["result"]["clean_accuracy"] = clean
    if n_samples is not None:
        entry["result"]["n_samples"] = n_samples
    return entry


@click.command("new")
@click.option("--paper", "ref", required=True, help="The paper: URL, arxiv:ID, doi:…, openreview:ID or its title.")
@click.option("--dataset", required=True, help="A registered dataset name (mnist, cifar10, …).")
@click.option("--norm", required=True, type=click.Choice(["l1", "l2", "linf"]))
@click.option("--radius", "radius_text", required=True, help="As the paper writes it: 0.1, 8/255, 0.5.")
@click.option("--certified", required=True, type=click.FloatRange(0, 100), help="Certified accuracy in percent.")
@click.option("--verifier", required=True, help="A registered verifier plugin (see `curator plugins`).")
@click.option("--params", "params_json", default="{}", show_default=True, help="Verifier parameters as a JSON object.")
@click.option("--clean", type=click.FloatRange(0, 100), default=None, help="Clean accuracy in percent.")
@click.option("--n-samples", type=click.IntRange(1), default=None, help="Test samples the number was measured on.")
@click.option("--submitter", default=None, help="Who submits (default: git user.name, else the login name).")
@click.option("--id", "entry_id", default=None, help="Entry id (default: <author><year>-<dataset>-<norm>-<radius>).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (atomically) instead of stdout.")
@click.option("--published", is_flag=True, help="For a preprint, fill the published venue/year/DOI.")
@click.option("--title", default=None, help="With --offline and no cached metadata: the paper's title.")
@offline_option
def new_command(ref, dataset, norm, radius_text, certified, verifier, params_json, clean, n_samples, submitter, entry_id, out,
                published, title, offline) -> None:
    """Scaffold a schema-valid entry (status submitted) for a submission PR.

    The paper block comes from the scrape; add the ``model`` block (artifact URL, sha256,
    architecture) before opening the PR so that the claim can be re-verified.
    """
    try:
        parse_radius(radius_text)
    except ValueError as exc:
        raise UsageError(f"--radius: {exc}") from None
    try:
        params = json.loads(params_json)
    except ValueError as exc:
        raise UsageError(f"--params is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise UsageError("--params must be a JSON object")
    registry = get_registry()
    v = registry.verifier(verifier)  # unknown → error listing the installed ones
    cert_type = getattr(v, "certification", "deterministic")
    if cert_type not in ("deterministic", "probabilistic"):
        raise UsageError(f"verifier {verifier!r} is an attack ({cert_type}); a claim needs a certifying verifier")
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(v.params_schema).iter_errors(params), key=lambda e: list(e.path))
    if errors:
        where = "/" + "/".join(str(p) for p in errors[0].path)
        raise UsageError(f"--params {where}: {errors[0].message} (verifier {verifier!r})")
    try:
        record = scrape_ref(ref, offline, published=published)
    except CuratorError as exc:
        if not offline:
            raise
        record = offline_record(ref, title)
        if entry_id is None:
            named = record.arxiv or record.doi or record.openreview or "paper"
            entry_id = slugify(f"{named}-{dataset}-{norm}-{radius_text}")[:128].strip("-")
        click.echo(f"warning: {exc}; the paper block is built from {ref!r} alone — fill in paper.title, "
                   "authors and year (or run without --offline)", err=True)
    entry = build_entry(
        paper_block(record),
        dataset=dataset,
        norm=norm,
        radius_text=radius_text.strip(),
        certified=certified,
        verifier=verifier,
        cert_type=cert_type,
        params=params,
        clean=clean,
        n_samples=n_samples,
        submitter=submitter or _submitter(),
        source=f"curator new --paper {ref} (metadata: {record.source})",
        entry_id=entry_id,
    )
    problems = validate(entry, ENTRY_SCHEMA_ID)
    if problems:
        pointer, message = problems[0]
        raise CuratorError(f"the scaffolded entry is not schema-valid: {pointer or '/'}: {message}")
    text = dumps(entry)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_text_atomic(out, text)
        click.echo(f"wrote {out} (id {entry['id']}, status submitted; add the model block before the PR)", err=True)


COMMANDS = [scrape_command, new_command]
