"""Customers, their dialogs and messages, attachments, and the mirror into manager topics."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    func,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, Timestamps, str_enum
from .enums import (
    AIMode,
    AttachmentKind,
    AuthorKind,
    ChannelKind,
    DialogStatus,
    Direction,
    Outcome,
    TopicMessageKind,
)


class Customer(IdPk, Timestamps, Base):
    __tablename__ = "customers"
    __table_args__ = (
        # Mini App search by name, username or phone (without + - ( ) . and spaces): trigrams of one lower-cased text (migration 0011).
        Index("ix_customers_search", text(
            "lower((((COALESCE(display_name, ''::character varying)::text || ' '::text) || "
            "COALESCE(username, ''::character varying)::text) || ' '::text) || "
            "COALESCE(translate(phone::text, '+-() .'::text, ''::text), ''::text))"),
            postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    profile_url: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    # Rolling memory: {"preferences": [...], "topics": [...]} plus a summary rebuilt after activity.
    memory: Mapped[dict] = mapped_column(JSONB, default=dict)
    summary: Mapped[str | None] = mapped_column(Text)
    summary_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    first_touch_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_touches.id", ondelete="SET NULL", use_alter=True)
    )
    last_touch_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_touches.id", ondelete="SET NULL", use_alter=True)
    )
    extra: Mapped[dict] = mapped_column(JSONB, default=dict)


class CustomerIdentity(IdPk, Base):
    """A customer as one channel sees them (VK user id, Telegram user id)."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("channel_id", "external_user_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    external_user_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(64))


class TrafficTouch(IdPk, Base):
    """Where a customer came from at one moment: VK ref/ref_source, a Telegram start payload, UTM tags in a link."""

    __tablename__ = "traffic_touches"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel_kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind, "touch_channel_kind"))
    source: Mapped[str | None] = mapped_column(String(255))  # utm_source, VK ref_source, or the start payload
    medium: Mapped[str | None] = mapped_column(String(255))
    campaign: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[str | None] = mapped_column(String(255))
    term: Mapped[str | None] = mapped_column(String(255))
    ref: Mapped[str | None] = mapped_column(String(255))
    raw: Mapped[dict] = mapped_column(JSONB, default=dict)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Dialog(IdPk, Timestamps, Base):
    __tablename__ = "dialogs"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_chat_id"),
        # The dialog list: a tenant's dialogs by status, freshest first. Zero-message dialogs are filtered out.
        Index("ix_dialogs_list", "tenant_id", "status", text("last_message_at DESC NULLS LAST")),
        Index("ix_dialogs_unanswered", "tenant_id", "last_customer_message_at", postgresql_where=text("unread_count > 0")),
        # Keyset pages of the Mini App list (core.services.dialog_search), whole and per status, channel, assignee.
        Index("ix_dialogs_recent", "tenant_id", text("last_message_at DESC"), text("id DESC"),
              postgresql_where=text("message_count > 0")),
        Index("ix_dialogs_status_recent", "tenant_id", "status", text("last_message_at DESC"), text("id DESC"),
              postgresql_where=text("message_count > 0")),
        Index("ix_dialogs_channel_recent", "channel_id", text("last_message_at DESC"), text("id DESC"),
              postgresql_where=text("message_count > 0")),
        Index("ix_dialogs_assignee_recent", "assignee_id", text("last_message_at DESC"), text("id DESC"),
              postgresql_where=text("message_count > 0 AND assignee_id IS NOT NULL")),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    external_chat_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[DialogStatus] = mapped_column(str_enum(DialogStatus, "dialog_status"), default=DialogStatus.ACTIVE)
    ai_mode: Mapped[AIMode] = mapped_column(str_enum(AIMode, "ai_mode"), default=AIMode.SEMI_AUTO)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    manager_group_id: Mapped[int | None] = mapped_column(ForeignKey("manager_groups.id", ondelete="SET NULL"))
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_customer_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, "outcome"))
    outcome_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    outcome_currency: Mapped[str | None] = mapped_column(String(3))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DialogTopic(IdPk, Timestamps, Base):
    """The forum topic that mirrors a dialog in one manager group."""

    __tablename__ = "dialog_topics"
    __table_args__ = (
        UniqueConstraint("dialog_id", "manager_group_id"),
        UniqueConstraint("manager_group_id", "thread_id"),
    )

    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"))
    manager_group_id: Mapped[int] = mapped_column(ForeignKey("manager_groups.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # None while the createForumTopic command is queued
    title: Mapped[str] = mapped_column(String(128), default="")
    status_marker: Mapped[str] = mapped_column(String(24), default="new")
    pinned_message_id: Mapped[int | None] = mapped_column(BigInteger)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class Message(IdPk, Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Idempotent ingest: a message is identified by its id inside its (channel, chat) dialog.
        UniqueConstraint("dialog_id", "external_id"),
        Index("ix_messages_history", "dialog_id", "sent_at"),
        # Mini App search in message texts: full text with the russian configuration (migration 0011).
        Index("ix_messages_fts", text("to_tsvector('russian'::regconfig, text)"), postgresql_using="gin"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(64))  # None until an outgoing message is delivered
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    author_kind: Mapped[AuthorKind] = mapped_column(str_enum(AuthorKind, "author_kind"))
    author_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reply_to_external_id: Mapped[str | None] = mapped_column(String(64))
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edit_count: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_imported: Mapped[bool] = mapped_column(Boolean, default=False)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_error: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict] = mapped_column(JSONB, default=dict)


class MessageEdit(IdPk, Base):
    """Every edit of a message, old and new text, so nothing a customer wrote is lost."""

    __tablename__ = "message_edits"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    old_text: Mapped[str] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TopicMessage(IdPk, Base):
    """Mapping between a message in a manager topic and the dialog message (or card) it stands for."""

    __tablename__ = "topic_messages"
    __table_args__ = (UniqueConstraint("dialog_topic_id", "telegram_message_id"),)

    dialog_topic_id: Mapped[int] = mapped_column(ForeignKey("dialog_topics.id", ondelete="CASCADE"))
    telegram_message_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TopicMessageKind] = mapped_column(str_enum(TopicMessageKind, "topic_message_kind"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Attachment(IdPk, Base):
    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("message_id", "ordinal"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(SmallInteger, default=0)
    kind: Mapped[AttachmentKind] = mapped_column(str_enum(AttachmentKind, "attachment_kind"))
    mime: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    file_name: Mapped[str | None] = mapped_column(String(255))
    storage_key: Mapped[str | None] = mapped_column(String(255))  # path under the media store once downloaded
    external_ref: Mapped[dict] = mapped_column(JSONB, default=dict)  # channel's own reference (VK url, Telethon ids)
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))  # cache: re-send without re-uploading
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # e.g. over the size limit, unknown type


class MediaItem(IdPk, Timestamps, Base):
    """The media library: images, video and voice for quick replies."""

    __tablename__ = "media_items"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[AttachmentKind] = mapped_column(str_enum(AttachmentKind, "media_kind"))
    mime: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
