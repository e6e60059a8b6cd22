"""Every ```python block of README.md and docs/*.md runs as written.

A file's blocks run in order in one fresh interpreter (later blocks use the names earlier ones
define), in an empty folder holding `model.rrwkv`, a copy of the shipped model: the file a
newcomer has after the README's export step. A block preceded by the line
`<!-- snippet: not run (REASON) -->` is skipped; the reason must be stated, and the list of such
blocks is kept short (test_skipped_blocks_are_few).
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rrwkv_rt

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:^<!-- snippet: not run \((?P<why>[^)]+)\) -->\n)?^```python\n(?P<code>.*?)^```", re.M | re.S)


def blocks(path: Path):
    return [(m.group("code"), m.group("why")) for m in BLOCK.finditer(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("doc", [d for d in DOCS if any(why is None for _, why in blocks(d))],
                         ids=lambda d: d.name)
def test_python_blocks_run(doc, tmp_path):
    shutil.copy(rrwkv_rt.default_model_path(), tmp_path / "model.rrwkv")
    code = "\n".join(c for c, why in blocks(doc) if why is None)
    if "import rrwkv_rt" not in code:
        code = "import rrwkv_rt\n" + code
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"a snippet of {doc.name} fails:\n{r.stderr[-3000:]}"


def test_skipped_blocks_are_few():
    skipped = [(d.name, why) for d in DOCS for _, why in blocks(d) if why is not None]
    assert len(skipped) <= 3, skipped
    assert all(why.strip() for _, why in skipped)
