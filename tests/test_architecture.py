"""The folders' dependency rule (docs/ARCHITECTURE.md): import-linter's contracts in pyproject.toml,
and what import-linter cannot say: no sys.path edits, and no test module importing another."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from serving.settings import REPO_ROOT

OUR_FOLDERS = ("bench", "corrections", "deploy", "handler", "lifecycle", "serving", "tests", "training", "web")


def python_files(folders=OUR_FOLDERS) -> list[Path]:
    return [path for folder in folders for path in sorted((REPO_ROOT / folder).rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    """import-linter on ``config``, in its own process: it reconfigures logging, which switched off
    the other tests' loggers when it ran in theirs."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)


def test_the_import_contracts_are_kept():
    linted = lint_imports(REPO_ROOT / "pyproject.toml")
    assert linted.returncode == 0, linted.stdout


def test_the_checker_sees_a_broken_rule(tmp_path):
    """The same tool on a rule this code breaks on purpose (training imports the handler) says so."""
    upside_down = tmp_path / "upside_down.toml"
    upside_down.write_text('[tool.importlinter]\nroot_packages = ["handler", "training"]\n\n'
                           '[[tool.importlinter.contracts]]\nname = "upside down"\ntype = "layers"\n'
                           'layers = ["handler", "training"]\n')
    linted = lint_imports(upside_down)
    assert linted.returncode == 1 and "BROKEN" in linted.stdout, linted.stdout


def test_nothing_edits_sys_path():
    edits = [str(path.relative_to(REPO_ROOT)) for path in python_files()
             if "sys.path.insert" in path.read_text() or "sys.path.append" in path.read_text()]
    assert edits == [f"tests/{Path(__file__).name}"]  # only this test, which names them


def test_no_test_module_imports_another():
    crossings = {str(path.relative_to(REPO_ROOT)): sorted(module for module in imported_modules(path)
                                                           if module.startswith("tests.")
                                                           and module.rsplit(".", 1)[-1].startswith("test_"))
                 for path in python_files(("tests",))}
    assert {path: modules for path, modules in crossings.items() if modules} == {}
