"""Response bodies and stream chunks in the OpenAI API's shapes (plain dicts, made per token).

Chat replies start after the template's generation prompt ("Assistant:"), so the model's text
begins with the space a World model writes there; like other RWKV servers we drop leading
whitespace of a chat reply (the content is ``Session.generate(prompt, stop=template.stop)``
with ``.lstrip()``). Completions are returned exactly as generated. A request with n choices
gets choices 0..n-1 (on a stream each chunk names its choice's index). A forced tool call's
text is the call (tools.py): the message then has ``tool_calls`` and no content.
"""
from __future__ import annotations

import base64
import collections
import time
import uuid

import numpy as np

from . import tools
from .work import Chunk, Done, Embedded


def model_card(svc) -> dict:
    return {"id": svc.model_id, "object": "model", "created": svc.created, "owned_by": "rrwkv_rt"}


def usage(done: Done) -> dict:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": done.cached_tokens}}


def embeddings(svc, result: Embedded, encoding_format: str) -> dict:
    def encode(v: np.ndarray):
        if encoding_format == "base64":  # little-endian float32, as the OpenAI API sends them
            return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii")
        return v.tolist()
    return {"object": "list", "model": svc.model_id,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(result.vectors)],
            "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}}


def _by_index(chunks: list[Chunk]) -> dict[int, list[Chunk]]:
    out = collections.defaultdict(list)
    for c in chunks:
        out[c.index].append(c)
    return out


class _Format:
    object_whole = object_chunk = ""
    prefix = ""

    def __init__(self, svc, body):
        self.svc = svc
        self.n = body.n
        self.id = f"{self.prefix}-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = svc.model_id
        self._bytes = svc.scheduler.token_bytes
        self._token_text = lambda t: self._bytes[t].decode("utf-8", "replace")

    def _envelope(self, obj: str, choices: list) -> dict:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": "rrwkv_rt", "choices": choices}

    def usage_chunk(self, done: Done) -> dict:
        d = self._envelope(self.object_chunk, [])
        d["usage"] = usage(done)
        return d

    def whole(self, chunks: list[Chunk], dones: list[Done]) -> dict:
        parts = _by_index(chunks)
        ends = {d.index: d for d in dones}
        d = self._envelope(self.object_whole, [self._whole_choice(i, parts[i], ends[i]) for i in range(self.n)])
        d["usage"] = usage(next(x for x in dones if x.last))
        return d


class CompletionFormat(_Format):
    object_whole = object_chunk = "text_completion"
    prefix = "cmpl"

    def __init__(self, svc, body, echo: str | None):
        super().__init__(svc, body)
        self.echo = echo
        self.offset = collections.defaultdict(lambda: len(echo) if echo else 0)  # text_offset of the next token

    def _logprobs(self, chunks: list[Chunk], index: int) -> dict:
        out = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        for c in chunks:
            lp, top = c.logprob
            s = self._token_text(c.token)
            out["tokens"].append(s)
            out["token_logprobs"].append(lp)
            out["top_logprobs"].append({self._token_text(t): v for t, v in top})
            out["text_offset"].append(self.offset[index])
            self.offset[index] += len(s)
        return out

    def _choice(self, index: int, text: str, chunks: list[Chunk], finish: str | None) -> dict:
        lp = self._logprobs(chunks, index) if chunks and chunks[0].logprob is not None else None
        return {"index": index, "text": text, "logprobs": lp, "finish_reason": finish}

    def first(self) -> list[dict]:
        if not self.echo:
            return []
        return [self._envelope(self.object_chunk, [self._choice(i, self.echo, [], None)]) for i in range(self.n)]

    def chunk(self, c: Chunk) -> dict | None:
        if not c.text and c.logprob is None:
            return None
        return self._envelope(self.object_chunk, [self._choice(c.index, c.text, [c], None)])

    def last(self, done: Done) -> list[dict]:
        return [self._envelope(self.object_chunk, [self._choice(done.index, done.text, [], done.finish_reason)])]

    def _whole_choice(self, index: int, chunks: list[Chunk], done: Done) -> dict:
        text = (self.echo or "") + "".join(c.text for c in chunks) + done.text
        return self._choice(index, text, chunks, done.finish_reason)


