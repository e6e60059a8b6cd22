"""One request's failure is that request's alone: a request that leaves nothing to sample gets a
400 (refused up front where Session.generate refuses it, else when it happens), its row is freed,
and the requests beside it finish exactly as alone; if a whole scheduler turn fails anyway, every
request it touched is answered and every row freed."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from srv_helpers import Gate, count_submits, reference, running_server, wait_for
from srv_models import nan_row_model

TILDE = ord("~")  # the NaN row of the broken model


def _complete(base: str, body: dict) -> tuple[int, dict | str]:
    """(status, JSON body) of a request; a stream gives (status, text or the error event)."""
    with httpx.Client(timeout=120) as c:
        if not body.get("stream"):
            r = c.post(base + "/v1/completions", json=body)
            return r.status_code, r.json()
        text = []
        with c.stream("POST", base + "/v1/completions", json=body) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    event = json.loads(line[6:])
                    if "error" in event:
                        return r.status_code, event
                    text.append(event["choices"][0]["text"])
        return r.status_code, "".join(text)


def test_banning_every_token_is_refused_up_front(server):
    base, svc = server
    everything = {str(t): -100 for t in range(256)}
    for _ in range(svc.cfg.capacity + 1):  # as many as there are rows, and one more: none holds a row
        status, body = _complete(base, {"model": "default", "prompt": "x", "max_tokens": 5, "logit_bias": everything})
        assert status == 400, body
        assert body["error"]["param"] == "logit_bias" and body["error"]["code"] == "nothing_to_sample"
        assert "every one of the 256 tokens" in body["error"]["message"]
    assert len(svc.scheduler.batch.rows) == 0
    status, body = _complete(base, {"model": "default", "prompt": "x", "max_tokens": 5, "temperature": 0})
    assert status == 200 and body["choices"][0]["finish_reason"] == "length"


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory):
    return nan_row_model(tmp_path_factory.mktemp("nan") / "nan.rrwkv", TILDE)


def test_nan_logits_fail_only_that_request(nan_model):
    """A prompt holding '~' (a NaN embedding row) leaves nothing to sample: that request gets a
    400 (a stream: an error event), the ones in the same batch at the same time are untouched."""
    import rrwkv_rt
    session = rrwkv_rt.Session(nan_model, threads=1)
    normal = [{"model": "nan", "prompt": p, "max_tokens": 24, "temperature": 0, "logit_bias": {str(TILDE): -100},
               "stream": i % 2 == 1} for i, p in enumerate(["def main(", "class Foo:\n    ", "import os\n"])]
    want = [reference(session, b["prompt"], 24, banned_tokens=[TILDE]) for b in normal]
    culprits = [{"model": "nan", "prompt": "x = '~'", "max_tokens": 24, "stream": s} for s in (False, True)]
    with pytest.raises(ValueError, match="no token can be sampled"):
        reference(session, culprits[0]["prompt"], 24)  # what Session.generate says
    with running_server(model_path=nan_model, capacity=4) as (base, svc):
        gate, submitted = Gate(svc.scheduler), count_submits(svc.scheduler)
        gate.close()  # all five arrive before the engine starts: they run side by side
        with ThreadPoolExecutor(5) as pool:
            futures = [pool.submit(_complete, base, b) for b in normal + culprits]
            wait_for(lambda: len(submitted) == 5, what="the requests to arrive")
            gate.open()
            results = [f.result() for f in futures]
        for (status, body), w in zip(results[:3], want):
            assert status == 200
            assert (body if isinstance(body, str) else body["choices"][0]["text"]) == w
        plain, streamed = results[3:]
        assert plain[0] == 400 and plain[1]["error"]["code"] == "nothing_to_sample"
        assert "no token can be sampled" in plain[1]["error"]["message"]
        assert streamed[0] == 200 and streamed[1]["error"]["code"] == "nothing_to_sample"
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="every row to be freed")
        for _ in range(svc.cfg.capacity + 1):  # more culprits than rows: none keeps one
            assert _complete(base, culprits[0])[0] == 400
        assert len(svc.scheduler.batch.rows) == 0
        assert _complete(base, normal[0])[1]["choices"][0]["text"] == want[0]
        assert svc.scheduler.metrics.requests_finished["nothing_to_sample"] == svc.cfg.capacity + 3
        assert httpx.get(base + "/health").json()["status"] == "ok"


class _FailsOnce:
    """Wraps the (gated) batch: its next call of `method` raises, as a bug in the engine would."""

    def __init__(self, scheduler, method: str):
        self._batch, self._method, self.armed = scheduler.batch, method, True
        scheduler.batch = self

    def __getattr__(self, name):
        call = getattr(self._batch, name)
        if name != self._method or not self.armed:
            return call

        def fail(*args, **kwargs):
            self.armed = False
            raise RuntimeError(f"injected failure of Batch.{name}")
        return fail


def test_a_failed_prefill_fails_only_its_request(session):
    """The request whose prompt piece fails is answered (500) and its row freed; the others,
    read and decoded beside it, finish exactly as alone."""
    with running_server(capacity=4) as (base, svc):
        _FailsOnce(svc.scheduler, "forward")  # the first prompt piece the engine reads, once the gate opens
        gate, submitted = Gate(svc.scheduler), count_submits(svc.scheduler)
        gate.close()
        prompts = ["def main(", "class Foo:\n    def ", "import os\n"]
        bodies = [{"model": "default", "prompt": p, "max_tokens": 30, "temperature": 0, "stream": i == 1}
                  for i, p in enumerate(prompts)]
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(_complete, base, b) for b in bodies]
            wait_for(lambda: len(submitted) == 3, what="the requests to arrive")
            first = submitted[0]
            gate.open()
            results = [f.result() for f in futures]
        failed = [i for i, (_, body) in enumerate(results) if isinstance(body, dict) and "error" in body]
        assert len(failed) == 1, results
        i = failed[0]
        assert results[i][1]["error"]["type"] == "server_error" and list(first.prompt) == list(prompts[i].encode())
        for j in set(range(3)) - {i}:
            status, body = results[j]
            assert (body if isinstance(body, str) else body["choices"][0]["text"]) == reference(session, prompts[j], 30)
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="every row to be freed")


def test_a_failed_turn_answers_everyone_and_frees_every_row(session):
    with running_server(capacity=4) as (base, svc):
        _FailsOnce(svc.scheduler, "step")
        gate, submitted = Gate(svc.scheduler), count_submits(svc.scheduler)
        gate.close()
        bodies = [{"model": "default", "prompt": "def f():\n    " * k, "max_tokens": 50, "stream": k % 2 == 0}
                  for k in (1, 2, 80)]  # the last is still being read when the step fails
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(_complete, base, b) for b in bodies]
            wait_for(lambda: len(submitted) == 3, what="the requests to arrive")
            gate.open()
            results = [f.result() for f in futures]
        for status, body in results:
            err = body["error"] if isinstance(body, dict) else None
            assert err and err["type"] == "server_error" and "internal error" in err["message"], (status, body)
        # a stream's error event comes after its 200
        assert [status for status, _ in results] == [200 if b["stream"] else 500 for b in bodies]
        wait_for(lambda: len(svc.scheduler.batch.rows) == 0, what="every row to be freed")
        assert svc.scheduler.metrics.requests_finished["server_error"] == 3
        status, body = _complete(base, {"model": "default", "prompt": "import os\n", "max_tokens": 20,
                                        "temperature": 0})
        assert status == 200 and body["choices"][0]["text"] == reference(session, "import os\n", 20)
