"""Batch.hidden_state, the final hidden state behind embeddings: the reference model's ln_out(x)
(the input of its head, captured with a hook) for RWKV-4 and RRWKV, every token and the last;
reading a prompt this way leaves the row where forward() leaves it."""
import numpy as np
import pytest

import rrwkv_rt

from rt_helpers import make_config, max_abs, tokens

torch = pytest.importorskip("torch")

TOL = 1e-4


def reference_hidden(ref, toks) -> np.ndarray:
    seen = []
    hook = ref.ln_out.register_forward_hook(lambda mod, args, out: seen.append(out.detach()))
    try:
        with torch.no_grad():
            ref(torch.as_tensor(np.asarray(toks), dtype=torch.long)[None])
    finally:
        hook.remove()
    return seen[0][0].numpy()


@pytest.mark.parametrize("arch,s,mode", [("rwkv4", 1, "replace"), ("rrwkv", 3, "add")])
def test_hidden_state_is_the_reference_ln_out(model_factory, arch, s, mode):
    path, ref = model_factory(make_config(arch, 2, 64, 211, s=s, mode=mode), seed=5)
    toks = tokens(211, 45, seed=2)
    want = reference_hidden(ref, toks)
    b = rrwkv_rt.Batch(path, 2, threads=1, prefill_chunk=16)  # three pieces: 16 + 16 + 13
    a, c = b.add(), b.add()
    every = b.hidden_state(a, toks, all_tokens=True)
    assert every.shape == (45, 64) and max_abs(every, want) <= TOL
    b.reset(a)
    last = b.hidden_state(a, toks)
    assert np.array_equal(last, every[-1])
    b.forward(c, toks)
    assert b.get_state(a) == b.get_state(c)
    with pytest.raises(IndexError):
        b.hidden_state(a, [211])
