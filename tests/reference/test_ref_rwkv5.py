"""RWKV-5.2 reference model against BlinkDL's official `rwkv` package (strategy 'cpu fp32')."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, check_against_official, random_model, run_official, tokens  # noqa: E402

ARCH = "rwkv5"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    models = {case: random_model(cfg, seed=5) for case, cfg in CASES[ARCH].items()}
    toks = {case: tokens(cfg.vocab_size, seed=i) for i, (case, cfg) in enumerate(CASES[ARCH].items())}
    return models, toks, run_official(ARCH, models, toks, tmp_path_factory.mktemp(ARCH))


@pytest.mark.parametrize("case", list(CASES[ARCH]))
def test_matches_official_package(official, case):
    models, toks, outs = official
    check_against_official(models[case], toks[case], outs[case])
