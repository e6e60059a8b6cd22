"""The FastAPI application: OpenAI-compatible routes over one :class:`Scheduler`.

    cfg = ServerConfig(model_path="model.rrwkv")
    uvicorn.Server(uvicorn_config(create_app(cfg), cfg, host="127.0.0.1", port=8000)).run()  # limits.py

Routes: ``POST /v1/completions``, ``POST /v1/chat/completions`` (``stream: true`` gives
server-sent events), ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /health``, ``GET /metrics``
(Prometheus text). With an API key (``--api-key``) every route but ``/health`` (and ``/metrics``
unless ``--protect-metrics``) needs ``Authorization: Bearer KEY`` (auth.py).
Every error is an OpenAI-style body ``{"error": {"message", "type", "param", "code"}}``; a bad
request is a 400 naming the field, a full queue a 503 with ``Retry-After``. A request's body is
read whole by the ``BodyLimit`` middleware (limits.py) and prepared on a worker thread
(prepare.py); the loop only moves bytes and events.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading

from fastapi import FastAPI, Request as HTTPRequest
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import prepare, responses
from .config import ServerConfig
from .auth import ApiKey
from .limits import BodyLimit
from .prepare import EmbedJob, Job
from .scheduler import Chunk, Done, EmbedRequest, Failed, QueueFull, Request
from .schemas import ChatRequest, CompletionRequest, EmbeddingRequest, error_body
from .service import BadRequest, Service


class _ErrorResponse(JSONResponse):
    """Error bodies in ASCII JSON: they may quote what a client sent, whatever it was."""

    def render(self, content) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _error(status: int, message: str, param: str | None = None, type_: str = "invalid_request_error",
           code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return _ErrorResponse(error_body(message, type_, param, code), status_code=status, headers=headers)


def _failed(f: Failed) -> JSONResponse:
    return _error(f.status, f.message, type_=f.type, code=f.code)


def _body_schema(model) -> dict:
    """The request body's schema for the OpenAPI page (the routes read the body themselves, off
    the event loop, so FastAPI cannot infer it)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


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
    app.add_middleware(BodyLimit, max_bytes=svc.cfg.max_body_bytes, timeout=svc.cfg.body_timeout)
    if svc.cfg.api_key:  # outside BodyLimit: a request without the key is refused before its body is read
        app.add_middleware(ApiKey, key=svc.cfg.api_key, protect_metrics=svc.cfg.protect_metrics)

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
        return {"status": "ok", "model": svc.model_id, "device": svc.scheduler.device, "batch_size": m.batch_rows,
                "queue_depth": m.queue_depth}

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

    @app.post("/v1/completions", openapi_extra=_body_schema(CompletionRequest))
    async def completions(http: HTTPRequest):
        job = await svc.off_loop(prepare.completion, svc, await http.body())
        return await _generate(svc, http, job)

    @app.post("/v1/chat/completions", openapi_extra=_body_schema(ChatRequest))
    async def chat(http: HTTPRequest):
        job = await svc.off_loop(prepare.chat, svc, await http.body())
        return await _generate(svc, http, job)

    @app.post("/v1/embeddings", openapi_extra=_body_schema(EmbeddingRequest))
    async def embeddings(http: HTTPRequest):
        job = await svc.off_loop(prepare.embedding, svc, await http.body())
        return await _embed(svc, http, job)

    return app


async def _generate(svc: Service, http: HTTPRequest, job: Job):
    loop = asyncio.get_running_loop()

    def request(emit) -> Request:
        return Request(job.ids, None, job.max_tokens, job.stops, emit, logprobs=job.logprobs,
                       timeout=svc.cfg.request_timeout, keys=job.keys, initial_state=job.initial_state,
                       samplers=job.samplers, constraint=job.constraint, first_mask=job.first_mask)

    if job.stream:
        queue: asyncio.Queue = asyncio.Queue()
        req = request(_to_loop(svc, loop, queue.put_nowait))
        _submit(svc, req)
        return StreamingResponse(_stream(svc, http, req, queue, job.fmt, job.include_usage),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache",
                                                                          "X-Accel-Buffering": "no"})

    # not streaming: chunks and the choices' ends are gathered on the scheduler thread; only the
    # request's end crosses to the loop
    chunks: list[Chunk] = []
    dones: list[Done] = []

    def emit(ev, settle) -> None:
        if isinstance(ev, Chunk):
            chunks.append(ev)
        elif isinstance(ev, Done) and not ev.last:
            dones.append(ev)
        else:
            settle(ev)

    ev = await _wait(svc, http, loop, emit, request)
    if isinstance(ev, JSONResponse):
        return ev
    if isinstance(ev, Failed):
        return _failed(ev)
    return JSONResponse(job.fmt.whole(chunks, dones + [ev]))


async def _wait(svc: Service, http: HTTPRequest, loop, emit, make):
    """Submit make(emit') and wait for the event that ends it (emit(ev, settle) decides which);
    499 if the client leaves first (its request is then dropped)."""
    result: asyncio.Future = loop.create_future()

    def settle(ev) -> None:
        if not result.done():
            result.set_result(ev)

    to_loop = _to_loop(svc, loop, settle)
    req = make(lambda ev: emit(ev, to_loop))
    _submit(svc, req)
    gone = asyncio.ensure_future(_disconnected(http))
    try:
        await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not result.done():  # the client went away: free its rows
        svc.scheduler.cancel(req)
        return _error(499, "client closed the request", type_="cancelled")
    return result.result()


async def _embed(svc: Service, http: HTTPRequest, job: EmbedJob):
    loop = asyncio.get_running_loop()
    make = lambda emit: EmbedRequest(job.inputs, emit, timeout=svc.cfg.request_timeout, keys=job.keys)  # noqa: E731
    ev = await _wait(svc, http, loop, lambda ev, settle: settle(ev), make)
    if isinstance(ev, JSONResponse):
        return ev
    if isinstance(ev, Failed):
        return _failed(ev)
    return JSONResponse(await svc.off_loop(responses.embeddings, svc, ev, job.encoding_format))


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
        for first in fmt.first():
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
                for data in fmt.last(ev):
                    yield _sse(data)
                if not ev.last:
                    continue
                if include_usage:
                    yield _sse(fmt.usage_chunk(ev))
                break
            else:  # Failed after the response started: an error event, as OpenAI's API sends one
                yield _sse(error_body(ev.message, ev.type, None, ev.code))
                break
        yield "data: [DONE]\n\n"
    finally:
        watcher.cancel()
        svc.scheduler.cancel(req)  # no-op once finished; frees the row of a client that left


def _sse(obj) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False, separators=(',', ':'))}\n\n"
