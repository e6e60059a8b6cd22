"""`serve --initial-state NAME=FILE`: requests choose a state-tuning file by name
(``"initial_state": "NAME"``, extra_body for the openai client); each answer equals
Session(initial_state=FILE).generate alone, and the prompt cache never mixes states."""
from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402

from srv_helpers import reference, running_server  # noqa: E402

CFG = ModelConfig("rwkv7", 2, 64, 256, head_size=32, lora_decay=8, lora_a=8, lora_v=8, lora_gate=16)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """(model path, tuning file) of a small byte-level RWKV-7 and a random state-tuning file."""
    from rrwkv_rt.io.export import export
    from rrwkv_rt.reference import MODEL_CLASSES
    folder = tmp_path_factory.mktemp("srv-tuned")
    torch.save(MODEL_CLASSES["rwkv7"](CFG, seed=3).state_dict(), folder / "m.pth")
    export(folder / "m.pth", folder / "m.rrwkv", vocab="bytes")
    g = torch.Generator().manual_seed(7)
    torch.save({f"blocks.{i}.att.time_state": torch.randn(2, 32, 32, generator=g) * 0.5 for i in range(2)},
               folder / "tuned.pth")
    return str(folder / "m.rrwkv"), str(folder / "tuned.pth")


def test_requests_choose_an_initial_state_by_name(tuned):
    path, tuning = tuned
    # prefill chunks of 4 tokens: the cache stores the states after 4 and 8 tokens of the prompt
    plain = rrwkv_rt.Session(path, threads=1, prefill_chunk=4)
    tuned_session = rrwkv_rt.Session(path, threads=1, prefill_chunk=4, initial_state=tuning)
    prompt = "abcdefghij"
    assert reference(tuned_session, prompt, 12) != reference(plain, prompt, 12)
    with running_server(model_path=path, model_name="m", initial_states={"tuned": tuning}, prefill_chunk=4) as (url, _):
        def complete(prompt, **extra):
            return httpx.post(url + "/v1/completions", json={"model": "m", "prompt": prompt, "max_tokens": 12,
                                                              "temperature": 0, **extra}, timeout=60)
        for first in ("plain", "tuned"):  # each after the other has left cached prefixes (if it could)
            for which in (first, "tuned" if first == "plain" else "plain"):
                extra, ref = ({"initial_state": "tuned"}, tuned_session) if which == "tuned" else ({}, plain)
                assert complete(prompt, **extra).json()["choices"][0]["text"] == reference(ref, prompt, 12), which
        bad = complete("ab", initial_state="other")
        assert bad.status_code == 400
        err = bad.json()["error"]
        assert err["param"] == "initial_state" and "'other' is not one this server was started with; it has 'tuned'" \
            in err["message"]


def test_a_bad_initial_state_file_stops_the_server_at_startup(tuned, tmp_path):
    path, _ = tuned
    torch.save({"blocks.0.att.time_state": torch.zeros(1, 2, 2)}, tmp_path / "bad.pth")
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "serve", path, "--port", "0", "--initial-state",
                        f"x={tmp_path / 'bad.pth'}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "does not fit this model" in r.stderr and "blocks.0.att.time_state" in r.stderr
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "serve", path, "--initial-state", "nameonly"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "--initial-state takes NAME=FILE" in r.stderr
