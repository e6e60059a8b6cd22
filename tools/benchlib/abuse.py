"""Normal and hostile clients of `rrwkv serve` on the shipped model, for the load-and-abuse test
(tests/server/test_abuse.py) and the soak program (tools/soak_server.py).

Normal clients send requests from a fixed set (completions and chat, streaming or not, greedy and
seeded sampling, stop strings, logit biases, token-id prompts, n choices, a JSON schema) and keep
what they got, to be compared with ``Session.generate`` afterwards (choice i with seed + i).
Hostile clients meanwhile run attacks, each checking the answer it must get: a bias on every
token, grammars the engine refuses, requests that leave nothing to sample midway, bodies past
the limit (declared and chunked), half-sent headers and bodies, garbage that is not HTTP, lone
surrogates, JSON nested 50,000 deep, too many or too long stop strings, prompts past the byte
limit, clients that leave mid-stream or give up waiting, and bursts that fill the queue.
Half-sent requests are held open until the round's normal clients are done, then dropped: the
server must serve everyone else meanwhile and answer them nothing but, at most, a 408. Nothing
here waits for a deadline or races the machine's speed. Everything runs on one asyncio loop of
this process, against 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import random
import time

import httpx

MODEL = "default"


@dataclasses.dataclass
class Limits:
    """The server's limits the attacks aim at; ``args()`` gives the matching `rrwkv serve` flags."""
    max_body_bytes: int = 256 << 10
    max_prompt_bytes: int = 64 << 10
    # Far above any gap inside a request sent whole, however slow or loaded the machine: no normal
    # request can meet them. The half-sent attacks do not wait for them either (they hold their
    # connections open to the end of the round); tests/server/test_limits.py fires the deadlines
    # of half-sent requests itself.
    header_timeout: float = 300.0
    body_timeout: float = 300.0

    def args(self) -> list[str]:
        return ["--max-body-mb", str(self.max_body_bytes / 2**20), "--max-prompt-bytes", str(self.max_prompt_bytes),
                "--header-timeout", str(self.header_timeout), "--body-timeout", str(self.body_timeout)]


NORMAL = [  # (path, body without "model")
    ("/v1/completions", {"prompt": "def main(", "max_tokens": 24, "temperature": 0}),
    ("/v1/completions", {"prompt": "class Foo:\n    def ", "max_tokens": 32, "temperature": 1.0, "top_p": 0.9,
                         "seed": 3, "stream": True}),
    ("/v1/completions", {"prompt": "import os\n", "max_tokens": 40, "temperature": 0.8, "seed": 5, "stop": ["\n\n", "):"]}),
    ("/v1/completions", {"prompt": "# Copyright (c) 2001 Python Software Foundation\n" * 6, "max_tokens": 16,
                         "temperature": 0, "stream": True}),
    ("/v1/completions", {"prompt": list(b"for name in "), "max_tokens": 20, "temperature": 0}),
    ("/v1/completions", {"prompt": "    return self.", "max_tokens": 30, "temperature": 1.0, "seed": 9,
                         "presence_penalty": 0.5, "frequency_penalty": 0.3, "logit_bias": {"10": -100, "32": -100}}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "def add(a, b):"}], "max_tokens": 30,
                              "temperature": 0}),
    ("/v1/chat/completions", {"messages": [{"role": "system", "content": "You write Python."},
                                           {"role": "user", "content": "class Stack:"}],
                              "max_tokens": 30, "temperature": 1.0, "seed": 4, "stream": True, "stop": ["self"]}),
    # n choices of one prompt, each its own seed stream; structured output
    ("/v1/completions", {"prompt": "import ", "max_tokens": 12, "temperature": 1.0, "seed": 21, "n": 3,
                         "stream": True}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "A point"}], "max_tokens": 60,
                              "temperature": 0.7, "seed": 8, "n": 2,
                              "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {
                                  "type": "object", "properties": {"x": {"type": "integer", "minimum": 0,
                                                                         "maximum": 99}},
                                  "required": ["x"], "additionalProperties": False}}}}),
]


