"""Comments, docstrings and docs name only files that exist (tools/check_comment_paths.py): a
file renamed or removed leaves no comment pointing at it."""
import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_comment_paths", ROOT / "tools" / "check_comment_paths.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_comment_names_a_missing_file():
    stale = _checker().stale_names(ROOT)
    assert not stale, "comments name files that do not exist:\n" + "\n".join(
        f"  {path}:{line}: {name}" for path, line, name in stale)


@pytest.mark.parametrize("comment, stale", [
    ("// the loop is in ops/linear_cpu.cpp", []),                  # resolved against csrc/
    ("// see kernels.py for the wrappers", ["kernels.py"]),         # no such file anywhere
    ("// run from rrwkv_rt/generate.py", ["rrwkv_rt/generate.py"]),
    ("// like llama.cpp, and linear_cpu.cpp", []),                  # a project; a bare name that exists
    ("// ops/NAME_cuda.cu for each op", []),                        # a pattern
    ('const char* s = "gemm.cpp";  // a string, not a comment', []),
])
def test_the_checker_finds_what_it_should(tmp_path, comment, stale):
    for path in ("csrc/ops/linear_cpu.cpp", "python/rrwkv_rt/runtime/generate.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("\n")
    (tmp_path / "csrc" / "ops" / "x.cpp").write_text("int a;\n" + comment + "\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    found = [(p, line, name) for p, line, name in _checker().stale_names(tmp_path) if p == "csrc/ops/x.cpp"]
    assert found == [("csrc/ops/x.cpp", 2, name) for name in stale]
