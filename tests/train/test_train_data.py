"""The corpus: which files, deterministic split, and batches that do not depend on the process count."""
import os

import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.train import data  # noqa: E402

from train_helpers import SMALL_CORPUS  # noqa: E402


def test_stdlib_listing_is_sorted_and_skips_tests():
    root, rels = data.list_files("stdlib")
    assert rels == sorted(rels) and len(rels) > 100
    assert all(r.endswith(".py") for r in rels)
    for r in rels:
        parts = r.split("/")
        assert not set(parts[:-1]) & data.EXCLUDED_DIRS, r
    assert "os.py" in rels and "json/decoder.py" in rels
    assert os.path.isfile(os.path.join(root, rels[0]))


def test_corpus_is_deterministic_and_split_by_file():
    a = data.load_corpus(SMALL_CORPUS, "bytes", val_every=2)
    b = data.load_corpus(SMALL_CORPUS, "bytes", val_every=2)
    assert a.fingerprint == b.fingerprint and a.train.equal(b.train) and a.val.equal(b.val)
    _, rels = data.list_files(SMALL_CORPUS)
    assert a.n_files == len(rels)
    # every file lands whole in exactly one split, each preceded by the separator
    n_sep = int((a.train == data.SEPARATOR).sum() + (a.val == data.SEPARATOR).sum())
    assert n_sep == len(rels)
    assert len(a.train) + len(a.val) == a.n_bytes + len(rels)
    assert a.vocab_size == 256 and a.tokens_per_byte == 1.0
    with open(os.path.join(SMALL_CORPUS, rels[1]), "rb") as f:  # rels[1] is validation with val_every=2
        first_val = f.read()
    assert bytes(a.val[1:1 + len(first_val)].tolist()) == first_val


def test_single_file_corpus_holds_out_its_tail(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"abc" * 1000)
    c = data.load_corpus(str(p))
    assert len(c.val) > 0 and len(c.train) > len(c.val)
    with pytest.raises(FileNotFoundError, match="neither"):
        data.load_corpus(str(tmp_path / "missing"))


def test_batches_are_a_function_of_seed_and_step_and_shard_by_rank():
    corpus = torch.arange(10_000) % 256
    x, y = data.train_batch(corpus, step=5, seed=1, batch_size=8, ctx_len=16)
    assert x.shape == (8, 16) and y.shape == (8, 16)
    assert x[:, 1:].equal(y[:, :-1])
    x2, _ = data.train_batch(corpus, step=5, seed=1, batch_size=8, ctx_len=16)
    assert x.equal(x2)
    assert not x.equal(data.train_batch(corpus, step=6, seed=1, batch_size=8, ctx_len=16)[0])
    for world in (2, 4):
        shards = [data.train_batch(corpus, 5, 1, 8, 16, rank=r, world_size=world)[0] for r in range(world)]
        assert torch.cat(shards).equal(x)
    with pytest.raises(ValueError, match="divisible"):
        data.train_batch(corpus, 5, 1, 6, 16, rank=0, world_size=4)
    with pytest.raises(ValueError, match="fewer than"):
        data.train_batch(corpus[:10], 0, 0, 2, 16)


def test_eval_windows_are_fixed_and_shard_by_rank():
    val = torch.arange(5000) % 256
    x, _ = data.eval_windows(val, 6, 32)
    parts = [data.eval_windows(val, 6, 32, rank=r, world_size=2)[0] for r in range(2)]
    assert sorted(map(tuple, x.tolist())) == sorted(map(tuple, torch.cat(parts).tolist()))


def test_unigram_baseline():
    uniform = torch.arange(256).repeat(100)
    assert abs(data.unigram_bits(uniform, uniform, 256) - 8.0) < 1e-9
    skewed = torch.tensor([0] * 900 + [1] * 100)
    assert data.unigram_bits(skewed, skewed, 256) < 1.0
