"""The World tokenizer gives exactly the `rwkv` package's TRIE_TOKENIZER ids on a large
mixed-script corpus (ASCII source, CJK, emoji, Arabic, combining marks, all of Unicode, every
vocabulary token, invalid UTF-8), and round-trips it."""
import os

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import Tokenizer

pytest.importorskip("rwkv.rwkv_tokenizer")


def first_difference(a, b):
    n = min(len(a), len(b))
    diff = [i for i in range(n) if a[i] != b[i]]
    return diff[0] if diff else n


def test_shipped_vocab_is_the_official_file(official):
    import rwkv.rwkv_tokenizer as rt
    ref = os.path.join(os.path.dirname(rt.__file__), "rwkv_vocab_v20230424.txt")
    with open(ref, "rb") as a, open(rrwkv_rt.tokenizer.WORLD_VOCAB, "rb") as b:
        assert a.read() == b.read()


def test_every_token_matches_the_reference_table(world, official):
    assert world.vocab_size == max(official.idx2token) + 1 == 65530
    for i in range(world.vocab_size):
        assert world.token_bytes(i) == official.idx2token.get(i, b""), i


def test_ids_identical_to_trie_tokenizer(world, official, corpus):
    total_bytes = total_tokens = 0
    for name, data, is_text in corpus:
        expected = official.encode(data.decode("utf-8")) if is_text else official.encodeBytes(data)
        got = world.encode(data)
        if got != expected:
            i = first_difference(got, expected)
            at = len(world.decode_bytes(got[:i]))
            pytest.fail(f"{name}: first different id at token {i} (byte {at}, near {data[at:at + 24]!r}): "
                        f"ours {got[i:i + 5]}, TRIE_TOKENIZER {expected[i:i + 5]}")
        assert world.decode_bytes(got) == data, name
        total_bytes += len(data)
        total_tokens += len(got)
    assert total_bytes > 3_000_000 and total_tokens > 1_000_000


def test_encode_accepts_str_bytes_and_buffers(world, official):
    text = "Hello world! 你好，世界 😀 مرحبا e\u0301"
    expected = official.encode(text)
    data = text.encode()
    assert world.encode(text) == expected
    for buf in (data, bytearray(data), memoryview(data), np.frombuffer(data, dtype=np.uint8)):
        assert world.encode(buf) == expected
    arr = world.encode_array(text)
    assert arr.dtype == np.int64 and arr.tolist() == expected
    assert world.decode_bytes(arr) == data and world.decode_bytes(np.asarray(expected, dtype=np.int32)) == data
    assert world.decode(arr) == text  # decode() is the text
    assert world.encode("") == [] and world.decode_bytes([]) == b"" and world.decode([]) == ""
    with pytest.raises(UnicodeEncodeError):
        world.encode("\ud800")  # a lone surrogate has no UTF-8 form
    with pytest.raises(TypeError):
        world.encode(12)


def test_decode_text_replaces_cut_characters(world):
    ids = world.encode("你好")
    assert world.decode_text(ids) == "你好"
    cut = world.encode(b"\xe4\xbd")  # the first two bytes of 你
    assert world.decode_text(cut) == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        world.decode_text(cut, errors="strict")


def test_threads_share_one_tokenizer(world, corpus):
    from concurrent.futures import ThreadPoolExecutor
    docs = [data for _, data, _ in corpus]
    expected = [world.encode(d) for d in docs]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(world.encode, docs)) == expected
