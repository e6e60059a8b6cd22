"""The C API's sampler (rrwkv_sampler_*), called through ctypes on the installed librrwkv_rt: the
same draws as the Python Sampler for the same seed, the model's tokenizer rules applied, and
parameter errors reported as a status plus a sentence."""
from __future__ import annotations

import ctypes as C
import os

import numpy as np
import pytest

import rrwkv_rt


class SamplerParams(C.Structure):
    _fields_ = [("temperature", C.c_double), ("top_p", C.c_double), ("top_k", C.c_int32), ("min_p", C.c_double),
                ("presence_penalty", C.c_double), ("frequency_penalty", C.c_double),
                ("penalty_decay", C.c_double), ("repetition_penalty", C.c_double),
                ("banned_tokens", C.POINTER(C.c_int32)), ("n_banned", C.c_size_t),
                ("stop_tokens", C.POINTER(C.c_int32)), ("n_stop", C.c_size_t),
                ("has_seed", C.c_bool), ("seed", C.c_uint64)]


@pytest.fixture(scope="module")
def lib():
    path = os.path.join(rrwkv_rt.get_library_dir(), "librrwkv_rt.so")
    if not os.path.exists(path):
        pytest.skip(f"no C API library at {path}")
    L = C.CDLL(path)
    L.rrwkv_last_error.restype = C.c_char_p
    L.rrwkv_sampler_default_params.restype = SamplerParams
    L.rrwkv_model_load.argtypes = [C.c_char_p, C.c_void_p, C.POINTER(C.c_void_p)]
    L.rrwkv_model_free.argtypes = [C.c_void_p]
    L.rrwkv_sampler_new.argtypes = [C.c_void_p, C.POINTER(SamplerParams), C.POINTER(C.c_void_p)]
    L.rrwkv_sampler_sample.argtypes = [C.c_void_p, C.POINTER(C.c_float), C.c_size_t, C.POINTER(C.c_int32)]
    L.rrwkv_sampler_sample_masked.argtypes = [C.c_void_p, C.POINTER(C.c_float), C.c_size_t, C.POINTER(C.c_uint32),
                                              C.c_size_t, C.POINTER(C.c_int32)]
    L.rrwkv_sampler_set_logit_bias.argtypes = [C.c_void_p, C.POINTER(C.c_int32), C.POINTER(C.c_float), C.c_size_t]
    L.rrwkv_sampler_accept.argtypes = [C.c_void_p, C.c_int32]
    L.rrwkv_sampler_is_stop.argtypes = [C.c_void_p, C.c_int32]
    L.rrwkv_sampler_is_stop.restype = C.c_bool
    L.rrwkv_sampler_reset.argtypes = [C.c_void_p]
    L.rrwkv_sampler_free.argtypes = [C.c_void_p]
    return L


@pytest.fixture(scope="module")
def cmodel(lib, models):
    m = C.c_void_p()
    assert lib.rrwkv_model_load(models["a"].encode(), None, C.byref(m)) == 0, lib.rrwkv_last_error()
    yield m
    lib.rrwkv_model_free(m)


def test_same_draws_as_python(lib, cmodel):
    p = lib.rrwkv_sampler_default_params()
    assert (p.temperature, p.top_p, p.top_k, p.penalty_decay, p.has_seed) == (1.0, 0.85, 0, 0.996, False)
    p.temperature, p.top_p, p.top_k, p.presence_penalty, p.frequency_penalty = 0.8, 0.9, 40, 0.3, 0.2
    p.has_seed, p.seed = True, 2024
    stops = (C.c_int32 * 1)(10)
    p.stop_tokens, p.n_stop = stops, 1
    s = C.c_void_p()
    assert lib.rrwkv_sampler_new(cmodel, C.byref(p), C.byref(s)) == 0, lib.rrwkv_last_error()
    weights = rrwkv_rt._core._occurrence_weights(rrwkv_rt.Tokenizer.bytes()._t, 256)
    py = rrwkv_rt.Sampler(256, temperature=0.8, top_p=0.9, top_k=40, presence_penalty=0.3, frequency_penalty=0.2,
                          stop_tokens=[10], occurrence_weights=weights, seed=2024)
    logits = (np.random.default_rng(0).normal(size=256) * 2).astype(np.float32)
    ptr = logits.ctypes.data_as(C.POINTER(C.c_float))
    tok = C.c_int32()
    got, ref = [], []
    for _ in range(100):
        assert lib.rrwkv_sampler_sample(s, ptr, 256, C.byref(tok)) == 0
        got.append(tok.value)
        ref.append(py.sample(logits))
        assert lib.rrwkv_sampler_accept(s, tok.value) == 0
        py.accept(ref[-1])
    assert got == ref
    assert lib.rrwkv_sampler_is_stop(s, 10) and not lib.rrwkv_sampler_is_stop(s, 11)
    assert not lib.rrwkv_sampler_is_stop(None, 10)
    assert lib.rrwkv_sampler_reset(s) == 0
    assert lib.rrwkv_sampler_sample(s, ptr, 256, C.byref(tok)) == 0 and tok.value == got[0]
    assert lib.rrwkv_sampler_sample(s, ptr, 255, C.byref(tok)) == 1  # wrong vocab size
    assert b"expected vocab_size = 256" in lib.rrwkv_last_error()
    assert lib.rrwkv_sampler_accept(s, 999) == 4  # RRWKV_ERR_OUT_OF_RANGE
    lib.rrwkv_sampler_free(s)
    lib.rrwkv_sampler_free(None)


