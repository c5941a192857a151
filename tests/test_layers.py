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
