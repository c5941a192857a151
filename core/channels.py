"""Channel kinds as registered adapters: the framework-free half.

A channel kind (a VK community, a VK user account, a Telegram account, a Telegram Business connection; later
WhatsApp or MAX) is one adapter registered in one place (userbots/channels/__init__.py). What the product needs of a
kind is described here without any client library:

- `ChannelTraits`: how its messages arrive (`Ingest.SESSION`: a client per account that the userbot supervisor runs
  under the channel's lease; `Ingest.BOT`: as updates of the manager bot itself, nothing to run), whether it has a
  history import, whether delivered messages can be edited and deleted, whether it shows "typing…", and the
  platform it belongs to (customers' identities and files are the platform's).
- `Registry`: adapters by kind. Registering a kind twice, or something that is not a `ChannelKind`, is an error;
  `check()` at start-up makes a kind without an adapter (a `ChannelKind` member nobody registered, or a kind found
  in the database that this code does not know) a start-up error instead of a channel that silently never runs.

`ChannelKind` (core.models) is the list of kinds the database accepts (a CHECK constraint, widened by a
migration); a new kind is a member there, a migration, and one adapter module registered in userbots/channels/
(docs/adding-a-channel.md).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from .models import ChannelKind


class Ingest(str, enum.Enum):
    SESSION = "session"  # the userbot supervisor runs a client per account (a Telethon session, a VK long poll)
    BOT = "bot"  # the messages arrive as updates of the manager bot (Telegram Business): nothing to run


@dataclass(frozen=True)
class ChannelTraits:
    kind: ChannelKind
    platform: str  # "telegram", "vk": whose user ids, files and limits the channel's customers have
    ingest: Ingest
    history: bool  # its past dialogs can be imported (`salesop channel import`)
    edit: bool = True  # a delivered reply can be corrected
    delete: bool = True  # … and taken back for both sides
    typing: bool = True  # "typing…" can be shown while an automatic reply waits
    reply_window_hours: int | None = None  # replies only so long after the customer's last message (Business: 24)


class UnknownChannelKind(LookupError):
    """A kind with no adapter (or an adapter for no known kind): the process refuses to start with it."""


class Adapter(Protocol):
    traits: ChannelTraits


A = TypeVar("A", bound=Adapter)


class Registry(Generic[A]):
    """Adapters by kind, in registration order."""

    def __init__(self) -> None:
        self._adapters: dict[ChannelKind, A] = {}

    def register(self, adapter: A) -> A:
        kind = adapter.traits.kind
        if not isinstance(kind, ChannelKind):
            raise UnknownChannelKind(f"{type(adapter).__name__} is registered for {kind!r}, which is not a "
                                     f"ChannelKind (core/models/enums.py)")
        if kind in self._adapters:
            raise UnknownChannelKind(f"channel kind {kind.value!r} is registered twice "
                                     f"({type(self._adapters[kind]).__name__}, {type(adapter).__name__})")
        self._adapters[kind] = adapter
        return adapter

    def get(self, kind: ChannelKind | str) -> A:
        try:
            return self._adapters[ChannelKind(kind)]
        except (KeyError, ValueError):
            raise UnknownChannelKind(f"no adapter is registered for channel kind {getattr(kind, 'value', kind)!r}"
                                     ) from None

    def kinds(self, *, ingest: Ingest | None = None) -> tuple[ChannelKind, ...]:
        return tuple(k for k, a in self._adapters.items() if ingest is None or a.traits.ingest == ingest)

    def check(self, kinds: Iterable[ChannelKind | str] = ChannelKind) -> None:
        """Every kind in `kinds` (by default every ChannelKind) has an adapter; else UnknownChannelKind names them."""
        missing = sorted({getattr(k, "value", k) for k in kinds} - {k.value for k in self._adapters})
        if missing:
            raise UnknownChannelKind(f"channel kinds without an adapter in userbots/channels: {', '.join(missing)}")

    def __iter__(self) -> Iterator[A]:
        return iter(self._adapters.values())

    def __contains__(self, kind: object) -> bool:
        return kind in self._adapters

    def __len__(self) -> int:
        return len(self._adapters)