def test_bad_parameters(lib, cmodel):
    p = lib.rrwkv_sampler_default_params()
    p.top_p = 1.5
    s = C.c_void_p(1)
    assert lib.rrwkv_sampler_new(cmodel, C.byref(p), C.byref(s)) == 1  # RRWKV_ERR_INVALID_ARGUMENT
    assert s.value is None
    assert lib.rrwkv_last_error().startswith(b"rrwkv_sampler_new: top_p must be in [0, 1]")
    p = lib.rrwkv_sampler_default_params()
    banned = (C.c_int32 * 1)(256)
    p.banned_tokens, p.n_banned = banned, 1
    assert lib.rrwkv_sampler_new(cmodel, C.byref(p), C.byref(s)) == 4
    p.banned_tokens = None
    assert lib.rrwkv_sampler_new(cmodel, C.byref(p), C.byref(s)) == 1
    assert b"params->banned_tokens is NULL" in lib.rrwkv_last_error()
    assert lib.rrwkv_sampler_new(None, None, C.byref(s)) == 1


def test_mask_and_logit_bias_as_python(lib, cmodel):
    """rrwkv_sampler_sample_masked and rrwkv_sampler_set_logit_bias draw what the Python Sampler
    draws with the same mask and bias; a wrong word count and a mask of nothing are errors."""
    p = lib.rrwkv_sampler_default_params()
    p.has_seed, p.seed, p.top_p = True, 5, 1.0
    s = C.c_void_p()
    assert lib.rrwkv_sampler_new(cmodel, C.byref(p), C.byref(s)) == 0, lib.rrwkv_last_error()
    weights = rrwkv_rt._core._occurrence_weights(rrwkv_rt.Tokenizer.bytes()._t, 256)
    bias = {65: 4.0, 66: -2.5, 200: 100.0}
    py = rrwkv_rt.Sampler(256, top_p=1.0, occurrence_weights=weights, seed=5, logit_bias=bias)
    toks = (C.c_int32 * 3)(*bias)
    vals = (C.c_float * 3)(*bias.values())
    assert lib.rrwkv_sampler_set_logit_bias(s, toks, vals, 3) == 0, lib.rrwkv_last_error()
    rng = np.random.default_rng(1)
    mask = np.zeros(8, dtype=np.uint32)
    for t in rng.choice(256, 40, replace=False):
        mask[t // 32] |= np.uint32(1 << (t % 32))
    mptr = mask.ctypes.data_as(C.POINTER(C.c_uint32))
    tok = C.c_int32()
    for _ in range(50):
        logits = rng.normal(size=256).astype(np.float32)
        ptr = logits.ctypes.data_as(C.POINTER(C.c_float))
        assert lib.rrwkv_sampler_sample_masked(s, ptr, 256, mptr, 8, C.byref(tok)) == 0, lib.rrwkv_last_error()
        assert tok.value == py.sample(logits, mask)
        assert mask[tok.value // 32] >> (tok.value % 32) & 1
    assert lib.rrwkv_sampler_sample_masked(s, ptr, 256, mptr, 7, C.byref(tok)) == 1
    assert b"(n_logits + 31) / 32 = 8 words" in lib.rrwkv_last_error()
    none = np.zeros(8, dtype=np.uint32)
    assert lib.rrwkv_sampler_sample_masked(s, ptr, 256, none.ctypes.data_as(C.POINTER(C.c_uint32)), 8,
                                           C.byref(tok)) == 1
    assert b"masked out" in lib.rrwkv_last_error()
    bad = (C.c_int32 * 1)(256)
    assert lib.rrwkv_sampler_set_logit_bias(s, bad, vals, 1) == 4  # out of range; the old bias stays
    inf = (C.c_float * 1)(float("inf"))
    assert lib.rrwkv_sampler_set_logit_bias(s, toks, inf, 1) == 1 and b"finite" in lib.rrwkv_last_error()
    assert lib.rrwkv_sampler_set_logit_bias(s, None, None, 0) == 0  # clears it
    lib.rrwkv_sampler_free(s)
