"""A small RRWKV trained on the stdlib corpus learns (clearly below the unigram baseline), and its
exported .rrwkv reads back and runs in the C++ runtime with the PyTorch model's logits."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.reference import RWKV  # noqa: E402
from rrwkv_rt.train import checkpointing, data  # noqa: E402
from rrwkv_rt.train.loop import train  # noqa: E402
from train_helpers import read_metrics, tiny_config  # noqa: E402

STEPS = 300


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("learn")
    cfg = tiny_config(out, corpus="stdlib", n_layer=2, n_embd=64, medium_interval=8, ctx_len=64, batch_size=16,
                      steps=STEPS, warmup=30, lr=3e-3, eval_every=100, eval_windows=32,
                      export=str(out / "model.rrwkv"), export_dtype="f32")
    summary = train(cfg)
    ckpt = checkpointing.load(out)
    model = RWKV(ModelConfig(**ckpt["config"]), init=None)
    model.load_state_dict(ckpt["model"])
    return out, summary, model.eval()


def test_goes_clearly_below_the_unigram_baseline(trained):
    out, summary, _ = trained
    corpus = data.load_corpus("stdlib")
    unigram = data.unigram_bits(corpus.train, corpus.val, 256)
    assert summary["unigram_bits_per_byte"] == pytest.approx(unigram)
    assert 4.0 < unigram < 6.0  # Python source: about 4.9 bits per byte
    print(f"val {summary['val_bits_per_byte']:.3f} bits/byte vs unigram {unigram:.3f}")
    assert summary["val_bits_per_byte"] < unigram - 1.25
    losses, evals = read_metrics(out)
    assert len(losses) == STEPS and [s for s, _ in evals] == [100, 200, 300]
    assert evals[-1][1] < evals[0][1]


def test_export_reads_back(trained):
    out, _, model = trained
    f = rrwkv_rt.ModelFile(str(out / "model.rrwkv"))
    cfg = model.cfg
    assert {k: f.config[k] for k in ("arch", "n_layer", "n_embd", "vocab_size", "medium_interval", "cm_mode")} == {
        "arch": "rrwkv", "n_layer": 2, "n_embd": 64, "vocab_size": 256, "medium_interval": 8, "cm_mode": "replace"}
    sd = model.state_dict()
    assert np.array_equal(f.tensor("head.weight"), sd["head.weight"].numpy())
    assert np.allclose(f.tensor("blocks.1.att.decay"), torch.exp(sd["blocks.1.att.time_decay"]).numpy(), rtol=1e-6)
    assert f.fields.get("tokenizer.kind", "bytes") == "bytes"
    assert cfg.vocab_size == 256


def test_runtime_logits_equal_the_pytorch_model(trained):
    session_cls = getattr(rrwkv_rt, "Session", None)
    if session_cls is None:
        pytest.skip("rrwkv_rt.Session (the C++ runtime) is not in this build")
    out, _, model = trained
    corpus = data.load_corpus("stdlib")
    tokens = corpus.val[1000:1000 + 150]  # 150 tokens: 18 complete segments of s = 8
    with torch.no_grad():
        want = model(tokens[None])[0].numpy()
    s = session_cls(str(out / "model.rrwkv"), threads=1)
    got = s.forward(tokens.numpy(), all_logits=True)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-4
    # and token by token
    s.reset()
    stepped = np.stack([s.step(int(t)).copy() for t in tokens[:40]])
    assert np.abs(stepped - want[:40]).max() < 1e-4
