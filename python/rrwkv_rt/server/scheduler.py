"""The one thread that drives the batched engine: continuous batching with interleaved prefill.

Each turn of the loop (1) drops cancelled and timed-out requests (their rows leave the batch
at once), (2) gives free rows to waiting requests, starting each from the longest cached prompt
prefix, (3) runs one decode step of every decoding row (``Batch.step``: one token per row, each
row bit for bit what ``Session.step`` gives alone) and (4) spends a bounded prefill budget on the
prompts still being read: ``prefill_chunk`` tokens, or in a burst (more prompts being read than
rows decoding) up to ``MAX_PREFILL_CHUNKS`` chunks. So a long prompt costs the running sequences
one chunk's worth of delay per token, never its whole length, and short prompts that arrive
behind it overtake it (prefill goes round-robin).

Exactness: every prompt is read in pieces cut at multiples of ``prefill_chunk`` from its start,
each piece one ``Batch.forward`` call. ``Session.forward`` cuts a prompt the same way, so the
logits after the prompt, and hence a greedy generation, equal ``Session.generate`` bit for bit;
the prompt cache only stores states at those same boundaries (cache.py).

Generation follows ``GenerationStream`` (runtime/generate.py) token for token: sample, stop at a
stop token, accept, decode through a ``TextStream`` (UTF-8 tails and stop strings), stop at a
stop string or after ``max_tokens``.

One request's failure is that request's alone: its sampling, text and prefill run under their own
``try``; a request whose logits leave nothing to sample (every token banned, or NaN logits from
a broken model) gets a 400 and leaves, its row freed, the others untouched. If a whole turn
fails anyway (``Batch.step``, or a bug), every request holding a row is answered with a 500 and
every row is freed; the waiting requests go on.

Results go to the HTTP side through ``Request.emit``, called on this thread (the app passes a
function that hands the event to the asyncio loop). A turn's events are emitted together at its
end, just before the next ``Batch.step``: the GIL is released inside every Batch call, so the
event loop formats and sends them while the engine computes, instead of contending for the GIL
with this thread's per-row work.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from ..runtime.generate import TextStream
from ..runtime.stop_strings import StopStrings
from .cache import PrefixCache
from .metrics import Metrics

log = logging.getLogger("rrwkv_rt.server")

MAX_PREFILL_CHUNKS = 8  # the most prefill chunks in one turn (a burst of new prompts)


# ---- events handed to the HTTP side ------------------------------------------------------------

@dataclasses.dataclass
class Chunk:
    """One generated token: the text it made final ('' while held back), its id, and with
    logprobs requested (token logprob, [(id, logprob), ...] best first)."""
    text: str
    token: int
    logprob: tuple[float, list[tuple[int, float]]] | None = None


@dataclasses.dataclass
class Done:
    finish_reason: str  # "stop" (stop string or stop token) or "length"
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    text: str = ""  # the last text held back (flushed at the end)


@dataclasses.dataclass
class Failed:
    status: int
    message: str
    type: str
    code: str | None = None


class NothingToSample(Exception):
    """The sampler found no token it may draw (this request's bans, or -inf / NaN logits)."""


class QueueFull(Exception):
    """The waiting queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# ---- a request as the scheduler sees it ---------------------------------------------------------

class Request:
    """A generation: prompt ids, a seeded Sampler (built and validated by the caller), limits,
    and ``emit(event)``, called from the scheduler thread with Chunk / Done / Failed. ``keys``:
    the prompt's prefix-cache keys (``PrefixCache.keys_for``), computed by the caller off the
    scheduler thread; None: computed at admission. ``timeout`` counts from ``submit``."""

    def __init__(self, prompt: np.ndarray, sampler, max_tokens: int, stops: list[bytes] | StopStrings,
                 emit: Callable[[object], None], *, logprobs: int | None = None, timeout: float | None = None,
                 keys: list[bytes] | None = None, initial_state=None):
        self.prompt = np.ascontiguousarray(prompt, dtype=np.int64)
        self.sampler = sampler
        self.max_tokens = max_tokens
        self.emit = emit
        self.logprobs = logprobs  # None: off; k >= 0: the chosen token's logprob and the k best
        self.initial_state = initial_state  # the floats of its row's initial state; None: the model's
        self.timeout = timeout
        self.deadline: float | None = None  # set by Scheduler.submit
        self.keys = keys
        self.text = TextStream(stops)
        self.tokens: list[int] = []
        self.cancelled = False  # set by the HTTP side (client gone); read by the scheduler
        self.row: int | None = None
        self.done = 0  # prompt tokens in the row's state
        self.cached = 0  # of which came from the prompt cache
        self.next_token = -1
        self.finished = False


class Scheduler:
    """Owns a ``Batch`` and the thread that drives it. ``submit`` queues a request (QueueFull when
    ``max_queue`` are waiting), ``cancel`` drops it, ``close`` stops the thread."""

    def __init__(self, model, tokenizer, *, capacity: int = 32, max_queue: int = 64, threads: int | None = None,
                 prefill_chunk: int = 128, cache_bytes: int = 256 << 20, clock: Callable[[], float] = time.monotonic):
        from ..runtime import Batch
        self.model = model
        self.clock = clock  # for request deadlines (tests pass a fake one)
        self.tokenizer = tokenizer
        self.batch = Batch(model, capacity, threads=threads, prefill_chunk=prefill_chunk)
        self.capacity = capacity
        self.max_queue = max_queue
        self.chunk = prefill_chunk
        self.cache = PrefixCache(cache_bytes, prefill_chunk)
        self.metrics = Metrics(capacity, max_queue)
        self.metrics.cache = self.cache
        # ids past the tokenizer's (a model's vocab may be larger) have no bytes; the sampler bans them
        self.token_bytes = [tokenizer.token_bytes(i) if i < tokenizer.vocab_size else b""
                            for i in range(model.vocab_size)]
        self._cv = threading.Condition()
        self._waiting: deque[Request] = deque()  # guarded by _cv
        self._closing = False
        self._prefilling: deque[Request] = deque()  # scheduler thread only from here on
        self._decoding: list[Request] = []
        self._holding: set[Request] = set()  # requests that own a batch row
        self._out = np.empty((capacity, model.vocab_size), dtype=np.float32)
        self._events: list[tuple[Request, object]] = []  # this turn's, emitted at its end
        self._thread = threading.Thread(target=self._run, name="rrwkv-scheduler", daemon=True)
        self._thread.start()

    # ---- called from any thread ----------------------------------------------------------------
    def submit(self, req: Request) -> None:
        with self._cv:
            if self._closing:
                raise QueueFull("the server is shutting down", retry_after=5)
            if len(self._waiting) >= self.max_queue:
                self.metrics.requests_rejected += 1
                raise QueueFull(f"the server is busy: {len(self._waiting)} requests are already waiting for one of "
                                f"{self.capacity} batch rows; retry later", retry_after=1)
            if req.timeout is not None:
                req.deadline = self.clock() + req.timeout
            self._waiting.append(req)
            self.metrics.queue_depth = len(self._waiting)
            self._cv.notify()

    def cancel(self, req: Request) -> None:
        """Drop `req` (the client went away): its row leaves the batch before the next step."""
        if not req.finished:
            req.cancelled = True
            with self._cv:
                self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- the scheduler thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closing and not self._waiting and not self._prefilling and not self._decoding:
                    self._cv.wait()
                if self._closing:
                    break
            try:
                self._turn()
            except Exception:  # a bug: answer and free every request holding a row, keep serving
                log.exception("scheduler turn failed")
                self._fail_all(Failed(500, "internal error in the scheduler (see the server log)", "server_error"))
            m = self.metrics
            m.batch_rows = len(self._prefilling) + len(self._decoding)
            m.decoding_rows = len(self._decoding)
            self._flush()
        with self._cv:
            left = list(self._waiting)
            self._waiting.clear()
        for r in left:
            self._fail(r, Failed(503, "the server is shutting down", "server_unavailable"))
        self._fail_all(Failed(503, "the server is shutting down", "server_unavailable"))
        self._flush()

    def _fail_all(self, failure: Failed) -> None:
        """Answer every request that holds a row (whichever list it is in, or none: one taken
        out of a list when the turn failed) and free every row."""
        for r in list(self._holding) + list(self._prefilling) + self._decoding:
            self._fail(r, failure)
        self._prefilling.clear()
        self._decoding.clear()
        self._holding.clear()
        for row in list(self.batch.rows):  # rows no request owns any more
            try:
                self.batch.remove(row)
            except Exception:
                log.exception("freeing batch row %s failed", row)

    def _flush(self) -> None:
        events, self._events = self._events, []
        for r, ev in events:
            try:
                r.emit(ev)
            except Exception:  # the receiving side's problem must not stop the others
                log.exception("emitting a result failed")

    def _turn(self) -> None:
        self._reap()
        self._admit()
        if self._decoding:
            self._decode()
        if self._prefilling:
            self._prefill()

    def _reap(self) -> None:
        now = self.clock()

        def gone(r: Request) -> bool:
            if r.cancelled:
                self._release(r, "cancelled")
                return True
            if r.deadline is not None and now > r.deadline:
                self._fail(r, Failed(504, "the request timed out (the server's --request-timeout)", "timeout"))
                return True
            return False

        with self._cv:
            keep = [r for r in self._waiting if not gone(r)]
            self._waiting.clear()
            self._waiting.extend(keep)
            self.metrics.queue_depth = len(keep)
        self._prefilling = deque(r for r in self._prefilling if not gone(r))
        self._decoding = [r for r in self._decoding if not gone(r)]

    def _admit(self) -> None:
        while len(self._prefilling) + len(self._decoding) < self.capacity:
            with self._cv:
                if not self._waiting:
                    return
                r = self._waiting.popleft()
                self.metrics.queue_depth = len(self._waiting)
            if r.max_tokens == 0:  # nothing to generate: no need to read the prompt
                self._finish(r, "length")
                continue
            try:
                if r.keys is None:
                    r.keys = self.cache.keys_for(r.prompt)
                # the prompt cache holds states from the model's own initial state only
                n, state = self.cache.lookup(r.keys, len(r.prompt)) if r.initial_state is None else (0, None)
                r.row = self.batch.add(state=state, initial_state=r.initial_state)
            except Exception:
                self._fail_bug(r, "taking a batch row")
                continue
            self._holding.add(r)
            r.done = r.cached = n
            self.metrics.prompt_tokens += len(r.prompt)
            self._prefilling.append(r)

    def _decode(self) -> None:
        rows = [r.row for r in self._decoding]
        tokens = [r.next_token for r in self._decoding]
        t0 = time.perf_counter()
        logits = self.batch.step(rows, tokens, out=self._out[:len(rows)])  # raising: every row fails (_run)
        self.metrics.decode_seconds += time.perf_counter() - t0
        self.metrics.decode_steps += 1
        running = []
        for i, r in enumerate(self._decoding):
            if self._advance(r, logits[i]):
                running.append(r)
        self.metrics.generated(len(self._decoding))
        self._decoding = running

    def _prefill(self) -> None:
        # one chunk per turn while the decoding rows outnumber the prompts being read; in a burst
        # (more prompts than decoders) up to MAX_PREFILL_CHUNKS, so the batch fills sooner
        share = -(-len(self._prefilling) // max(1, len(self._decoding)))
        budget = self.chunk * min(MAX_PREFILL_CHUNKS, max(1, share))
        t0 = time.perf_counter()
        while self._prefilling:
            r = self._prefilling[0]
            # pieces end at multiples of the chunk from the prompt's start, like Session.forward's
            end = min(len(r.prompt), (r.done // self.chunk + 1) * self.chunk)
            if end - r.done > budget:
                break  # this turn's budget is spent; r goes first in the next one
            self._prefilling.popleft()
            budget -= end - r.done
            try:
                logits = self.batch.forward(r.row, r.prompt[r.done:end])
                self.metrics.prefill_tokens += end - r.done
                r.done = end
                key = r.keys[end // self.chunk - 1] if end % self.chunk == 0 else None
                if key is not None and r.initial_state is None and self.cache.wants(key):
                    self.cache.put(key, self.batch.get_state(r.row))
            except Exception:
                self._fail_bug(r, "reading the prompt")
                continue
            if end < len(r.prompt):
                self._prefilling.append(r)  # round-robin: the others get the next piece
            elif self._advance(r, logits, first=True):
                self._decoding.append(r)
        self.metrics.prefill_seconds += time.perf_counter() - t0

    # ---- one request's tokens --------------------------------------------------------------------
    def _advance(self, r: Request, logits: np.ndarray, first: bool = False) -> bool:
        """_next, with r's failure kept to r: True if r goes on decoding."""
        try:
            return self._next(r, logits, first)
        except NothingToSample as e:
            self._fail(r, Failed(400, f"no token can be sampled after this text: {e}. Ban fewer tokens "
                                      "(logit_bias), or check the model file (NaN weights give NaN logits)",
                                 "invalid_request_error", "nothing_to_sample"))
        except Exception:
            self._fail_bug(r, "sampling")
        return False

    def _next(self, r: Request, logits: np.ndarray, first: bool = False) -> bool:
        """Draw r's next token from `logits`; True if r goes on decoding."""
        try:
            token = r.sampler.sample(logits)
        except ValueError as e:  # every token banned or -inf / NaN: this request's own dead end
            raise NothingToSample(str(e)) from None
        if r.sampler.is_stop(token):
            self._finish(r, "stop")
            return False
        lp = self._logprob(r, logits, token) if r.logprobs is not None else None
        r.sampler.accept(token)
        r.tokens.append(token)
        if first:
            self.metrics.generated(1)
        self._events.append((r, Chunk(r.text.push(self.token_bytes[token]), token, lp)))
        if r.text.stopped:
            self._finish(r, "stop")
            return False
        if len(r.tokens) >= r.max_tokens:
            self._finish(r, "length", r.text.flush())
            return False
        r.next_token = token
        return True

    @staticmethod
    def _logprob(r: Request, logits: np.ndarray, token: int):
        # log-softmax of the logits the sampler draws from (bans and penalties applied, before the
        # temperature and top-p / top-k cuts)
        z = np.asarray(r.sampler.adjust_logits(logits), dtype=np.float64)
        finite = np.isfinite(z)
        zmax = z[finite].max()
        lse = zmax + np.log(np.exp(z[finite] - zmax).sum())
        lp = z - lse
        top: list[tuple[int, float]] = []
        if r.logprobs:
            k = min(r.logprobs, len(lp))
            best = np.argpartition(-lp, k - 1)[:k]
            best = best[np.argsort(-lp[best], kind="stable")]
            top = [(int(i), float(lp[i])) for i in best if np.isfinite(lp[i])]  # not banned ones
        return float(lp[token]), top

    def _release(self, r: Request, outcome: str) -> None:
        if r.row is not None:
            row, r.row = r.row, None
            self._holding.discard(r)
            try:
                self.batch.remove(row)
            except Exception:  # _fail_all frees what is left
                log.exception("freeing batch row %s failed", row)
        r.finished = True
        self.metrics.requests_finished[outcome] += 1

    def _finish(self, r: Request, reason: str, tail: str = "") -> None:
        self._release(r, reason)
        self._events.append((r, Done(reason, len(r.prompt), len(r.tokens), r.cached, tail)))

    def _fail(self, r: Request, failure: Failed) -> None:
        if r.finished:
            return
        self._release(r, failure.code or failure.type)
        self._events.append((r, failure))

    def _fail_bug(self, r: Request, doing: str) -> None:
        log.exception("%s failed for one request", doing)
        self._fail(r, Failed(500, f"internal error while {doing} (see the server log)", "server_error"))
