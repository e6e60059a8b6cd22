"""The fast path (``exact=False``): activations rounded for the CPU's dot-product instructions.

Against an independent reference: the PyTorch reference model whose every linear map rounds as
the fast path defines (kernels/cpu/fast_reference.h): its input to bf16 (round to nearest even)
and its weights to bf16 for float types; its input quantized to int8 per block of 32 (scale
max|x| / 127, nearest-even levels) against the dequantized weights for q8_0 / q4_1; products
summed in float64. RWKV-6/7's low-rank products (``x @ A``, the reference's ``lowrank``) go
through the same kernels in the runtime, so the reference rounds them the same way by the type
each is stored in. The runtime must agree with it up to the f32 accumulation (and the rare input
that sits on a rounding boundary), for every architecture.

For every architecture and weight type: a row gives the same numbers (bit for bit) in a batch, in
a Session and whatever the prefill chunking, and stays close to the exact path.
"""
import copy
import pickle

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt.arch import module_for
from rrwkv_rt.config import ModelConfig
from rrwkv_rt.io import quant

from rt_helpers import max_abs, reference_logits, tokens

torch = pytest.importorskip("torch")

CONFIGS = {
    "rwkv4": ModelConfig("rwkv4", 2, 64, 211, ffn_dim=160),
    "rrwkv": ModelConfig("rrwkv", 2, 64, 211, ffn_dim=160, medium_interval=3, cm_mode="add"),
    "rwkv5": ModelConfig("rwkv5", 2, 64, 150, head_size=32, ffn_dim=160),
    "rwkv6": ModelConfig("rwkv6", 2, 64, 150, head_size=32, lora_mix=7, lora_decay=13),
    "rwkv7": ModelConfig("rwkv7", 2, 64, 150, head_size=32, lora_decay=13, lora_a=7, lora_v=9, lora_gate=11),
}
DTYPES = ("f32", "f16", "bf16", "q8_0", "q4_1")
# Observed on these random models, max |Δlogit| fast vs exact over the logits' std: bf16 family
# <= 0.03, int8 <= 0.05. Random weights amplify rounding far more than trained ones do; the
# real measure is bits/byte (docs/QUANTIZATION.md).
TOL_FAST_VS_EXACT = 0.2


def _random_model(cfg):
    from rrwkv_rt.reference import MODEL_CLASSES
    return MODEL_CLASSES[cfg.arch](cfg, dtype=torch.float32, seed=5).eval()


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def exported(request, tmp_path_factory):
    """arch -> (cfg, reference model, {dtype: path}): every matrix (head included) of that dtype."""
    from rrwkv_rt.io.export import export_state_dict
    cfg = CONFIGS[request.param]
    ref = _random_model(cfg)
    folder = tmp_path_factory.mktemp(f"fast_{cfg.arch}")
    paths = {}
    for dt in DTYPES:
        paths[dt] = str(folder / f"{dt}.rrwkv")
        export_state_dict(ref.state_dict(), cfg, paths[dt], dtype=dt, dtype_for={"head": dt, "emb": "f32"})
    return cfg, ref, paths


def _bf16(t):
    return t.to(torch.bfloat16).to(torch.float64)


