"""Bad requests get a 4xx with an OpenAI-style error naming the field; the server stays healthy
and other clients' outputs are untouched."""
from __future__ import annotations

import httpx
import pytest

from srv_helpers import reference

OK = {"model": "default", "prompt": "def main(", "max_tokens": 5}
CHAT = {"model": "default", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}

CASES = [  # (path, body, status, param, words in the message)
    ("/v1/completions", OK | {"temperature": -0.5}, 400, "temperature", "greater than or equal to 0"),
    ("/v1/completions", OK | {"temperature": "hot"}, 400, "temperature", "number"),
    ("/v1/completions", OK | {"max_tokens": "5"}, 400, "max_tokens", "integer"),
    ("/v1/completions", OK | {"max_tokens": 10**9}, 400, "max_tokens", "<= 4096"),
    ("/v1/completions", OK | {"max_tokens": -1}, 400, "max_tokens", "greater than or equal to 0"),
    ("/v1/completions", OK | {"top_p": 1.5}, 400, "top_p", "less than or equal to 1"),
    ("/v1/completions", OK | {"stream": "yes"}, 400, "stream", "boolean"),
    ("/v1/completions", OK | {"seed": -3}, 400, "seed", "greater than or equal to 0"),
    ("/v1/completions", OK | {"stop": ["a", "b", "c", "d", "e"]}, 400, "stop", "at most 4"),
    ("/v1/completions", OK | {"stop": [""]}, 400, "stop", "empty"),
    ("/v1/completions", OK | {"n": 9}, 400, "n", "must be <= 8"),
    ("/v1/completions", OK | {"n": 0}, 400, "n", "greater than or equal to 1"),
    ("/v1/completions", OK | {"logprobs": 9}, 400, "logprobs", "less than or equal to 5"),
    ("/v1/completions", OK | {"logit_bias": {"5": 100.5}}, 400, "logit_bias", "[-100, 100]"),
    ("/v1/completions", OK | {"logit_bias": {"5": "10"}}, 400, "logit_bias", "[-100, 100]"),
    ("/v1/completions", OK | {"logit_bias": {"x": -100}}, 400, "logit_bias", "token ids"),
    ("/v1/completions", OK | {"logit_bias": {"300": -100}}, 400, "logit_bias", "outside the vocabulary"),
    ("/v1/completions", OK | {"logit_bias": {"5": -101}}, 400, "logit_bias", "[-100, 100]"),
    # keys are token ids in decimal ASCII digits: not what int() also takes
    ("/v1/completions", OK | {"logit_bias": {" 5 ": -100}}, 400, "logit_bias", "decimal digits"),
    ("/v1/completions", OK | {"logit_bias": {"\u0665": -100}}, 400, "logit_bias", "decimal digits"),  # Arabic 5
    ("/v1/completions", OK | {"logit_bias": {"1_0": -100}}, 400, "logit_bias", "decimal digits"),
    ("/v1/completions", OK | {"logit_bias": {"+5": -100}}, 400, "logit_bias", "decimal digits"),
    ("/v1/completions", OK | {"logit_bias": {"-1": -100}}, 400, "logit_bias", "decimal digits"),
    ("/v1/completions", OK | {"logit_bias": {"9" * 5000: -100}}, 400, "logit_bias", "outside the vocabulary"),
    ("/v1/completions", OK | {"stop": ["x" * 257]}, 400, "stop", "at most 256 bytes"),
    ("/v1/completions", OK | {"stop": "\u20ac" * 86}, 400, "stop", "at most 256 bytes"),  # 258 bytes of UTF-8
    ("/v1/completions", OK | {"model": "gpt-4"}, 404, "model", "does not exist"),
    ("/v1/completions", {"prompt": "x"}, 400, "model", "required"),
    ("/v1/completions", OK | {"prompt": ""}, 400, "prompt", "empty"),
    ("/v1/completions", OK | {"prompt": 12}, 400, "prompt", "string"),
    ("/v1/completions", OK | {"prompt": [1, 2, 256]}, 400, "prompt", "outside the vocabulary"),
    ("/v1/completions", OK | {"prompt": [1, 2**70]}, 400, "prompt", "64 bits"),
    ("/v1/completions", OK | {"prompt": ["a", "b"]}, 400, "prompt", "one prompt"),
    ("/v1/completions", OK | {"prompt": "x" * 4001}, 400, "prompt", "at most 4000"),
    ("/v1/chat/completions", CHAT | {"messages": []}, 400, "messages", "at least 1"),
    ("/v1/chat/completions", CHAT | {"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages.0.role",
     "system"),
    ("/v1/chat/completions", CHAT | {"messages": [{"role": "user", "content": 5}]}, 400, "messages.0.content",
     "string"),
    ("/v1/chat/completions", CHAT | {"messages": [{"role": "user", "content": "x" * 5000}]}, 400, "messages",
     "at most 4000"),
    ("/v1/chat/completions", CHAT | {"tools": [{"type": "function"}]}, 400, "tools.0.function", "required"),
    ("/v1/chat/completions", CHAT | {"tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tool_choice",
     "not supported"),
    ("/v1/chat/completions", CHAT | {"tools": [{"type": "function", "function": {"name": "f"}}],
                                     "tool_choice": {"type": "function", "function": {"name": "g"}}}, 400,
     "tool_choice", "not among the tools"),
    ("/v1/chat/completions", CHAT | {"response_format": {"type": "xml"}}, 400, "response_format", "json_schema"),
    ("/v1/completions", OK | {"grammar": "start: ("}, 400, "grammar", "grammar"),
    ("/v1/completions", OK | {"grammar": "x", "response_format": {"type": "json_object"}}, 400, "grammar",
     "give one of them"),
    ("/v1/chat/completions", CHAT | {"top_logprobs": 50}, 400, "top_logprobs", "less than or equal to 20"),
]


@pytest.mark.parametrize("path,body,status,param,words", CASES)
def test_bad_field_is_named(server, path, body, status, param, words):
    base, _ = server
    r = httpx.post(base + path, json=body, timeout=30)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param, err
    assert words in err["message"], err
    assert err["type"]


# JSON escapes that are lone UTF-16 surrogates: text no encoding can hold (\ud800 alone, \udc00 alone)
SURROGATES = [  # (path, raw body, param)
    ("/v1/completions", b'{"model": "default", "max_tokens": 3, "prompt": "ab\\ud800"}', "prompt"),
    ("/v1/completions", b'{"model": "default", "max_tokens": 3, "prompt": ["\\udc00"]}', "prompt.0"),
    ("/v1/completions", b'{"model": "default", "max_tokens": 3, "prompt": "x", "stop": ["\\ud83d"]}', "stop.0"),
    ("/v1/chat/completions", b'{"model": "default", "max_tokens": 3, "messages": [{"role": "user", '
                             b'"content": "hi \\ud800"}]}', "messages.0.content"),
    ("/v1/chat/completions", b'{"model": "default", "max_tokens": 3, "messages": [{"role": "user", '
                             b'"content": [{"type": "text", "text": "\\udfff"}]}]}', "messages.0.content.0.text"),
    ("/v1/completions", b'{"model": "\\ud800", "max_tokens": 3, "prompt": "x"}', "model"),
]


@pytest.mark.parametrize("path,raw,param", SURROGATES)
def test_lone_surrogates_are_a_400(server, path, raw, param):
    base, _ = server
    r = httpx.post(base + path, content=raw, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and "surrogate" in err["message"], err


def test_a_surrogate_pair_is_text(server, session):
    base, _ = server
    raw = b'{"model": "default", "max_tokens": 5, "temperature": 0, "prompt": "# \\ud83d\\ude00\\n"}'
    r = httpx.post(base + "/v1/completions", content=raw, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == reference(session, "# \U0001F600\n", 5)


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_body(server, raw):
    base, _ = server
    r = httpx.post(base + "/v1/completions", content=raw, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"]


def test_unknown_route_and_method(server):
    base, _ = server
    r = httpx.get(base + "/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["message"]
    assert httpx.get(base + "/v1/completions").status_code == 405


def test_still_healthy_and_exact_after_bad_input(server, client, session):
    base, _ = server
    for path, body, *_ in CASES:
        httpx.post(base + path, json=body, timeout=30)
    assert httpx.get(base + "/health").json()["status"] == "ok"
    r = client.completions.create(model="default", prompt="class Foo:\n    def ", max_tokens=30, temperature=0)
    assert r.choices[0].text == reference(session, "class Foo:\n    def ", 30)
