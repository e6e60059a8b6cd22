"""State files: save_state / load_state round trip and continue identically; a state of another
model is refused (ValueError saying expected / found / what to do); truncated or corrupt files
raise FormatError; writes are atomic."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import FormatError
from rrwkv_rt import state_file

PROMPT = "import os\nimport sys\n\ndef main(argv):\n    "


@pytest.fixture()
def saved(models, tmp_path):
    s = rrwkv_rt.Session(models["b"], threads=1)
    s.forward(list(PROMPT.encode()))
    path = tmp_path / "prompt.state"
    s.save_state(path)
    return s, path


def test_round_trip_continues_identically(models, saved):
    s, path = saved
    t = rrwkv_rt.Session(models["b"], threads=1)
    assert t.load_state(path) == len(PROMPT) and t.pos == len(PROMPT)
    np.testing.assert_array_equal(t.step(ord("x")), s.step(ord("x")))
    t.load_state(os.fspath(path))  # str paths too, and loading twice restarts from the file
    u = rrwkv_rt.Session(models["b"], threads=1)
    ref = u.generate(PROMPT + "y", 20, temperature=0)
    assert t.generate("y", 20, temperature=0) == ref
    assert not [f for f in os.listdir(path.parent) if f.endswith(".tmp")]


def test_foreign_model_is_refused(models, saved, tmp_path):
    _, path = saved
    other_shape = rrwkv_rt.Session(models["a"], threads=1)
    with pytest.raises(ValueError, match=r"saved from another model: expected rwkv4 .* found rrwkv .*"
                                         r"load it into a session on the model it was saved from") as e:
        other_shape.load_state(path)
    assert not isinstance(e.value, FormatError) and other_shape.pos == 0
    a = rrwkv_rt.Session(models["a"], threads=1)
    a.forward([1, 2, 3])
    a.save_state(tmp_path / "a.state")
    a2 = rrwkv_rt.Session(models["a2"], threads=1)  # same shape, other weights
    with pytest.raises(ValueError, match="the same shape but other weights"):
        a2.load_state(tmp_path / "a.state")
    assert a2.pos == 0


def corrupt(path, data: bytes):
    path.write_bytes(data)
    return path


def test_damaged_files_raise_format_error(models, saved, tmp_path):
    s, path = saved
    data = path.read_bytes()
    t = rrwkv_rt.Session(models["b"], threads=1)
    cases = {
        "truncated": (data[:-10], "is truncated or damaged"),
        "header only": (data[:64], "is truncated or damaged"),
        "short header": (data[:30], "is truncated: 30 bytes"),
        "empty": (b"", "is truncated: 0 bytes"),
        "magic": (b"NOTSTATE" + data[8:], "is not an rrwkv_rt state file"),
        "blob bit flip": (data[:100] + bytes([data[100] ^ 1]) + data[101:], "is corrupt: the checksum"),
        "header bit flip": (data[:41] + bytes([data[41] ^ 1]) + data[42:], "corrupt header"),
    }
    head = bytearray(data[:60])
    head[8:12] = struct.pack("<I", 2)
    cases["newer version"] = (bytes(head) + struct.pack("<I", zlib.crc32(head)) + data[64:], "newer than this")
    for name, (bad, msg) in cases.items():
        with pytest.raises(FormatError, match=msg):
            t.load_state(corrupt(tmp_path / f"{name}.state", bad))
        assert t.pos == 0, name
    with pytest.raises(FileNotFoundError):
        t.load_state(tmp_path / "missing.state")


def test_atomic_write(models, saved, monkeypatch):
    s, path = saved
    before = path.read_bytes()
    s.step(5)

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        s.save_state(path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file is intact...
    assert sorted(os.listdir(path.parent)) == [path.name]  # ...and no temporary file is left
    s.save_state(path)
    assert path.read_bytes() != before
    t = rrwkv_rt.Session(models["b"], threads=1)
    assert t.load_state(path) == len(PROMPT) + 1


def test_header_layout(saved):
    s, path = saved
    data = path.read_bytes()
    assert data[:8] == state_file.MAGIC and len(data) == 64 + len(s.get_state())
    assert struct.unpack_from("<I", data, 16)[0] == s.model.info["header_crc32"]
    assert struct.unpack_from("<q", data, 40)[0] == len(PROMPT)
