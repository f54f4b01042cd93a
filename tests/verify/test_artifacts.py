import hashlib
import os
import socket
import threading
from pathlib import Path

import pytest
from werkzeug import Response

from curator.verify.artifacts import ArtifactError, default_cache_dir, fetch, fetch_any

pytestmark = pytest.mark.network

BODY = os.urandom(50_000)
SHA = hashlib.sha256(BODY).hexdigest()


def leftovers(cache: Path) -> list[str]:
    store = cache / "artifacts"
    return sorted(p.name for p in store.iterdir()) if store.exists() else []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATOR_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CURATOR_CACHE")
    assert default_cache_dir().name == "curator"


def test_http_download_then_cache_hit(httpserver, tmp_path):
    httpserver.expect_request("/m.bin").respond_with_data(BODY, content_type="application/octet-stream")
    path = fetch(httpserver.url_for("/m.bin"), SHA, tmp_path, progress=False)
    assert path == tmp_path / "artifacts" / SHA and path.read_bytes() == BODY
    assert leftovers(tmp_path) == [SHA]
    # A hit needs no network at all (the URL is dead) and is re-hashed.
    assert fetch("http://127.0.0.1:9/gone", SHA.upper(), tmp_path) == path
    assert len(httpserver.log) == 1


def test_corrupted_cache_entry_is_refetched(httpserver, tmp_path):
    httpserver.expect_request("/m.bin").respond_with_data(BODY)
    path = fetch(httpserver.url_for("/m.bin"), SHA, tmp_path, progress=False)
    path.write_bytes(b"tampered")
    assert fetch(httpserver.url_for("/m.bin"), SHA, tmp_path, progress=False).read_bytes() == BODY
    assert len(httpserver.log) == 2


def test_wrong_hash_names_both_and_leaves_nothing(httpserver, tmp_path):
    httpserver.expect_request("/m.bin").respond_with_data(BODY)
    wrong = "0" * 64
    with pytest.raises(ArtifactError) as info:
        fetch(httpserver.url_for("/m.bin"), wrong, tmp_path, progress=False)
    assert wrong in str(info.value) and SHA in str(info.value)
    assert leftovers(tmp_path) == []


def test_file_url(tmp_path):
    src = tmp_path / "weights.bin"
    src.write_bytes(BODY)
    cache = tmp_path / "cache"
    assert fetch(src.as_uri(), SHA, cache).read_bytes() == BODY
    with pytest.raises(ArtifactError, match="cannot read"):
        fetch((tmp_path / "missing.bin").as_uri(), "1" * 64, cache)
    with pytest.raises(ArtifactError, match="over the 100-byte limit"):
        fetch(src.as_uri(), "2" * 64, cache, max_bytes=100)


