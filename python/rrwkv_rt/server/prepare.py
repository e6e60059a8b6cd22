"""A request body -> a checked :class:`Job`, on a worker thread (``Service.off_loop``): parsing the
JSON, the checks, tokenizing the prompt, building the sampler, the stop-string automaton and the
prompt-cache keys. All of it costs CPU in proportion to the request's size, so none of it runs on
the event loop, which keeps serving other clients (and /health) meanwhile.

Everything ``Session.generate`` refuses up front is refused here with a 400, before the request
is queued; what can only show while generating (logits that leave nothing to sample) fails that
request alone (scheduler.py).
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
from pydantic import ValidationError

from . import responses
from .schemas import ChatRequest, CompletionRequest, describe_validation_error
from .service import BadRequest, Service


@dataclasses.dataclass
class Job:
    """What the scheduler needs for one request, and how its answer is shaped."""
    ids: np.ndarray
    sampler: object
    max_tokens: int
    stops: object  # StopStrings
    keys: list  # the prompt's prefix-cache keys
    fmt: object  # responses.CompletionFormat or ChatFormat
    logprobs: int | None
    stream: bool
    include_usage: bool
    initial_state: object = None  # the floats of a state-tuning file (None: the model's own state)


def _parse(schema, raw: bytes):
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
        raise BadRequest(f"the request body is not valid JSON: {e}") from None
    try:
        return schema.model_validate(obj)
    except ValidationError as e:
        message, param = describe_validation_error(e.errors())
        raise BadRequest(message, param) from None


def completion(svc: Service, raw: bytes) -> Job:
    body = _parse(CompletionRequest, raw)
    max_tokens = svc.check_common(body, body.max_tokens, 16)
    if body.best_of not in (None, 1):
        raise BadRequest(f"best_of must be 1, got {body.best_of}", "best_of")
    if body.suffix:
        raise BadRequest("suffix is not supported", "suffix")
    prompt = body.prompt
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
        if len(prompt) != 1:
            raise BadRequest(f"prompt: one prompt per request, got a list of {len(prompt)}", "prompt")
        prompt = prompt[0]
    if isinstance(prompt, str):
        ids, text = svc.tokenize(prompt, "prompt"), prompt
    else:
        try:
            ids = np.asarray(prompt, dtype=np.int64)
        except OverflowError:
            raise BadRequest(f"prompt token ids must be in 0..{svc.model.vocab_size - 1}, got one that does not "
                             "even fit in 64 bits", "prompt") from None
        text = None
    svc.check_prompt(ids, "prompt")
    if body.echo and text is None:
        text = svc.tokenizer.decode_text(ids)
    fmt = responses.CompletionFormat(svc, body, echo=text if body.echo else None)
    return _job(svc, body, ids, max_tokens, svc.stops(body.stop), fmt, body.logprobs)


def chat(svc: Service, raw: bytes) -> Job:
    body = _parse(ChatRequest, raw)
    max_tokens = svc.check_common(body, body.max_completion_tokens if body.max_tokens is None else body.max_tokens,
                                  svc.cfg.default_max_tokens)
    if body.tools:
        raise BadRequest("tools are not supported", "tools")
    if body.response_format and body.response_format.get("type", "text") != "text":
        raise BadRequest("response_format: only {'type': 'text'} is supported", "response_format")
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
    try:
        prompt = svc.template.render(messages)
    except ValueError as e:
        raise BadRequest(str(e), "messages") from None
    ids = svc.check_prompt(svc.tokenize(prompt, "messages"), "messages")
    logprobs = (body.top_logprobs or 0) if body.logprobs else None
    fmt = responses.ChatFormat(svc, body)
    return _job(svc, body, ids, max_tokens, svc.stops(body.stop, svc.template.stop), fmt, logprobs)


def _job(svc: Service, body, ids: np.ndarray, max_tokens: int, stops, fmt, logprobs: int | None) -> Job:
    sampler = svc.sampler(body)
    initial = svc.initial_state(body)
    include_usage = bool(body.stream and body.stream_options and body.stream_options.include_usage)
    return Job(ids, sampler, max_tokens, stops, svc.scheduler.cache.keys_for(ids), fmt, logprobs, body.stream,
               include_usage, initial)
