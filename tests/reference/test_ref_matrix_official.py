"""The matrix-state reference models (RWKV-5.2, RWKV-6, RWKV-7) against BlinkDL's official `rwkv`
package (strategy 'cpu fp32'; RWKV_V7_ON=1 for RWKV-7), every case of matrix_helpers.CASES."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, check_against_official, random_model, run_official, tokens  # noqa: E402

SEEDS = {"rwkv5": 5, "rwkv6": 6, "rwkv7": 7}  # one random model per architecture and case


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """arch -> (models, tokens, the package's outputs), each architecture run once when first asked."""
    runs = {}

    def run(arch):
        if arch not in runs:
            models = {case: random_model(cfg, seed=SEEDS[arch]) for case, cfg in CASES[arch].items()}
            toks = {case: tokens(cfg.vocab_size, seed=i) for i, (case, cfg) in enumerate(CASES[arch].items())}
            runs[arch] = models, toks, run_official(arch, models, toks, tmp_path_factory.mktemp(arch))
        return runs[arch]

    return run


@pytest.mark.parametrize("arch,case", [(arch, case) for arch in SEEDS for case in CASES[arch]])
def test_matches_official_package(official, arch, case):
    models, toks, outs = official(arch)
    check_against_official(models[case], toks[case], outs[case])
