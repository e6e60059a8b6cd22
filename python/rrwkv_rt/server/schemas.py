"""Request bodies of the OpenAI-compatible endpoints (pydantic), and OpenAI-style error bodies.

Types are strict (``"10"`` is not a number, ``1`` is not ``true``), text must be Unicode (no lone
surrogates) and ranges are checked here,
so a bad field gets a 400 that names it before anything else happens. Fields the OpenAI API
has but that change nothing here (``user``, ...) are accepted and ignored; fields whose meaning
this server cannot honour (``best_of`` > 1, ``suffix``, ``tool_choice: "auto"``) are refused by
the app with a 400 naming them. Extensions beyond the OpenAI API (the OpenAI client passes them
with ``extra_body=``): ``top_k``, ``min_p``, ``repetition_penalty``, ``penalty_decay``
(runtime/generate.py has their meaning); ``initial_state``, the name of a state-tuning file the
server was started with; ``grammar``, a Lark or GBNF grammar the text must follow; and
``response_format`` on completions too.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

Number = Union[StrictFloat, StrictInt]


def _valid_unicode(s: str) -> str:
    """JSON may carry lone UTF-16 surrogates ("\\ud800"), which no text encoding can hold."""
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"the text holds a lone UTF-16 surrogate (U+{ord(s[e.start]):04X} at character "
                             f"{e.start}), which is not Unicode text: send a surrogate pair or the character "
                             "itself") from None
    return s


Text = Annotated[StrictStr, AfterValidator(_valid_unicode)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class StreamOptions(_Body):
    include_usage: bool = False


class _Sampling(_Body):
    model: Text
    max_tokens: Optional[StrictInt] = Field(None, ge=0)
    temperature: Number = Field(1.0, ge=0.0, le=10.0)
    top_p: Number = Field(1.0, ge=0.0, le=1.0)
    n: StrictInt = Field(1, ge=1, le=128)
    stream: bool = False
    stream_options: Optional[StreamOptions] = None
    stop: Optional[Union[Text, list[Text]]] = None
    seed: Optional[StrictInt] = Field(None, ge=0, le=2**64 - 1)
    presence_penalty: Number = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: Number = Field(0.0, ge=-2.0, le=2.0)
    logit_bias: Optional[dict[str, Any]] = None
    user: Optional[Text] = None
    # extensions (the rwkv package's sampling options)
    top_k: StrictInt = Field(0, ge=0)
    min_p: Number = Field(0.0, ge=0.0, le=1.0)
    repetition_penalty: Number = Field(1.0, gt=0.0)
    penalty_decay: Number = Field(0.996, ge=0.0, le=1.0)
    # the name of an initial state the server was started with (serve --initial-state NAME=FILE)
    initial_state: Optional[Text] = None
    # structured output: {"type": "text" | "json_object" | "json_schema", "json_schema": {...}}; or a grammar
    response_format: Optional[dict[str, Any]] = None
    grammar: Optional[Text] = None


class CompletionRequest(_Sampling):
    prompt: Union[Text, list[StrictInt], list[Text], list[list[StrictInt]]]
    logprobs: Optional[StrictInt] = Field(None, ge=0, le=5)
    echo: bool = False
    best_of: Optional[StrictInt] = Field(None, ge=1)
    suffix: Optional[Text] = None


class TextPart(_Body):
    type: Literal["text"]
    text: Text


class FunctionCall(_Body):
    name: Text
    arguments: Text


class ToolCall(_Body):
    id: Optional[Text] = None
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[Text, list[TextPart], None] = None
    name: Optional[Text] = None
    tool_calls: Optional[list[ToolCall]] = None  # an assistant's earlier calls
    tool_call_id: Optional[Text] = None  # a tool message: the call it answers

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class Function(_Body):
    name: Annotated[Text, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    description: Optional[Text] = None
    parameters: Optional[dict[str, Any]] = None
    strict: Optional[bool] = None


class Tool(_Body):
    type: Literal["function"]
    function: Function


class NamedFunction(_Body):
    name: Text


class NamedToolChoice(_Body):
    type: Literal["function"]
    function: NamedFunction


class ChatRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: Optional[StrictInt] = Field(None, ge=0)
    logprobs: bool = False
    top_logprobs: Optional[StrictInt] = Field(None, ge=0, le=20)
    tools: Optional[list[Tool]] = None
    tool_choice: Union[Literal["none", "auto", "required"], NamedToolChoice, None] = None
    parallel_tool_calls: Optional[bool] = None


class EmbeddingRequest(_Body):
    model: Text
    input: Union[Text, list[Text], list[StrictInt], list[list[StrictInt]]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Optional[StrictInt] = Field(None, ge=1)
    user: Optional[Text] = None


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """The OpenAI API's error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def describe_validation_error(errors: list[dict]) -> tuple[str, str | None]:
    """(message, param) for pydantic's errors, as a client wants to read it: the first one, or of a
    union's members the first whose type matched (its value is what is wrong)."""
    e = next((x for x in errors if not str(x.get("type", "")).endswith("_type")), errors[0])
    loc = [str(p) for p in e.get("loc", ()) if p != "body"]
    if e.get("type") == "json_invalid":
        return f"the request body is not valid JSON: {e.get('ctx', {}).get('error', e.get('msg'))}", None
    # union members show up as extra path entries ("str", "list[int]"); keep the field path
    path = [p for p in loc if not any(c in p for c in "[]") and p not in ("str", "int", "float", "bool", "list")]
    param = ".".join(path) or None
    msg = e.get("msg", "invalid value")
    if "input" in e and e.get("type") != "missing":
        shown = repr(e["input"])
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        msg = f"{msg} (got {shown})"
    if (len(errors) > 1 and str(e.get("type", "")).endswith("_type")
            and all(str(x.get("loc", ())[:2]) == str(e.get("loc", ())[:2]) for x in errors)):
        msg = f"{msg}; or another of the accepted types"
    return (f"{param}: {msg}" if param else msg), param
