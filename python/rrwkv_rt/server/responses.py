"""Response bodies and stream chunks in the OpenAI API's shapes (plain dicts, made per token).

Chat replies start after the template's generation prompt ("Assistant:"), so the model's text
begins with the space a World model writes there; like other RWKV servers we drop leading
whitespace of a chat reply (the content is ``Session.generate(prompt, stop=template.stop)``
with ``.lstrip()``). Completions are returned exactly as generated.
"""
from __future__ import annotations

import time
import uuid

from .scheduler import Chunk, Done


def model_card(svc) -> dict:
    return {"id": svc.model_id, "object": "model", "created": svc.created, "owned_by": "rrwkv_rt"}


def usage(done: Done) -> dict:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": done.cached_tokens}}


class _Format:
    object_whole = object_chunk = ""
    prefix = ""

    def __init__(self, svc, body):
        self.svc = svc
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


class CompletionFormat(_Format):
    object_whole = object_chunk = "text_completion"
    prefix = "cmpl"

    def __init__(self, svc, body, echo: str | None):
        super().__init__(svc, body)
        self.echo = echo
        self.offset = len(echo) if echo else 0  # text_offset of the next token

    def _logprobs(self, chunks: list[Chunk]) -> dict:
        out = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        for c in chunks:
            lp, top = c.logprob
            s = self._token_text(c.token)
            out["tokens"].append(s)
            out["token_logprobs"].append(lp)
            out["top_logprobs"].append({self._token_text(t): v for t, v in top})
            out["text_offset"].append(self.offset)
            self.offset += len(s)
        return out

    def _choice(self, text: str, chunks: list[Chunk], finish: str | None) -> dict:
        lp = self._logprobs(chunks) if chunks and chunks[0].logprob is not None else None
        return {"index": 0, "text": text, "logprobs": lp, "finish_reason": finish}

    def first(self) -> dict | None:
        return self._envelope(self.object_chunk, [self._choice(self.echo, [], None)]) if self.echo else None

    def chunk(self, c: Chunk) -> dict | None:
        if not c.text and c.logprob is None:
            return None
        return self._envelope(self.object_chunk, [self._choice(c.text, [c], None)])

    def last(self, done: Done) -> dict:
        return self._envelope(self.object_chunk, [self._choice(done.text, [], done.finish_reason)])

    def whole(self, chunks: list[Chunk], done: Done) -> dict:
        text = (self.echo or "") + "".join(c.text for c in chunks) + done.text
        d = self._envelope(self.object_whole, [self._choice(text, chunks, done.finish_reason)])
        d["usage"] = usage(done)
        return d


class ChatFormat(_Format):
    object_whole, object_chunk = "chat.completion", "chat.completion.chunk"
    prefix = "chatcmpl"

    def __init__(self, svc, body):
        super().__init__(svc, body)
        self.started = False  # leading whitespace of the reply is dropped until text starts

    def _content(self, text: str) -> str:
        if not self.started:
            text = text.lstrip()
            self.started = bool(text)
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

    def first(self) -> dict:
        return self._envelope(self.object_chunk, [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                   "logprobs": None, "finish_reason": None}])

    def chunk(self, c: Chunk) -> dict | None:
        text = self._content(c.text)
        if not text and c.logprob is None:
            return None
        delta = {"content": text} if text else {}
        return self._envelope(self.object_chunk, [{"index": 0, "delta": delta, "logprobs": self._logprobs([c]),
                                                   "finish_reason": None}])

    def last(self, done: Done) -> dict:
        text = self._content(done.text)
        return self._envelope(self.object_chunk, [{"index": 0, "delta": {"content": text} if text else {},
                                                   "logprobs": None, "finish_reason": done.finish_reason}])

    def whole(self, chunks: list[Chunk], done: Done) -> dict:
        text = ("".join(c.text for c in chunks) + done.text).lstrip()
        message = {"role": "assistant", "content": text, "refusal": None}
        d = self._envelope(self.object_whole, [{"index": 0, "message": message, "logprobs": self._logprobs(chunks),
                                                "finish_reason": done.finish_reason}])
        d["usage"] = usage(done)
        return d
