"""Model and ModelFile as context managers: close() (or the end of a `with` block) drops the
object's reference; sessions, batches and tensor views made from it stay valid, and the closed
object raises ValueError. repr names what the object holds; equality is "the same model"."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import rrwkv_rt


@pytest.fixture()
def path():
    return rrwkv_rt.default_model_path()


def test_model_with_block_closes_and_sessions_keep_working(path):
    with rrwkv_rt.Model(path) as m:
        s = rrwkv_rt.Session(m, threads=1)
        b = rrwkv_rt.Batch(m, capacity=2, threads=1)
        want = s.clone().step(65)
        assert not m.closed and s.model == m and b.model == m and hash(s.model) == hash(m)
    assert m.closed and "closed" in repr(m)
    for use in (lambda: m.info, lambda: m.vocab_size, lambda: rrwkv_rt.Session(m), lambda: rrwkv_rt.Batch(m, 2)):
        with pytest.raises(ValueError, match="Model is closed"):
            use()
    del m
    gc.collect()
    np.testing.assert_array_equal(s.step(65), want)  # the session still holds the model
    assert s.model.vocab_size == 256 and not s.model.closed
    r = b.add()
    assert b.step([r], [65]).shape == (1, 256)


@pytest.mark.cuda
def test_a_closed_model_on_the_gpu_path_is_the_cpus_error_and_gpu_engines_outlive_it(path):
    """The same as above with device="cuda" (the emulated device in the test runs): a closed Model
    raises the CPU path's ValueError for a GPU Session or Batch too, before anything is placed on
    the device; GPU engines made before keep the model (and its device weights) and go on."""
    with rrwkv_rt.Model(path) as m:
        s = rrwkv_rt.Session(m, threads=1, device="cuda")
        b = rrwkv_rt.Batch(m, capacity=2, threads=1, device="cuda")
        want = s.clone().step(65)
        cpu = rrwkv_rt.Session(m, threads=1).step(65)
    assert m.closed
    for device in ("cuda", "cuda:0", "auto"):
        for use in (lambda: rrwkv_rt.Session(m, device=device), lambda: rrwkv_rt.Batch(m, 2, device=device)):
            with pytest.raises(ValueError, match="Model is closed"):
                use()
    del m
    gc.collect()
    got = s.step(65)
    np.testing.assert_array_equal(got, want)
    assert np.max(np.abs(got - cpu)) < 1e-4 and s.device == "cuda:0" and not s.model.closed
    r = b.add()
    assert np.max(np.abs(b.step([r], [65])[0] - cpu)) < 1e-4


def test_model_file_with_block_and_views_that_outlive_it(path):
    with rrwkv_rt.ModelFile(path) as f:
        emb = f.tensor("emb.weight")
        want = np.array(emb, dtype=np.float32)
        assert repr(f).startswith("<rrwkv_rt.ModelFile rrwkv n_layer=4") and f"{f.file_size} bytes" in repr(f)
    with pytest.raises(ValueError, match="ModelFile is closed"):
        f.tensor("emb.weight")
    with pytest.raises(ValueError, match="ModelFile is closed"):
        rrwkv_rt.Tokenizer.from_model(f)
    del f
    gc.collect()
    np.testing.assert_array_equal(np.array(emb, dtype=np.float32), want)


def test_equality_means_the_same_model(path):
    a, b = rrwkv_rt.Model(path), rrwkv_rt.Model(path)
    s = rrwkv_rt.Session(a, threads=1)
    assert s.model == a and a != b and a == a and len({a, s.model}) == 1
    a.close()
    assert a == a and s.model != a  # a closed handle is equal only to itself
    assert repr(b).startswith("<rrwkv_rt.Model rrwkv n_layer=4 n_embd=192 vocab=256")


def test_closing_while_a_property_runs_python_code_is_safe(path):
    """A property that calls back into Python (the path's os.fsdecode) while something closes the
    object: the binding holds its own reference, so it finishes on live memory (this crashed
    when it read through the handle). Run in a child, so that a crash fails the test cleanly."""
    import subprocess
    import sys
    code = f"""
import os, rrwkv_rt
fsdecode = os.fsdecode
for i in range(100):
    m, f = rrwkv_rt.Model({path!r}, verify_checksums=False), rrwkv_rt.ModelFile({path!r}, verify_checksums=False)
    def closing(obj):
        def hook(p):
            obj.close()
            junk = [bytearray(4096) for _ in range(200)]  # reuse of freed memory makes a bad read visible
            return fsdecode(p)
        return hook
    os.fsdecode = closing(m)
    info = m.info
    os.fsdecode = closing(f)
    where = f.path
    os.fsdecode = fsdecode
    assert m.closed and f.closed and info["n_layer"] == 4 and len(info["state_fields"]) > 0, info
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])