def test_html_page_refused(httpserver, tmp_path):
    page = b"<!DOCTYPE html><html><body>Sign in to download</body></html>"
    httpserver.expect_request("/login").respond_with_data(page, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/sneaky").respond_with_data(page, content_type="application/octet-stream")
    sha = hashlib.sha256(page).hexdigest()
    for route in ("/login", "/sneaky"):
        with pytest.raises(ArtifactError, match="HTML page"):
            fetch(httpserver.url_for(route), sha, tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_size_cap_from_header_and_while_streaming(httpserver, tmp_path):
    httpserver.expect_request("/big").respond_with_data(BODY)

    def chunked(_request):
        return Response((BODY[i : i + 4096] for i in range(0, len(BODY), 4096)), mimetype="application/octet-stream")

    httpserver.expect_request("/stream").respond_with_handler(chunked)
    with pytest.raises(ArtifactError, match="50000 bytes, over the 1000-byte limit"):
        fetch(httpserver.url_for("/big"), SHA, tmp_path, max_bytes=1000, progress=False)
    with pytest.raises(ArtifactError, match="larger than the 10000-byte limit"):
        fetch(httpserver.url_for("/stream"), SHA, tmp_path, max_bytes=10_000, progress=False)
    assert leftovers(tmp_path) == []
    # Streaming without Content-Length works below the cap.
    assert fetch(httpserver.url_for("/stream"), SHA, tmp_path, progress=False).read_bytes() == BODY


def test_5xx_then_200_retried_with_retry_after(httpserver, tmp_path):
    httpserver.expect_ordered_request("/flaky").respond_with_data("busy", status=503, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request("/flaky").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/flaky").respond_with_data("slow down", status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request("/flaky").respond_with_data(BODY)
    path = fetch(httpserver.url_for("/flaky"), SHA, tmp_path, progress=False, backoff=0.01)
    assert path.read_bytes() == BODY and len(httpserver.log) == 4


def test_retries_exhausted_and_4xx_not_retried(httpserver, tmp_path):
    httpserver.expect_request("/down").respond_with_data("no", status=502)
    with pytest.raises(ArtifactError, match="after 3 attempts: HTTP 502"):
        fetch(httpserver.url_for("/down"), SHA, tmp_path, retries=2, backoff=0.01, progress=False)
    assert len(httpserver.log) == 3
    httpserver.clear_log()
    httpserver.expect_request("/nope").respond_with_data("missing", status=404)
    with pytest.raises(ArtifactError, match="HTTP 404"):
        fetch(httpserver.url_for("/nope"), SHA, tmp_path, backoff=0.01, progress=False)
    assert len(httpserver.log) == 1
    assert leftovers(tmp_path) == []


class _TruncatingServer:
    """Announces the full Content-Length, sends half the body, closes: a dropped connection.
    Serves the full body from request number ``heal_after`` on."""

    def __init__(self, body: bytes, heal_after: int):
        self.body, self.heal_after, self.requests = body, heal_after, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.requests += 1
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.body)}\r\nConnection: close\r\n\r\n".encode()
                sent = self.body if self.requests >= self.heal_after else self.body[: len(self.body) // 2]
                conn.sendall(head + sent)

    def close(self):
        self.sock.close()


def test_truncated_body_retried_then_fails(tmp_path):
    server = _TruncatingServer(BODY, heal_after=10**9)
    try:
        with pytest.raises(ArtifactError, match="after 2 attempts"):
            fetch(f"http://127.0.0.1:{server.port}/m.bin", SHA, tmp_path, retries=1, backoff=0.01, progress=False)
        assert server.requests == 2
        assert leftovers(tmp_path) == []
    finally:
        server.close()
    healing = _TruncatingServer(BODY, heal_after=2)
    try:
        assert fetch(f"http://127.0.0.1:{healing.port}/m.bin", SHA, tmp_path, backoff=0.01, progress=False).read_bytes() == BODY
    finally:
        healing.close()


def test_fetch_any_uses_next_mirror(httpserver, tmp_path):
    httpserver.expect_request("/a/m.bin").respond_with_data("gone", status=404)
    httpserver.expect_request("/b/m.bin").respond_with_data(BODY)
    urls = [httpserver.url_for("/a/m.bin"), httpserver.url_for("/b/m.bin")]
    assert fetch_any(urls, SHA, tmp_path, progress=False).read_bytes() == BODY


def test_bad_arguments(tmp_path):
    with pytest.raises(ArtifactError, match="invalid sha256"):
        fetch("http://127.0.0.1:9/x", "abc", tmp_path)
    with pytest.raises(ArtifactError, match="unsupported URL scheme"):
        fetch("ftp://example.org/x", SHA, tmp_path)
    with pytest.raises(ArtifactError, match="no sha256"):
        fetch("http://127.0.0.1:9/x", [], tmp_path)


def test_total_time_bounded(httpserver, tmp_path):
    import time

    def trickle(_request):
        def body():
            for i in range(0, len(BODY), 10_000):
                time.sleep(0.05)
                yield BODY[i : i + 10_000]

        return Response(body(), mimetype="application/octet-stream")

    httpserver.expect_request("/slow").respond_with_handler(trickle)
    with pytest.raises(ArtifactError, match="longer than 0.1 s"):
        fetch(httpserver.url_for("/slow"), SHA, tmp_path, max_seconds=0.1, progress=False)
    assert leftovers(tmp_path) == []


def test_find_local(tmp_path):
    from curator.verify.artifacts import find_local

    good = tmp_path / "a.bin"
    good.write_bytes(BODY)
    assert find_local([tmp_path / "missing", good], SHA) == good
    assert find_local([tmp_path / "missing"], SHA) is None
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        find_local([good], "3" * 64)


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")  # a file where the cache folder should be
    with pytest.raises(ArtifactError, match="not writable"):
        fetch("http://127.0.0.1:9/x", SHA, blocker)
