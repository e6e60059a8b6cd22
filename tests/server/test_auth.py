"""An API key: through the official `openai` client a wrong or missing key is a 401
(AuthenticationError, code invalid_api_key) and the right one works; /health stays open, and
/metrics too unless protected; `rrwkv serve` takes the key from RRWKV_API_KEY."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from srv_helpers import running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from benchlib import served  # noqa: E402

openai = pytest.importorskip("openai")
KEY = "sk-test-0123456789"


def _client(base, key):
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=60)


@pytest.mark.parametrize("protect_metrics", [False, True])
def test_requests_need_the_key(protect_metrics):
    with running_server(api_key=KEY, protect_metrics=protect_metrics) as (base, svc):
        with pytest.raises(openai.AuthenticationError) as e:
            _client(base, "wrong").completions.create(model="default", prompt="x", max_tokens=2)
        assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
        missing = httpx.post(base + "/v1/completions", json={"model": "default", "prompt": "x"})
        assert missing.status_code == 401 and "didn't provide an API key" in missing.json()["error"]["message"]
        r = _client(base, KEY).completions.create(model="default", prompt="x", max_tokens=2, temperature=0)
        assert len(r.choices[0].text) == 2
        assert [m.id for m in _client(base, KEY).models.list().data] == ["default"]
        assert httpx.post(base + "/v1/embeddings", json={"model": "default", "input": "x"}).status_code == 401
        assert httpx.get(base + "/health").status_code == 200
        assert httpx.get(base + "/metrics").status_code == (401 if protect_metrics else 200)
        headers = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(base + "/metrics", headers=headers).status_code == 200
        assert svc.scheduler.metrics.prompt_tokens == 1  # refused requests never reached the scheduler


def test_serve_reads_the_key_from_the_environment():
    with served.serve("--threads", "1", env=dict(os.environ, RRWKV_API_KEY=KEY)) as (base, _):
        assert httpx.get(base + "/v1/models").status_code == 401
        assert httpx.get(base + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "serve", "--protect-metrics", "--port", "1"],
                       capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                                        if k != "RRWKV_API_KEY"})
    assert r.returncode == 1 and "protect_metrics needs an api_key" in r.stderr
