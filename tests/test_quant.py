"""The quantized types in Python and in files: encoding bounds, the reader's checks of quantized
tensors (scales finite, rows whole blocks, matrices only, truncation), the per-class precision
plan, and `rrwkv quantize` (atomic, header kept, unchanged tensors copied byte for byte)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import FormatError, ModelConfig, _core
from rrwkv_rt.io import precision, quant
from rrwkv_rt.io.format import Encoded, read_tensors, write_model

CFG = ModelConfig("rwkv4", n_layer=2, n_embd=64, vocab_size=97, ffn_dim=150)  # ffn.value: 150 columns


def _tensors(cfg=CFG, dtype="q8_0", seed=0):
    rng = np.random.default_rng(seed)
    layout = _core.runtime_layout(cfg.to_dict())
    plan, _ = precision.plan(layout, dtype)
    return {name: (rng.standard_normal(shape).astype(np.float32), plan[name]) for name, shape, _ in layout}


@pytest.mark.parametrize("dtype", quant.QUANTIZED)
def test_round_trip_error_is_at_most_half_a_step(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 96)) * rng.uniform(0.01, 10, size=(7, 1))
    x[2, :32] = 0.0  # an all-zero block
    x[3, 32:64] = 0.75  # a constant block
    x[4, 5] = 40.0  # an outlier
    dec = quant.decode(quant.encode(x, dtype), dtype, 96).astype(np.float64)
    blocks, err = x.reshape(7, 3, 32), np.abs(dec - x).reshape(7, 3, 32)
    if dtype == "q8_0":
        step = np.abs(blocks).max(axis=2) / 127
    else:
        step = (blocks.max(axis=2) - blocks.min(axis=2)) / 15
    # half a step, plus the f16 rounding of the scale (and of the offset) the values are held to
    slack = 2.0 ** -10 * (np.abs(blocks).max(axis=2) + step)
    assert (err.max(axis=2) <= step / 2 + slack + 1e-12).all()
    assert (dec.reshape(7, 3, 32)[2, 0] == 0).all()
    if dtype == "q4_1":  # a constant block is its offset exactly (q8_0 holds it to 127 d)
        assert (dec.reshape(7, 3, 32)[3, 1] == 0.75).all()
    assert quant.encode(x, dtype).shape == (7, quant.row_bytes(dtype, 96))


@pytest.mark.parametrize("dtype", quant.QUANTIZED)
def test_encode_refuses_what_it_cannot_represent(dtype):
    with pytest.raises(ValueError, match="multiple of 32"):
        quant.encode(np.ones((2, 48)), dtype)
    with pytest.raises(ValueError, match="non-finite"):
        quant.encode(np.full((1, 32), np.nan), dtype)
    with pytest.raises(ValueError, match="overflows f16"):
        quant.encode(np.full((1, 32), 1e9) * np.arange(32), dtype)


def test_plan_keeps_sensitive_classes_and_unquantizable_rows():
    layout = _core.runtime_layout(CFG.to_dict())
    plan, notes = precision.plan(layout, "q4_1")
    assert plan["emb.weight"] == "f16" and plan["head.weight"] == "q8_0"  # the 4-bit default's head (issue 26)
    assert precision.plan(layout, "q8_0")[0]["head.weight"] == "f16"
    assert precision.plan(layout, "q4_1", {"head": "f16"})[0]["head.weight"] == "f16"
    assert plan["blocks.0.att.key.weight"] == "q4_1" and plan["blocks.1.ffn.key.weight"] == "q4_1"
    assert plan["blocks.0.ffn.value.weight"] == "f16" and "ffn.value.weight (150 columns)" in notes[0]
    assert all(plan[n] == "f32" for n, _, m in layout if not m)
    plan, _ = precision.plan(layout, "q8_0", precision.parse_overrides(["head=q8_0", "att=f16"]))
    assert plan["head.weight"] == "q8_0" and plan["blocks.0.att.key.weight"] == "f16"
    with pytest.raises(ValueError, match="tensor class"):
        precision.parse_overrides(["attn=f16"])
    with pytest.raises(ValueError, match="CLASS=DTYPE"):
        precision.parse_overrides(["head"])


def test_file_round_trip_and_info(tmp_path):
    path = tmp_path / "q.rrwkv"
    tensors = _tensors()
    write_model(path, CFG, tensors, check_readable=True)
    f = rrwkv_rt.ModelFile(str(path))
    t = {x["name"]: x for x in f.tensors}["blocks.0.att.key.weight"]
    assert t["dtype"] == "q8_0" and t["shape"] == (64, 64) and t["nbytes"] == 64 * quant.row_bytes("q8_0", 64)
    assert f.tensor(t["name"]).shape == (64, quant.row_bytes("q8_0", 64))
    _, back = read_tensors(path)
    a = tensors["blocks.0.att.key.weight"][0]
    np.testing.assert_array_equal(back[t["name"]], quant.decode(quant.encode(a, "q8_0"), "q8_0", 64))
    assert rrwkv_rt.Model(str(path)).info["dtype"] == "f16+q8_0"


def _write_raw(path, name, stored, shape, dtype):
    tensors = _tensors()
    tensors[name] = (Encoded(stored, shape), dtype)
    write_model(path, CFG, tensors)


@pytest.mark.parametrize("dtype", quant.QUANTIZED)
def test_non_finite_scale_is_a_format_error(tmp_path, dtype):
    name = "blocks.1.att.value.weight"
    stored = quant.encode(np.ones((64, 64)), dtype).copy()
    stored[9, 2:4] = np.frombuffer(np.float16(np.inf).tobytes(), np.uint8)  # row 9, second block's scale
    path = tmp_path / "bad.rrwkv"
    _write_raw(path, name, stored, (64, 64), dtype)
    with pytest.raises(FormatError, match=r"blocks\.1\.att\.value\.weight.*not finite in row 9"):
        rrwkv_rt.Model(str(path))


def test_rows_that_are_not_whole_blocks_are_a_format_error(tmp_path):
    path = tmp_path / "bad.rrwkv"
    # ffn.value has 150 columns: not 32-element blocks, whatever the byte count
    _write_raw(path, "blocks.0.ffn.value.weight", np.zeros((64, 170), np.uint8), (64, 150), "q8_0")
    with pytest.raises(FormatError, match="ffn.value.weight"):
        rrwkv_rt.ModelFile(str(path))


def test_a_quantized_vector_is_a_format_error(tmp_path):
    path = tmp_path / "bad.rrwkv"
    _write_raw(path, "blocks.0.att.time_first", quant.encode(np.ones((1, 64)), "q8_0"), (64,), "q8_0")
    with pytest.raises(FormatError, match="time_first"):
        rrwkv_rt.ModelFile(str(path))


def test_every_truncation_and_byte_flip_is_a_format_error(tmp_path):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=32, vocab_size=5, ffn_dim=32)
    layout = _core.runtime_layout(cfg.to_dict())
    plan, _ = precision.plan(layout, "q8_0", {"ffn": "q4_1"})  # both quantized types in one file
    rng = np.random.default_rng(3)
    path = tmp_path / "q.rrwkv"
    write_model(path, cfg, {n: (rng.standard_normal(shape).astype(np.float32), plan[n]) for n, shape, _ in layout})
    assert {"q8_0", "q4_1"} <= {t["dtype"] for t in rrwkv_rt.ModelFile(str(path)).tensors}
    data = path.read_bytes()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            rrwkv_rt.ModelFile.from_bytes(data[:n])
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        with pytest.raises(FormatError):
            rrwkv_rt.ModelFile.from_bytes(bytes(flipped))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rrwkv_rt", *args], capture_output=True, text=True)


def test_quantize_command(tmp_path):
    src, q8, q4 = tmp_path / "m.rrwkv", tmp_path / "m_q8.rrwkv", tmp_path / "m_q4.rrwkv"
    write_model(src, CFG, _tensors(dtype="f32"), tokenizer=("bytes", b""), metadata={"note": "kept"})
    r = _cli("quantize", str(src), str(q8), "--dtype", "int8")
    assert r.returncode == 0, r.stderr
    assert "att q8_0, ffn f16/q8_0, emb f16, head f16" in r.stdout and "150 columns" in r.stdout
    f = rrwkv_rt.ModelFile(str(q8))
    assert f.fields["tokenizer.kind"] == "bytes" and f.fields["meta.note"] == "kept"
    assert f.fields["meta.quantized_from"] == "m.rrwkv"
    # existing output: refused, untouched
    before = q8.read_bytes()
    r = _cli("quantize", str(src), str(q8), "--dtype", "q4_1")
    assert r.returncode == 1 and "--force" in r.stderr and q8.read_bytes() == before
    # q8_0 -> q4_1 with the head in q8_0: matrices already q8_0 that stay q8_0 keep their bytes
    r = _cli("quantize", str(q8), str(q4), "--dtype", "q4_1", "--dtype-for", "head=q8_0", "--dtype-for", "ffn=q8_0")
    assert r.returncode == 0, r.stderr
    g = rrwkv_rt.ModelFile(str(q4))
    assert {t["name"]: t["dtype"] for t in g.tensors}["head.weight"] == "q8_0"
    for name in ("blocks.0.ffn.key.weight", "blocks.1.ffn.receptance.weight"):
        np.testing.assert_array_equal(g.tensor(name), f.tensor(name))
    r = _cli("quantize", str(src), str(tmp_path / "x.rrwkv"), "--dtype", "q4_1", "--dtype-for", "heads=f16")
    assert r.returncode == 1 and "tensor class" in r.stderr and not os.path.exists(tmp_path / "x.rrwkv")
