"""Structured output through the official `openai` client: response_format json_schema (ten
random schemas, every reply parses and validates with the `jsonschema` package, and equals
Session.generate(json_schema=...)), json_object, Lark and GBNF grammars (the `grammar`
extension), and the same on models with a World and a Hugging Face tokenizer."""
from __future__ import annotations

import json
import re

import pytest

from rrwkv_rt.runtime.chat import WORLD

import schema_gen
from srv_helpers import reference, running_server
from srv_models import pile_style_model, world_model

pytest.importorskip("llguidance")
jsonschema = pytest.importorskip("jsonschema")


def _chat_reference(session, messages, max_tokens, **kw) -> str:
    return reference(session, WORLD.render(messages), max_tokens, stop=list(WORLD.stop), **kw).lstrip()


@pytest.mark.parametrize("i,schema", list(enumerate(schema_gen.schemas(10, seed=2))))
def test_random_schemas_give_valid_json_equal_to_session(client, session, i, schema):
    messages = [{"role": "user", "content": f"Describe item {i} as JSON."}]
    fmt = {"type": "json_schema", "json_schema": {"name": f"item{i}", "schema": schema, "strict": True}}
    sampling = dict(temperature=0.8, top_p=0.95, seed=i) if i % 2 else dict(temperature=0)
    r = client.chat.completions.create(model="default", messages=messages, max_tokens=schema_gen.MAX_TOKENS,
                                       response_format=fmt, **sampling)
    text = r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop", text
    jsonschema.validate(json.loads(text), schema)
    want = _chat_reference(session, messages, schema_gen.MAX_TOKENS, json_schema=schema,
                           **({"temperature": 0.8, "top_p": 0.95, "seed": i} if i % 2 else {}))
    assert text == want


def test_json_object_and_streaming(client, session):
    prompt = "settings = "
    r = client.completions.create(model="default", prompt=prompt, max_tokens=300, temperature=0,
                                  extra_body={"response_format": {"type": "json_object"}})
    assert r.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(r.choices[0].text), dict)
    assert r.choices[0].text == reference(session, prompt, 300, json_schema=True)
    chunks = list(client.completions.create(model="default", prompt=prompt, max_tokens=300, temperature=0,
                                            stream=True, extra_body={"response_format": {"type": "json_object"}}))
    assert "".join(c.choices[0].text for c in chunks) == r.choices[0].text


@pytest.mark.parametrize("grammar", ['start: "def " NAME "(" ")"\nNAME: /[a-z_]{1,12}/',  # Lark
                                     'root ::= "def " [a-z_]{1,12} "()"'])  # GBNF
def test_grammars(client, session, grammar):
    r = client.completions.create(model="default", prompt="# a function\n", max_tokens=40, temperature=0.9, seed=1,
                                  extra_body={"grammar": grammar})
    assert re.fullmatch(r"def [a-z_]{1,12}\(\)", r.choices[0].text), r.choices[0].text
    assert r.choices[0].text == reference(session, "# a function\n", 40, temperature=0.9, seed=1, grammar=grammar)


def test_bad_schemas_and_grammars_are_400(client):
    openai = pytest.importorskip("openai")
    for extra in ({"grammar": 'start: "a" undefined_rule'},
                  {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 3}}}},
                  {"response_format": {"type": "json_schema"}}):
        with pytest.raises(openai.BadRequestError) as e:
            client.completions.create(model="default", prompt="x", max_tokens=5, extra_body=extra)
        assert e.value.body["param"] in ("grammar", "response_format"), e.value.body


@pytest.fixture(scope="module", params=["world", "hf byte-level BPE"])
def other_tokenizer(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("tok")
    if request.param == "world":
        return world_model(folder)
    pytest.importorskip("tokenizers")
    return pile_style_model(folder, byte_level=True)


def _served_json(path, schema, max_tokens):
    openai = pytest.importorskip("openai")
    with running_server(model_path=path, model_name="m", capacity=2) as (base, _):
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=120)
        return client.completions.create(model="m", prompt="x = ", max_tokens=max_tokens, temperature=1.0, seed=3,
                                         extra_body={"response_format": {"type": "json_schema",
                                                                         "json_schema": {"name": "s",
                                                                                         "schema": schema}}})


def test_every_tokenizer_kind(other_tokenizer):
    """Random models with multi-byte tokens: the reply follows the schema, ends where
    Session.generate ends, and equals it (the grammar engine sees each token's bytes)."""
    import rrwkv_rt
    session = rrwkv_rt.Session(other_tokenizer, threads=1)
    schema = schema_gen.schemas(1, seed=7)[0]
    want = reference(session, "x = ", 600, json_schema=schema, temperature=1.0, seed=3)
    assert want.finish_reason == "stop_token"
    jsonschema.validate(json.loads(want), schema)
    r = _served_json(other_tokenizer, schema, 600)
    assert r.choices[0].text == want and r.choices[0].finish_reason == "stop"


def test_a_vocabulary_without_spaces_fails_cleanly(tmp_path):
    """A word-level tokenizer.json (the `tokenizers` library's path) drops the spaces between
    words, so no token can write the ", " of compact JSON: Session.generate raises GrammarError
    and the server answers 400, instead of text that does not follow the schema."""
    pytest.importorskip("tokenizers")
    import openai
    import rrwkv_rt
    from rrwkv_rt.runtime.structured import GrammarError
    path = pile_style_model(tmp_path, byte_level=False)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
              "required": ["a", "b"], "additionalProperties": False}
    with pytest.raises(ValueError) as e:
        reference(rrwkv_rt.Session(path, threads=1), "x = ", 200, json_schema=schema, temperature=1.0, seed=3)
    assert isinstance(e.value, GrammarError) or "no token can be sampled" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        _served_json(path, schema, 200)
    assert e.value.body["code"] in ("grammar_error", "nothing_to_sample"), e.value.body
