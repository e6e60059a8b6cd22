"""Chat templates: a conversation (a list of messages) as the prompt text a model was trained on.

    from rrwkv_rt.runtime.chat import template_for
    t = template_for(model)                  # the file's own template, else the family default
    prompt = t.render([{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": "Hi"}])
    # 'System: Be brief.\\n\\nUser: Hi\\n\\nAssistant:'; generate with stop=t.stop

The default is RWKV World's convention (ChatRWKV, the RWKV World models' training data): each
turn is ``Role: content`` followed by a blank line, the reply is prompted by ``Assistant:``
and ends at the next blank line ("\\n\\n", the template's stop string). Because a blank line
ends a turn, blank lines inside a message are folded to single newlines and each message is
stripped, as ChatRWKV does.

A model file may carry its own template in the header field ``meta.chat_template``: a JSON
object with the fields of :class:`ChatTemplate` (any omitted field keeps the World default),
e.g. ``{"user": "Question: {content}\\n\\n", "assistant": "Answer: {content}\\n\\n",
"generation_prompt": "Answer:"}``. Write one with
``write_model(..., metadata={"chat_template": json.dumps({...})})`` or pass such a JSON file to
``rrwkv serve --chat-template PATH``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Iterable, Mapping

HEADER_FIELD = "meta.chat_template"
ROLES = ("system", "user", "assistant")


@dataclasses.dataclass(frozen=True)
class ChatTemplate:
    """How messages become prompt text. ``system`` / ``user`` / ``assistant`` are formats with a
    ``{content}`` placeholder, ``generation_prompt`` is appended after the last message to make
    the model answer, ``stop`` are the strings that end a reply (not part of it), and
    ``fold_blank_lines`` replaces blank lines inside a message by single newlines (needed when
    a blank line is the turn separator)."""

    system: str = "System: {content}\n\n"
    user: str = "User: {content}\n\n"
    assistant: str = "Assistant: {content}\n\n"
    generation_prompt: str = "Assistant:"
    stop: tuple[str, ...] = ("\n\n",)
    fold_blank_lines: bool = True

    def __post_init__(self):
        for role in ROLES:
            fmt = getattr(self, role)
            if not isinstance(fmt, str) or fmt.count("{content}") != 1:
                raise ValueError(f"chat template field {role!r} must be a string with exactly one '{{content}}', "
                                 f"got {fmt!r}")
        if not isinstance(self.generation_prompt, str):
            raise ValueError(f"chat template field 'generation_prompt' must be a string, got {self.generation_prompt!r}")
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        if not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"chat template field 'stop' must be a list of non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", stop)

    def format_content(self, content: str) -> str:
        """A message's text as it goes into the prompt (stripped; blank lines folded)."""
        text = content.replace("\r\n", "\n").strip()
        if self.fold_blank_lines:
            while "\n\n" in text:
                text = text.replace("\n\n", "\n")
        return text

    def render(self, messages: Iterable[Mapping[str, Any]], add_generation_prompt: bool = True) -> str:
        """The prompt for `messages` (each ``{"role": "system"|"user"|"assistant", "content": str}``),
        ending with the generation prompt unless ``add_generation_prompt=False``. ValueError
        names the first bad message."""
        parts = []
        for i, m in enumerate(messages):
            role, content = m.get("role"), m.get("content")
            if role not in ROLES:
                raise ValueError(f"messages[{i}].role must be one of {', '.join(ROLES)}, got {role!r}")
            if not isinstance(content, str):
                raise ValueError(f"messages[{i}].content must be a string, got {type(content).__name__}")
            # str.replace, not str.format: braces in a message are plain text
            parts.append(getattr(self, role).replace("{content}", self.format_content(content)))
        if add_generation_prompt:
            parts.append(self.generation_prompt)
        return "".join(parts)

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str, origin: str = "chat template") -> ChatTemplate:
        """A template from its JSON (omitted fields keep the World default); ValueError names
        the origin and what is wrong."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{origin} is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise ValueError(f"{origin} must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{origin} has unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
        try:
            return cls(**d)
        except ValueError as e:
            raise ValueError(f"{origin}: {e}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ChatTemplate:
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read(), f"chat template file {os.fspath(path)!r}")


WORLD = ChatTemplate()
"""RWKV World's ``User: ...\\n\\nAssistant:`` convention (the default for every model family
this runtime runs: RWKV-4 World, RRWKV)."""


def template_for(model) -> ChatTemplate:
    """The chat template of `model` (a path, a ModelFile or a runtime Model): the header's
    ``meta.chat_template`` when present, else :data:`WORLD`."""
    from .. import _core
    if not isinstance(model, _core.ModelFile):
        path = model.path if hasattr(model, "path") and not isinstance(model, (str, os.PathLike)) else model
        model = _core.ModelFile(os.fspath(path), verify_checksums=False)
    text = model.fields.get(HEADER_FIELD)
    if text is None:
        return WORLD
    return ChatTemplate.from_json(text, f"{HEADER_FIELD} of {model.path!r}")


__all__ = ["ChatTemplate", "HEADER_FIELD", "WORLD", "template_for"]
