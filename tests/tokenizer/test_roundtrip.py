"""decode(encode(b)) == b for any bytes, for both kinds; the byte tokenizer is the identity."""
import random

import pytest

from rrwkv_rt import Tokenizer


def random_bytes(seed: int) -> bytes:
    """Different shapes of input per seed: uniform bytes, high bytes only, UTF-8 cut anywhere,
    long runs of one byte."""
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 3, rng.randint(4, 64), rng.randint(64, 4000)])
    shape = seed % 4
    if shape == 0:
        return bytes(rng.randrange(256) for _ in range(n))
    if shape == 1:
        return bytes(rng.randint(0x80, 0xFF) for _ in range(n))
    if shape == 2:
        text = "".join(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0x4E00, 0x9FFF), rng.randint(0x1F300, 0x1FAFF)]))
                       for _ in range(n)).encode()
        a = rng.randint(0, len(text))
        return text[a:a + rng.randint(0, len(text))]
    return bytes([rng.randrange(256)]) * n + b" " * rng.randint(0, 300)


@pytest.mark.parametrize("kind", ["world", "bytes"])
def test_roundtrip_random_bytes(kind):
    tok = Tokenizer.world() if kind == "world" else Tokenizer.bytes()
    for seed in range(400):
        data = random_bytes(seed)
        ids = tok.encode(data)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode_bytes(ids) == data, seed


def test_every_single_byte_and_pair(world):
    for b in range(256):
        assert world.decode_bytes(world.encode(bytes([b]))) == bytes([b])
    pairs = b"".join(bytes([a, b]) for a in range(256) for b in range(0, 256, 7))
    assert world.decode_bytes(world.encode(pairs)) == pairs


def test_byte_tokenizer_is_the_identity():
    tok = Tokenizer.bytes()
    data = bytes(range(256)) * 3
    assert tok.kind == "bytes" and tok.vocab_size == 256
    assert tok.encode(data) == list(data)
    assert tok.decode_bytes(list(data)) == data
    assert tok.header == ("bytes", b"")


def test_from_header_rebuilds_the_same_tokenizer(world):
    kind, vocab = world.header
    assert kind == "world" and vocab.startswith(b"1 '\\x00' 1")
    again = Tokenizer.from_header(kind, vocab)
    text = "round trip through a header: 試験 🧪"
    assert again.encode(text) == world.encode(text)
