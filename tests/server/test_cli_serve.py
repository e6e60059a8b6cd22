"""`rrwkv serve` as a user runs it: a subprocess on 127.0.0.1 (on a socket the test bound and
hands over with --fd, so no other process can take its port first), the shipped model, a chat
template file; startup errors are one line and a non-zero exit."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rrwkv_rt.runtime.chat import ChatTemplate

from srv_helpers import reference

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from benchlib import served  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    # the tests run from tests/, against the installed package (or PYTHONPATH when developing)
    return dict(os.environ)


def test_serve_subcommand(tmp_path, session):
    template = ChatTemplate(user="Q: {content}\n", assistant="A: {content}\n", generation_prompt="A:", stop=("\nQ:",),
                            fold_blank_lines=False)
    tfile = tmp_path / "template.json"
    tfile.write_text(template.to_json())
    sock = served.listening_socket()  # handed over: no other process can take the port meanwhile
    proc = subprocess.Popen([sys.executable, "-m", "rrwkv_rt", "serve", "--fd", str(sock.fileno()), "--threads", "1",
                             "--model-name", "tiny", "--chat-template", str(tfile), "--log-level", "warning"],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()])
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() - t0 < 60, "the server did not come up"
            time.sleep(0.1)
        assert httpx.get(base + "/v1/models").json()["data"][0]["id"] == "tiny"
        body = {"model": "tiny", "messages": [{"role": "user", "content": "def add(a, b):"}], "max_tokens": 40,
                "temperature": 0}
        r = httpx.post(base + "/v1/chat/completions", json=body, timeout=60).json()
        want = reference(session, "Q: def add(a, b):\nA:", 40, stop=["\nQ:"]).lstrip()
        assert r["choices"][0]["message"]["content"] == want
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode in (0, -15)


@pytest.mark.parametrize("args,words", [(["/nonexistent/model.rrwkv"], "model.rrwkv"),
                                         (["--capacity", "0"], "capacity must be >= 1"),
                                         (["--chat-template", "/nonexistent.json"], "nonexistent.json"),
                                         (["--fd", "987"], "--fd 987 is not an open socket")])
def test_startup_errors_are_one_line(args, words):
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "serve", *args, "--port", str(_free_port())], env=_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith("rrwkv serve: error:") and words in r.stderr and r.stderr.count("\n") == 1, r.stderr
