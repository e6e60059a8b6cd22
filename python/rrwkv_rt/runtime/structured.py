"""Structured output: text that follows a JSON schema or a grammar, by masking out, before each
draw, every token the grammar does not allow next (constrained decoding). The grammar engine is
llguidance (``pip install 'rrwkv_rt[structured]'``); the mask goes to the native sampler
(``Sampler.sample(logits, allowed=mask)``), which treats masked-out tokens as banned.

    s.generate("A point: ", json_schema={"type": "object", "properties": {"x": {"type": "integer"}}})
    s.generate("Answer: ", grammar='start: "yes" | "no"')          # Lark, or GBNF (llama.cpp's)

JSON is written compactly, one space after ``,`` and ``:`` and no other whitespace outside
strings (``{"x": 1, "y": [2, 3]}``, as Python's ``json.dumps``): a model cannot pad the text
with whitespace until it runs out of tokens, and a schema whose strings, numbers and arrays are
bounded gives text of bounded length.

Works with every tokenizer kind whose text is its tokens' bytes put together (World, bytes,
byte-level BPE tokenizer.json files such as GPT-NeoX's): llguidance is given each token's bytes
and the end-of-text token. A tokenizer.json whose pre-tokenizer drops the spaces between words
(a word-level BPE) has no token for a space, so a grammar that needs one fails with a
GrammarError (the server: 400) rather than giving text that does not follow it. A tokenizer without one (``bytes``) gets a virtual end token past the vocabulary, which
the model cannot draw: such a generation ends when the grammar allows nothing more, at a stop
string or at ``max_new_tokens``. With an end token (World's id 0, a Hugging Face tokenizer's
``<|endoftext|>``) the model may end the text wherever the grammar is complete.
"""
from __future__ import annotations

import functools
import json
import threading

import numpy as np

# JSON as json.dumps writes it (see the module's docstring)
JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
ANY_JSON_OBJECT = {"type": "object"}


class GrammarError(ValueError):
    """A JSON schema or grammar the grammar engine refuses (the message says why)."""


def _llguidance():
    try:
        import llguidance
        import llguidance.numpy  # noqa: F401  (the mask helpers)
    except ImportError as e:
        raise ImportError(f"structured output (json_schema=, grammar=) needs llguidance: pip install "
                          f"'rrwkv_rt[structured]' ({e})") from None
    return llguidance


def mask_words(vocab_size: int) -> int:
    """32-bit words of a mask of `vocab_size` tokens (the native sampler's and llguidance's layout)."""
    return (vocab_size + 31) // 32


def compile_grammar(json_schema=None, grammar: str | None = None) -> str:
    """The grammar text llguidance runs, from a JSON schema (a dict, its JSON text, or True for
    any JSON object) or a Lark / GBNF grammar; exactly one of them. GrammarError if it is not
    valid (checked without a tokenizer; a tokenizer adds no new errors)."""
    llg = _llguidance()
    if (json_schema is None) == (grammar is None):
        raise ValueError("give exactly one of json_schema and grammar")
    if json_schema is not None:
        schema = json.loads(schema_text(json_schema))
        if not isinstance(schema, (dict, bool)):
            raise GrammarError(f"json_schema must be a JSON object (a schema), got {type(schema).__name__}")
        try:
            text = llg.LLMatcher.grammar_from_json_schema(schema, overrides=JSON_OPTIONS)
        except (ValueError, TypeError) as e:
            raise GrammarError(f"json_schema: {e}") from None
    else:
        if not isinstance(grammar, str) or not grammar.strip():
            raise GrammarError("grammar must be a non-empty string: a Lark or GBNF grammar")
        try:
            text = llg.grammar_from("grammar", grammar)  # Lark, or GBNF converted to Lark
        except ValueError as e:
            raise GrammarError(f"grammar: {e}") from None
    error = llg.LLMatcher.validate_grammar(text)
    if error and not error.startswith("WARNING"):
        raise GrammarError(f"{'json_schema' if json_schema is not None else 'grammar'}: {error}")
    return text


class _Vocabulary:
    """What llguidance's TokenizerWrapper reads of a tokenizer: every token's bytes, the end
    token, and an encoder."""

    def __init__(self, tok, n: int, eos: int):
        size = min(tok.vocab_size, n)
        self.tokens = [tok.token_bytes(i) for i in range(size)] + [b""] * (n - size)
        self.eos_token_id, self.bos_token_id, self.special_token_ids = eos, None, [eos]
        self._tok = tok

    def __call__(self, text):
        return self._tok.encode(text)


