"""State-tuning files (blocks.{i}.att.time_state, (H, S, S) per layer): the official demos start
layer i's matrix state from time_state.transpose(1, 2) with zero token-shift states. The runtime
given such a file (Session / Batch.add initial_state=), or a model file it was baked into at
export, is compared with the official package started from the same state."""
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402

from ckpt_helpers import (assert_matches_official, max_abs, official_sd, run_official_on, runtime_outputs,  # noqa: E402
                          save, tokens)

CASES = {
    "rwkv5": ModelConfig("rwkv5", 2, 64, 97, head_size=32),
    "rwkv6": ModelConfig("rwkv6", 2, 64, 97, head_size=32, lora_mix=7, lora_decay=13),
    "rwkv7": ModelConfig("rwkv7", 2, 64, 97, head_size=32, lora_decay=8, lora_a=8, lora_v=8, lora_gate=16),
}


def time_states(cfg: ModelConfig, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    H, S = cfg.n_head, cfg.head_size
    return {f"blocks.{i}.att.time_state": torch.randn(H, S, S, generator=g) * 0.5 for i in range(cfg.n_layer)}


@pytest.fixture(scope="module", params=list(CASES))
def tuned(request, tmp_path_factory):
    """(arch, folder, the model's .rrwkv, its checkpoint, the tuning file, tokens, package outputs)."""
    arch = request.param
    cfg = CASES[arch]
    folder = tmp_path_factory.mktemp(f"tuned-{arch}")
    sd, ts, toks = official_sd(cfg, seed=2), time_states(cfg, seed=4), tokens(cfg.vocab_size, seed=6)
    outs = run_official_on(arch, {"m": sd}, {"m": toks}, folder, time_states={"m": ts})
    src = save(sd, folder / "base.pth")
    export(src, folder / "base.rrwkv")
    return arch, folder, folder / "base.rrwkv", src, save(ts, folder / "tuned.pth"), toks, outs["m"]


def test_session_started_from_a_tuning_file_matches_the_package(tuned):
    _, _, path, _, tuning, toks, out = tuned
    assert_matches_official(path, toks, out, initial_state=tuning)
    # and it is not the plain model
    _, seq = runtime_outputs(path, toks)
    assert max_abs(seq, out["seq"].numpy()) > 1e-2


def test_a_baked_state_matches_the_package_and_info_says_so(tuned, capsys):
    arch, folder, _, src, tuning, toks, out = tuned
    dst = folder / "baked.rrwkv"
    notes = []
    export(src, dst, initial_state=tuning, notes=notes, force=True)
    assert any("baked the initial state tuned.pth" in n for n in notes)
    assert_matches_official(dst, toks, out)
    assert rrwkv_rt.Model(str(dst)).info["initial_state"] is True
    assert main(["info", str(dst)]) == 0
    printed = capsys.readouterr().out
    assert "meta.initial_state: tuned.pth" in printed and "initial state:    baked in the file for 2 layer(s)" in printed
    # `rrwkv quantize` keeps it
    assert main(["quantize", str(dst), str(folder / "q8.rrwkv"), "--dtype", "q8_0", "--force"]) == 0
    assert rrwkv_rt.Model(str(folder / "q8.rrwkv")).info["initial_state"] is True


def test_a_checkpoint_holding_time_state_is_baked(tuned):
    """RWKV-PEFT's merge_state.py puts the time_state tensors into the model checkpoint; the rwkv
    package then starts RWKV-5/6 from them. The exporter bakes them (a note says so)."""
    arch, folder, _, src, tuning, toks, out = tuned
    merged = {**torch.load(src), **torch.load(tuning)}
    notes = []
    export(save(merged, folder / "merged.pth"), folder / "merged.rrwkv", notes=notes, force=True)
    assert any("baked the initial state the checkpoint holds" in n for n in notes)
    assert_matches_official(folder / "merged.rrwkv", toks, out)
    if arch != "rwkv7":  # the package's own path (its RWKV-7 class ignores time_state)
        native = run_official_on(arch, {"n": merged}, {"n": toks}, folder)["n"]
        assert max_abs(native["seq"], out["seq"]) <= 1e-5


def test_reset_clone_pickle_and_batch_rows_keep_the_initial_state(tuned):
    _, _, path, _, tuning, toks, _ = tuned
    model = rrwkv_rt.Model(str(path))
    s = rrwkv_rt.Session(model, threads=1, initial_state=tuning)
    first = s.forward(toks[:12], all_logits=True)
    s.reset()
    np.testing.assert_array_equal(s.forward(toks[:12], all_logits=True), first)
    s.reset()
    twin, restored = s.clone(), pickle.loads(pickle.dumps(s))
    for other in (twin, restored):
        other.forward(toks[:3])
        other.reset()
        np.testing.assert_array_equal(other.forward(toks[:12], all_logits=True), first)
    assert s.initial_state is not None and rrwkv_rt.Session(model).initial_state is None
    b = rrwkv_rt.Batch(model, capacity=2)
    r0, r1 = b.add(initial_state=tuning), b.add()
    np.testing.assert_array_equal(b.forward(r0, toks[:12], all_logits=True), first)
    b.reset(r0)
    tuned_s, plain_s = rrwkv_rt.Session(model, threads=1, initial_state=tuning), rrwkv_rt.Session(model, threads=1)
    for t in toks[:6]:  # a batched step is bit for bit a session's step
        got = b.step([r0, r1], [t, t])
        np.testing.assert_array_equal(got[0], tuned_s.step(t))
        np.testing.assert_array_equal(got[1], plain_s.step(t))


def test_another_models_file_and_bad_files_are_clear_errors(tuned, tmp_path):
    arch, _, path, _, tuning, _, _ = tuned
    cfg = CASES[arch]
    H, S = cfg.n_head, cfg.head_size
    ts = torch.load(tuning)
    other = {k: torch.zeros(H * 2, S // 2, S // 2) for k in ts}  # another model: 4 heads of 16
    with pytest.raises(ValueError, match=rf"tensor 'blocks.0.att.time_state' has shape \(4, 16, 16\), "
                                         rf"expected \(H, S, S\) = \({H}, {S}, {S}\)"):
        rrwkv_rt.Session(str(path), initial_state=save(other, tmp_path / "other.pth"))
    deeper = {**ts, "blocks.2.att.time_state": torch.zeros(H, S, S)}
    with pytest.raises(ValueError, match=r"unexpected tensor 'blocks.2.att.time_state'"):
        rrwkv_rt.Session(str(path), initial_state=deeper)
    with pytest.raises(ValueError, match=r"missing tensor 'blocks.1.att.time_state'"):
        rrwkv_rt.Session(str(path), initial_state={"blocks.0.att.time_state": ts["blocks.0.att.time_state"]})
    nan = {k: v.clone() for k, v in ts.items()}
    nan["blocks.1.att.time_state"][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="not finite"):
        rrwkv_rt.Session(str(path), initial_state=nan)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rrwkv_rt.Session(str(path), initial_state=tmp_path / "absent.pth")
    b = rrwkv_rt.Batch(str(path), capacity=1)
    with pytest.raises(ValueError):
        b.add(initial_state=nan)
    assert b.add() == 0  # the bad state added no row
    with pytest.raises(ValueError, match="does not fit this model"):
        export(path.parent / "base.pth", tmp_path / "x.rrwkv", initial_state=save(other, tmp_path / "o.pth"))
    assert not (tmp_path / "x.rrwkv").exists()


def test_rwkv4_models_have_no_time_state(tmp_path):
    from rrwkv_rt.reference import random_model
    cfg = ModelConfig("rwkv4", 1, 16, 40)
    export(save(random_model(cfg).state_dict(), tmp_path / "r4.pth"), tmp_path / "r4.rrwkv")
    with pytest.raises(ValueError, match="for RWKV-5/6/7 models, whose state is a matrix per head; this model is rwkv4"):
        rrwkv_rt.Session(str(tmp_path / "r4.rrwkv"), initial_state={"blocks.0.att.time_state": torch.zeros(1, 1, 1)})


def test_generate_and_chat_take_an_initial_state(tmp_path, capsys):
    cfg = ModelConfig("rwkv7", 2, 64, 256, head_size=32, lora_decay=8, lora_a=8, lora_v=8, lora_gate=16)
    src = save(official_sd(cfg, seed=8), tmp_path / "m.pth")
    export(src, tmp_path / "m.rrwkv", vocab="bytes")
    tuning = save(time_states(cfg, seed=1), tmp_path / "t.pth")
    s = rrwkv_rt.Session(str(tmp_path / "m.rrwkv"), initial_state=tuning)
    want = s.generate("ab", 12, temperature=0)
    args = ["generate", str(tmp_path / "m.rrwkv"), "--prompt", "ab", "--max-new-tokens", "12", "--temperature", "0",
            "--no-echo"]
    assert main(args + ["--initial-state", tuning]) == 0
    assert capsys.readouterr().out == want + "\n"
    assert main(args) == 0
    assert capsys.readouterr().out != want + "\n"
    assert main(args + ["--initial-state", str(tmp_path / "nope.pth")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_a_damaged_baked_state_is_refused_when_the_model_opens(tuned, tmp_path):
    """The runtime checks baked tensors itself (a file not written by the exporter may hold anything)."""
    from rrwkv_rt.io.format import Encoded, write_model
    arch, folder, path, _, _, _, _ = tuned
    f = rrwkv_rt.ModelFile(str(path))
    tensors = {t["name"]: (Encoded(f.tensor(t["name"]), t["shape"]), t["dtype"]) for t in f.tensors}
    size = CASES[arch].n_embd * CASES[arch].head_size
    for bad, message in ((np.zeros(size - 1, np.float32), r"should be f32 of shape \(%d,\).*found f32 of shape "
                                                            r"\(%d,\)" % (size, size - 1)),
                         (np.full(size, np.inf, np.float32), "not finite at element 0")):
        write_model(tmp_path / "bad.rrwkv", ModelConfig(**f.config), {**tensors, "initial_state.1.wkv": (bad, "f32")},
                    force=True)
        with pytest.raises(rrwkv_rt.FormatError, match="tensor 'initial_state.1.wkv' " + (
                r"\(an initial state\) holds a value that is " if "finite" in message else "") + ".*" + message):
            rrwkv_rt.Model(str(tmp_path / "bad.rrwkv"))
