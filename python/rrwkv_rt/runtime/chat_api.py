"""``Session.chat(messages, ...)``: one assistant reply through the model's chat template.

The same rendering as ``rrwkv serve``'s /v1/chat/completions (``chat.py``): the messages become
the prompt, generation stops at the template's stop strings, and the reply's leading space (the
one after ``Assistant:``) is dropped. The session starts from a fresh state for each call, so a
conversation is the whole message list each time (as with the OpenAI API).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from .chat import template_for


def chat(self, messages: Iterable[Mapping[str, Any]], max_new_tokens: int = 200, *, stop=None, template=None,
         **sampling):
    """The assistant's reply to `messages` (``[{"role": "user", "content": "Hi"}, ...]``) as a
    ``GenerationResult`` (a str); ``sampling`` takes generate()'s keywords (temperature, top_p,
    seed, ...). ``template`` overrides the model's ``ChatTemplate``."""
    if sampling.get("stream"):
        raise ValueError("chat() returns the whole reply; for chunks use generate(template.render(messages), "
                         "stream=True)")
    tpl = template if template is not None else template_for(self.model)
    prompt = tpl.render(list(messages))
    extra = [stop] if isinstance(stop, str) else list(stop or [])
    self.reset()
    result = self.generate(prompt, max_new_tokens, stop=list(tpl.stop) + extra, **sampling)
    return result.with_text(str(result).lstrip())
