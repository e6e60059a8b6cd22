"""PyTorch reference models: RWKV-4 / RRWKV (docs/RRWKV.md) and RWKV-5.2, 6, 7 (the official
checkpoints' math; see each module's doc). The only subpackage that needs torch."""
from .init import init_weights, warm_start_from_rwkv4
from .matrix_model import MatrixStateModel
from .matrix_state import KeyValueState, MatrixState, ValueKeyState
from .model import RWKV, random_model, segment_means
from .rwkv5 import RWKV5
from .rwkv6 import RWKV6
from .rwkv7 import RWKV7
from .state import FIELDS, State
from .wkv import PP_INIT, WkvState, initial_wkv_state, wkv_definitional, wkv_scan, wkv_step

MODEL_CLASSES = {"rwkv4": RWKV, "rrwkv": RWKV, "rwkv5": RWKV5, "rwkv6": RWKV6, "rwkv7": RWKV7}


def from_state_dict(sd: dict, **kwargs):
    """The reference model of an official-layout state dict of any supported arch (detected from its
    keys); ``kwargs`` go to that class's ``from_state_dict`` (e.g. ``dtype``, RRWKV's medium_interval)."""
    from ..arch import detect_arch
    tensors = {k: v for k, v in sd.items() if hasattr(v, "shape")}  # the loader reports the other entries
    arch = detect_arch(tensors) if "emb.weight" in tensors else "rwkv4"  # rwkv4: its loader reports what is missing
    return MODEL_CLASSES[arch].from_state_dict(sd, **kwargs)


__all__ = [
    "RWKV", "RWKV5", "RWKV6", "RWKV7", "MODEL_CLASSES", "from_state_dict", "MatrixStateModel", "MatrixState",
    "KeyValueState", "ValueKeyState", "State", "FIELDS", "PP_INIT", "WkvState", "initial_wkv_state", "wkv_scan",
    "wkv_step", "wkv_definitional", "segment_means", "init_weights", "random_model", "warm_start_from_rwkv4",
]
