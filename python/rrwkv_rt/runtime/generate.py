"""Text generation on a :class:`Session` (attached as ``Session.generate``).

    s = rrwkv_rt.Session("model.rrwkv")
    text = s.generate("def main(", max_new_tokens=100, temperature=0.8, top_p=0.9, stop=["\\n\\n"], seed=1)
    for chunk in s.generate("import os", stream=True):   # text chunks as they are produced
        print(chunk, end="", flush=True)

The prompt is ingested in sequence mode (``Session.forward``), then each token is drawn by the
native :class:`Sampler` (rwkv package semantics: bans, presence/frequency penalties with decay,
top-p / top-k / min-p at temperature 1, then the temperature) and fed with ``Session.step``.
Afterwards the session's state covers the prompt and every drawn token except a stop token, so
the next ``generate`` continues the same text (a chat turn, or a longer document).

Streaming holds back an incomplete UTF-8 tail and any tail that could be the start of a stop
string; a stop string ends the generation and is not part of the text. The chunks of
``stream=True`` concatenate to exactly the text ``stream=False`` returns for the same seed. A
stream does its work as it is consumed: the prompt is ingested at the first ``next()``.
"""
from __future__ import annotations

import functools
import inspect
import os
from typing import Callable, Iterable, Iterator, Sequence, Union

import numpy as np

from .. import _core
from ..tokenizer import NoTokenizerError, Tokenizer
from . import continuation
from .logprobs import token_logprob
from .stop_strings import StopStrings

Sampler = _core.Sampler
Sampler.__module__ = "rrwkv_rt"

Prompt = Union[str, bytes, Sequence[int], np.ndarray]
_DEFAULT = _core.SAMPLING_DEFAULTS  # the sampler's own defaults (sampling/sampler.h)


@functools.lru_cache(maxsize=8)
def _tokenizer_of(path: str, header_crc32: int) -> Tokenizer:
    f = _core.ModelFile(path, verify_checksums=False)
    if f.header_crc32 != header_crc32:
        raise ValueError(f"model file {path!r} changed on disk after the session opened it (header crc32 "
                         f"{f.header_crc32:#010x}, expected {header_crc32:#010x}); pass tokenizer= explicitly "
                         "or reopen the model")
    return Tokenizer.from_model(f)


def model_tokenizer(model) -> Tokenizer:
    """The tokenizer a runtime Model's file carries (cached); ValueError if it has none."""
    return _tokenizer_of(model.path, model.info["header_crc32"])


def tokenizer_property(self) -> Tokenizer | None:
    """The tokenizer the model file carries (``Model.tokenizer``, ``Session.tokenizer``), or None
    if it has none: ``encode(text) -> ids``, ``decode(ids) -> str``, ``decode_bytes(ids) -> bytes``.
    A tokenizer the file carries but that cannot be used raises (FormatError, or ImportError for
    a tokenizer.json without the `tokenizers` package)."""
    model = getattr(self, "model", self)  # a Session: its Model's
    try:
        return model_tokenizer(model)
    except NoTokenizerError:
        return None


# ---- streaming text ----------------------------------------------------------------------------

def _incomplete_utf8(buf: bytes | bytearray) -> int:
    """Bytes at the end of `buf` that start a UTF-8 sequence still missing continuation bytes."""
    for k in range(1, min(3, len(buf)) + 1):
        b = buf[-k]
        if b & 0xC0 == 0x80:  # a continuation byte: look further back
            continue
        need = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        return k if need > k else 0
    return 0


