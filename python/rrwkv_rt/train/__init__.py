"""Training RWKV-4 / RRWKV models (``python -m rrwkv_rt train``; docs/TRAINING.md).

Modules: ``config`` the hyper-parameters and the command line, ``data`` the corpus (the Python
standard library's own sources by default), ``loop`` the training loop, ``checkpointing`` atomic
resumable checkpoints, ``distributed`` torchrun / DDP, ``wkv_chunked`` a fast torch WKV for
training. Importing this package does not import torch; ``loop`` and the others do.
"""
from .options import TrainConfig

__all__ = ["TrainConfig", "train"]


def train(cfg: TrainConfig):
    """Run a training job; see :func:`rrwkv_rt.train.loop.train`."""
    from .loop import train as _train
    return _train(cfg)
