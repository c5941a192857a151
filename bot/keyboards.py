"""Inline buttons of the workspace and the callback data they carry (≤64 bytes each)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.services.workspace.base import REJECT_REASONS

from .texts import t

# switch_inline_query_current_chat pre-fills "@bot <query>"; an inline query is at most 256 characters.
PREFILL_MAX = 256


class CardAction(CallbackData, prefix="s"):
    action: str  # send | edit | reject | escalate | confirm (send a draft a person has answered meanwhile)
    suggestion_id: int


class RejectReason(CallbackData, prefix="rr"):
    suggestion_id: int
    reason: str


class DialogAction(CallbackData, prefix="d"):
    action: str  # ai | assign | won | lost | close | reopen
    dialog_id: int
    value: str = ""


AI_MODES = ("off", "learning", "semi_auto", "auto")


def prefill(suggestion_id: int, text: str) -> str | None:
    """What the Edit button puts into the manager's input: "#<id> <draft>", or None when it does not fit."""
    query = f"#{suggestion_id} {text}"
    return query if len(query) <= PREFILL_MAX else None


def reply_card_buttons(data: dict, locale: str = "ru") -> InlineKeyboardMarkup:
    sid = data["suggestion_id"]
    query = prefill(sid, data["text"])
    edit = (InlineKeyboardButton(text=t("btn.edit", locale), switch_inline_query_current_chat=query) if query
            else InlineKeyboardButton(text=t("btn.edit", locale),
                                      callback_data=CardAction(action="edit", suggestion_id=sid).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=t("btn.send", locale),
                              callback_data=CardAction(action="send", suggestion_id=sid).pack()), edit],
        [InlineKeyboardButton(text=t("btn.reject", locale),
                              callback_data=CardAction(action="reject", suggestion_id=sid).pack()),
         InlineKeyboardButton(text=t("btn.escalate", locale),
                              callback_data=CardAction(action="escalate", suggestion_id=sid).pack())],
    ])


def send_confirm_buttons(suggestion_id: int, locale: str = "ru") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t("btn.send_anyway", locale), callback_data=CardAction(action="confirm", suggestion_id=suggestion_id).pack())]])


def reject_reason_buttons(suggestion_id: int, locale: str = "ru") -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(text=t(f"reject.{code}", locale),
                                    callback_data=RejectReason(suggestion_id=suggestion_id, reason=code).pack())
               for code in REJECT_REASONS]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[:2], buttons[2:]])


def pinned_card_buttons(data: dict, history_url: str | None, locale: str = "ru") -> InlineKeyboardMarkup:
    dialog_id = data["dialog_id"]

    def button(action: str, text: str, value: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=DialogAction(action=action, dialog_id=dialog_id,
                                                                          value=value).pack())

    modes = [button("ai", ("• " if mode == data["ai_mode"] else "") + t("btn.ai", locale, mode=t(f"dialog.ai.{mode}", locale)),
                    mode)
             for mode in AI_MODES]
    closing = (button("reopen", t("btn.reopen", locale)) if data["status"] == "resolved" or data.get("outcome")
               else button("close", t("btn.close", locale)))
    rows = [
        modes[:2], modes[2:],
        [button("assign", t("btn.assign_me", locale)), closing],
        [button("won", t("btn.won", locale)), button("lost", t("btn.lost", locale))],
    ]
    if history_url:
        rows.append([InlineKeyboardButton(text=t("card.open_history", locale), url=history_url)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
