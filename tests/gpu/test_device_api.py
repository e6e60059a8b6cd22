"""The device names of Session and Batch, on every build: "auto" picks cuda:0 exactly when a usable
CUDA device exists (the emulated one in the emulated test run) and otherwise the CPU, saying which
in one line once per process; exact=False keeps "auto" on the CPU; a name it does not know, and
"cuda" where no device is usable, are ValueErrors that say why. The `cuda`-marked tests run the
command line (generate, chat) on the device and compare its tokens with the CPU's."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rrwkv_rt
from rrwkv_rt import _core

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_models import tiny_model  # noqa: E402

HAVE_CUDA = _core.cuda_device_count() > 0


def run_python(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (the notice is once per process) with this environment."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                          )


def test_auto_picks_the_gpu_exactly_when_one_is_usable_and_says_so_once(tmp_path):
    path = tiny_model(tmp_path)
    r = run_python(f"""
        import rrwkv_rt
        s = rrwkv_rt.Session({path!r}, threads=1, device="auto")
        b = rrwkv_rt.Batch({path!r}, capacity=2, threads=1, device="auto")
        fast = rrwkv_rt.Batch({path!r}, capacity=2, threads=1, device="auto", exact=False)
        print(s.device, b.device, fast.device)
    """)
    assert r.returncode == 0, r.stderr
    want = "cuda:0" if HAVE_CUDA else "cpu"
    assert r.stdout.split() == [want, want, "cpu"], r.stdout
    notices = [line for line in r.stderr.splitlines() if 'device="auto"' in line]
    assert len(notices) == 1, r.stderr  # once per process, although three engines resolved "auto"
    if HAVE_CUDA:
        assert notices[0].startswith('device="auto": running on cuda:0 (') and _core.cuda_status() in notices[0]
    else:
        assert notices[0].startswith('device="auto": running on the CPU: no usable CUDA device (')


def test_auto_with_exact_false_names_the_reason_when_a_gpu_is_there(tmp_path):
    path = tiny_model(tmp_path)
    r = run_python(f"""
        import rrwkv_rt
        print(rrwkv_rt.Session({path!r}, threads=1, device="auto", exact=False).device)
    """)
    assert r.returncode == 0 and r.stdout.split() == ["cpu"], r.stderr
    if HAVE_CUDA:
        assert "running on the CPU although a CUDA device is usable: exact=False" in r.stderr, r.stderr


def test_bad_names_and_a_missing_device_are_clear_errors(tmp_path):
    path = tiny_model(tmp_path)
    for name in ("tpu", "cuda:", "cuda:-1", "CUDA", "auto:0", ""):
        for make in (lambda: rrwkv_rt.Session(path, device=name), lambda: rrwkv_rt.Batch(path, 2, device=name)):
            with pytest.raises(ValueError, match=f"unknown device '{name}'; expected 'cpu', 'cuda', 'cuda:N' or 'auto'"):
                make()
    if not HAVE_CUDA:  # this build has no CUDA kernels, or no device: the runtime says which
        for make in (lambda: rrwkv_rt.Session(path, device="cuda"), lambda: rrwkv_rt.Batch(path, 2, device="cuda:0")):
            with pytest.raises(ValueError, match="CUDA") as e:
                make()
            assert ("no CUDA backend" in str(e.value)) == (not _core.cuda_compiled()), e.value


def cli(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rrwkv_rt", *map(str, args)], capture_output=True, text=True,
                          timeout=300, input=stdin)


@pytest.mark.cuda
def test_generate_on_the_gpu_gives_the_cpus_tokens(tmp_path):
    """Greedy generation from a tiny f32 model: the same text on cuda as on the CPU (logits agree
    within 1e-4, far below the gaps greedy sampling decides on in 40 tokens of a random model)."""
    path = tiny_model(tmp_path)
    out = {}
    for device in ("cpu", "cuda", "auto"):
        r = cli("generate", path, "--prompt", "def f(x):", "--max-new-tokens", 40, "--temperature", 0, "--no-echo",
                "--threads", 1, "--device", device, "--stats")
        assert r.returncode == 0, r.stderr
        out[device] = r.stdout
    assert len(out["cpu"]) > 20 and out["cuda"] == out["cpu"] and out["auto"] == out["cpu"], out
    assert 'device="auto": running on cuda:0' in r.stderr, r.stderr


@pytest.mark.cuda
def test_chat_on_the_gpu_gives_the_cpus_reply(tmp_path):
    path = tiny_model(tmp_path)
    replies = [cli("chat", path, "--max-new-tokens", 24, "--temperature", 0, "--threads", 1, "--device", device,
                   stdin="Hello there\n") for device in ("cpu", "cuda")]
    for r in replies:
        assert r.returncode == 0, r.stderr
    assert replies[0].stdout == replies[1].stdout and len(replies[0].stdout) > 0, [r.stdout for r in replies]


@pytest.mark.cuda
def test_the_cli_refuses_the_fast_path_on_the_gpu_in_one_line(tmp_path):
    r = cli("generate", tiny_model(tmp_path), "--prompt", "x", "--device", "cuda", "--fast")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("rrwkv generate: error: exact=False"), r.stderr


def test_the_cli_says_what_is_wrong_with_a_device_in_one_line(tmp_path):
    path = tiny_model(tmp_path)
    cases = [("tpu", "unknown device 'tpu'; expected 'cpu', 'cuda', 'cuda:N' or 'auto'")]
    if not HAVE_CUDA:
        cases.append(("cuda", "CUDA"))
    for device, needle in cases:
        for command in (["generate", path, "--prompt", "x"], ["chat", path]):
            r = cli(*command, "--device", device, stdin="hi\n")
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 1 and len(lines) == 1, r.stderr
            assert lines[0].startswith(f"rrwkv {command[0]}: error: ") and needle in lines[0], r.stderr
