"""What the routes share: the model, its tokenizer and chat template, the scheduler, the worker
threads that prepare requests off the event loop, and the checks every request passes before it
is queued (each one a 400 that names the field)."""
from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from ..runtime.chat import ChatTemplate, template_for
from ..runtime.generate import Sampler, default_stop_tokens, model_tokenizer
from ..runtime.stop_strings import StopStrings
from .config import MAX_STOP_BYTES, MAX_STOP_STRINGS, ServerConfig
from .scheduler import Scheduler

PREPARE_THREADS = 2  # request preparation (JSON, checks, tokenization) runs on these, not on the event loop


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400, type_: str = "invalid_request_error",
                 code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.param, self.status, self.type, self.code, self.headers = param, status, type_, code, headers


class Service:
    """The model, its tokenizer and chat template, and the scheduler: what the routes share."""

    def __init__(self, cfg: ServerConfig, clock: Callable[[], float] = time.monotonic):
        from ..runtime import Model
        from ..runtime.generate import default_model_path
        cfg.check()
        self.cfg = cfg
        self.model = Model(cfg.model_path or default_model_path(), read_into_memory=cfg.read_into_memory)
        self.tokenizer = model_tokenizer(self.model)
        self.template = (ChatTemplate.from_file(cfg.chat_template) if cfg.chat_template
                         else template_for(self.model))
        self.model_id = cfg.model_name or os.path.splitext(os.path.basename(self.model.path))[0]
        self.created = int(time.time())
        self.bridge = None  # the _LoopBridge to the event loop serving the requests
        from ..runtime.initial_state import state_floats  # read and checked now: a bad file fails at startup
        self.initial_states = {name: state_floats(self.model, path) for name, path in (cfg.initial_states or {}).items()}
        self.workers = ThreadPoolExecutor(PREPARE_THREADS, thread_name_prefix="rrwkv-prepare")
        self.scheduler = Scheduler(self.model, self.tokenizer, capacity=cfg.capacity, max_queue=cfg.max_queue,
                                   threads=cfg.threads, prefill_chunk=cfg.prefill_chunk, cache_bytes=cfg.cache_bytes,
                                   clock=clock, exact=cfg.exact, device=cfg.device)

    def close(self) -> None:
        self.scheduler.close()
        self.workers.shutdown(wait=False, cancel_futures=True)

    async def off_loop(self, fn, *args):
        """fn(*args) on a worker thread: the event loop keeps serving meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self.workers, fn, *args)

    # ---- request checks -----------------------------------------------------------------------
    def check_common(self, body, max_tokens: int | None, default_max: int) -> int:
        if body.model != self.model_id:
            raise BadRequest(f"model {body.model!r} does not exist; this server serves {self.model_id!r} "
                             "(GET /v1/models)", "model", 404, "invalid_request_error", "model_not_found")
        if body.n > self.cfg.capacity:
            raise BadRequest(f"n must be <= {self.cfg.capacity} (this server's --capacity: the choices are decoded "
                             f"side by side), got {body.n}", "n")
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

    def check_prompt_text(self, text: str, param: str) -> None:
        """The prompt's length in UTF-8 bytes, before any work is spent on tokenizing it."""
        limit = self.cfg.max_prompt_bytes
        if len(text) > limit:  # at least as many bytes as characters
            size = f"{len(text)} characters"
        elif not text.isascii() and len(text.encode("utf-8")) > limit:
            size = f"{len(text.encode('utf-8'))} bytes"
        else:
            return
        raise BadRequest(f"the prompt has {size} of text; this server takes at most {limit} bytes (its "
                         "--max-prompt-bytes)", param, code="context_length_exceeded")

    def tokenize(self, text: str, param: str) -> np.ndarray:
        self.check_prompt_text(text, param)
        return self.tokenizer.encode_array(text)

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

    def logit_bias(self, logit_bias) -> dict[int, float] | None:
        """{token id: bias} of a request's logit_bias, added to the logits before sampling as the
        OpenAI API documents it (any number in [-100, 100]). Keys are token ids in decimal ASCII
        digits."""
        if not logit_bias:
            return None
        vocab = self.model.vocab_size
        bias = {}
        for key, value in logit_bias.items():
            if not (key.isascii() and key.isdecimal()):
                raise BadRequest(f"logit_bias keys must be token ids written in decimal digits 0-9 (e.g. \"42\"), "
                                 f"got {key!r}", "logit_bias")
            token = int(key) if len(key) <= 18 else vocab  # more digits: out of range anyway
            if not token < vocab:
                raise BadRequest(f"logit_bias token {key if len(key) <= 40 else key[:40] + '...'} is outside the "
                                 f"vocabulary: expected 0 <= token < {vocab}", "logit_bias")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
                raise BadRequest(f"logit_bias values must be numbers in [-100, 100], got {value!r}", "logit_bias")
            if value:
                bias[token] = bias.get(token, 0.0) + float(value)
        return bias or None

    def samplers(self, body, n: int = 1) -> list[Sampler]:
        """The request's Samplers, one per choice, with what Session.generate adds for the model's
        tokenizer (its end-of-text as the stop token, bans on ids it cannot decode). Choice i draws
        with seed (seed + i) mod 2**64 (each choice equals Session.generate with that seed); without
        a seed each choice gets a random one."""
        bias = self.logit_bias(body.logit_bias)
        out = []
        for i in range(n):
            seed = None if body.seed is None else (body.seed + i) % 2**64
            try:
                out.append(Sampler(self.model.vocab_size, temperature=float(body.temperature),
                                   top_p=float(body.top_p), top_k=body.top_k, min_p=float(body.min_p),
                                   presence_penalty=float(body.presence_penalty),
                                   frequency_penalty=float(body.frequency_penalty),
                                   penalty_decay=float(body.penalty_decay),
                                   repetition_penalty=float(body.repetition_penalty), seed=seed,
                                   stop_tokens=default_stop_tokens(self.tokenizer), tokenizer=self.tokenizer._t,
                                   logit_bias=bias))
            except (ValueError, TypeError) as e:
                raise BadRequest(f"bad sampling parameters: {e}") from None
        return out

    def grammar(self, body, tool_schema: dict | None = None) -> str | None:
        """The compiled grammar (structured.compiled) of a request's response_format, grammar or
        forced tool call; None for free text. 400 naming the field for one the engine refuses."""
        from ..runtime import structured
        fmt = body.response_format or {"type": "text"}
        kind = fmt.get("type", "text")
        sources = []
        if kind == "json_object":
            sources.append(("response_format", structured.ANY_JSON_OBJECT, None))
        elif kind == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), (dict, bool)):
                raise BadRequest("response_format: {\"type\": \"json_schema\"} needs \"json_schema\": {\"name\": ..., "
                                 "\"schema\": {...}}", "response_format")
            sources.append(("response_format", spec.get("schema", True), None))
        elif kind != "text":
            raise BadRequest(f"response_format type must be \"text\", \"json_object\" or \"json_schema\", got {kind!r}",
                             "response_format")
        if body.grammar is not None:
            sources.append(("grammar", None, body.grammar))
        if tool_schema is not None:
            sources.append(("tool_choice", tool_schema, None))
        if not sources:
            return None
        if len(sources) > 1:
            raise BadRequest(f"{' and '.join(s[0] for s in sources)} both constrain the text; give one of them",
                             sources[1][0])
        param, schema, grammar = sources[0]
        try:
            return structured.compiled(structured.schema_text(schema) if schema is not None else None, grammar)
        except ImportError as e:
            raise BadRequest(f"structured output is not installed on this server: {e}", param, 501,
                             "server_error", "not_implemented") from None
        except structured.GrammarError as e:
            raise BadRequest(f"{param}: {e}" if not str(e).startswith(param) else str(e), param,
                             code="invalid_grammar") from None

    def constraint(self, grammar: str):
        """A fresh structured.Constraint of a compiled grammar on this model's vocabulary."""
        from ..runtime import structured
        try:
            return structured.vocabulary(self.tokenizer, self.model.vocab_size).matcher(grammar)
        except structured.GrammarError as e:
            raise BadRequest(f"the grammar does not fit this model's vocabulary: {e}", "response_format",
                             code="invalid_grammar") from None

    @staticmethod
    def stops(stop, extra: tuple[str, ...] = ()) -> StopStrings:
        stop = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
        if len(stop) > MAX_STOP_STRINGS:
            raise BadRequest(f"stop takes at most {MAX_STOP_STRINGS} strings, got {len(stop)}", "stop")
        encoded = [s.encode("utf-8") for s in stop]
        if any(not s for s in encoded):
            raise BadRequest("stop strings must not be empty", "stop")
        longest = max((len(s) for s in encoded), default=0)
        if longest > MAX_STOP_BYTES:
            raise BadRequest(f"stop strings may have at most {MAX_STOP_BYTES} bytes (UTF-8), got one of {longest}",
                             "stop")
        return StopStrings([s.encode("utf-8") for s in extra] + encoded)
