"""An API key (``rrwkv serve --api-key KEY``, or the environment variable ``RRWKV_API_KEY``):
every request must carry ``Authorization: Bearer KEY``, else it gets 401 with an OpenAI-style
error body before anything else is read. ``GET /health`` stays open (load balancers probe it);
``GET /metrics`` too unless ``--protect-metrics``. Keys are compared in constant time.
"""
from __future__ import annotations

import hmac
import json

from .schemas import error_body

ENV_VAR = "RRWKV_API_KEY"
OPEN_PATHS = ("/health",)


class ApiKey:
    """ASGI middleware: 401 for an HTTP request without the key (the OpenAI API's answer)."""

    def __init__(self, app, key: str, protect_metrics: bool = False):
        self.app = app
        self.expected = f"Bearer {key}".encode()
        self.open = OPEN_PATHS if protect_metrics else OPEN_PATHS + ("/metrics",)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.open:
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            return await self.app(scope, receive, send)
        message = ("Incorrect API key provided: this server needs the header 'Authorization: Bearer <key>' with "
                   "its key (rrwkv serve --api-key, or RRWKV_API_KEY)" if given else
                   "You didn't provide an API key: send the header 'Authorization: Bearer <key>' with this "
                   "server's key (rrwkv serve --api-key, or RRWKV_API_KEY)")
        body = json.dumps(error_body(message, "invalid_request_error", None, "invalid_api_key")).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})
