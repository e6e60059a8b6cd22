"""tools/eval_longrange.py: the MQAR generator, the model variants and a smoke run of the script."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
sys.path.insert(0, TOOLS)

from longrange.mqar import MqarTask, batch_rng, make_batch  # noqa: E402
from longrange.variants import LongRangeModel, Variant  # noqa: E402
from rrwkv_rt.reference import RWKV  # noqa: E402


def test_mqar_batch_follows_the_recipe():
    task = MqarTask(seq_len=64, num_pairs=4, vocab_size=100)
    tokens, where, ans = make_batch(task, 200, batch_rng(0, "train", 0))
    N = task.num_pairs
    keys, values = tokens[:, 0:2 * N:2], tokens[:, 1:2 * N:2]
    assert ((keys >= 1) & (keys < 50)).all() and ((values >= 50) & (values < 100)).all()
    assert all(len(set(row)) == N for row in keys) and all(len(set(row)) == N for row in values)
    assert ((where >= 2 * N) & (where <= 62) & (where % 2 == 0)).all()
    assert all(len(set(row)) == N for row in where)
    # the token at a query position is a key of the example; the answer is that key's value
    for b in range(200):
        kv = dict(zip(keys[b], values[b]))
        for p, a in zip(where[b], ans[b]):
            assert kv[tokens[b, p]] == a
        rest = np.delete(tokens[b, 2 * N:], where[b] - 2 * N)
        assert (rest == 0).all()  # filler elsewhere (Zoology's random_non_queries=False)


def test_mqar_gaps_follow_the_power_law():
    # The first query's gap is one weighted draw: P(g) ∝ (g+1)^(a-1); compare with the exact probabilities.
    task = MqarTask(seq_len=24, num_pairs=2, vocab_size=64)
    _, where, _ = make_batch(task, 40000, batch_rng(1, "t", 0))
    gaps = (where[:, 0] - 4) // 2
    p = np.exp(task.gap_log_weights())
    p /= p.sum()
    freq = np.bincount(gaps, minlength=task.space) / len(gaps)
    assert np.abs(freq - p).max() < 0.01


def test_mqar_rejects_impossible_tasks():
    with pytest.raises(ValueError, match="seq_len"):
        MqarTask(seq_len=30, num_pairs=8)
    with pytest.raises(ValueError, match="vocab"):
        MqarTask(seq_len=64, num_pairs=8, vocab_size=10)


@pytest.mark.parametrize("arch", ["rwkv4", "rrwkv"])
def test_default_variant_is_the_library_model(arch):
    v = Variant(arch=arch, d=16, vocab=40, s=3, ffn="full", init="paper", tie=False, emb_dropout=0.0)
    x = torch.randint(0, 40, (2, 20))
    m = LongRangeModel(v, seed=5)
    a = m.head(m.features(x))
    assert torch.equal(a, RWKV(v.model_config(), seed=5)(x))


def test_ablation_variants_are_what_they_say():
    x = torch.randint(0, 40, (2, 20))
    kw = dict(d=16, vocab=40, s=4, ffn="full", init="paper", tie=False, emb_dropout=0.0)
    plain = LongRangeModel(Variant(arch="rwkv4", **kw), seed=1)
    tm = LongRangeModel(Variant(arch="rrwkv", mediums="tm", **kw), seed=1)
    cm = LongRangeModel(Variant(arch="rrwkv", mediums="cm", **kw), seed=1)
    # before the first segment ends (t < s) no medium exists: every variant is RWKV-4 there
    # (replace-mode channel-mix sees c = 0 instead of the previous token, so compare tm only)
    assert torch.allclose(tm.head(tm.features(x))[:, :4], plain.head(plain.features(x))[:, :4], atol=1e-6)
    assert not torch.allclose(tm.head(tm.features(x))[:, 4:], plain.head(plain.features(x))[:, 4:])
    assert type(cm.blocks[0].att) is type(plain.blocks[0].att) and not hasattr(cm.blocks[0].att, "time_decay_m")
    assert not hasattr(tm.blocks[0].ffn, "medium_mix_k") and tm.blocks[0].ffn.uses_token_shift
    # the "last" squeeze: a medium equal to the segment's last input; with s = 1 it equals the mean
    m1 = LongRangeModel(Variant(arch="rrwkv", **{**kw, "s": 1}), seed=2)
    l1 = LongRangeModel(Variant(arch="rrwkv", squeeze="last", **{**kw, "s": 1}), seed=2)
    assert torch.allclose(m1.head(m1.features(x)), l1.head(l1.features(x)), atol=1e-6)
    assert Variant(arch="rwkv4", **kw).state_bytes() < Variant(arch="rrwkv", **kw).state_bytes()


def test_smoke_run_of_the_script_appends_and_resumes(tmp_path):
    out = tmp_path / "mqar.jsonl"
    cmd = [sys.executable, os.path.join(TOOLS, "eval_longrange.py"), "mqar", "--grid", "smoke", "--out", str(out),
           "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["model"] for x in recs] == ["rrwkv-s4-replace+ffnfull", "rwkv4"]
    for rec in recs:
        assert rec["steps_done"] == 3 and rec["examples"] == 12 and 0.0 <= rec["acc"] <= 1.0
        assert [c["step"] for c in rec["curve"]] == [2, 3]
        assert rec["train_tokens_per_s"] > 0 and rec["state_bytes"] > 0 and np.isfinite(rec["test_loss"])
    # resuming: the same grid again runs nothing (in-process, to keep the test fast)
    from longrange.grids import smoke_grid
    from longrange.report import report
    from longrange.runner import run_grid
    msgs = []
    assert run_grid(smoke_grid(), str(out), "smoke", log=msgs.append) == 0
    assert "2 already in" in msgs[0]
    assert len(out.read_text().splitlines()) == 2  # nothing ran twice
    assert "## Cost" in report(str(tmp_path))


def test_lm_smoke_run(tmp_path):
    out = tmp_path / "lm.jsonl"
    from longrange.lm import run_lm
    assert run_lm("smoke", str(out), log=lambda s: None) == 2
    assert run_lm("smoke", str(out), log=lambda s: None) == 0  # resumed: nothing to do
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2
    for rec in recs:
        assert len(rec["bucket_bits"]) == 3 and all(np.isfinite(rec["bucket_bits"]))
        assert len(rec["window_bucket_bits"]) == rec["n_windows"] > 0