def _int8_blocks(x):
    """The fast path's activation quantization: per block of 32, levels of max|x| / 127."""
    shape = x.shape
    b = x.to(torch.float32).reshape(*shape[:-1], shape[-1] // 32, 32)
    amax = b.abs().amax(-1, keepdim=True)
    d = amax / 127.0
    inv = torch.where(amax > 0, 127.0 / amax, torch.zeros_like(amax))
    q = torch.round(b * inv)  # round half to even, as the kernels
    return (q.to(torch.float64) * d.to(torch.float64)).reshape(shape)


def _rounded_product(x, w_t, kind):
    """x @ w_t (w_t: (in, out)) as the fast path computes it for weights of that kind."""
    if kind == "bf16":
        y = _bf16(x) @ _bf16(w_t)
    else:
        y = _int8_blocks(x) @ w_t.to(torch.float64)
    return y.to(torch.float32)


def _from_runtime_layout(arch, name, value, ref_shape):
    """A matrix as the file stores it (the runtime's (out, in) layout) back in the reference's
    layout: the inverse of the architecture's to_runtime, found by sending indices through it."""
    to_runtime = getattr(module_for(arch), "to_runtime", lambda n, a: (n, a))
    index = np.arange(int(np.prod(ref_shape))).reshape(ref_shape)
    _, moved = to_runtime(name, index)
    out = np.empty(index.size, dtype=np.float32)
    out[np.asarray(moved).reshape(-1)] = np.asarray(value, dtype=np.float32).reshape(-1)
    return torch.from_numpy(out.reshape(ref_shape))


def _fast_reference(ref, path):
    """The reference with the file's matrices (decoded) and every matrix product (the linear
    maps and RWKV-6/7's low-rank maps) rounding as the fast path defines."""
    f = rrwkv_rt.ModelFile(path)
    sd = ref.state_dict()
    kinds = {}
    for t in f.tensors:
        if len(t["shape"]) != 2 or t["name"] not in sd:
            continue
        if t["dtype"] in quant.QUANTIZED:
            value = quant.decode(f.tensor(t["name"]), t["dtype"], t["shape"][-1])
        elif t["dtype"] == "bf16":  # stored as its bits
            value = (np.asarray(f.tensor(t["name"])).astype(np.uint32) << 16).view(np.float32)
        else:
            value = np.array(f.tensor(t["name"]), dtype=np.float32)
        sd[t["name"]] = _from_runtime_layout(ref.cfg.arch, t["name"], value, tuple(sd[t["name"]].shape))
        kinds[t["name"]] = "int8" if t["dtype"] in quant.QUANTIZED else "bf16"
    model = copy.deepcopy(ref)
    model.load_state_dict(sd)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            kind = kinds[f"{name}.weight"]
            module.forward = lambda x, w=module.weight, kind=kind: _rounded_product(x, w.T, kind)
        elif hasattr(module, "lowrank"):  # RWKV-6/7's time mix: x @ A, A stored (in, out)
            module.lowrank = lambda lora, x, m=module, prefix=name: _rounded_product(
                x, getattr(m, lora), kinds[f"{prefix}.{lora}"])
    return model.eval()


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_path_equals_the_rounding_reference(exported, dtype):
    """Short sequences agree to float rounding (2e-4 of the logits' scale, as the exact path's
    tests allow), except where an input lies within an ulp or two of a rounding boundary (seen
    here: relu² outputs exactly on a bf16 tie): the two sides may then round it apart, by one
    bf16 step or one int8 level, and that sequence's logits from then on move by up to ~1e-2 of
    the scale. Such flips hit a few percent of the tokens: most sequences must agree fully."""
    cfg, ref, paths = exported
    model, rounding = rrwkv_rt.Model(paths[dtype]), _fast_reference(ref, paths[dtype])
    agree = 0
    for seed in range(24):
        toks = tokens(cfg.vocab_size, 4, seed=seed)
        expected = reference_logits(rounding, toks)
        scale = float(np.std(expected))
        seq = rrwkv_rt.Session(model, exact=False).forward(toks, all_logits=True)
        s = rrwkv_rt.Session(model, exact=False)
        stepped = np.stack([s.step(int(t)) for t in toks])
        err = max(max_abs(seq, expected), max_abs(stepped, expected))
        assert err <= 5e-2 * scale, (seed, err / scale)
        agree += err <= 2e-4 * scale
    assert agree >= 12, f"only {agree} of 24 sequences agree to float rounding"


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_row_is_the_same_alone_batched_and_in_any_prefill_chunking(exported, dtype):
    cfg, _, paths = exported
    model = rrwkv_rt.Model(paths[dtype])
    seqs = [tokens(cfg.vocab_size, n, seed=10 + n) for n in (5, 9, 3)]
    alone = []
    for seq in seqs:
        s = rrwkv_rt.Session(model, exact=False)
        alone.append(np.stack([s.step(int(t)) for t in seq]))
    batch = rrwkv_rt.Batch(model, capacity=3, exact=False)
    rows = [batch.add() for _ in seqs]
    for i in range(max(map(len, seqs))):
        live = [k for k in range(len(seqs)) if i < len(seqs[k])]
        out = batch.step([rows[k] for k in live], np.array([seqs[k][i] for k in live]))
        for j, k in enumerate(live):
            np.testing.assert_array_equal(out[j], alone[k][i])
    prompt = tokens(cfg.vocab_size, 40, seed=3)
    whole = rrwkv_rt.Session(model, exact=False).forward(prompt, all_logits=True)
    for chunk in (1, 7):
        pieces = rrwkv_rt.Session(model, prefill_chunk=chunk, exact=False).forward(prompt, all_logits=True)
        np.testing.assert_array_equal(pieces, whole)
    stepped = rrwkv_rt.Session(model, exact=False)
    np.testing.assert_array_equal(np.stack([stepped.step(int(t)) for t in prompt]), whole)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_path_stays_close_to_the_exact_one(exported, dtype):
    cfg, _, paths = exported
    toks = tokens(cfg.vocab_size, 60, seed=4)
    exact = rrwkv_rt.Session(paths[dtype]).forward(toks, all_logits=True)
    fast = rrwkv_rt.Session(paths[dtype], exact=False).forward(toks, all_logits=True)
    err = max_abs(fast, exact)
    assert 0 < err <= TOL_FAST_VS_EXACT * float(np.std(exact)), err


def test_sessions_keep_their_path_through_clone_and_pickle(exported):
    cfg, _, paths = exported
    s = rrwkv_rt.Session(paths["q8_0"], exact=False)
    assert not s.exact and rrwkv_rt.Session(paths["q8_0"]).exact
    s.forward(tokens(cfg.vocab_size, 6, seed=5))
    for twin in (s.clone(), pickle.loads(pickle.dumps(s))):
        assert not twin.exact
        np.testing.assert_array_equal(twin.step(3), s.clone().step(3))
