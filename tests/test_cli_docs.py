"""The README's "## Commands" table and the real `salesop` commands (the argparse tree salesop.cli builds) name the
same commands: a command nobody documented, or a documented one that does not exist, fails here."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from salesop.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(parser: argparse.ArgumentParser,
             path: tuple[str, ...] = ("salesop",)) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every command a person can run (a leaf of the subcommand tree) → its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser}
    found = {}
    for action in subs:
        for name, child in action.choices.items():
            found |= commands(child, (*path, name))
    return found


def commands_section(text: str) -> str:
    match = re.search(r"^## Commands\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, 'README.md has no "## Commands" section'
    return match.group(1)


def documented(section: str, parser: argparse.ArgumentParser) -> tuple[set[tuple[str, ...]], list[str]]:
    """(the commands the table's `salesop …` snippets name, the snippets that name none). A snippet names the command
    its words lead to through the subcommands; below a group, a word that is not one of its subcommands is wrong."""
    named, wrong = set(), []
    rows = [line for line in section.splitlines() if line.startswith("|")]
    for snippet in re.findall(r"`(salesop(?: [^`]*)?)`", "\n".join(rows)):
        node, path = parser, ["salesop"]
        for word in snippet.split()[1:]:
            subs = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
            if not subs:
                break  # a command: the rest are its arguments
            choices = {name: child for a in subs for name, child in a.choices.items()}
            if word not in choices:
                break
            node, path = choices[word], [*path, word]
        if [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]:
            wrong.append(snippet)  # stops at the program or a group: names no command
        else:
            named.add(tuple(path))
    return named, wrong


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_command_is_in_the_readme_table_and_only_those(language):
    parser = build_parser(language)  # the tree is the same whatever the language of its help
    real = set(commands(parser))
    named, wrong = documented(commands_section(README.read_text(encoding="utf-8")), parser)
    assert wrong == [], f"the README's Commands table names commands that do not exist: {wrong}"
    missing = sorted(" ".join(path) for path in real - named)
    assert missing == [], f"commands missing from the README's Commands table: {missing}"
    assert named <= real


def test_the_check_sees_a_missing_and_an_unknown_command():
    parser = build_parser("en")
    table = ("| command | what it does |\n|---|---|\n| `salesop tenant create --slug S`, `salesop tenant bogus` | x |\n"
             "| `salesop teleport`, `salesop import CHANNEL_ID` | y |\n")
    named, wrong = documented(table, parser)
    assert named == {("salesop", "tenant", "create"), ("salesop", "import")}
    assert wrong == ["salesop tenant bogus", "salesop teleport"]
    assert ("salesop", "tenant", "list") in set(commands(parser)) - named
