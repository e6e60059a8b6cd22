"""Finds comments, docstrings and docs that name a file of this project that does not exist.

    python tools/check_comment_paths.py        # prints each stale name with where it stands; exit 1 if any

Every comment of the C/C++/CUDA sources, every comment and docstring of the Python files and
every Markdown page is searched for file names (a name with one of EXTENSIONS, with or without a
folder). A name stands if it resolves against the tree: relative to the file's own folder or any
folder above it, to the roots code is named from (ROOTS: csrc/, python/, python/rrwkv_rt/,
include/), or, for a bare file name, to any file of that name. Names that are not files of this
tree on purpose are listed in FOREIGN; a name with NAME in it is a pattern; vendored code
(third_party/) is not searched. The test
tests/test_comment_paths.py runs this over the tree.
"""
from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

EXTENSIONS = ("cpp", "h", "hpp", "c", "cc", "cu", "cuh", "py", "pyi", "sh", "md", "cmake", "toml", "map")
NAME = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w.-]*\w\.(?:" + "|".join(EXTENSIONS) + r"))(?![\w/-]|\.\w)")
URL = re.compile(r"\w+://\S+")
ROOTS = ("", "csrc", "python", "python/rrwkv_rt", "include")
# Names that are not files of this tree on purpose: other projects' files and projects named like
# files, a user's program in the docs' examples, and what the install generates.
FOREIGN = {
    "RWKV-v4/src/model.py",          # BlinkDL's RWKV-LM, whose RWKV-4 init the reference follows
    "rwkv/utils.py", "rwkv/model.py",  # the official rwkv package
    "merge_state.py",                # RWKV-PEFT's state merger
    "ggml-cuda/vendors/hip.h",       # llama.cpp's vendor header, the pattern of csrc/gpu/vendor.h
    "cublas_api.h",                  # the CUDA toolkit's
    "zoology/data/multiquery_ar.py",  # the Zoology benchmark's task generator
    "llama.cpp", "llm.c", "rwkv.cpp",  # projects
    "app.c",                         # the C API docs' example program
    "rrwkv_rtConfig.cmake",          # installed, from csrc/capi/rrwkv_rtConfig.cmake.in
}
PLACEHOLDER = "NAME"  # ops/NAME.h: a pattern, not a file


def tracked_files(root: Path) -> list[str]:
    """The tree's files (git's list in a checkout; else every file but build output)."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                             capture_output=True, text=True).stdout
        return [f for f in out.splitlines() if (root / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", "build", "__pycache__"}
        return [str(p.relative_to(root)) for p in root.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(root).parts)]


def c_comments(text: str):
    """(line, text) of every // and /* */ comment of C, C++ or CUDA source, string literals skipped."""
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            line += text.count("\n", i, j)
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            yield line, text[i:j]
            i = j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i)
            j = n if j < 0 else j
            yield line, text[i:j]
            line += text.count("\n", i, j)
            i = j
        i += 1


def python_comments(text: str):
    """(line, text) of every comment and docstring of Python source."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
        tree = ast.parse(text)
    except (SyntaxError, tokenize.TokenError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                yield first.lineno, first.value.value


def hash_comments(text: str):
    """(line, text) of every # comment of a shell or CMake file (from the # to the line's end)."""
    for number, line in enumerate(text.splitlines(), 1):
        at = line.find("#")
        if at >= 0 and not line.startswith("#!"):
            yield number, line[at:]


def comments_of(path: str, text: str):
    suffix = Path(path).suffix
    if suffix in (".c", ".cc", ".cpp", ".h", ".hpp", ".cu", ".cuh"):
        return c_comments(text)
    if suffix in (".py", ".pyi"):
        return python_comments(text)
    if suffix == ".md":
        return enumerate(text.splitlines(), 1)
    if suffix in (".sh", ".cmake", ".txt", ".in") or Path(path).name == "CMakeLists.txt":
        return hash_comments(text)
    return ()


def stale_names(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, name) of every file name in a comment that does not resolve (see the module doc)."""
    files = tracked_files(root)
    ours = [f for f in files if not f.startswith("third_party/")]  # vendored code keeps its own words
    existing = set(files) | {str(Path(f).parent) for f in files}
    basenames = {Path(f).name for f in files}
    found = []
    for path in ours:
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        folders = [str(p) for p in Path(path).parents]  # its folder, then each one above it
        for line, comment in comments_of(path, text):
            for name in NAME.findall(URL.sub(" ", comment)):
                if name in FOREIGN or PLACEHOLDER in name or name.startswith("../"):
                    continue
                bases = [f for f in folders] + list(ROOTS)
                if any(os.path.normpath(os.path.join(b, name)) in existing for b in bases):
                    continue
                if "/" not in name and name in basenames:
                    continue
                found.append((path, line, name))
    return found


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    stale = stale_names(root)
    for path, line, name in stale:
        print(f"{path}:{line}: names {name!r}, which is not a file of this tree")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
