"""Structured output in the Python API: generate(json_schema=..., grammar=...) on the shipped
model gives text that parses and follows the schema (checked with `jsonschema`), streams the same
text, and refuses a bad schema or grammar before reading the prompt; logit_bias is added to the
logits as the Sampler adds it."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import rrwkv_rt

pytest.importorskip("llguidance")
jsonschema = pytest.importorskip("jsonschema")

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8},
                                           "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
                                           "n": {"type": "integer", "minimum": 1, "maximum": 9}},
          "required": ["name", "tags", "n"], "additionalProperties": False}


@pytest.fixture(scope="module")
def session():
    return rrwkv_rt.Session(rrwkv_rt.default_model_path(), threads=1)


def test_json_schema(session):
    for seed in range(3):
        session.reset()
        r = session.generate("record = ", 300, temperature=1.0, seed=seed, json_schema=SCHEMA)
        assert r.finish_reason == "stop_token"
        jsonschema.validate(json.loads(r), SCHEMA)
        session.reset()
        assert "".join(session.generate("record = ", 300, temperature=1.0, seed=seed, json_schema=json.dumps(SCHEMA),
                                        stream=True)) == r
    session.reset()
    assert isinstance(json.loads(session.generate("d = ", 300, temperature=0, json_schema=True)), dict)


def test_grammar(session):
    session.reset()
    r = session.generate("# n\n", 30, temperature=0.5, seed=4, grammar='start: "x = " /[0-9]{1,3}/ "\\n"')
    assert re.fullmatch(r"x = [0-9]{1,3}\n", r) and r.finish_reason == "stop_token"


def test_bad_schema_and_grammar_are_refused_before_the_prompt_is_read(session):
    from rrwkv_rt.runtime.structured import GrammarError
    session.reset()
    before = session.get_state()
    for kw in ({"json_schema": "{not json"}, {"json_schema": {"type": 12}}, {"grammar": "start: ("},
               {"json_schema": True, "grammar": 'start: "a"'}):
        with pytest.raises(ValueError):
            session.generate("x", 5, **kw)
    with pytest.raises(GrammarError, match="json_schema"):
        session.generate("x", 5, json_schema={"type": 12})
    assert session.get_state() == before
    with pytest.raises(ValueError, match="tokenizer"):
        session.generate([1, 2], 5, tokenizer=False, json_schema=True)


def test_logit_bias_in_generate(session):
    bias = {ord("e"): 3.0, ord(" "): -2.0}
    session.reset()
    got = session.generate("def ", 30, temperature=1.0, top_p=1.0, seed=9, logit_bias=bias)
    add = np.zeros(256, dtype=np.float32)
    for t, v in bias.items():
        add[t] = v
    session.reset()
    same = session.generate("def ", 30, temperature=1.0, top_p=1.0, seed=9,
                            logits_processor=lambda toks, logits: logits + add)
    assert got == same
