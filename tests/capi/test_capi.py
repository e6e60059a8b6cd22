"""The C API as a native program sees it: the header compiles as C99, the examples and the C API
test program build against the pip-installed package with CMake alone, the C example's tokens
and logits equal rrwkv_rt.Session's, and everything runs clean under valgrind and under
AddressSanitizer + UBSan (a sanitized build of librrwkv_rt from this source tree)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.io.export import export_state_dict, to_runtime_layout  # noqa: E402
from rrwkv_rt.io.format import write_model  # noqa: E402
from rrwkv_rt.reference import random_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CC = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
CXX = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
SAN = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g1"
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
PROMPT = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26]  # 12 tokens: prefill takes the gemm path

pytestmark = pytest.mark.skipif(CC is None or shutil.which("cmake") is None, reason="needs a C compiler and cmake")


def run(cmd, env=None, timeout=120, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                       env={**os.environ, **(env or {})}, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r


def cmake_build(src, build, *defs, env=None):
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", src, "-B", build, *gen, *defs], env=env)
    run(["cmake", "--build", build, "-j2"], env=env, timeout=600)


def write(path, arch, seed, tokenizer):
    cfg = ModelConfig(arch=arch, n_layer=2, n_embd=32, vocab_size=256, medium_interval=3, cm_mode="add")
    sd = random_model(cfg, seed=seed).state_dict()
    if tokenizer:
        arrays = {k: v.numpy() for k, v in sd.items()}
        write_model(path, cfg, to_runtime_layout(arrays, cfg, "f32"), tokenizer=("bytes", b""))
    else:
        export_state_dict(sd, cfg, path)
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("capi_models")
    return {"rrwkv": write(d / "rrwkv.rrwkv", "rrwkv", 1, True),
            "rwkv4": write(d / "rwkv4.rrwkv", "rwkv4", 2, True),
            "other": write(d / "other.rrwkv", "rrwkv", 3, False)}  # same shape, no tokenizer


@pytest.fixture(scope="module")
def cmake_dir():
    out = run([sys.executable, "-m", "rrwkv_rt", "--cmakedir"]).stdout.strip()
    assert out == rrwkv_rt.get_cmake_dir()
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, cmake_dir):
    """examples/ and tests/capi built against the pip-installed package, as a user would."""
    d = tmp_path_factory.mktemp("capi_build")
    cmake_build(os.path.join(REPO, "examples"), str(d / "examples"), f"-Drrwkv_rt_DIR={cmake_dir}")
    cmake_build(os.path.join(REPO, "tests", "capi"), str(d / "tests"), f"-Drrwkv_rt_DIR={cmake_dir}")
    return {"greedy": str(d / "examples" / "greedy"), "branch": str(d / "examples" / "branch"),
            "test_capi": str(d / "tests" / "test_capi"), "test_capi_device": str(d / "tests" / "test_capi_device"),
            "test_hpp_device": str(d / "tests" / "test_hpp_device")}


def test_installed_layout(cmake_dir):
    assert os.path.isfile(os.path.join(cmake_dir, "rrwkv_rtConfig.cmake"))
    assert os.path.isfile(os.path.join(cmake_dir, "rrwkv_rtConfigVersion.cmake"))
    assert os.path.isfile(os.path.join(rrwkv_rt.get_include(), "rrwkv_rt", "rrwkv.h"))
    assert os.path.isfile(os.path.join(rrwkv_rt.get_library_dir(), "librrwkv_rt.so"))
    assert run([sys.executable, "-m", "rrwkv_rt", "--includedir"]).stdout.strip() == rrwkv_rt.get_include()


def test_library_exports_only_the_c_api():
    if not shutil.which("nm"):
        pytest.skip("needs nm")
    out = run(["nm", "-D", "--defined-only", os.path.join(rrwkv_rt.get_library_dir(), "librrwkv_rt.so")]).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert "rrwkv_model_load" in names and "rrwkv_session_eval" in names
    assert [n for n in names if not n.startswith("rrwkv_")] == []


@pytest.mark.parametrize("lang,compiler,flags", [
    ("c", CC, ["-std=c99", "-pedantic", "-Werror", "-Wall", "-Wextra"]),
    ("c++", CXX, ["-std=c++11", "-pedantic", "-Werror", "-Wall", "-Wextra"]),
])
def test_header_compiles(tmp_path, lang, compiler, flags):
    if compiler is None:
        pytest.skip(f"no {lang} compiler")
    src = tmp_path / ("tu.c" if lang == "c" else "tu.cpp")
    src.write_text("#include <rrwkv_rt/rrwkv.h>\n"
                   "int main(void) { rrwkv_model_params p = rrwkv_model_default_params();\n"
                   "  rrwkv_model* m = 0; rrwkv_status s = rrwkv_model_load(\"x\", &p, &m);\n"
                   "  rrwkv_model_free(m); return s == RRWKV_OK ? 0 : 1; }\n")
    run([compiler, *flags, "-x", lang, "-fsyntax-only", "-I", rrwkv_rt.get_include(), str(src)])


def test_cpp_wrapper_compiles_as_cxx17(tmp_path):
    if CXX is None:
        pytest.skip("no C++ compiler")
    src = tmp_path / "tu.cpp"
    src.write_text("#include <rrwkv_rt/rrwkv.hpp>\nint main() { return 0; }\n")
    run([CXX, "-std=c++17", "-pedantic", "-Werror", "-Wall", "-Wextra", "-fsyntax-only",
         "-I", rrwkv_rt.get_include(), str(src)])


def test_c_api_program(built, models, tmp_path):
    r = run([built["test_capi"], models["rrwkv"], models["other"], str(tmp_path)])
    assert ", 0 failed" in r.stdout


def parse_greedy(stdout):
    lines = stdout.splitlines()
    tokens = [int(line.split()[1]) for line in lines if line.startswith("token ")]
    logits = [np.array(line.split()[1:], dtype=np.float32) for line in lines if line.startswith("logits ")]
    return tokens, (np.stack(logits) if logits else None)


def session_greedy(path, prompt, n):
    s = rrwkv_rt.Session(rrwkv_rt.Model(path))
    logits, tokens, rows = s.forward(np.array(prompt)), [], []
    for i in range(n):
        rows.append(logits.copy())
        tokens.append(int(np.argmax(logits)))
        if i + 1 < n:
            logits = s.step(tokens[-1])
    return tokens, np.stack(rows)


@pytest.mark.parametrize("arch", ["rrwkv", "rwkv4"])
def test_greedy_example_equals_session(built, models, arch):
    # Same BLAS on both sides (the Python package's choice), so prefill is bit-identical too.
    env = {"RRWKV_BLAS": rrwkv_rt.runtime.blas.bundled_path() or "0"}
    r = run([built["greedy"], "-l", models[arch], "10", "--ids", *map(str, PROMPT)], env=env)
    tokens, logits = parse_greedy(r.stdout)
    want_tokens, want_logits = session_greedy(models[arch], PROMPT, 10)
    assert tokens == want_tokens
    np.testing.assert_array_equal(logits, want_logits)


def test_greedy_example_tokenizes_text(built, models):
    r = run([built["greedy"], models["rrwkv"], "5", "hello", "world"], env={"RRWKV_BLAS": "0"})
    tokens, _ = parse_greedy(r.stdout)
    assert tokens == session_greedy(models["rrwkv"], list(b"hello world"), 5)[0]
    assert "text " in r.stdout


def test_greedy_example_reports_errors(built, models, tmp_path):
    r = subprocess.run([built["greedy"], str(tmp_path / "missing.rrwkv"), "3", "--ids", "1"], capture_output=True,
                       text=True, errors="replace", timeout=60)
    assert r.returncode == 1 and "RRWKV_ERR_FILE_NOT_FOUND" in r.stderr and "missing.rrwkv" in r.stderr
    r = subprocess.run([built["greedy"], models["rrwkv"], "3", "--ids", "1", "256"], capture_output=True,
                       text=True, errors="replace", timeout=60)
    assert r.returncode == 1 and "RRWKV_ERR_OUT_OF_RANGE" in r.stderr and "token 256 at index 1" in r.stderr


@pytest.mark.parametrize("program", ["test_capi_device", "test_hpp_device"])
def test_devices(built, models, program):
    """rrwkv_session_new_on / rrwkv_batch_new_on (and rrwkv.hpp over them): bad names, "auto" (cuda:0
    where this build has a usable device, else the CPU, its notice once per process on stderr),
    and "cuda": refused by name without a device, the CPU's logits on one."""
    r = run([built[program], models["rrwkv"]])
    want = "cuda:0" if rrwkv_rt._core.cuda_device_count() > 0 else "cpu"
    assert f"auto: {want}" in r.stdout, r.stdout
    notices = [line for line in r.stderr.splitlines() if 'device="auto"' in line]
    assert len(notices) == 1 and notices[0].startswith('rrwkv_rt: device="auto": running on ' + ("the CPU" if want == "cpu" else want)), \
        r.stderr


