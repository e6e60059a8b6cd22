"""The type stubs (_core.pyi, shipped with py.typed) describe the native module as built: every
public name and every public method of its classes; regenerate them with tools/gen_stubs.sh."""
import ast
import inspect
from pathlib import Path

import rrwkv_rt
from rrwkv_rt import _core


def _stub() -> ast.Module:
    return ast.parse((Path(rrwkv_rt.__file__).parent / "_core.pyi").read_text())


def test_stub_names_every_public_name_and_method():
    tree = _stub()
    top = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    top |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public <= top, f"stale _core.pyi, run tools/gen_stubs.sh; missing: {sorted(public - top)}"
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name, cls in classes.items():
        obj = getattr(_core, name)
        if not inspect.isclass(obj) or issubclass(obj, Exception):
            continue
        stubbed = {m.name for m in cls.body if isinstance(m, ast.FunctionDef)}
        methods = {m for m in vars(obj) if not m.startswith("_")}
        assert methods <= stubbed, f"stale _core.pyi ({name}), run tools/gen_stubs.sh; missing {sorted(methods - stubbed)}"


def test_package_is_typed():
    assert (Path(rrwkv_rt.__file__).parent / "py.typed").exists()


def test_stub_defaults_match_the_module():
    """Every numeric default in the stubs is the one the module really has (its pybind11
    signature), so a changed default cannot leave the stubs behind."""
    import re
    pair = re.compile(r"(\w+):[^,=]*= ([-+]?[0-9][0-9.e+-]*)")
    checked = 0
    for cls in (n for n in _stub().body if isinstance(n, ast.ClassDef)):
        obj = getattr(_core, cls.name, None)
        for fn in (m for m in cls.body if isinstance(m, ast.FunctionDef)):
            doc = getattr(getattr(obj, fn.name, None), "__doc__", None) or ""
            runtime = {}
            for line in doc.splitlines():
                if line.startswith(fn.name + "("):
                    runtime.update(pair.findall(line))
            args = fn.args.args[len(fn.args.args) - len(fn.args.defaults):] + fn.args.kwonlyargs
            defaults = fn.args.defaults + fn.args.kw_defaults
            for arg, default in zip(args, defaults):
                if isinstance(default, ast.Constant) and type(default.value) in (int, float) and arg.arg in runtime:
                    assert float(runtime[arg.arg]) == default.value, \
                        f"stale _core.pyi: {cls.name}.{fn.name}({arg.arg}) is {runtime[arg.arg]} in the module, " \
                        f"{default.value} in the stub; run tools/gen_stubs.sh"
                    checked += 1
    assert checked >= 10  # the parsing found them: 8 of Sampler, prefill_chunk of Session and of Batch
