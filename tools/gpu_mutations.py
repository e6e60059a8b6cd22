"""Deletes each __syncthreads() and each warp shuffle of the GPU sources, one at a time, rebuilds
the GPU tests of the emulated build and runs them: every deletion must make a test fail (the
mutation rule of docs/ARCHITECTURE.md, "The GPU layer"). Prints one line per site and a summary;
exit status 1 if any deletion survived. Each file is restored after its mutants, also on Ctrl-C.

    python tools/gpu_mutations.py                       # build/cpp-tests, as tools/run_tests.sh makes it
    python tools/gpu_mutations.py --build build/gpu-emu --only matvec.cu reduce.h

Slow (a rebuild per site: about a minute each on two cores); not part of the test suite.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "csrc" / "gpu").glob("*.cu")) + sorted((ROOT / "csrc" / "gpu").glob("*.h")) + [
    ROOT / "csrc" / "kernels" / "wkv" / "wkv_cuda.cu"]
# vendor.h is the emulation of shuffles itself, not a kernel
SKIP = {"vendor.h"}
SITE = re.compile(r"__syncthreads\(\)|\bshfl(_xor|_down)?\(")


def sites(path: Path):
    """(line number, text) of every statement line with a barrier or a shuffle."""
    for i, line in enumerate(path.read_text().splitlines()):
        code = line.split("//")[0]
        if SITE.search(code) and code.strip().endswith(";") and "RRWKV_DEVICE" not in code:
            yield i, line


def run(cmd, timeout):
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return "timeout"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/cpp-tests", help="an emulated build tree with RRWKV_BUILD_TESTS=ON")
    ap.add_argument("--only", nargs="*", help="file names to mutate (default: every GPU source)")
    args = ap.parse_args(argv)
    build = ROOT / args.build
    binary = build / "tests" / "gpu" / "rrwkv_gpu_tests"
    survived = killed = 0
    for path in SOURCES:
        if path.name in SKIP or (args.only and path.name not in args.only):
            continue
        original = path.read_text()
        lines = original.splitlines(keepends=True)
        try:
            for i, text in sites(path):
                path.write_text("".join(lines[:i] + lines[i + 1:]))
                t = time.time()
                rc = run(["cmake", "--build", str(build), "--target", "rrwkv_gpu_tests"], 1800)
                if rc != 0:
                    verdict = f"does not compile ({rc})"
                    killed += 1
                else:
                    rc = run([str(binary), "--gtest_brief=1"], 600)
                    verdict = "killed" if rc != 0 else "SURVIVED"
                    killed += rc != 0
                    survived += rc == 0
                print(f"{path.relative_to(ROOT)}:{i + 1}: {text.strip():<48} {verdict} ({time.time() - t:.0f}s)",
                      flush=True)
        finally:
            path.write_text(original)
    subprocess.run(["cmake", "--build", str(build), "--target", "rrwkv_gpu_tests"], cwd=ROOT, capture_output=True)
    print(f"{killed} deletions made a test fail, {survived} did not")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
