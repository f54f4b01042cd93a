"""One HTTP policy for both of curator's HTTP clients: the scrapers' HttpClient and the artifact
downloader send the same User-Agent, retry the same answers the same number of times, refuse the
same long Retry-After, and keep their caches under one root."""

from __future__ import annotations

import hashlib
import os

import pytest

from curator.core.errors import CuratorError
from curator.core.http_policy import GaveUp, RetryPolicy, Transient, cache_root, retry_after_seconds, user_agent
from curator.papers.http import HttpClient
from curator.verify import artifacts

pytestmark = pytest.mark.network

BODY = os.urandom(4096)
SHA = hashlib.sha256(BODY).hexdigest()


def scraper_get(url: str, tmp_path) -> None:
    HttpClient(cache_dir=tmp_path / "http", rate_scale=0.0, use_cache=False).get(url, service="t")


def artifact_get(url: str, tmp_path) -> None:
    artifacts.fetch(url, SHA, tmp_path, backoff=0.0, progress=False)


CLIENTS = pytest.mark.parametrize("get", [scraper_get, artifact_get], ids=["scrapers", "artifacts"])


@pytest.fixture(autouse=True)
def two_retries(monkeypatch):
    monkeypatch.setenv("CURATOR_HTTP_RETRIES", "2")


@CLIENTS
def test_both_clients_send_the_one_user_agent(httpserver, tmp_path, get):
    httpserver.expect_request("/x").respond_with_data(BODY, content_type="application/octet-stream")
    get(httpserver.url_for("/x"), tmp_path)
    ua = httpserver.log[0][0].headers["User-Agent"]
    assert ua == user_agent() and ua.startswith("curator/") and "mailto:" in ua


@CLIENTS
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(httpserver, tmp_path, get, status):
    for _ in range(2):
        httpserver.expect_ordered_request("/x").respond_with_data("busy", status=status)
    httpserver.expect_ordered_request("/x").respond_with_data(BODY, content_type="application/octet-stream")
    get(httpserver.url_for("/x"), tmp_path)
    assert len(httpserver.log) == 3


@CLIENTS
def test_retries_come_from_curator_http_retries_for_both(httpserver, tmp_path, get):
    httpserver.expect_request("/x").respond_with_data("down", status=503)
    with pytest.raises(CuratorError) as info:
        get(httpserver.url_for("/x"), tmp_path)
    assert "HTTP 503" in str(info.value) and "after 3 attempts" in str(info.value)
    assert len(httpserver.log) == 3


@CLIENTS
def test_a_long_retry_after_fails_at_once_for_both(httpserver, tmp_path, get):
    httpserver.expect_request("/x").respond_with_data("", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(CuratorError, match=r"HTTP 429.*asks to wait 3600 s, over curator's 60 s limit"):
        get(httpserver.url_for("/x"), tmp_path)
    assert len(httpserver.log) == 1


@CLIENTS
def test_a_client_error_is_not_retried(httpserver, tmp_path, get):
    httpserver.expect_request("/x").respond_with_data("no", status=403)
    with pytest.raises(CuratorError, match="HTTP 403"):
        get(httpserver.url_for("/x"), tmp_path)
    assert len(httpserver.log) == 1


def test_one_cache_root_for_both_caches(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CURATOR_CACHE", "~/c")
    assert cache_root() == tmp_path / "c"
    assert artifacts.default_cache_dir() == cache_root()
    assert HttpClient().cache_dir == tmp_path / "c" / "http"
    monkeypatch.delenv("CURATOR_CACHE")
    assert cache_root().name == "curator"
    assert HttpClient().cache_dir == cache_root() / "http"


def test_artifacts_land_under_the_shared_root(httpserver, monkeypatch, tmp_path):
    monkeypatch.setenv("CURATOR_CACHE", str(tmp_path / "root"))
    httpserver.expect_request("/m").respond_with_data(BODY, content_type="application/octet-stream")
    assert artifacts.fetch(httpserver.url_for("/m"), SHA, progress=False) == tmp_path / "root" / "artifacts" / SHA


def test_policy_waits_retry_after_else_doubling_backoff():
    answers = [Transient("HTTP 503", retry_after=5.0), Transient("reset"), Transient("reset")]
    slept: list[float] = []

    def attempt() -> str:
        if answers:
            raise answers.pop(0)
        return "ok"

    assert RetryPolicy(retries=3, backoff=0.5).run(attempt, sleep=slept.append) == "ok"
    assert slept == [5.0, 1.0, 2.0]


def test_policy_gives_up_after_its_attempts_and_lets_other_errors_through():
    calls: list[int] = []

    def always_down() -> None:
        calls.append(1)
        raise Transient("HTTP 502")

    with pytest.raises(GaveUp) as info:
        RetryPolicy(retries=1, backoff=0.0).run(always_down, sleep=lambda s: None)
    assert len(calls) == 2 and info.value.describe() == "HTTP 502 after 2 attempts"

    def broken() -> None:
        raise ValueError("not transient")

    with pytest.raises(ValueError):
        RetryPolicy().run(broken, sleep=lambda s: None)


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
