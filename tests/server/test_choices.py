"""n choices through the official `openai` client: the prompt is read once (usage counts it once)
and its state copied into n rows; choice i equals Session.generate with the seed seed + i,
streamed or not, for completions and chat; n past the batch's capacity is a 400."""
from __future__ import annotations

import pytest

from rrwkv_rt.runtime.chat import WORLD

from srv_helpers import metric, reference

PROMPT = "import os\n\ndef "
KW = dict(temperature=1.0, top_p=0.9, presence_penalty=0.2)


def test_three_completions_equal_three_seeded_generate_calls(client, server, session):
    base, _ = server
    want = [reference(session, PROMPT, 40, seed=7 + i, **KW) for i in range(3)]
    assert len(set(map(str, want))) == 3  # three different texts: a real test of the seeds
    computed = metric(base, "rrwkv_prefill_tokens_total")
    r = client.completions.create(model="default", prompt=PROMPT, max_tokens=40, n=3, seed=7, **KW)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert [c.text for c in r.choices] == want
    assert [c.finish_reason for c in r.choices] == ["length"] * 3
    assert r.usage.prompt_tokens == len(PROMPT.encode())  # once
    assert r.usage.completion_tokens == sum(len(w.tokens) for w in want)
    assert metric(base, "rrwkv_prefill_tokens_total") - computed == len(PROMPT.encode())  # read once
    texts = ["", "", ""]
    finishes = [None] * 3
    for chunk in client.completions.create(model="default", prompt=PROMPT, max_tokens=40, n=3, seed=7, stream=True,
                                           **KW):
        for c in chunk.choices:
            texts[c.index] += c.text
            finishes[c.index] = c.finish_reason or finishes[c.index]
    assert texts == want and finishes == ["length"] * 3


def test_chat_choices_and_stop_strings(client, session):
    messages = [{"role": "user", "content": "class Stack:"}]
    prompt = WORLD.render(messages)
    want = [reference(session, prompt, 50, seed=100 + i, stop=list(WORLD.stop) + ["self"], **KW).lstrip()
            for i in range(2)]
    r = client.chat.completions.create(model="default", messages=messages, max_tokens=50, n=2, seed=100,
                                       stop=["self"], **KW)
    assert [c.message.content for c in r.choices] == want
    assert r.usage.prompt_tokens == len(prompt.encode())


def test_n_is_bounded_by_the_capacity(client, server):
    openai = pytest.importorskip("openai")
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="default", prompt="x", max_tokens=2, n=server[1].cfg.capacity + 1)
    assert e.value.body["param"] == "n"
    r = client.completions.create(model="default", prompt="x", max_tokens=0, n=4)
    assert [c.text for c in r.choices] == [""] * 4 and r.choices[3].finish_reason == "length"
