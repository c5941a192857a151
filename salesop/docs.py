"""Generated parts of README.md: `python -m salesop.docs` rewrites the configuration table from core/settings.py."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import env_names

README = Path(__file__).resolve().parent.parent / "README.md"
MARK, END = "<!-- settings-table -->", "<!-- /settings-table -->"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, (default, description) in env_names().items():
        rows.append(f"| `{name}` | {f'`{default}`' if default else '—'} | {description} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    block = f"{MARK}\n{settings_table()}\n{END}"
    pattern = re.compile(re.escape(MARK) + r"(?:\n.*?\n" + re.escape(END) + ")?", re.S)
    return pattern.sub(lambda _: block, readme, count=1)


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
