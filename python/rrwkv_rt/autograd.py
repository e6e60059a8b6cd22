"""The C++/CUDA WKV kernels (csrc/kernels/wkv) as differentiable torch functions.

:func:`wkv_scan_kernel` has the signature and results of :func:`rrwkv_rt.reference.wkv_scan`, so it
drops into the reference model's pluggable scan::

    from rrwkv_rt.autograd import use_kernels
    use_kernels(model)           # this model's forward() now runs the kernels
    use_kernels(model, False)    # back to the pure-PyTorch scan

The native module is called on raw buffers (``data_ptr()``, sizes, the CUDA stream as an integer),
so it never links against libtorch and one build serves every torch version. Element types: float32
and float64 on the CPU; float32, float64 and bfloat16 on CUDA (bf16 in/out, f32 math); other dtypes
run in float32 and are converted back. In a build with the GPU emulation (``_core.gpu_emulated()``),
``with emulated_gpu():`` runs the kernels of CPU tensors on the emulated device, so the GPU path is
tested on machines without a GPU. The backward pass recomputes from checkpoints that forward
saves every ``_core.WKV_CHECKPOINT_INTERVAL`` tokens, so sequence length has no ceiling.

Gradients flow into w, u, k, v, wm, bm, km, vm. The state is not differentiable: the state a scan
returns is marked so, and no gradient goes into the state it starts from (training starts from the
initial state; chunked training is truncated backpropagation through time at chunk borders).
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager, nullcontext
from typing import Iterator, Optional

import torch
from torch import Tensor

from . import _core
from .reference.wkv import WkvState

__all__ = ["WkvFunction", "wkv_scan_kernel", "use_kernels", "uses_kernels", "emulated_gpu"]

_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.bfloat16: "bfloat16"}
_EMULATED = contextvars.ContextVar("rrwkv_emulated_gpu", default=False)


@contextmanager
def emulated_gpu() -> Iterator[None]:
    """Within the block, the kernels of CPU tensors run on the emulated CUDA device (HIP-CPU).

    Only in a build with ``RRWKV_GPU_EMULATION=ON``, where device memory is host memory; for
    testing the GPU kernels and their Python path without a GPU (it is slower than the CPU path).
    Raises RuntimeError in any other build.
    """
    if not _core.gpu_emulated():
        raise RuntimeError("emulated_gpu() needs a build with the GPU emulation (pip install . "
                           f"-Ccmake.define.RRWKV_GPU_EMULATION=ON); this build: {_core.cuda_status()}")
    token = _EMULATED.set(True)
    try:
        yield
    finally:
        _EMULATED.reset(token)


def _on_gpu(t: Tensor) -> bool:
    return t.is_cuda or _EMULATED.get()


def _io_dtype(k: Tensor) -> torch.dtype:
    """Element type the kernels run on for inputs of k's dtype and device."""
    if k.dtype == torch.float64 or (k.dtype == torch.bfloat16 and _on_gpu(k)):
        return k.dtype
    return torch.float32


def _math_dtype(io: torch.dtype) -> torch.dtype:
    return torch.float64 if io == torch.float64 else torch.float32


def _ptr(t: Optional[Tensor]) -> int:
    return 0 if t is None or t.numel() == 0 else t.data_ptr()


def _prep(t: Optional[Tensor], dtype: torch.dtype) -> Optional[Tensor]:
    return None if t is None else t.detach().to(dtype).contiguous()


def _where(t: Tensor) -> dict:
    if t.is_cuda:
        return {"device": t.device.index, "stream": torch.cuda.current_stream(t.device).cuda_stream, "n_threads": 0}
    if _EMULATED.get():
        return {"device": 0, "stream": 0, "n_threads": 0}
    return {"device": -1, "stream": 0, "n_threads": torch.get_num_threads()}


