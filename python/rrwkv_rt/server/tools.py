"""Function calling (``tools``, ``tool_choice``) through structured output: a named function's
arguments, or with ``tool_choice: "required"`` a call of one of the functions, are generated
under the JSON schema they must follow, so they always parse and conform (unless cut by
``max_tokens``). ``tool_choice: "auto"``, where the model decides whether to call a function,
is not supported: it would need the model to choose between text and a call, which this server
does not guess at.

The functions are described to the model in a system message before the conversation
(``tools_message``); an assistant message's earlier ``tool_calls`` are rendered as the JSON of
the call and a ``tool`` message as a user turn holding the result (``render_message``).
"""
from __future__ import annotations

import json
import uuid

from .service import BadRequest

NO_PARAMETERS = {"type": "object"}


def _parameters(f) -> dict:
    return f.parameters if f.parameters is not None else NO_PARAMETERS


def call_schema(body) -> tuple[dict | None, str | None]:
    """(the JSON schema the reply must follow, the named function or None for "required"), or
    (None, None) when no function is to be called."""
    tools, choice = body.tools or [], body.tool_choice
    if not tools or choice == "none":
        if choice not in (None, "none"):
            raise BadRequest("tool_choice names a function but no tools were given", "tool_choice")
        return None, None
    if choice is None or choice == "auto":
        raise BadRequest("tool_choice \"auto\" (the default when tools are given) is not supported: this server "
                         "cannot let the model choose between text and a call. Pass tool_choice={\"type\": "
                         "\"function\", \"function\": {\"name\": ...}} or \"required\", or \"none\"", "tool_choice")
    by_name = {t.function.name: t.function for t in tools}
    if len(by_name) != len(tools):
        raise BadRequest("tools: two functions have the same name", "tools")
    if choice == "required":
        calls = [{"type": "object", "properties": {"name": {"const": name}, "arguments": _parameters(f)},
                  "required": ["name", "arguments"], "additionalProperties": False} for name, f in by_name.items()]
        return (calls[0] if len(calls) == 1 else {"anyOf": calls}), None
    name = choice.function.name
    if name not in by_name:
        raise BadRequest(f"tool_choice names the function {name!r}, which is not among the tools "
                         f"({', '.join(map(repr, by_name))})", "tool_choice")
    return _parameters(by_name[name]), name


def tools_message(body) -> dict | None:
    """The system message that describes the functions to the model (None without tools)."""
    if not body.tools or body.tool_choice in (None, "none"):
        return None
    lines = ["You can call these functions; a call is written as JSON."]
    for t in body.tools:
        f = t.function
        lines.append(f"- {f.name}: {f.description or '(no description)'} Arguments: "
                     f"{json.dumps(_parameters(f), sort_keys=True)}")
    return {"role": "system", "content": "\n".join(lines)}


def render_message(m) -> dict:
    """A request message as the chat template takes it (role, content)."""
    role = "system" if m.role == "developer" else m.role
    text = m.text()
    if m.role == "assistant" and m.tool_calls:
        calls = [json.dumps({"name": c.function.name, "arguments": c.function.arguments}) for c in m.tool_calls]
        text = "\n".join(([text] if text else []) + calls)
    if m.role == "tool":
        role, text = "user", f"Function result: {text}"
    return {"role": role, "content": text}


def tool_calls(text: str, name: str | None) -> list[dict] | None:
    """The OpenAI tool_calls of a finished reply: the arguments text itself for a named function,
    the parsed {"name", "arguments"} for "required"; None if the text is not a complete call
    (cut by max_tokens)."""
    if name is not None:
        arguments = text
    else:
        try:
            call = json.loads(text)
            name, arguments = call["name"], json.dumps(call["arguments"])
        except (ValueError, KeyError, TypeError):
            return None
    return [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": name, "arguments": arguments}}]
