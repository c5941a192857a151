"""Telegram Business: the shop's own Telegram account connected to the manager bot (Settings → Telegram Business →
Chatbots, Bot API 7.2+) — no userbot, no session on the server. A channel of kind telegram_business per account.

Connections. A business_connection update registers, refreshes or disables the channel. A new connection belongs to
the tenant where the account's owner (the Telegram user who connected the bot) is an owner or admin; when they are
one in several tenants the bot asks which (the connection waits as a "business_connection_pending" event, picked
with `pick_tenant`), when in none it is refused. A channel already registered for the account stays in its tenant.
The rights (can_reply, can_read_messages, can_delete_sent_messages…) and the connection id are kept in the
channel's settings; a disabled connection leaves the channel DISABLED (shown in /status), and nothing is sent
through it. Telegram gives a business bot no history: the channel's detail says so (`salesop channel list`).

Messages. business_message / edited_business_message / deleted_business_messages go through core.inbox like every
channel's (idempotent on the account's chat and the message id). The customer's messages become dialogs, topics and
cards; what the owner types in the Telegram app is the shop's own (manager) message: it is mirrored into the topic,
and the inbox cancels the automatic replies still waiting and outdates pending cards (as for every channel). The mirror work is done in the
same transaction as the message (nothing to lose between the two); the AI draft is the one follow-up left to the
task queue (`receive` returns it).

Sending (the gateway, userbots/gateway.py) reads `send_target`: the connection id to send with, whether the
connection may send at all, the newest customer message to mark read (readBusinessMessage, with can_read_messages)
and whether the same account is also connected as a Telegram-account channel (userbot), which can answer when
Telegram refuses the bot (the 24-hour rule).

One account, two channels. When the shop's account is connected both ways (a userbot and a business connection; the
connection's user id is the userbot's own user id), the two channels are one world (core.inbox.home_of): one
customer per Telegram user, one dialog per chat, each message once. `route` says which of the two a reply to a chat
goes out through: the business connection when it can reply there (enabled, can_reply, the customer wrote within
24 hours), else the userbot when it is connected, else the business connection (whose refusal then explains why).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, inbox
from ..i18n import t
from ..models import (
    Attachment,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Dialog,
    Direction,
    Event,
    Message,
)
from .workspace import cards, mirror
from .channels import LIVE_STATUSES
from .staff import Membership, memberships

KIND = ChannelKind.TELEGRAM_BUSINESS
ADMIN_ROLES = ("owner", "admin")  # who may connect the shop's account to a tenant
PENDING_EVENT = "business_connection_pending"
# what the product uses of BusinessBotRights (https://core.telegram.org/bots/api#businessbotrights)
RIGHTS = ("can_reply", "can_read_messages", "can_delete_sent_messages", "can_delete_all_messages")


@dataclass(frozen=True)
class Connection:
    """A BusinessConnection as the bot received it."""

    id: str
    user_id: int  # the business account (its owner is the person who connected the bot)
    first_name: str
    user_chat_id: int
    date: datetime
    is_enabled: bool
    rights: dict[str, bool] = field(default_factory=dict)
    last_name: str | None = None
    username: str | None = None
    language: str | None = None

    @property
    def title(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        return name or (f"@{self.username}" if self.username else str(self.user_id))

    @property
    def can_reply(self) -> bool:
        return bool(self.rights.get("can_reply"))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["date"] = self.date.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Connection:
        return cls(**{**data, "date": datetime.fromisoformat(data["date"])})


class Outcome(str, enum.Enum):
    CONNECTED = "connected"  # a new channel
    UPDATED = "updated"  # rights or title refreshed, or enabled again
    DISABLED = "disabled"  # the owner removed the bot: the channel is disconnected
    CHOOSE = "choose"  # owner or admin of several tenants: the bot asks which
    NOT_STAFF = "not_staff"  # owner or admin of none
    IGNORED = "ignored"  # a disabled connection that was never registered


@dataclass
class ConnectionResult:
    outcome: Outcome
    connection: Connection
    channel_id: int | None = None
    tenant_id: int | None = None
    tenant_name: str | None = None
    choices: list[Membership] = field(default_factory=list)
    pending_id: int | None = None
    locale: str | None = None  # the owner's language (their staff record's), for the bot's answer


async def channel_by_connection(session: AsyncSession, connection_id: str) -> ChannelAccount | None:
    return (await session.execute(
        select(ChannelAccount).where(ChannelAccount.kind == KIND,
                                     ChannelAccount.settings["connection_id"].astext == connection_id)
        .order_by(ChannelAccount.id).limit(1)
    )).scalar_one_or_none()


async def channel_by_account(session: AsyncSession, user_id: int) -> ChannelAccount | None:
    return (await session.execute(
        select(ChannelAccount).where(ChannelAccount.kind == KIND, ChannelAccount.external_id == str(user_id))
        .order_by(ChannelAccount.id).limit(1).with_for_update()
    )).scalar_one_or_none()


def _detail(conn: Connection) -> str:
    """What `channel list` and /status show under the channel (in the default language, like every status detail)."""
    if not conn.is_enabled:
        return t("business.channel.detail_disabled")
    if not conn.can_reply:
        return t("business.channel.detail_no_reply")
    return t("business.channel.detail_no_history")


def _apply(channel: ChannelAccount, conn: Connection) -> None:
    channel.title = conn.title[:255]
    channel.settings = {
        **(channel.settings or {}),
        "connection_id": conn.id, "user_chat_id": conn.user_chat_id, "connected_at": conn.date.isoformat(),
        "rights": {k: bool(v) for k, v in conn.rights.items() if v}, "history": False,
    }  # fmt: skip
    channel.status = ChannelStatus.ACTIVE if conn.is_enabled else ChannelStatus.DISABLED
    channel.status_detail = _detail(conn)
    channel.flood_until = None


async def _admin_memberships(session: AsyncSession, user_id: int) -> list[Membership]:
    return [m for m in await memberships(session, user_id) if m.role_code in ADMIN_ROLES]


async def connection_changed(session: AsyncSession, conn: Connection) -> ConnectionResult:
    """Register, refresh or disable the channel of a business connection (a business_connection update)."""
    channel = await channel_by_account(session, conn.user_id)
    members = await _admin_memberships(session, conn.user_id)
    locale = members[0].locale if members else conn.language
    if channel is not None:
        was = channel.status
        _apply(channel, conn)
        outcome = Outcome.UPDATED if conn.is_enabled else Outcome.DISABLED
        if outcome is Outcome.DISABLED and was == ChannelStatus.DISABLED:
            outcome = Outcome.IGNORED  # told once
        tenant = next((m for m in members if m.tenant_id == channel.tenant_id), None)
        events.record(session, f"business_connection_{'disabled' if not conn.is_enabled else 'updated'}",
                      tenant_id=channel.tenant_id, channel_id=channel.id, rights=channel.settings["rights"])
        return ConnectionResult(outcome, conn, channel.id, channel.tenant_id,
                                tenant.tenant_name if tenant else None, locale=tenant.locale if tenant else locale)
    if not conn.is_enabled:
        return ConnectionResult(Outcome.IGNORED, conn, locale=locale)
    if not members:
        events.record(session, "business_connection_refused", tenant_id=None, user_id=conn.user_id)
        return ConnectionResult(Outcome.NOT_STAFF, conn, locale=locale)
    if len(members) > 1:
        pending = events.record(session, PENDING_EVENT, tenant_id=None, connection=conn.as_dict())
        await session.flush()
        return ConnectionResult(Outcome.CHOOSE, conn, choices=members, pending_id=pending.id, locale=locale)
    return await _register(session, conn, members[0])


async def _register(session: AsyncSession, conn: Connection, member: Membership) -> ConnectionResult:
    channel = ChannelAccount(tenant_id=member.tenant_id, kind=KIND, external_id=str(conn.user_id), title="",
                             settings={}, update_state={})
    _apply(channel, conn)
    session.add(channel)
    await session.flush()
    events.record(session, "business_connection_connected", tenant_id=member.tenant_id,
                  actor_staff_id=member.staff_id, channel_id=channel.id, rights=channel.settings["rights"])
    return ConnectionResult(Outcome.CONNECTED, conn, channel.id, member.tenant_id, member.tenant_name,
                            locale=member.locale)


class BusinessError(Exception):
    """A tenant pick that cannot be done; `reason` names the text business.error.<reason>."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def pick_tenant(session: AsyncSession, pending_id: int, tenant_id: int, user_id: int) -> ConnectionResult:
    """The owner answered "which business?" for a waiting connection."""
    event = await session.get(Event, pending_id, with_for_update=True)
    if event is None or event.kind != PENDING_EVENT:
        raise BusinessError("pending_unknown")
    conn = Connection.from_dict(event.payload["connection"])
    if conn.user_id != user_id:
        raise BusinessError("not_yours")
    if (existing := await channel_by_account(session, conn.user_id)) is not None:
        raise BusinessError("already" if existing.tenant_id != tenant_id else "done")
    member = next((m for m in await _admin_memberships(session, user_id) if m.tenant_id == tenant_id), None)
    if member is None:
        raise BusinessError("not_admin")
    return await _register(session, conn, member)


