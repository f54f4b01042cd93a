"""The scrapers' HTTP client against a local server: retries, Retry-After, timeouts, truncated
and malformed bodies, 404, the cache (expiry, offline, nothing stored on failure), rate limits."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from werkzeug import Response as WResponse

from curator.core.http_policy import retry_after_seconds, user_agent
from curator.papers.http import HttpClient, NotFound, Response, ScrapeError


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATOR_HTTP_RETRIES", raising=False)
    monkeypatch.delenv("CURATOR_RATE_LIMIT_SCALE", raising=False)

    def make(**kw):
        kw.setdefault("cache_dir", tmp_path / "cache")
        kw.setdefault("rate_scale", 0.0)
        kw.setdefault("retries", 2)
        kw.setdefault("read_timeout", 2.0)
        return HttpClient(**kw)

    return make


def cache_files(tmp_path):
    return [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_ok_json_is_cached_and_reused(httpserver, client, tmp_path):
    httpserver.expect_request("/api").respond_with_json({"a": 1})
    c = client()
    assert c.get_json(httpserver.url_for("/api"), service="t") == {"a": 1}
    assert c.get_json(httpserver.url_for("/api"), service="t") == {"a": 1}
    assert len(httpserver.log) == 1 and c.requests_made == 1
    assert len(cache_files(tmp_path)) == 1
    assert not [p for p in cache_files(tmp_path) if p.name.endswith(".tmp")]


def test_user_agent_names_curator_and_a_contact(httpserver, client):
    httpserver.expect_request("/ua").respond_with_json({})
    client().get_json(httpserver.url_for("/ua"), service="t")
    ua = httpserver.log[0][0].headers["User-Agent"]
    assert ua == user_agent() and ua.startswith("curator/") and "mailto:" in ua


def test_expired_cache_is_refetched(httpserver, client):
    httpserver.expect_request("/api").respond_with_json({"a": 1})
    client(ttl=0.0).get_json(httpserver.url_for("/api"), service="t")
    time.sleep(0.01)
    client(ttl=0.0).get_json(httpserver.url_for("/api"), service="t")
    assert len(httpserver.log) == 2


def test_offline_uses_cache_even_expired_and_a_miss_is_a_clear_error(httpserver, client):
    httpserver.expect_request("/api").respond_with_json({"a": 1})
    client().get_json(httpserver.url_for("/api"), service="t")
    assert client(offline=True, ttl=0.0).get_json(httpserver.url_for("/api"), service="t") == {"a": 1}
    with pytest.raises(ScrapeError, match=r"^t: offline and no cached response for .*/other"):
        client(offline=True).get_json(httpserver.url_for("/other"), service="t")
    assert len(httpserver.log) == 1


def test_404_is_not_found_and_not_retried(httpserver, client, tmp_path):
    httpserver.expect_request("/missing").respond_with_data("Resource not found.", status=404)
    with pytest.raises(NotFound) as info:
        client().get_json(httpserver.url_for("/missing"), service="crossref")
    assert str(info.value).startswith("crossref: not found (HTTP 404)")
    assert "\n" not in str(info.value)
    assert len(httpserver.log) == 1 and cache_files(tmp_path) == []


def test_429_waits_for_retry_after_then_succeeds(httpserver, client):
    httpserver.expect_oneshot_request("/busy").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_request("/busy").respond_with_json({"ok": True})
    t0 = time.monotonic()
    assert client().get_json(httpserver.url_for("/busy"), service="t") == {"ok": True}
    assert time.monotonic() - t0 >= 0.95  # honoured even though backoff scaling is 0
    assert len(httpserver.log) == 2


def test_429_with_a_long_retry_after_fails_at_once(httpserver, client):
    httpserver.expect_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "3600"})
    t0 = time.monotonic()
    with pytest.raises(ScrapeError, match=r"HTTP 429.*3600 s, over curator's 60 s limit"):
        client().get_json(httpserver.url_for("/busy"), service="t")
    assert time.monotonic() - t0 < 5 and len(httpserver.log) == 1


def test_5xx_then_ok(httpserver, client):
    httpserver.expect_oneshot_request("/flaky").respond_with_data("oops", status=503)
    httpserver.expect_oneshot_request("/flaky").respond_with_data("oops", status=502)
    httpserver.expect_request("/flaky").respond_with_json([1, 2])
    assert client().get_json(httpserver.url_for("/flaky"), service="t") == [1, 2]
    assert len(httpserver.log) == 3


def test_5xx_forever_gives_up_after_bounded_attempts(httpserver, client, tmp_path):
    httpserver.expect_request("/down").respond_with_data("oops", status=500)
    with pytest.raises(ScrapeError, match=r"^t: HTTP 500 INTERNAL SERVER ERROR after 3 attempts \("):
        client().get_json(httpserver.url_for("/down"), service="t")
    assert len(httpserver.log) == 3 and cache_files(tmp_path) == []


def test_timeout(httpserver, client):
    def slow(request):
        time.sleep(0.8)
        return WResponse("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(ScrapeError, match=r"^t: timed out \(connect 10 s, read 0.3 s\) after 1 attempt "):
        client(read_timeout=0.3, retries=0).get_json(httpserver.url_for("/slow"), service="t")


@pytest.mark.parametrize(
    "body,ctype,parser,message",
    [
        (b'{"notes": [{"id": "abc"', "application/json", "json", "malformed JSON"),
        (b"", "application/json", "json", "empty response"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>Cut", "application/atom+xml", "xml", "malformed XML"),
        (b"\xff\xfe\x00garbage", "application/json; charset=utf-8", "json", "not valid utf-8"),
    ],
)
def test_malformed_or_cut_bodies_are_one_line_errors_and_never_cached(httpserver, client, tmp_path, body, ctype, parser, message):
    httpserver.expect_request("/bad").respond_with_data(body, content_type=ctype)
    c = client()
    with pytest.raises(ScrapeError, match=message) as info:
        getattr(c, f"get_{parser}")(httpserver.url_for("/bad"), service="t")
    assert "\n" not in str(info.value)
    assert cache_files(tmp_path) == []


def test_xml_entity_declarations_refused(httpserver, client):
    httpserver.expect_request("/x").respond_with_data(b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]><f>&a;</f>',
                                                      content_type="text/xml")
    with pytest.raises(ScrapeError, match="entity declarations"):
        client().get_xml(httpserver.url_for("/x"), service="t")


def _raw_server(payload: bytes):
    """A one-connection server that sends ``payload`` and closes: for bodies shorter than their
    Content-Length, which a WSGI server will not produce."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(5)
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(payload)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv, stop, t


