"""Hugging Face model folders (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``,
sharded or not) read as official-layout state dicts:

* ``model_type: rwkv``  — transformers' ``RwkvForCausalLM`` (RWKV-4: the RWKV/rwkv-4-* and Raven
  models);
* ``model_type: rwkv7`` — flash-linear-attention's ``RWKV7ForCausalLM`` (the fla-hub RWKV-7 models).

Names are mapped to BlinkDL's and the few tensors stored in another form are transformed
(docs/FORMAT.md lists both). A tensor no rule maps keeps its Hugging Face name, so the exporter's
check of unused tensors names it. The folder's ``tokenizer.json`` becomes the model's tokenizer.
No torch needed for .safetensors folders; pytorch_model.bin needs it.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

from .checkpoint import StateDict, load_safetensors, precision_of

LAYOUTS = {
    "rwkv": ("hf-transformers-rwkv", "transformers RwkvForCausalLM (RWKV-4)"),
    "rwkv7": ("hf-fla-rwkv7", "flash-linear-attention RWKV7ForCausalLM (RWKV-7)"),
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def is_hf_folder(path: str | os.PathLike) -> bool:
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json"))


def describe(layout: str) -> str:
    """'hf-fla-rwkv7' -> the source's name in words, for messages and metadata."""
    return next((words for name, words in LAYOUTS.values() if name == layout), layout)


def load_folder(path: str | os.PathLike) -> StateDict:
    """The folder's weights in the official layout, with the source's precision, its tokenizer.json
    and the config fields its config.json sets (StateDict attributes)."""
    path = os.fspath(path)
    config = _read_config(path)
    model_type = config.get("model_type")
    if model_type not in LAYOUTS:
        raise ValueError(f"Hugging Face folder {path!r} holds a model of type {model_type!r}; rrwkv_rt reads "
                         + " and ".join(f"{t!r} ({words})" for t, (_, words) in LAYOUTS.items()))
    weights, precision = _read_weights(path)
    convert = _from_transformers_rwkv if model_type == "rwkv" else _from_fla_rwkv7
    sd_dict, changes = convert(weights, config, path)
    sd = StateDict(sd_dict)
    sd.layout = LAYOUTS[model_type][0]
    sd.source_dtype = precision
    sd.config_changes = changes
    tok = os.path.join(path, "tokenizer.json")
    sd.tokenizer_path = tok if os.path.exists(tok) else None
    return sd


def _read_config(path: str) -> dict:
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {os.path.join(path, 'config.json')!r} as JSON ({e})") from e
    if not isinstance(config, dict):
        raise ValueError(f"{os.path.join(path, 'config.json')!r} is not a JSON object")
    return config