# ------------------------------------------------------------------------------------------------------ ingest


async def _run_follow_ups(session: AsyncSession, received: inbox.Received | None) -> list[tuple[str, dict]]:
    """The mirror work now, in this transaction; what is left (the AI draft) for the task queue."""
    if received is None:
        return []
    rest = []
    for name, kwargs in received.follow_ups:
        if name == inbox.MIRROR_MESSAGE:
            await mirror.mirror_message(session, kwargs["message_id"])
        elif name == inbox.MIRROR_EDIT:
            await mirror.mirror_change(session, kwargs["message_id"])
        elif name == inbox.REFRESH_CARDS:
            await cards.refresh_cards(session, kwargs["suggestion_ids"])
        else:
            rest.append((name, kwargs))
    return rest


async def receive(session: AsyncSession, msg: inbox.InboundMessage,
                  file_ids: dict[int, str] | None = None) -> list[tuple[str, dict]]:
    """A business message (a customer's, or the owner's typed in the app: direction OUT — the inbox treats it as
    the shop's answer from its own account, core.services.workspace.answered_from_own_account). `file_ids`
    (attachment ordinal → the bot's file_id) let the topic show the file without downloading it. Returns the
    follow-ups to enqueue after the commit."""
    received = await inbox.receive(session, msg)
    if not received.created:
        return []
    for ordinal, file_id in (file_ids or {}).items():
        await session.execute(update(Attachment).where(Attachment.message_id == received.message_id,
                                                       Attachment.ordinal == ordinal)
                              .values(telegram_file_id=file_id))
    return await _run_follow_ups(session, received)


