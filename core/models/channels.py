"""Channel accounts: a Telegram personal account, a VK community or a VK user, with credentials and import state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, Timestamps, str_enum
from .enums import ChannelKind, ChannelStatus, ImportStatus


class ChannelAccount(IdPk, Timestamps, Base):
    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "external_id"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind, "channel_kind"))
    external_id: Mapped[str] = mapped_column(String(64))  # VK group id / VK user id / Telegram user id
    title: Mapped[str] = mapped_column(String(255), default="")
    # Token or Telethon session string, encrypted with the master key (core.crypto).
    credentials_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[ChannelStatus] = mapped_column(str_enum(ChannelStatus, "channel_status"), default=ChannelStatus.NEW)
    status_detail: Mapped[str | None] = mapped_column(Text)
    flood_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Realtime cursor: Telethon update state (pts, qts, date, seq) or VK long-poll ts.
    update_state: Mapped[dict] = mapped_column(JSONB, default=dict)
    manager_group_id: Mapped[int | None] = mapped_column(ForeignKey("manager_groups.id", ondelete="SET NULL"))
    settings: Mapped[dict] = mapped_column(JSONB, default=dict)


class ImportRun(IdPk, Timestamps, Base):
    """History import of one channel. `cursor` is the checkpoint a restarted import resumes from."""

    __tablename__ = "import_runs"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus, "import_status"), default=ImportStatus.IDLE)
    cursor: Mapped[dict] = mapped_column(JSONB, default=dict)
    conversations_total: Mapped[int | None] = mapped_column(Integer)
    conversations_done: Mapped[int] = mapped_column(Integer, default=0)
    messages_done: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
