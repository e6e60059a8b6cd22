"""The .rrwkv format: round trips, and every kind of damage raising FormatError (never a crash)."""
import os
import struct
import zlib

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import FormatError, ModelConfig, _core
from rrwkv_rt.io.dtypes import bf16_bits_to_f32, f32_to_bf16_bits
from rrwkv_rt.io.format import read_tensors, write_model

CFG = ModelConfig("rrwkv", n_layer=2, n_embd=8, vocab_size=11, ffn_dim=12, medium_interval=3, cm_mode="add")
# a matrix-state architecture too: the damage tests run on both layouts
CFG7 = ModelConfig("rwkv7", n_layer=2, n_embd=8, vocab_size=11, ffn_dim=12, head_size=4, lora_decay=3, lora_a=2,
                   lora_v=3, lora_gate=5)


def random_tensors(cfg, dtype="f32", seed=0):
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape).astype(np.float32), dtype if is_matrix else "f32")
            for name, shape, is_matrix in _core.runtime_layout(cfg.to_dict())}


@pytest.fixture(params=[CFG, CFG7], ids=["rrwkv", "rwkv7"])
def model_path(tmp_path, request):
    path = tmp_path / "m.rrwkv"
    cfg = request.param
    write_model(path, cfg, random_tensors(cfg), metadata={"note": "test"}, tokenizer=("bytes", b"\x00\x01"))
    return path


