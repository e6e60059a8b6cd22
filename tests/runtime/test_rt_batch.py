"""The batched engine (rrwkv_rt.Batch): rows stepped together give what independent sessions give
(<= 1e-6), whatever their positions, however they join and leave, for every batch size up to 64
and both architectures; mixed prefill + decode calls too. Bad input names the row and changes no
row's state; states move between batches and sessions; concurrent batches on one Model agree
with sequential runs."""
import threading

import numpy as np
import pytest

import rrwkv_rt

from rt_helpers import make_config, max_abs, tokens

pytest.importorskip("torch")

TOL = 1e-6
V = 157
CASES = [("rwkv4", 1, "replace"), ("rrwkv", 1, "replace"), ("rrwkv", 3, "replace"), ("rrwkv", 3, "add"),
         ("rrwkv", 16, "replace"), ("rrwkv", 16, "add")]
IDS = [f"{a}-s{s}-{m}" for a, s, m in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def model(request, model_factory):
    arch, s, mode = request.param
    path, _ = model_factory(make_config(arch, n_layer=2, n_embd=48, vocab=V, s=s, mode=mode), seed=31)
    return rrwkv_rt.Model(path)


class Twin:
    """A batch row and the independent session it must equal."""

    def __init__(self, batch, model, prompt):
        self.row = batch.add()
        self.session = rrwkv_rt.Session(model, threads=1)
        if len(prompt):
            got = batch.forward(self.row, prompt)
            want = self.session.forward(prompt)
            assert max_abs(got, want) <= TOL


def test_rows_at_mixed_positions_joining_and_leaving(model):
    rng = np.random.default_rng(5)
    batch = rrwkv_rt.Batch(model, capacity=8, threads=2)
    twins = [Twin(batch, model, tokens(V, n, seed=n)) for n in (0, 1, 5, 17)]
    worst = 0.0
    for step in range(40):
        if step in (7, 19, 30):  # a row leaves and a new one joins with a fresh prompt
            gone = twins.pop(int(rng.integers(len(twins))))
            batch.remove(gone.row)
            twins.append(Twin(batch, model, tokens(V, int(rng.integers(0, 20)), seed=100 + step)))
        if step == 25:
            twins.append(Twin(batch, model, []))
        rows = [t.row for t in twins]
        toks = rng.integers(0, V, len(twins))
        got = batch.step(rows, toks)
        for i, t in enumerate(twins):
            worst = max(worst, max_abs(got[i], t.session.step(int(toks[i]))))
            assert batch.pos(t.row) == t.session.pos
    assert worst <= TOL
    assert sorted(batch.rows) == sorted(t.row for t in twins) and len(batch) == len(twins)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 64])
def test_every_batch_size_equals_independent_sessions(model_factory, n):
    path, _ = model_factory(make_config("rrwkv", n_layer=2, n_embd=48, vocab=V, s=3, mode="add"), seed=32)
    model = rrwkv_rt.Model(path)
    batch = rrwkv_rt.Batch(model, capacity=64)
    twins = [Twin(batch, model, tokens(V, i % 7, seed=i)) for i in range(n)]
    rng = np.random.default_rng(n)
    for _ in range(6):
        toks = rng.integers(0, V, n)
        # rows in a shuffled order: logits come back in the order asked
        order = rng.permutation(n)
        got = batch.step([twins[i].row for i in order], toks[order])
        for j, i in enumerate(order):
            assert max_abs(got[j], twins[i].session.step(int(toks[i]))) <= TOL


def test_run_mixes_prefill_and_decode(model):
    """run(): rows with long prompts (cut into prefill_chunk pieces) alongside one-token rows."""
    batch = rrwkv_rt.Batch(model, capacity=4, prefill_chunk=8)
    twins = [Twin(batch, model, tokens(V, 3, seed=i)) for i in range(4)]
    lists = [tokens(V, 1, seed=7), tokens(V, 29, seed=8), tokens(V, 2, seed=9), tokens(V, 13, seed=10)]
    got = batch.run([t.row for t in twins], lists)
    for i, t in enumerate(twins):
        assert max_abs(got[i], t.session.forward(lists[i])) <= 1e-5  # prefill vs prefill in other chunks
        assert batch.pos(t.row) == t.session.pos == 3 + len(lists[i])
    toks = [1, 2, 3, 4]
    got = batch.step([t.row for t in twins], toks)
    for i, t in enumerate(twins):
        assert max_abs(got[i], t.session.step(toks[i])) <= 1e-5


