"""The outbox (everything that leaves the system), the event log (everything that happened), and dedup keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, str_enum
from .enums import CommandOrigin, CommandState, ReportKind, ReportStatus


class OutboxCommand(IdPk, Base):
    __tablename__ = "outbox_commands"
    __table_args__ = (
        # The dispatcher's queue scan: runnable commands, oldest first, per destination.
        Index(
            "ix_outbox_runnable",
            "not_before",
            "id",
            postgresql_where=text("state IN ('approved', 'queued')"),
        ),
        Index("ix_outbox_destination", "destination", "id"),
        # The dispatcher's lanes: "is an earlier command of this dialog to this destination still open?" stays an
        # index probe however long the outbox history grows (core.dispatcher).
        Index(
            "ix_outbox_open_lanes",
            "dialog_id",
            "destination",
            "id",
            postgresql_where=text("state IN ('approved', 'queued', 'in_flight')"),
        ),
    )

    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(48))  # send_customer_message, post_topic_message, create_topic, ...
    destination: Mapped[str] = mapped_column(String(96))  # rate-budget key: "tg:group:-100…", "vk:channel:5", ...
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)
    state: Mapped[CommandState] = mapped_column(str_enum(CommandState, "command_state"), default=CommandState.QUEUED)
    origin: Mapped[CommandOrigin] = mapped_column(str_enum(CommandOrigin, "command_origin"), default=CommandOrigin.SYSTEM)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(24))
    dialog_id: Mapped[int | None] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The "about to send" mark (core.dispatcher): set right before the call leaves, so a command found in flight
    # after a crash is known to have possibly reached the far side (migration 0019).
    sending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sends made again although the previous one may have arrived (its outcome never recorded): possible duplicates.
    unconfirmed_sends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Event(IdPk, Base):
    """Audit trail and the agent's memory of what happened: deliveries, failures, edits, approvals, admin actions."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant_time", "tenant_id", "created_at"),
        # A staff member's last activity (the Mini App's staff page), migration 0011.
        Index("ix_events_staff_activity", "actor_staff_id", "created_at",
              postgresql_where=text("actor_staff_id IS NOT NULL")),
    )

    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    dialog_id: Mapped[int | None] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), index=True)
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    command_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_commands.id", ondelete="SET NULL"))
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessedUpdate(Base):
    """Inbound updates already handled (Telegram update_id, VK event_id): a replay is a no-op."""

    __tablename__ = "processed_updates"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)  # "tg-bot:<bot id>", "vk:<channel id>"
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportRun(IdPk, Base):
    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "scheduled_for"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[ReportKind] = mapped_column(str_enum(ReportKind, "report_kind"))
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[ReportStatus] = mapped_column(str_enum(ReportStatus, "report_status"), default=ReportStatus.PENDING)
    chat_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    figures: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