def test_truncated_body_is_detected_retried_and_reported(client, tmp_path):
    payload = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n" + b'{"a": [1, 2, 3'
    srv, stop, t = _raw_server(payload)
    try:
        port = srv.getsockname()[1]
        with pytest.raises(ScrapeError, match=r"truncated response .* after 2 attempts"):
            client(retries=1, read_timeout=0.5).get_json(f"http://127.0.0.1:{port}/x", service="t")
    finally:
        stop.set()
        srv.close()
        t.join(2)
    assert cache_files(tmp_path) == []


def test_size_cap(httpserver, client):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(ScrapeError, match="over the 1000-byte limit"):
        client().get(httpserver.url_for("/big"), service="t", max_bytes=1000)


def test_connection_refused_is_one_line(client):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ScrapeError, match=r"^t: cannot connect \(.*\) after 1 attempt"):
        client(retries=0).get_json(f"http://127.0.0.1:{port}/", service="t")


def test_rate_limit_spaces_requests_per_service(httpserver, client):
    httpserver.expect_request("/r").respond_with_json({})
    c = client(rate_scale=1.0, intervals={"slow": 0.25, "fast": 0.0}, use_cache=False)
    t0 = time.monotonic()
    for _ in range(3):
        c.get_json(httpserver.url_for("/r"), service="slow")
    slow = time.monotonic() - t0
    t0 = time.monotonic()
    for _ in range(3):
        c.get_json(httpserver.url_for("/r"), service="fast")
    fast = time.monotonic() - t0
    assert slow >= 0.5  # two waits of 0.25 s
    assert fast < slow


def test_rate_limit_scale_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATOR_RATE_LIMIT_SCALE", "0.5")
    c = HttpClient(cache_dir=tmp_path)
    assert c._interval("arxiv") == pytest.approx(1.5)


def test_retry_after_http_date():
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_seconds(future) <= 31
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None


def test_parser_failure_on_cached_body_refetches(httpserver, client, tmp_path):
    httpserver.expect_request("/v").respond_with_json({"v": 1})
    c = client()
    c.get_json(httpserver.url_for("/v"), service="t")

    def strict(r: Response):
        raise ScrapeError("t: rejected")

    with pytest.raises(ScrapeError, match="rejected"):
        c.get(httpserver.url_for("/v"), service="t", parse=strict)
    assert len(httpserver.log) == 2  # the cached copy was not trusted blindly


def test_request_headers_are_sent_but_are_no_part_of_the_cache_key(httpserver, client):
    httpserver.expect_request("/api").respond_with_json({"a": 1})
    c = client()
    assert c.get_json(httpserver.url_for("/api"), service="t", headers={"x-api-key": "k1"}) == {"a": 1}
    assert c.get_json(httpserver.url_for("/api"), service="t", headers={"x-api-key": "k2"}) == {"a": 1}
    assert len(httpserver.log) == 1 and httpserver.log[0][0].headers["x-api-key"] == "k1"
