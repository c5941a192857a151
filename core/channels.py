"""Channel kinds: one typed definition per kind, registered explicitly — the framework-free half.

A channel kind (a VK community, a VK user account, a Telegram account, a Telegram Business connection; later
WhatsApp or MAX) is one `ChannelTraits` definition below, registered in `CHANNEL_KINDS`, plus one adapter (its
client code) registered in userbots/channels/__init__.py that points at the definition. Everything the product knows
of a kind by its kind is here, without any client library, and everyone asks the registry instead of keeping a
table of their own:

- how its messages arrive (`Ingest.SESSION`: a client per account that the userbot supervisor runs under the
  channel's lease; `Ingest.BOT`: as updates of the manager bot itself, nothing to run), whether it has a history
  import (run by its adapter's `import_history`, userbots/importer.py), whether delivered messages can be edited
  and deleted, and the platform it belongs to (customers' identities and files are the platform's);
- its rate budget (`budget`, core.ratelimit.Budget): what the dispatcher (core.dispatcher) lets go to one channel
  of the kind, and what a VK token's requests are paced by (userbots/vk/api.py);
- "typing…": whether it can be shown while an automatic reply waits, and how often the dispatcher must say it
  again (`typing_refresh`: the platform shows it only that long);
- `keyed_sends`: whether a send carries the outbox command's key as the platform's own dedup key (VK and MTProto
  random_id: a repeat is refused), so a send repeated after a crash cannot reach the customer twice;
- the mark of its dialogs' topics in a manager group ("TG", "VK": `topic_mark`), whether channels of it with one
  external id are one account seen several ways (`shares_account`: one set of customers and dialogs, core.inbox),
  how a media library file is sent through it again (`media_by_channel_ref`, `media_by_bot_file_id`,
  core.services.media_library), and whether its mailbox is a group's rather than a person's (`group_mailbox`: a VK
  community's token, Long Poll and negative owner id).

`ChannelKinds` (the registry) refuses a kind registered twice or something that is not a `ChannelKind`; its
`check()` at start-up makes a `ChannelKind` member without a definition (or, for the adapters' `Registry`, without
an adapter) a start-up error instead of a channel that silently never runs, and `check_stored` does the same for a
kind found in the database that this code does not know. The pattern is core.commands.CommandKinds'.

`ChannelKind` (core.models) is the list of kinds the database accepts (a CHECK constraint, widened by a
migration); a new kind is a member there, a migration, a definition here and one adapter module registered in
userbots/channels/ (docs/adding-a-channel.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .models import ChannelKind
from .ratelimit import Budget


class Ingest(str, enum.Enum):
    SESSION = "session"  # the userbot supervisor runs a client per account (a Telethon session, a VK long poll)
    BOT = "bot"  # the messages arrive as updates of the manager bot (Telegram Business): nothing to run


@dataclass(frozen=True)
class ChannelTraits:
    """One channel kind: what the product knows of it without its client code (module docstring)."""

    kind: ChannelKind
    platform: str  # "telegram", "vk": whose user ids, files and limits the channel's customers have
    ingest: Ingest
    history: bool  # its past dialogs can be imported (`salesop channel import`, the adapter's import_history)
    edit: bool = True  # a delivered reply can be corrected
    delete: bool = True  # … and taken back for both sides
    typing: bool = True  # "typing…" can be shown while an automatic reply waits
    # Seconds (on the channels' clock, like every budget) between two "typing…" calls while a reply waits: the
    # platform shows it only so long after one.
    typing_refresh: float = 4.0
    # A send carries the command's key as the platform's dedup key (a repeat is refused): repeating it is harmless,
    # so the dispatcher sets no "about to send" mark for it (core.dispatcher.sending).
    keyed_sends: bool = False
    reply_window_hours: int | None = None  # replies only so long after the customer's last message (Business: 24)
    # Channels of such kinds with one external id in a tenant are one account seen several ways (a Telegram account
    # as a userbot and through Telegram Business): they share customers and dialogs (core.inbox.home_of).
    shares_account: bool = False
    # A media library file is sent again by the reference this very channel got when it uploaded it (VK's
    # attachment string, kept per channel: MediaChannelRef) …
    media_by_channel_ref: bool = False
    # … or by the manager bot's file id, the bot being the one that sends (Telegram Business).
    media_by_bot_file_id: bool = False
    # The mailbox is a group's, not a person's (a VK community): a community token with its Bots Long Poll, and the
    # group's id negated as the mailbox's owner id.
    group_mailbox: bool = False
    # After the customer's name in a dialog's topic title in the manager group ("Анна · TG"): where they write from.
    topic_mark: str = field(kw_only=True)
    # What the product may send to (or request from) one channel of the kind: count per period, burst.
    budget: Budget = field(kw_only=True)

    @property
    def typing_budget(self) -> Budget:
        """One "typing…" call per dialog and refresh interval (shared by every dispatcher process)."""
        return Budget(1, self.typing_refresh, burst=1)


# ------------------------------------------------------------------------------------------------ the kinds

# https://dev.vk.com/ru/api/api-requests#Ограничения и рекомендации — counted per token. VK shows "typing…" for about
# 10 s after messages.setActivity; messages.send takes a random_id (the command's key): a repeat is refused.
VK_COMMUNITY = ChannelTraits(ChannelKind.VK_COMMUNITY, "vk", Ingest.SESSION, history=True,
                             budget=Budget(20, 1.0, burst=20),  # a community token: 20 requests a second
                             typing_refresh=8.0, keyed_sends=True, media_by_channel_ref=True, group_mailbox=True,
                             topic_mark="VK")
VK_USER = ChannelTraits(ChannelKind.VK_USER, "vk", Ingest.SESSION, history=True,
                        budget=Budget(3, 1.0, burst=3),  # a user token: 3 requests a second
                        typing_refresh=8.0, keyed_sends=True, media_by_channel_ref=True, topic_mark="VK")
# Personal Telegram accounts get FLOOD_WAIT quickly when writing fast; the server's answer (retry_after) rules anyway.
# Telegram shows "typing…" for about 5-6 s after messages.setTyping; sendMessage takes a random_id (the command's key).
TELEGRAM_ACCOUNT = ChannelTraits(ChannelKind.TELEGRAM_ACCOUNT, "telegram", Ingest.SESSION, history=True,
                                 budget=Budget(1, 1.0, burst=3), typing_refresh=4.0, keyed_sends=True,
                                 shares_account=True, topic_mark="TG")
# The Bot API with business_connection_id: no key a repeat could be refused by, no history for a bot, replies only
# within 24 hours of the customer's last message. Its replies may also leave through the same account's userbot
# (userbots/channels/telegram_business.py), so it is paced as a Telegram account is.
TELEGRAM_BUSINESS = ChannelTraits(ChannelKind.TELEGRAM_BUSINESS, "telegram", Ingest.BOT, history=False,
                                  budget=TELEGRAM_ACCOUNT.budget, typing_refresh=4.0, keyed_sends=False,
                                  reply_window_hours=24, shares_account=True, media_by_bot_file_id=True,
                                  topic_mark="TG")


# ---------------------------------------------------------------------------------------------- registries


class UnknownChannelKind(LookupError):
    """A kind with no definition or adapter (or one for no known kind): the process refuses to start with it."""


class Adapter(Protocol):
    traits: ChannelTraits


A = TypeVar("A")


class Registry(Generic[A]):
    """Adapters (anything with `traits`) by kind, in registration order."""

    what = "adapter"
    where = "userbots/channels"

    def __init__(self, *items: A) -> None:
        self._items: dict[ChannelKind, A] = {}
        for item in items:
            self.register(item)

    @staticmethod
    def traits_of(item: A) -> ChannelTraits:
        return item.traits  # type: ignore[attr-defined]

    def register(self, item: A) -> A:
        kind = self.traits_of(item).kind
        if not isinstance(kind, ChannelKind):
            raise UnknownChannelKind(f"{type(item).__name__} is registered for {kind!r}, which is not a "
                                     f"ChannelKind (core/models/enums.py)")
        if kind in self._items:
            raise UnknownChannelKind(f"channel kind {kind.value!r} is registered twice "
                                     f"({type(self._items[kind]).__name__}, {type(item).__name__})")
        self._items[kind] = item
        return item

    def get(self, kind: ChannelKind | str) -> A:
        try:
            return self._items[ChannelKind(kind)]
        except (KeyError, ValueError):
            raise UnknownChannelKind(f"no {self.what} is registered for channel kind "
                                     f"{getattr(kind, 'value', kind)!r}") from None

    def kinds(self, *, ingest: Ingest | None = None,
              where: Callable[[ChannelTraits], bool] | None = None) -> tuple[ChannelKind, ...]:
        """The kinds registered, in order; with `ingest`, only those ingested so; with `where`, only those whose
        definitions it accepts (`where=lambda traits: traits.shares_account`)."""
        return tuple(k for k, item in self._items.items()
                     if (ingest is None or self.traits_of(item).ingest == ingest)
                     and (where is None or where(self.traits_of(item))))

    def check(self, kinds: Iterable[ChannelKind | str] = ChannelKind) -> None:
        """Every kind in `kinds` (by default every ChannelKind) is registered; else UnknownChannelKind names them."""
        missing = sorted({getattr(k, "value", k) for k in kinds} - {k.value for k in self._items})
        if missing:
            raise UnknownChannelKind(f"channel kinds without an {self.what} in {self.where}: {', '.join(missing)}")

    async def check_stored(self, session: AsyncSession) -> None:
        """At start-up: every kind of channel in the database is registered (a channel written by a newer version,
        or of a kind whose code was removed, stops the start instead of being treated as something it is not)."""
        stored = (await session.execute(text("SELECT DISTINCT kind FROM channel_accounts"))).scalars().all()
        self.check(stored)

    def __iter__(self) -> Iterator[A]:
        return iter(self._items.values())

    def __contains__(self, kind: object) -> bool:
        return kind in self._items

    def __len__(self) -> int:
        return len(self._items)


class ChannelKinds(Registry[ChannelTraits]):
    """The definitions by kind: what the dispatcher, the rate budgets and the importer ask."""

    what = "definition"
    where = "core/channels.py"

    @staticmethod
    def traits_of(item: ChannelTraits) -> ChannelTraits:
        return item


# Every kind this code knows, registered here and only here.
CHANNEL_KINDS = ChannelKinds(VK_COMMUNITY, VK_USER, TELEGRAM_ACCOUNT, TELEGRAM_BUSINESS)
