"""Turns the workspace's view data (core.services.workspace.views) into Telegram HTML and inline keyboards.

Customer and manager text is untrusted: everything that is not our own markup goes through `esc`, so "<b>", "&",
"*_[" and friends arrive exactly as typed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup

from core import textsplit
from core.ai import reasons
from core.ai.texts import intent_name

from . import keyboards
from .texts import has, t

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DRAFT_LIMIT = 3000  # a card keeps room for its header and footer under 4096


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def topic_link(chat_id: int, thread_id: int | None) -> str | None:
    """t.me link to a topic of a supergroup (-100XXXXXXXXXX → https://t.me/c/XXXXXXXXXX/<thread>)."""
    raw = str(chat_id)
    if not raw.startswith("-100") or not thread_id:
        return None
    return f"https://t.me/c/{raw[4:]}/{thread_id}"


def local_time(iso: str | None, timezone: str | None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    try:
        moment = moment.astimezone(ZoneInfo(timezone or "UTC"))
    except (KeyError, ValueError):
        pass
    return moment.strftime("%d.%m %H:%M")


def topic_title(name: str, marker: str, locale: str = "ru") -> str:
    return clip(f"{t(f'marker.{marker}', locale)} {name}", 128)


@dataclass
class Rendered:
    text: str
    markup: InlineKeyboardMarkup | None = None


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """A post's text in messages of at most `limit` (of the parsed text, counted as Telegram counts: UTF-16 units),
    cut as every long text is (core.textsplit). Works on plain text: callers escape each part afterwards."""
    return textsplit.split_text(text, limit, measure=textsplit.utf16_len)


# ------------------------------------------------------------------------------------------------ views


def pinned_card(data: dict, history_url: str | None, locale: str = "ru") -> Rendered:
    person = data["customer"]
    channel = data["channel"]
    channel_name = t(f"card.channel.{channel['kind']}", locale)
    if channel.get("title"):
        channel_name += f" «{esc(channel['title'])}»"
    lines = [f"👤 <b>{esc(person['name'])}</b> · {channel_name}"]
    contacts = [esc(person[k]) for k in ("phone", "email") if person.get(k)]
    if person.get("username"):
        contacts.append("@" + esc(person["username"]))
    if contacts:
        lines.append(" · ".join(contacts))
    if person.get("profile_link"):
        lines.append(esc(person["profile_link"]))
    if person.get("tags"):
        lines.append(t("card.tags", locale, tags=esc(", ".join(person["tags"]))))
    lines.append(t("card.status", locale, status=t(f"dialog.status.{data['status']}", locale),
                   ai_mode=t(f"dialog.ai.{data['ai_mode']}", locale)))
    lines.append(t("card.assignee", locale, name=esc(data["assignee"])) if data.get("assignee")
                 else t("card.no_assignee", locale))
    if data.get("outcome") == "won":
        amount = f": {esc(data['amount'])} {esc(data.get('currency') or '')}".rstrip() if data.get("amount") else ""
        lines.append(t("card.won", locale, amount=amount))
    elif data.get("outcome") == "lost":
        reason = f": {esc(data['outcome_reason'])}" if data.get("outcome_reason") else ""
        lines.append(t("card.lost", locale, reason=reason))
    if data.get("blocked"):
        lines.append(t("card.blocked", locale))
    if data.get("traffic"):
        lines.append(t("card.traffic", locale, source=esc(" / ".join(data["traffic"].values()))))
    if person.get("notes"):
        lines.append(t("card.notes", locale))
        lines.extend(f"• {esc(clip(note, 200))}" for note in person["notes"])
    if data.get("summary"):
        lines.append(t("card.summary", locale, summary=esc(clip(data["summary"], 400))))
    if data.get("history"):
        lines.append(t("card.history", locale))
        for item in data["history"]:
            key = "card.history_in" if item["direction"] == "in" else "card.history_out"
            lines.append(t(key, locale, text=esc(item["text"]) or "📎"))
    text = clip("\n".join(lines), TEXT_LIMIT)
    return Rendered(text, keyboards.pinned_card_buttons(data, history_url, locale))


def _percent(confidence: float | None) -> int:
    return round((confidence or 0) * 100)


def reply_card(data: dict, locale: str = "ru") -> Rendered:
    tz = data.get("timezone")
    state = data["state"]
    delivery = data.get("delivery") or {}
    auto = data["decision"] == "auto_send"
    # The reason in the card reader's language (stored as a code); a draft from before codes shows its text.
    reason = reasons.shown(data.get("decision_reason"), data.get("reason_code"), locale)
    if state == "failed":
        title = t("reply.ai_failed", locale, reason=esc(reason))
    elif auto:
        title = t("reply.title_auto", locale)
    elif data["decision"] == "escalate":
        title = t("reply.title_escalate", locale)
    else:
        title = t("reply.title", locale)
    lines = [title]
    if data.get("text"):
        lines.append(f"<blockquote>{esc(clip(data['text'], DRAFT_LIMIT))}</blockquote>")
    intent_text = intent_name(data["intent"], locale)  # a tenant's own intent has no text: its own name
    lines.append(t("reply.meta", locale, intent=intent_text, confidence=_percent(data["confidence"])))
    if reason and state != "failed":
        lines.append(t("reply.reason", locale, reason=esc(clip(reason, 300))))
    if data.get("sources"):
        lines.append(t("reply.sources", locale, sources=esc(", ".join(s for s in data["sources"] if s))))
    who, at = esc(data.get("decided_by") or ""), local_time(data.get("decided_at") or delivery.get("at"), tz)
    markup = None
    if state == "pending":
        if delivery.get("state") == "cancelled":
            lines.append(t("reply.auto_cancelled", locale))
        else:
            markup = keyboards.reply_card_buttons(data, locale)
    elif state in ("sent", "edited"):
        if state == "edited":
            lines.append(t("reply.final", locale))
            lines.append(f"<blockquote>{esc(clip(data.get('final_text') or '', DRAFT_LIMIT // 2))}</blockquote>")
        if delivery.get("automatic") and not data.get("decided_by"):
            status = t("reply.sent_auto", locale, at=local_time(delivery.get("at"), tz))
        else:
            status = t("reply.edited" if state == "edited" else "reply.sent", locale, who=who, at=at)
        if delivery.get("state") == "done":
            via = f"reply.via.{delivery.get('via')}"  # which way, for an account connected both ways
            status += f" · {t(via if delivery.get('via') and has(via, locale) else 'reply.delivered', locale)}"
        elif delivery.get("state") == "failed":
            reason = reason_text({"reason": delivery.get("error_code"), "detail": delivery.get("error")}, locale)
            status += "\n" + t("reply.failed", locale, reason=reason)
        elif delivery:
            status += "\n" + t("reply.delivering", locale)
        lines.append(status)
    elif state == "rejected":
        lines.append(t("reply.rejected", locale, who=who, at=at))
        if data.get("reject_reason"):
            lines.append(t("reply.rejected_reason", locale, reason=t(f"reject.{data['reject_reason']}", locale)))
        else:
            lines.append(t("reply.ask_reason", locale))
            markup = keyboards.reject_reason_buttons(data["suggestion_id"], locale)
    elif state == "escalated":
        lines.append(t("reply.escalated", locale, who=who, at=at))
    elif state == "outdated":
        answered = data.get("answered")
        if answered:  # a person answered meanwhile (the topic, another card, the shop's own account)
            key = "reply.auto_cancelled_answered" if delivery.get("state") == "cancelled" else "reply.outdated_answered"
            lines.append(t(key, locale, who=answered_by(answered, locale), at=local_time(answered.get("at"), tz)))
            lines.extend(_answer_lines(answered, locale))
        else:
            lines.append(t("reply.outdated", locale))
    return Rendered(clip("\n".join(lines), TEXT_LIMIT), markup)


def answered_by(answered: dict, locale: str = "ru") -> str:
    """Who answered the customer: a staff member's name, or the shop's own account on its channel."""
    if answered.get("who"):
        return esc(answered["who"])
    kind = answered.get("channel_kind") or ""
    key = f"card.channel.{kind}"
    channel = t(key, locale) if has(key, locale) else ("VK" if kind.startswith("vk") else "Telegram")
    return t("reply.own_account", locale, channel=channel)


def _answer_lines(answered: dict, locale: str) -> list[str]:
    lines = []
    if answered.get("text"):
        lines.append(f"<blockquote>{esc(clip(answered['text'], DRAFT_LIMIT // 3))}</blockquote>")
    if answered.get("media"):
        lines.append(t("reply.answer_media", locale))
    return lines


def send_confirm(data: dict, locale: str = "ru") -> Rendered:
    """Send pressed on a draft a person has answered meanwhile: what the customer got, and a second tap to send the
    draft as well; once handled, what became of it (no button)."""
    tz, answered = data.get("timezone"), data.get("answered") or {}
    lines = [t("reply.confirm", locale, who=answered_by(answered, locale), at=local_time(answered.get("at"), tz)),
             *_answer_lines(answered, locale)]
    markup = None
    if data["state"] == "outdated":
        lines.append(t("reply.confirm_ask", locale))
        markup = keyboards.send_confirm_buttons(data["suggestion_id"], locale)
    elif data["state"] in ("sent", "edited"):
        lines.append(t("reply.confirmed", locale, who=esc(data.get("decided_by") or ""),
                       at=local_time(data.get("decided_at"), tz)))
    else:
        lines.append(t("reply.confirm_closed", locale))
    return Rendered(clip("\n".join(lines), TEXT_LIMIT), markup)


def message_text(message: dict, locale: str = "ru") -> str:
    """One mirrored message as plain text (escaped later, part by part)."""
    if message.get("deleted"):
        return t("mirror.deleted", locale)
    text = message.get("text") or ""
    if message["direction"] == "out":
        return t("mirror.out", locale, text=text)
    return text


def missing_attachment(att: dict, locale: str = "ru") -> str:
    name = f" «{att['file_name']}»" if att.get("file_name") else ""
    error = f": {att['error']}" if att.get("error") else ""
    return t("mirror.attachment_missing", locale, kind=t(f"kind.{att['kind']}", locale), name=name, error=error)


def mirror_change(data: dict, locale: str = "ru") -> Rendered:
    if data["change"] == "delete":
        old = f": «{esc(clip(data.get('old_text') or '', 500))}»" if data.get("old_text") else ""
        return Rendered(t("mirror.delete", locale, old=old))
    return Rendered(t("mirror.edit", locale, old=esc(clip(data.get("old_text") or "", 1500)),
                      new=esc(clip(data.get("new_text") or "", 2000))))


def reason_text(params: dict, locale: str = "ru") -> str:
    """Why a delivery failed, in words; the channel's own message follows unless the words say it all."""
    code = params.get("reason") or "error"
    key = f"reason.{code}"
    text = t(key if has(key, locale) else "reason.error", locale)
    detail = params.get("detail")
    return text if code == "blocked" or not detail else f"{text} ({esc(clip(detail, 200))})"


def notice(data: dict, locale: str = "ru") -> Rendered:
    key, raw = data["key"], dict(data.get("params") or {})
    params = {k: esc(v) if isinstance(v, str) else v for k, v in raw.items()}
    if key == "group_missing":
        params["missing"] = "; ".join(t(f"missing.{m}", locale) for m in raw.get("missing", []))
    if key in ("delivery_failed", "edit_failed", "delete_failed"):
        params["reason_text"] = reason_text(raw, locale)
    return Rendered(t(f"notice.{key}", locale, **params) if params else t(f"notice.{key}", locale))


def inbox(data: dict, locale: str = "ru") -> Rendered:
    items, timezone = data["items"], data.get("timezone")
    if not items:
        return Rendered(t("inbox.empty", locale))
    lines = [t("inbox.title", locale, count=len(items))]
    for n, item in enumerate(items, 1):
        link = topic_link(item["chat_id"], item["thread_id"]) if item.get("chat_id") else None
        name = f'<a href="{link}">{esc(item["name"])}</a>' if link else esc(item["name"])
        lines.append(t("inbox.item", locale, n=n, name=name, unread=item["unread"],
                       since=local_time(item.get("since"), timezone)))
    return Rendered(clip("\n".join(lines), TEXT_LIMIT))


def escalation(data: dict, locale: str = "ru") -> Rendered:
    reason = data.get("reason") or ""
    reason_key = f"escalation.reason.{reason}"
    reason_shown = t(reason_key, locale) if has(reason_key, locale) else \
        esc(reasons.shown(reason, data.get("reason_code"), locale))
    lines = [t("escalation.title", locale, customer=esc(data["customer"])),
             t("escalation.reason", locale, reason=reason_shown)]
    if data.get("summary"):
        lines.append(t("escalation.summary", locale, summary=esc(clip(data["summary"], 800))))
    if data.get("proposed_answer"):
        lines.append(t("escalation.proposed", locale, text=esc(clip(data["proposed_answer"], 1500))))
    if data.get("to_clarify"):
        clarify = reasons.shown(data["to_clarify"], data.get("to_clarify_code"), locale)
        lines.append(t("escalation.clarify", locale, text=esc(clip(clarify, 500))))
    lines.append(t("escalation.by", locale, who=esc(data["by"])) if data.get("by") else t("escalation.by_ai", locale))
    topic = data.get("topic")
    if topic and (link := topic_link(topic["chat_id"], topic["thread_id"])):
        lines.append(f'<a href="{link}">{t("escalation.open", locale)}</a>')
    return Rendered(clip("\n".join(lines), TEXT_LIMIT))


def error_text(code: str | None, params: dict | None = None, message: str = "", locale: str = "ru") -> str:
    """A refusal in words: a WorkspaceError code names `error.<code>`, a core UserError's code is a full key
    (`tenants.error.not_found`); anything else shows its English message inside `error.generic`."""
    key = code if code and "." in code else f"error.{code}"
    if code and has(key, locale):
        return t(key, locale, **(params or {}))
    return t("error.generic", locale, message=message)