def _check(w, u, k, v, wm, bm, km, vm, state, pos, s) -> int:
    """Shape checks the raw-buffer API cannot do; returns J, the number of mediums."""
    if k.dim() != 3 or v.shape != k.shape:
        raise ValueError(f"wkv: k and v must both be (B, T, C), got {tuple(k.shape)} and {tuple(v.shape)}")
    B, T, C = k.shape
    for name, t in (("w", w), ("u", u)) + ((("wm", wm), ("bm", bm)) if wm is not None else ()):
        if t is None or t.shape != (C,):
            raise ValueError(f"wkv: {name} must be ({C},), got {None if t is None else tuple(t.shape)}")
    if s < 1 or pos < 0:
        raise ValueError(f"wkv: need s >= 1 and pos >= 0, got s={s}, pos={pos}")
    want = _core.wkv_medium_count(pos, T, s) if wm is not None else 0
    J = 0 if km is None else km.shape[1]
    if J != want:
        raise ValueError(f"wkv_scan: {J} mediums given but {want} segments end in the chunk (pos={pos}, T={T}, s={s})")
    if J and (km.shape != (B, J, C) or vm is None or vm.shape != km.shape):
        raise ValueError(f"wkv: km and vm must both be (B, J, C) = {(B, J, C)}, got {tuple(km.shape)} and "
                         f"{None if vm is None else tuple(vm.shape)}")
    if state is not None and state.shape != (6, B, C):
        raise ValueError(f"wkv: the state must be 6 tensors of (B, C) = {(B, C)}, got {tuple(state.shape)}")
    for name, t in (("u", u), ("v", v), ("w", w), ("wm", wm), ("bm", bm), ("km", km), ("vm", vm), ("state", state)):
        if t is not None and t.device != k.device:
            raise ValueError(f"wkv: {name} is on {t.device} but k is on {k.device}; put every input on one device")
    return J


