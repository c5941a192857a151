"""What the dashboard reads instead of every message (migration 0015), kept by PostgreSQL triggers on messages in
the same transaction as the messages themselves, so it is never behind and needs no call from the write paths.

- DashboardActivity: per dialog and UTC day, the first and last live (not imported) message of each direction. A
  dialog had a live message in [start, end) when one of these bounds lies in it; only a row whose bounds straddle the
  whole interval leaves the question open, and those few dialogs are asked of the messages (core.services.dashboard).
- DashboardFirstResponse: per dialog, its first live customer message and the first live reply at or after it — the
  very pair core.services.analytics.first_response looks up message by message.
- DashboardDialogCounts: where dialogs stand now (status, waiting), a log a trigger on dialogs appends to.
- DashboardSpend: AI spend by hour, model and purpose (usage rows are only ever added; see the class).

Both are keyed by the dialog, not by channel or manager: the dashboard filters by where a dialog stands now (its
channel, assignee, group), so a reassignment changes nothing here and the figures stay exact.

The indexes on dialogs, suggestions and escalations below are the dashboard's ways into those tables by time.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Identity, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .ai import Escalation, Suggestion
from .base import Base
from .dialogs import Dialog
from .outbox import Event


class DashboardActivity(Base):
    __tablename__ = "dashboard_activity"
    __table_args__ = (Index("ix_dashboard_activity_tenant_day", "tenant_id", "day",
                            postgresql_include=["dialog_id", "first_in", "last_in", "first_out", "last_out"]),)

    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    first_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_out: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_out: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DashboardFirstResponse(Base):
    __tablename__ = "dashboard_first_response"
    __table_args__ = (Index("ix_dashboard_first_response_tenant_created", "tenant_id", "created_at",
                            postgresql_include=["dialog_id", "asked_at", "answered_at", "answered_kind",
                                                "answered_staff_id"]),)

    dialog_id: Mapped[int] = mapped_column(ForeignKey("dialogs.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the dialog's, which never changes
    asked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_kind: Mapped[str | None] = mapped_column(String(24))  # core.models.AuthorKind value
    answered_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class DashboardSpend(Base):
    """AI spend per tenant, UTC hour, model and purpose: core.ai.spend's rows added up once an hour can take no more
    rows (before the start of the oldest transaction still running; dashboard_spend_refresh in migration 0015)."""

    __tablename__ = "dashboard_spend"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(24), primary_key=True)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric)
    calls: Mapped[int] = mapped_column(BigInteger)


class DashboardSpendRolled(Base):
    """How far DashboardSpend holds a tenant's usage: hours before `until`."""

    __tablename__ = "dashboard_spend_rolled"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DashboardDialogCounts(Base):
    """Where a tenant's dialogs stand now, as a log of +1/-1 rows a trigger on dialogs appends on every change of
    status, channel, assignee, group or unread-ness (writers never wait for each other); dashboard_refresh folds it."""

    __tablename__ = "dashboard_dialog_counts"
    __table_args__ = (Index("ix_dashboard_dialog_counts_tenant", "tenant_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger)  # no foreign key: rows written while a tenant is deleted
    status: Mapped[str] = mapped_column(String(24))
    channel_id: Mapped[int] = mapped_column(BigInteger)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    manager_group_id: Mapped[int | None] = mapped_column(BigInteger)
    unread: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)


# The dashboard's period lookups (migration 0015): new dialogs, closings and outcomes by time; drafts and escalations
# by time within a tenant. Declared here, on the existing tables, beside what they serve.
_dialogs = Dialog.__table__
# the dialogs touched since a moment, with everything the dashboard filters and counts them by (index-only)
Index("ix_dialogs_dashboard", _dialogs.c.tenant_id, _dialogs.c.last_message_at,
      postgresql_include=["id", "status", "created_at", "channel_id", "assignee_id", "manager_group_id"])
Index("ix_dialogs_tenant_closed", _dialogs.c.tenant_id, _dialogs.c.closed_at,
      postgresql_include=["id", "status", "csat", "channel_id", "assignee_id", "manager_group_id"],
      postgresql_where=text("closed_at IS NOT NULL"))
Index("ix_events_dashboard", Event.__table__.c.tenant_id, Event.__table__.c.created_at,
      postgresql_include=["dialog_id", "kind", "actor_staff_id", "id"],
      postgresql_where=text("kind IN ('dialog_won', 'dialog_lost', 'dialog_closed')"))
# The Mini App's dialog list (core.services.dialog_search): a manager's dialogs of one status newest first with what
# the other filters test; a search's matching customers → their dialogs, from the index alone.
Index("ix_dialogs_assignee_status_recent", _dialogs.c.assignee_id, _dialogs.c.status,
      _dialogs.c.last_message_at.desc(), _dialogs.c.id.desc(),
      postgresql_include=["tenant_id", "unread_count", "channel_id", "outcome"],
      postgresql_where=text("message_count > 0 AND assignee_id IS NOT NULL"))
Index("ix_dialogs_customer_recent", _dialogs.c.customer_id,
      postgresql_include=["tenant_id", "message_count", "last_message_at", "id", "status", "channel_id", "assignee_id",
                          "outcome", "unread_count"])
Index("ix_dialogs_tenant_outcome", _dialogs.c.tenant_id, _dialogs.c.outcome_at,
      postgresql_where=text("outcome IS NOT NULL"))
Index("ix_suggestions_tenant_time", Suggestion.__table__.c.tenant_id, Suggestion.__table__.c.created_at,
      postgresql_include=["dialog_id", "state", "decided_by_id", "intent"])
Index("ix_escalations_tenant_time", Escalation.__table__.c.tenant_id, Escalation.__table__.c.created_at)
