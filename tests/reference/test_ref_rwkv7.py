"""RWKV-7 reference model against BlinkDL's official `rwkv` package (strategy 'cpu fp32', RWKV_V7_ON=1)."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, check_against_official, one_thread, random_model, run_official, tokens  # noqa: E402

ARCH = "rwkv7"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    models = {case: random_model(cfg, seed=7) for case, cfg in CASES[ARCH].items()}
    toks = {case: tokens(cfg.vocab_size, seed=i) for i, (case, cfg) in enumerate(CASES[ARCH].items())}
    return models, toks, run_official(ARCH, models, toks, tmp_path_factory.mktemp(ARCH))


@pytest.mark.parametrize("case", list(CASES[ARCH]))
def test_matches_official_package(official, case):
    models, toks, outs = official
    check_against_official(models[case], toks[case], outs[case])


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
