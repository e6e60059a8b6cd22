"""Chat templates (rrwkv_rt.runtime.chat): World's convention, templates from JSON and from a
model file's meta.chat_template."""
from __future__ import annotations

import json

import pytest

import rrwkv_rt
from rrwkv_rt.config import ModelConfig
from rrwkv_rt.runtime.chat import HEADER_FIELD, WORLD, ChatTemplate, template_for

from gen_helpers import write_random_model


def test_world_convention():
    msgs = [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": "Hi\r\n\r\n\n\nthere"},
            {"role": "assistant", "content": "Hello {name}"}, {"role": "user", "content": "Bye"}]
    assert WORLD.render(msgs) == ("System: Be brief.\n\nUser: Hi\nthere\n\nAssistant: Hello {name}\n\n"
                                  "User: Bye\n\nAssistant:")
    assert WORLD.render(msgs[:2], add_generation_prompt=False) == "System: Be brief.\n\nUser: Hi\nthere\n\n"
    assert WORLD.stop == ("\n\n",)


def test_bad_messages_are_named():
    with pytest.raises(ValueError, match=r"messages\[1\].role must be one of system, user, assistant"):
        WORLD.render([{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}])
    with pytest.raises(ValueError, match=r"messages\[0\].content must be a string"):
        WORLD.render([{"role": "user", "content": None}])


def test_from_json_keeps_defaults_and_checks_fields():
    t = ChatTemplate.from_json('{"user": "Q: {content}\\n", "generation_prompt": "A:", "stop": "\\n"}')
    assert t.render([{"role": "user", "content": "x"}]) == "Q: x\nA:"
    assert t.system == WORLD.system and t.stop == ("\n",)
    assert ChatTemplate.from_json(t.to_json()) == t
    for text, words in [("{", "not valid JSON"), ("[]", "must be a JSON object"), ('{"usr": "x"}', "unknown field"),
                        ('{"user": "no placeholder"}', "exactly one '{content}'"), ('{"stop": [""]}', "non-empty")]:
        with pytest.raises(ValueError, match=words):
            ChatTemplate.from_json(text)


def test_template_from_the_model_file(tmp_path):
    pytest.importorskip("torch")
    cfg = ModelConfig(arch="rwkv4", n_layer=1, n_embd=16, vocab_size=256)
    plain = write_random_model(tmp_path / "plain.rrwkv", cfg, 0)
    assert template_for(plain) is WORLD
    custom = ChatTemplate(user="Question: {content}\n", assistant="Answer: {content}\n", generation_prompt="Answer:",
                          stop=("\nQuestion:",), fold_blank_lines=False)
    path = write_random_model(tmp_path / "custom.rrwkv", cfg, 0, metadata={"chat_template": custom.to_json()})
    assert rrwkv_rt.ModelFile(path).fields[HEADER_FIELD] == custom.to_json()
    assert template_for(path) == custom == template_for(rrwkv_rt.Model(path))
    bad = write_random_model(tmp_path / "bad.rrwkv", cfg, 0, metadata={"chat_template": json.dumps({"user": 1})})
    with pytest.raises(ValueError, match="meta.chat_template of .*bad.rrwkv"):
        template_for(bad)
