"""PyTorch reference model of RWKV-4 / RRWKV (docs/RRWKV.md). The only subpackage that needs torch."""
from .init import init_weights, random_model, warm_start_from_rwkv4
from .model import RWKV, segment_means
from .state import FIELDS, State
from .wkv import PP_INIT, WkvState, initial_wkv_state, wkv_definitional, wkv_scan, wkv_step

__all__ = [
    "RWKV", "State", "FIELDS", "PP_INIT", "WkvState", "initial_wkv_state", "wkv_scan", "wkv_step",
    "wkv_definitional", "segment_means", "init_weights", "random_model", "warm_start_from_rwkv4",
]
