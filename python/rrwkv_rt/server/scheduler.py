"""The one thread that drives the batched engine: continuous batching with interleaved prefill.

Each turn of the loop (1) drops cancelled and timed-out requests (their rows leave the batch
at once), (2) gives free rows to waiting requests, starting each prompt from the longest cached
prefix, (3) runs one decode step of every decoding row (``Batch.step``: one token per row, each
row bit for bit what ``Session.step`` gives alone) and (4) spends a bounded prefill budget on the
prompts still being read: ``prefill_chunk`` tokens, or in a burst (more prompts being read than
rows decoding) up to ``MAX_PREFILL_CHUNKS`` chunks. So a long prompt costs the running sequences
one chunk's worth of delay per token, never its whole length, and short prompts that arrive
behind it overtake it (prefill goes round-robin).

Exactness: every prompt is read in pieces cut at multiples of ``prefill_chunk`` from its start,
each piece one ``Batch.forward`` call. ``Session.forward`` cuts a prompt the same way, so the
logits after the prompt, and hence a greedy generation, equal ``Session.generate`` bit for bit;
the prompt cache only stores states at those same boundaries (cache.py). With ``exact=False``
(``rrwkv serve --fast``) the batch runs the fast path, whose rows are independent of each other
and of the chunking too: outputs equal ``Session(exact=False).generate``.

A request with n choices is read once; at its end the row's state is copied into n - 1 more rows
(reserved when the request was admitted) and every choice draws its first token from the same
logits with its own sampler. An embedding request's inputs are read the same way, each in a row
of its own, the last piece with ``Batch.hidden_state`` (the final hidden state instead of the
logits); the row is then freed.

Generation follows ``GenerationStream`` (runtime/generate.py) token for token: stop if the
grammar is complete, sample (with the grammar's mask), stop at a stop token, accept, decode
through a ``TextStream`` (UTF-8 tails and stop strings), stop at a stop string or after
``max_tokens``. Grammar masks for the next draw are computed on a helper thread while
``Batch.step`` runs (grammar.py), so they cost the batch no time when they take less than a step.

One request's failure is that request's alone: its sampling, text and prefill run under their own
``try``; a request whose logits leave nothing to sample (every token banned, or NaN logits from
a broken model) gets a 400 and leaves, its rows freed, the others untouched. If a whole turn
fails anyway (``Batch.step``, or a bug), every request holding a row is answered with a 500 and
every row is freed; the waiting requests go on.

Results go to the HTTP side through ``emit``, called on this thread (the app passes a function
that hands the event to the asyncio loop). A turn's events are emitted together at its end, just
before the next ``Batch.step``: the GIL is released inside every Batch call, so the event loop
formats and sends them while the engine computes.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from ..runtime.embeddings import normalized
from ..runtime.logprobs import token_logprob
from ..runtime.structured import GrammarError
from .cache import PrefixCache
from .grammar import MaskWorker
from .metrics import Metrics
from .work import (Choice, Chunk, Done, EmbedRequest, Embedded, Failed, NothingToSample, QueueFull, Reader,
                   Request)

log = logging.getLogger("rrwkv_rt.server")

MAX_PREFILL_CHUNKS = 8  # the most prefill chunks in one turn (a burst of new prompts)

__all__ = ["Chunk", "Done", "EmbedRequest", "Embedded", "Failed", "NothingToSample", "QueueFull", "Request",
           "Scheduler"]


class Scheduler:
    """Owns a ``Batch`` and the thread that drives it. ``submit`` queues a request (QueueFull when
    ``max_queue`` are waiting), ``cancel`` drops it, ``close`` stops the thread."""

    def __init__(self, model, tokenizer, *, capacity: int = 32, max_queue: int = 64, threads: int | None = None,
                 prefill_chunk: int = 128, cache_bytes: int = 256 << 20, clock: Callable[[], float] = time.monotonic,
                 exact: bool = True, device: str = "cpu"):
        from ..runtime import Batch
        self.model = model
        self.clock = clock  # for request deadlines (tests pass a fake one)
        self.tokenizer = tokenizer
        self.batch = Batch(model, capacity, threads=threads, prefill_chunk=prefill_chunk, exact=exact, device=device)
        self.device = self.batch.device  # what the name resolved to ("auto"): "cpu" or "cuda:N"
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
        self._waiting: deque = deque()  # Requests and EmbedRequests; guarded by _cv
        self._closing = False
        self._reading: deque[Reader] = deque()  # scheduler thread only from here on
        self._decoding: list[Choice] = []
        self._embedding: list[EmbedRequest] = []  # admitted, with inputs still to read
        self._holding: set = set()  # requests that hold rows or reservations
        self._used = 0  # rows taken
        self._reserved = 0  # rows promised to the choices of prompts being read
        self._masks = MaskWorker()
        self._out = np.empty((capacity, model.vocab_size), dtype=np.float32)
        self._events: list[tuple[object, object]] = []  # this turn's, emitted at its end
        self._thread = threading.Thread(target=self._run, name="rrwkv-scheduler", daemon=True)
        self._thread.start()

    # ---- called from any thread ----------------------------------------------------------------
    def submit(self, req) -> None:
        if req.rows_needed > self.capacity:
            raise ValueError(f"the request needs {req.rows_needed} rows at once; the batch has {self.capacity}")
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

    def cancel(self, req) -> None:
        """Drop `req` (the client went away): its rows leave the batch before the next step."""
        if not req.finished:
            req.cancelled = True
            with self._cv:
                self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join()
        self._masks.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- the scheduler thread -------------------------------------------------------------------
    def _busy(self) -> bool:
        return bool(self._waiting or self._reading or self._decoding or self._embedding)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closing and not self._busy():
                    self._cv.wait()
                if self._closing:
                    break
            try:
                self._turn()
            except Exception:  # a bug: answer and free every request holding a row, keep serving
                log.exception("scheduler turn failed")
                self._fail_all(Failed(500, "internal error in the scheduler (see the server log)", "server_error"))
            self.metrics.batch_rows = self._used
            self.metrics.decoding_rows = len(self._decoding)
            self._flush()
        with self._cv:
            left = list(self._waiting)
            self._waiting.clear()
        for r in left:
            self._fail(r, Failed(503, "the server is shutting down", "server_unavailable"))
        self._fail_all(Failed(503, "the server is shutting down", "server_unavailable"))
        self._flush()

    def _fail_all(self, failure: Failed) -> None:
        """Answer every request that holds a row and free every row."""
        for r in list(self._holding):
            self._fail(r, failure)
        self._reading.clear()
        self._decoding.clear()
        self._embedding.clear()
        self._holding.clear()
        self._reserved = 0
        for row in list(self.batch.rows):  # rows no request owns any more
            try:
                self.batch.remove(row)
            except Exception:
                log.exception("freeing batch row %s failed", row)
        self._used = 0

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
        if self._reading:
            self._prefill()

    def _gone(self, r, now: float) -> bool:
        if r.finished:
            return True
        if r.cancelled:
            self._release(r, "cancelled")
            return True
        if r.deadline is not None and now > r.deadline:
            self._fail(r, Failed(504, "the request timed out (the server's --request-timeout)", "timeout"))
            return True
        return False

    def _reap(self) -> None:
        now = self.clock()
        with self._cv:
            keep = [r for r in self._waiting if not self._gone(r, now)]
            self._waiting.clear()
            self._waiting.extend(keep)
            self.metrics.queue_depth = len(keep)
        for r in list(self._holding):
            self._gone(r, now)
        self._reading = deque(x for x in self._reading if not x.owner.finished)
        self._decoding = [c for c in self._decoding if not c.finished]
        self._embedding = [e for e in self._embedding if not e.finished]

    # ---- rows ------------------------------------------------------------------------------------
    def _free_rows(self) -> int:
        return self.capacity - self._used - self._reserved

    def _take_row(self, owner, state=None, initial_state=None) -> int:
        row = self.batch.add(state=state, initial_state=initial_state)
        self._used += 1
        self._holding.add(owner)
        return row

    def _free_row(self, row: int) -> None:
        self._used -= 1
        try:
            self.batch.remove(row)
        except Exception:  # _fail_all frees what is left
            log.exception("freeing batch row %s failed", row)

    def _start_reading(self, owner, prompt: np.ndarray, keys, index: int = 0) -> None:
        # the prompt cache holds states from the model's own initial state only
        n, state = self.cache.lookup(keys, len(prompt)) if owner.initial_state is None else (0, None)
        reader = Reader(owner, prompt, keys, self._take_row(owner, state, owner.initial_state), index)
        reader.done = reader.cached = n
        owner.cached += n
        self.metrics.prompt_tokens += len(prompt)
        self._reading.append(reader)

    def _admit(self) -> None:
        for e in self._embedding:  # inputs of admitted embedding requests first: they came earlier
            self._read_inputs(e)
        while self._free_rows() > 0:
            with self._cv:
                if not self._waiting or self._waiting[0].rows_needed > self._free_rows():
                    return  # first come, first served: the head waits for its rows
                r = self._waiting.popleft()
                self.metrics.queue_depth = len(self._waiting)
            try:
                if isinstance(r, EmbedRequest):
                    if r.keys is None:
                        r.keys = [self.cache.keys_for(x) for x in r.inputs]
                    self._embedding.append(r)
                    self._read_inputs(r)
                    continue
                if r.max_tokens == 0:  # nothing to generate: no need to read the prompt
                    r.open_choices = len(r.samplers)
                    for i in range(len(r.samplers)):
                        self._finish_choice(r, i, "length")
                    continue
                if r.keys is None:
                    r.keys = self.cache.keys_for(r.prompt)
                self._start_reading(r, r.prompt, r.keys)
                r.reserved = r.rows_needed - 1
                self._reserved += r.reserved
            except Exception:
                self._fail_bug(r, "taking a batch row")

    def _read_inputs(self, e: EmbedRequest) -> None:
        while e.next_input < len(e.inputs) and self._free_rows() > 0 and not e.finished:
            i = e.next_input
            e.next_input += 1
            e.reading += 1
            self._start_reading(e, e.inputs[i], e.keys[i], i)

    # ---- decode and prefill ------------------------------------------------------------------------
    def _decode(self) -> None:
        rows = [c.row for c in self._decoding]
        tokens = [c.next_token for c in self._decoding]
        masks = self._masks.start([c for c in self._decoding if c.constraint is not None])  # while the step runs
        t0 = time.perf_counter()
        try:
            logits = self.batch.step(rows, tokens, out=self._out[:len(rows)])  # raising: every row fails (_run)
        finally:
            masks.wait()
        self.metrics.decode_seconds += time.perf_counter() - t0
        self.metrics.decode_steps += 1
        n = len(self._decoding)
        running = []
        for i, c in enumerate(self._decoding):
            if self._advance(c, logits[i]):
                running.append(c)
        self.metrics.generated(n)
        self._decoding = [c for c in running if not c.finished]

    def _prefill(self) -> None:
        # one chunk per turn while the decoding rows outnumber the prompts being read; in a burst
        # (more prompts than decoders) up to MAX_PREFILL_CHUNKS, so the batch fills sooner
        share = -(-len(self._reading) // max(1, len(self._decoding)))
        budget = self.chunk * min(MAX_PREFILL_CHUNKS, max(1, share))
        t0 = time.perf_counter()
        while self._reading:
            x = self._reading[0]
            if x.owner.finished:  # failed or cancelled during this turn
                self._reading.popleft()
                continue
            # pieces end at multiples of the chunk from the prompt's start, like Session.forward's
            end = min(len(x.prompt), (x.done // self.chunk + 1) * self.chunk)
            if end - x.done > budget:
                break  # this turn's budget is spent; x goes first in the next one
            self._reading.popleft()
            budget -= end - x.done
            embedding = isinstance(x.owner, EmbedRequest) and end == len(x.prompt)
            try:
                piece = x.prompt[x.done:end]
                out = self.batch.hidden_state(x.row, piece) if embedding else self.batch.forward(x.row, piece)
                self.metrics.prefill_tokens += end - x.done
                x.done = end
                key = x.keys[end // self.chunk - 1] if end % self.chunk == 0 else None
                if key is not None and x.owner.initial_state is None and self.cache.wants(key):
                    self.cache.put(key, self.batch.get_state(x.row))
            except Exception:
                self._reading.appendleft(x)  # so that its row is freed with the owner's others
                self._fail_bug(x.owner, "reading the prompt")
                continue
            if end < len(x.prompt):
                self._reading.append(x)  # round-robin: the others get the next piece
            elif embedding:
                self._embedded(x, out)
            else:
                self._fork(x, out)
        self.metrics.prefill_seconds += time.perf_counter() - t0

    def _embedded(self, x: Reader, hidden: np.ndarray) -> None:
        """An input is read: its vector is the final hidden state, L2-normalised (docs/SERVING.md)."""
        e = x.owner
        self._free_row(x.row)
        e.vectors[x.index] = normalized(hidden)
        e.reading -= 1
        if e.reading == 0 and e.next_input == len(e.inputs):
            e.finished = True
            self._holding.discard(e)
            self.metrics.requests_finished["embedded"] += 1
            self._events.append((e, Embedded(e.vectors, e.prompt_tokens, e.cached)))

    def _fork(self, x: Reader, logits: np.ndarray) -> None:
        """A generation's prompt is read: its choices start, choice 0 in the reading row, the
        others in rows that get a copy of its state; each draws its first token."""
        r = x.owner
        r.choices = [Choice(r, 0, x.row)]
        try:
            state = self.batch.get_state(x.row) if len(r.samplers) > 1 else None
            for i in range(1, len(r.samplers)):
                row = self._take_row(r, state)
                self._reserved -= 1
                r.reserved -= 1
                r.choices.append(Choice(r, i, row))
        except Exception:
            self._fail_bug(r, "starting the choices")
            return
        r.open_choices = len(r.choices)
        for c in r.choices:
            if self._advance(c, logits, first=True):
                self._decoding.append(c)

    # ---- one choice's tokens ---------------------------------------------------------------------
    def _advance(self, c: Choice, logits: np.ndarray, first: bool = False) -> bool:
        """_next, with a failure kept to c's request: True if c goes on decoding."""
        if c.finished:
            return False
        try:
            return self._next(c, logits, first)
        except GrammarError as e:
            self._fail(c.request, Failed(400, f"the grammar engine stopped on this request: {e}",
                                         "invalid_request_error", "grammar_error"))
        except NothingToSample as e:
            self._fail(c.request, Failed(400, f"no token can be sampled after this text: {e}. Ban fewer tokens "
                                              "(logit_bias), loosen the grammar, or check the model file (NaN "
                                              "weights give NaN logits)", "invalid_request_error",
                                         "nothing_to_sample"))
        except Exception:
            self._fail_bug(c.request, "sampling")
        return False

    def _next(self, c: Choice, logits: np.ndarray, first: bool = False) -> bool:
        """Draw c's next token from `logits`; True if c goes on decoding."""
        r, grammar = c.request, c.constraint
        if grammar is not None:
            if grammar.done:  # complete: only the end is left
                self._finish_choice(r, c.index, "stop")
                return False
            if c.mask is None:
                c.mask = grammar.mask()
        try:
            token = c.sampler.sample(logits, c.mask)
        except ValueError as e:  # every token banned or -inf / NaN: this request's own dead end
            raise NothingToSample(str(e)) from None
        if c.sampler.is_stop(token) or (grammar is not None and grammar.is_end(token)):
            self._finish_choice(r, c.index, "stop")
            return False
        lp = self._logprob(c, logits, token) if r.logprobs is not None else None
        if grammar is not None:
            grammar.accept(token)
            c.mask = None  # MaskWorker fills the next one during the step
        c.sampler.accept(token)
        c.tokens.append(token)
        if first:
            self.metrics.generated(1)
        self._events.append((r, Chunk(c.text.push(self.token_bytes[token]), token, lp, c.index)))
        if c.text.stopped:
            self._finish_choice(r, c.index, "stop")
            return False
        if len(c.tokens) >= r.max_tokens:
            self._finish_choice(r, c.index, "length", c.text.flush())
            return False
        c.next_token = token
        return True

    @staticmethod
    def _logprob(c: Choice, logits: np.ndarray, token: int):
        # the definition generate() uses too (runtime/logprobs.py), with the grammar's mask
        return token_logprob(c.sampler, logits, token, c.request.logprobs or 0, allowed=c.mask)

    # ---- endings -----------------------------------------------------------------------------------
    def _release(self, r, outcome: str) -> None:
        """Free every row `r` holds (and its reservations); r is finished."""
        if r in self._holding:
            self._holding.discard(r)
            for x in self._reading:
                if x.owner is r:
                    self._free_row(x.row)
            for c in getattr(r, "choices", ()):
                if not c.finished:
                    c.finished = True
                    self._free_row(c.row)
            self._reserved -= getattr(r, "reserved", 0)
            r.reserved = 0
        r.finished = True
        self.metrics.requests_finished[outcome] += 1

    def _finish_choice(self, r: Request, index: int, reason: str, tail: str = "") -> None:
        c = r.choices[index] if r.choices else None
        if c is not None:
            c.finished = True
            self._free_row(c.row)
        r.open_choices -= 1
        last = r.open_choices == 0
        if last:
            self._holding.discard(r)
            r.finished = True
            self.metrics.requests_finished[reason] += 1
        self._events.append((r, Done(reason, len(r.prompt), r.completion_tokens, r.cached, tail, index, last)))

    def _fail(self, r, failure: Failed) -> None:
        if r.finished:
            return
        self._release(r, failure.code or failure.type)
        self._events.append((r, failure))

    def _fail_bug(self, r, doing: str) -> None:
        log.exception("%s failed for one request", doing)
        self._fail(r, Failed(500, f"internal error while {doing} (see the server log)", "server_error"))