class TextStream:
    """Bytes in, text out: holds back an incomplete UTF-8 tail and a possible stop-string start,
    and cuts the text at the first stop string (found as the text grows, in time proportional
    to the new bytes: stop_strings.py). Invalid bytes become U+FFFD. `stops` is a list of bytes
    or a prepared :class:`StopStrings` (immutable, shareable)."""

    def __init__(self, stops: Iterable[bytes] | StopStrings = ()):
        self._stops = stops if isinstance(stops, StopStrings) else StopStrings(stops)
        self._state = StopStrings.START
        self.buf = bytearray()
        self.stopped = False
        self.stop_string: bytes | None = None

    @property
    def stops(self) -> list[bytes]:
        return self._stops.stops

    def push(self, data: bytes) -> str:
        """Text that is final once `data` is added ('' if none); sets .stopped at a stop string."""
        if self.stopped:
            return ""
        before = len(self.buf)
        self.buf += data
        held = 0
        if self._stops:
            self._state, hit = self._stops.scan(self._state, data)
            if hit is not None:
                start, index = hit
                self.stopped, self.stop_string = True, self._stops.stops[index]
                text = bytes(self.buf[:before + start])
                self.buf.clear()
                return text.decode("utf-8", "replace")
            held = self._stops.depth(self._state)
        n = len(self.buf) - max(held, _incomplete_utf8(self.buf))
        text = bytes(self.buf[:n])
        del self.buf[:n]  # from the front of a bytearray: O(1) amortised
        return text.decode("utf-8", "replace")

    def flush(self) -> str:
        """Everything still held back (the generation ended without a stop string)."""
        text = bytes(self.buf)
        self.buf.clear()
        return "" if self.stopped else text.decode("utf-8", "replace")


# ---- argument checks ---------------------------------------------------------------------------

def _prompt_ids(prompt: Prompt, tok: Tokenizer | None) -> np.ndarray:
    if isinstance(prompt, (str, bytes, bytearray, memoryview)):
        if tok is None:
            raise ValueError("a text prompt needs a tokenizer; with tokenizer=False give the prompt as token ids")
        ids = tok.encode_array(prompt)
    else:
        ids = np.asarray(prompt)
        if ids.size and (ids.ndim != 1 or ids.dtype.kind not in "iu"):
            raise TypeError("prompt must be a str, bytes or a 1-D sequence of token ids")
        ids = ids.astype(np.int64, copy=False).reshape(-1)
    return ids


def _stop_strings(stop) -> list[bytes]:
    if stop is None:
        return []
    if isinstance(stop, (str, bytes)):
        stop = [stop]
    if not isinstance(stop, (list, tuple)):
        raise ValueError(f"stop must be a str or a list of str, got {type(stop).__name__} {stop!r}")
    out = []
    for s in stop:
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s) if isinstance(s, (bytes, bytearray)) else None
        if b is None:
            raise ValueError(f"stop must be a str or a list of str, got an item of type {type(s).__name__}")
        if not b:
            raise ValueError("stop strings must not be empty")
        out.append(b)
    return out


