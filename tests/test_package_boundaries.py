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
# The benchmark script prints a Rich table; it is not imported by the op itself.
OPS_BENCHMARK_EXTRA = {"rich"}


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
            if path.name == "benchmark.py":
                allowed |= OPS_BENCHMARK_EXTRA
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
