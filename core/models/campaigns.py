"""Campaign invite links of a Telegram channel or group, and the people who joined (or asked to join) through them.

A campaign itself lives with the tenant (Tenant.extra["campaigns"], core.services.traffic); an invite link is made by
the bot through the Bot API (createChatInviteLink, its name the campaign's) and is the only thing Telegram tells us
about a join: the chat_member update of a person joining carries the link they used (ChatMemberUpdated.invite_link),
a join request carries it too (ChatJoinRequest.invite_link). The Bot API gives no per-link statistics, so the joins
are counted here, one row per person and link.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk


class CampaignInviteLink(IdPk, Base):
    __tablename__ = "campaign_invite_links"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_code: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    chat_title: Mapped[str | None] = mapped_column(String(255))
    chat_type: Mapped[str] = mapped_column(String(16))  # channel | supergroup | group
    url: Mapped[str] = mapped_column(String(255), unique=True)  # ChatInviteLink.invite_link, as the bot created it
    name: Mapped[str | None] = mapped_column(String(32))  # ChatInviteLink.name: 0-32 characters
    creates_join_request: Mapped[bool] = mapped_column(Boolean, default=False)
    is_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CampaignJoin(IdPk, Base):
    """A person who asked to join (state "requested") or joined ("joined") a chat through a campaign link. Their
    touch is written for every customer of the tenant with their Telegram user id — now, or when they first write."""

    __tablename__ = "campaign_joins"
    __table_args__ = (
        UniqueConstraint("link_id", "telegram_user_id"),
        Index("ix_campaign_joins_tenant_user", "tenant_id", "telegram_user_id"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    link_id: Mapped[int] = mapped_column(ForeignKey("campaign_invite_links.id", ondelete="CASCADE"))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))  # requested | joined | declined
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # approveChatJoinRequest calls that failed
