"""`rrwkv serve --device cuda`: the same scheduler on a GPU Batch answers the official `openai`
client with what Session.generate gives on the CPU (greedy, a tiny f32 model: the device's logits
are the CPU's within 1e-4), and /health names the device; the CLI flag reaches the Batch."""
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from device_models import tiny_model  # noqa: E402
from srv_helpers import reference, running_server  # noqa: E402

import rrwkv_rt  # noqa: E402

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory):
    path = tiny_model(tmp_path_factory.mktemp("serve_cuda"))
    with running_server(model_path=path, device="cuda", capacity=4, max_queue=8) as s:
        yield path, s


def test_the_server_on_the_gpu_answers_like_session_generate_on_the_cpu(gpu_server):
    import httpx
    path, (base, service) = gpu_server
    assert service.scheduler.batch.device == "cuda:0"
    health = httpx.get(base + "/health").json()
    assert health["status"] == "ok" and health["device"] == "cuda:0", health
    client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=120)
    cpu = rrwkv_rt.Session(path, threads=1)
    for prompt in ("def main(", "import os\n"):
        got = client.completions.create(model=service.model_id, prompt=prompt, max_tokens=24, temperature=0)
        assert got.choices[0].text == reference(cpu, prompt, 24), prompt
    # streamed, two requests at once in the batch (the second joins while the first decodes)
    streams = [client.completions.create(model=service.model_id, prompt=p, max_tokens=16, temperature=0, stream=True)
               for p in ("x = ", "class A:")]
    texts = ["".join(c.choices[0].text for c in s) for s in streams]
    assert texts == [reference(cpu, "x = ", 16), reference(cpu, "class A:", 16)]


def test_serve_passes_device_to_the_config(monkeypatch):
    """The `serve` command line builds ServerConfig(device=...) from --device."""
    import rrwkv_rt.server as server
    from rrwkv_rt.cli import main
    seen = {}
    monkeypatch.setattr(server, "serve", lambda cfg, **kw: seen.setdefault("cfg", cfg))
    assert main(["serve", "--device", "cuda:0", "--port", "0"]) == 0
    assert seen["cfg"].device == "cuda:0"
