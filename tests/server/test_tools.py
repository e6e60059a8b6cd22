"""Function calling through the official `openai` client: a named tool_choice gives a tool call
whose arguments parse and follow the function's JSON schema (streamed too), "required" a call of
one of the functions; the reply equals Session.generate under the same schema on the same prompt
(the functions described in a system message); an earlier call and its result can be sent back;
"auto" is refused with a 400 that says what to do."""
from __future__ import annotations

import json

import pytest

from rrwkv_rt.runtime.chat import WORLD

from srv_helpers import reference

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("llguidance")
openai = pytest.importorskip("openai")

WEATHER = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                                            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
           "required": ["city", "days"], "additionalProperties": False}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The forecast.",
                                            "parameters": WEATHER}},
         {"type": "function", "function": {"name": "add", "parameters": {
             "type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 99},
                                              "b": {"type": "integer", "minimum": 0, "maximum": 99}},
             "required": ["a", "b"], "additionalProperties": False}}}]
MESSAGES = [{"role": "user", "content": "Weather in Oslo for three days?"}]


def _prompt(messages) -> str:
    lines = ["You can call these functions; a call is written as JSON."]
    for t in TOOLS:
        f = t["function"]
        lines.append(f"- {f['name']}: {f.get('description') or '(no description)'} Arguments: "
                     f"{json.dumps(f['parameters'], sort_keys=True)}")
    return WORLD.render([{"role": "system", "content": "\n".join(lines)}] + messages)


def test_named_function(client, session):
    choice = {"type": "function", "function": {"name": "get_weather"}}
    r = client.chat.completions.create(model="default", messages=MESSAGES, tools=TOOLS, tool_choice=choice,
                                       max_tokens=200, temperature=0)
    m = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls" and m.content is None and len(m.tool_calls) == 1
    call = m.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)
    want = reference(session, _prompt(MESSAGES), 200, stop=list(WORLD.stop), json_schema=WEATHER)
    assert call.function.arguments == str(want)
    args, names, finish = "", set(), None
    for chunk in client.chat.completions.create(model="default", messages=MESSAGES, tools=TOOLS, tool_choice=choice,
                                                max_tokens=200, temperature=0, stream=True):
        delta = chunk.choices[0].delta
        for tc in delta.tool_calls or []:
            names.add(tc.function.name)
            args += tc.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert args == call.function.arguments and names - {None} == {"get_weather"} and finish == "tool_calls"


def test_required_calls_one_of_the_functions_and_results_go_back(client):
    r = client.chat.completions.create(model="default", messages=MESSAGES, tools=TOOLS, tool_choice="required",
                                       max_tokens=300, temperature=0.7, seed=2)
    call = r.choices[0].message.tool_calls[0]
    schema = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}[call.function.name]
    jsonschema.validate(json.loads(call.function.arguments), schema)
    follow = MESSAGES + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                         {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    r2 = client.chat.completions.create(model="default", messages=follow, tools=TOOLS, tool_choice="none",
                                        max_tokens=10, temperature=0)
    assert r2.choices[0].message.tool_calls is None and r2.choices[0].finish_reason in ("stop", "length")


def test_auto_is_refused(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="default", messages=MESSAGES, tools=TOOLS, max_tokens=5)
    assert e.value.body["param"] == "tool_choice" and "not supported" in e.value.body["message"]
