"""Model hyper-parameters shared by the exporter, the file format and the reference models.

The fields, their defaults and which architecture stores which are the C++ runtime's
(format/config.h, each architecture's config_fields), read here through the bindings; the
dataclass below names the fields for readers and type checkers, and the import fails if they
are not exactly the runtime's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from . import _core

_DEFAULT = _core.CONFIG_DEFAULTS  # every field's default but arch's
# the header fields each architecture stores ('arch' aside), in the runtime's order
ARCH_FIELDS = {name: tuple(key for key, *_ in _core.config_fields(name)) for name, _ in _core.architectures()}
OPTIONAL_FIELDS = {key for name in ARCH_FIELDS for key, _, optional in _core.config_fields(name) if optional}
ARCHES = tuple(ARCH_FIELDS)
# A (head_size x head_size) matrix state per head: "rwkv5" is RWKV-5.2 (5.0 and 5.1 are not
# supported), "rwkv6" is RWKV-6 ("Finch"), "rwkv7" is RWKV-7 ("Goose"): the architectures with a
# head size. The others keep a per-channel (scalar) WKV state: RWKV-4 and RRWKV, which the
# trainer handles too.
MATRIX_STATE_ARCHES = tuple(a for a in ARCHES if "head_size" in ARCH_FIELDS[a])
RWKV4_FAMILY = tuple(a for a in ARCHES if a not in MATRIX_STATE_ARCHES)
CM_MODES = ("replace", "add")

# The low-rank ("LoRA") sizes each architecture uses; the others are normalised to 0.
LORA_FIELDS = tuple(key for key in _DEFAULT if key.startswith("lora_"))
LORA_USED = {a: tuple(key for key in ARCH_FIELDS[a] if key in LORA_FIELDS) for a in ARCHES}
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
    ffn_dim: int = _DEFAULT["ffn_dim"]  # 0 means the arch's default (default_ffn_dim)
    medium_interval: int = _DEFAULT["medium_interval"]
    cm_mode: str = _DEFAULT["cm_mode"]
    layer_norm_eps: float = _DEFAULT["layer_norm_eps"]
    head_size: int = _DEFAULT["head_size"]  # rwkv5/6/7: n_head = n_embd // head_size
    group_norm_eps: float = _DEFAULT["group_norm_eps"]
    lora_mix: int = _DEFAULT["lora_mix"]
    lora_decay: int = _DEFAULT["lora_decay"]
    lora_a: int = _DEFAULT["lora_a"]
    lora_v: int = _DEFAULT["lora_v"]
    lora_gate: int = _DEFAULT["lora_gate"]
    deep_embed: int = _DEFAULT["deep_embed"]  # RWKV-7 DeepEmbed ("v7a"): rank R of the per-token R x R table

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
        if "deep_embed" not in ARCH_FIELDS[self.arch]:
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
        stored = ("arch",) + ARCH_FIELDS[self.arch]
        d = {key: value for key, value in asdict(self).items() if key in stored}
        for key in OPTIONAL_FIELDS & set(d):  # absent when 0 (C++ ConfigField::optional)
            if not d[key]:
                del d[key]
        return d

    def with_(self, **changes) -> "ModelConfig":
        return replace(self, **changes)


if {f.name for f in fields(ModelConfig)} != {"arch", *_DEFAULT}:
    raise ImportError(f"ModelConfig's fields {sorted(f.name for f in fields(ModelConfig))} are not the runtime's "
                      f"{sorted(['arch', *_DEFAULT])}: a field was added to one side only (format/config.h)")
