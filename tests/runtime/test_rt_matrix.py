"""RWKV-5.2, RWKV-6 and RWKV-7 in the runtime: random checkpoints in the official key layout
(several shapes: head sizes 64 and 32, odd low-rank sizes, 1..4 layers), exported to .rrwkv and
run token by token and in sequence mode against the official `rwkv` package (cpu fp32,
RWKV_V7_ON=1 for RWKV-7; <= 1e-4 over 70 tokens, final states too) and the PyTorch reference;
any chunking equals stepping; batched rows equal independent sessions bit for bit; states round
trip and a state of another architecture is refused."""
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))

import rrwkv_rt  # noqa: E402
from rrwkv_rt.io.export import export_state_dict  # noqa: E402
from rrwkv_rt.runtime.state_file import state_arrays  # noqa: E402

from matrix_helpers import CASES, MIN_LOGIT_STD, one_thread, random_model, run_official, tokens  # noqa: E402
from rt_helpers import max_abs  # noqa: E402

ARCHES = ("rwkv5", "rwkv6", "rwkv7")
TOL_OFFICIAL = 1e-4


@pytest.fixture(scope="module", params=ARCHES)
def arch_models(request, tmp_path_factory):
    """arch -> {case: (path, reference model, tokens, official outputs)}."""
    arch = request.param
    folder = tmp_path_factory.mktemp(arch)
    refs = {case: random_model(cfg, seed=11) for case, cfg in CASES[arch].items()}
    toks = {case: tokens(cfg.vocab_size, seed=20 + i) for i, (case, cfg) in enumerate(CASES[arch].items())}
    outs = run_official(arch, refs, toks, folder)
    models = {}
    for case, cfg in CASES[arch].items():
        path = folder / f"{case}.rrwkv"
        export_state_dict(refs[case].state_dict(), cfg, path)
        models[case] = (str(path), refs[case], toks[case], outs[case])
    return arch, models


def test_matches_official_package_and_reference(arch_models):
    arch, models = arch_models
    for case, (path, ref, toks, out) in models.items():
        s = rrwkv_rt.Session(path, threads=2)
        stepped = np.stack([s.step(t) for t in toks])
        step_state = state_arrays(s.model, s.get_state())
        s.reset()
        seq = s.forward(toks, all_logits=True)
        assert seq.std() > MIN_LOGIT_STD, case
        for name, theirs in (("step", out["step"]), ("seq", out["seq"]), ("chunked", out["chunked"])):
            assert max_abs(stepped, theirs.numpy()) <= TOL_OFFICIAL, (arch, case, name)
            assert max_abs(seq, theirs.numpy()) <= TOL_OFFICIAL, (arch, case, name)
        # the state after the sequence agrees with the package's (att_x, wkv, ffn_x per layer)
        L = ref.cfg.n_layer
        for j, field in enumerate(("att_x", "wkv", "ffn_x")):
            theirs = np.stack([out["step_state"][3 * i + j].reshape(-1).numpy() for i in range(L)])
            scale = max(1.0, float(np.abs(theirs).max()))
            assert max_abs(step_state[field], theirs) / scale <= TOL_OFFICIAL, (arch, case, field)
        with torch.no_grad(), one_thread():
            want = ref(torch.tensor([toks]))[0].numpy()
        assert max_abs(seq, want) <= 2e-5 and max_abs(stepped, want) <= 2e-5, (arch, case)


def test_any_chunking_equals_stepping(arch_models):
    _, models = arch_models
    path, _, toks, _ = next(iter(models.values()))
    s = rrwkv_rt.Session(path, threads=1, prefill_chunk=5)
    stepped = np.stack([s.step(t) for t in toks])
    for chunks in ([70], [1, 6, 13, 50], [33, 37]):
        s.reset()
        got, i = [], 0
        for c in chunks:
            got.append(s.forward(toks[i:i + c], all_logits=True))
            i += c
        assert max_abs(np.concatenate(got), stepped) <= 1e-5, chunks


def test_batched_rows_equal_independent_sessions(arch_models):
    _, models = arch_models
    path, _, toks, _ = list(models.values())[-1]
    model = rrwkv_rt.Model(path)
    batch = rrwkv_rt.Batch(model, capacity=5)
    sessions = [rrwkv_rt.Session(model, threads=1) for _ in range(5)]
    rows = []
    for i, s in enumerate(sessions):  # rows at different positions
        r = batch.add()
        if i:
            batch.forward(r, toks[:i * 3])
            s.forward(toks[:i * 3])
        rows.append(r)
    rng = np.random.default_rng(0)
    for _ in range(8):
        t = rng.integers(0, model.vocab_size, 5)
        got = batch.step(rows, t)
        for i, s in enumerate(sessions):
            np.testing.assert_array_equal(got[i], s.step(int(t[i])))


def test_states_round_trip_and_foreign_ones_are_refused(arch_models, tmp_path):
    arch, models = arch_models
    path, _, toks, _ = next(iter(models.values()))
    s = rrwkv_rt.Session(path)
    s.forward(toks[:20])
    blob = s.get_state()
    s.save_state(tmp_path / "a.state")
    after = s.step(5)
    t = rrwkv_rt.Session(path)
    t.set_state(blob)
    np.testing.assert_array_equal(t.step(5), after)
    u = rrwkv_rt.Session(path)
    assert u.load_state(tmp_path / "a.state") == 20
    np.testing.assert_array_equal(u.step(5), after)
    # a state of another architecture (same n_layer / n_embd where the cases allow) is refused
    other = [a for a in ARCHES if a != arch][0]
    cfg = next(iter(CASES[other].values()))
    ref = random_model(cfg, seed=1)
    foreign_path = tmp_path / "other.rrwkv"
    export_state_dict(ref.state_dict(), cfg, foreign_path)
    foreign = rrwkv_rt.Session(str(foreign_path))
    with pytest.raises(rrwkv_rt.StateMismatchError, match=f"saved from another model: {other} .* this model is {arch}"):
        s.set_state(foreign.get_state())


def test_f16_and_bf16_weights_stay_close(arch_models, tmp_path):
    _, models = arch_models
    path, ref, toks, _ = list(models.values())[1]
    want = rrwkv_rt.Session(path).forward(toks, all_logits=True)
    for dtype, tol in (("f16", 2e-2), ("bf16", 1e-1)):
        p = tmp_path / f"m_{dtype}.rrwkv"
        export_state_dict(ref.state_dict(), ref.cfg, p, dtype=dtype)
        m = rrwkv_rt.Model(str(p))
        assert m.info["dtype"] == dtype
        assert max_abs(rrwkv_rt.Session(m).forward(toks, all_logits=True), want) <= tol, dtype


def test_info_says_the_state_size(arch_models):
    """Per layer att_x, the H x S x S matrix state and ffn_x: for the 168M shape of RWKV-7 (L12, C768,
    head 64) that is 12 * (768 + 768 * 64 + 768) floats = 2.43 MB; info reports the blob's bytes."""
    _, models = arch_models
    for path, ref, _, _ in models.values():
        info = rrwkv_rt.Model(path).info
        C, S, L = ref.cfg.n_embd, ref.cfg.head_size, ref.cfg.n_layer
        assert info["state_fields"] == [("att_x", C), ("wkv", C * S), ("ffn_x", C)]
        assert info["state_bytes"] == 96 + 4 * L * (2 * C + C * S)
    assert 4 * 12 * (2 * 768 + 768 * 64) == 2_433_024
