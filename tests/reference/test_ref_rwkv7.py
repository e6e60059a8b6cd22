"""RWKV-7 reference model: checks beyond the official package's (those are in test_ref_matrix_official.py)."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, one_thread, random_model, tokens  # noqa: E402

ARCH = "rwkv7"


@torch.no_grad()
def test_block_0_value_residual_tensors_are_unused():
    """Block 0 stores v0/v1/v2 like every block, but its values *are* v_first: changing them changes
    nothing, while changing block 1's does."""
    model = random_model(CASES[ARCH]["L2-C64-h32"], seed=2, dtype=torch.float64)
    toks = torch.tensor([tokens(model.cfg.vocab_size, n=20, seed=4)])
    with one_thread():
        before = model(toks)
        for leaf in ("v0", "v1", "v2"):
            getattr(model.blocks[0].att, leaf).normal_()
        assert torch.equal(model(toks), before)
        model.blocks[1].att.v1.normal_()
        assert not torch.allclose(model(toks), before)
