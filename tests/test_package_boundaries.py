"""The dependency rule of the monorepo: ops <- core <- each stage; stages never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("dataprep", "train", "infer", "submit", "analysis")
ALLOWED = {
    "ops": {"ops"},
    "core": {"core", "ops"},
    **{stage: {stage, "core", "ops"} for stage in STAGES},
}
THIRD_PARTY_ALLOWED_IN_OPS = {"torch"}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _source_files(package: str) -> list[Path]:
    files = sorted((ROOT / package / "src" / "instanceformer").rglob("*.py"))
    assert files, f"no sources found for {package}"
    return files


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    violations = []
    for path in _source_files(package):
        for module in _imported_modules(path):
            parts = module.split(".")
            if parts[0] == "instanceformer" and len(parts) > 1 and parts[1] not in ALLOWED[package]:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert violations == []


def test_ops_depends_on_torch_only() -> None:
    import sys

    standard = set(sys.stdlib_module_names)
    violations = []
    for path in _source_files("ops"):
        for module in _imported_modules(path):
            top = module.split(".")[0]
            allowed = standard | THIRD_PARTY_ALLOWED_IN_OPS | {"instanceformer", "__future__"}
            if top not in allowed:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert violations == []


def test_namespace_package_has_no_init() -> None:
    for package in ALLOWED:
        assert not (ROOT / package / "src" / "instanceformer" / "__init__.py").exists()


def test_the_checker_catches_a_cross_stage_import(tmp_path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from instanceformer.train.loop import fit\nimport instanceformer.core\n")
    assert _imported_modules(sample) == {"instanceformer.train.loop", "instanceformer.core"}


# core's two layers: these subpackages may use PyTorch; every other module of core is torch-free.
CORE_TORCH_LAYER = ("model", "losses", "engine")
TORCH_MODULES = {"torch", "torchvision", "instanceformer.ops"}


def _core_module_name(path: Path) -> str:
    relative = path.relative_to(ROOT / "core" / "src").with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _torch_free_core_files() -> list[Path]:
    files = []
    for path in _source_files("core"):
        layer = _core_module_name(path).split(".")[2:3]
        if not layer or layer[0] not in CORE_TORCH_LAYER:
            files.append(path)
    return files


def _module_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported: every import outside function bodies."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                modules.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                modules.add(child.module)
            visit(child)

    visit(tree)
    return modules


def _is_torch_dependency(module: str) -> bool:
    if any(module == name or module.startswith(f"{name}.") for name in TORCH_MODULES):
        return True
    parts = module.split(".")
    return parts[:2] == ["instanceformer", "core"] and len(parts) > 2 and parts[2] in CORE_TORCH_LAYER


def test_the_torch_free_layer_of_core_imports_no_torch() -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _torch_free_core_files()
        for module in sorted(_module_level_imports(path))
        if _is_torch_dependency(module)
    ]
    assert violations == []


def test_importing_the_torch_free_layer_loads_no_torch() -> None:
    import subprocess
    import sys

    modules = [_core_module_name(path) for path in _torch_free_core_files()]
    assert "instanceformer.core.config.schema" in modules and "instanceformer.core.runs" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('torch', 'torchvision')))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_the_layer_checker_sees_module_level_imports_only(tmp_path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import torch.nn\nfrom instanceformer.core.model import build_model\n"
        "try:\n    import torchvision\nexcept ImportError:\n    pass\n"
        "def late():\n    import numpy\n"
    )
    found = _module_level_imports(sample)
    assert found == {"torch.nn", "instanceformer.core.model", "torchvision"}
    assert all(_is_torch_dependency(module) for module in found)
    assert not _is_torch_dependency("instanceformer.core.formats")
