"""Every channel kind, registered here and only here.

Each adapter module points at its kind's definition (core.channels: the facts the dispatcher and the rate budgets
ask too) and provides what the product needs of it: live ingest (a worker the userbot supervisor runs, or nothing
when the messages arrive through the manager bot), sending, editing and deleting replies with their media,
"typing…", the history import, and the channel's status as its worker keeps it. The supervisor
(userbots/component.py), the gateway (userbots/gateway.py) and the importer (userbots/importer.py) ask this registry
by the channel's kind and never branch on kinds themselves; `ADAPTERS.check()` at start-up refuses a ChannelKind
without an adapter, and the supervisor refuses channels in the database of a kind this code does not know.

Adding WhatsApp or MAX: docs/adding-a-channel.md.
"""

from __future__ import annotations

from core.channels import Ingest, Registry, UnknownChannelKind

from .base import ChannelAdapter, ImportDone, ImportJob, LiveHost, SendDeps, Sender, Worker
from .telegram_account import TelegramAccount
from .telegram_business import TelegramBusiness
from .vk import VKCommunity, VKUser

ADAPTERS: Registry[ChannelAdapter] = Registry()
ADAPTERS.register(VKCommunity())
ADAPTERS.register(VKUser())
ADAPTERS.register(TelegramAccount())
ADAPTERS.register(TelegramBusiness())

__all__ = ["ADAPTERS", "ChannelAdapter", "ImportDone", "ImportJob", "Ingest", "LiveHost", "Registry", "SendDeps",
           "Sender", "UnknownChannelKind", "Worker"]
