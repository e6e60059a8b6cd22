"""Helpers of the server tests (imported by name: pytest puts this folder on sys.path).

Nothing here races the machine's speed: a test that needs the engine to be "still busy" holds it
with a :class:`Gate` (the batch's calls wait until the test lets them through), and one that
needs time to pass moves a :class:`FakeClock`.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def running_server(clock=None, **cfg):
    """Start a server with ServerConfig(**cfg); yields (base_url, service); stops it after."""
    import uvicorn
    from rrwkv_rt.server import ServerConfig, Service, create_app, uvicorn_config

    config = ServerConfig(**({"threads": 1} | cfg))
    service = Service(config, **({"clock": clock} if clock is not None else {}))
    app = create_app(service=service)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, config, log_level="warning", timeout_graceful_shutdown=2))
    service.uvicorn_server = server  # for tests that reach the connections (expire_header_timers)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started:
        if not thread.is_alive() or time.monotonic() - t0 > 60:
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


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll until predicate() (the bound only keeps a broken test from hanging)."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Gate:
    """Holds the scheduler's batch calls (step, forward, hidden_state) until the test lets them through:
    ``gate.close()`` makes the next call wait, ``gate.open()`` releases all, ``gate.allow(n)``
    lets n more calls run. ``waiting`` is set while a call waits (the engine is "busy")."""

    def __init__(self, scheduler):
        self._batch = scheduler.batch
        self._cv = threading.Condition()
        self._permits: float = float("inf")
        self.waiting = threading.Event()
        self.calls = 0
        scheduler.batch = self

    def close(self) -> None:
        with self._cv:
            self._permits = 0

    def open(self) -> None:
        with self._cv:
            self._permits = float("inf")
            self._cv.notify_all()

    def allow(self, n: int) -> None:
        with self._cv:
            self._permits = n
            self._cv.notify_all()

    def _pass(self) -> None:
        with self._cv:
            while self._permits <= 0:
                self.waiting.set()
                self._cv.wait()
            self.waiting.clear()
            self._permits -= 1
            self.calls += 1

    def step(self, *args, **kwargs):
        self._pass()
        return self._batch.step(*args, **kwargs)

    def forward(self, *args, **kwargs):
        self._pass()
        return self._batch.forward(*args, **kwargs)

    def hidden_state(self, *args, **kwargs):
        self._pass()
        return self._batch.hidden_state(*args, **kwargs)

    def __getattr__(self, name):  # add, remove, rows, get_state: straight through
        return getattr(self._batch, name)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def with_event_on_cancel(scheduler) -> threading.Event:
    """An Event set each time the HTTP side cancels a request (the client went away)."""
    event = threading.Event()
    cancel = scheduler.cancel

    def cancel_and_tell(req):
        cancel(req)
        if req.cancelled:
            event.set()

    scheduler.cancel = cancel_and_tell
    return event


def count_submits(scheduler) -> list:
    """A list that gets one entry per request the scheduler accepts."""
    seen: list = []
    submit = scheduler.submit

    def counted(req):
        submit(req)
        seen.append(req)

    scheduler.submit = counted
    return seen


def expire_header_timers(service) -> int:
    """Fire the header deadline of every connection that has one armed, as if its time had run
    out (the server's loop runs the expiry); how many there were."""
    armed = [p for p in list(service.uvicorn_server.server_state.connections) if p._header_timer is not None]
    for p in armed:
        p.loop.call_soon_threadsafe(p._expired)
    return len(armed)
