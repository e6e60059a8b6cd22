"""rrwkv_rt: an embeddable runtime for RWKV-family language models and RRWKV.

``import rrwkv_rt`` never needs torch; the PyTorch reference models (``rrwkv_rt.reference``),
exporting from ``.pth`` files, training (``rrwkv_rt.train``) and the autograd functions of the
native kernels (``rrwkv_rt.autograd``) do.

The package: ``runtime`` (Model, Session, Batch, generation, state files), ``io`` (checkpoints,
the .rrwkv writer, the exporter), ``arch`` (each architecture's checkpoint layout and export
transforms), ``cli`` (``python -m rrwkv_rt``), ``tokenizer``, ``server`` (``rrwkv serve``; needs the extra
``rrwkv_rt[server]``), and the torch-only ``reference``, ``train`` and ``autograd``.
"""
from ._core import FORMAT_VERSION, FormatError, ModelFile, StateMismatchError
from ._core import __version__
from .config import ModelConfig
from .native import get_cmake_dir, get_include, get_library_dir
from .runtime import Batch, Model, Session
from .runtime.embeddings import embed
from .runtime.generate import Sampler, default_model_path
from .tokenizer import Tokenizer

FormatError.__module__ = "rrwkv_rt"
StateMismatchError.__module__ = "rrwkv_rt"

__all__ = [
    "Batch", "FORMAT_VERSION", "FormatError", "Model", "ModelConfig", "ModelFile", "Sampler", "Session",
    "StateMismatchError", "Tokenizer",
    "__version__", "default_model_path", "embed", "get_cmake_dir", "get_include", "get_library_dir",
]
