"""The OpenAI-compatible API through the official `openai` client: completions and chat,
streaming and not, against Session.generate on the same model (bit for bit: the same text)."""
from __future__ import annotations

import httpx
import pytest

from rrwkv_rt.runtime.chat import WORLD

from srv_helpers import reference

PROMPTS = [
    "class Foo:\n    def ",
    "def main():\n    x = ",
    "# Copyright",
    # longer than one prefill chunk (128 tokens of this byte-level model), and than two
    "import os\nimport sys\n\n\ndef walk(top):\n    for root, dirs, files in os.walk(top):\n"
    "        for name in files:\n            path = os.path.join(root, name)\n            yield path\n",
    "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(12)),
]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_completion_greedy_equals_session(client, session, prompt):
    want = reference(session, prompt, 48)
    r = client.completions.create(model="default", prompt=prompt, max_tokens=48, temperature=0)
    assert r.choices[0].text == want
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == len(prompt.encode()) and r.usage.completion_tokens == 48
    chunks = list(client.completions.create(model="default", prompt=prompt, max_tokens=48, temperature=0,
                                            stream=True))
    assert "".join(c.choices[0].text for c in chunks) == want
    assert chunks[-1].choices[0].finish_reason == "length"


def test_completion_token_prompt_and_echo(client, session):
    prompt = "def main():\n    x = "
    want = reference(session, prompt, 20)
    r = client.completions.create(model="default", prompt=list(prompt.encode()), max_tokens=20, temperature=0,
                                  echo=True)
    assert r.choices[0].text == prompt + want


def test_chat_equals_session_on_the_template(client, session):
    messages = [{"role": "system", "content": "You write Python."},
                {"role": "user", "content": "class Stack:\n\n    def push"}]
    prompt = WORLD.render(messages)
    assert prompt == "System: You write Python.\n\nUser: class Stack:\n    def push\n\nAssistant:"
    want = reference(session, prompt, 60, stop=list(WORLD.stop)).lstrip()
    r = client.chat.completions.create(model="default", messages=messages, max_tokens=60, temperature=0)
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == want
    stream = client.chat.completions.create(model="default", messages=messages, max_tokens=60, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == want
    assert chunks[-1].usage.prompt_tokens == len(prompt.encode())


def test_stop_strings(client, session):
    prompt = "class Foo:\n    def "
    full = reference(session, prompt, 60)
    stop = full[10:13]  # a string the greedy continuation reaches
    want = reference(session, prompt, 60, stop=[stop])
    assert want == full[:full.index(stop)]
    r = client.completions.create(model="default", prompt=prompt, max_tokens=60, temperature=0, stop=[stop, "@@@"])
    assert r.choices[0].text == want and r.choices[0].finish_reason == "stop"
    chunks = list(client.completions.create(model="default", prompt=prompt, max_tokens=60, temperature=0,
                                            stop=stop, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == want
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_seed_reproduces_and_equals_session(client, session):
    kw = dict(model="default", prompt="def main(", max_tokens=40, temperature=1.0, top_p=0.9,
              presence_penalty=0.3, frequency_penalty=0.2)
    a = client.completions.create(seed=7, **kw).choices[0].text
    b = client.completions.create(seed=7, **kw).choices[0].text
    c = client.completions.create(seed=8, **kw).choices[0].text
    assert a == b != c
    assert a == reference(session, "def main(", 40, temperature=1.0, top_p=0.9, presence_penalty=0.3,
                          frequency_penalty=0.2, seed=7)
    # the sampling extensions reach the sampler too
    d = client.completions.create(seed=7, extra_body={"top_k": 3, "repetition_penalty": 1.3}, **kw).choices[0].text
    assert d == reference(session, "def main(", 40, temperature=1.0, top_p=0.9, presence_penalty=0.3,
                          frequency_penalty=0.2, seed=7, top_k=3, repetition_penalty=1.3)


def test_logprobs_are_a_log_softmax_of_the_logits(client, session):
    import numpy as np
    prompt = "def main():\n    x = "
    r = client.completions.create(model="default", prompt=prompt, max_tokens=3, temperature=0, logprobs=2)
    lp = r.choices[0].logprobs
    session.reset()
    logits = session.forward(list(prompt.encode())).astype(np.float64)
    want = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
    first = int(np.argmax(logits))
    assert lp.tokens[0] == chr(first)
    assert lp.token_logprobs[0] == pytest.approx(want[first], abs=1e-6)
    top = sorted(lp.top_logprobs[0].values(), reverse=True)
    assert top == pytest.approx(sorted(want, reverse=True)[:2], abs=1e-6)
    assert lp.text_offset == [0, 1, 2]
    c = client.chat.completions.create(model="default", messages=[{"role": "user", "content": "hi"}], max_tokens=4,
                                       temperature=0, logprobs=True, top_logprobs=3)
    entries = c.choices[0].logprobs.content
    assert entries and all(len(e.top_logprobs) == 3 and e.top_logprobs[0].logprob >= e.logprob - 1e-12
                           for e in entries)


def test_models_health_and_metrics(client, server):
    base, _ = server
    assert [m.id for m in client.models.list().data] == ["default"]
    assert client.models.retrieve("default").id == "default"
    assert httpx.get(base + "/health").json()["status"] == "ok"
    text = httpx.get(base + "/metrics").text
    for name in ("rrwkv_queue_depth", "rrwkv_batch_size", "rrwkv_generated_tokens_per_second",
                 "rrwkv_prompt_cache_hits_total", "rrwkv_prompt_cache_bytes"):
        assert f"\n{name} " in text or text.startswith(f"# HELP {name} ")


def test_max_tokens_zero(client):
    r = client.completions.create(model="default", prompt="x", max_tokens=0)
    assert r.choices[0].text == "" and r.choices[0].finish_reason == "length"


def test_logit_bias_minus_100_bans(client, session):
    prompt = "class Foo:\n    def "
    free = reference(session, prompt, 30)
    ban = {str(b): -100 for b in sorted(set(free.encode()))[:3]}
    r = client.completions.create(model="default", prompt=prompt, max_tokens=30, temperature=0, logit_bias=ban)
    assert r.choices[0].text == reference(session, prompt, 30, logit_bias={int(k): -100 for k in ban})
    assert not set(r.choices[0].text.encode()) & {int(k) for k in ban}


def test_logit_bias_is_added_to_the_logits(client, session):
    """Any value in [-100, 100] is added to the logits (OpenAI's definition): +100 on one byte
    makes it the greedy choice, a small bias changes a seeded draw exactly as Session.generate's."""
    prompt = "def main(\n"
    r = client.completions.create(model="default", prompt=prompt, max_tokens=5, temperature=0, logit_bias={"90": 100})
    assert r.choices[0].text == "ZZZZZ"
    bias = {str(b): v for b, v in zip(b"aeiou ", (2.5, -3, 1.25, 0.5, -0.75, 4))}
    r = client.completions.create(model="default", prompt=prompt, max_tokens=40, temperature=1.0, top_p=1.0, seed=3,
                                  logit_bias=bias)
    want = reference(session, prompt, 40, temperature=1.0, top_p=1.0, seed=3,
                     logit_bias={int(k): v for k, v in bias.items()})
    assert r.choices[0].text == want != reference(session, prompt, 40, temperature=1.0, top_p=1.0, seed=3)
