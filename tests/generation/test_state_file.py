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
    with pytest.raises(rrwkv_rt.StateMismatchError, match=r"saved from another model: rrwkv .* but this model is "
                                                         r"rwkv4 .* restore it into a session of the model") as e:
        other_shape.load_state(path)
    assert isinstance(e.value, ValueError) and not isinstance(e.value, FormatError) and other_shape.pos == 0
    assert os.fspath(path) in str(e.value)
    a = rrwkv_rt.Session(models["a"], threads=1)
    a.forward([1, 2, 3])
    a.save_state(tmp_path / "a.state")
    a2 = rrwkv_rt.Session(models["a2"], threads=1)  # same shape, other weights
    with pytest.raises(rrwkv_rt.StateMismatchError, match=r"another model of the same shape \(other weights\)"):
        a2.load_state(tmp_path / "a.state")
    assert a2.pos == 0


def corrupt(path, data: bytes):
    path.write_bytes(data)
    return path


def _with_header_crc(head: bytearray) -> bytes:
    """A 96-byte blob header with its checksum (bytes 92..96) recomputed."""
    head[92:96] = struct.pack("<I", zlib.crc32(bytes(head[:92])))
    return bytes(head)


def test_damaged_files_raise_format_error(models, saved, tmp_path):
    s, path = saved
    data = path.read_bytes()
    t = rrwkv_rt.Session(models["b"], threads=1)
    cases = {
        "truncated": (data[:-10], r"bytes, expected .* \(truncated or padded\)"),
        "padded": (data + b"\0" * 4, r"bytes, expected .* \(truncated or padded\)"),
        "header only": (data[:96], r"bytes, expected"),
        "short header": (data[:30], "is truncated: 30 bytes"),
        "empty": (b"", "not a session state"),
        "magic": (b"NOTSTATE" + data[8:], "not a session state"),
        "blob bit flip": (data[:200] + bytes([data[200] ^ 1]) + data[201:], "fails its checksum"),
        "header bit flip": (data[:41] + bytes([data[41] ^ 1]) + data[42:], "corrupt header"),
        "position bit flip": (data[:64] + bytes([data[64] ^ 1]) + data[65:], "corrupt header"),
    }
    newer = bytearray(data[:96])
    newer[8:12] = struct.pack("<I", 3)
    cases["newer version"] = (bytes(newer) + data[96:], "upgrade rrwkv_rt")
    older = bytearray(data[:96])
    older[8:12] = struct.pack("<I", 1)
    cases["version 1"] = (bytes(older) + data[96:], "written by rrwkv_rt 0.1")
    cases["0.1 state file"] = (b"RRWKVSF\n" + bytes(56) + data, "state file of rrwkv_rt 0.1")
    huge = bytearray(data[:96])
    huge[64:72] = struct.pack("<q", 2**63 - 1)  # a crafted position with a valid checksum
    cases["impossible position"] = (_with_header_crc(huge) + data[96:], "impossible position")
    for name, (bad, msg) in cases.items():
        with pytest.raises(FormatError, match=msg) as e:
            t.load_state(corrupt(tmp_path / f"{name}.state", bad))
        assert "state file" in str(e.value), name
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


def test_file_is_the_blob(saved):
    """A state file holds exactly Session.get_state()'s blob (docs/FORMAT.md: 96-byte header)."""
    s, path = saved
    data = path.read_bytes()
    assert data == s.get_state()
    assert data[:8] == b"RRWKVST\n" and struct.unpack_from("<II", data, 8) == (2, 96)
    assert struct.unpack_from("<I", data, 16)[0] == s.model.info["header_crc32"]
    assert data[24:40].rstrip(b"\0") == s.model.arch.encode()
    assert struct.unpack_from("<q", data, 64)[0] == len(PROMPT)
    assert len(data) == s.model.info["state_bytes"]
