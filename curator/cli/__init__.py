"""The ``curator`` command line. Each command lives in its own module in this package."""

from __future__ import annotations

import sys

import click

from curator import __version__
from curator.cli.threads_option import threads_option
from curator.core.errors import CuratorError


class CuratorGroup(click.Group):
    """Turns :class:`CuratorError` into one ``error: …`` line and its exit code (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CuratorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=CuratorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curator")
@threads_option
def main() -> None:
    """curator — validate, re-verify and publish certified-robustness claims."""


def _register_commands() -> None:
    from curator.cli import (
        approve_cmd,
        benchmark_cmd,
        board_cmd,
        ci_cmd,
        demo_cmd,
        diff_cmd,
        enrich_cmd,
        import_cmd,
        plugins_cmd,
        propose_cmd,
        render_cmd,
        scrape_cmd,
        site_cmd,
        transition_cmd,
        validate_cmd,
        verify_cmd,
    )

    for module in (plugins_cmd, validate_cmd, import_cmd, render_cmd, demo_cmd, scrape_cmd, approve_cmd, diff_cmd,
                   transition_cmd, site_cmd, ci_cmd, enrich_cmd, propose_cmd, verify_cmd, benchmark_cmd, board_cmd):
        for command in module.COMMANDS:
            main.add_command(command)


_register_commands()
