"""Many clients at once: every response equals its single-client response, none lost or mixed up;
a client that leaves frees its row; a full queue answers 503 at once; a long prompt does not
stall the running sequences. Where a test needs the engine busy it holds it at a Gate, and time
moves on a FakeClock: no outcome depends on the machine's speed."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from srv_helpers import FakeClock, Gate, count_submits, metric, reference, running_server, wait_for, with_event_on_cancel

HEADS = ["class Foo:\n    def ", "def main():\n    x = ", "# Copyright", "import os\n", "for i in range(",
         "if __name__ == ", "    return self.", "try:\n    import "]


def _request(i: int) -> dict:
    """Client i's request: its own prompt (some past one prefill chunk), length, sampling, mode."""
    prompt = HEADS[i % len(HEADS)] * (1 + (i * 7) % 23) + str(i)
    body = {"model": "default", "prompt": prompt, "max_tokens": 8 + (i * 5) % 40, "stream": i % 2 == 1}
    if i % 3 == 0:
        body |= {"temperature": 0.0}  # greedy
    else:
        body |= {"temperature": 1.0, "top_p": 0.9, "seed": 1000 + i}  # sampled: outputs differ across clients
    return body


def _post(base: str, body: dict) -> str:
    with httpx.Client(timeout=120) as c:
        if not body["stream"]:
            r = c.post(base + "/v1/completions", json=body)
            assert r.status_code == 200, r.text
            return r.json()["choices"][0]["text"]
        text = []
        with c.stream("POST", base + "/v1/completions", json=body) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    text.append(json.loads(line[6:])["choices"][0]["text"])
        return "".join(text)


def test_32_clients_at_once_each_get_their_own_response(session):
    bodies = [_request(i) for i in range(32)]
    want = []
    for b in bodies:
        kw = {k: b[k] for k in ("temperature", "top_p", "seed") if k in b}
        want.append(reference(session, b["prompt"], b["max_tokens"], **({"top_p": 1.0} | kw)))
    assert len(set(want)) > 24  # outputs differ, so a mix-up would show
    with running_server(capacity=32, max_queue=32) as (base, svc):
        gate, submitted = Gate(svc.scheduler), count_submits(svc.scheduler)
        gate.close()  # the engine waits until every client has sent its request: they run together
        with ThreadPoolExecutor(32) as pool:
            futures = [pool.submit(_post, base, b) for b in bodies]
            wait_for(lambda: len(submitted) == 32, what="all 32 requests to arrive")
            gate.open()
            got = [f.result() for f in futures]
        assert got == want
        m = svc.scheduler.metrics
        assert sum(m.requests_finished.values()) == 32
        wait_for(lambda: m.batch_rows == 0, what="the batch to empty")
        assert m.decode_steps < sum(b["max_tokens"] for b in bodies) / 2  # the rows really were batched


def test_cancelled_stream_frees_its_row():
    with running_server(capacity=2, max_queue=4) as (base, svc):
        gate, cancelled = Gate(svc.scheduler), with_event_on_cancel(svc.scheduler)
        gate.allow(200)  # far fewer steps than the 4000 tokens asked for: the stream cannot end by itself
        body = {"model": "default", "prompt": "def main(", "max_tokens": 4000, "stream": True, "temperature": 1.0}
        with httpx.Client(timeout=60) as c:
            with c.stream("POST", base + "/v1/completions", json=body) as r:
                lines = r.iter_lines()
                for _ in range(5):
                    next(lines)
                assert svc.scheduler.metrics.batch_rows == 1
            # leaving the `with` closes the connection mid-stream
        assert cancelled.wait(60)
        gate.open()
        wait_for(lambda: svc.scheduler.metrics.requests_finished["cancelled"] == 1, what="the cancellation")
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="the row to leave the batch")
        assert metric(base, "rrwkv_batch_size") == 0
        # a non-streaming client that gives up is dropped too (the closed gate keeps its answer from coming)
        cancelled.clear()
        gate.close()
        with pytest.raises(httpx.TimeoutException):
            httpx.post(base + "/v1/completions", json=body | {"stream": False}, timeout=0.5)
        assert cancelled.wait(60)
        gate.open()
        wait_for(lambda: svc.scheduler.metrics.requests_finished["cancelled"] == 2, what="the second cancellation")
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="the row to leave the batch")