def test_bad_input_names_the_row_and_changes_nothing(model):
    batch = rrwkv_rt.Batch(model, capacity=3)
    rows = [batch.add() for _ in range(3)]
    for r in rows:
        batch.forward(r, tokens(V, 4, seed=r))
    before = [batch.get_state(r) for r in rows]
    with pytest.raises(IndexError, match=f"token {V} of row {rows[1]} .* outside the vocabulary"):
        batch.step(rows, [1, V, 2])
    with pytest.raises(IndexError, match="token -1 of row"):
        batch.run(rows, [[1, 2], [3], [4, -1]])
    with pytest.raises(ValueError, match="appears twice"):
        batch.step([rows[0], rows[0]], [1, 2])
    with pytest.raises(ValueError, match="2 rows but 3 tokens"):
        batch.step(rows[:2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least one"):
        batch.run(rows, [[1], [], [2]])
    assert [batch.get_state(r) for r in rows] == before
    with pytest.raises(ValueError, match="the batch is full"):
        batch.add()
    batch.remove(rows[2])
    with pytest.raises(IndexError, match="row 2 is not in the batch"):
        batch.step([rows[2]], [1])
    with pytest.raises(IndexError, match="not in the batch"):
        batch.remove(rows[2])
    with pytest.raises(IndexError, match="not in the batch"):
        batch.pos(99)
    with pytest.raises(ValueError, match="capacity must be"):
        rrwkv_rt.Batch(model, capacity=0)
    assert batch.add() == rows[2]  # the freed row is reused, at the initial state
    assert batch.pos(rows[2]) == 0


def test_states_move_between_batches_and_sessions(model):
    s = rrwkv_rt.Session(model)
    s.forward(tokens(V, 11, seed=1))
    batch = rrwkv_rt.Batch(model, capacity=2)
    r = batch.add(state=s.get_state())
    assert batch.pos(r) == 11
    assert max_abs(batch.step([r], [5])[0], s.step(5)) <= TOL
    t = rrwkv_rt.Session(model)
    t.set_state(batch.get_state(r))
    assert max_abs(t.step(6), batch.step([r], [6])[0]) <= TOL
    with pytest.raises(rrwkv_rt.FormatError):
        batch.add(state=b"garbage")
    assert len(batch) == 1  # a bad state adds no row
    batch.reset(r)
    assert batch.pos(r) == 0


def test_concurrent_batches_on_one_model_match_sequential(model):
    def work(seed):
        b = rrwkv_rt.Batch(model, capacity=4, threads=1)
        rows = [b.add() for _ in range(4)]
        rng = np.random.default_rng(seed)
        out = [b.step(rows, rng.integers(0, V, 4)) for _ in range(12)]
        return np.stack(out)

    expected = [work(s) for s in range(3)]
    results, errors = [None] * 3, []

    def thread(i):
        try:
            results[i] = work(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_fast_batches_equal_fast_sessions_and_stay_close_to_exact(model_factory):
    """exact=False is the fast path (activations rounded: test_rt_fast.py): every row of a large
    batch gives what a Session(exact=False) gives alone, bit for bit, close to the exact path."""
    path, _ = model_factory(make_config("rrwkv", n_layer=2, n_embd=64, vocab=V, s=3, mode="add"), seed=32)
    model = rrwkv_rt.Model(path)
    fast = rrwkv_rt.Batch(model, capacity=16, exact=False)
    exact = rrwkv_rt.Batch(model, capacity=16)
    assert not fast.exact and exact.exact
    rows_f = [fast.add() for _ in range(16)]
    rows_e = [exact.add() for _ in range(16)]
    alone = rrwkv_rt.Session(model, exact=False)
    rng = np.random.default_rng(3)
    for _ in range(5):
        toks = rng.integers(0, V, 16)
        got, want = fast.step(rows_f, toks), exact.step(rows_e, toks)
        np.testing.assert_array_equal(got[0], alone.step(int(toks[0])))
        assert max_abs(got, want) <= 0.1 * float(np.std(want))