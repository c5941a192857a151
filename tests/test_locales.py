"""The locale files are complete: Russian and English have the same texts with the same variables, every text the
code asks for exists, and no text sits in the files unused. Plural forms are real Fluent plurals."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fluent.syntax import FluentParser, ast as fast

from core import i18n

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("core", "bot", "userbots", "webapp", "salesop")
TRANSLATE_CALLS = {"t", "_", "tr", "text"}


def _messages(locale: str) -> dict[str, set[str]]:
    """Fluent id → the variables its value and attributes use."""
    found: dict[str, set[str]] = {}
    parser = FluentParser()
    for path in i18n.resource_files(locale):
        resource = parser.parse(path.read_text(encoding="utf-8"))
        for entry in resource.body:
            assert not isinstance(entry, fast.Junk), f"{path.name}: syntax error near {entry.content[:80]!r}"
            if isinstance(entry, fast.Message):
                assert entry.id.name not in found, f"{entry.id.name} defined twice in {locale}"
                found[entry.id.name] = {m.group(1) for m in re.finditer(r"\$([A-Za-z0-9_-]+)",
                                                                         _source(path, entry))}
    return found


def _source(path: Path, entry) -> str:
    return path.read_text(encoding="utf-8")[entry.span.start:entry.span.end]


def _code_strings() -> tuple[set[str], set[str], set[str]]:
    """(string constants, f-string prefixes, keys passed literally to a translate call) in the product's code and
    templates, in Fluent id form."""
    constants: set[str] = set()
    prefixes: set[str] = set()
    called: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    constants.add(i18n.fluent_id(node.value))
                elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                    head = str(node.values[0].value)
                    if head.endswith((".", "-", "_")):
                        prefixes.add(i18n.fluent_id(head))
                if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    value = node.args[0].value
                    if name in TRANSLATE_CALLS and isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_.-]*\.[a-z0-9_.-]+", value):
                        called.add(i18n.fluent_id(value))
        for pattern in ("*.html", "*.j2", "*.js"):
            for path in (ROOT / folder).rglob(pattern):
                text = path.read_text(encoding="utf-8")
                for m in re.finditer(r"""(?:\bt|\b_|data-i18n)\s*[(=]\s*["']([a-z][a-z0-9_.-]+)["']""", text):
                    constants.add(i18n.fluent_id(m.group(1)))
                    called.add(i18n.fluent_id(m.group(1)))
                for m in re.finditer(r"""["']([a-z][a-z0-9_]*[.-])["']\s*\+""", text):
                    prefixes.add(i18n.fluent_id(m.group(1)))
    return constants, prefixes, called


@pytest.fixture(scope="module")
def catalogs() -> dict[str, dict[str, set[str]]]:
    return {loc: _messages(loc) for loc in i18n.LOCALES}


def test_russian_and_english_have_the_same_texts_and_variables(catalogs):
    ru, en = catalogs["ru"], catalogs["en"]
    assert sorted(set(ru) - set(en)) == [], "missing in English"
    assert sorted(set(en) - set(ru)) == [], "missing in Russian"
    differ = {k: (ru[k], en[k]) for k in ru if ru[k] != en[k]}
    assert differ == {}, "the two languages use different variables"


def test_every_text_the_code_asks_for_exists(catalogs):
    _, _, called = _code_strings()
    assert sorted(called - set(catalogs["ru"])) == []


def test_no_text_is_unused(catalogs):
    constants, prefixes, _ = _code_strings()
    unused = [k for k in catalogs["ru"] if k not in constants and not any(k.startswith(p) for p in prefixes)]
    assert unused == []


# Functions that put a head on the key they are given (core/ai/texts.py): a literal passed to one of them names
# head + literal, so those texts are checked as strictly as literal t() keys — asked for means present, present means
# asked for — although the wrapper itself builds the key with an f-string.
KEY_WRAPPERS = {"reason": "ai.reason.", "check_failure": "ai.check.", "memory_line": "ai.memory.",
                "phrase": "ai.offline.", "offline_phrase": "ai.offline."}


def _wrapped_keys() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "core" / "ai").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in KEY_WRAPPERS and isinstance(node.args[0].value, str):
                    found.add(i18n.fluent_id(KEY_WRAPPERS[name] + node.args[0].value))
    return found


def test_texts_asked_for_through_key_wrappers_exist_and_are_all_used(catalogs):
    wrapped = _wrapped_keys()
    assert wrapped, "no wrapper call found: KEY_WRAPPERS is out of date"
    assert sorted(wrapped - set(catalogs["ru"])) == []
    heads = tuple({i18n.fluent_id(h) for h in KEY_WRAPPERS.values()})
    assert sorted(k for k in catalogs["ru"] if k.startswith(heads) and k not in wrapped) == []


def test_plural_forms_are_real():
    got = [i18n.t("plural.messages", "ru", count=n) for n in (1, 2, 5, 21)]
    assert got == ["1 сообщение", "2 сообщения", "5 сообщений", "21 сообщение"]
    assert [i18n.t("plural.messages", "en", count=n) for n in (1, 2)] == ["1 message", "2 messages"]


def test_ids_are_not_grouped_and_language_codes_map():
    assert i18n.normalize("en-US") == "en" and i18n.normalize("uk") == "ru" and i18n.normalize(None) == "ru"
    assert i18n.normalize("de") == "en"
