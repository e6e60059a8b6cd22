"""`python -m rrwkv_rt generate | chat` as a user runs them: output equals Session.generate,
state files, chat over a pipe, and errors as one line with a non-zero exit and no traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import rrwkv_rt


def cli(*args, stdin=None, timeout=120, exe=None):
    cmd = [exe] if exe else [sys.executable, "-m", "rrwkv_rt"]
    r = subprocess.run(cmd + [str(a) for a in args], input=None if stdin is None else stdin.encode(),
                       capture_output=True, timeout=timeout)
    r.stdout, r.stderr = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")  # no \r -> \n
    return r


def one_line_error(r, command, *needles):
    assert r.returncode == 1, r
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"rrwkv {command}: error: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_generate_prints_what_session_generate_returns(models, tmp_path):
    opts = dict(temperature=0.9, top_p=0.9, top_k=50, min_p=0.01, presence_penalty=0.2, frequency_penalty=0.1,
                penalty_decay=0.99, seed=11)
    r = cli("generate", models["a"], "--prompt", "def f(x):", "--max-new-tokens", 40, "--temperature", 0.9,
            "--top-p", 0.9, "--top-k", 50, "--min-p", 0.01, "--presence-penalty", 0.2, "--frequency-penalty", 0.1,
            "--penalty-decay", 0.99, "--seed", 11, "--threads", 1, "--state-out", tmp_path / "s.state", "--stats")
    assert r.returncode == 0, r.stderr
    s = rrwkv_rt.Session(models["a"], threads=1)
    expect = s.generate("def f(x):", 40, **opts)
    assert r.stdout == expect + "\n"
    assert "prompt tokens" in r.stderr and "tokens/s" in r.stderr
    # the saved state continues like the session that generated in-process (with the model read
    # into memory rather than mapped: the same weights)
    r2 = cli("generate", models["a"], "--prompt", "\n", "--max-new-tokens", 20, "--temperature", 0,
             "--state-in", tmp_path / "s.state", "--stop", "zz", "--echo", "--read-into-memory")
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == "\n" + s.generate("\n", 20, temperature=0, stop="zz") + "\n"


def test_stop_escapes(models):
    r = cli("generate", models["b"], "--prompt", "class A:\n", "--max-new-tokens", 60, "--temperature", 0,
            "--stop", "\\n", "--stop", "\\t")
    assert r.returncode == 0, r.stderr
    s = rrwkv_rt.Session(models["b"])
    assert r.stdout == s.generate("class A:\n", 60, temperature=0, stop=["\n", "\t"]) + "\n"


def test_generate_errors_are_one_line(models, tmp_path):
    one_line_error(cli("generate", tmp_path / "missing.rrwkv", "--prompt", "x"), "generate", "missing.rrwkv")
    one_line_error(cli("generate", models["a"], "--prompt", "x", "--temperature", "-1"), "generate",
                   "temperature must be a finite number >= 0")
    one_line_error(cli("generate", models["a"], "--prompt", "x", "--top-p", "3"), "generate", "top_p must be in [0, 1]")
    one_line_error(cli("generate", models["a"], "--prompt", ""), "generate", "prompt is empty")
    one_line_error(cli("generate", models["a"], "--prompt", "x", "--threads", "0"), "generate", "--threads")
    (tmp_path / "junk.state").write_bytes(b"junk")
    one_line_error(cli("generate", models["a"], "--prompt", "x", "--state-in", tmp_path / "junk.state"), "generate",
                   "not a session state")
    r = cli("generate", models["a"], "--prompt", "x", "--max-new-tokens", "lots")
    assert r.returncode == 2 and "invalid int value" in r.stderr and "Traceback" not in r.stderr


def test_default_model(tmp_path):
    path = os.path.join(os.path.dirname(rrwkv_rt.__file__), "data", "default.rrwkv")
    r = cli("generate", "--prompt", "import ", "--max-new-tokens", 30, "--seed", 0)
    if os.path.exists(path):
        assert r.returncode == 0 and len(r.stdout) > 1, r.stderr
    else:
        one_line_error(r, "generate", "default model", "is not installed")
        with pytest.raises(FileNotFoundError, match="is not installed"):
            rrwkv_rt.default_model_path()


def test_chat_over_a_pipe(models, tmp_path):
    state = tmp_path / "chat.state"
    script = "\n".join(["hello there", "/save " + str(state), "/load " + str(tmp_path / "nope.state"), "",
                        "how are you?", "/bogus", "/reset", "/load " + str(state), "again", "/quit", "never read"])
    args = ["chat", models["a"], "--max-new-tokens", 12, "--temperature", 0, "--threads", 1]
    r = cli(*args, stdin=script + "\n")
    assert r.returncode == 0, r.stderr
    assert "saved the state" in r.stderr and "loaded the state" in r.stderr and "conversation reset" in r.stderr
    assert "rrwkv chat: error:" in r.stderr and "unknown command '/bogus'" in r.stderr
    assert "Traceback" not in r.stderr and state.exists()
    # the turns keep the state: the replies equal one session fed the same transcript
    s = rrwkv_rt.Session(models["a"], threads=1)

    def turn(text):
        st = s.generate(f"User: {text}\n\nAssistant:", 12, temperature=0, stop=["\n\n"], stream=True)
        reply = "".join(st)
        if st.stop_string != b"\n\n":
            s.forward(list(b"\n\n"))
        return "Assistant:" + reply

    expect = turn("hello there") + "\n"
    after_first = s.get_state()
    expect += turn("how are you?") + "\n"
    s.set_state(after_first)  # /reset, then /load of the state saved after the first turn
    expect += turn("again") + "\n"
    assert r.stdout == expect
    # end of input without /quit ends cleanly too
    r2 = cli(*args, stdin="hi\n")
    assert r2.returncode == 0 and r2.stdout.startswith("Assistant:")
    one_line_error(cli("chat", tmp_path / "missing.rrwkv", stdin=""), "chat", "missing.rrwkv")
    one_line_error(cli("chat", models["a"], "--top-k", "-1", stdin=""), "chat", "top_k must be >= 0")


def test_console_script(models):
    exe = shutil.which("rrwkv")
    if exe is None:
        pytest.skip("the console script `rrwkv` is not on PATH (package not pip-installed)")
    r = cli("generate", models["a"], "--prompt", "ab", "--max-new-tokens", 5, "--temperature", 0, exe=exe)
    assert r.returncode == 0 and r.stdout.endswith("\n"), r.stderr
    r = cli("--help", exe=exe)
    assert r.returncode == 0 and "generate" in r.stdout and "chat" in r.stdout


def _on_a_pty(args, send=(), env=None, timeout=60):
    """Run the CLI with stdin and stdout on a pseudo-terminal: (terminal output with \\r\\n -> \\n, stderr).
    ``send``: (text to wait for in the output, text to type) pairs."""
    import pty
    import select
    import time
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "rrwkv_rt"] + [str(a) for a in args], stdin=slave, stdout=slave,
                         stderr=subprocess.PIPE, env=env, close_fds=True)
    os.close(slave)
    out, mark, pending, deadline = b"", 0, list(send), time.time() + timeout
    try:
        while time.time() < deadline:
            if pending and pending[0][0].encode() in out[mark:]:  # only output since the last keys typed
                os.write(master, pending.pop(0)[1].encode())
                mark = len(out)
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None and not pending:
                break
        if p.poll() is None and (pending or time.time() >= deadline):
            p.kill()  # stuck waiting for output that never came: the asserts say what was missing
        err = p.stderr.read().decode("utf-8", "replace")
        p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    return out.decode("utf-8", "replace").replace("\r\n", "\n"), err, p.returncode


def test_generate_echoes_the_prompt_on_a_terminal_only():
    from rrwkv_rt.cli.generate import should_echo

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    assert should_echo(None, Stream(True)) and not should_echo(None, Stream(False))
    assert should_echo(True, Stream(False)) and not should_echo(False, Stream(True))
    assert not should_echo(None, object())  # a stream without isatty


def test_generate_echo_on_a_pty(models):
    pytest.importorskip("pty")
    args = ["generate", models["a"], "--prompt", "def f(x):", "--max-new-tokens", 20, "--temperature", 0]
    echoed, err, rc = _on_a_pty(args)
    assert rc == 0, err
    plain, err, rc = _on_a_pty(args + ["--no-echo"])
    assert rc == 0, err
    assert echoed == "def f(x):" + plain and not plain.startswith("def f(x):")
    assert cli(*args).stdout == plain  # piped: no echo, as before


def test_chat_has_line_editing_and_history_on_a_terminal(models, tmp_path):
    pytest.importorskip("readline")
    pytest.importorskip("pty")
    # HOME and INPUTRC point away from the user's files: nothing read or written there
    env = dict(os.environ, HOME=str(tmp_path), INPUTRC=os.devnull, TERM="xterm")
    # the up arrow recalls the last line (a command, so that no text is generated)
    _, err, rc = _on_a_pty(["chat", models["a"], "--threads", 1],
                           send=[("User: ", "/bogus1\n"), ("User: ", "\x1b[A"), ("/bogus1", "\n"),
                                 ("User: ", "/quit\n")], env=env, timeout=30)
    assert rc == 0, err
    assert err.count("unknown command '/bogus1'") == 2, err
    assert not os.listdir(tmp_path)  # no history file
    # piped input never imports readline
    code = ("import sys; from rrwkv_rt.cli.generate import line_editing; "
            "assert not line_editing(False) and 'readline' not in sys.modules; "
            "assert line_editing(True) and 'readline' in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_usage_errors_are_one_line_and_verbose_adds_the_usage():
    r = cli("export")
    assert r.returncode == 2 and r.stdout == "", r
    assert r.stderr == "rrwkv export: error: the following arguments are required: src, dst " \
                       "(see rrwkv export --help)\n", r.stderr
    for args in (["--verbose", "export"], ["export", "--verbose"], ["--verb", "export"]):  # abbreviated too
        r = cli(*args)
        assert r.returncode == 2 and r.stderr.startswith("usage: rrwkv export"), r.stderr
        assert r.stderr.endswith("rrwkv export: error: the following arguments are required: src, dst "
                                 "(see rrwkv export --help)\n"), r.stderr
    r = cli()
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "rrwkv: error: the following arguments are required: command (see rrwkv --help)"], r.stderr
    # other multi-line errors: their first line, the rest with --verbose
    from rrwkv_rt.cli import _error_text
    e = ValueError("state dict does not fit:\n  - missing x\n  - missing y")
    assert _error_text(e, False) == "state dict does not fit (run with --verbose for the details)"
    assert _error_text(e, True) == str(e) and _error_text(ValueError("one line"), False) == "one line"
    r = cli("export", "-h")  # help is argparse's own
    assert r.returncode == 0 and r.stdout.startswith("usage: rrwkv export") and "--verbose" in r.stdout


def test_every_help_shows_real_defaults_only():
    """--help of every command shows its options' defaults, and never an empty "(default: None)"."""
    from rrwkv_rt.cli import build_parser
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        text = parser.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, (name, text)
        if name in ("export", "generate", "chat", "serve", "train"):  # (info and quantize have none to show)
            assert "default" in text, name
    assert "(default: auto)" in sub.choices["export"].format_help()
