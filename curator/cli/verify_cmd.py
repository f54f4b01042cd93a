"""``curator verify``, ``curator merge-reports`` and ``curator report certified-accuracy``.

Exit codes of ``verify`` and ``merge-reports``: 0 when the verdict is ``confirmed`` — or
``partial`` (one shard of a sharded run finished; the verdict comes with ``merge-reports``) —
and 1 for ``refuted``, ``unconfirmed`` and ``error`` and for any failure before a verdict
(invalid entry, hash mismatch, missing data); 2 for a wrong command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from curator.cli.common import emit, format_option
from curator.cli.threads_option import threads_option
from curator.core.errors import UsageError

OK_VERDICTS = ("confirmed", "partial")


def progress_factory(quiet: bool):
    """tqdm bars per phase (per sample, with ETA) on stderr; nothing when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    bars: list[Any] = []

    def make(total: int, desc: str):
        for b in bars:
            b.close()
        bars.clear()
        bar = tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, dynamic_ncols=True, leave=True)
        bars.append(bar)
        return bar.update

    make.close = lambda: [b.close() for b in bars]  # type: ignore[attr-defined]
    return make


def text_summary(report: dict[str, Any], out: Path | None = None) -> str:
    v = report["verdict"]
    c = report["certified_accuracy"]
    t = report["totals"]
    e = report["entry"]
    th = report["threat"]
    smoke = " (SMOKE RUN: not the claim's full selection, cannot publish)" if report.get("smoke_run") else ""
    lines = [
        f"{e['id']}: {v['status'].upper()}{smoke}",
        f"  claimed certified accuracy {e['claimed_certified_accuracy']:.2f}% at {th['norm']} radius "
        f"{th.get('radius_text', th['radius'])}",
        f"  curator certified {c['value']:.2f}% ({t['certified_correct']}/{t['n']}), "
        f"{c['confidence']:.0%} Clopper-Pearson interval [{c['lower']:.2f}%, {c['upper']:.2f}%]",
        f"  verifier {report['verifier']['name']} {report['verifier']['version']} on {report['environment']['device']}, "
        f"seed {report['seed']}; certified {t['certified']}, abstain {t['abstain']}, timeout {t['timeout']}, "
        f"error {t['error']}; {report['timings'].get('total', 0):.1f} s",
    ]
    att = report.get("attack")
    if att and att.get("robust_accuracy"):
        ra = att["robust_accuracy"]
        lines.append(f"  attack {att['name']}: attacked accuracy {ra['value']:.2f}% "
                     f"[{ra['lower']:.2f}%, {ra['upper']:.2f}%]")
    floor = report.get("protocol_floor")
    if floor:
        met = "; ".join(floor["problems"]) if floor["problems"] else "met"
        lines.append(f"  protocol floor of {floor['verifier']} ({floor['rule']}): {met}")
    if "minimum_n" in report:
        lines.append(f"  a confirmation needs n >= {report['minimum_n']} on the claim's full selection")
    if th.get("note"):
        lines.append(f"  threat: {th['note']}")
    for n in report.get("notes") or []:
        lines.append(f"  note: {n}")
    lines.append(f"  verdict: {v['reason']}")
    if out is not None:
        lines.append(f"  report: {out}")
    return "\n".join(lines)


def _finish(report: dict[str, Any], out: Path | None, fmt: str) -> None:
    from curator.verify.report import write_report

    if out is not None:
        write_report(out, report)
    emit(report, fmt, lambda r: text_summary(r, out))
    sys.exit(0 if report["verdict"]["status"] in OK_VERDICTS else 1)


@click.command("verify")
@click.argument("entry", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Only the first N samples of the claim's selection.")
@click.option("--all", "all_", is_flag=True, help="The whole test set, whatever the claim's selection.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--shard", "shard_text", default="1/1", show_default=True, metavar="I/N",
              help="Run shard I of N (1-based); merge the N reports with merge-reports.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the JSON report here (atomically).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Noise/attack seed; default: a fresh random one, recorded in the report (replay with it). "
                   "Required with --shard i/n, n > 1.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="CURATOR_DATA", default=None,
              help="Folder that may already hold the test set (also $CURATOR_DATA); for the npz dataset, the .npz file itself.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Download cache (default: the user cache folder).")
@click.option("--attack", default="pgd", show_default=True,
              help="Attack plugin for the pre-pass and the soundness check; 'none' to skip.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Samples per verifier call.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds per sample before it counts as a timeout.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@threads_option
@format_option
def verify_command(entry: Path, samples, all_, device, shard_text, out, seed, data_dir, cache_dir, attack,
                   batch_size, time_limit, quiet, fmt) -> None:
    """Re-verify the claim in ENTRY (a JSON entry file) and print the verdict.

    Exit code 0: confirmed (or a partial shard); 1: refuted, unconfirmed, error or failure.
    """
    from curator.core.sampling import parse_shard
    from curator.verify.pipeline import VerifyOptions, verify_entry

    if samples is not None and all_:
        raise UsageError("--samples and --all exclude each other")
    if not entry.is_file():
        raise UsageError(f"{entry}: no such file")
    opts = VerifyOptions(samples=samples, all=all_, device=device, shard=parse_shard(shard_text), seed=seed,
                         data_dir=data_dir, cache_dir=cache_dir, attack=None if attack == "none" else attack,
                         batch_size=batch_size, time_limit=time_limit, progress=not quiet)
    bars = progress_factory(quiet)
    try:
        report = verify_entry(entry, opts, on_progress=bars)
    finally:
        if bars is not None:
            bars.close()
    _finish(report, out, fmt)


@click.command("merge-reports")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@format_option
def merge_reports_command(reports: tuple[Path, ...], out: Path, fmt: str) -> None:
    """Merge the shard reports of one run; totals, interval and verdict are recomputed."""
    from curator.verify.report import load_report, merge_reports

    loaded = [load_report(p) for p in reports]
    merged = merge_reports(loaded, [str(p) for p in reports])
    _finish(merged, out, fmt)


@click.group("report")
def report_group() -> None:
    """Recompute figures from per-sample logs."""


@report_group.command("certified-accuracy")
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--radius", "radii", type=click.FloatRange(min=0), multiple=True, required=True,
              help="Radius (repeatable).")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.99,
              show_default=True)
@format_option
def certified_accuracy_command(log: Path, radii: tuple[float, ...], confidence: float, fmt: str) -> None:
    """Certified accuracy at each --radius from a per-sample smoothing LOG in Cohen et al.'s format
    (tab-separated idx label predict radius correct time; predict -1 = abstain)."""
    from curator.verify.cohen_log import certified_accuracy, read_log

    rows = read_log(log)
    data = {"log": str(log), "n": len(rows),
            "results": [{"radius": r, **certified_accuracy(rows, r, confidence).as_dict()} for r in radii]}

    def text(d):
        return "\n".join(f"radius {x['radius']:g}: {x['value']:.2f}% ({x['successes']}/{x['n']}), "
                         f"{x['confidence']:.0%} interval [{x['lower']:.2f}%, {x['upper']:.2f}%]" for x in d["results"])

    emit(data, fmt, text)


COMMANDS = [verify_command, merge_reports_command, report_group]
