"""Many clients at once: every response equals its single-client response, none lost or mixed up;
a client that leaves frees its row; a full queue answers 503 at once; a long prompt does not
stall the running sequences."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from srv_helpers import metric, reference, running_server, wait_for

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
        with ThreadPoolExecutor(32) as pool:
            got = list(pool.map(lambda b: _post(base, b), bodies))
        assert got == want
        m = svc.scheduler.metrics
        assert sum(m.requests_finished.values()) == 32
        wait_for(lambda: m.batch_rows == 0, what="the batch to empty")
        assert m.decode_steps < sum(b["max_tokens"] for b in bodies) / 2  # the rows really were batched


def test_cancelled_stream_frees_its_row():
    with running_server(capacity=2, max_queue=4) as (base, svc):
        body = {"model": "default", "prompt": "def main(", "max_tokens": 4000, "stream": True, "temperature": 1.0}
        with httpx.Client(timeout=30) as c:
            with c.stream("POST", base + "/v1/completions", json=body) as r:
                lines = r.iter_lines()
                for _ in range(5):
                    next(lines)
                assert svc.scheduler.metrics.batch_rows == 1
            # leaving the `with` closes the connection mid-stream
        wait_for(lambda: svc.scheduler.metrics.requests_finished["cancelled"] == 1, what="the cancellation")
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="the row to leave the batch")
        assert metric(base, "rrwkv_batch_size") == 0
        # a non-streaming client that gives up is dropped too
        with pytest.raises(httpx.TimeoutException):
            httpx.post(base + "/v1/completions", json=body | {"stream": False}, timeout=0.5)
        wait_for(lambda: svc.scheduler.metrics.requests_finished["cancelled"] == 2, what="the second cancellation")
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="the row to leave the batch")


def test_full_queue_answers_503_not_a_hang():
    with running_server(capacity=1, max_queue=1) as (base, svc):
        long = {"model": "default", "prompt": "def main(", "max_tokens": 4000, "stream": True, "temperature": 1.0}
        with httpx.Client(timeout=30) as c1, httpx.Client(timeout=30) as c2:
            with c1.stream("POST", base + "/v1/completions", json=long) as running:
                lines = running.iter_lines()  # kept: a dropped iterator closes the response
                next(lines)
                queued = c2.send(c2.build_request("POST", base + "/v1/completions", json=long), stream=True)
                wait_for(lambda: svc.scheduler.metrics.queue_depth == 1, what="the second request to queue")
                t0 = time.monotonic()
                r = httpx.post(base + "/v1/completions", json=long | {"stream": False}, timeout=10)
                assert time.monotonic() - t0 < 5
                assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
                assert r.json()["error"]["code"] == "queue_full"
                assert metric(base, "rrwkv_requests_rejected_total") == 1
                queued.close()  # a client that leaves while queued is dropped at once
                wait_for(lambda: svc.scheduler.metrics.queue_depth == 0, what="the queued request to be dropped")
                assert svc.scheduler.metrics.requests_finished["cancelled"] == 1
                assert len(svc.scheduler.batch.rows) == 1  # the running one goes on
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0 and svc.scheduler.metrics.queue_depth == 0,
                 what="the batch and queue to empty")
        assert httpx.get(base + "/health").json()["status"] == "ok"


def test_request_timeout():
    with running_server(request_timeout=0.5) as (base, svc):
        r = httpx.post(base + "/v1/completions", timeout=30,
                       json={"model": "default", "prompt": "x", "max_tokens": 4000, "temperature": 1.0})
        assert r.status_code == 504 and "timed out" in r.json()["error"]["message"]
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="the row to leave the batch")


def test_long_prompt_prefill_interleaves_with_decode(session):
    """While a 1000-token prompt is read (8 chunks), a running sequence keeps getting tokens."""
    from rrwkv_rt.runtime.generate import Sampler, model_tokenizer
    from rrwkv_rt.server.scheduler import Chunk, Request, Scheduler

    model = session.model
    tok = model_tokenizer(model)
    sched = Scheduler(model, tok, capacity=4, max_queue=4, threads=1)
    events: list = []
    lock = threading.Lock()
    first = threading.Event()

    def emitter(name):
        def emit(ev):
            with lock:
                events.append((name, ev))
            first.set()
        return emit

    try:
        greedy = lambda: Sampler(model.vocab_size, temperature=0.0, tokenizer=tok._t)  # noqa: E731
        sched.submit(Request(np.frombuffer(b"def main(", np.uint8), greedy(), 60, [], emitter("a")))
        assert first.wait(20)
        long_prompt = np.frombuffer((b"x = 1\n" * 200)[:1000], np.uint8)
        with lock:
            mark = len(events)
        sched.submit(Request(long_prompt, greedy(), 2, [], emitter("b")))
        wait_for(lambda: any(n == "b" for n, _ in events), what="the long prompt's first token")
        with lock:
            between = events[mark:next(i for i, (n, _) in enumerate(events) if n == "b")]
        assert sum(1 for n, ev in between if n == "a" and isinstance(ev, Chunk)) >= 7
    finally:
        sched.close()
