"""``curator site``: build the static web leaderboard."""

from __future__ import annotations

import click

from curator.cli.common import emit, format_option


@click.command("site")
@click.option("--out", "out", required=True, type=click.Path(path_type=str), help="Output folder (replaced).")
@click.option("--store", "store_root", default="leaderboard", show_default=True,
              type=click.Path(file_okay=False, path_type=str), help="The leaderboard store folder.")
@format_option
def site_command(out, store_root, fmt):
    """Build the static site (HTML + SVG plots) from the store into OUT."""
    from curator.site import build_site

    summary = build_site(store_root, out)

    def text(s):
        lines = [f"wrote {len(s['pages'])} pages to {s['out']}: {s['settings']} settings, {s['entries']} entries, "
                 f"{s['verified']} re-verified"]
        lines += [f"warning: {w}" for w in s["warnings"]]
        return "\n".join(lines)

    emit(summary.as_dict(), fmt, text)


COMMANDS = [site_command]
