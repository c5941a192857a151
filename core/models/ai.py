"""What the AI proposed, what people did with it, what it cost, and what it learned."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pgvector.sqlalchemy import Vector
from sqlalchemy import func, Boolean, DateTime, Float, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, str_enum
from .enums import Decision, EscalationStatus, Outcome, SuggestionState, TrainingAction, UsagePurpose
from .knowledge import EMBEDDING_DIM


class Suggestion(IdPk, Base):
    __tablename__ = "suggestions"
    __table_args__ = (Index("ix_suggestions_dialog", "dialog_id", "created_at"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                            index=True)  # the customer message
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str] = mapped_column(String(24), default="other")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    decision: Mapped[Decision] = mapped_column(str_enum(Decision, "decision"), default=Decision.NEED_APPROVAL)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    checks: Mapped[dict] = mapped_column(JSONB, default=dict)  # self-check results, one entry per rule
    inputs: Mapped[dict] = mapped_column(JSONB, default=dict)  # everything the decision was made from
    sources: Mapped[list[dict]] = mapped_column(JSONB, default=list)  # retrieved chunks/products
    model: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[SuggestionState] = mapped_column(
        str_enum(SuggestionState, "suggestion_state"), default=SuggestionState.PENDING
    )
    final_text: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AIUsage(IdPk, Base):
    """One row per provider call. Cost is computed from the price table at call time, so totals add up exactly."""

    __tablename__ = "ai_usage"
    __table_args__ = (Index("ix_ai_usage_tenant_day", "tenant_id", "created_at"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    dialog_id: Mapped[int | None] = mapped_column(ForeignKey("dialogs.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[UsagePurpose] = mapped_column(str_enum(UsagePurpose, "usage_purpose"))
    provider: Mapped[str] = mapped_column(String(32))  # openai | elevenlabs | local
    model: Mapped[str] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    characters: Mapped[int] = mapped_column(Integer, default=0)  # speech synthesis: characters spoken
    seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # transcription: seconds heard
    # 12 decimals hold tokens × (USD per 1M tokens with up to 6 decimals) exactly, so sums add up to the cent.
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(20, 12), default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TrainingSample(IdPk, Base):
    __tablename__ = "training_samples"
    __table_args__ = (
        Index("ix_training_fewshot", "tenant_id", "intent", postgresql_where=text("few_shot")),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="SET NULL"))
    customer_message: Mapped[str] = mapped_column(Text)
    draft: Mapped[str | None] = mapped_column(Text)
    final: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(24))
    action: Mapped[TrainingAction] = mapped_column(str_enum(TrainingAction, "training_action"))
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, "training_outcome"))
    similarity: Mapped[float | None] = mapped_column(Float)  # draft vs final
    few_shot: Mapped[bool] = mapped_column(Boolean, default=False)  # set when the dialog is won
    embedding: Mapped[list[float] | None] = mapped_column(Vector(EMBEDDING_DIM))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Escalation(IdPk, Base):
    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_tenant_status", "tenant_id", "status"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    proposed_answer: Mapped[str | None] = mapped_column(Text)
    to_clarify: Mapped[str | None] = mapped_column(Text)
    status: Mapped[EscalationStatus] = mapped_column(
        str_enum(EscalationStatus, "escalation_status"), default=EscalationStatus.PENDING
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
