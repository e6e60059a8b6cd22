"""The README's commands and snippets, walked end to end as a newcomer would: once on the shipped
model (a copy named model.rrwkv, and no MODEL argument where the README makes it optional), and
once on a Pile-style model: a random RWKV-4 checkpoint in the official layout named
RWKV-4-Pile-169M.pth beside a byte-level BPE `20B_tokenizer.json` built here, exported by the
README's own export command. Every `python -m rrwkv_rt` line of README.md runs as written (in a
fresh folder); the commands left out are listed with the reason, so a new one cannot slip by."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rrwkv_rt

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOT_WALKED = {  # command prefix -> why it is not run here
    "bash tools/run_tests.sh": "it is this test suite",
    "rrwkv serve": "a server that runs until stopped: tests/server runs it",
}


def readme_commands() -> list[str]:
    """Each command of the README's bash blocks: continuations joined, comments and a leading
    `pip install ... &&` (the package is installed already) dropped."""
    out = []
    for block in re.findall(r"^```bash\n(.*?)^```", README, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            cmd = re.sub(r"\s+#.*$", "", line).strip()
            if cmd.startswith("pip install") and "&&" in cmd:
                cmd = cmd.split("&&", 1)[1].strip()
            if cmd:
                out.append(cmd)
    return out


def test_every_command_is_walked_or_named():
    for cmd in readme_commands():
        assert cmd.startswith("python -m rrwkv_rt ") or any(cmd.startswith(p) for p in NOT_WALKED), cmd
    assert {p for p in NOT_WALKED if any(c.startswith(p) for c in readme_commands())} == set(NOT_WALKED)


def run(cmd: str, cwd: Path, model_arg: str | None, stdin: str = "") -> subprocess.CompletedProcess:
    cmd = cmd.replace("[MODEL]", model_arg or "")
    argv = [sys.executable if a == "python" else a for a in shlex.split(cmd)]
    r = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"`{cmd}` failed ({r.returncode}):\n{r.stderr[-2000:]}"
    return r


def walk(folder: Path, model_arg: str | None, skip_export: bool) -> None:
    for cmd in readme_commands():
        if not cmd.startswith("python -m rrwkv_rt "):
            continue
        sub = shlex.split(cmd)[3]
        if sub == "export" and skip_export:
            continue
        r = run(cmd, folder, model_arg, stdin="Hello there\n/save chat.state\n/quit\n" if sub == "chat" else "")
        if sub == "info":
            assert "OK: header, layout and all tensor checksums verified" in r.stdout
        if sub in ("generate", "chat"):
            assert r.stdout.strip(), f"`{cmd}` printed nothing"
    assert (folder / "prompt.state").stat().st_size > 96  # generate --state-out
    assert (folder / "chat.state").stat().st_size > 96  # chat's /save
    # then the README's Python snippets, in order, on the model.rrwkv this folder holds
    code = "\n".join(re.findall(r"^```python\n(.*?)^```", README, re.M | re.S))
    r = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"a README snippet fails in {folder.name}:\n{r.stderr[-3000:]}"


def test_walk_on_the_shipped_model(tmp_path):
    shutil.copy(rrwkv_rt.default_model_path(), tmp_path / "model.rrwkv")
    walk(tmp_path, model_arg=None, skip_export=True)


@pytest.fixture()
def pile_folder(tmp_path):
    """A folder with RWKV-4-Pile-169M.pth (random weights, official layout, tiny) and the
    byte-level BPE 20B_tokenizer.json whose vocabulary it uses."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import random_model
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    text = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "python" / "rrwkv_rt").rglob("*.py"))]
    hf.train_from_iterator(text, trainer=trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf.save(str(tmp_path / "20B_tokenizer.json"))
    cfg = ModelConfig("rwkv4", n_layer=2, n_embd=64, vocab_size=hf.get_vocab_size())
    torch.save(random_model(cfg, seed=11).state_dict(), tmp_path / "RWKV-4-Pile-169M.pth")
    return tmp_path


def test_walk_on_a_pile_style_model(pile_folder):
    walk(pile_folder, model_arg="model.rrwkv", skip_export=False)
    f = rrwkv_rt.ModelFile(pile_folder / "model.rrwkv")
    assert f.fields["tokenizer.kind"] == "hf" and {t["dtype"] for t in f.tensors} >= {"f16"}
    # from text in Python, on the command line and in C: the same tokens for the same prompt
    prompt = "def main(args):"
    model = rrwkv_rt.Model(pile_folder / "model.rrwkv")
    from tokenizers import Tokenizer as HF
    ids = model.tokenizer.encode(prompt)
    assert ids == HF.from_file(str(pile_folder / "20B_tokenizer.json")).encode(prompt, add_special_tokens=False).ids
    s = rrwkv_rt.Session(model, threads=1)
    greedy = s.generate(prompt, 12, temperature=0, stop_tokens=[])
    assert greedy == model.tokenizer.decode(greedy.tokens)
    cli = run(f"python -m rrwkv_rt generate model.rrwkv --prompt '{prompt}' --max-tokens 12 --temperature 0 "
              "--no-echo --threads 1", pile_folder, None)
    assert cli.stdout == rrwkv_rt.Session(model, threads=1).generate(prompt, 12, temperature=0) + "\n"
    info = run("python -m rrwkv_rt info model.rrwkv", pile_folder, None).stdout
    assert "tokenizer:        hf, ids 0.." in info and "native (C and C++ programs encode with it too)" in info
    c_tokens, c_text = c_greedy(pile_folder / "model.rrwkv", prompt, 12, pile_folder)
    assert c_tokens == greedy.tokens and c_text == str(greedy)


def c_greedy(model: Path, prompt: str, n: int, folder: Path) -> tuple[list[int], str]:
    """examples/c/greedy.c built against the installed package with CMake, as a C user would,
    run on `prompt` as text (tokenized by rrwkv_tokenize); its tokens and text."""
    if not (shutil.which("cmake") and (shutil.which("cc") or shutil.which("gcc"))):
        pytest.skip("needs cmake and a C compiler")
    build = folder / "c-build"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    for cmd in (["cmake", "-S", str(ROOT / "examples"), "-B", str(build), *gen, f"-Drrwkv_rt_DIR={rrwkv_rt.get_cmake_dir()}"],
                ["cmake", "--build", str(build), "--target", "greedy"]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # the BLAS Python uses, so that prefill logits are bit-identical (tests/capi does the same)
    env = {**os.environ, "RRWKV_BLAS": rrwkv_rt.runtime.blas.bundled_path() or "0"}
    r = subprocess.run([str(build / "greedy"), "-t", "1", str(model), str(n), *prompt.split(" ")], capture_output=True,
                       text=True, errors="replace", timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "tokenizer hf" in r.stderr, r.stderr  # what the file carries, not "none"
    tokens = [int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("token ")]
    return tokens, r.stdout[r.stdout.index("\ntext ") + 6:-1]
