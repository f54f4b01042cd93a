"""``--threads N``: the CPU thread count of curator's torch work (see :mod:`curator.verify.threads`).

Accepted by the ``curator`` group and by the commands that run models (verify, benchmark run); it
is applied while the command line is parsed, before any command imports torch."""

from __future__ import annotations

import click

from curator.verify import threads

_META_KEY = "curator.verify.threads"


def _apply(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if value is None and _META_KEY in ctx.meta:
        return  # an explicit count given earlier on the command line wins over the default
    try:
        applied = threads.configure(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    if value is not None or _META_KEY not in ctx.meta:
        ctx.meta[_META_KEY] = applied


threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    expose_value=False,
    callback=_apply,
    help=f"CPU threads for torch (also ${threads.ENV}; default: idle CPUs, 1 to {threads.MAX_DEFAULT}, "
    "or OMP_NUM_THREADS when set).",
)
