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


def test_a_bias_on_every_token_is_no_ban(server, session):
    """logit_bias is added to the logits (as OpenAI documents it): -100 on every token bans nothing
    (it used to be refused), and the text is Session.generate's with the same bias."""
    base, svc = server
    everything = {str(t): -100 for t in range(256)}
    status, body = _complete(base, {"model": "default", "prompt": "def f(", "max_tokens": 12, "temperature": 0,
                                    "logit_bias": everything})
    want = reference(session, "def f(", 12, logit_bias={t: -100 for t in range(256)})
    assert status == 200 and body["choices"][0]["text"] == want and len(want) == 12
    assert len(svc.scheduler.batch.rows) == 0


def test_nothing_left_to_sample_midway_fails_only_that_request(server, session):
    """A grammar that allows "a" and "b", logits all below 0 (a bias) and a repetition penalty that
    makes a seen token's logit -inf: the third draw has nothing left. That request gets 400 (a
    stream: an error event) as Session.generate raises; its row is freed, as many times as there
    are rows and one more, and the server goes on."""
    base, svc = server
    body = {"model": "default", "prompt": "def main(", "max_tokens": 10, "temperature": 0,
            "repetition_penalty": 1e300, "logit_bias": {str(t): -100 for t in range(256)},
            "grammar": "start: /[ab]+/"}
    with pytest.raises(ValueError, match="no token can be sampled"):
        reference(session, "def main(", 10, repetition_penalty=1e300, logit_bias={t: -100 for t in range(256)},
                  grammar="start: /[ab]+/")
    for i in range(svc.cfg.capacity + 1):
        status, got = _complete(base, body | {"stream": i % 2 == 1})
        error = got["error"]
        assert status == (200 if i % 2 else 400) and error["code"] == "nothing_to_sample", (status, got)
    assert len(svc.scheduler.batch.rows) == 0
    status, got = _complete(base, {"model": "default", "prompt": "x", "max_tokens": 5, "temperature": 0})
    assert status == 200 and got["choices"][0]["finish_reason"] == "length"


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
    want = [reference(session, b["prompt"], 24, logit_bias={TILDE: -100}) for b in normal]
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