class GrammarVocabulary:
    """A model's vocabulary as the grammar engine sees it (built once per tokenizer and vocab
    size: about a second for a 65k vocabulary; :func:`vocabulary` caches it)."""

    def __init__(self, tok, vocab_size: int):
        llg = _llguidance()
        self.vocab_size = vocab_size  # the model's: what the sampler's mask covers
        stop = tok.stop_token()
        self.eos = stop if stop is not None and stop < vocab_size else vocab_size  # virtual past the vocab
        self.n = max(vocab_size, self.eos + 1)  # llguidance's token count (one more with a virtual end)
        self.llg = llg.LLTokenizer(llg.TokenizerWrapper(_Vocabulary(tok, self.n, self.eos)), n_vocab=self.n,
                                   eos_token=self.eos)

    def matcher(self, grammar: str) -> "Constraint":
        return Constraint(self, grammar)


_vocabularies: dict = {}
_vocabularies_lock = threading.Lock()


def vocabulary(tok, vocab_size: int) -> GrammarVocabulary:
    """The cached GrammarVocabulary of a tokenizer (one per tokenizer object and vocab size)."""
    key = (id(tok), vocab_size)
    with _vocabularies_lock:
        hit = _vocabularies.get(key)
        if hit is None or hit[0] is not tok:
            if len(_vocabularies) >= 8:
                _vocabularies.pop(next(iter(_vocabularies)))
            hit = _vocabularies[key] = (tok, GrammarVocabulary(tok, vocab_size))
        return hit[1]


class Constraint:
    """One sequence's place in a grammar: ``mask()`` the tokens allowed next, ``accept(token)``
    after a draw, ``done`` once the grammar allows nothing more, ``fork()`` a copy that goes on
    on its own (n choices of one prompt)."""

    def __init__(self, vocab: GrammarVocabulary, grammar: str | None, _matcher=None):
        llg = _llguidance()
        self.vocab = vocab
        # log_level 0: the engine's errors are raised as GrammarError, not printed
        self.matcher = _matcher if _matcher is not None else llg.LLMatcher(vocab.llg, grammar, log_level=0)
        if self.matcher.is_error():
            raise GrammarError(self.matcher.get_error())
        self._words = np.zeros(mask_words(vocab.n), dtype=np.int32)

    @property
    def done(self) -> bool:
        """The grammar is complete and allows no further token (only the end)."""
        return self.matcher.is_stopped()

    def is_end(self, token: int) -> bool:
        return token == self.vocab.eos

    def mask(self, out: np.ndarray | None = None) -> np.ndarray:
        """The allowed-token mask of the model's vocabulary (mask_words(vocab_size) int32 words),
        written into `out` if given. Releases the GIL while the engine computes it."""
        buf = self._words
        self.matcher.unsafe_compute_mask_ptr(buf.ctypes.data, buf.nbytes)
        self._check()
        view = buf[:mask_words(self.vocab.vocab_size)]
        if out is None:
            return view.copy()
        out[:] = view
        return out

    def accept(self, token: int) -> None:
        if not self.matcher.consume_token(int(token)):
            raise GrammarError(f"token {token} is not allowed by the grammar here: {self.matcher.get_error()}")

    def fork(self) -> "Constraint":
        return Constraint(self.vocab, None, self.matcher.deep_copy())

    def _check(self) -> None:
        if self.matcher.is_error():
            raise GrammarError(f"the grammar engine stopped: {self.matcher.get_error()}")


def schema_text(json_schema) -> str:
    """A JSON schema (a dict, its JSON text, or True for any JSON object) as canonical JSON text."""
    if json_schema is True:
        json_schema = ANY_JSON_OBJECT
    if isinstance(json_schema, str):
        try:
            json_schema = json.loads(json_schema)
        except ValueError as e:
            raise GrammarError(f"json_schema is not valid JSON: {e}") from None
    try:
        return json.dumps(json_schema, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise GrammarError(f"json_schema must be JSON data (a dict of lists, strings, numbers...): {e}") from None


@functools.lru_cache(maxsize=64)
def compiled(schema: str | None, grammar: str | None) -> str:
    """compile_grammar, cached by the schema's canonical text (schema_text) or the grammar."""
    return compile_grammar(json.loads(schema) if schema is not None else None, grammar)


def constraint_for(tok, vocab_size: int, json_schema=None, grammar: str | None = None) -> Constraint:
    """A Constraint for generate(): the schema or grammar compiled against the tokenizer's vocabulary."""
    if tok is None:
        raise ValueError("json_schema= and grammar= need a tokenizer (a grammar is over text)")
    text = compiled(schema_text(json_schema) if json_schema is not None else None, grammar)
    return vocabulary(tok, vocab_size).matcher(text)


__all__ = ["ANY_JSON_OBJECT", "Constraint", "GrammarError", "GrammarVocabulary", "JSON_OPTIONS", "compile_grammar",
           "compiled", "constraint_for", "mask_words", "schema_text", "vocabulary"]
