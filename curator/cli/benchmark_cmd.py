"""``curator benchmark``: run a suite (``curator benchmark SUITE.json`` = ``benchmark run``), merge
shard results (``benchmark merge``) and render them (``benchmark render``).

Exit codes: 0 when the run finished without soundness flags; 1 when a soundness flag was raised
(a certificate contradicted by a replayed counterexample) or on any failure; 2 for a wrong
command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from curator.cli.common import emit, format_option
from curator.cli.threads_option import threads_option
from curator.core.errors import UsageError


class DefaultRunGroup(click.Group):
    """``curator benchmark SUITE.json …`` runs the suite: an argument that is not a subcommand
    name is taken as ``run``'s first argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def shard_text(shard: dict[str, Any]) -> str:
    """"shard 1/2", or "2 shards merged" for a merged result (its index is meaningless)."""
    if "merged_from" in shard:
        return f"{len(shard['merged_from'])} shards merged"
    return f"shard {shard['index'] + 1}/{shard['count']}"


def text_summary(result: dict[str, Any], out: Path | None) -> str:
    lines = [f"benchmark {result['suite']['name']}: {result['totals']['cells']} rows, "
             f"{result['totals']['instances']} instances, {result['timings'].get('total', 0):.1f} s "
             f"({shard_text(result['shard'])})"]
    for c in result["cells"]:
        s = c["summary"]
        lines.append(f"  {c['model']:<22} ε={c['radius_text']:<7} {c['method']['label']:<12} "
                     f"{s['accuracy']['value']:6.2f}% ({s['successes']}/{s['n']})  {s['mean_seconds']:.3f} s/inst"
                     + (f"  {s['timeout']} timeouts" if s["timeout"] else ""))
    for r in result["radius"]:
        lines.append(f"  {r['model']:<22} avg certified radius {r['method']['label']:<12} "
                     f"{r['summary']['average_radius']:.4f}  {r['summary']['mean_seconds']:.2f} s/sample")
    for f in result["soundness"]:
        lines.append(f"  SOUNDNESS: {f['model']} sample {f['index']}: {f['detail']}")
    for n in result.get("notes") or []:
        lines.append(f"  note: {n}")
    if out is not None:
        lines.append(f"  result: {out}")
    return "\n".join(lines)


def _finish(result: dict[str, Any], out: Path | None, fmt: str) -> None:
    from curator.benchmark.result import write_result

    if out is not None:
        write_result(out, result)
    emit(result, fmt, lambda r: text_summary(r, out))
    sys.exit(1 if result["soundness"] else 0)


@click.group("benchmark", cls=DefaultRunGroup, invoke_without_command=False)
def benchmark_group() -> None:
    """Every installed verifier on a fixed model zoo (a suite), side by side.

    `curator benchmark SUITE.json [OPTIONS]` is short for `curator benchmark run SUITE.json`.
    Exit code 1 when a certificate is contradicted by a replayed counterexample (soundness flag)."""


@benchmark_group.command("run")
@click.argument("suite", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the result (SUITE-NAME.json, or .shard-I-of-N.json), or a .json file path.")
@click.option("--shard", "shard_text", default="1/1", show_default=True, metavar="I/N",
              help="Run shard I of N (1-based) of every model's samples; merge with `benchmark merge`.")
@click.option("--shared", type=click.Path(path_type=Path, file_okay=False), envvar="CURATOR_SHARED", default=None,
              help="Value of ${CURATOR_SHARED} in the suite (also $CURATOR_SHARED).")
@click.option("--samples", type=click.IntRange(min=1), default=None, help="Only the first N samples of every model.")
@click.option("--model", "models", multiple=True, help="Only this model id (repeatable).")
@click.option("--verifier", "verifiers", multiple=True, help="Only this verifier label (repeatable).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Artifact cache (default: the user cache folder).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@threads_option
@format_option
def run_command(suite: Path, out, shard_text, shared, samples, models, verifiers, device, cache_dir, quiet,
                fmt) -> None:
    """Run SUITE (a suite JSON file) and print the tables' numbers."""
    from curator.benchmark.runner import BenchOptions, result_filename, run_suite
    from curator.cli.verify_cmd import progress_factory
    from curator.core.sampling import parse_shard

    if not suite.is_file():
        raise UsageError(f"{suite}: no such file")
    opts = BenchOptions(shard=parse_shard(shard_text), shared=shared, device=device, cache_dir=cache_dir,
                        samples=samples, models=tuple(models), verifiers=tuple(verifiers), progress=not quiet)
    bars = progress_factory(quiet)
    try:
        result = run_suite(suite, opts, on_progress=bars)
    finally:
        if bars is not None:
            bars.close()
    target = None
    if out is not None:
        target = out if out.suffix == ".json" else out / result_filename(result)
        target.parent.mkdir(parents=True, exist_ok=True)
    _finish(result, target, fmt)


@benchmark_group.command("merge")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@format_option
def merge_command(results: tuple[Path, ...], out: Path, fmt: str) -> None:
    """Merge the shard results of one benchmark run; every number is recomputed."""
    from curator.benchmark.result import load_result, merge_results

    merged = merge_results([load_result(p) for p in results], [str(p) for p in results])
    _finish(merged, out, fmt)


@benchmark_group.command("render")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for README.md and its SVG plots (plots/).")
@format_option
def render_command(results: tuple[Path, ...], out: Path, fmt: str) -> None:
    """Write OUT/README.md (one table per dataset, ε and model) and OUT/plots/*.svg."""
    from curator.benchmark.render import write_markdown
    from curator.benchmark.result import load_result

    written = write_markdown([load_result(p) for p in results], out)
    emit({"written": [str(p) for p in written]}, fmt, lambda d: "\n".join(f"wrote {p}" for p in d["written"]))


COMMANDS = [benchmark_group]