def _read_weights(path: str) -> tuple[dict[str, np.ndarray], str]:
    """name -> float32 array of the folder's weight files, and their precision."""
    found = [f for f in WEIGHT_FILES if os.path.exists(os.path.join(path, f))]
    if not found:
        raise FileNotFoundError(f"Hugging Face folder {path!r} has no weights: expected one of {', '.join(WEIGHT_FILES)}")
    first = found[0]
    if first.endswith(".index.json"):
        with open(os.path.join(path, first), encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map")
        if not isinstance(weight_map, dict):
            raise ValueError(f"{os.path.join(path, first)!r} has no 'weight_map' object; the index file is damaged")
        shards = sorted(set(weight_map.values()))
    else:
        shards = [first]
    out: dict[str, np.ndarray] = {}
    kinds: list[str] = []
    for shard in shards:
        part, precision = _read_shard(os.path.join(path, shard))
        out.update(part)
        kinds.append(precision)
    return out, precision_of(kinds)


def _read_shard(file: str) -> tuple[dict[str, np.ndarray], str]:
    if file.endswith(".safetensors"):
        loaded = load_safetensors(file)
        return dict(loaded), loaded.source_dtype_found
    from .checkpoint import _to_numpy, torch_load
    obj = torch_load(file, "reading pytorch_model.bin", "expected a PyTorch state dict (name -> tensor)")
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise ValueError(f"{file!r} is not a state dict (name -> tensor)")
    precision = precision_of([str(v.dtype) for v in obj.values() if len(v.shape) == 2])
    return {k: _to_numpy(v) for k, v in obj.items()}, precision


def _rename(weights: dict, rules: list[tuple[str, str]]) -> dict:
    """Each name through the first rule (regex, replacement) that matches it; unmatched names kept."""
    compiled = [(re.compile(p), r) for p, r in rules]
    out = {}
    for name, a in weights.items():
        for pattern, repl in compiled:
            if pattern.fullmatch(name):
                name = pattern.sub(repl, name)
                break
        out[name] = a
    return out


def _tied_head(sd: dict, config: dict) -> None:
    if "head.weight" not in sd and config.get("tie_word_embeddings") and "emb.weight" in sd:
        sd["head.weight"] = sd["emb.weight"]


# ---- transformers RwkvForCausalLM (RWKV-4) ------------------------------------------------------

_RWKV4_RULES = [
    (r"rwkv\.embeddings\.weight", "emb.weight"),
    (r"rwkv\.blocks\.(\d+)\.pre_ln\.(weight|bias)", r"blocks.\1.ln0.\2"),
    (r"rwkv\.blocks\.(\d+)\.(ln1|ln2)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (r"rwkv\.blocks\.(\d+)\.attention\.(time_decay|time_first)", r"blocks.\1.att.\2"),
    (r"rwkv\.blocks\.(\d+)\.attention\.time_mix_(k)ey", r"blocks.\1.att.time_mix_\2"),
    (r"rwkv\.blocks\.(\d+)\.attention\.time_mix_(v)alue", r"blocks.\1.att.time_mix_\2"),
    (r"rwkv\.blocks\.(\d+)\.attention\.time_mix_(r)eceptance", r"blocks.\1.att.time_mix_\2"),
    (r"rwkv\.blocks\.(\d+)\.attention\.(key|value|receptance|output)\.weight", r"blocks.\1.att.\2.weight"),
    (r"rwkv\.blocks\.(\d+)\.feed_forward\.time_mix_(k)ey", r"blocks.\1.ffn.time_mix_\2"),
    (r"rwkv\.blocks\.(\d+)\.feed_forward\.time_mix_(r)eceptance", r"blocks.\1.ffn.time_mix_\2"),
    (r"rwkv\.blocks\.(\d+)\.feed_forward\.(key|value|receptance)\.weight", r"blocks.\1.ffn.\2.weight"),
    (r"rwkv\.ln_out\.(weight|bias)", r"ln_out.\1"),
]


def _from_transformers_rwkv(weights: dict, config: dict, path: str) -> tuple[dict, dict]:
    """transformers keeps BlinkDL's tensors under longer names; time_decay and time_first mean the
    same (the model computes -exp(time_decay) as the rwkv package does)."""
    hidden, att = config.get("hidden_size"), config.get("attention_hidden_size")
    if att is not None and att != hidden:
        raise ValueError(f"Hugging Face folder {path!r}: attention_hidden_size {att} != hidden_size {hidden}; the "
                         "runtime's RWKV-4 (like every released model) has them equal")
    sd = _rename(weights, _RWKV4_RULES)
    _tied_head(sd, config)
    changes = {}
    if "layer_norm_epsilon" in config:
        changes["layer_norm_eps"] = float(config["layer_norm_epsilon"])
    return sd, changes


# ---- flash-linear-attention RWKV7ForCausalLM ----------------------------------------------------

_RWKV7_RULES = [
    (r"model\.embeddings\.weight", "emb.weight"),
    (r"model\.layers\.(\d+)\.pre_norm\.(weight|bias)", r"blocks.\1.ln0.\2"),
    (r"model\.layers\.(\d+)\.attn_norm\.(weight|bias)", r"blocks.\1.ln1.\2"),
    (r"model\.layers\.(\d+)\.ffn_norm\.(weight|bias)", r"blocks.\1.ln2.\2"),
    (r"model\.layers\.(\d+)\.attn\.(x_[rwkvag]|k_k|k_a|r_k)", r"blocks.\1.att.\2"),
    (r"model\.layers\.(\d+)\.attn\.r_proj\.weight", r"blocks.\1.att.receptance.weight"),
    (r"model\.layers\.(\d+)\.attn\.k_proj\.weight", r"blocks.\1.att.key.weight"),
    (r"model\.layers\.(\d+)\.attn\.v_proj\.weight", r"blocks.\1.att.value.weight"),
    (r"model\.layers\.(\d+)\.attn\.o_proj\.weight", r"blocks.\1.att.output.weight"),
    # LoRA(x) = lora.2(act(lora.0(x))): lora.0 is x1ᵀ, lora.2 is x2ᵀ and lora.2's bias is x0
    (r"model\.layers\.(\d+)\.attn\.([wavg])_lora\.lora\.0\.weight", r"blocks.\1.att.\g<2>1"),
    (r"model\.layers\.(\d+)\.attn\.([wavg])_lora\.lora\.2\.weight", r"blocks.\1.att.\g<2>2"),
    (r"model\.layers\.(\d+)\.attn\.([wav])_lora\.lora\.2\.bias", r"blocks.\1.att.\g<2>0"),
    (r"model\.layers\.(\d+)\.attn\.g_norm\.(weight|bias)", r"blocks.\1.att.ln_x.\2"),
    (r"model\.layers\.(\d+)\.ffn\.x_k", r"blocks.\1.ffn.x_k"),
    (r"model\.layers\.(\d+)\.ffn\.(key|value)\.weight", r"blocks.\1.ffn.\2.weight"),
    (r"model\.norm\.(weight|bias)", r"ln_out.\1"),
    (r"lm_head\.weight", "head.weight"),
]
_TO_ROW = re.compile(r"blocks\.\d+\.(att\.(k_k|k_a|[wav]0)|ffn\.x_k)")   # (C,) -> (1, 1, C)
_TRANSPOSED = re.compile(r"blocks\.\d+\.att\.[wavg][12]")                 # nn.Linear (out, in) -> x @ W


def _from_fla_rwkv7(weights: dict, config: dict, path: str) -> tuple[dict, dict]:
    """fla keeps RWKV-7's parameters in nn.Linear / LoRA modules: names map one to one, the
    low-rank matrices are stored transposed and a few vectors as (C,) instead of (1, 1, C). Its
    GroupNorm eps is head_dim * norm_eps (the official 64e-5 for head size 64)."""
    where = f"Hugging Face folder {path!r}"
    if config.get("attn"):
        raise ValueError(f"{where} is a hybrid model (config 'attn': softmax-attention layers); rrwkv_rt runs pure "
                         "RWKV-7 models only")
    if not config.get("norm_first", True):
        raise ValueError(f"{where} has norm_first false (no ln0 before the first block), which no official RWKV-7 "
                         "model has; rrwkv_rt always applies ln0")
    hidden = config.get("hidden_size")
    value_dim = config.get("value_dim")
    dims = value_dim if isinstance(value_dim, list) else [value_dim]
    if any(d not in (None, hidden) for d in dims):
        raise ValueError(f"{where} has value_dim {value_dim} != hidden_size {hidden}; rrwkv_rt (like every "
                         "released RWKV-7) needs them equal")
    if config.get("hidden_act", "sqrelu") != "sqrelu":
        raise ValueError(f"{where} has hidden_act {config.get('hidden_act')!r}; RWKV-7's channel mix is 'sqrelu'")
    sd = _rename(weights, _RWKV7_RULES)
    for name in list(sd):
        if _TO_ROW.fullmatch(name) and sd[name].ndim == 1:
            sd[name] = sd[name].reshape(1, 1, -1)
        elif _TRANSPOSED.fullmatch(name) and sd[name].ndim == 2:
            sd[name] = np.ascontiguousarray(sd[name].T)
    if config.get("norm_bias") is False:  # nn.LayerNorm(bias=False): a zero bias is the same function
        for name in [n for n in sd if re.fullmatch(r"(blocks\.\d+\.(ln0|ln1|ln2)|ln_out)\.weight", n)]:
            sd.setdefault(name[: -len("weight")] + "bias", np.zeros_like(sd[name]))
    _tied_head(sd, config)
    eps = float(config.get("norm_eps", 1e-5))
    head_dim = config.get("head_dim") or (hidden // config["num_heads"] if config.get("num_heads") else 64)
    return sd, {"layer_norm_eps": eps, "group_norm_eps": head_dim * eps}
