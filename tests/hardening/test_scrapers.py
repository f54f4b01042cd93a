"""Hardening: every scraper against a hostile local server, through ``curator scrape``.

One raw TCP server on 127.0.0.1 stands in for every service (all ``CURATOR_*_URL`` point at it)
and answers *every* request the same bad way: silence past the read timeout, 429, 503, a body cut
short of its Content-Length, or malformed data (invalid JSON / XML / HTML that parses to nothing).
For each scraper and mode: exit 1, one ``error:`` line naming the service, no traceback; each URL is
tried exactly as documented in curator/papers/http.py (transient failures ``1 + CURATOR_HTTP_RETRIES``
times, malformed bodies once — retrying cannot fix them); and nothing is written — the response
cache folder and the working folder are byte-identical before and after. tests/papers/test_http.py
covers each mode on ``HttpClient`` alone; tests/cli/test_scrape_cmd.py three of them for one scraper.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli import main
from scrape_support import PATHS

RETRIES = 2
# (scraper, reference) — each reaches its own service first.
SCRAPERS = {
    "arxiv": ["arxiv:2210.04871", "--scraper", "arxiv"],
    "openreview": ["openreview:mzyZ4wzKlM", "--scraper", "openreview"],
    "semantic-scholar": ["arxiv:2210.04871", "--scraper", "semantic-scholar"],
    "dblp": ["Certified Training: Small Boxes are All You Need", "--scraper", "dblp"],
    "doi": ["doi:10.1109/ICCV.2019.00494", "--scraper", "doi"],
    "proceedings": ["https://proceedings.mlr.press/v139/zhang21b.html", "--scraper", "proceedings"],
}
MODES = ["timeout", "429", "503", "truncated", "malformed"]
TRANSIENT = {"timeout", "429", "503", "truncated"}


class HostileServer:
    def __init__(self):
        self.mode = "503"
        self.paths: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                request = conn.recv(65536).decode("latin-1")
                path = request.split(" ", 2)[1] if request.count(" ") >= 2 else "?"
                self.paths.append(path.split("?", 1)[0])
                conn.sendall(self._reply(path))
                if self.mode == "timeout":
                    self.stop.wait(1.5)
            except OSError:
                pass

    def _reply(self, path: str) -> bytes:
        def resp(status: str, body: bytes, ctype: str, length: int | None = None, extra: str = "") -> bytes:
            n = len(body) if length is None else length
            return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {n}\r\n{extra}"
                    f"Connection: close\r\n\r\n").encode() + body

        if self.mode == "timeout":
            return b""  # accept, read the request, say nothing
        if self.mode == "429":
            return resp("429 Too Many Requests", b"slow down", "text/plain", extra="Retry-After: 0\r\n")
        if self.mode == "503":
            return resp("503 Service Unavailable", b"maintenance", "text/plain")
        if self.mode == "truncated":
            return resp("200 OK", b'{"title": "Certified', "application/json", length=4000)
        # malformed: the content type each service sends, a body that cannot be what it promises
        if "/proc/" in path:
            return resp("200 OK", b"<html><body><p>no citation meta tags at all</p>", "text/html; charset=utf-8")
        if "/arxiv/" in path:
            return resp("200 OK", b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>cut", "application/atom+xml")
        return resp("200 OK", b'{"notes": [{"id": "x", "content": ', "application/json")

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def hostile(monkeypatch, tmp_path):
    server = HostileServer()
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.ERROR)
    for env, path in PATHS.items():
        monkeypatch.setenv(env, server.base + path)
    monkeypatch.setenv("CURATOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CURATOR_RATE_LIMIT_SCALE", "0")
    monkeypatch.setenv("CURATOR_HTTP_RETRIES", str(RETRIES))
    monkeypatch.setenv("CURATOR_HTTP_TIMEOUT", "0.3")
    monkeypatch.delenv("CURATOR_PLUGINS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield server
    server.close()


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scraper", sorted(SCRAPERS))
def test_every_scraper_fails_once_clearly_after_the_documented_retries(hostile, tmp_path, scraper, mode):
    hostile.mode = mode
    cache, work = tmp_path / "cache", tmp_path / "work"
    before = (snapshot(cache), snapshot(work))
    res = CliRunner().invoke(main, ["scrape", *SCRAPERS[scraper]])
    assert res.exit_code == 1, (res.output, res.exception)
    assert res.stderr.startswith("error:") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.output
    assert (snapshot(cache), snapshot(work)) == before
    per_url = collections.Counter(hostile.paths)
    assert per_url, "the scraper never reached the server"
    expected = RETRIES + 1 if mode in TRANSIENT else 1
    assert set(per_url.values()) == {expected}, (mode, per_url)
    assert len(per_url) <= 3  # a fallback may try another endpoint of the same service, no more


def test_a_good_answer_after_the_failures_is_still_accepted(hostile, tmp_path):
    """Control: with the server healed the same command succeeds (the refusals are not blanket)."""
    from scrape_support import fixture_bytes

    body = fixture_bytes("openreview_v2_mzyZ4wzKlM.json")
    hostile.mode = "ok"
    hostile._reply = lambda path: (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                                   "\r\nConnection: close\r\n\r\n").encode() + body
    res = CliRunner().invoke(main, ["scrape", *SCRAPERS["openreview"]])
    assert res.exit_code == 0, res.output
    assert snapshot(tmp_path / "cache")  # now, and only now, something is cached
