"""Tiny random Hugging Face models built with the real libraries (transformers' RwkvForCausalLM,
flash-linear-attention's RWKV7ForCausalLM) and a tokenizer.json made with `tokenizers`.

fla's RWKV-7 runs its recurrence, token shift and gates in Triton kernels, which need a GPU. On
a CPU its forward is run here with fla's *own* PyTorch reference implementations of those ops
(token_shift_ref, torch_addcmul_rwkv7, k_update_ref, gate_output_correction_ref and the
generalized delta rule's dplr_recurrence) put in place of the kernels: the model code, its
parameters and their meaning stay fla's.
"""
from __future__ import annotations

import contextlib
import math

import torch

CORPUS = ("def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
          "import os\nprint(os.path.join('a', 'b'))\nclass Point:\n    def __init__(self, x, y):\n"
          "        self.x, self.y = x, y\n") * 20


def tokenizer_json(path, vocab_size: int) -> str:
    """A byte-level BPE tokenizer.json of at most vocab_size tokens, trained on a small corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([CORPUS], trainer)
    tok.save(str(path))
    return str(path)


@torch.no_grad()
def randomize_(model, seed: int, ranges: dict) -> None:
    """Every parameter drawn at a realistic scale: matrices ~ N(0, 1/fan_in), norms near 1 / 0,
    vectors named in `ranges` (a substring of the name -> (lo, hi)) uniform."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        leaf = next((r for key, r in ranges.items() if key in name), None)
        if leaf is not None:
            p.copy_(torch.empty(p.shape).uniform_(*leaf, generator=g))
        elif "norm" in name or ".ln" in name or "pre_ln" in name or "ln_out" in name:
            lo, hi = (0.8, 1.2) if name.endswith("weight") else (-0.1, 0.1)
            p.copy_(torch.empty(p.shape).uniform_(lo, hi, generator=g))
        elif p.ndim == 2 and "embeddings" not in name:
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
        else:
            p.copy_(torch.randn(p.shape, generator=g))


def transformers_rwkv4(vocab: int, seed: int = 0):
    from transformers import RwkvConfig, RwkvForCausalLM
    cfg = RwkvConfig(vocab_size=vocab, context_length=256, hidden_size=64, num_hidden_layers=2,
                     attention_hidden_size=64, intermediate_size=160, rescale_every=0, layer_norm_epsilon=1e-5)
    model = RwkvForCausalLM(cfg).eval()
    randomize_(model, seed, {"time_decay": (-2.0, 1.0), "time_first": (-1.0, 1.0), "time_mix": (0.0, 1.0)})
    return model


def fla_rwkv7(vocab: int, seed: int = 0):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fla warns that Triton cannot run here, and about its RWKV-7
        from fla.models import RWKV7Config, RWKV7ForCausalLM
        cfg = RWKV7Config(hidden_size=64, num_hidden_layers=3, head_dim=32, vocab_size=vocab, decay_low_rank_dim=8,
                          gate_low_rank_dim=16, a_low_rank_dim=8, v_low_rank_dim=4, intermediate_size=224,
                          fuse_norm=False, norm_eps=1e-5)
        model = RWKV7ForCausalLM(cfg).eval()
    randomize_(model, seed, {".x_": (0.0, 1.0), "k_k": (0.3, 1.2), "k_a": (0.5, 1.5), "r_k": (-0.5, 0.5),
                             "w_lora.lora.2.bias": (-5.0, 2.0), "a_lora.lora.2.bias": (-2.0, 2.0),
                             "v_lora.lora.2.bias": (-1.0, 1.0), "ffn.x_k": (0.0, 1.0)})
    return model


@contextlib.contextmanager
def fla_on_cpu():
    """fla's RWKV-7 forward with fla's reference ops in place of its Triton kernels."""
    import fla.layers.rwkv7 as layer
    import fla.models.rwkv7.modeling_rwkv7 as modeling
    from fla.modules.token_shift import token_shift_ref
    from fla.ops.generalized_delta_rule.dplr.naive import dplr_recurrence
    from fla.ops.rwkv7.fused_addcmul import torch_addcmul_rwkv7
    from fla.ops.rwkv7.fused_k_update import k_update_ref
    from fla.ops.rwkv7.gate_output_correction import gate_output_correction_ref

    def token_shift(x, cu_seqlens=None, cache=None, output_cache=False, **_):
        assert cache is None and cu_seqlens is None
        delta = token_shift_ref(x)
        return (delta, x[:, -1]) if output_cache else delta

    def recurrence(r, w, k, v, a, b, scale, initial_state, output_final_state):
        # [B, T, H, D] -> dplr's [B, H, T, D]; it scales q by D^-0.5 itself, so undo that
        t = lambda x: x.transpose(1, 2)  # noqa: E731
        o, state = dplr_recurrence(t(r) * (scale * r.shape[-1] ** 0.5), t(k), t(v), t(a), t(b), t(w),
                                   initial_state, output_final_state)
        return o.transpose(1, 2), state

    def chunk(r, w, k, v, a, b, scale=1.0, initial_state=None, output_final_state=False, **_):
        return recurrence(r, w, k, v, a, b, scale, initial_state, output_final_state)

    def fused_mul(r, w, k, v, kk, a, scale=1.0, initial_state=None, output_final_state=False, **_):
        return recurrence(r, w, k, v, -kk, kk * a, scale, initial_state, output_final_state)

    patches = {(layer, "token_shift"): token_shift, (modeling, "token_shift"): token_shift,
               (layer, "fused_addcmul_rwkv7"): torch_addcmul_rwkv7, (layer, "fused_k_rwkv7"): k_update_ref,
               (layer, "chunk_rwkv7"): chunk, (layer, "fused_mul_recurrent_rwkv7"): fused_mul,
               (layer, "gate_output_correction"): gate_output_correction_ref}
    saved = {key: getattr(*key) for key in patches}
    try:
        for (mod, name), fn in patches.items():
            setattr(mod, name, fn)
        yield
    finally:
        for (mod, name), fn in saved.items():
            setattr(mod, name, fn)
