"""An OpenAI-compatible HTTP server over the batched engine (``rrwkv serve``; docs/SERVING.md).

Needs the optional extra ``rrwkv_rt[server]`` (FastAPI, uvicorn, pydantic). Modules: ``app``
(the routes), ``config`` (the settings), ``service`` (what the routes share, the checks),
``prepare`` (a body -> a checked job, off the event loop), ``limits`` (body size, header and body
timeouts, uvicorn's settings), ``schemas`` (request bodies), ``responses`` (response shapes),
``scheduler`` (the thread driving the Batch: continuous batching), ``cache`` (the prompt-state
LRU), ``metrics``.
The chat templates live in the library, ``rrwkv_rt.runtime.chat``.
"""
from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(f"the server needs the optional dependencies of rrwkv_rt[server] (fastapi, uvicorn, pydantic): "
                      f"pip install 'rrwkv_rt[server]' ({e})") from None

from .app import create_app
from .config import ServerConfig
from .limits import uvicorn_config
from .service import Service


def serve(cfg: ServerConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info",
          sock=None) -> None:
    """Run the server until interrupted; on `sock` (a listening socket) instead of host:port if given."""
    server = uvicorn.Server(uvicorn_config(create_app(cfg), cfg, host=host, port=port, log_level=log_level))
    server.run(sockets=None if sock is None else [sock])


__all__ = ["ServerConfig", "Service", "create_app", "serve", "uvicorn_config"]
