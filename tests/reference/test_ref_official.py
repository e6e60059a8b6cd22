"""RWKV-4 agreement with BlinkDL's official `rwkv` pip package (strategy 'cpu fp32')."""
import os

import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.reference import random_model  # noqa: E402

TOL = 1e-4
N_TOKENS = 70
SHAPES = [(2, 32, 97, 0), (3, 64, 300, 100), (4, 128, 1000, 0)]  # n_layer, n_embd, vocab, ffn_dim


@pytest.fixture(scope="module")
def official_rwkv():
    # the package reads these at import time: no TorchScript, no CUDA kernel
    os.environ["RWKV_JIT_ON"] = "0"
    os.environ["RWKV_CUDA_ON"] = "0"
    pytest.importorskip("rwkv")
    from rwkv.model import RWKV as OfficialRWKV
    return OfficialRWKV


@pytest.fixture(scope="module", params=SHAPES, ids=lambda p: "L{}-C{}-V{}-F{}".format(*p))
def pair(request, official_rwkv, tmp_path_factory):
    """(our float32 model, the official package's model loaded from its saved state dict)."""
    n_layer, n_embd, vocab, ffn_dim = request.param
    ours = random_model(ModelConfig("rwkv4", n_layer, n_embd, vocab, ffn_dim=ffn_dim), seed=11).eval()
    path = tmp_path_factory.mktemp("official") / "model.pth"
    torch.save({k: v.detach().clone().contiguous() for k, v in ours.state_dict().items()}, path)
    return ours, official_rwkv(str(path), "cpu fp32", verbose=False)


def _tokens(vocab, seed=0):
    return torch.randint(0, vocab, (N_TOKENS,), generator=torch.Generator().manual_seed(seed)).tolist()


@torch.no_grad()
def test_token_by_token_matches_official(pair):
    ours, official = pair
    tokens = _tokens(ours.cfg.vocab_size)
    ref, state = [], None
    for tok in tokens:
        out, state = official.forward([tok], state)
        ref.append(out)
    ref = torch.stack(ref)
    parallel = ours(torch.tensor([tokens]))[0]
    assert (parallel - ref).abs().max().item() <= TOL
    our_state = ours.initial_state(1)
    for t, tok in enumerate(tokens):
        logits, our_state = ours.step(torch.tensor([tok]), our_state)
        assert (logits[0] - ref[t]).abs().max().item() <= TOL, t
    # the official state (att_x, aa, bb, pp, ffn_x per layer) is ours too
    for i in range(ours.cfg.n_layer):
        for j, name in enumerate(("att_x", "aa", "bb", "pp", "ffn_x")):
            theirs, mine = state[5 * i + j], getattr(our_state, name)[i, 0]
            assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-4), (i, name)


@torch.no_grad()
def test_full_output_matches_official(pair):
    ours, official = pair
    tokens = _tokens(ours.cfg.vocab_size, seed=1)
    try:
        ref, _ = official.forward(tokens, None, full_output=True)
    except TypeError:
        pytest.skip("this rwkv version has no full_output")
    assert ref.shape == (N_TOKENS, ours.cfg.vocab_size)
    assert (ours(torch.tensor([tokens]))[0] - ref).abs().max().item() <= TOL
    # chunked: the official package and ours carry the state across chunks alike
    a, st = official.forward(tokens[:30], None, full_output=True)
    b, _ = official.forward(tokens[30:], st, full_output=True)
    assert (torch.cat([a, b]) - ref).abs().max().item() <= TOL
