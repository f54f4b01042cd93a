"""Hardening: untrusted model files and hostile download servers.

A pickle that carries code is offered in every format slot a claim may name and through
``curator verify`` end to end: it is never executed (the marker file never appears) and the refusal
is one clear error. Download failures (wrong sha256, truncated body, HTML page, redirect loop,
endless body, slow drip) each end in an :class:`ArtifactError` and leave the cache folder holding
nothing at all — the listing of ``<cache>/artifacts`` is compared, not just the final name.
Happy paths and the retry schedule are in tests/verify/test_artifacts.py and tests/verify/test_models.py.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from werkzeug import Response

from curator.api.registry import get_registry
from curator.cli import main
from curator.core.errors import CuratorError
from curator.verify.artifacts import ArtifactError, fetch
from curator.verify.models import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BODY = bytes(range(256)) * 200
SHA = hashlib.sha256(BODY).hexdigest()
FC_BLOCK = {"architecture": {"name": "fc", "kwargs": {"input_shape": [1, 8, 8], "hidden": [4], "num_classes": 10}},
            "input_shape": [1, 8, 8], "num_classes": 10}


class Payload:
    """Unpickling calls ``open(marker, "w")``: the marker file appears iff the pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def evil_files(folder: Path, marker: Path) -> dict[str, Path]:
    """One hostile file per way a pickle can be dressed up as weights."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    out["torch-zip"] = folder / "evil.pth"
    torch.save({"0.weight": torch.zeros(1), "hook": Payload(marker)}, out["torch-zip"])
    out["raw-pickle"] = folder / "raw.pth"
    out["raw-pickle"].write_bytes(pickle.dumps(Payload(marker), protocol=2))
    out["raw-pickle-p5"] = folder / "raw5.pth"
    out["raw-pickle-p5"].write_bytes(pickle.dumps({"w": Payload(marker)}, protocol=5))
    return out


def stored(cache: Path) -> list[str]:
    """Everything under the cache folder (temp files included), relative."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


@pytest.fixture(scope="module")
def registry():
    return get_registry()


@pytest.mark.parametrize("fmt", ["state_dict", "safetensors", "onnx"])
@pytest.mark.parametrize("kind", ["torch-zip", "raw-pickle", "raw-pickle-p5"])
def test_pickle_payload_in_every_format_slot_is_refused_never_run(registry, tmp_path, fmt, kind):
    if fmt == "onnx":
        pytest.importorskip("onnx")
    marker = tmp_path / "PWNED"
    path = evil_files(tmp_path / "files", marker)[kind]
    block = dict(FC_BLOCK, format=fmt)
    with pytest.raises(CuratorError) as info:  # ModelError, or OnnxImportError for the onnx slot
        load_model(block, path, registry)
    assert not marker.exists(), "the pickle ran"
    msg = str(info.value)
    assert str(path) in msg or path.name in msg
    assert "\n" not in msg.strip() or len(msg) < 2000


def test_pickle_payload_through_curator_verify_end_to_end(tmp_path):
    """A submission whose pinned model is a code-carrying pickle: verify exits 1 with one error line."""
    marker = tmp_path / "PWNED"
    sub = tmp_path / "sub"
    files = evil_files(sub, marker)
    entry = json.loads((EXAMPLES / "digits-smoothing.json").read_text())
    for fmt, name in (("state_dict", "torch-zip"), ("safetensors", "raw-pickle"), ("state_dict", "raw-pickle-p5")):
        path = files[name]
        entry["model"].update(url=f"file://./{path.name}", sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                              format=fmt)
        (sub / "digits-smoothing.json").write_text(json.dumps(entry))
        result = CliRunner().invoke(main, ["verify", str(sub / "digits-smoothing.json"), "--samples", "2", "--quiet",
                                           "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
        assert result.exit_code == 1, (fmt, name, result.output)
        assert not marker.exists(), "the pickle ran"
        assert result.stderr.startswith("error:") and path.name in result.stderr[:400] or "not" in result.stderr


# --------------------------------------------------------------------------- hostile servers


class RawServer:
    """A one-thread TCP server on 127.0.0.1 whose ``handler(conn)`` writes whatever bytes it likes."""

    def __init__(self, handler):
        self.handler, self.requests = handler, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/model.bin"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.requests += 1
            with conn:
                try:
                    conn.recv(65536)
                    self.handler(conn, self.stop)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def make(handler):
        servers.append(RawServer(handler))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _head(length: int | None = None, ctype: str = "application/octet-stream") -> bytes:
    h = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nConnection: close\r\n"
    if length is not None:
        h += f"Content-Length: {length}\r\n"
    return (h + "\r\n").encode()


def test_wrong_sha256_leaves_an_empty_cache(httpserver, tmp_path):
    httpserver.expect_request("/m").respond_with_data(BODY)
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        fetch(httpserver.url_for("/m"), "ab" * 32, tmp_path, progress=False)
    assert stored(tmp_path) == ["artifacts"]


def test_truncated_download_every_attempt(raw_server, tmp_path):
    server = raw_server(lambda c, _s: c.sendall(_head(len(BODY)) + BODY[:1000]))
    with pytest.raises(ArtifactError, match="after 3 attempts.*(truncated|IncompleteRead|ProtocolError)"):
        fetch(server.url, SHA, tmp_path, retries=2, backoff=0.01, progress=False)
    assert server.requests == 3 and stored(tmp_path) == ["artifacts"]


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/octet-stream"])
def test_html_page_sent_in_small_pieces_is_still_recognised(raw_server, tmp_path, ctype):
    page = b"\n  <!DOCTYPE html><html><head><title>RobustBench</title></head><body>Sign in</body></html>"

    def handler(conn, _stop):
        conn.sendall(_head(len(page), ctype))
        for i in range(0, len(page), 3):  # three bytes per packet: no single read sees "<!doctype"
            conn.sendall(page[i:i + 3])
            time.sleep(0.002)

    server = raw_server(handler)
    with pytest.raises(ArtifactError, match="HTML page"):
        fetch(server.url, hashlib.sha256(page).hexdigest(), tmp_path, progress=False)
    assert stored(tmp_path) == ["artifacts"]


def test_redirect_loop_is_one_clear_error(httpserver, tmp_path):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": httpserver.url_for("/b")})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": httpserver.url_for("/a")})
    with pytest.raises(ArtifactError, match="redirect") as info:
        fetch(httpserver.url_for("/a"), SHA, tmp_path, retries=2, backoff=0.01, progress=False)
    assert "\n" not in str(info.value)
    assert stored(tmp_path) == ["artifacts"]
    # a loop is not transient: one attempt, about 30 hops, not 3 × 30
    assert len(httpserver.log) <= 40


