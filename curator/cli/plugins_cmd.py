"""``curator plugins``: what is installed and what each plugin registered."""

from __future__ import annotations

import click

from curator.api.registry import get_host
from curator.cli.common import emit, format_option


def _text(doc: dict) -> str:
    lines = []
    for plugin in doc["plugins"]:
        origin = plugin["distribution"] or plugin["module"]
        lines.append(f"{plugin['name']} {plugin['version'] or ''} ({origin})".replace("  ", " "))
        for kind, objs in plugin["registered"].items():
            for obj in objs:
                lines.append(f"  {kind}: {obj['name']} {obj['version']}")
                if kind == "verifier":
                    lines.extend(_verifier_lines(obj))
    for failure in doc["failures"]:
        lines.append(f"FAILED {failure['name']} ({failure['target']}): {failure['error']}")
    return "\n".join(lines)


def _param_text(name: str, schema: dict) -> str:
    kind = schema["enum"] if "enum" in schema else schema.get("type", "any")
    kind = " | ".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    text = f"{name}: {kind}"
    if "default" in schema:
        text += f" = {schema['default']}"
    return text


def _verifier_lines(obj: dict) -> list[str]:
    """What a claim's ``certification`` block needs from this verifier: its certificate type,
    the norms it handles and its params (type, default; * = required)."""
    schema = obj.get("params_schema") or {}
    required = set(schema.get("required") or ())
    params = [("*" if n in required else "") + _param_text(n, s) for n, s in (schema.get("properties") or {}).items()]
    return [f"    certificate: {obj.get('certification', '?')}; norms: {', '.join(obj.get('norms') or []) or '-'}",
            f"    params: {'; '.join(params) if params else '(none)'}"]


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
