"""rrwkv_rt: an embeddable runtime for RWKV-4 and RRWKV language models.

``import rrwkv_rt`` never needs torch; the PyTorch reference model (``rrwkv_rt.reference``) and
exporting from ``.pth`` files need torch.
"""
from ._core import FORMAT_VERSION, FormatError, ModelFile, StateMismatchError
from ._core import __version__
from .config import ModelConfig
from . import generate as _generate, state_file as _state_file
from .generate import Sampler, default_model_path
from .native import get_cmake_dir, get_include, get_library_dir
from .session import Batch, Model, Session
from .tokenizer import Tokenizer

# Session is the native class (session.py); generation and state files are written in Python on
# top and attached here, so every Session has them (clones and sessions made by _core included).
Session.generate = _generate.generate
Session.save_state = _state_file.save_state
Session.load_state = _state_file.load_state

FormatError.__module__ = "rrwkv_rt"
StateMismatchError.__module__ = "rrwkv_rt"

__all__ = [
    "Batch", "FORMAT_VERSION", "FormatError", "Model", "ModelConfig", "ModelFile", "Sampler", "Session",
    "StateMismatchError", "Tokenizer",
    "__version__", "default_model_path", "get_cmake_dir", "get_include", "get_library_dir",
]
