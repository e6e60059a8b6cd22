"""Multi-process training with torchrun and DDP.

``torchrun --nproc_per_node N -m rrwkv_rt train ...`` (or ``python -m torch.distributed.run``)
sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous variables; a plain ``python -m rrwkv_rt
train`` is one process with no process group at all. The backend is NCCL on GPUs and gloo on the
CPU. Each process computes the gradient of its slice of the global batch; DDP averages them, so
with equal slices the step is that of the whole batch on one process.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: this torch build has no usable CUDA device; use --device cpu")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    return dev


def init(device_name: str) -> tuple[Dist, torch.device]:
    """Set up the process group from torchrun's environment (if any) and pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local)
    d = Dist(rank, local, world)
    if d.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return d, device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def end_worker_process() -> None:
    """End a torchrun worker process right after a finished run (``rrwkv train``): flush, then
    ``os._exit(0)``. A no-op outside torchrun (WORLD_SIZE 1 or unset).

    Why: a DDP module keeps torch's gloo process group alive past ``destroy_process_group()``
    (torch 2.13: its worker threads still run after a DDP module is built and freed), so they
    are still there when the interpreter shuts down. If one is then releasing the last
    collective's tensors, it asks for the GIL of a finalizing interpreter, which ends the thread
    with pthread_exit inside a noexcept frame: the process aborts ("terminate called without an
    active exception", exit -6) after the run has finished and saved, and torchrun reports the
    job failed. Seen in about 1 of 100-200 runs of tests/train/test_train_ddp.py under load; the
    backtrace goes through ProcessGroupGloo::runLoop and TensorImpl::decref_pyobject. By then
    train() has closed what it writes (checkpoints and exports atomic and fsync'ed), and Python's
    own streams are flushed here, so skipping the teardown loses nothing.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


def wrap(model: torch.nn.Module, d: Dist, device: torch.device) -> torch.nn.Module:
    """The module to call for training: the model itself, or a DDP wrapper of it."""
    if not d.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP
    ids = [device.index] if device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def all_mean(values: list[float], d: Dist, device: torch.device) -> list[float]:
    """Mean over processes of each value (identity on one process)."""
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / d.world_size).tolist()


def all_sum(values: list[float], d: Dist, device: torch.device) -> list[float]:
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()
