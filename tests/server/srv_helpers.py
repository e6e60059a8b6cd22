"""Helpers of the server tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def running_server(**cfg):
    """Start a server with ServerConfig(**cfg); yields (base_url, service); stops it after."""
    import uvicorn
    from rrwkv_rt.server import ServerConfig, Service, create_app

    service = Service(ServerConfig(**({"threads": 1} | cfg)))
    app = create_app(service=service)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started:
        if not thread.is_alive() or time.monotonic() - t0 > 30:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", service
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def reference(session, prompt, max_tokens, **kw) -> str:
    """What Session.generate gives alone (from a fresh state)."""
    session.reset()
    return session.generate(prompt, max_tokens, **({"temperature": 0.0, "top_p": 1.0} | kw))


def metric(base_url: str, name: str) -> float:
    """One sample of GET /metrics (name with its labels, e.g. 'rrwkv_requests_total{outcome="stop"}');
    0 when absent."""
    import httpx
    for line in httpx.get(base_url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
