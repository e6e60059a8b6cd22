"""The reference model with its WKV scan switched to the kernels: same logits, states and gradients."""
import pytest

torch = pytest.importorskip("torch")

from wkv_helpers import assert_close  # noqa: E402
from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.autograd import use_kernels, uses_kernels, wkv_scan_kernel  # noqa: E402
from rrwkv_rt.reference import RWKV, random_model  # noqa: E402


def _model(arch, s, cm, dtype=torch.float32):
    cfg = ModelConfig(arch=arch, n_layer=2, n_embd=48, vocab_size=64, ffn_dim=0, medium_interval=s, cm_mode=cm)
    return random_model(cfg, seed=2, dtype=dtype)


def _tokens(B, T):
    return torch.randint(0, 64, (B, T), generator=torch.Generator().manual_seed(4))


def test_use_kernels_switches_one_model():
    m = _model("rrwkv", 4, "replace")
    assert not uses_kernels(m)
    assert use_kernels(m) is m and uses_kernels(m) and m.wkv_impl is wkv_scan_kernel
    assert RWKV.wkv_impl is not wkv_scan_kernel  # the class default is untouched
    use_kernels(m, False)
    assert not uses_kernels(m) and "wkv_impl" not in m.__dict__


@pytest.mark.parametrize("arch,s,cm", [("rwkv4", 1, "replace"), ("rrwkv", 16, "replace"), ("rrwkv", 3, "add")])
def test_training_step_matches_pure_pytorch(arch, s, cm):
    m = _model(arch, s, cm)
    tokens = _tokens(2, 70)
    results = []
    for kernels in (False, True):
        use_kernels(m, kernels)
        m.zero_grad()
        logits, state = m(tokens[:, :-1], return_state=True)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
        loss.backward()
        results.append((logits.detach(), state, {n: p.grad.clone() for n, p in m.named_parameters()}))
    (l0, s0, g0), (l1, s1, g1) = results
    assert_close("logits", l1, l0, 1e-4)
    for name in ("aa", "bb", "pp", "ma", "mb", "mp"):
        assert_close(name, getattr(s1, name), getattr(s0, name), 1e-4)
    for name in g0:
        assert_close(f"grad {name}", g1[name], g0[name], 1e-4)


def test_chunked_prefill_with_kernels_equals_steps():
    m = use_kernels(_model("rrwkv", 3, "replace", torch.float64))
    tokens = _tokens(2, 23)
    full = m(tokens)
    state, outs = m.initial_state(2), []
    for a, b in ((0, 5), (5, 6), (6, 23)):
        out, state = m(tokens[:, a:b], state, return_state=True)
        outs.append(out)
    assert_close("chunked", torch.cat(outs, 1), full, 1e-12, atol=1e-12)
    st, steps = m.initial_state(2), []
    for t in range(23):
        out, st = m.step(tokens[:, t], st)
        steps.append(out)
    assert_close("steps", torch.stack(steps, 1), full, 1e-12, atol=1e-12)
