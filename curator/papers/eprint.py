"""arXiv e-print sources: download (``https://arxiv.org/e-print/ID``) and safe, in-memory reading.

arXiv serves a paper's source as a gzip'd tar archive, or a single gzip'd ``.tex`` file, or (for
PDF-only submissions) a PDF. :func:`read_sources` returns the archive's TeX files as
``{relative path: text}`` without writing anything to disk, and refuses what could hurt:

* at most :data:`MAX_DOWNLOAD` bytes downloaded and :data:`MAX_UNPACKED` bytes decompressed
  (gzip bombs stop at the cap);
* at most :data:`MAX_MEMBERS` archive members, :data:`MAX_TEX_FILE` bytes per TeX file;
* only regular files are read; a member whose name is absolute, contains ``..`` or a drive,
  or is a link/device is skipped and listed in ``skipped`` — no path can escape.

Base URL: ``CURATOR_ARXIV_EPRINT_URL`` (default ``https://arxiv.org/e-print``).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from curator.papers.http import HttpClient, ScrapeError, base_url

DEFAULT_URL = "https://arxiv.org/e-print"
MAX_DOWNLOAD = 64 * 1024 * 1024
MAX_UNPACKED = 256 * 1024 * 1024
MAX_MEMBERS = 5000
MAX_TEX_FILE = 8 * 1024 * 1024
TEX_SUFFIXES = (".tex", ".tbl", ".table", ".inc")


@dataclass
class Sources:
    files: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "name: why"
    kind: str = ""  # tar | single-tex


def download(arxiv_id: str, http: HttpClient) -> bytes:
    url = f"{base_url('arxiv_eprint', DEFAULT_URL)}/{arxiv_id}"
    return http.get(url, service="arxiv-eprint", max_bytes=MAX_DOWNLOAD, parse=lambda r: r.content)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip stream, at most ``limit`` bytes (ScrapeError beyond)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ScrapeError(f"e-print: corrupt gzip data ({exc})") from None
    if len(out) > limit:
        raise ScrapeError(f"e-print: decompresses to more than {limit} bytes; refused")
    if not d.eof:
        raise ScrapeError("e-print: gzip stream is truncated")
    return out


def safe_member_name(name: str) -> str | None:
    """The member's relative POSIX path, or None if it could point outside the archive."""
    if not name or "\x00" in name or "\\" in name:
        return None
    p = PurePosixPath(name)
    if p.is_absolute() or any(part in ("..", "") for part in p.parts[1:]) or ".." in p.parts or ":" in p.parts[0]:
        return None
    clean = str(PurePosixPath(*[q for q in p.parts if q != "."])) if p.parts else ""
    return clean or None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older TeX sources; every byte decodes


def read_sources(data: bytes) -> Sources:
    if data[:4] == b"%PDF":
        raise ScrapeError("e-print: arXiv has only a PDF for this paper (no LaTeX source to read)")
    raw = _gunzip(data, MAX_UNPACKED) if data[:2] == b"\x1f\x8b" else data
    if raw[:4] == b"%PDF":
        raise ScrapeError("e-print: arXiv has only a PDF for this paper (no LaTeX source to read)")
    sources = Sources()
    if len(raw) > 262 and raw[257:262] == b"ustar" or _looks_like_tar(raw):
        sources.kind = "tar"
        try:
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
                for count, member in enumerate(tar):
                    if count >= MAX_MEMBERS:
                        raise ScrapeError(f"e-print: more than {MAX_MEMBERS} files in the archive; refused")
                    name = safe_member_name(member.name)
                    if name is None:
                        sources.skipped.append(f"{member.name!r}: unsafe path")
                        continue
                    if not member.isfile():
                        if not member.isdir():
                            sources.skipped.append(f"{name}: not a regular file")
                        continue
                    if not name.lower().endswith(TEX_SUFFIXES):
                        continue
                    if member.size > MAX_TEX_FILE:
                        sources.skipped.append(f"{name}: {member.size} bytes, over the {MAX_TEX_FILE}-byte limit")
                        continue
                    fh = tar.extractfile(member)
                    if fh is None:
                        continue
                    sources.files[name] = _decode(fh.read(MAX_TEX_FILE + 1))
        except tarfile.TarError as exc:
            raise ScrapeError(f"e-print: unreadable tar archive ({exc})") from None
    else:
        if b"\\" not in raw[:65536]:
            raise ScrapeError("e-print: the source is neither a tar archive nor a TeX file")
        if len(raw) > MAX_TEX_FILE:
            raise ScrapeError(f"e-print: single TeX file over the {MAX_TEX_FILE}-byte limit")
        sources.kind = "single-tex"
        sources.files["main.tex"] = _decode(raw)
    if not sources.files:
        raise ScrapeError("e-print: the archive holds no .tex file")
    return sources


def _looks_like_tar(raw: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            return tar.next() is not None
    except (tarfile.TarError, EOFError):
        return False

