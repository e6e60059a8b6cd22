"""Shared helpers of the WKV kernel tests: realistic inputs and a validate_result-style comparison.

A plain module (not conftest.py: the suite has several conftest modules, and importing one by name
is ambiguous); pytest puts this directory on sys.path for the tests in it.
"""
import math


def wkv_inputs(B, T, C, s, dtype, medium=True, seed=0, pos=0, device="cpu", k_scale=2.0):
    """w, u, k, v, wm, bm, km, vm as the model feeds them (paper-like decay schedules, O(1) keys).

    km, vm cover the mediums that end in [pos, pos + T); None for RWKV-4.
    """
    import torch

    from rrwkv_rt import _core

    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    h = torch.arange(C, dtype=torch.float64) / max(C - 1, 1)
    decay = -5 + 8 * h ** 0.7 + 0.1 * r(C)                  # time_decay: w = exp(.) in [0.007, 20]
    w = torch.exp(decay)
    u = math.log(0.3) + 0.5 * ((torch.arange(C) + 1) % 3 - 1) + 0.1 * r(C)
    k, v = k_scale * r(B, T, C), r(B, T, C)
    wm = bm = km = vm = None
    if medium:
        J = _core.wkv_medium_count(pos, T, s)
        wm, bm = torch.exp(decay.flip(0) + 0.1 * r(C)), math.log(0.3) + 0.3 * r(C)
        km, vm = k_scale * r(B, J, C), r(B, J, C)
    out = [w, u, k, v, wm, bm, km, vm]
    return [None if t is None else t.to(dtype=dtype, device=device) for t in out]


def assert_close(name, got, want, rtol, atol=None):
    """|got - want| <= atol + rtol*|want| elementwise (atol defaults to rtol * max|want|, i.e. rtol
    relative to the tensor's scale); on failure names the first mismatches and their indices."""
    import torch

    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    assert torch.isfinite(got).all(), f"{name}: non-finite values"
    scale = want.abs().max().item() if want.numel() else 0.0
    if atol is None:
        atol = rtol * max(scale, 1e-30)
    bad = (got - want).abs() > atol + rtol * want.abs()
    if bad.any():
        idx = bad.nonzero()[:5].tolist()
        lines = [f"  {tuple(i)}: got {got[tuple(i)].item():.9g}, want {want[tuple(i)].item():.9g}" for i in idx]
        err = ((got - want).abs().max() / max(scale, 1e-30)).item()
        raise AssertionError(f"{name}: {int(bad.sum())} of {got.numel()} values differ (max error {err:.3g} of "
                             f"the scale {scale:.3g}, rtol {rtol}):\n" + "\n".join(lines))
