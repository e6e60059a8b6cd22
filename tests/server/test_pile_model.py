"""A Pile-style model (RWKV-4 with a Hugging Face tokenizer.json in its file: a byte-level BPE the
native reader runs, or a word BPE the `tokenizers` library runs) served: its <|endoftext|> ends
the text as in Session.generate, and every response equals Session.generate's."""
from __future__ import annotations

import pytest

from srv_helpers import reference, running_server
from srv_models import pile_style_model

pytest.importorskip("tokenizers")
pytest.importorskip("torch")

PROMPT = "def main():\n    "


@pytest.fixture(scope="module", params=["byte-level BPE (native)", "word BPE (the tokenizers library)"])
def pile(tmp_path_factory, request):
    import rrwkv_rt
    path = pile_style_model(tmp_path_factory.mktemp("pile"), byte_level=request.param.startswith("byte"))
    session = rrwkv_rt.Session(path, threads=1)
    from tokenizers import Tokenizer as HF  # the library's word for which id <|endoftext|> is
    eos = HF.from_str(rrwkv_rt.ModelFile(path).fields["tokenizer.vocab"].decode()).token_to_id("<|endoftext|>")
    with running_server(model_path=path, model_name="pile", capacity=4) as (base, svc):
        yield base, session, eos


def _client(base):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=120)


def test_endoftext_ends_the_text(pile):
    """Every token but <|endoftext|> biased by -100 (all but impossible): Session.generate stops at once with empty text; so must the
    server (it used to write '<|endoftext|>' max_tokens times)."""
    base, session, eos = pile
    vocab = session.model.vocab_size
    only_eos = {str(t): -100 for t in range(vocab) if t != eos}
    want = reference(session, PROMPT, 20, logit_bias={t: -100 for t in range(vocab) if t != eos})
    assert want == "" and want.finish_reason == "stop_token"
    client = _client(base)
    r = client.completions.create(model="pile", prompt=PROMPT, max_tokens=20, temperature=0, logit_bias=only_eos)
    assert r.choices[0].text == "" and r.choices[0].finish_reason == "stop" and r.usage.completion_tokens == 0
    chunks = list(client.completions.create(model="pile", prompt=PROMPT, max_tokens=20, temperature=0,
                                            logit_bias=only_eos, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "" and chunks[-1].choices[0].finish_reason == "stop"


def test_sampled_text_equals_session_and_stops_where_it_does(pile):
    """With <|endoftext|> among a few allowed tokens, seeded runs end early where Session.generate
    ends them, with the same text."""
    base, session, eos = pile
    vocab = session.model.vocab_size
    allowed = set(range(300, 320)) | {eos}
    banned = [t for t in range(vocab) if t not in allowed]
    client = _client(base)
    finished_early = 0
    for seed in range(8):
        want = reference(session, PROMPT, 40, temperature=1.0, top_p=1.0, seed=seed,
                         logit_bias={t: -100 for t in banned})
        r = client.completions.create(model="pile", prompt=PROMPT, max_tokens=40, temperature=1.0, top_p=1.0,
                                      seed=seed, logit_bias={str(t): -100 for t in banned})
        assert r.choices[0].text == want
        assert r.usage.completion_tokens == len(want.tokens)
        assert r.choices[0].finish_reason == ("stop" if want.finish_reason == "stop_token" else "length")
        finished_early += want.finish_reason == "stop_token"
    assert finished_early >= 2  # the stop token really was drawn
