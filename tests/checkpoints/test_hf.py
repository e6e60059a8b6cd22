"""Hugging Face model folders exported directly: transformers' RwkvForCausalLM (RWKV-4) and
flash-linear-attention's RWKV7ForCausalLM (RWKV-7), tiny random models built with the real
libraries and saved with save_pretrained, against the library's own forward (float32, within
1e-4; fla's forward runs with fla's reference ops, see hf_helpers), with the folder's
tokenizer.json stored and the folder's precision kept."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402

from ckpt_helpers import TOL, max_abs, runtime_outputs, save  # noqa: E402
from hf_helpers import CORPUS, fla_on_cpu, fla_rwkv7, tokenizer_json, transformers_rwkv4  # noqa: E402

VOCAB = 300
TOKS = list(np.random.default_rng(0).integers(0, VOCAB, 48))


def library_logits(model, toks) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor([toks])).logits[0].float().numpy()


def check_folder(folder, model, tmp_path, want_cfg: ModelConfig, layout_words: str) -> None:
    notes = []
    cfg = export(folder, tmp_path / "m.rrwkv", notes=notes)
    assert cfg == want_cfg
    assert any("stored the folder's tokenizer.json" in n for n in notes), notes
    want = library_logits(model, TOKS)
    assert np.std(want) > 0.3
    stepped, seq = runtime_outputs(tmp_path / "m.rrwkv", TOKS)
    assert max_abs(seq, want) <= TOL and max_abs(stepped, want) <= TOL, (max_abs(seq, want), max_abs(stepped, want))
    m = rrwkv_rt.Model(str(tmp_path / "m.rrwkv"))
    from tokenizers import Tokenizer
    text = CORPUS[:200]
    assert rrwkv_rt.Tokenizer.from_model(str(tmp_path / "m.rrwkv")).encode(text) == \
        Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    assert layout_words in rrwkv_rt.ModelFile(m.info["path"]).fields["meta.source_layout"]


def test_transformers_rwkv4_folder(tmp_path):
    model = transformers_rwkv4(VOCAB, seed=1)
    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    tokenizer_json(folder / "tokenizer.json", VOCAB)
    check_folder(folder, model, tmp_path, ModelConfig("rwkv4", 2, 64, VOCAB, ffn_dim=160),
                 "transformers RwkvForCausalLM")
    # pytorch_model.bin (as the RWKV/rwkv-4-* folders have; transformers 5 writes only safetensors)
    # instead of model.safetensors, and bf16 weights: the precision is kept
    model.to(torch.bfloat16).save_pretrained(tmp_path / "bin")
    (tmp_path / "bin" / "model.safetensors").unlink()
    torch.save(model.state_dict(), tmp_path / "bin" / "pytorch_model.bin")
    export(tmp_path / "bin", tmp_path / "b.rrwkv")
    f = rrwkv_rt.ModelFile(str(tmp_path / "b.rrwkv"))
    assert {t["dtype"] for t in f.tensors if len(t["shape"]) == 2} == {"bf16"}


def test_fla_rwkv7_folder(tmp_path):
    pytest.importorskip("fla")
    model = fla_rwkv7(VOCAB, seed=2)
    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    tokenizer_json(folder / "tokenizer.json", VOCAB)
    # fla's GroupNorm eps is head_dim * norm_eps; its layer 0 has no value-residual LoRA
    want = ModelConfig("rwkv7", 3, 64, VOCAB, ffn_dim=224, head_size=32, lora_decay=8, lora_a=8, lora_v=4,
                       lora_gate=16, group_norm_eps=32e-5)
    with fla_on_cpu(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_folder(folder, model, tmp_path, want, "flash-linear-attention RWKV7ForCausalLM")
    model.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    (tmp_path / "bf16" / "tokenizer.json").write_bytes((folder / "tokenizer.json").read_bytes())
    export(tmp_path / "bf16", tmp_path / "b.rrwkv")
    f = rrwkv_rt.ModelFile(str(tmp_path / "b.rrwkv"))
    assert {t["dtype"] for t in f.tensors if len(t["shape"]) == 2} == {"bf16"}


def test_folders_that_do_not_fit_are_refused_by_name(tmp_path, capsys):
    model = transformers_rwkv4(VOCAB, seed=3)
    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    from safetensors.torch import load_file, save_file
    weights = load_file(str(folder / "model.safetensors"))
    weights["rwkv.blocks.1.attention.extra_thing"] = torch.zeros(3)
    del weights["rwkv.blocks.0.feed_forward.key.weight"]
    save_file(weights, str(folder / "model.safetensors"))
    assert main(["export", str(folder), str(tmp_path / "x.rrwkv")]) == 1
    err = capsys.readouterr().err
    assert "missing tensor 'blocks.0.ffn.key.weight' (expected shape (160, 64))" in err, err
    assert not (tmp_path / "x.rrwkv").exists()
    weights["rwkv.blocks.0.feed_forward.key.weight"] = torch.zeros(160, 64)
    save_file(weights, str(folder / "model.safetensors"))
    assert main(["export", str(folder), str(tmp_path / "x.rrwkv")]) == 1
    assert "'rwkv.blocks.1.attention.extra_thing'" in capsys.readouterr().err
    (folder / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ValueError, match="holds a model of type 'llama'; rrwkv_rt reads 'rwkv'"):
        export(folder, tmp_path / "x.rrwkv")
    (folder / "model.safetensors").unlink()
    (folder / "config.json").write_text('{"model_type": "rwkv"}')
    with pytest.raises(FileNotFoundError, match="has no weights: expected one of model.safetensors"):
        export(folder, tmp_path / "x.rrwkv")
    assert not (tmp_path / "x.rrwkv").exists()
