"""`rrwkv serve` as a child process on 127.0.0.1, with what the soak and abuse runs read of it: its
metrics, its resident memory, and when it has nothing left to do."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

import httpx


def listening_socket() -> socket.socket:
    """A socket listening on 127.0.0.1 at a port the kernel picked. The server is handed the socket
    itself (`serve --fd`), so no other process can take the port between its choice and its use."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextlib.contextmanager
def serve(*args: str, startup_s: float = 120, env: dict | None = None):
    """`python -m rrwkv_rt serve ARGS` on a socket of 127.0.0.1; yields (base_url, Popen); stops it after."""
    sock = listening_socket()
    proc = subprocess.Popen([sys.executable, "-m", "rrwkv_rt", "serve", "--fd", str(sock.fileno()),
                             "--log-level", "error", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            pass_fds=[sock.fileno()], env=env)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # the server holds it now
    try:
        t0 = time.monotonic()
        while True:
            try:
                if httpx.get(base + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {proc.stderr.read().decode(errors='replace')}")
            if time.monotonic() - t0 > startup_s:
                raise RuntimeError("the server did not come up")
            time.sleep(0.1)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def metrics(base: str) -> dict[str, float]:
    """GET /metrics as {name with labels: value}."""
    out = {}
    for line in httpx.get(base + "/metrics", timeout=60).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def wait_idle(base: str, timeout_s: float = 120) -> dict[str, float]:
    """Poll until no request holds a row or waits for one; the metrics then."""
    t0 = time.monotonic()
    while True:
        m = metrics(base)
        if m.get("rrwkv_batch_size", 1) == 0 and m.get("rrwkv_queue_depth", 1) == 0:
            return m
        if time.monotonic() - t0 > timeout_s:
            raise RuntimeError(f"the server stayed busy: {m.get('rrwkv_batch_size')} rows in use, "
                               f"{m.get('rrwkv_queue_depth')} waiting")
        time.sleep(0.05)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