async def record_edit(session: AsyncSession, channel_id: int, chat_id: str, external_id: str, text: str,
                      at: datetime) -> list[tuple[str, dict]]:
    return await _run_follow_ups(session, await inbox.record_edit(session, channel_id, chat_id, external_id, text, at))


async def record_deletions(session: AsyncSession, channel_id: int, chat_id: str, external_ids: list[str],
                           at: datetime) -> list[tuple[str, dict]]:
    rest = []
    for external_id in external_ids:
        rest += await _run_follow_ups(session, await inbox.record_deletion(session, channel_id, chat_id,
                                                                           external_id, at))
    return rest


# ----------------------------------------------------------------------------------------------------- sending


class Refusal(str, enum.Enum):
    """Why a send is refused before it reaches Telegram (DeliveryError codes, explained by the reason.* texts)."""

    DISCONNECTED = "business_disconnected"
    NO_REPLY = "business_no_reply"


@dataclass(frozen=True)
class SendTarget:
    channel_id: int
    tenant_id: int
    connection_id: str | None
    status: ChannelStatus
    rights: dict[str, bool]
    latest_inbound_id: int | None  # the customer's newest message in the dialog (readBusinessMessage)
    userbot: bool  # the same account is connected as a Telegram-account channel too (it has no 24-hour rule)

    @property
    def refusal(self) -> Refusal | None:
        if self.status == ChannelStatus.DISABLED or not self.connection_id:
            return Refusal.DISCONNECTED
        if not self.rights.get("can_reply"):
            return Refusal.NO_REPLY
        return None

    def may(self, right: str) -> bool:
        return bool(self.rights.get(right))


