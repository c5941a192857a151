"""What a running component is given: settings, the database, secrets, the task queue, the clock and the adapters
other components provide. The composition root (salesop.context.app_context) builds it; bot/, userbots/ and webapp/
take it without importing the root, so dependencies keep pointing inward (tests/test_layers.py checks it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .crypto import SecretBox
from .db import Database, DatabaseHandle
from .logredact import redact
from .ports import Clock
from .settings import Settings
from .tasks import TaskiqQueue


@dataclass
class AppContext:
    settings: Settings
    handle: DatabaseHandle
    db: Database
    secrets: SecretBox
    queue: TaskiqQueue
    clock: Clock
    # Adapters a component provides to the others (e.g. "manager_surface", "channel_gateway"), set in install().
    services: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.handle.embedded is not None


def announce(name: str, where: str) -> None:
    """One line per running component: what it is and where to reach it. `name` is read by scripts and tests (the
    first word, never translated); `where` is for the person, in the CLI's language. Redacted like the logs: a line
    may quote an error, and errors quote URLs that carry the bot token."""
    print(f"{name:<12} {redact(where)}", flush=True)
