"""The conditions the figures share, and the look-back windows that keep every statement on an index: dialogs touched
since a moment (ix_dialogs_list), a timestamp inside the period, a live message in the period, dialogs whose outcome
or closing changed around the period (the event log's ix_events_tenant_time). core.services.dashboard asks the same
conditions dialog by dialog for its rollup, so both ways count the same dialogs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, select

from ...models import Dialog, DialogStatus, Direction, Event, Message
from .period import Filters, Period

# A dialog created in the period whose last message is older than this before the period came in by an import.
NEW_DIALOG_SLACK = timedelta(days=1)
# Drafts are made within moments of the customer's message; a dialog quiet for longer than this before the period
# cannot have drafts made in it.
DRAFT_LOOKBACK = timedelta(days=7)
# An outcome's or a closing's event is written in the same transaction as the change: the event log finds them
# within this much of the dialog's own timestamp, which then decides.
EVENT_SLACK = timedelta(hours=1)
ALL_STATUSES = tuple(DialogStatus)


def _touched(tenant_id: int, since: datetime, filters: Filters) -> Select:
    """Dialogs with a message at or after `since` (ix_dialogs_list: the status list lets older PostgreSQL use the
    index as well as 18's skip scan)."""
    query = select(Dialog.id).where(Dialog.tenant_id == tenant_id, Dialog.status.in_(ALL_STATUSES),
                                    Dialog.last_message_at >= since)
    return filters.apply(query)


def _in(column, period: Period):
    return and_(column >= period.start, column < period.end)


def _live_message(dialog_id, period: Period, direction: Direction | None = None):
    condition = [Message.dialog_id == dialog_id, _in(Message.sent_at, period), Message.is_imported.is_(False)]
    if direction is not None:
        condition.append(Message.direction == direction)
    return exists().where(*condition)


def _changed_dialogs(tenant_id: int, period: Period, kinds: tuple[str, ...]) -> Select:
    """Dialogs with an event of `kinds` around the period (ix_events_tenant_time); the dialog's own timestamp then
    decides whether the change fell in the period."""
    return select(Event.dialog_id).where(
        Event.tenant_id == tenant_id, Event.created_at >= period.start - EVENT_SLACK,
        Event.created_at < period.end + EVENT_SLACK, Event.kind.in_(kinds), Event.dialog_id.is_not(None))
