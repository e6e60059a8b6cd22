"""What a client may make the server hold: bodies past --max-body-mb get 413 (unread), prompts
past --max-prompt-bytes a 400 before any tokenizing, half-sent requests 408 and a closed
connection, connections past --max-connections 503; and tokenizing never stalls the event loop."""
from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from srv_helpers import Gate, expire_header_timers, reference, running_server, wait_for

OK = {"model": "default", "prompt": "def main(", "max_tokens": 3, "temperature": 0}


@pytest.fixture(scope="module")
def limited():
    with running_server(max_body_bytes=10_000, max_prompt_bytes=2_000, max_prompt_tokens=4_000) as s:
        yield s


@pytest.fixture(scope="module")
def impatient():
    """Short header and body deadlines; only half-sent requests are sent to it, so no request
    that is sent whole can be timed out however slow the machine."""
    with running_server(header_timeout=0.5, body_timeout=0.5) as s:
        yield s


class _Tokenizer:
    """Wraps the served tokenizer: counts encode calls, and can hold them until released."""

    def __init__(self, svc):
        self._tok, self.calls, self.hold = svc.tokenizer, 0, None
        self.entered = threading.Event()
        svc.tokenizer = self

    def encode_array(self, text):
        self.calls += 1
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(120)
        return self._tok.encode_array(text)

    def __getattr__(self, name):
        return getattr(self._tok, name)


def test_body_over_the_limit_is_refused_unread(limited):
    base, _ = limited
    big = OK | {"prompt": "x" * 20_000}
    r = httpx.post(base + "/v1/completions", json=big, timeout=60)  # Content-Length says it
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    assert "10000" in r.json()["error"]["message"]

    def pieces():  # no Content-Length: chunked, counted as it arrives
        yield b'{"model": "default", "prompt": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'
    r = httpx.post(base + "/v1/completions", content=pieces(), headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    assert httpx.post(base + "/v1/completions", json=OK, timeout=60).status_code == 200


def test_prompt_over_the_byte_limit_is_refused_before_tokenizing(limited):
    base, svc = limited
    tok = _Tokenizer(svc)
    try:
        for path, body in [("/v1/completions", OK | {"prompt": "é" * 1_001}),  # 2002 bytes, 1001 characters
                           ("/v1/completions", OK | {"prompt": ["y" * 2_001]}),
                           ("/v1/chat/completions", {"model": "default", "max_tokens": 3,
                                                     "messages": [{"role": "user", "content": "z" * 2_001}]})]:
            r = httpx.post(base + path, json=body, timeout=60)
            assert r.status_code == 400, r.text
            err = r.json()["error"]
            assert err["code"] == "context_length_exceeded" and "--max-prompt-bytes" in err["message"]
        assert tok.calls == 0
        assert httpx.post(base + "/v1/completions", json=OK, timeout=60).status_code == 200 and tok.calls == 1
    finally:
        svc.tokenizer = tok._tok


def test_tokenizing_does_not_stall_the_event_loop(limited):
    """While a prompt is being tokenized (held here until the test lets it go), /health and the
    model list answer: tokenizing runs off the event loop."""
    base, svc = limited
    tok = _Tokenizer(svc)
    tok.hold = threading.Event()
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, base + "/v1/completions", json=OK, timeout=120)
            assert tok.entered.wait(60)
            assert httpx.get(base + "/health", timeout=60).json()["status"] == "ok"
            assert httpx.get(base + "/v1/models", timeout=60).status_code == 200
            assert not pending.done()
            tok.hold.set()
            assert pending.result().status_code == 200
    finally:
        tok.hold.set()
        svc.tokenizer = tok._tok


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the bound only keeps a broken
    server from hanging the test)."""
    sock.settimeout(60)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("sent", [b"", b"POST /v1/compl", b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"])
def test_half_sent_headers_time_out(impatient, sent):
    base, _ = impatient
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(sent)
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408") and b"--header-timeout" in answer


def test_a_deadline_cuts_only_half_sent_requests(session):
    """The header deadline, fired by the test (the server's own is an hour away): a connection
    that sent a whole request and half of a second one gets that request's answer, then 408 and is
    closed; a request whose headers arrived is never cut, however long its answer takes."""
    with running_server(header_timeout=3600) as (base, svc):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /hea")  # keep-alive, then half a request
            sock.settimeout(60)
            answer = b""
            while b'"queue_depth"' not in answer:
                answer += sock.recv(65536)
            wait_for(lambda: any(p._header_timer is not None for p in svc.uvicorn_server.server_state.connections),
                     what="the deadline of the half request")
            assert expire_header_timers(svc) == 1
            answer += _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in answer
        gate = Gate(svc.scheduler)
        gate.close()
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, base + "/v1/completions", json=OK, timeout=120)
            wait_for(gate.waiting.is_set, what="the request to reach the engine")
            expire_header_timers(svc)  # none is armed for it; firing every deadline there is changes nothing
            for p in list(svc.uvicorn_server.server_state.connections):
                p.loop.call_soon_threadsafe(p._expired)
            gate.open()
            r = pending.result()
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == reference(session, OK["prompt"], 3)


def test_half_sent_body_times_out(impatient):
    base, _ = impatient
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"model\": ")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408") and b"--body-timeout" in answer


def test_connections_past_the_limit_get_503():
    with running_server(max_connections=3, header_timeout=120) as (base, svc):
        port = int(base.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            wait_for(lambda: httpx.get(base + "/health", timeout=60).status_code == 503, what="the limit to apply")
        finally:
            for s in idle:
                s.close()
        wait_for(lambda: httpx.get(base + "/health", timeout=60).status_code == 200, what="the limit to lift")
