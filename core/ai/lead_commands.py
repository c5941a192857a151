"""The outbox kinds of the AI's leads (core.ai.tools), as posts into the dialog's topic: the lead waiting for a
manager's approval («lead recorded» once approved), its card with Approve / Reject, «rejected» under the card.
Registered by the composition root (bot/component.py) like every kind (core.commands)."""

from __future__ import annotations

from typing import NotRequired

from ..services.workspace.group_commands import TopicPost, TopicPostPayload
from .tools import LEAD_CARD_KIND, LEAD_KIND, LEAD_NOTICE_KIND


class LeadPayload(TopicPostPayload):
    lead: NotRequired[dict]  # what the model asked for (the card's fields, the lead_created event's)


class LeadPost(TopicPost):
    name = LEAD_KIND
    payload = LeadPayload


class LeadCard(TopicPost):
    name = LEAD_CARD_KIND


class LeadNotice(TopicPost):
    name = LEAD_NOTICE_KIND


LEAD_KINDS = (LeadPost, LeadCard, LeadNotice)
