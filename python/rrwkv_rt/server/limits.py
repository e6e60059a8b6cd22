"""Limits on what a client may make the server hold: the request body's size and the time its
headers and body may take to arrive, and how uvicorn is configured to enforce the rest.

* :class:`BodyLimit` (ASGI middleware) reads each request's body before the app sees it,
  counting bytes as they arrive: a declared ``Content-Length`` over ``max_bytes`` gets 413 before
  anything is read, and so does a body that grows past it; one that is not complete
  ``timeout`` seconds after its headers gets 408. The app then gets the whole body at once,
  and later ``receive()`` calls (the disconnect watch) go straight to the server.
* :func:`header_timeout_protocol`: uvicorn's h11 protocol, plus a deadline for each request's
  headers, from the connection's start or the request's first byte; a client that sends part of
  a request line or headers and stops gets 408 and the connection is closed (uvicorn times out
  only idle keep-alive connections).
* :func:`uvicorn_config`: the protocol above, ``limit_concurrency`` (503 past
  ``max_connections``), the keep-alive timeout and h11's limit on the size of the headers.
"""
from __future__ import annotations

import asyncio
import json

from .config import ServerConfig
from .schemas import error_body

KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_HEADER_BYTES = 16 << 10  # request line and headers (h11's default; 431/400 beyond)


async def _reject(send, status: int, message: str, code: str) -> None:
    body = json.dumps(error_body(message, "invalid_request_error", None, code)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app, max_bytes: int, timeout: float):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _reject(send, 413, f"the request body has {int(declared)} bytes; this server takes at most "
                                 f"{self.max_bytes} (its --max-body-mb)", "body_too_large")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - loop.time())
            except asyncio.TimeoutError:
                return await _reject(send, 408, f"the request body did not arrive within {self.timeout:g} s "
                                     "(this server's --body-timeout)", "body_timeout")
            if message["type"] == "http.disconnect":
                return  # the client left before its request was complete: no one to answer
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                return await _reject(send, 413, f"the request body has more than {self.max_bytes} bytes, this "
                                     "server's limit (its --max-body-mb)", "body_too_large")
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        given = False

        async def replay():
            nonlocal given
            if not given:
                given = True
                return whole
            return await receive()

        await self.app(scope, replay, send)


_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s")


def header_timeout_protocol(timeout: float):
    """uvicorn's h11 protocol class with a deadline of `timeout` seconds for each request's headers."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()  # the first request's line and headers must come in time, even if none does

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm()  # part of a request line or headers: the deadline runs from its first byte
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # arms uvicorn's keep-alive timeout until the next request
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
                self._arm()  # the first bytes of a pipelined request are here already
            else:
                self._disarm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(timeout, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            body = json.dumps(error_body(f"the request's headers did not arrive within {timeout:g} s (this "
                                         "server's --header-timeout)", "invalid_request_error", None,
                                         "header_timeout")).encode()
            self.transport.write(_TIMEOUT_RESPONSE % (len(body), body))
            self.transport.close()

    return HeaderTimeoutProtocol


def uvicorn_config(app, cfg: ServerConfig, **kwargs):
    """The uvicorn.Config that serves `app` within `cfg`'s limits (kwargs: host, port, log_level...)."""
    import uvicorn
    return uvicorn.Config(app, http=header_timeout_protocol(cfg.header_timeout), limit_concurrency=cfg.max_connections,
                          timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                          **({"timeout_graceful_shutdown": 5} | kwargs))
