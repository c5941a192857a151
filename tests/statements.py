"""Counting the SQL statements a piece of work sends — for tests that hold a bulk path to the one-by-one path's
results with fewer statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class StatementCount:
    statements: int = 0


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[StatementCount]:
    counted = StatementCount()

    def count(*_) -> None:
        counted.statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
