"""Model hyper-parameters shared by the exporter, the file format and the reference models."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

# Per-channel (scalar) WKV state: the architectures the runtime and the trainer handle.
RWKV4_FAMILY = ("rwkv4", "rrwkv")
# A (head_size x head_size) matrix state per head: "rwkv5" is RWKV-5.2 (5.0 and 5.1 are not
# supported), "rwkv6" is RWKV-6 ("Finch"), "rwkv7" is RWKV-7 ("Goose"). Reference models only, so far.
MATRIX_STATE_ARCHES = ("rwkv5", "rwkv6", "rwkv7")
ARCHES = RWKV4_FAMILY + MATRIX_STATE_ARCHES
CM_MODES = ("replace", "add")

# The low-rank ("LoRA") sizes each architecture uses; the others are normalised to 0.
LORA_FIELDS = ("lora_mix", "lora_decay", "lora_a", "lora_v", "lora_gate")
LORA_USED = {
    "rwkv4": (), "rrwkv": (), "rwkv5": (),
    "rwkv6": ("lora_mix", "lora_decay"),
    "rwkv7": ("lora_decay", "lora_a", "lora_v", "lora_gate"),
}
# eps of the ln_x GroupNorm of RWKV-5/6/7: 1e-5 * head_size_divisor**2 with the divisor 8 of RWKV-LM
# (RWKV-LM v5/v6 divide by 8 before the norm; dropping the division and scaling eps by 64 is the
# same function, which is what the rwkv package and RWKV-7 do).
OFFICIAL_GROUP_NORM_EPS = 64e-5


def default_ffn_dim(arch: str, n_embd: int) -> int:
    """The ffn width RWKV-LM uses when none is given: 4C for RWKV-4/7, 3.5C rounded down to 32 for 5/6."""
    if arch in ("rwkv5", "rwkv6"):
        return int((n_embd * 3.5) // 32 * 32) or 4 * n_embd
    return 4 * n_embd


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and shape of one model (see docs/RRWKV.md of the shared spec).

    Fields an architecture does not use are normalised so that two equal configs compare equal:
    for ``rwkv4`` the medium fields become ``medium_interval=1`` and ``cm_mode="replace"`` (as for
    every matrix-state arch); ``head_size``, ``group_norm_eps`` and the ``lora_*`` sizes become 0
    where unused. ``group_norm_eps`` 0 means the official 64e-5 for rwkv5/6/7.

    Low-rank sizes (read from the checkpoint's shapes, never assumed):
      lora_mix    RWKV-6 time_maa_w1/w2 (the data-dependent token shift; w1 holds 5 of them)
      lora_decay  RWKV-6 time_decay_w1/w2, RWKV-7 w1/w2
      lora_a      RWKV-7 a1/a2 (in-context learning rate)
      lora_v      RWKV-7 v1/v2 (value residual)
      lora_gate   RWKV-7 g1/g2 (output gate)
    ``deep_embed`` is RWKV-7 DeepEmbed's rank (csrc/arch/rwkv7/deep_embed.h), 0 for every other model.
    """

    arch: str
    n_layer: int
    n_embd: int
    vocab_size: int
    ffn_dim: int = 0  # 0 means the arch's default (default_ffn_dim)
    medium_interval: int = 1
    cm_mode: str = "replace"
    layer_norm_eps: float = 1e-5
    head_size: int = 0  # rwkv5/6/7: n_head = n_embd // head_size
    group_norm_eps: float = 0.0
    lora_mix: int = 0
    lora_decay: int = 0
    lora_a: int = 0
    lora_v: int = 0
    lora_gate: int = 0
    deep_embed: int = 0  # RWKV-7 DeepEmbed ("v7a"): rank R of the per-token R x R table; 0 = none

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise ValueError(f"arch must be one of {ARCHES}, got {self.arch!r}")
        for name in ("n_layer", "n_embd", "vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.ffn_dim == 0:
            self._set("ffn_dim", default_ffn_dim(self.arch, self.n_embd))
        if not isinstance(self.ffn_dim, int) or self.ffn_dim < 1:
            raise ValueError(f"ffn_dim must be a positive integer, got {self.ffn_dim!r}")
        if self.arch != "rrwkv":
            self._set("medium_interval", 1)
            self._set("cm_mode", "replace")
        if not isinstance(self.medium_interval, int) or self.medium_interval < 1:
            raise ValueError(f"medium_interval must be an integer >= 1, got {self.medium_interval!r}")
        if self.cm_mode not in CM_MODES:
            raise ValueError(f"cm_mode must be one of {CM_MODES}, got {self.cm_mode!r}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps!r}")
        self._check_matrix_state_fields()

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    def _check_matrix_state_fields(self) -> None:
        for name in LORA_FIELDS:
            if name not in LORA_USED[self.arch]:
                self._set(name, 0)
            elif not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{self.arch} needs {name} (a low-rank size read from the checkpoint's shapes) "
                                 f"to be a positive integer, got {getattr(self, name)!r}")
        if self.arch != "rwkv7":
            self._set("deep_embed", 0)
        elif not isinstance(self.deep_embed, int) or not 0 <= self.deep_embed <= 1024:
            raise ValueError(f"deep_embed must be an integer in 0..1024 (0: no DeepEmbed), got {self.deep_embed!r}")
        if not self.has_matrix_state:
            self._set("head_size", 0)
            self._set("group_norm_eps", 0.0)
            return
        if not isinstance(self.head_size, int) or self.head_size < 1:
            raise ValueError(f"{self.arch} needs head_size to be a positive integer (64 in the released "
                             f"models), got {self.head_size!r}")
        if self.n_embd % self.head_size:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of head_size ({self.head_size})")
        if self.group_norm_eps == 0:
            self._set("group_norm_eps", OFFICIAL_GROUP_NORM_EPS)
        if not self.group_norm_eps > 0:
            raise ValueError(f"group_norm_eps must be > 0 (0 means the official {OFFICIAL_GROUP_NORM_EPS}), "
                             f"got {self.group_norm_eps!r}")

    @property
    def is_rrwkv(self) -> bool:
        return self.arch == "rrwkv"

    @property
    def has_matrix_state(self) -> bool:
        return self.arch in MATRIX_STATE_ARCHES

    @property
    def n_head(self) -> int:
        """Heads of the matrix state (0 for the RWKV-4 family)."""
        return self.n_embd // self.head_size if self.head_size else 0

    def to_dict(self) -> dict:
        """Every field this arch uses, exactly the keys of its .rrwkv header (``_core.config_fields``)
        plus ``arch``, so ``ModelConfig(**d)`` round-trips."""
        d = asdict(self)
        if not self.has_matrix_state:
            del d["head_size"], d["group_norm_eps"]
        else:  # the medium fields are RWKV-4 / RRWKV's (an RWKV-4 header stores 1 and "replace")
            del d["medium_interval"], d["cm_mode"]
        for name in LORA_FIELDS:
            if name not in LORA_USED[self.arch]:
                del d[name]
        if not self.deep_embed:  # an optional header field, absent when 0 (C++ ConfigField::optional)
            del d["deep_embed"]
        return d

    def with_(self, **changes) -> "ModelConfig":
        return replace(self, **changes)
