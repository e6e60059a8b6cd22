"""The vocabulary parser decodes Python literals exactly as Python does (without eval): random
str and bytes values written with repr() / ascii() read back as their bytes; and damaged
vocabulary text raises FormatError, never anything else."""
import random

import pytest

from rrwkv_rt import FormatError, Tokenizer

BYTE_LINES = [f"{b + 1} b'\\x{b:02x}' 1" for b in range(256)]


def random_value(rng):
    if rng.random() < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    pools = [(0x00, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)]
    return "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(rng.randint(1, 8)))


def test_literals_written_by_python_read_back(tmp_path):
    rng = random.Random(0)
    expected, lines, seen = {}, list(BYTE_LINES), set()
    for i in range(3000):
        v = random_value(rng)
        b = v if isinstance(v, bytes) else v.encode("utf-8")
        if b in seen or len(b) == 1:
            continue
        seen.add(b)
        lit = ascii(v) if rng.random() < 0.5 else repr(v)  # \x \u \U escapes, or raw UTF-8
        if "\n" in lit or "\r" in lit:  # repr() escapes these, but be sure
            continue
        expected[1000 + i] = b
        lines.append(f"{1000 + i} {lit} {len(b)}")
    path = tmp_path / "v.txt"
    path.write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n")
    tok = Tokenizer.from_file(path)
    for i, b in expected.items():
        assert tok.token_bytes(i) == b, (i, b)


def test_damaged_vocab_raises_format_error_only(tmp_path):
    rng = random.Random(1)
    good = ("\n".join(BYTE_LINES + ["300 'ab' 2", "301 '\\u4e2d' 3", "302 b'\\xff\\xfe' 2", '303 "q\'" 2'])
            + "\n").encode()
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data) - 60, len(data))  # damage the multi-byte tokens' lines
            op = rng.randrange(3)
            if op == 0:
                data[pos] = rng.choice(b"\\'\" bxu0123456789\n\r\x00\xff")
            elif op == 1:
                del data[pos]
            else:
                data.insert(pos, rng.choice(b"\\'\" bxu09\xc3"))
        try:
            Tokenizer.from_header("world", bytes(data))
        except FormatError:
            pass
