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

from . import responses, tools
from .schemas import ChatRequest, CompletionRequest, EmbeddingRequest, describe_validation_error
from .service import BadRequest, Service


@dataclasses.dataclass
class Job:
    """What the scheduler needs for one request, and how its answer is shaped."""
    ids: np.ndarray
    samplers: list  # one per choice
    max_tokens: int
    stops: object  # StopStrings
    keys: list  # the prompt's prefix-cache keys
    fmt: object  # responses.CompletionFormat or ChatFormat
    logprobs: int | None
    stream: bool
    include_usage: bool
    initial_state: object = None  # the floats of a state-tuning file (None: the model's own state)
    constraint: object = None  # structured.Constraint of the choices' grammar (None: free text)
    first_mask: object = None  # its mask for the first draw, computed here, off the scheduler thread


@dataclasses.dataclass
class EmbedJob:
    inputs: list  # token id arrays
    keys: list  # each input's prefix-cache keys
    encoding_format: str


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
    return _job(svc, body, ids, max_tokens, svc.stops(body.stop), fmt, body.logprobs, svc.grammar(body))


def chat(svc: Service, raw: bytes) -> Job:
    body = _parse(ChatRequest, raw)
    max_tokens = svc.check_common(body, body.max_completion_tokens if body.max_tokens is None else body.max_tokens,
                                  svc.cfg.default_max_tokens)
    call, name = tools.call_schema(body)
    messages = [tools.render_message(m) for m in body.messages]
    described = tools.tools_message(body)
    if described is not None:
        messages.insert(0, described)
    try:
        prompt = svc.template.render(messages)
    except ValueError as e:
        raise BadRequest(str(e), "messages") from None
    ids = svc.check_prompt(svc.tokenize(prompt, "messages"), "messages")
    logprobs = (body.top_logprobs or 0) if body.logprobs else None
    fmt = responses.ChatFormat(svc, body, tool=name, tool_call=call is not None)
    return _job(svc, body, ids, max_tokens, svc.stops(body.stop, svc.template.stop), fmt, logprobs,
                svc.grammar(body, call))


def _job(svc: Service, body, ids: np.ndarray, max_tokens: int, stops, fmt, logprobs: int | None,
         grammar: str | None) -> Job:
    samplers = svc.samplers(body, body.n)
    initial = svc.initial_state(body)
    include_usage = bool(body.stream and body.stream_options and body.stream_options.include_usage)
    constraint = first = None
    if grammar is not None:
        constraint = svc.constraint(grammar)
        first = constraint.mask() if not constraint.done else None
    return Job(ids, samplers, max_tokens, stops, svc.scheduler.cache.keys_for(ids), fmt, logprobs, body.stream,
               include_usage, initial, constraint, first)


MAX_EMBEDDING_INPUTS = 2048  # as the OpenAI API


def embedding(svc: Service, raw: bytes) -> EmbedJob:
    body = _parse(EmbeddingRequest, raw)
    if body.model != svc.model_id:
        raise BadRequest(f"model {body.model!r} does not exist; this server serves {svc.model_id!r} "
                         "(GET /v1/models)", "model", 404, "invalid_request_error", "model_not_found")
    width = int(svc.model.info["n_embd"])
    if body.dimensions is not None and body.dimensions != width:
        raise BadRequest(f"dimensions must be {width} (this model's hidden size) or absent, got {body.dimensions}: "
                         "the vectors are the model's final hidden states, which cannot be shortened", "dimensions")
    items = body.input
    if isinstance(items, str) or (isinstance(items, list) and items and isinstance(items[0], int)):
        items = [items]
    if not items:
        raise BadRequest("input is empty; expected a string, a list of strings or token ids", "input")
    if len(items) > MAX_EMBEDDING_INPUTS:
        raise BadRequest(f"input has {len(items)} items; at most {MAX_EMBEDDING_INPUTS} per request", "input")
    inputs = []
    for i, item in enumerate(items):
        param = f"input[{i}]" if len(items) > 1 else "input"
        ids = svc.tokenize(item, param) if isinstance(item, str) else _token_ids(svc, item, param)
        inputs.append(svc.check_prompt(ids, param))
    return EmbedJob(inputs, [svc.scheduler.cache.keys_for(x) for x in inputs], body.encoding_format)


def _token_ids(svc: Service, ids: list, param: str) -> np.ndarray:
    try:
        return np.asarray(ids, dtype=np.int64)
    except OverflowError:
        raise BadRequest(f"{param} token ids must be in 0..{svc.model.vocab_size - 1}, got one that does not even "
                         "fit in 64 bits", param) from None