async def send_target(session: AsyncSession, channel_id: int, chat_id: str | None = None) -> SendTarget:
    channel = await session.get(ChannelAccount, channel_id)
    if channel is None or channel.kind != KIND:
        raise ValueError(f"channel {channel_id} is not a Telegram Business channel")
    latest = None
    if chat_id is not None:
        external = (await session.execute(
            select(Message.external_id).join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.channel_id == inbox.home_of(channel_id), Dialog.external_chat_id == str(chat_id),
                   Message.direction == Direction.IN, Message.deleted_at.is_(None),
                   Message.external_id.is_not(None))
            .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)
        )).scalar_one_or_none()
        latest = int(external) if external and external.isdigit() else None
    userbot = (await session.execute(
        select(ChannelAccount.id).where(ChannelAccount.tenant_id == channel.tenant_id,
                                        ChannelAccount.kind == ChannelKind.TELEGRAM_ACCOUNT,
                                        ChannelAccount.external_id == channel.external_id,
                                        ChannelAccount.status.in_(LIVE_STATUSES)).limit(1)
    )).first() is not None
    settings = channel.settings or {}
    return SendTarget(channel.id, channel.tenant_id, settings.get("connection_id"), channel.status,
                      dict(settings.get("rights") or {}), latest, userbot)


# --------------------------------------------------------------------------------------------- one account, two ways


@dataclass(frozen=True)
class Route:
    """Through which channel of a Telegram account a reply to one chat goes out; `order` lists the channels to try,
    the next one when the previous refuses for a reason that is not the other's (the 24-hour rule, no can_reply, a
    disconnected business bot)."""

    order: tuple[tuple[ChannelKind, int], ...]
    business_id: int | None = None
    userbot_id: int | None = None
    why_not_business: Refusal | str | None = None  # set when the business connection is passed over
    both: bool = False  # the account is connected both ways (whether or not both can send now)

    @property
    def first(self) -> tuple[ChannelKind, int]:
        return self.order[0]


WINDOW = timedelta(hours=24)  # Telegram: a business bot replies only in chats active in the last 24 hours


async def route(session: AsyncSession, channel_id: int, chat_id: str | None = None, *,
                now: datetime | None = None) -> Route:
    """The channels of `channel_id`'s account to send a reply to `chat_id` through, best first."""
    channels = await inbox.account_channels(session, channel_id)
    biz = next((c for c in channels if c.kind == KIND), None)
    userbot = next((c for c in channels if c.kind == ChannelKind.TELEGRAM_ACCOUNT), None)
    userbot_live = userbot is not None and userbot.status in LIVE_STATUSES
    if biz is None:
        return Route(((ChannelKind.TELEGRAM_ACCOUNT, (userbot or channels[0]).id),),
                     userbot_id=userbot.id if userbot else None)
    settings = biz.settings or {}
    why: Refusal | str | None = None
    if biz.status == ChannelStatus.DISABLED or not settings.get("connection_id"):
        why = Refusal.DISCONNECTED
    elif not (settings.get("rights") or {}).get("can_reply"):
        why = Refusal.NO_REPLY
    elif chat_id is not None:
        last = (await session.execute(
            select(Dialog.last_customer_message_at)
            .where(Dialog.channel_id == inbox.home_of(channel_id), Dialog.external_chat_id == str(chat_id))
        )).scalar_one_or_none()
        if last is None or (now or datetime.now(UTC)) - last >= WINDOW:
            why = "business_window"
    business_way = (KIND, biz.id)
    both = userbot is not None
    if why is None or not userbot_live:
        order = (business_way, (ChannelKind.TELEGRAM_ACCOUNT, userbot.id)) if userbot_live else (business_way,)
        return Route(order, biz.id, userbot.id if userbot_live else None, why if not userbot_live else None, both)
    return Route(((ChannelKind.TELEGRAM_ACCOUNT, userbot.id), business_way), biz.id, userbot.id, why, both)