def test_crc32_matches_zlib():
    rng = np.random.default_rng(1)
    for n in [0, 1, 7, 8, 9, 63, 64, 1000, 100_003]:
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert _core.crc32(data) == zlib.crc32(data)
        assert _core.crc32(data[n // 2:], _core.crc32(data[: n // 2])) == zlib.crc32(data)


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_round_trip(tmp_path, dtype):
    tensors = random_tensors(CFG, dtype)
    path = tmp_path / f"{dtype}.rrwkv"
    write_model(path, CFG, tensors)
    f = rrwkv_rt.ModelFile(str(path))
    assert f.version == rrwkv_rt.FORMAT_VERSION == 1
    assert f.config == CFG.to_dict()
    config, read = read_tensors(path)
    assert set(read) == set(tensors)
    for name, (a, dt) in tensors.items():
        if dt == "f32":
            expected = a
        elif dt == "f16":
            expected = a.astype(np.float16).astype(np.float32)
        else:
            expected = bf16_bits_to_f32(f32_to_bf16_bits(a))
        np.testing.assert_array_equal(read[name], expected, err_msg=name)
    for t in f.tensors:
        assert t["offset"] % 64 == 0
        assert t["dtype"] == (dtype if len(t["shape"]) == 2 else "f32")


def test_bf16_rounding_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = np.concatenate([rng.standard_normal(10_000).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 10_000),
                        np.array([0.0, -0.0, np.inf, -np.inf, 1.00390625, 1.01171875, 3.4e38], np.float32)])
    expected = torch.from_numpy(a).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(f32_to_bf16_bits(a), expected)
    assert np.isnan(bf16_bits_to_f32(f32_to_bf16_bits(np.array([np.nan], np.float32))))[0]


def test_header_fields_and_zero_copy_views(model_path):
    f = rrwkv_rt.ModelFile(str(model_path))
    assert f.fields["meta.note"] == "test"
    assert f.fields["tokenizer.kind"] == "bytes" and f.fields["tokenizer.vocab"] == b"\x00\x01"
    view = f.tensor("head.weight")
    assert view.shape == (11, 8) and not view.flags.writeable and not view.flags.owndata
    with pytest.raises(FormatError, match="no tensor 'nope'"):
        f.tensor("nope")


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rrwkv_rt.ModelFile(str(tmp_path / "absent.rrwkv"))
    with pytest.raises(FormatError, match="not a regular file"):
        rrwkv_rt.ModelFile(str(tmp_path))
    assert issubclass(FormatError, ValueError)


def test_truncation_at_every_offset(model_path, tmp_path):
    data = model_path.read_bytes()
    bad = tmp_path / "cut.rrwkv"
    for n in range(len(data)):
        bad.write_bytes(data[:n])
        with pytest.raises(FormatError) as e:
            rrwkv_rt.ModelFile(str(bad))
        msg = str(e.value)
        assert "cut.rrwkv" in msg and ("truncated" in msg or "not an .rrwkv" in msg), (n, msg)


def test_every_single_byte_flip_is_caught(model_path, tmp_path):
    data = bytearray(model_path.read_bytes())
    bad = tmp_path / "flipped.rrwkv"
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        bad.write_bytes(flipped)
        with pytest.raises(FormatError):
            rrwkv_rt.ModelFile(str(bad))


def test_flip_in_tensor_data_names_the_tensor(model_path, tmp_path):
    f = rrwkv_rt.ModelFile(str(model_path))
    t = next(t for t in f.tensors if t["name"] == "blocks.1.att.key.weight")
    data = bytearray(model_path.read_bytes())
    data[t["offset"] + 5] ^= 1
    bad = tmp_path / "bad.rrwkv"
    bad.write_bytes(data)
    with pytest.raises(FormatError, match=r"tensor 'blocks\.1\.att\.key\.weight'.*checksum"):
        rrwkv_rt.ModelFile(str(bad))
    # checksums can be skipped for speed; the rest of the validation still runs
    assert rrwkv_rt.ModelFile(str(bad), verify_checksums=False).config["arch"] == f.config["arch"]


def test_wrong_magic_and_newer_version(model_path, tmp_path):
    data = bytearray(model_path.read_bytes())
    bad = tmp_path / "bad.rrwkv"
    bad.write_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(FormatError, match="not an .rrwkv model.*rrwkv_rt export"):
        rrwkv_rt.ModelFile(str(bad))
    data[8:12] = struct.pack("<I", 2)
    bad.write_bytes(data)
    with pytest.raises(FormatError, match="format version 2 but this rrwkv_rt reads versions 1..1; upgrade"):
        rrwkv_rt.ModelFile(str(bad))


def test_missing_and_misshaped_tensors_are_all_reported(tmp_path):
    tensors = random_tensors(CFG)
    del tensors["blocks.1.att.decay_m"]
    del tensors["head.weight"]
    tensors["blocks.0.ffn.key.weight"] = (np.zeros((7, 8), np.float32), "f32")
    tensors["blocks.0.ln1.weight"] = (np.zeros(8, np.float32), "f16")
    path = tmp_path / "m.rrwkv"
    write_model(path, CFG, tensors)
    with pytest.raises(FormatError) as e:
        rrwkv_rt.ModelFile(str(path))
    msg = str(e.value)
    assert "4 problem(s)" in msg
    assert "missing tensor 'blocks.1.att.decay_m' (expected shape (8,))" in msg
    assert "missing tensor 'head.weight' (expected shape (11, 8))" in msg
    assert "tensor 'blocks.0.ffn.key.weight' has shape (7, 8), expected (12, 8)" in msg
    assert "tensor 'blocks.0.ln1.weight' has dtype f16, expected f32" in msg


def test_bad_header_values(tmp_path):
    path = tmp_path / "m.rrwkv"
    write_model(path, CFG, random_tensors(CFG))
    f = rrwkv_rt.ModelFile(str(path))
    assert f.config["medium_interval"] == 3
    # A config whose header disagrees with its tensors is refused by the layout check.
    other = CFG.with_(n_embd=16)
    write_model(path, other, random_tensors(CFG), force=True)
    with pytest.raises(FormatError, match="does not match its header"):
        rrwkv_rt.ModelFile(str(path))


class _FailingArray(np.ndarray):
    """An array whose bytes cannot be written: a failure in the middle of an export."""

    def tobytes(self, *args, **kwargs):
        raise OSError("simulated disk full")


def test_write_refuses_to_overwrite_and_is_atomic(tmp_path, monkeypatch):
    import rrwkv_rt.io.format as fmt

    path = tmp_path / "m.rrwkv"
    write_model(path, CFG, random_tensors(CFG))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        write_model(path, CFG, random_tensors(CFG, seed=1))
    assert path.read_bytes() == before

    real_encode = fmt.encode

    def encode_failing_on_ffn_key(a, dtype):
        out = real_encode(a, dtype)
        return out.view(_FailingArray) if out.shape == (12, 8) else out

    monkeypatch.setattr(fmt, "encode", encode_failing_on_ffn_key)
    with pytest.raises(OSError, match="simulated disk full"):
        write_model(path, CFG, random_tensors(CFG, seed=1), force=True)
    assert path.read_bytes() == before  # the old file is untouched
    assert path.stat().st_mode & 0o777 == 0o666 & ~_current_umask()  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["m.rrwkv"]  # and no temporary file is left


def test_cuda_probe_never_fails():
    n = _core.cuda_device_count()
    assert isinstance(n, int) and n >= 0
    assert isinstance(_core.cuda_status(), str)
    if not _core.cuda_compiled():
        assert n == 0 and not _core.gpu_emulated()
    if _core.gpu_emulated():  # the emulated device is a device to the runtime, and says what it is
        assert n == 1 and "emulation" in _core.cuda_status()


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("cfg", [
    ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=5), CFG,
    ModelConfig("rwkv5", n_layer=1, n_embd=8, vocab_size=5, head_size=4),
    ModelConfig("rwkv6", n_layer=1, n_embd=8, vocab_size=5, head_size=4, lora_mix=2, lora_decay=3), CFG7,
], ids=lambda c: c.arch)
def test_python_configs_hold_exactly_the_fields_the_reader_expects(cfg):
    """One source of truth: the C++ reader's field list per architecture (_core.config_fields)."""
    fields = _core.config_fields(cfg.arch)
    required = {key for key, _, optional in fields if not optional}
    assert required <= set(cfg.to_dict()) - {"arch"} <= {key for key, _, _ in fields}
