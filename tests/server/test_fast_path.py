"""``rrwkv serve --fast`` (ServerConfig(exact=False)): the batch runs the fast path, whose rows
are independent of each other and of how prompts are cut into pieces, so concurrent greedy
completions equal Session(exact=False).generate alone, bit for bit (the same text). The server
reads its model into memory (serve --read-into-memory), the reference maps it: the same weights."""
from __future__ import annotations

import concurrent.futures

import pytest

from srv_helpers import reference, running_server

PROMPTS = ["class Foo:\n    def ", "import os\n" * 30, "# Copyright", "def main():\n    x = "]


@pytest.fixture(scope="module")
def fast_server():
    with running_server(capacity=4, max_queue=8, exact=False, prefill_chunk=32, read_into_memory=True) as s:
        yield s


def test_concurrent_fast_completions_equal_fast_sessions(fast_server):
    import rrwkv_rt
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=fast_server[0] + "/v1", api_key="unused", max_retries=0, timeout=60)
    session = rrwkv_rt.Session(rrwkv_rt.default_model_path(), threads=1, exact=False)
    want = [reference(session, p, 40) for p in PROMPTS]
    assert not fast_server[1].scheduler.batch.exact

    def complete(prompt):
        return client.completions.create(model="default", prompt=prompt, max_tokens=40, temperature=0).choices[0].text

    with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
        got = list(pool.map(complete, PROMPTS))
    assert got == want
