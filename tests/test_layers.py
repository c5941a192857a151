"""The layers are a contract: core/ imports no framework and nothing of the outer packages; the adapters (bot/,
userbots/, webapp/) never import the composition root (salesop/) or the stand-ins (sandbox/). Checked on every
import statement, top-level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"aiogram", "telethon", "vkbottle", "aiohttp"}
OUTER = {"bot", "userbots", "webapp", "salesop", "sandbox"}

RULES = {
    "core": FRAMEWORKS | OUTER,
    "bot": {"salesop", "sandbox"},
    "userbots": {"salesop", "sandbox"},
    "webapp": {"salesop", "sandbox"},
}


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(RULES))
def test_dependencies_point_inward(package: str):
    forbidden = RULES[package]
    broken = [f"{path.relative_to(ROOT)}:{line} imports {name}"
              for path in sorted((ROOT / package).rglob("*.py"))
              for line, name in imports(path) if name in forbidden]
    assert broken == []


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from salesop.runner import announce\n", encoding="utf-8")
    assert imports(module) == [(2, "salesop")]


# The workspace's use cases (core/services/workspace/) are plain domain code over the database and the outbox: no
# framework, no outer package, no client of a far side — and not the dispatcher, which executes their commands and so
# depends on them, never the other way round. Relative imports count too.
WORKSPACE = ROOT / "core" / "services" / "workspace"
WORKSPACE_FORBIDDEN = FRAMEWORKS | OUTER | {"redis", "openai", "taskiq", "httpx", "vkbottle"}
WORKSPACE_FORBIDDEN_CORE = ("core.dispatcher", "core.tasks")


def absolute_imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, relative imports resolved against the file's package."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                found.append((node.lineno, module))
            else:  # from . import x: the submodules named
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def test_the_workspace_package_is_framework_free():
    files = sorted(WORKSPACE.rglob("*.py"))
    assert len(files) > 5, "core/services/workspace/ is a package of use cases"
    broken = [f"{path.relative_to(ROOT)}:{line} imports {module}"
              for path in files for line, module in absolute_imports(path)
              if module.split(".")[0] in WORKSPACE_FORBIDDEN
              or any(module == m or module.startswith(m + ".") for m in WORKSPACE_FORBIDDEN_CORE)]
    assert broken == []


def test_relative_imports_are_resolved():
    resolved = {name for _, name in absolute_imports(WORKSPACE / "routing.py")}
    assert {"core.outbox", "core.models", "core.services.workspace.topics"} <= resolved
