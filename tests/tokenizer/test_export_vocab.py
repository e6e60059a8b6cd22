"""`export --vocab world|bytes|PATH` stores the tokenizer in the .rrwkv file, and
Tokenizer.from_model rebuilds it from the header alone."""
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig, Tokenizer  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402
from rrwkv_rt.arch import checkpoint_spec  # noqa: E402

TEXT = "Exported tokenizers travel with the model: 模型文件 🚀 \xff".encode("utf-8") + b"\xff\xfe"


def checkpoint(tmp_path, vocab_size, name="m.pth"):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=4, vocab_size=vocab_size)
    g = torch.Generator().manual_seed(0)
    path = tmp_path / name
    torch.save({k: torch.randn(s, generator=g) for k, s in checkpoint_spec(cfg).items()}, path)
    return path


def test_cli_export_with_world_vocab(tmp_path, capsys, official):
    src, dst = checkpoint(tmp_path, 65536), tmp_path / "w.rrwkv"
    assert main(["export", str(src), str(dst), "--vocab", "world"]) == 0
    tok = Tokenizer.from_model(dst)
    assert tok.kind == "world" and tok.header == Tokenizer.world().header
    assert tok.encode(TEXT) == Tokenizer.world().encode(TEXT) == official.encodeBytes(TEXT)
    assert Tokenizer.from_model(rrwkv_rt.ModelFile(str(dst))).encode(TEXT) == tok.encode(TEXT)
    if hasattr(rrwkv_rt, "Model"):
        assert Tokenizer.from_model(rrwkv_rt.Model(str(dst))).encode(TEXT) == tok.encode(TEXT)
    assert main(["info", str(dst)]) == 0
    assert "tokenizer.kind:   world" in capsys.readouterr().out


def test_export_bytes_and_path_vocabs(tmp_path):
    src = checkpoint(tmp_path, 300)
    export(src, tmp_path / "b.rrwkv", vocab="bytes")
    tok = Tokenizer.from_model(tmp_path / "b.rrwkv")
    assert tok.kind == "bytes" and tok.encode(TEXT) == list(TEXT)

    vocab = tmp_path / "small_vocab.txt"
    vocab.write_text("\n".join([f"{b + 1} b'\\x{b:02x}' 1" for b in range(256)] + ["299 'to' 2"]) + "\n")
    export(src, tmp_path / "p.rrwkv", vocab=str(vocab))
    tok = Tokenizer.from_model(tmp_path / "p.rrwkv")
    assert tok.kind == "world" and tok.header[1] == vocab.read_bytes()
    assert tok.encode(b"token") == [299, ord("k") + 1, ord("e") + 1, ord("n") + 1]


def test_vocab_must_fit_the_model(tmp_path, capsys):
    src = checkpoint(tmp_path, 50)
    with pytest.raises(ValueError, match=r"uses token ids up to 65529, but the model's vocab_size is 50"):
        export(src, tmp_path / "x.rrwkv", vocab="world")
    with pytest.raises(ValueError, match=r"bytes tokenizer uses token ids up to 255, but the model's vocab_size is 50"):
        export(src, tmp_path / "x.rrwkv", vocab="bytes")
    assert not (tmp_path / "x.rrwkv").exists()
    assert main(["export", str(src), str(tmp_path / "x.rrwkv"), "--vocab", str(tmp_path / "missing.txt")]) == 1
    assert "is neither 'world', 'bytes' nor an existing vocabulary file" in capsys.readouterr().err


def test_model_without_tokenizer(tmp_path):
    export(checkpoint(tmp_path, 20), tmp_path / "n.rrwkv")
    with pytest.raises(ValueError, match="carries no tokenizer; re-export it"):
        Tokenizer.from_model(tmp_path / "n.rrwkv")
