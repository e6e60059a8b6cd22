"""A deterministic mixed-script corpus for tokenizer tests and tools/bench_tokenizer.py.

Each document is (name, data, is_text): `data` is bytes; `is_text` says it is valid UTF-8 (so
the reference can be fed the str). Sizes are scaled by `scale` (1.0 is about 3.5 MB).
"""
from __future__ import annotations

import glob
import os
import random

# (first, last) code points of the scripts mixed into the generated text.
SCRIPTS = {
    "cjk": (0x4E00, 0x9FFF), "cjk_ext_b": (0x20000, 0x2A6DF), "kana": (0x3040, 0x30FF),
    "hangul": (0xAC00, 0xD7A3), "arabic": (0x0600, 0x06FF), "hebrew": (0x0590, 0x05FF),
    "devanagari": (0x0900, 0x097F), "thai": (0x0E00, 0x0E7F), "cyrillic": (0x0400, 0x04FF),
    "greek": (0x0370, 0x03FF), "latin_ext": (0x00C0, 0x024F), "emoji": (0x1F300, 0x1FAFF),
    "symbols": (0x2600, 0x27BF), "math": (0x2200, 0x22FF), "box": (0x2500, 0x257F),
    "ascii": (0x21, 0x7E), "fullwidth": (0xFF01, 0xFF5E),
}
COMBINING = (0x0300, 0x036F)
SEPARATORS = [" ", " ", " ", "\n", "\n\n", "\t", "  ", "\r\n", ", ", ". ", "。", "，", "、", "! ", "?\n", "\u3000"]
EMOJI_EXTRAS = ["\u200d", "\ufe0f", "\U0001F3FB", "\U0001F3FF", "\u20e3"]


def stdlib_source(max_bytes: int) -> bytes:
    """The Python standard library's own .py files, in name order, up to max_bytes."""
    out, n = [], 0
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py"))):
        with open(path, "rb") as f:
            b = f.read()
        out.append(b[: max_bytes - n])
        n += len(out[-1])
        if n >= max_bytes:
            break
    return b"".join(out)


def mixed_script_text(seed: int, n_words: int) -> str:
    """Words of 1..8 characters, each from one script, with combining marks, emoji sequences
    (ZWJ, skin tones, variation selectors) and assorted whitespace between them."""
    rng = random.Random(seed)
    names = list(SCRIPTS)
    parts = []
    for _ in range(n_words):
        lo, hi = SCRIPTS[rng.choice(names)]
        word = []
        for _ in range(rng.randint(1, 8)):
            word.append(chr(rng.randint(lo, hi)))
            r = rng.random()
            if r < 0.08:
                word.append(chr(rng.randint(*COMBINING)))
            elif r < 0.12:
                word.append(rng.choice(EMOJI_EXTRAS))
        parts.append("".join(word))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


def any_scalar_text(seed: int, n_chars: int) -> str:
    """Code points drawn from all of Unicode (surrogates excluded), weighted towards the BMP."""
    rng = random.Random(seed)
    chars = []
    for _ in range(n_chars):
        hi = rng.choice([0x7F, 0x7FF, 0xFFFF, 0x10FFFF])
        cp = rng.randint(0, hi)
        chars.append(chr(cp if not 0xD800 <= cp <= 0xDFFF else cp - 0x800))
    return "".join(chars)


def shuffled_tokens(tokens: list[bytes], seed: int) -> bytes:
    """Every token once, in random order, sometimes glued, sometimes separated: exercises every
    vocabulary entry and the longest-match boundaries between them (includes invalid UTF-8)."""
    rng = random.Random(seed)
    tokens = list(tokens)
    rng.shuffle(tokens)
    return b"".join(t + (b"" if rng.random() < 0.7 else rng.choice([b" ", b"\n", b"a", b"\xe4"])) for t in tokens)


def invalid_utf8(seed: int, n_segments: int) -> bytes:
    """Valid text interleaved with random bytes, lone continuation bytes, cut multi-byte
    sequences, overlong forms, surrogate encodings and bytes that never occur in UTF-8."""
    rng = random.Random(seed)
    out = []
    for _ in range(n_segments):
        kind = rng.randrange(7)
        if kind == 0:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))))
        elif kind == 1:
            out.append(bytes(rng.randint(0x80, 0xBF) for _ in range(rng.randint(1, 5))))
        elif kind == 2:
            out.append(mixed_script_text(rng.randrange(1 << 30), 2).encode()[: rng.randint(1, 7)])
        elif kind == 3:
            out.append(rng.choice([b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        elif kind == 4:
            out.append(bytes([rng.choice([0xC0, 0xC1, 0xF5, 0xF8, 0xFE, 0xFF, 0x00])]))
        else:
            out.append(mixed_script_text(rng.randrange(1 << 30), rng.randint(1, 6)).encode())
    return b"".join(out)


def corpus(tokens: list[bytes], scale: float = 1.0) -> list[tuple[str, bytes, bool]]:
    """The whole corpus; `tokens` are the vocabulary's byte strings (for shuffled_tokens)."""
    docs = [("stdlib source", stdlib_source(int(1_600_000 * scale)), True)]
    for seed in range(4):
        docs.append((f"mixed scripts #{seed}", mixed_script_text(seed, int(25_000 * scale)).encode(), True))
    docs.append(("all of Unicode", any_scalar_text(7, int(60_000 * scale)).encode(), True))
    docs.append(("every token, shuffled", shuffled_tokens(tokens, 11), False))
    for seed in range(3):
        docs.append((f"invalid UTF-8 #{seed}", invalid_utf8(100 + seed, int(12_000 * scale)), False))
    # A valid-looking document must really be UTF-8, or the reference could not take it as str.
    for name, data, is_text in docs:
        if is_text:
            data.decode("utf-8")
    return docs
