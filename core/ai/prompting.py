"""Prompts live in jinja2 templates (core/ai/prompts/*.j2), never in code strings. This module renders them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # StrictUndefined: a variable missing from the context is a bug to see in tests, not an empty hole in a prompt.
    return Environment(
        loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, autoescape=False, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=False,
    )


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context).strip()
