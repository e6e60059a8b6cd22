"""The standalone WKV scan (the kernel-swap point) against the definitional form."""
import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.reference import initial_wkv_state, segment_means, wkv_definitional, wkv_scan  # noqa: E402
from rrwkv_rt.reference.wkv import segment_end_offsets  # noqa: E402

B, T, C = 2, 23, 5


def _inputs(s, dtype=torch.float64, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype)  # noqa: E731
    w, wm = torch.exp(r(C).clamp(-3, 1)), torch.exp(r(C).clamp(-3, 1))
    u, bm = r(C), r(C)
    k, v = scale * r(B, T, C), r(B, T, C)
    km, vm = scale * r(B, T // s, C), r(B, T // s, C)
    return w, u, k, v, wm, bm, km, vm


@pytest.mark.parametrize("s", [1, 2, 5, 30])
@pytest.mark.parametrize("chunks", [[23], [4, 9, 10], [1] * 23])
def test_scan_in_chunks_equals_definitional(s, chunks):
    w, u, k, v, wm, bm, km, vm = _inputs(s)
    ref = wkv_definitional(w, u, k, v, wm, bm, km, vm, s)
    st, outs, pos, j = initial_wkv_state(B, C, torch.float64), [], 0, 0
    for n in chunks:
        J = len(segment_end_offsets(pos, n, s))
        out, st = wkv_scan(w, u, k[:, pos:pos + n], v[:, pos:pos + n], wm, bm, km[:, j:j + J], vm[:, j:j + J],
                           st, pos, s)
        outs.append(out)
        pos, j = pos + n, j + J
    assert j == T // s
    assert (torch.cat(outs, dim=1) - ref).abs().max().item() <= 1e-12


def test_rwkv4_scan_equals_definitional():
    w, u, k, v, *_ = _inputs(1)
    out, _ = wkv_scan(w, u, k, v, None, None, None, None, initial_wkv_state(B, C, torch.float64), 0, 1)
    assert (out - wkv_definitional(w, u, k, v)).abs().max().item() <= 1e-12


def test_scan_is_stable_for_large_keys():
    w, u, k, v, wm, bm, km, vm = _inputs(3, scale=40.0, seed=1)  # e^k overflows float32 naively
    ref = wkv_definitional(w, u, k, v, wm, bm, km, vm, 3)
    out, st = wkv_scan(w.float(), u.float(), k.float(), v.float(), wm.float(), bm.float(), km.float(),
                       vm.float(), initial_wkv_state(B, C), 0, 3)
    assert all(torch.isfinite(t).all() for t in st)
    assert (out.double() - ref).abs().max().item() <= 1e-4


def test_scan_checks_the_number_of_mediums():
    w, u, k, v, wm, bm, km, vm = _inputs(5)
    with pytest.raises(ValueError, match="mediums"):
        wkv_scan(w, u, k, v, wm, bm, km[:, :2], vm[:, :2], initial_wkv_state(B, C, torch.float64), 0, 5)


@pytest.mark.parametrize("pos", [0, 1, 4, 7, 12])
@pytest.mark.parametrize("s", [1, 3, 5])
def test_segment_means_against_brute_force(pos, s):
    g = torch.Generator().manual_seed(pos * 10 + s)
    history = torch.randn(1, pos + 11, 4, generator=g, dtype=torch.float64)
    x = history[:, pos:]
    carry = history[:, pos - pos % s:pos].sum(dim=1)
    means, rest = segment_means(x, carry, pos, s)
    ends = [p for p in range(pos, pos + 11) if (p + 1) % s == 0]
    assert [pos + t for t in segment_end_offsets(pos, 11, s)] == ends
    want = [history[:, e - s + 1:e + 1].mean(dim=1) for e in ends]
    assert means.shape == (1, len(ends), 4)
    for j, m in enumerate(want):
        assert (means[:, j] - m).abs().max().item() <= 1e-12
    end = pos + 11
    assert (rest - history[:, end - end % s:end].sum(dim=1)).abs().max().item() <= 1e-12