def test_cpp_example(built, models):
    r = run([built["branch"], models["rrwkv"], "6", "hello"])
    assert "clone:" in r.stdout and "restored:" in r.stdout


def all_programs(exe, models, tmp_path):
    return [[exe["test_capi"], models["rrwkv"], models["other"], str(tmp_path)],
            [exe["greedy"], "-l", models["rrwkv"], "4", "--ids", *map(str, PROMPT)],
            [exe["greedy"], "-t", "1", models["rwkv4"], "4", "hi"],
            [exe["branch"], models["rrwkv"], "4", "hello"],
            [exe["test_capi_device"], models["rrwkv"]],
            [exe["test_hpp_device"], models["rrwkv"]]]


def test_under_valgrind(built, models, tmp_path):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind is not installed")
    vg = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
          "--errors-for-leak-kinds=definite,indirect,possible", "-q"]
    for cmd in all_programs(built, models, tmp_path):
        run(vg + cmd, timeout=300)


def sanitizers_work(tmp_path):
    src = tmp_path / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    r = subprocess.run([CC, *SAN.split(), str(src), "-o", str(tmp_path / "probe")], capture_output=True)
    if r.returncode != 0:
        return False
    return subprocess.run([str(tmp_path / "probe")], env={**os.environ, **SAN_ENV}).returncode == 0


