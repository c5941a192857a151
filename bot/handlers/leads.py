"""A lead the AI passed to managers (core.ai.tools): Approve / Reject on its card in the dialog's topic."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.ai import tools
from core.i18n import t

from ..middlewares import AfterCommit, require_actor
from ..runtime import BotRuntime


class LeadAction(CallbackData, prefix=tools.LEAD_CALLBACK):
    action: str  # ok | no (core.ai.tools.lead_callback builds the same data)
    command_id: int


def router() -> Router:
    r = Router(name="leads")

    @r.callback_query(LeadAction.filter())
    async def decide(query: CallbackQuery, callback_data: LeadAction, session: AsyncSession, group, actor,
                     after_commit: AfterCommit, runtime: BotRuntime) -> None:
        approve = callback_data.action == "ok"
        await tools.decide_lead(session, require_actor(group, actor), callback_data.command_id, approve=approve,
                                card_message_id=query.message.message_id if query.message else None)
        text = t("tools.lead.toast-approved" if approve else "tools.lead.toast-rejected", runtime.locale)
        after_commit.append(lambda: query.answer(text))

    return r
