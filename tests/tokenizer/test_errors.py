"""Malformed vocabulary files raise FormatError naming the line; bad ids raise IndexError
naming the id and the range."""
import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import FormatError, Tokenizer

BYTE_LINES = [f"{b + 1} b'\\x{b:02x}' 1" for b in range(256)]  # ids 1..256: the single bytes


def vocab_with(tmp_path, extra_lines):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(BYTE_LINES + extra_lines) + "\n", encoding="utf-8")
    return path


def test_a_small_custom_vocab_works(tmp_path):
    tok = Tokenizer.from_file(vocab_with(tmp_path, ["300 'ab' 2", "301 '中文' 6", '302 "it\'s" 4', "303 '\\u00e9' 2"]))
    assert tok.kind == "world" and tok.vocab_size == 304
    assert tok.encode("ab中文it's\u00e9abc") == [300, 301, 302, 303, 300, ord("c") + 1]


# (bad line, words the message must contain); the bad line is line 257 of the file.
MALFORMED = [
    ("300 'a\\qb' 3", ["bad escape \\q", "expected one of"]),
    ("300 '\\xZZ' 1", ["\\x escape", "expected exactly 2 hex digits"]),
    ("300 '\\ud800' 3", ["surrogate"]),
    ("300 b'\\u0041' 1", ["not an escape in bytes literals"]),
    ("300 'ab' 3", ["states a length of 3 bytes but its literal holds 2"]),
    ("300 '中' 1", ["states a length of 1 bytes but its literal holds 3"]),
    ("12 'xy' 2", ["token id 12 was already defined on line 12"]),
    ("x300 'ab' 2", ["expected a decimal token id", "found 'x300'"]),
    ("-5 'ab' 2", ["expected a decimal token id"]),
    ("300 'ab' two", ["expected the token's byte length", "found 'two'"]),
    ("300 'ab'", ["expected `<id> <Python str or bytes literal> <byte length>`"]),
    ("300 'ab 2", ["expected a Python string literal"]),
    ("300 ab 2", ["expected a Python string literal"]),
    ("300 'a'b' 3", ["unescaped '"]),
    ("300 '' 0", ["token 300 is empty"]),
    ("300 b'\\x41' 1", ["same bytes 'A' as id 66 on line 66"]),
]


@pytest.mark.parametrize("line,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_vocab_names_the_line(tmp_path, line, words):
    path = vocab_with(tmp_path, [line])
    with pytest.raises(FormatError) as e:
        Tokenizer.from_file(path)
    msg = str(e.value)
    assert f"vocabulary '{path}' line 257: " in msg, msg
    for w in words:
        assert w in msg, msg
    assert isinstance(e.value, ValueError)


def test_missing_single_bytes_and_empty_vocab(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("\n".join(BYTE_LINES[:200]) + "\n")
    with pytest.raises(FormatError, match=r"no token for 56 single byte\(s\) \(0xc8, 0xc9"):
        Tokenizer.from_file(path)
    with pytest.raises(FormatError, match="needs a vocabulary, but vocabulary is empty"):
        Tokenizer.from_header("world", b"")
    with pytest.raises(FormatError, match="tokenizer kind 'gpt2' is unknown"):
        Tokenizer.from_header("gpt2", b"")
    with pytest.raises(FileNotFoundError):
        Tokenizer.from_file(tmp_path / "nope.txt")


def test_invalid_utf8_in_a_str_literal(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(("\n".join(BYTE_LINES) + "\n300 '").encode() + b"\xff\xfe" + b"' 2\n")
    with pytest.raises(FormatError, match="line 257: invalid UTF-8 inside the str literal"):
        Tokenizer.from_file(path)


@pytest.mark.parametrize("kind,bad,limit", [("world", 65530, 65530), ("world", -1, 65530), ("bytes", 256, 256),
                                            ("world", 2**40, 65530)])
def test_decode_out_of_range_names_id_and_range(kind, bad, limit):
    tok = Tokenizer.world() if kind == "world" else Tokenizer.bytes()
    with pytest.raises(IndexError) as e:
        tok.decode([1, 2, bad])
    msg = str(e.value)
    assert f"token id {bad} is out of range" in msg and f"0 <= id < {limit}" in msg and "position 2" in msg, msg
    with pytest.raises(IndexError):
        tok.token_bytes(bad)


def test_decode_rejects_non_integers():
    tok = Tokenizer.world()
    with pytest.raises(TypeError):
        tok.decode([1.0, 2.0])
    with pytest.raises(TypeError):
        tok.decode([[1, 2]])
    with pytest.raises(IndexError, match="out of range"):
        tok.decode(np.array([2**64 - 1], dtype=np.uint64))


def test_world_id_zero_is_end_of_text_and_decodes_to_nothing():
    tok = Tokenizer.world()
    assert tok.decode_bytes([0]) == b"" and tok.decode([0]) == "" and tok.token_bytes(0) == b""
    assert rrwkv_rt.Tokenizer is Tokenizer


def test_bad_vocab_inside_a_model_file_names_the_file(tmp_path):
    from rrwkv_rt import ModelConfig, _core
    from rrwkv_rt.io.format import write_model
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=4, vocab_size=300)
    tensors = {name: (np.zeros(shape, np.float32), "f32")
               for name, shape, _ in _core.runtime_layout(cfg.to_dict())}
    path = tmp_path / "bad.rrwkv"
    write_model(path, cfg, tensors, tokenizer=("world", b"1 'a' 1\n2 'b\\q' 2\n"))
    with pytest.raises(FormatError, match=r"model file '.*bad.rrwkv' field tokenizer.vocab line 2: bad escape \\q"):
        Tokenizer.from_model(path)
    write_model(path, cfg, tensors, tokenizer=("sentencepiece", b""), force=True)
    with pytest.raises(FormatError, match="tokenizer kind 'sentencepiece' is unknown"):
        Tokenizer.from_model(path)