def _max_new_tokens(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {n!r}")
    return int(n)


# ---- familiar names ----------------------------------------------------------------------------

# other libraries' name -> ours: OpenAI's and llama-cpp-python's max_tokens, the rwkv package's
# PIPELINE_ARGS (docs/GENERATION.md has the table of their defaults beside ours)
ALIASES = {"max_tokens": "max_new_tokens", "alpha_presence": "presence_penalty",
           "alpha_frequency": "frequency_penalty", "alpha_decay": "penalty_decay", "token_ban": "banned_tokens",
           "token_stop": "stop_tokens"}


def resolve_aliases(aliases: dict, ours_given: dict) -> dict:
    """``{our name: value}`` for keywords given under another library's name; TypeError for a
    keyword that is neither ours nor an alias (naming the closest), or for a setting given under
    both names (``ours_given``: our keywords' values; one that differs from its default was set)."""
    import difflib
    explicit = {k for k, v in ours_given.items() if v != _defaults()[k]}
    out = {}
    for name, value in aliases.items():
        ours = ALIASES.get(name)
        if ours is None:
            close = difflib.get_close_matches(name, _KEYWORDS + list(ALIASES), n=3)
            raise TypeError(f"generate() got an unexpected keyword argument {name!r}"
                            + (f"; did you mean {' or '.join(map(repr, close))}?" if close else ""))
        if ours in explicit or ours in out:
            raise TypeError(f"generate() got {name!r} and {ours!r}, which are the same setting ({name} is "
                            f"{'OpenAI' if name == 'max_tokens' else 'the rwkv package'}'s name for {ours}); "
                            "pass one of them")
        out[ours] = value
    return out


# ---- generation --------------------------------------------------------------------------------

def generate(self, prompt: Prompt, max_new_tokens: int = 200, *, temperature: float = _DEFAULT["temperature"],
             top_p: float = _DEFAULT["top_p"], top_k: int = _DEFAULT["top_k"], min_p: float = _DEFAULT["min_p"],
             presence_penalty: float = _DEFAULT["presence_penalty"],
             frequency_penalty: float = _DEFAULT["frequency_penalty"], penalty_decay: float = _DEFAULT["penalty_decay"],
             repetition_penalty: float = _DEFAULT["repetition_penalty"], stop: str | Sequence[str] | None = None,
             stop_tokens: Sequence[int] | None = None, banned_tokens: Sequence[int] | None = None,
             stream: bool = False, seed: int | None = None, tokenizer: Tokenizer | object | bool | None = None,
             logprobs: bool = False,
             logits_processor: Callable[[list[int], np.ndarray], np.ndarray | None] | None = None,
             logit_bias: dict[int, float] | None = None, json_schema: dict | str | bool | None = None,
             grammar: str | None = None, **aliases) -> Union["GenerationResult", "TokenResult", "GenerationStream"]:
    """Continue `prompt` (str, bytes or token ids) by up to `max_new_tokens` tokens.

    Sampling (the rwkv package's PIPELINE_ARGS names in brackets): ``temperature`` >= 0 (0 =
    greedy), ``top_p`` in [0, 1] (1 = off), ``top_k`` >= 0 (0 = off), ``min_p`` in [0, 1] (0 =
    off), ``presence_penalty`` [alpha_presence], ``frequency_penalty`` [alpha_frequency],
    ``penalty_decay`` in [0, 1] [alpha_decay], ``repetition_penalty`` > 0 (1 = off),
    ``banned_tokens`` [token_ban], ``stop_tokens`` [token_stop; default: the World
    tokenizer's end-of-text, id 0], ``seed`` (None = random; an int makes the run reproducible).
    ``stop``: strings that end the generation; they are not part of the text.

    ``logprobs``: record each drawn token's log-probability in the distribution it was drawn from
    (after bans, ``logit_bias``, the grammar's mask and penalties, before the temperature and the
    cuts: runtime/logprobs.py, the server's definition too). ``logits_processor(tokens, logits)``:
    called before each draw with the ids drawn so far and the float32 logits (a copy); return new
    logits (or modify them in place and return None), e.g. to bias or mask tokens. ``logit_bias``:
    ``{token id: bias}`` added to the logits before sampling (OpenAI's logit_bias; any finite
    number, -100 makes a token all but impossible).

    Structured output (runtime/structured.py, needs ``rrwkv_rt[structured]``): ``json_schema``
    (a dict, its JSON text, or True for any JSON object) or ``grammar`` (Lark or GBNF text): each
    draw is limited to the tokens the grammar allows next; the text ends ("stop_token") once the
    grammar is complete and allows nothing more, or where the model ends it while the grammar is
    complete. JSON is written compactly (``{"a": 1, "b": [2, 3]}``).

    Returns a :class:`GenerationResult` (a ``str``: the text, with ``tokens``, ``finish_reason``,
    ``usage`` and ``logprobs``), or with ``stream=True`` a :class:`GenerationStream` of text chunks
    with the same attributes once exhausted.
    Bad arguments raise ValueError naming the valid range, before anything is computed.
    Afterwards the state covers the prompt and every drawn token but a stop token, so the next
    call continues the text; an empty prompt ("" or []) continues it from the logits this call
    ended with (as long as nothing changed the session's state in between).

    ``tokenizer`` overrides the one the model file carries: an :class:`rrwkv_rt.Tokenizer` or
    any object with ``encode`` / ``decode`` (e.g. a Hugging Face tokenizer). ``tokenizer=False``,
    or a prompt of token ids on a model without a tokenizer, means token ids in and token ids
    out: the result is a :class:`TokenResult` (a list of ids) and a stream yields ids.

    Familiar names are accepted for their keywords (``ALIASES``): ``max_tokens`` (OpenAI,
    llama-cpp-python) for ``max_new_tokens``, and the rwkv package's ``alpha_presence``,
    ``alpha_frequency``, ``alpha_decay``, ``token_ban`` and ``token_stop``.
    """
    if aliases:
        given = {"max_new_tokens": max_new_tokens, "presence_penalty": presence_penalty,
                 "frequency_penalty": frequency_penalty, "penalty_decay": penalty_decay,
                 "banned_tokens": banned_tokens, "stop_tokens": stop_tokens}
        given.update(resolve_aliases(aliases, given))
        max_new_tokens, presence_penalty, frequency_penalty, penalty_decay, banned_tokens, stop_tokens = given.values()
    tok = _resolve_tokenizer(self.model, tokenizer, prompt)
    if stop_tokens is None:
        stop_tokens = default_stop_tokens(tok)
    vocab = self.model.vocab_size
    n_new = _max_new_tokens(max_new_tokens)
    stops = _stop_strings(stop)
    if stops and tok is None:
        raise ValueError("stop strings need a tokenizer to turn tokens into text; without one (token ids in, token "
                         "ids out) use stop_tokens=[ids]")
    # the tokenizer brings the per-model policy (C++, shared with the C API): occurrence weights,
    # a ban on ids it cannot decode, its end-of-text as the stop token when stop_tokens is None
    sampler = Sampler(vocab, temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p,
                      presence_penalty=presence_penalty, frequency_penalty=frequency_penalty,
                      penalty_decay=penalty_decay, repetition_penalty=repetition_penalty,
                      banned_tokens=banned_tokens, stop_tokens=stop_tokens, tokenizer=tok._t if tok else None,
                      seed=seed, logit_bias=logit_bias)
    constraint = None
    if json_schema is not None or grammar is not None:
        from .structured import constraint_for
        constraint = constraint_for(tok, vocab, json_schema=json_schema, grammar=grammar)
    if banned_tokens is not None and len({int(t) for t in banned_tokens if 0 <= int(t) < vocab}) >= vocab:
        raise ValueError(f"banned_tokens bans all {vocab} tokens of the vocabulary, so nothing could be sampled; "
                         "ban fewer (the prompt was not read: the state is unchanged)")
    ids = _prompt_ids(prompt, tok)
    resume = None  # an empty prompt: the logits the last generate() ended with
    if ids.size == 0:
        resume = continuation.recall(self)
        if resume is None:
            raise ValueError("prompt is empty and there is nothing to continue: an empty prompt continues the text "
                             "of this session's last generate() call, if its state has not changed since; "
                             "otherwise give at least one token")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        bad = int(ids[(ids < 0) | (ids >= vocab)][0])
        raise IndexError(f"prompt token {bad} is outside the vocabulary: expected 0 <= token < {vocab}")
    if logits_processor is not None and not callable(logits_processor):
        raise ValueError(f"logits_processor must be callable(tokens, logits), got {type(logits_processor).__name__}")
    chunks = GenerationStream(self, sampler, tok, ids, n_new, stops, bool(logprobs), logits_processor, resume,
                              constraint)
    if stream:
        return chunks
    return GenerationResult.of(chunks) if tok is not None else TokenResult.of(chunks)


_KEYWORDS = list(inspect.signature(generate).parameters)[1:-1]  # generate()'s own names, for suggestions


@functools.lru_cache(maxsize=1)
def _defaults() -> dict:
    return {k: p.default for k, p in inspect.signature(generate).parameters.items()}


def default_stop_tokens(tok) -> list[int] | None:
    """The stop tokens generation uses when the caller names none, where the Sampler cannot find
    them itself: the end-of-text of a tokenizer run in Python (a tokenizer.json's <|endoftext|>).
    None leaves them to the Sampler (a native tokenizer's end-of-text, e.g. World's id 0)."""
    if tok is not None and tok._t is None and tok.stop_token() is not None:
        return [tok.stop_token()]
    return None


def _resolve_tokenizer(model, tokenizer, prompt):
    """The tokenizer generate() uses, or None for token ids in and out: `tokenizer=False`, or a
    prompt of token ids on a model whose file carries no tokenizer."""
    if tokenizer is False:
        return None
    if tokenizer is None:
        try:
            return model_tokenizer(model)
        except NoTokenizerError as e:  # only a file without one; a broken or changed file still raises
            if isinstance(prompt, (str, bytes, bytearray, memoryview)):
                raise ValueError(f"{e}; or pass tokenizer= (any object with encode/decode), or give the prompt as "
                                 "token ids to get token ids back") from None
            return None
    if hasattr(tokenizer, "token_bytes"):
        return tokenizer
    if not (callable(getattr(tokenizer, "encode", None)) and callable(getattr(tokenizer, "decode", None))):
        raise ValueError(f"tokenizer must be an rrwkv_rt.Tokenizer, an object with encode() and decode(), or False "
                         f"(token ids in and out); got {type(tokenizer).__name__}")
    from ..foreign_tokenizer import ForeignTokenizer  # e.g. a Hugging Face tokenizer object
    return ForeignTokenizer(tokenizer, model.vocab_size)


def _copy_details(result, src):
    """What else happened, besides the text or ids, from a finished stream (or another result)."""
    result.finish_reason, result.logprobs, result.usage = src.finish_reason, src.logprobs, src.usage
    return result


class GenerationResult(str):
    """The text of a non-streaming ``generate`` (it *is* the str), with what else happened:
    ``tokens`` (drawn ids, stop token excluded), ``finish_reason`` ("stop", "stop_token" or
    "length"), ``usage`` ({"prompt_tokens", "completion_tokens", "total_tokens"}) and
    ``logprobs`` (one float per token, or None unless asked for)."""

    tokens: list
    finish_reason: str | None
    usage: dict
    logprobs: list | None

    @classmethod
    def of(cls, stream: "GenerationStream") -> "GenerationResult":
        return cls._with(cls("".join(stream)), stream)

    def with_text(self, text: str) -> "GenerationResult":
        """The same result with other text (e.g. stripped), the token details kept."""
        return self._with(type(self)(text), self)

    @staticmethod
    def _with(r: "GenerationResult", src) -> "GenerationResult":
        r.tokens = src.tokens
        return _copy_details(r, src)

    @property
    def text(self) -> str:
        return str(self)


class TokenResult(list):
    """What a non-streaming ``generate`` returns without a tokenizer (token ids in, token ids
    out): the drawn ids (a list), with ``finish_reason``, ``usage`` and ``logprobs`` as on
    :class:`GenerationResult`."""

    finish_reason: str | None
    usage: dict
    logprobs: list | None

    @classmethod
    def of(cls, stream: "GenerationStream") -> "TokenResult":
        for _ in stream:
            pass
        return _copy_details(cls(stream.tokens), stream)

    @property
    def tokens(self) -> list:
        return list(self)


class GenerationStream:
    """The iterator of text chunks ``generate(..., stream=True)`` returns. Once exhausted,
    ``finish_reason`` is "stop" (a stop string; ``stop_string`` says which), "stop_token" or
    "length"; ``tokens`` are the drawn token ids (stop token excluded), ``prompt_tokens`` the
    prompt's length, ``usage`` both counts, ``logprobs`` each token's log-probability (if asked)."""

    def __init__(self, session, sampler, tok: Tokenizer, ids: np.ndarray, n_new: int, stops: list[bytes],
                 want_logprobs: bool = False, processor=None, resume: np.ndarray | None = None, constraint=None):
        self.prompt_tokens = int(ids.size)
        self.tokens: list[int] = []
        self.logprobs: list[float] | None = [] if want_logprobs else None
        self._processor = processor
        self._constraint = constraint  # structured.Constraint: the grammar's mask before each draw
        self.finish_reason: str | None = None
        self.stop_string: bytes | None = None
        self._it = self._run(session, sampler, tok, ids, n_new, stops, resume)

    @property
    def usage(self) -> dict:
        n = len(self.tokens)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": n, "total_tokens": self.prompt_tokens + n}

    def __iter__(self) -> GenerationStream:
        return self

    def __next__(self) -> str:
        return next(self._it)

    def close(self) -> None:
        self._it.close()

    def _run(self, session, sampler, tok, ids, n_new, stops, resume) -> Iterator[str]:
        self._logits = None
        logits = session.forward(ids) if resume is None else resume
        try:
            yield from self._sample(session, sampler, tok, logits, n_new, stops)
        finally:  # also when the caller stops early: the logits of the state as it is left
            if self._logits is not None:
                continuation.remember(session, self._logits)

    def _sample(self, session, sampler, tok, logits, n_new, stops) -> Iterator[str]:
        self._logits = logits
        out = np.empty_like(logits)
        text = TextStream(stops)
        self.finish_reason = "length"
        grammar = self._constraint
        for _ in range(n_new):
            if grammar is not None and grammar.done:  # complete: only the end is left
                self.finish_reason = "stop_token"
                break
            allowed = grammar.mask() if grammar is not None else None
            view = logits
            if self._processor is not None:
                view = logits.copy()
                changed = self._processor(list(self.tokens), view)
                view = view if changed is None else np.asarray(changed, dtype=np.float32)
                if view.shape != logits.shape:
                    raise ValueError(f"logits_processor returned shape {view.shape}, expected {logits.shape}")
            token = sampler.sample(view, allowed)
            end = sampler.is_stop(token) or (grammar is not None and grammar.is_end(token))
            if self.logprobs is not None and not end:
                self.logprobs.append(token_logprob(sampler, view, token, allowed=allowed)[0])
            if end:
                self.finish_reason = "stop_token"
                break
            if grammar is not None:
                grammar.accept(token)
            sampler.accept(token)
            self.tokens.append(token)
            # Fed before the chunk is yielded, so that the state covers every token handed out
            # even if the caller stops iterating here.
            logits = self._logits = session.step(token, out=out)
            if tok is None:  # token ids out
                yield token
                continue
            chunk = text.push(tok.token_bytes(token))
            if chunk:
                yield chunk
            if text.stopped:
                self.finish_reason, self.stop_string = "stop", text.stop_string
                return
        tail = text.flush()
        if tail:
            yield tail


def default_model_path() -> str:
    """The model shipped with the package (rrwkv_rt/data/default.rrwkv); FileNotFoundError if
    this installation has none."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "default.rrwkv")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no MODEL was given and the default model {path} is not installed; pass the path "
                                "of a .rrwkv model file (make one with `python -m rrwkv_rt export`), or reinstall "
                                "rrwkv_rt from a source tree that has python/rrwkv_rt/data/default.rrwkv")
    return path


__all__ = ["GenerationResult", "GenerationStream", "Sampler", "TextStream", "TokenResult", "default_model_path",
           "default_stop_tokens", "generate", "model_tokenizer", "tokenizer_property"]