def reference(session, index: int) -> tuple[tuple, tuple]:
    """(texts, finish_reasons), one per choice, that Session.generate gives for NORMAL[index] from a
    fresh state: choice i with the seed seed + i."""
    from rrwkv_rt.runtime.chat import template_for
    path, body = NORMAL[index]
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else list(stop or [])
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
    texts, finishes = [], []
    for i in range(body.get("n", 1)):
        kw = dict(temperature=body.get("temperature", 1.0), top_p=body.get("top_p", 1.0),
                  seed=None if body.get("seed") is None else body["seed"] + i,
                  presence_penalty=body.get("presence_penalty", 0.0),
                  frequency_penalty=body.get("frequency_penalty", 0.0),
                  logit_bias={int(k): v for k, v in body.get("logit_bias", {}).items()} or None, json_schema=schema)
        session.reset()
        if path == "/v1/completions":
            r = session.generate(body["prompt"], body["max_tokens"], stop=stop, **kw)
            text = str(r)
        else:
            template = template_for(session.model)
            r = session.generate(template.render(body["messages"]), body["max_tokens"],
                                 stop=list(template.stop) + stop, **kw)
            text = str(r).lstrip()
        texts.append(text)
        finishes.append("length" if r.finish_reason == "length" else "stop")
    return tuple(texts), tuple(finishes)


@dataclasses.dataclass
class Round:
    """What one round of clients saw."""
    normal: list = dataclasses.field(default_factory=list)  # (index, texts, finish_reasons, seconds): per choice
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # attack -> count
    unexpected: list = dataclasses.field(default_factory=list)  # what an attack or a normal client did not expect
    seconds: float = 0.0


# ---- normal clients ------------------------------------------------------------------------------

async def _send(client: httpx.AsyncClient, path: str, body: dict) -> tuple[int, tuple, tuple, dict | None]:
    """(status, texts, finish_reasons, error) of one request, streamed or not (a text and a finish
    reason per choice)."""
    n = body.get("n", 1)
    if not body.get("stream"):
        r = await client.post(path, json=body)
        data = r.json()
        if r.status_code != 200:
            return r.status_code, (), (), data.get("error")
        choices = sorted(data["choices"], key=lambda c: c["index"])
        return (200, tuple(c["text"] if "text" in c else c["message"]["content"] for c in choices),
                tuple(c["finish_reason"] for c in choices), None)
    text, finish = [[] for _ in range(n)], [None] * n
    async with client.stream("POST", path, json=body) as r:
        if r.status_code != 200:
            return r.status_code, (), (), json.loads(await r.aread()).get("error")
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                return 200, (), (), event["error"]
            for choice in event["choices"]:
                i = choice["index"]
                text[i].append(choice.get("text") or (choice.get("delta") or {}).get("content") or "")
                finish[i] = choice.get("finish_reason") or finish[i]
    return 200, tuple("".join(t) for t in text), tuple(finish), None


async def normal_client(base: str, rng: random.Random, n: int, out: Round) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        for _ in range(n):
            index = rng.randrange(len(NORMAL))
            path, body = NORMAL[index]
            t0 = time.monotonic()
            for _attempt in range(100):  # a well-behaved client retries a full queue after Retry-After
                status, texts, finishes, error = await _send(client, path, body | {"model": MODEL})
                if status != 503:
                    break
                await asyncio.sleep(1)
            if status != 200 or error:
                out.unexpected.append(f"normal request {index}: {status} {error}")
            else:
                out.normal.append((index, texts, finishes, time.monotonic() - t0))


# ---- hostile clients -----------------------------------------------------------------------------

