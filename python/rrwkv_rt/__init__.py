"""rrwkv_rt: an embeddable runtime for RWKV-4 and RRWKV language models.

``import rrwkv_rt`` needs only numpy; the PyTorch reference model (``rrwkv_rt.reference``) and
exporting from ``.pth`` files need torch.
"""
from ._core import FORMAT_VERSION, FormatError, ModelFile
from ._core import __version__
from .config import ModelConfig

FormatError.__module__ = "rrwkv_rt"

__all__ = ["FORMAT_VERSION", "FormatError", "ModelConfig", "ModelFile", "__version__"]
