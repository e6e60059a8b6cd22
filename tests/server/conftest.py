"""Fixtures of the server tests: servers on 127.0.0.1 at an ephemeral port, run by uvicorn in a
background thread of the test process, with the shipped byte-level model unless a test asks for
another."""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

from srv_helpers import running_server  # noqa: E402


@pytest.fixture(scope="module")
def server():
    """(base_url, service) of a server on the shipped model, shared by a module's tests."""
    with running_server(capacity=8, max_queue=16, max_prompt_tokens=4000) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server[0] + "/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def session():
    """A Session on the shipped model: the single-client reference."""
    import rrwkv_rt
    return rrwkv_rt.Session(rrwkv_rt.default_model_path(), threads=1)
