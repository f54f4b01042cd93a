"""``curator plugins``: what is installed and what each plugin registered."""

from __future__ import annotations


import click

from ..plugins import get_host
from .common import emit, format_option


def _text(doc: dict) -> str:
    lines = []
    for plugin in doc["plugins"]:
        origin = plugin["distribution"] or plugin["module"]
        lines.append(f"{plugin['name']} {plugin['version'] or ''} ({origin})".replace("  ", " "))
        for kind, objs in plugin["registered"].items():
            for obj in objs:
                lines.append(f"  {kind}: {obj['name']} {obj['version']}")
    for failure in doc["failures"]:
        lines.append(f"FAILED {failure['name']} ({failure['target']}): {failure['error']}")
    return "\n".join(lines)


@click.command("plugins")
@click.option("--strict", is_flag=True, help="Fail if any plugin fails to load or register (CI uses this).")
@format_option
def plugins_command(strict: bool, fmt: str) -> None:
    """List installed plugins with their versions, hooks and registered objects."""
    host = get_host(strict=strict)
    doc = {
        "plugins": host.listing(),
        "failures": [{"name": f.name, "target": f.target, "error": f.error} for f in host.failures],
    }
    emit(doc, fmt, _text)
    if host.failures:
        for failure in host.failures:
            click.echo(f"warning: plugin {failure.name!r} was skipped: {failure.error}", err=True)


COMMANDS = [plugins_command]
