"""What a channel adapter provides, and what it is given.

An adapter (one per ChannelKind, registered in userbots/channels/__init__.py) has:

- `traits`: its kind's definition in core.channels (how messages arrive, history, edit/delete, typing and how often
  to refresh it, keyed sends, its rate budget), the one the dispatcher and the rate budgets ask too;
- `sender(deps)`: the object the gateway (userbots/gateway.py) sends, edits, deletes and shows "typing…" through for
  every channel of the kind — built once per gateway, with the gateway's database, secrets, settings and media
  fetcher (files a manager attached: the media library, the manager bot's files);
- `live(host, channel)` (Ingest.SESSION kinds): the worker that ingests the channel's messages in real time, run by
  the userbot supervisor (userbots/component.py) under the channel's lease for as long as its stop event is not set,
  or None when it cannot start now (its status then says why); `forget(host, channel_id)` when it stopped.

- `import_history(job)` (`traits.history` kinds): the channel's history, read and written under the import's lock,
  lease and checkpoint that userbots/importer.py holds for it; it returns what the run did (`ImportDone`).

Kinds whose messages arrive through the manager bot (Telegram Business) start nothing here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from core.channels import ChannelTraits, Ingest
from core.crypto import SecretBox
from core.db import Database
from core.leases import Fence, Leases, channel_lease
from core.models import ChannelAccount, ChannelKind
from core.ports import Delivery, DeliveryError, TaskQueue
from core.settings import Settings

MediaFetcher = Callable[[dict], Awaitable[bytes]]


@dataclass
class SendDeps:
    """What senders are built with (one set per gateway)."""

    db: Database
    secrets: SecretBox
    settings: Settings
    fetch_media: MediaFetcher | None = None
    telegram: Any = None  # userbots.telegram.client.TelegramAccounts: the Telethon clients running in this process


@dataclass
class ImportJob:
    """What a history import is run with (userbots/importer.py: under the channel's import lease, with its
    checkpoint)."""

    db: Database
    settings: Settings
    secrets: SecretBox
    channel: ChannelAccount
    credentials: str  # the channel's decrypted token or session
    checkpoint: Any  # userbots.checkpoint.Checkpoint: the ImportRun row, written with the messages it covers
    progress: bool = True
    workers: int | None = None  # requests in flight, for kinds that read in parallel (None: the kind's default)
    telegram_client_factory: Any = None  # Telethon clients for the import (None: the real factory)


@dataclass
class ImportDone:
    """What one run of an import did."""

    messages_this_run: int
    write_seconds: float = 0.0  # spent in database transactions
    requests: int = 0  # API requests made


@dataclass
class LiveHost:
    """What live workers are started with (one per supervisor, i.e. per process). `shared` keeps what an adapter
    builds once per process (a Telethon client factory)."""

    db: Database
    queue: TaskQueue
    settings: Settings
    secrets: SecretBox
    media: Any  # userbots.live.MediaDownloads: customers' files downloaded before their message is recorded
    accounts: Any  # userbots.telegram.client.TelegramAccounts, shared with the gateway
    shared: dict[str, Any] = field(default_factory=dict)
    # The supervisor's leases, whose channel leases a worker's own writes are fenced with (a Telegram session, a VK
    # long poll's position), and what it is told when such a write was refused: the lease is another process's now.
    leases: Leases | None = None
    fenced_out: Callable[[Fence], None] | None = None

    def lease_lost(self, channel_id: int) -> bool:
        """Under the supervisor, the channel's lease is no longer held: its worker must not start (the supervisor
        shows it, the holder runs it)."""
        return self.leases is not None and not self.leases.holds(channel_lease(channel_id))

    def lease_fence(self, channel_id: int) -> Fence | None:
        """The fence a channel's worker writes its own state under; None outside the supervisor (no leases)."""
        return None if self.leases is None else self.leases.fence(channel_lease(channel_id))


class Sender(Protocol):
    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery: ...

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery: ...

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery: ...

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None: ...

    async def close(self) -> None: ...


class Worker(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class ChannelAdapter:
    """One channel kind. Subclasses set `traits` and implement what the traits promise."""

    traits: ClassVar[ChannelTraits]

    @property
    def kind(self) -> ChannelKind:
        return self.traits.kind

    def sender(self, deps: SendDeps) -> Sender:
        raise NotImplementedError

    async def live(self, host: LiveHost, channel: ChannelAccount) -> Worker | None:
        if self.traits.ingest == Ingest.SESSION:
            raise NotImplementedError
        return None  # arrives through the manager bot: nothing runs here

    def forget(self, host: LiveHost, channel_id: int) -> None:
        """The channel's live worker stopped (or is being stopped): drop what this process kept for it."""

    async def import_history(self, job: ImportJob) -> ImportDone:
        """Import (or resume importing) the channel's history; ImportStopped when it needs attention."""
        raise NotImplementedError(f"channel kind {self.kind.value} has no history import")


async def flood_scaled(call: Awaitable[Delivery | None], time_scale: float):
    """Telegram's FLOOD_WAIT seconds are emulated ones under SALESOP_TIME_SCALE (sandbox demos), as VK's are."""
    try:
        return await call
    except DeliveryError as exc:
        if exc.code == "flood" and exc.retry_after:
            exc.retry_after = exc.retry_after / time_scale
        raise
