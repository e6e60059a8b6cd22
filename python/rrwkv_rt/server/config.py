"""The server's settings (``rrwkv serve`` flags; docs/SERVING.md has their meaning and defaults)."""
from __future__ import annotations

import dataclasses

MAX_STOP_STRINGS = 4  # as the OpenAI API
MAX_STOP_BYTES = 256  # UTF-8 bytes of one stop string: text that may start one is held back


@dataclasses.dataclass
class ServerConfig:
    model_path: str | None = None  # None: the shipped model
    read_into_memory: bool = False  # Model(read_into_memory=...) (serve --read-into-memory)
    model_name: str | None = None  # the id clients pass as `model` (default: the file name without .rrwkv)
    chat_template: str | None = None  # a JSON file; default: the model file's meta.chat_template, else World
    threads: int | None = None
    exact: bool = True  # False: the fast path (serve --fast); outputs then equal Session(exact=False).generate
    device: str = "cpu"  # the Batch's device: "cpu", "cuda", "cuda:N" or "auto" (serve --device)
    capacity: int = 32  # concurrent sequences (batch rows)
    max_queue: int = 64  # requests waiting for a row; more get 503
    prefill_chunk: int = 128  # equal to Session's default, so outputs equal Session.generate
    cache_bytes: int = 256 << 20  # everything the prompt cache holds: states, keys, bookkeeping
    max_tokens_limit: int = 4096
    default_max_tokens: int = 256  # chat requests without max_tokens (completions default to 16, as OpenAI)
    max_prompt_tokens: int = 32768
    max_prompt_bytes: int = 1 << 20  # a text prompt's UTF-8 bytes, checked before it is tokenized
    max_body_bytes: int = 4 << 20  # a request body; larger ones get 413 before they are read
    request_timeout: float | None = 600.0
    header_timeout: float = 10.0  # a request's headers must arrive within this, from its first byte
    body_timeout: float = 60.0  # and its body within this, from the end of the headers
    max_connections: int = 512  # open connections; requests beyond get 503 (uvicorn's limit_concurrency)
    initial_states: dict[str, str] | None = None  # name -> state-tuning file, chosen per request
    api_key: str | None = None  # requests must send "Authorization: Bearer KEY" (auth.py); None: open
    protect_metrics: bool = False  # /metrics needs the key too

    def check(self) -> None:
        for name in ("capacity", "max_queue", "prefill_chunk", "max_tokens_limit", "max_prompt_tokens",
                     "max_prompt_bytes", "max_body_bytes", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {self.cache_bytes}")
        if not 0 <= self.default_max_tokens <= self.max_tokens_limit:
            raise ValueError(f"default_max_tokens must be in 0..max_tokens_limit ({self.max_tokens_limit}), "
                             f"got {self.default_max_tokens}")
        if self.request_timeout is not None and self.request_timeout <= 0:
            raise ValueError(f"request_timeout must be > 0 seconds (or None), got {self.request_timeout}")
        if self.api_key is not None and (not self.api_key or not self.api_key.isprintable() or " " in self.api_key):
            raise ValueError("api_key must be a non-empty string of printable characters without spaces")
        if self.protect_metrics and not self.api_key:
            raise ValueError("protect_metrics needs an api_key")
        for name in ("header_timeout", "body_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)}")
