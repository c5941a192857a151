"""Channels: the Telegram accounts, VK communities and VK user accounts a tenant connects.

Credentials (a VK token, a Telethon session string) are stored encrypted with the master key and decrypted only by
the adapter that needs them. The state a person should see — flood waits, a captcha, a revoked token — lives on the
channel row (`status`, `status_detail`, `flood_until`), so it is visible in `salesop channel list` and the Mini App.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto import SecretBox
from ..db import Database
from ..errors import NotFound, UserError
from ..leases import Fence
from ..models import ChannelAccount, ChannelKind, ChannelStatus, ImportRun

# Statuses in which realtime ingest is started for a channel (a revoked token or a disabled channel waits for a person).
LIVE_STATUSES = (ChannelStatus.NEW, ChannelStatus.CONNECTING, ChannelStatus.ACTIVE, ChannelStatus.FLOOD_WAIT,
                 ChannelStatus.CAPTCHA, ChannelStatus.ERROR)
# PostgreSQL NOTIFY channel: a transaction that added (or reconnected) a channel says so at its commit, and the
# userbots listening start its realtime ingest at once instead of at their next rescan.
CHANNELS_NOTIFY = "salesop_channels"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelView:
    """What `channel list` and the Mini App show about a channel; never the credentials."""

    id: int
    tenant_id: int
    kind: str
    external_id: str
    title: str
    status: str
    status_detail: str | None
    flood_until: datetime | None
    import_status: str | None
    conversations_done: int | None
    conversations_total: int | None
    messages_imported: int | None

    def as_dict(self) -> dict:
        return {
            "id": self.id, "tenant_id": self.tenant_id, "kind": self.kind, "external_id": self.external_id,
            "title": self.title, "status": self.status, "status_detail": self.status_detail,
            "flood_until": self.flood_until.isoformat() if self.flood_until else None,
            "import": None if self.import_status is None else {
                "status": self.import_status, "conversations_done": self.conversations_done,
                "conversations_total": self.conversations_total, "messages": self.messages_imported,
            },
        }


async def add_channel(session: AsyncSession, secrets: SecretBox, *, tenant_id: int, kind: ChannelKind,
                      external_id: str, title: str, credentials: str, settings: dict | None = None,
                      start_state: dict | None = None) -> int:
    """Connect a channel, or reconnect it with fresh credentials (same tenant, kind and external id → same id).

    `start_state` is where live ingest begins, read from the platform at the moment of adding (VK: its server time,
    latest message id and long-poll ts; Telegram: the account's update state): the first connection fetches what
    customers wrote since then, however late it comes. Reconnecting clears a revoked/error state: the new token
    gets a fresh start. An update state already kept (a reconnect) wins over the new start — it lies earlier, so
    nothing written meanwhile is skipped — and import checkpoints are kept, so nothing is fetched twice.
    The userbots are woken at commit (CHANNELS_NOTIFY)."""
    if not credentials:
        raise UserError("credentials must not be empty", code="channels.error.no_credentials")
    values = dict(tenant_id=tenant_id, kind=kind, external_id=str(external_id), title=title[:255],
                  credentials_enc=secrets.encrypt(credentials), status=ChannelStatus.NEW, status_detail=None,
                  flood_until=None, update_state=start_state or {}, settings=settings or {})
    stmt = insert(ChannelAccount).values(**values)
    kept = ChannelAccount.__table__.c.update_state
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "kind", "external_id"],
        set_={"credentials_enc": stmt.excluded.credentials_enc, "title": stmt.excluded.title,
              "status": ChannelStatus.NEW, "status_detail": None, "flood_until": None,
              "update_state": case((kept.is_(None) | (kept == text("'{}'::jsonb")), stmt.excluded.update_state),
                                   else_=kept)},
    ).returning(ChannelAccount.id)
    channel_id = (await session.execute(stmt)).scalar_one()
    await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                          {"channel": CHANNELS_NOTIFY, "payload": str(channel_id)})
    return channel_id


async def get_channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    channel = await session.get(ChannelAccount, channel_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}", code="channels.error.unknown", channel=channel_id)
    return channel


def credentials(secrets: SecretBox, channel: ChannelAccount) -> str:
    if channel.credentials_enc is None:
        raise UserError(f"channel {channel.id} has no stored credentials: connect it again",
                        code="channels.error.no_stored_credentials", channel=channel.id)
    return secrets.decrypt(channel.credentials_enc)


async def store_credentials(session: AsyncSession, secrets: SecretBox, channel_id: int, plaintext: str) -> None:
    await session.execute(
        update(ChannelAccount).where(ChannelAccount.id == channel_id)
        .values(credentials_enc=secrets.encrypt(plaintext))
    )


async def list_channels(session: AsyncSession, tenant_id: int) -> list[ChannelView]:
    latest_import = (
        select(ImportRun.channel_id, ImportRun.status, ImportRun.conversations_done, ImportRun.conversations_total,
               ImportRun.messages_done)
        .distinct(ImportRun.channel_id)
        .order_by(ImportRun.channel_id, ImportRun.id.desc())
        .subquery()
    )
    rows = await session.execute(
        select(ChannelAccount, latest_import.c.status, latest_import.c.conversations_done,
               latest_import.c.conversations_total, latest_import.c.messages_done)
        .outerjoin(latest_import, latest_import.c.channel_id == ChannelAccount.id)
        .where(ChannelAccount.tenant_id == tenant_id)
        .order_by(ChannelAccount.id)
    )
    return [
        ChannelView(
            id=ch.id, tenant_id=ch.tenant_id, kind=ch.kind.value, external_id=ch.external_id, title=ch.title,
            status=ch.status.value, status_detail=ch.status_detail, flood_until=ch.flood_until,
            import_status=imp_status.value if imp_status is not None else None, conversations_done=done,
            conversations_total=total, messages_imported=messages,
        )
        for ch, imp_status, done, total, messages in rows
    ]


async def live_channels(session: AsyncSession, kinds: tuple[ChannelKind, ...] | None = None) -> list[ChannelAccount]:
    """Every channel realtime ingest should run for, across tenants."""
    query = select(ChannelAccount).where(ChannelAccount.status.in_(LIVE_STATUSES)).order_by(ChannelAccount.id)
    if kinds:
        query = query.where(ChannelAccount.kind.in_(kinds))
    return list((await session.execute(query)).scalars())


async def set_status(session: AsyncSession, channel_id: int, status: ChannelStatus, detail: str | None = None, *,
                     flood_until: datetime | None = None) -> None:
    """Record what a person should know about the channel now (flood wait until…, captcha, revoked token)."""
    await session.execute(
        update(ChannelAccount).where(ChannelAccount.id == channel_id)
        .values(status=status, status_detail=detail, flood_until=flood_until)
    )


async def write_under_lease(db: Database, channel_id: int, values: dict, *, fence: Fence | None,
                            fenced_out: Callable[[Fence], None] | None, what: str) -> bool:
    """Write columns of a channel account that its live client owns (a Telegram session, a VK long poll's position)
    and a new lease holder writes too: with a fence, only while that lease is still held, checked in the statement
    itself. A refused write is logged at WARNING and reported to `fenced_out` (the supervisor shows the lease lost at
    once); False then. `what` names the state for the log line."""
    statement = update(ChannelAccount).where(ChannelAccount.id == channel_id)
    if fence is not None:
        statement = statement.where(fence.still_held())
    async with db.unit_of_work() as session:
        written = (await session.execute(statement.values(values).returning(ChannelAccount.id))).first()
    if written is None and fence is not None:
        log.warning("channel %s: %s not saved — its lease %s (token %s) is no longer held by %s; the holder that took "
                    "it over keeps its own", channel_id, what, fence.name, fence.token, fence.holder)
        if fenced_out is not None:
            fenced_out(fence)
        return False
    return True


async def save_update_state(session: AsyncSession, channel_id: int, state: dict) -> None:
    """The realtime cursor (VK long-poll ts, Telethon pts/qts/date/seq) a restarted process catches up from."""
    await session.execute(
        update(ChannelAccount).where(ChannelAccount.id == channel_id).values(update_state=state)
    )
