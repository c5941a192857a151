"""Inline buttons: reply cards (Send / Edit / Reject / Escalate, reject reasons, the confirmation a Send on a draft
someone has answered meanwhile needs) and pinned-card controls."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.permissions import Permission
from core.services.workspace import controls, decisions

from ..keyboards import CardAction, DialogAction, RejectReason
from ..middlewares import AfterCommit, require_actor
from ..runtime import BotRuntime
from ..texts import t


def _toast(after_commit: AfterCommit, query: CallbackQuery, text: str, alert: bool = False) -> None:
    """The button's answer, once the change is committed."""
    after_commit.append(lambda: query.answer(text[:200], show_alert=alert))


def router() -> Router:
    r = Router(name="cards")

    @r.callback_query(CardAction.filter(F.action == "send"))
    async def send(query: CallbackQuery, callback_data: CardAction, session: AsyncSession, group, actor,
                   after_commit: AfterCommit, runtime: BotRuntime) -> None:
        sent = await decisions.request_send(session, require_actor(group, actor), callback_data.suggestion_id,
                                     card_message_id=query.message.message_id if query.message else None)
        if sent is None:  # answered meanwhile: the prompt under the card shows that answer and asks to confirm
            _toast(after_commit, query, t("ok.confirm_below", runtime.locale), alert=True)
        else:
            _toast(after_commit, query, t("ok.sending", runtime.locale))

    @r.callback_query(CardAction.filter(F.action == "confirm"))
    async def confirm(query: CallbackQuery, callback_data: CardAction, session: AsyncSession, group, actor,
                      after_commit: AfterCommit, runtime: BotRuntime) -> None:
        prompt = (query.message.chat.id, query.message.message_id) if query.message else None
        await decisions.confirm_send(session, require_actor(group, actor), callback_data.suggestion_id, prompt=prompt)
        _toast(after_commit, query, t("ok.sending", runtime.locale))

    @r.callback_query(CardAction.filter(F.action == "edit"))
    async def edit(query: CallbackQuery, callback_data: CardAction, group, actor, after_commit: AfterCommit,
                   runtime: BotRuntime) -> None:
        # The draft was too long to pre-fill: the manager replies to the card with their version instead.
        require_actor(group, actor).require(Permission.MANAGE_CONVERSATIONS)
        _toast(after_commit, query, t("ok.edit_hint", runtime.locale), alert=True)

    @r.callback_query(CardAction.filter(F.action == "reject"))
    async def reject(query: CallbackQuery, callback_data: CardAction, session: AsyncSession, group, actor,
                     after_commit: AfterCommit, runtime: BotRuntime) -> None:
        await decisions.reject_suggestion(session, require_actor(group, actor), callback_data.suggestion_id)
        _toast(after_commit, query, t("ok.rejected", runtime.locale))

    @r.callback_query(CardAction.filter(F.action == "escalate"))
    async def escalate(query: CallbackQuery, callback_data: CardAction, session: AsyncSession, group, actor,
                       after_commit: AfterCommit, runtime: BotRuntime) -> None:
        await decisions.escalate(session, require_actor(group, actor), dialog_id=0,
                          suggestion_id=callback_data.suggestion_id)
        _toast(after_commit, query, t("ok.escalated", runtime.locale))

    @r.callback_query(RejectReason.filter())
    async def reject_reason(query: CallbackQuery, callback_data: RejectReason, session: AsyncSession, group, actor,
                            after_commit: AfterCommit, runtime: BotRuntime) -> None:
        await decisions.set_reject_reason(session, require_actor(group, actor), callback_data.suggestion_id,
                                   callback_data.reason)
        _toast(after_commit, query, t("ok.reason", runtime.locale))

    @r.callback_query(DialogAction.filter())
    async def dialog_control(query: CallbackQuery, callback_data: DialogAction, session: AsyncSession, group, actor,
                             after_commit: AfterCommit, runtime: BotRuntime) -> None:
        actor = require_actor(group, actor)
        dialog_id, action, locale = callback_data.dialog_id, callback_data.action, runtime.locale
        if action == "ai":
            dialog = await controls.set_ai_mode(session, actor, dialog_id, callback_data.value)
            text = t("ok.ai_mode", locale, mode=t(f"dialog.ai.{dialog.ai_mode.value}", locale))
        elif action == "assign":
            staff = await controls.assign(session, actor, dialog_id)
            text = t("ok.assigned", locale, name=staff.name)
        elif action == "won":
            await controls.mark_won(session, actor, dialog_id)
            text = t("ok.won", locale)
        elif action == "lost":
            await controls.mark_lost(session, actor, dialog_id)
            text = t("ok.lost", locale)
        elif action == "close":
            await controls.close_dialog(session, actor, dialog_id)
            text = t("ok.closed", locale)
        elif action == "reopen":
            await controls.reopen_dialog(session, actor, dialog_id)
            text = t("ok.reopened", locale)
        else:
            return
        _toast(after_commit, query, text)

    return r
