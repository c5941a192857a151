"""A tenant's figures for a period: the one place the status reports (core.services.reports) and the Mini App dashboard
read them from, so both always show the same numbers for the same period.

Every function takes the caller's session, the tenant, a `Period` (an interval in the tenant's time zone) and
optional `Filters` (channel, manager, manager group), and returns plain frozen dataclasses; nothing here is text
(`as_json` turns any result into JSON-ready data). Nothing is written.

Definitions (what each figure counts):
- new: dialogs created in the period (a dialog brought in by a history import whose messages are all older than a
  day before the period is not a new conversation and is left out);
- active: dialogs with a live (not imported) message in the period, either side;
- answered: dialogs that got a reply — a manager's or the AI's — in the period;
- escalated: dialogs escalated in the period; resolved: dialogs closed in the period (and still closed);
- status: where the filtered dialogs stand now (active / waiting for the customer / escalated / resolved / inactive);
- waiting: dialogs whose customer wrote last and got no answer yet, oldest first, with their topics;
- first response: for the period's new dialogs, the time from the customer's first live message to the first reply
  after it, as median and 90th percentile, overall, for the AI and per manager (who sent that reply);
- won / lost / revenue: outcomes set in the period (and not taken back), by channel and by the manager who set them;
- AI share: the AI's drafts made in the period by what became of them;
- spend: core.ai.spend over [start, end) — tenant-wide (embeddings and other calls belong to no dialog), so its
  total is exactly what `salesop spend` adds up for the same interval.

Speed (a tenant with 200,000 dialogs): only existing indexes are used. Dialogs touched in the period are found
through ix_dialogs_list (tenant, status, last_message_at); their messages through ix_messages_history (dialog,
sent_at) and their drafts through ix_suggestions_dialog (dialog, created_at); outcome and closing changes through
the event log's ix_events_tenant_time; waiting dialogs through the partial ix_dialogs_unanswered; escalations through
ix_escalations_tenant_status; spend through ix_ai_usage_tenant_day. So a report on yesterday reads yesterday's rows,
never the tenant's whole history.

The public entry is this package; its parts, one use case each: `period` (Period, the interval in the tenant's time
zone, and Filters), `conditions` (the conditions the figures share and the look-back windows that keep them on the
indexes), `dialogs` (dialog counts, where dialogs stand now, activity per day or hour), `queues` (dialogs waiting for
an answer and escalations nobody has handled, now), `response_times` (first response), `deals` (won, lost, revenue,
lost reasons), `drafts` (the AI's share, intents), `spending` (AI spend), `problems` (channels and manager groups that
do not work), `overview` (every figure at once: Summary) and `json_form` (as_json).
"""

from __future__ import annotations

from ...models import Direction
from .conditions import (
    ALL_STATUSES,
    DRAFT_LOOKBACK,
    EVENT_SLACK,
    NEW_DIALOG_SLACK,
    _changed_dialogs,
    _in,
    _live_message,
    _touched,
)
from .deals import OutcomeRow, Outcomes, ReasonCount, _outcome_set, lost_reasons, outcomes
from .dialogs import ActivityPoint, DialogCounts, StatusCounts, activity, dialog_counts
from .drafts import AIShare, IntentCount, _drafts, ai_share, intents
from .json_form import as_json
from .overview import Summary, summary
from .period import NO_FILTERS, Filters, Period
from .problems import ChannelProblem, ChannelProblems, GroupProblem, channel_problems
from .queues import (
    PendingEscalation,
    PendingEscalations,
    Waiting,
    WaitingDialog,
    _waiting_query,
    pending_escalations,
    waiting,
)
from .response_times import FirstResponse, ManagerResponse, ResponseStats, _f, first_response
from .spending import Spend, SpendLine, spend

# core.services.dashboard asks the same conditions dialog by dialog (analytics._live_message, analytics._f,
# analytics.Direction...), so the package keeps the private helpers and Direction where that module finds them.
__all__ = [
    "ALL_STATUSES", "DRAFT_LOOKBACK", "EVENT_SLACK", "NEW_DIALOG_SLACK", "NO_FILTERS",
    "AIShare", "ActivityPoint", "ChannelProblem", "ChannelProblems", "DialogCounts", "Filters", "FirstResponse",
    "GroupProblem", "IntentCount", "ManagerResponse", "OutcomeRow", "Outcomes", "PendingEscalation",
    "PendingEscalations", "Period", "ReasonCount", "ResponseStats", "Spend", "SpendLine", "StatusCounts", "Summary",
    "Waiting", "WaitingDialog", "activity", "ai_share", "as_json", "channel_problems", "dialog_counts",
    "first_response", "intents", "lost_reasons", "outcomes", "pending_escalations", "spend", "summary", "waiting",
]