class Attacks:
    """Each attack checks the answer it must get and returns nothing; AssertionError otherwise."""

    def __init__(self, base: str, limits: Limits, held: list):
        self.base, self.limits = base, limits
        self.host, self.port = "127.0.0.1", int(base.rsplit(":", 1)[1])
        self.held = held  # (writer, read task) of half-sent requests, dropped by release_held()

    async def _raw(self, data: bytes, then: bytes | None = None) -> bytes:
        """Send `data` (then `then` while the server has not answered), read until it closes."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(data)
            await writer.drain()
            if then is not None:  # repeated a little past the body limit
                try:
                    for _ in range(self.limits.max_body_bytes // len(then) + 16):
                        writer.write(then)
                        await writer.drain()
                except (ConnectionError, OSError):
                    pass  # the server answered and closed: what this attack wants
            return await asyncio.wait_for(reader.read(), 120)
        except ConnectionError:
            return b""
        finally:
            writer.close()

    async def _post(self, client, path, body, status: int, code: str | None = None, stream_error: bool = False):
        got, _, _, error = await _send(client, path, body | {"model": MODEL})
        if got == 503:
            return  # the queue was full: an honest answer too
        assert got == status, (got, error)
        if code is not None:
            assert error and error.get("code") == code, error
        if stream_error:
            assert error, "an error event was expected"

    async def bias_everything(self, client):
        # the same bias on every token changes nothing (it is added to the logits, as OpenAI's)
        await self._post(client, "/v1/completions", {"prompt": "x", "logit_bias": {str(t): -100 for t in range(256)}},
                         200)

    async def nothing_left_midway(self, client, stream: bool = False):
        # only "a" and "b" allowed (a grammar), every logit below 0 (a bias) and a seen token's
        # penalised to -inf: the third token has nothing to sample
        body = {"prompt": "def main(", "max_tokens": 10, "temperature": 0, "repetition_penalty": 1e300,
                "logit_bias": {str(t): -100 for t in range(256)}, "grammar": "start: /[ab]+/", "stream": stream}
        await self._post(client, "/v1/completions", body, 200 if stream else 400, "nothing_to_sample", stream)

    async def bad_grammar(self, client):
        await self._post(client, "/v1/completions", {"prompt": "x", "grammar": "start: ("}, 400, "invalid_grammar")
        await self._post(client, "/v1/completions", {"prompt": "x", "response_format": {
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "no such type"}}}}, 400,
            "invalid_grammar")

    async def nothing_left_midway_streamed(self, client):
        await self.nothing_left_midway(client, stream=True)

    async def body_too_large(self, client):
        answer = await self._raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % (self.limits.max_body_bytes + 1))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]

    async def chunked_body_too_large(self, client):
        chunk = b"%x\r\n%s\r\n" % (4096, b"x" * 4096)
        answer = await self._raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n", then=chunk)
        assert answer.startswith(b"HTTP/1.1 413") or answer == b"", answer[:80]  # or reset after its answer

    async def _hold(self, data: bytes) -> None:
        """Send part of a request and keep the connection open (release_held() drops it)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(data)
        await writer.drain()
        self.held.append((writer, asyncio.ensure_future(reader.read())))  # whatever arrives, until closed

    async def half_sent_headers(self, client):
        await self._hold(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-")

    async def half_sent_body(self, client):
        await self._hold(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 500\r\n\r\n{\"model\": \"default\", \"prompt\": \"")

    async def not_http(self, client):
        answer = await self._raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400") or answer == b"", answer[:80]

    async def lone_surrogate(self, client):
        r = await client.post("/v1/chat/completions", headers={"content-type": "application/json"},
                              content=b'{"model": "default", "messages": [{"role": "user", "content": "\\ud800!"}]}')
        assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"], r.text

    async def deep_json(self, client):
        r = await client.post("/v1/completions", headers={"content-type": "application/json"},
                              content=b"[" * 50_000 + b"]" * 50_000)
        assert r.status_code in (400, 413), r.text

    async def stop_strings_past_the_limits(self, client):
        await self._post(client, "/v1/completions", {"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, 400)
        await self._post(client, "/v1/completions", {"prompt": "x", "stop": ["ab" * 129]}, 400)

    async def prompt_past_the_byte_limit(self, client):
        await self._post(client, "/v1/completions", {"prompt": "é" * (self.limits.max_prompt_bytes // 2 + 1)}, 400,
                         "context_length_exceeded")

    async def wrong_fields(self, client):
        await self._post(client, "/v1/completions", {"prompt": [1, 2, 10**6]}, 400)
        await self._post(client, "/v1/completions", {"prompt": "x", "max_tokens": "5"}, 400)
        await self._post(client, "/v1/completions", {"prompt": "x", "logit_bias": {"\u0665": -100}}, 400)

    async def leave_mid_stream(self, client):
        body = {"model": MODEL, "prompt": "def main(", "max_tokens": 2000, "temperature": 1.0, "stream": True}
        async with client.stream("POST", "/v1/completions", json=body) as r:
            if r.status_code == 503:
                return
            seen = 0
            async for line in r.aiter_lines():
                seen += line.startswith("data: ")
                if seen == 3:
                    break  # leaving the block closes the connection

    async def give_up_waiting(self, client):
        body = {"model": MODEL, "prompt": "import sys\n", "max_tokens": 2000, "temperature": 1.0}
        try:
            await client.post("/v1/completions", json=body, timeout=0.3)
        except httpx.TimeoutException:
            pass  # gone before the answer: the server must drop the request (or it finished first: fine too)

    async def fill_the_queue(self, client):
        body = {"model": MODEL, "prompt": "x = ", "max_tokens": 8, "temperature": 0}
        answers = await asyncio.gather(*(client.post("/v1/completions", json=body) for _ in range(24)))
        assert all(a.status_code == 200 or (a.status_code == 503 and a.headers.get("retry-after")) for a in answers), \
            [a.status_code for a in answers]

    def all(self) -> list:
        return [self.bias_everything, self.bad_grammar, self.nothing_left_midway, self.nothing_left_midway_streamed, self.body_too_large,
                self.chunked_body_too_large, self.half_sent_headers, self.half_sent_body, self.not_http,
                self.lone_surrogate, self.deep_json, self.stop_strings_past_the_limits,
                self.prompt_past_the_byte_limit, self.wrong_fields, self.leave_mid_stream, self.give_up_waiting,
                self.fill_the_queue]


async def release_held(held: list, out: Round) -> None:
    """Drop the held half-sent requests. The server may have answered one only with its 408 (a
    round slower than the deadline); anything else is unexpected."""
    for writer, answer in held:
        writer.close()  # ends the read: it returns what arrived before
        try:
            got = await asyncio.wait_for(answer, 60)
        except (ConnectionError, OSError):
            got = b""
        if got and not got.startswith(b"HTTP/1.1 408"):
            out.unexpected.append(f"a half-sent request was answered {got[:80]!r}")
    held.clear()


async def hostile_client(base: str, limits: Limits, rng: random.Random, n: int, out: Round, held: list) -> None:
    attacks = Attacks(base, limits, held).all()
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for _ in range(n):
            attack = rng.choice(attacks)
            try:
                await attack(client)
                out.outcomes[attack.__name__] += 1
            except (AssertionError, httpx.HTTPError, OSError, ValueError) as e:
                out.unexpected.append(f"{attack.__name__}: {type(e).__name__}: {e}"[:300])


async def run_round(base: str, limits: Limits, *, normal_clients: int, normal_each: int, hostile_clients: int,
                    hostile_each: int, seed: int) -> Round:
    out = Round()
    t0 = time.monotonic()
    rng = random.Random(seed)
    held: list = []
    try:
        await asyncio.gather(*[normal_client(base, random.Random(rng.random()), normal_each, out)
                               for _ in range(normal_clients)],
                             *[hostile_client(base, limits, random.Random(rng.random()), hostile_each, out, held)
                               for _ in range(hostile_clients)])
    finally:
        await release_held(held, out)
    out.seconds = time.monotonic() - t0
    return out


def mismatches(session, rounds: list[Round]) -> list[str]:
    """Normal responses that differ from Session.generate's (each distinct request computed once)."""
    want = {}
    bad = []
    for r in rounds:
        for index, texts, finishes, _ in r.normal:
            if index not in want:
                want[index] = reference(session, index)
            if (texts, finishes) != want[index]:
                bad.append(f"normal request {index}: got {(texts, finishes)!r}, Session.generate gives "
                           f"{want[index]!r}")
    return bad