def test_full_queue_answers_503_not_a_hang():
    with running_server(capacity=1, max_queue=1) as (base, svc):
        gate, cancelled = Gate(svc.scheduler), with_event_on_cancel(svc.scheduler)
        gate.allow(50)  # the running request cannot finish while the test looks
        long = {"model": "default", "prompt": "def main(", "max_tokens": 4000, "stream": True, "temperature": 1.0}
        with httpx.Client(timeout=60) as c1, httpx.Client(timeout=60) as c2:
            with c1.stream("POST", base + "/v1/completions", json=long) as running:
                lines = running.iter_lines()  # kept: a dropped iterator closes the response
                next(lines)
                queued = c2.send(c2.build_request("POST", base + "/v1/completions", json=long), stream=True)
                wait_for(lambda: svc.scheduler.metrics.queue_depth == 1, what="the second request to queue")
                # answered although nothing can finish: refused at once, not queued
                r = httpx.post(base + "/v1/completions", json=long | {"stream": False}, timeout=60)
                assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
                assert r.json()["error"]["code"] == "queue_full"
                assert metric(base, "rrwkv_requests_rejected_total") == 1
                queued.close()  # a client that leaves while queued is dropped at the next turn
                assert cancelled.wait(60)
                gate.allow(1)
                wait_for(lambda: svc.scheduler.metrics.queue_depth == 0, what="the queued request to be dropped")
                assert svc.scheduler.metrics.requests_finished["cancelled"] == 1
                assert len(svc.scheduler.batch.rows) == 1  # the running one goes on
            gate.open()
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0 and svc.scheduler.metrics.queue_depth == 0,
                 what="the batch and queue to empty")
        assert httpx.get(base + "/health").json()["status"] == "ok"


def test_request_timeout():
    """A running request and a queued one both end with 504 once their time is up (a fake clock:
    the engine is held at a gate while the test moves time on)."""
    clock = FakeClock()
    with running_server(request_timeout=5, capacity=1, clock=clock) as (base, svc):
        gate, submitted = Gate(svc.scheduler), count_submits(svc.scheduler)
        gate.close()
        body = {"model": "default", "prompt": "x", "max_tokens": 4000, "temperature": 1.0}
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(httpx.post, base + "/v1/completions", json=body, timeout=60)
            wait_for(gate.waiting.is_set, what="the first request to reach the engine")
            queued = pool.submit(httpx.post, base + "/v1/completions", json=body, timeout=60)
            wait_for(lambda: len(submitted) == 2, what="the second request to queue")
            clock.advance(4.9)
            gate.allow(3)
            wait_for(lambda: gate.waiting.is_set() and gate.calls == 3, what="three engine calls")
            assert not running.done() and not queued.done()  # 4.9 s: still in time
            clock.advance(0.2)
            gate.open()
            for f in (running, queued):
                r = f.result()
                assert r.status_code == 504 and "timed out" in r.json()["error"]["message"]
        assert svc.scheduler.metrics.requests_finished["timeout"] == 2
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="the row to leave the batch")


def test_long_prompt_prefill_interleaves_with_decode(session):
    """While a 1000-token prompt is read (8 chunks), a running sequence keeps getting tokens."""
    from rrwkv_rt.runtime.generate import Sampler, model_tokenizer
    from rrwkv_rt.server.scheduler import Chunk, Request, Scheduler

    model = session.model
    tok = model_tokenizer(model)
    sched = Scheduler(model, tok, capacity=4, max_queue=4, threads=1)
    gate = Gate(sched)
    events: list = []
    lock = threading.Lock()

    def emitter(name):
        def emit(ev):
            with lock:
                events.append((name, ev))
        return emit

    try:
        greedy = lambda: Sampler(model.vocab_size, temperature=0.0, tokenizer=tok._t)  # noqa: E731
        gate.allow(1)  # a's prompt is read; its first decode step waits at the gate
        sched.submit(Request(np.frombuffer(b"def main(", np.uint8), greedy(), 60, [], emitter("a")))
        wait_for(lambda: gate.calls == 1 and gate.waiting.is_set(), what="a's first decode step")
        long_prompt = np.frombuffer((b"x = 1\n" * 200)[:1000], np.uint8)
        with lock:
            mark = len(events)
        sched.submit(Request(long_prompt, greedy(), 2, [], emitter("b")))
        gate.open()
        wait_for(lambda: any(n == "b" for n, _ in events), what="the long prompt's first token")
        with lock:
            between = events[mark:next(i for i, (n, _) in enumerate(events) if n == "b")]
        assert sum(1 for n, ev in between if n == "a" and isinstance(ev, Chunk)) >= 7
    finally:
        gate.open()
        sched.close()
