"""The FastAPI application: OpenAI-compatible routes over one :class:`Scheduler`.

    app = create_app(ServerConfig(model_path="model.rrwkv"))
    uvicorn.run(app, host="127.0.0.1", port=8000)

Routes: ``POST /v1/completions``, ``POST /v1/chat/completions`` (``stream: true`` gives
server-sent events), ``GET /v1/models``, ``GET /health``, ``GET /metrics`` (Prometheus text).
Every error is an OpenAI-style body ``{"error": {"message", "type", "param", "code"}}``; a bad
request is a 400 naming the field, a full queue a 503 with ``Retry-After``.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
import time

import numpy as np
from fastapi import FastAPI, Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..runtime.chat import ChatTemplate, template_for
from ..runtime.generate import Sampler, model_tokenizer
from . import responses
from .scheduler import Chunk, Done, Failed, QueueFull, Request, Scheduler
from .schemas import ChatRequest, CompletionRequest, describe_validation_error, error_body

MAX_STOP_STRINGS = 4  # as the OpenAI API


@dataclasses.dataclass
class ServerConfig:
    model_path: str | None = None  # None: the shipped model
    model_name: str | None = None  # the id clients pass as `model` (default: the file name without .rrwkv)
    chat_template: str | None = None  # a JSON file; default: the model file's meta.chat_template, else World
    threads: int | None = None
    capacity: int = 32  # concurrent sequences (batch rows)
    max_queue: int = 64  # requests waiting for a row; more get 503
    prefill_chunk: int = 128  # equal to Session's default, so outputs equal Session.generate
    cache_bytes: int = 256 << 20
    max_tokens_limit: int = 4096
    default_max_tokens: int = 256  # chat requests without max_tokens (completions default to 16, as OpenAI)
    max_prompt_tokens: int = 32768
    request_timeout: float | None = 600.0
    initial_states: dict[str, str] | None = None  # name -> state-tuning file, chosen per request

    def check(self) -> None:
        for name in ("capacity", "max_queue", "prefill_chunk", "max_tokens_limit", "max_prompt_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {self.cache_bytes}")
        if not 0 <= self.default_max_tokens <= self.max_tokens_limit:
            raise ValueError(f"default_max_tokens must be in 0..max_tokens_limit ({self.max_tokens_limit}), "
                             f"got {self.default_max_tokens}")
        if self.request_timeout is not None and self.request_timeout <= 0:
            raise ValueError(f"request_timeout must be > 0 seconds (or None), got {self.request_timeout}")


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400, type_: str = "invalid_request_error",
                 code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.param, self.status, self.type, self.code, self.headers = param, status, type_, code, headers


class Service:
    """The model, its tokenizer and chat template, and the scheduler: what the routes share."""

    def __init__(self, cfg: ServerConfig):
        from ..runtime import Model
        from ..runtime.generate import default_model_path
        cfg.check()
        self.cfg = cfg
        self.model = Model(cfg.model_path or default_model_path())
        self.tokenizer = model_tokenizer(self.model)
        self.template = (ChatTemplate.from_file(cfg.chat_template) if cfg.chat_template
                         else template_for(self.model))
        self.model_id = cfg.model_name or os.path.splitext(os.path.basename(self.model.path))[0]
        self.created = int(time.time())
        self.bridge = None  # the _LoopBridge to the event loop serving the requests
        from ..runtime.initial_state import state_floats  # read and checked now: a bad file fails at startup
        self.initial_states = {name: state_floats(self.model, path) for name, path in (cfg.initial_states or {}).items()}
        self.scheduler = Scheduler(self.model, self.tokenizer, capacity=cfg.capacity, max_queue=cfg.max_queue,
                                   threads=cfg.threads, prefill_chunk=cfg.prefill_chunk, cache_bytes=cfg.cache_bytes)

    def close(self) -> None:
        self.scheduler.close()

    # ---- request checks -----------------------------------------------------------------------
    def check_common(self, body, max_tokens: int | None, default_max: int) -> int:
        if body.model != self.model_id:
            raise BadRequest(f"model {body.model!r} does not exist; this server serves {self.model_id!r} "
                             "(GET /v1/models)", "model", 404, "invalid_request_error", "model_not_found")
        if body.n != 1:
            raise BadRequest(f"n must be 1, got {body.n}: this server returns one choice per request", "n")
        n = default_max if max_tokens is None else max_tokens
        if n > self.cfg.max_tokens_limit:
            raise BadRequest(f"max_tokens must be <= {self.cfg.max_tokens_limit} (this server's limit), got {n}",
                             "max_tokens")
        return n

    def initial_state(self, body):
        """The floats of the request's initial_state (None: the model's own)."""
        name = getattr(body, "initial_state", None)
        if name is None:
            return None
        if name not in self.initial_states:
            known = ", ".join(repr(n) for n in self.initial_states) or "none (serve --initial-state NAME=FILE)"
            raise BadRequest(f"initial_state {name!r} is not one this server was started with; it has {known}",
                             "initial_state")
        return self.initial_states[name]

    def check_prompt(self, ids: np.ndarray, param: str) -> np.ndarray:
        if ids.size == 0:
            raise BadRequest(f"{param} is empty; expected at least one token", param)
        if ids.size > self.cfg.max_prompt_tokens:
            raise BadRequest(f"the prompt has {ids.size} tokens; this server takes at most "
                             f"{self.cfg.max_prompt_tokens} (its --max-prompt-tokens)", param, code="context_length_exceeded")
        vocab = self.model.vocab_size
        if int(ids.min()) < 0 or int(ids.max()) >= vocab:
            bad = int(ids[(ids < 0) | (ids >= vocab)][0])
            raise BadRequest(f"{param} token {bad} is outside the vocabulary: expected 0 <= token < {vocab}", param)
        return ids

    def banned(self, logit_bias) -> list[int] | None:
        """Token ids that logit_bias bans (-100, as in the OpenAI API); other biases are refused,
        since the sampler has no additive bias."""
        if not logit_bias:
            return None
        banned = []
        for key, value in logit_bias.items():
            try:
                token = int(key)
            except ValueError:
                raise BadRequest(f"logit_bias keys must be token ids, got {key!r}", "logit_bias") from None
            if not 0 <= token < self.model.vocab_size:
                raise BadRequest(f"logit_bias token {token} is outside the vocabulary: expected 0 <= token < "
                                 f"{self.model.vocab_size}", "logit_bias")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
                raise BadRequest(f"logit_bias values must be numbers in [-100, 100], got {value!r}", "logit_bias")
            if value == -100:
                banned.append(token)
            elif value != 0:
                raise BadRequest(f"logit_bias: only -100 (ban the token) is supported, got {value!r} for token "
                                 f"{token}", "logit_bias")
        return banned

    def sampler(self, body) -> Sampler:
        banned = self.banned(body.logit_bias)
        try:
            return Sampler(self.model.vocab_size, temperature=float(body.temperature), top_p=float(body.top_p),
                           top_k=body.top_k, min_p=float(body.min_p), presence_penalty=float(body.presence_penalty),
                           frequency_penalty=float(body.frequency_penalty), penalty_decay=float(body.penalty_decay),
                           repetition_penalty=float(body.repetition_penalty), seed=body.seed,
                           banned_tokens=banned, tokenizer=self.tokenizer._t)
        except (ValueError, TypeError) as e:
            raise BadRequest(f"bad sampling parameters: {e}") from None

    @staticmethod
    def stops(stop, extra: tuple[str, ...] = ()) -> list[bytes]:
        stop = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
        if len(stop) > MAX_STOP_STRINGS:
            raise BadRequest(f"stop takes at most {MAX_STOP_STRINGS} strings, got {len(stop)}", "stop")
        if any(not s for s in stop):
            raise BadRequest("stop strings must not be empty", "stop")
        return [s.encode("utf-8") for s in list(extra) + stop]


def _error(status: int, message: str, param: str | None = None, type_: str = "invalid_request_error",
           code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type_, param, code), status_code=status, headers=headers)


def _failed(f: Failed) -> JSONResponse:
    return _error(f.status, f.message, type_=f.type)


def create_app(cfg: ServerConfig | None = None, service: Service | None = None) -> FastAPI:
    """The application; the Service (model, scheduler) is made now unless one is given, and
    closed at shutdown."""
    svc = service if service is not None else Service(cfg or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        svc.close()

    app = FastAPI(title="rrwkv_rt", version="1", lifespan=lifespan)
    app.state.service = svc

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        message, param = describe_validation_error(exc.errors())
        return _error(400, message, param)

    @app.exception_handler(BadRequest)
    async def _bad(request, exc: BadRequest):
        return _error(exc.status, str(exc), exc.param, exc.type, exc.code, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), type_="invalid_request_error")

    @app.exception_handler(Exception)
    async def _internal(request, exc: Exception):
        return _error(500, f"internal server error: {type(exc).__name__}", type_="server_error")

    @app.get("/health")
    async def health():
        if not svc.scheduler.alive:
            return _error(503, "the scheduler thread is not running", type_="server_error")
        m = svc.scheduler.metrics
        return {"status": "ok", "model": svc.model_id, "batch_size": m.batch_rows, "queue_depth": m.queue_depth}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(svc.scheduler.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [responses.model_card(svc)]}

    @app.get("/v1/models/{model_id}")
    async def model(model_id: str):
        if model_id != svc.model_id:
            raise BadRequest(f"model {model_id!r} does not exist; this server serves {svc.model_id!r}", "model", 404,
                             code="model_not_found")
        return responses.model_card(svc)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, http: HTTPRequest):
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
            ids, text = svc.tokenizer.encode_array(prompt), prompt
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
        return await _generate(svc, http, body, ids, max_tokens, svc.stops(body.stop), fmt, body.logprobs)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, http: HTTPRequest):
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
        ids = svc.check_prompt(svc.tokenizer.encode_array(prompt), "messages")
        logprobs = (body.top_logprobs or 0) if body.logprobs else None
        fmt = responses.ChatFormat(svc, body)
        return await _generate(svc, http, body, ids, max_tokens, svc.stops(body.stop, svc.template.stop), fmt, logprobs)

    return app


async def _generate(svc: Service, http: HTTPRequest, body, ids: np.ndarray, max_tokens: int, stops: list[bytes],
                    fmt, logprobs: int | None):
    sampler = svc.sampler(body)
    initial = svc.initial_state(body)
    loop = asyncio.get_running_loop()
    timeout = svc.cfg.request_timeout
    if body.stream:
        queue: asyncio.Queue = asyncio.Queue()
        req = Request(ids, sampler, max_tokens, stops, _to_loop(svc, loop, queue.put_nowait), logprobs=logprobs,
                      timeout=timeout, initial_state=initial)
        _submit(svc, req)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_stream(svc, http, req, queue, fmt, include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # not streaming: chunks are gathered on the scheduler thread; only the end crosses to the loop
    chunks: list[Chunk] = []
    result: asyncio.Future = loop.create_future()

    def settle(ev) -> None:
        if not result.done():
            result.set_result(ev)

    to_loop = _to_loop(svc, loop, settle)

    def emit(ev) -> None:
        if isinstance(ev, Chunk):
            chunks.append(ev)
        else:
            to_loop(ev)

    req = Request(ids, sampler, max_tokens, stops, emit, logprobs=logprobs, timeout=timeout, initial_state=initial)
    _submit(svc, req)
    gone = asyncio.ensure_future(_disconnected(http))
    try:
        await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not result.done():  # the client went away: free its row
        svc.scheduler.cancel(req)
        return _error(499, "client closed the request", type_="cancelled")
    ev = result.result()
    if isinstance(ev, Failed):
        return _failed(ev)
    return JSONResponse(fmt.whole(chunks, ev))


class _LoopBridge:
    """Hands events from the scheduler thread to the asyncio loop: one loop wake-up for all the
    events posted before the loop gets to them (a turn's worth), not one per token."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.items: list = []
        self.lock = threading.Lock()
        self.scheduled = False

    def post(self, fn, ev) -> None:
        with self.lock:
            self.items.append((fn, ev))
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop closed: the server is shutting down
            pass

    def _run(self) -> None:
        with self.lock:
            items, self.items, self.scheduled = self.items, [], False
        for fn, ev in items:
            fn(ev)


def _to_loop(svc: Service, loop: asyncio.AbstractEventLoop, fn):
    """fn(event) run on the loop, callable from the scheduler thread."""
    bridge = svc.bridge
    if bridge is None or bridge.loop is not loop:
        bridge = svc.bridge = _LoopBridge(loop)
    return lambda ev: bridge.post(fn, ev)


async def _disconnected(http: HTTPRequest) -> None:
    while True:
        message = await http.receive()
        if message["type"] == "http.disconnect":
            return


def _submit(svc: Service, req: Request) -> None:
    try:
        svc.scheduler.submit(req)
    except QueueFull as e:
        raise BadRequest(str(e), None, 503, "server_overloaded", "queue_full",
                         {"Retry-After": str(e.retry_after)}) from None


async def _stream(svc: Service, http: HTTPRequest, req: Request, queue: asyncio.Queue, fmt, include_usage: bool):
    """Server-sent events of one request. A client that goes away is noticed at once, even while
    nothing is being sent (its request still queued, or its prompt being read), and its request
    dropped."""
    watcher = asyncio.ensure_future(_disconnected(http))
    watcher.add_done_callback(lambda w: w.cancelled() or (svc.scheduler.cancel(req), queue.put_nowait(None)))
    try:
        first = fmt.first()
        if first is not None:
            yield _sse(first)
        while True:
            ev = await queue.get()
            if ev is None:  # the client left
                return
            if isinstance(ev, Chunk):
                data = fmt.chunk(ev)
                if data is not None:
                    yield _sse(data)
            elif isinstance(ev, Done):
                yield _sse(fmt.last(ev))
                if include_usage:
                    yield _sse(fmt.usage_chunk(ev))
                break
            else:  # Failed after the response started: an error event, as OpenAI's API sends one
                yield _sse(error_body(ev.message, ev.type))
                break
        yield "data: [DONE]\n\n"
    finally:
        watcher.cancel()
        svc.scheduler.cancel(req)  # no-op once finished; frees the row of a client that left


def _sse(obj) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False, separators=(',', ':'))}\n\n"