def test_under_asan_ubsan(models, tmp_path):
    """librrwkv_rt built from this tree with ASan + UBSan, installed with a plain `cmake --install`,
    and the programs built against that prefix with CMake alone."""
    if not os.path.isfile(os.path.join(REPO, "CMakeLists.txt")):
        pytest.skip("needs the source tree")
    if not sanitizers_work(tmp_path):
        pytest.skip("the C compiler cannot build and run -fsanitize=address,undefined programs")
    lib_build = os.path.join(REPO, "build", "capi-asan")  # kept: later runs rebuild incrementally
    prefix = str(tmp_path / "prefix")
    cmake_build(REPO, lib_build, "-DRRWKV_BUILD_PYTHON=OFF", "-DRRWKV_BUILD_TESTS=OFF", "-DRRWKV_CUDA=OFF",
                "-DCMAKE_BUILD_TYPE=None", f"-DCMAKE_CXX_FLAGS={SAN}", f"-DCMAKE_SHARED_LINKER_FLAGS={SAN}",
                f"-DCMAKE_INSTALL_PREFIX={prefix}")
    run(["cmake", "--install", lib_build])
    libs = glob.glob(os.path.join(prefix, "lib*", "librrwkv_rt.so"))  # lib or lib64
    assert len(libs) == 1 and os.path.islink(libs[0])  # -> librrwkv_rt.so.MAJOR.MINOR (the SONAME)
    exe = {}
    for src, names in (("examples", ("greedy", "branch")), ("tests/capi", ("test_capi", "test_capi_device",
                                                                         "test_hpp_device"))):
        build = str(tmp_path / src.replace("/", "_"))
        cmake_build(os.path.join(REPO, src), build, f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_C_FLAGS={SAN}",
                    f"-DCMAKE_CXX_FLAGS={SAN}", f"-DCMAKE_EXE_LINKER_FLAGS={SAN}")
        exe.update({n: os.path.join(build, n) for n in names})
    for cmd in all_programs(exe, models, tmp_path):
        run(cmd, env=SAN_ENV, timeout=300)
