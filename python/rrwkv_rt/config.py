"""Model hyper-parameters shared by the exporter, the file format and the reference model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

ARCHES = ("rwkv4", "rrwkv")
CM_MODES = ("replace", "add")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and shape of one model (see docs/RRWKV.md of the shared spec).

    For ``rwkv4`` the medium fields are ignored and normalised to ``medium_interval=1`` and
    ``cm_mode="replace"`` so that two equal RWKV-4 configs compare equal.
    """

    arch: str
    n_layer: int
    n_embd: int
    vocab_size: int
    ffn_dim: int = 0  # 0 means the default 4 * n_embd
    medium_interval: int = 1
    cm_mode: str = "replace"
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise ValueError(f"arch must be one of {ARCHES}, got {self.arch!r}")
        for name in ("n_layer", "n_embd", "vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.ffn_dim == 0:
            object.__setattr__(self, "ffn_dim", 4 * self.n_embd)
        if not isinstance(self.ffn_dim, int) or self.ffn_dim < 1:
            raise ValueError(f"ffn_dim must be a positive integer, got {self.ffn_dim!r}")
        if self.arch == "rwkv4":
            object.__setattr__(self, "medium_interval", 1)
            object.__setattr__(self, "cm_mode", "replace")
        if not isinstance(self.medium_interval, int) or self.medium_interval < 1:
            raise ValueError(f"medium_interval must be an integer >= 1, got {self.medium_interval!r}")
        if self.cm_mode not in CM_MODES:
            raise ValueError(f"cm_mode must be one of {CM_MODES}, got {self.cm_mode!r}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps!r}")

    @property
    def is_rrwkv(self) -> bool:
        return self.arch == "rrwkv"

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> "ModelConfig":
        return replace(self, **changes)
