"""/v1/embeddings through the official `openai` client: the vector of a text is its last token's
final hidden state, normalised (rrwkv_rt.embed, which Batch.hidden_state and the reference-model
test define); the same text gives the same vector, alone or in a batch with others, in any
position, from a cold or a cached prefix, as floats or base64."""
from __future__ import annotations

import numpy as np
import pytest

import rrwkv_rt

TEXTS = ["def main():", "class Foo(object):\n    pass", "x", "# " + "the same long comment " * 20]


@pytest.fixture(scope="module")
def want():
    return rrwkv_rt.embed(rrwkv_rt.default_model_path(), TEXTS, threads=1)


def _vectors(r) -> np.ndarray:
    return np.array([d.embedding for d in sorted(r.data, key=lambda d: d.index)], dtype=np.float32)


def test_batched_equals_unbatched_equals_the_library(client, want):
    assert want.shape == (4, 192) and np.allclose(np.linalg.norm(want, axis=1), 1, atol=1e-6)
    batched = client.embeddings.create(model="default", input=TEXTS)  # the client asks for base64
    assert np.array_equal(_vectors(batched), want)
    assert batched.usage.prompt_tokens == sum(len(t.encode()) for t in TEXTS)
    alone = np.stack([_vectors(client.embeddings.create(model="default", input=t))[0] for t in TEXTS])
    assert np.array_equal(alone, want)
    shuffled = client.embeddings.create(model="default", input=TEXTS[::-1] + TEXTS, encoding_format="float")
    assert np.array_equal(_vectors(shuffled), np.concatenate([want[::-1], want]))
    again = client.embeddings.create(model="default", input=TEXTS[3])  # its prefix is cached by now
    assert np.array_equal(_vectors(again)[0], want[3])


def test_token_ids_and_similarity(client, want):
    ids = [list(t.encode()) for t in TEXTS[:2]]
    r = client.embeddings.create(model="default", input=ids, encoding_format="float")
    assert np.array_equal(_vectors(r), want[:2])
    assert float(want[0] @ want[0]) == pytest.approx(1.0, abs=1e-6) and abs(float(want[0] @ want[1])) < 1


def test_bad_inputs_are_400(client):
    openai = pytest.importorskip("openai")
    for kw in ({"input": ""}, {"input": []}, {"input": "x", "dimensions": 8}, {"input": [[300]]},
               {"input": "x", "model": "other"}):
        with pytest.raises((openai.BadRequestError, openai.NotFoundError)):
            client.embeddings.create(**({"model": "default"} | kw))