class WkvFunction(torch.autograd.Function):
    """``y, state_out = WkvFunction.apply(w, u, k, v, wm, bm, km, vm, state, pos, s)``.

    w, u, wm, bm: (C,); k, v: (B, T, C); km, vm: (B, J, C) or None; wm = bm = km = vm = None for
    RWKV-4; state: (6, B, C) stacked (aa, bb, pp, ma, mb, mp) or None for the initial state.
    y has k's dtype; state_out (6, B, C) is float32 (float64 for float64 inputs), not differentiable.
    """

    @staticmethod
    def forward(ctx, w, u, k, v, wm, bm, km, vm, state, pos: int, s: int):
        J = _check(w, u, k, v, wm, bm, km, vm, state, pos, s)
        io = _io_dtype(k)
        m = _math_dtype(io)
        B, T, C = k.shape
        w_, u_, wm_, bm_, st_ = (_prep(t, m) for t in (w, u, wm, bm, state))
        k_, v_, km_, vm_ = (_prep(t, io) for t in (k, v, km, vm))
        medium = wm is not None
        y = torch.empty(B, T, C, dtype=io, device=k.device)
        st_out = torch.empty(6, B, C, dtype=m, device=k.device)
        train = any(ctx.needs_input_grad)
        ckpt = torch.empty(_core.wkv_checkpoint_count(T), 6, B, C, dtype=m, device=k.device) if train else None
        where = _where(k)
        with torch.cuda.device(k.device) if k.is_cuda else nullcontext():
            _core.wkv_forward(B=B, T=T, C=C, J=J, pos=pos, s=s, medium=medium, dtype=_NAMES[io], **where,
                              w=_ptr(w_), u=_ptr(u_), wm=_ptr(wm_), bm=_ptr(bm_), k=_ptr(k_), v=_ptr(v_),
                              km=_ptr(km_), vm=_ptr(vm_), state_in=_ptr(st_), y=_ptr(y),
                              state_out=_ptr(st_out), ckpt=_ptr(ckpt))
        if where["device"] >= 0 and not k.is_cuda:
            _core.cuda_synchronize()  # emulated device: torch reads these CPU tensors next, unordered
        ctx.mark_non_differentiable(st_out)
        if train:
            ctx.save_for_backward(w_, u_, k_, v_, wm_, bm_, km_, vm_, ckpt)
            ctx.meta = (B, T, C, J, pos, s, medium, io, m)
            ctx.emulated = _EMULATED.get() and not k.is_cuda  # backward runs where forward ran
            ctx.in_dtypes = tuple(None if t is None else t.dtype for t in (w, u, k, v, wm, bm, km, vm))
        return y.to(k.dtype), st_out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy, _gstate):
        w_, u_, k_, v_, wm_, bm_, km_, vm_, ckpt = ctx.saved_tensors
        B, T, C, J, pos, s, medium, io, m = ctx.meta
        dev = k_.device
        gy = torch.zeros(B, T, C, dtype=io, device=dev) if gy is None else gy.to(io).contiguous()
        gk, gv = torch.empty_like(k_), torch.empty_like(v_)
        gw, gu = torch.empty(C, dtype=m, device=dev), torch.empty(C, dtype=m, device=dev)
        gwm = gbm = gkm = gvm = None
        if medium:
            gwm, gbm = torch.empty(C, dtype=m, device=dev), torch.empty(C, dtype=m, device=dev)
            gkm, gvm = torch.empty(B, J, C, dtype=io, device=dev), torch.empty(B, J, C, dtype=io, device=dev)
        where = {"device": 0, "stream": 0, "n_threads": 0} if ctx.emulated else _where(k_)
        with torch.cuda.device(dev) if k_.is_cuda else nullcontext():
            _core.wkv_backward(B=B, T=T, C=C, J=J, pos=pos, s=s, medium=medium, dtype=_NAMES[io], **where,
                               w=_ptr(w_), u=_ptr(u_), wm=_ptr(wm_), bm=_ptr(bm_), k=_ptr(k_), v=_ptr(v_),
                               km=_ptr(km_), vm=_ptr(vm_), ckpt=_ptr(ckpt), gy=_ptr(gy), gk=_ptr(gk),
                               gv=_ptr(gv), gw=_ptr(gw), gu=_ptr(gu), gwm=_ptr(gwm), gbm=_ptr(gbm),
                               gkm=_ptr(gkm), gvm=_ptr(gvm))
        if ctx.emulated:
            _core.cuda_synchronize()
        grads = [gw, gu, gk, gv, gwm, gbm, gkm, gvm]
        out = [None if g is None or dt is None or not need else g.to(dt)
               for g, dt, need in zip(grads, ctx.in_dtypes, ctx.needs_input_grad)]
        return (*out, None, None, None)


def wkv_scan_kernel(w: Tensor, u: Tensor, k: Tensor, v: Tensor,
                    wm: Optional[Tensor], bm: Optional[Tensor], km_seq: Optional[Tensor], vm_seq: Optional[Tensor],
                    state: WkvState, pos: int = 0, s: int = 1) -> tuple[Tensor, WkvState]:
    """:func:`rrwkv_rt.reference.wkv_scan` on the native kernels (same arguments, same results).

    The returned state has the dtype of ``state`` and carries no gradient.
    """
    if km_seq is not None and km_seq.shape[1] == 0:
        km_seq = vm_seq = None
    io = _io_dtype(k)
    st = torch.stack([t.detach().to(_math_dtype(io)) for t in state])
    y, st_out = WkvFunction.apply(w, u, k, v, wm, bm, km_seq, vm_seq, st, int(pos), int(s))
    return y, WkvState(*(t.to(state.aa.dtype) for t in st_out.unbind(0)))


def use_kernels(model: torch.nn.Module, enabled: bool = True) -> torch.nn.Module:
    """Make ``model`` (a reference ``RWKV``) run its WKV scans on the kernels, or back on torch.

    Only ``forward()`` (the production form) uses the scan; ``step()`` and ``forward_definitional()``
    are unaffected. Returns the model.
    """
    if enabled:
        model.wkv_impl = wkv_scan_kernel
    else:
        model.__dict__.pop("wkv_impl", None)
    return model


def uses_kernels(model: torch.nn.Module) -> bool:
    return model.__dict__.get("wkv_impl") is wkv_scan_kernel
