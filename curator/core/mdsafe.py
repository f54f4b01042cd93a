"""Submitted text in the bot's markdown (PR comments, job summaries, ``curator diff``): shown, never obeyed.

Every string that comes from a submission (titles, ids, settings, file names, validator messages
quoting them) goes through :func:`md_text` (inline: table cells, list items) or :func:`md_block`
(verbatim text in a ``<pre>``). What they neutralise, and why each matters on GitHub:

* HTML tags and entities (``<img>``, ``<a>``, ``<details>``): ``&``, ``<``, ``>``, ``"`` become entities;
* markdown syntax that makes links, images, emphasis, code or headings (``[`` ``]`` ``(`` ``)`` ``!``
  ``*`` ``_`` ``~`` `````` ``#`` ``\\``) and table pipes: numeric character references, which
  markdown shows as the character and never parses again;
* @-mentions and autolinks (``@team``, ``https://…``, ``www.…``, ``a@b.org``): GitHub finds them in
  the *rendered* text, where entities are already decoded, so a ZERO WIDTH SPACE goes after ``@``
  and inside ``://`` / ``www.``;
* line breaks and control characters (a newline ends a table row or starts a block): a space.

The result is capped at ``limit`` characters (an ellipsis marks the cut, made before escaping so
no entity is cut in half).
"""

from __future__ import annotations

import html
import re

ZWSP = "\u200b"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# One character → its safe form; everything else passes through unchanged.
_ENTITIES = {c: f"&#{ord(c)};" for c in "[]()!*_~`#\\|{}"}
_ENTITIES.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})
_MARKUP = re.compile("|".join(re.escape(c) for c in _ENTITIES))
_AUTOLINK = re.compile(r"(?i)(://|www\.)")


def md_text(value: object, limit: int = 200) -> str:
    """``value`` as inert inline markdown: safe in a table cell, a list item or a heading."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    text = _CONTROL.sub(" ", text)
    text = _AUTOLINK.sub(lambda m: m.group(1)[0] + ZWSP + m.group(1)[1:], text)
    text = text.replace("@", "@" + ZWSP)
    return _MARKUP.sub(lambda m: _ENTITIES[m.group(0)], text)


def md_block(text: str, limit: int = 8000) -> str:
    """Untrusted multi-line text shown verbatim: an HTML ``<pre>`` block, its content entity-escaped
    (GitHub renders no markdown, links or mentions inside ``<pre>``)."""
    text = (text or "").strip()
    if len(text) > limit:
        text = text[:limit] + "\n… (truncated)"
    text = _CONTROL.sub(lambda m: m.group(0) if m.group(0) == "\n" else " ", text)
    return f"<pre>{html.escape(text).replace('@', '@' + ZWSP)}</pre>" if text else "<pre>(no output)</pre>"


_PLAIN = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]{0,299}")


def md_code(value: object) -> str:
    """An identifier (id, path) as inline code when it is plain ``[A-Za-z0-9._/-]``; anything else
    as :func:`md_text` (inside backticks entities are not decoded and a backtick would end the span)."""
    text = "" if value is None else str(value)
    return f"`{text}`" if _PLAIN.fullmatch(text) else md_text(text, 300)