def test_endless_body_stops_at_the_size_cap(httpserver, tmp_path):
    def endless(_request):
        def body():
            while True:
                yield b"\0" * 65536

        return Response(body(), mimetype="application/octet-stream")

    httpserver.expect_request("/endless").respond_with_handler(endless)
    t0 = time.monotonic()
    with pytest.raises(ArtifactError, match="larger than the 3000000-byte limit"):
        fetch(httpserver.url_for("/endless"), SHA, tmp_path, max_bytes=3_000_000, progress=False)
    assert time.monotonic() - t0 < 30
    assert stored(tmp_path) == ["artifacts"]


def test_lying_content_length_then_more_bytes_is_capped(raw_server, tmp_path):
    """A header announcing 100 bytes followed by megabytes: the cap counts bytes, not the header."""
    def handler(conn, stop):
        conn.sendall(_head(None))
        while not stop.is_set():
            conn.sendall(b"\1" * 65536)

    server = raw_server(handler)
    with pytest.raises(ArtifactError, match="limit"):
        fetch(server.url, SHA, tmp_path, max_bytes=1_000_000, retries=0, progress=False)
    assert stored(tmp_path) == ["artifacts"]


def test_silent_server_hits_the_read_timeout(raw_server, tmp_path):
    def handler(conn, stop):
        conn.sendall(_head(len(BODY)) + BODY[:10])
        stop.wait(5)

    server = raw_server(handler)
    t0 = time.monotonic()
    with pytest.raises(ArtifactError, match="after 2 attempts.*(timed out|Timeout)"):
        fetch(server.url, SHA, tmp_path, timeout=(1, 0.3), retries=1, backoff=0.01, progress=False)
    assert time.monotonic() - t0 < 4
    assert stored(tmp_path) == ["artifacts"]


def test_slow_drip_below_the_read_timeout_is_stopped_by_max_seconds(raw_server, tmp_path):
    """Regression: bytes trickling in faster than the read timeout used to be buffered until a whole
    1 MiB chunk arrived, so ``max_seconds`` was only checked at the end (a 4 kB drip at 100 B/0.1 s
    took 4 s with max_seconds=0.5). Now the deadline is checked at every read."""
    def handler(conn, stop):
        conn.sendall(_head(len(BODY)))
        for i in range(0, len(BODY), 100):
            if stop.is_set():
                return
            conn.sendall(BODY[i:i + 100])
            time.sleep(0.1)

    server = raw_server(handler)
    t0 = time.monotonic()
    with pytest.raises(ArtifactError, match="longer than 0.5 s"):
        fetch(server.url, SHA, tmp_path, timeout=(1, 2), max_seconds=0.5, retries=0, progress=False)
    assert time.monotonic() - t0 < 2.5
    assert stored(tmp_path) == ["artifacts"]


def test_cache_survives_a_failed_refetch_of_another_artifact(httpserver, tmp_path):
    """A failure never touches other, good cache entries."""
    httpserver.expect_request("/good").respond_with_data(BODY)
    httpserver.expect_request("/bad").respond_with_data(b"<html><body>nope</body></html>", content_type="text/html")
    good = fetch(httpserver.url_for("/good"), SHA, tmp_path, progress=False)
    with pytest.raises(ArtifactError):
        fetch(httpserver.url_for("/bad"), "cd" * 32, tmp_path, progress=False)
    assert stored(tmp_path) == ["artifacts", f"artifacts/{SHA}"] and good.read_bytes() == BODY


def test_example_model_still_loads(registry, tmp_path):
    """Control: the refusals above are not a loader that refuses everything."""
    shutil.copy(EXAMPLES / "digits-mlp.safetensors", tmp_path / "m.safetensors")
    entry = json.loads((EXAMPLES / "digits-smoothing.json").read_text())
    model = load_model(entry["model"], tmp_path / "m.safetensors", registry)
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 10)
