"""Durable follow-up work (core.followups) and channel leases (core.leases)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, str_enum


class FollowUpState(str, enum.Enum):
    PENDING = "pending"  # waiting for a worker (due_at says from when)
    RUNNING = "running"  # a worker holds it until lease_until
    DEAD = "dead"  # failed every attempt: shown in /status, tried again at the next start


class FollowUp(IdPk, Base):
    """One piece of follow-up work (mirror a message, draft a reply, ...), written in the transaction that caused
    it and deleted once done. (kind, key) is the work's identity: the same work asked for twice is one row."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_follow_ups_open", "state", "kicked_at", postgresql_where=text("state IN ('pending', 'running')")),
        Index("ix_follow_ups_dead", "tenant_id", postgresql_where=text("state = 'dead'")),
    )

    kind: Mapped[str] = mapped_column(String(48))
    key: Mapped[str] = mapped_column(Text)  # the payload as canonical JSON
    payload: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    state: Mapped[FollowUpState] = mapped_column(str_enum(FollowUpState, "follow_up_state"),
                                                 default=FollowUpState.PENDING,
                                                 server_default=FollowUpState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    again: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # asked for again while running: run once more
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kicked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChannelLease(Base):
    """Who runs a channel account (or its import) right now: one holder per name, until expires_at."""

    __tablename__ = "channel_leases"

    name: Mapped[str] = mapped_column(String(96), primary_key=True)  # "channel:12", "import:12"
    holder: Mapped[str] = mapped_column(String(128))
    token: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")  # grows at every change of holder (fencing)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