class ChatFormat(_Format):
    object_whole, object_chunk = "chat.completion", "chat.completion.chunk"
    prefix = "chatcmpl"

    def __init__(self, svc, body, tool: str | None = None, tool_call: bool = False):
        super().__init__(svc, body)
        self.started: set[int] = set()  # choices whose text started (leading whitespace is dropped until then)
        self.tool, self.tool_call = tool, tool_call  # a forced call: of `tool`, or (None) of the model's choice
        self.held = collections.defaultdict(str)  # a "required" call's text, parsed at its end
        self.call_ids = collections.defaultdict(lambda: f"call_{uuid.uuid4().hex[:24]}")

    def _content(self, index: int, text: str) -> str:
        if index not in self.started:
            text = text.lstrip()
            if text:
                self.started.add(index)
        return text

    def _entry(self, t: int, lp: float) -> dict:
        b = self._bytes[t]
        return {"token": b.decode("utf-8", "replace"), "logprob": lp, "bytes": list(b)}

    def _logprobs(self, chunks: list[Chunk]) -> dict | None:
        if not chunks or chunks[0].logprob is None:
            return None
        content = []
        for c in chunks:
            lp, top = c.logprob
            e = self._entry(c.token, lp)
            e["top_logprobs"] = [self._entry(t, v) for t, v in top]
            content.append(e)
        return {"content": content, "refusal": None}

    def _delta(self, index: int, delta: dict, logprobs=None, finish: str | None = None) -> dict:
        return self._envelope(self.object_chunk, [{"index": index, "delta": delta, "logprobs": logprobs,
                                                   "finish_reason": finish}])

    def _finish(self, done: Done) -> str:
        return "tool_calls" if self.tool_call and done.finish_reason == "stop" else done.finish_reason

    def first(self) -> list[dict]:
        out = []
        for i in range(self.n):
            delta = {"role": "assistant", "content": None if self.tool_call else ""}
            if self.tool is not None:  # a named call: its arguments stream as they are made
                delta["tool_calls"] = [{"index": 0, "id": self.call_ids[i], "type": "function",
                                        "function": {"name": self.tool, "arguments": ""}}]
            out.append(self._delta(i, delta))
        return out

    def chunk(self, c: Chunk) -> dict | None:
        if self.tool_call:
            if self.tool is None:
                self.held[c.index] += c.text
                return None
            if not c.text:
                return None
            return self._delta(c.index, {"tool_calls": [{"index": 0, "function": {"arguments": c.text}}]})
        text = self._content(c.index, c.text)
        if not text and c.logprob is None:
            return None
        return self._delta(c.index, {"content": text} if text else {}, self._logprobs([c]))

    def last(self, done: Done) -> list[dict]:
        i = done.index
        if not self.tool_call:
            text = self._content(i, done.text)
            return [self._delta(i, {"content": text} if text else {}, finish=done.finish_reason)]
        if self.tool is not None:
            tail = [self._delta(i, {"tool_calls": [{"index": 0, "function": {"arguments": done.text}}]})] \
                if done.text else []
            return tail + [self._delta(i, {}, finish=self._finish(done))]
        calls = tools.tool_calls(self.held.pop(i, "") + done.text, None) if done.finish_reason == "stop" else None
        head = [self._delta(i, {"tool_calls": [dict(c, index=0) for c in calls]})] if calls else []
        return head + [self._delta(i, {}, finish=self._finish(done))]

    def _whole_choice(self, index: int, chunks: list[Chunk], done: Done) -> dict:
        text = "".join(c.text for c in chunks) + done.text
        message = {"role": "assistant", "content": text.lstrip(), "refusal": None}
        if self.tool_call:
            calls = tools.tool_calls(text, self.tool) if done.finish_reason == "stop" else None
            message["content"] = None if calls else text
            if calls:
                message["tool_calls"] = calls
        return {"index": index, "message": message, "logprobs": self._logprobs(chunks),
                "finish_reason": self._finish(done) if message.get("tool_calls") else done.finish_reason}
