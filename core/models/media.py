"""Quick replies (named texts with media from the library) and what each channel already holds of a library file."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, Timestamps


class QuickReply(IdPk, Timestamps, Base):
    """A named text a manager inserts from a topic with `/q <words>`, with media items of the library (in order)."""

    __tablename__ = "quick_replies"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    media_item_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))


class MediaChannelRef(Base):
    """A library file as a channel already holds it — VK's attachment string ("photo-77_12") uploaded once through
    that community or account — so later sends reuse it instead of uploading the bytes again."""

    __tablename__ = "media_channel_refs"

    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(255))
