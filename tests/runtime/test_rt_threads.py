"""Many sessions over one Model, stepped from several Python threads at once (the GIL is
released while computing), give exactly the sequential results; so do different thread counts."""
import threading

import numpy as np
import pytest

import rrwkv_rt

from rt_helpers import make_config, tokens

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model(model_factory):
    path, _ = model_factory(make_config("rrwkv", n_layer=2, n_embd=64, vocab=300, s=5, mode="replace"), seed=60)
    return rrwkv_rt.Model(path)


def run(sess, toks):
    first = sess.forward(toks[:9], all_logits=True)
    rest = np.stack([sess.step(int(t)) for t in toks[9:]])
    return np.concatenate([first, rest])


def test_thread_counts_agree_bit_for_bit(model):
    toks = tokens(300, 40, seed=1)
    expected = run(rrwkv_rt.Session(model, threads=1), toks)
    for n in (2, 3):
        np.testing.assert_array_equal(run(rrwkv_rt.Session(model, threads=n), toks), expected)


@pytest.mark.parametrize("threads_per_session", [1, 2])
def test_concurrent_sessions_match_sequential(model, threads_per_session):
    streams = [tokens(300, 40, seed=10 + i) for i in range(4)]
    expected = [run(rrwkv_rt.Session(model, threads=threads_per_session), s) for s in streams]
    results = [None] * len(streams)
    errors = []
    barrier = threading.Barrier(len(streams))

    def worker(i):
        try:
            sess = rrwkv_rt.Session(model, threads=threads_per_session)
            barrier.wait()
            results[i] = run(sess, streams[i])
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(streams))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got, exp in zip(results, expected):
        np.testing.assert_array_equal(got, exp)


def test_one_session_shared_by_threads_is_serialised(model):
    """Calls on one session from several threads never interleave inside a step."""
    sess = rrwkv_rt.Session(model, threads=2)
    n_threads, per_thread = 3, 15

    def worker():
        for i in range(per_thread):
            sess.step(i)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sess.pos == n_threads * per_thread
