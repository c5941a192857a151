"""Tenants (businesses), their staff, roles and manager forum groups."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, IdPk, Timestamps, str_enum
from .enums import AddressForm, DelayProfile, NightMode, Tone

DEFAULT_HOURS = {d: ["09:00", "21:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


class Tenant(IdPk, Timestamps, Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("t_escalate >= 0 AND t_escalate <= t_auto AND t_auto <= 1", name="thresholds"),
        CheckConstraint("max_discount_percent BETWEEN 0 AND 100", name="max_discount"),
    )

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    tone: Mapped[Tone] = mapped_column(str_enum(Tone, "tone"), default=Tone.FRIENDLY)
    address_form: Mapped[AddressForm] = mapped_column(str_enum(AddressForm, "address_form"), default=AddressForm.VY)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    # {"mon": ["09:00", "21:00"], ...}; a missing day means closed.
    working_hours: Mapped[dict] = mapped_column(JSONB, default=lambda: dict(DEFAULT_HOURS))

    # Decision engine: AUTO_SEND needs confidence ≥ t_auto; below t_escalate goes to a human as an escalation.
    t_auto: Mapped[float] = mapped_column(Float, default=0.85)
    t_escalate: Mapped[float] = mapped_column(Float, default=0.35)
    autosend_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    offline_autosend_allowed: Mapped[bool] = mapped_column(Boolean, default=False)  # autosend from the no-key responder
    intents_autosend: Mapped[list[str]] = mapped_column(ARRAY(String(24)), default=lambda: ["greeting", "shipping"])
    intents_force_handoff: Mapped[list[str]] = mapped_column(
        ARRAY(String(24)), default=lambda: ["complaint", "human_request", "return"]
    )
    intents_no_learning: Mapped[list[str]] = mapped_column(ARRAY(String(24)), default=list)
    forbidden_topics: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    allow_discounts: Mapped[bool] = mapped_column(Boolean, default=False)
    max_discount_percent: Mapped[int] = mapped_column(Integer, default=0)

    # Human-like delay for automatic replies.
    delay_profile: Mapped[DelayProfile] = mapped_column(
        str_enum(DelayProfile, "delay_profile"), default=DelayProfile.MEDIUM
    )
    night_mode: Mapped[NightMode] = mapped_column(str_enum(NightMode, "night_mode"), default=NightMode.AUTO_REPLY)
    night_multiplier: Mapped[float] = mapped_column(Float, default=3.0)
    night_auto_reply: Mapped[str | None] = mapped_column(Text)
    typing_indicator: Mapped[bool] = mapped_column(Boolean, default=True)

    # Status reports to chats, in the tenant's timezone.
    report_morning_at: Mapped[time | None] = mapped_column(Time, default=time(9, 0))
    report_evening_at: Mapped[time | None] = mapped_column(Time, default=time(20, 0))
    report_chat_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    escalation_chat_id: Mapped[int | None] = mapped_column(BigInteger)

    # Voice: the tenant's own ElevenLabs key and voice.
    voice_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    elevenlabs_voice_id: Mapped[str | None] = mapped_column(String(64))
    elevenlabs_api_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    # Routing of new dialogs across the tenant's manager groups.
    group_routing: Mapped[str] = mapped_column(String(24), default="round_robin")  # round_robin | by_channel
    # A campaign code in a customer's first message: a regular expression with one group (core.services.traffic).
    campaign_code_pattern: Mapped[str | None] = mapped_column(String(200))
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)  # platform-level block (fraud, unpaid)
    extra: Mapped[dict] = mapped_column(JSONB, default=dict)  # shop description, onboarding answers

    roles: Mapped[list[Role]] = relationship(back_populates="tenant", cascade="all, delete-orphan")


class Role(IdPk, Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(48)), default=list)
    hidden_fields: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)

    tenant: Mapped[Tenant] = relationship(back_populates="roles")


class StaffMember(IdPk, Timestamps, Base):
    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("tenant_id", "telegram_user_id"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    role: Mapped[Role] = relationship(lazy="joined")


class Invitation(IdPk, Base):
    __tablename__ = "invitations"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ManagerGroup(IdPk, Timestamps, Base):
    """A forum supergroup where managers work. Several per tenant (teams, shards); a full one rotates."""

    __tablename__ = "manager_groups"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(255))
    team: Mapped[str | None] = mapped_column(String(64))
    is_forum: Mapped[bool] = mapped_column(Boolean, default=False)
    missing_rights: Mapped[list[str]] = mapped_column(ARRAY(String(48)), default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    message_count: Mapped[int] = mapped_column(BigInteger, default=0)  # rotate past ~1M messages
    rotated_to_id: Mapped[int | None] = mapped_column(ForeignKey("manager_groups.id", ondelete="SET NULL"))
    general_card_message_id: Mapped[int | None] = mapped_column(BigInteger)
