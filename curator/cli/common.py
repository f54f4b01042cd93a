"""Options and output helpers shared by the commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format; json is for CI and other programs.",
)


def emit(data: Any, fmt: str, text: Callable[[Any], str]) -> None:
    """Print ``data`` as JSON, or as ``text(data)`` for people."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        out = text(data)
        if out:
            click.echo(out)
