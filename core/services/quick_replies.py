"""Quick replies: named texts with media from the library, per tenant, edited in the Mini App and inserted from a
dialog's topic.

`/q <words>` in a topic looks the words up in the names (an exact name wins) and texts. One match: a preview is
posted in the topic — the text and the files exactly as the customer will get them — with Send and Cancel. Several:
a numbered list with a button per reply; a button posts that reply's preview. None: the refusal says so.

Send hands the preview's text and files to the customer through the dialog's channel as a manager's reply
(core.services.workspace.replies.manager_reply: the outbox, the channel gateway); the preview message is what the send
answers in the topic, so it gets 👍 once delivered. Files go with what the channel already holds of them
(core.services.media_library.outgoing): a VK attachment uploaded once per community or account, the bot's Telegram
file id. Every post is an outbox command of kind QUICK_POST into the topic ({topic_id, view "keyed", data, reply_to});
what became of a preview is an event ("quick_reply_decided") read under the dialog lock, so a button pressed twice
acts once.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..db import lock_dialog
from ..models import ChannelAccount, DialogTopic, Event, ManagerGroup, MediaItem, OutboxCommand, QuickReply
from ..permissions import Permission
from . import media_library
from .workspace import base as ws_base
from .workspace import controls, replies, topics
from .workspace.group_commands import TopicPost
from .media_library import MediaError, like

QUICK_POST = "quick_reply_post"  # a post of this area into a dialog's topic (outbox command kind)
DECIDED = "quick_reply_decided"
NAME_MAX = 100
TEXT_MAX = 4000  # one message in either channel (Telegram 4096, VK 4096)
MEDIA_MAX = 10  # VK: at most 10 attachments in one message
CHOICES = 8  # buttons a list offers at most
PREVIEW_TEXT = 3000  # of the text, shown in the preview (the whole text is sent)
KIND_ICONS = {"photo": "🖼", "video": "🎬", "voice": "🎙", "document": "📄"}


class QuickReplyPost(TopicPost):
    """QUICK_POST: a quick reply's preview or a note of this area in the dialog's topic (registered by
    bot/component.py)."""

    name = QUICK_POST


class QuickReplyError(ws_base.WorkspaceError):
    """A refusal shown to the manager or in the Mini App; `code` is a full key (media.quick.error.*)."""

    def __init__(self, reason: str, message: str, **params):
        super().__init__(f"media.quick.error.{reason}", message, **params)


# ------------------------------------------------------------------------------------------ the Mini App


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise QuickReplyError("no_name", "give the quick reply a name")
    if len(name) > NAME_MAX:
        raise QuickReplyError("name_too_long", "the name is too long", limit=NAME_MAX)
    return name


async def _items(session: AsyncSession, tenant_id: int, ids: list[int]) -> list[MediaItem]:
    """The library items of these ids, in this order; any that is not this tenant's is refused."""
    if not ids:
        return []
    found = {i.id: i for i in (await session.execute(
        select(MediaItem).where(MediaItem.tenant_id == tenant_id, MediaItem.id.in_(ids))
    )).scalars()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise MediaError("unknown", "no such file in the library", id=missing[0])
    return [found[i] for i in ids]


def _media_ids(raw) -> list[int]:
    try:
        ids = [int(x) for x in (raw or [])]
    except (TypeError, ValueError):
        raise QuickReplyError("bad_media", "media must be library file ids") from None
    unique = list(dict.fromkeys(ids))
    if len(unique) > MEDIA_MAX:
        raise QuickReplyError("too_many_media", "too many files for one message", limit=MEDIA_MAX)
    return unique


async def get_reply(session: AsyncSession, tenant_id: int, reply_id: int) -> QuickReply:
    reply = await session.get(QuickReply, reply_id)
    if reply is None or reply.tenant_id != tenant_id:
        raise QuickReplyError("unknown", "no such quick reply")
    return reply


async def save_reply(session: AsyncSession, tenant_id: int, *, name: str | None, text: str | None, media_item_ids=None,
                     reply_id: int | None = None, staff_id: int | None = None) -> QuickReply:
    """Create or change a quick reply. A name is unique per tenant (case aside); a reply has a text, files or both."""
    name = _clean_name(name)
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise QuickReplyError("text_too_long", "the text is too long for one message", limit=TEXT_MAX)
    ids = _media_ids(media_item_ids)
    await _items(session, tenant_id, ids)
    if not text and not ids:
        raise QuickReplyError("empty", "a quick reply needs a text or a file")
    taken = select(QuickReply.id).where(QuickReply.tenant_id == tenant_id, func.lower(QuickReply.name) == name.lower())
    if reply_id is not None:
        taken = taken.where(QuickReply.id != reply_id)
    if (await session.execute(taken.limit(1))).first() is not None:
        raise QuickReplyError("name_taken", "a quick reply with this name exists", name=name)
    if reply_id is None:
        reply = QuickReply(tenant_id=tenant_id, name=name, text=text, media_item_ids=ids, created_by_id=staff_id)
        session.add(reply)
        await session.flush()
    else:
        reply = await get_reply(session, tenant_id, reply_id)
        reply.name, reply.text, reply.media_item_ids = name, text, ids
    events.record(session, "quick_reply_saved", tenant_id=tenant_id, actor_staff_id=staff_id, quick_reply_id=reply.id,
                  created=reply_id is None)
    return reply


async def delete_reply(session: AsyncSession, tenant_id: int, reply_id: int, *, staff_id: int | None = None) -> None:
    reply = await get_reply(session, tenant_id, reply_id)
    await session.delete(reply)
    events.record(session, "quick_reply_deleted", tenant_id=tenant_id, actor_staff_id=staff_id,
                  quick_reply_id=reply_id, name=reply.name)


async def list_replies(session: AsyncSession, tenant_id: int, query: str = "") -> list[QuickReply]:
    return await search(session, tenant_id, query, limit=500)


async def search(session: AsyncSession, tenant_id: int, words: str, *, limit: int = CHOICES + 1) -> list[QuickReply]:
    """Replies whose name is `words` (case aside) — that one alone — or whose name or text holds every word."""
    words = " ".join((words or "").split())
    base = select(QuickReply).where(QuickReply.tenant_id == tenant_id)
    if words:
        exact = (await session.execute(
            base.where(func.lower(QuickReply.name) == words.lower()).limit(1))).scalar_one_or_none()
        if exact is not None:
            return [exact]
    statement = base
    for word in words.lower().split()[:8]:
        statement = statement.where(or_(QuickReply.name.ilike(like(word), escape="\\"),
                                        QuickReply.text.ilike(like(word), escape="\\")))
    return list((await session.execute(statement.order_by(func.lower(QuickReply.name)).limit(limit))).scalars())


def reply_row(reply: QuickReply) -> dict:
    return {"id": reply.id, "name": reply.name, "text": reply.text, "media_item_ids": list(reply.media_item_ids or []),
            "updated_at": reply.updated_at.isoformat() if reply.updated_at else None}


# ------------------------------------------------------------------------------------------------ the topic


async def _post(session: AsyncSession, topic: DialogTopic, group: ManagerGroup, *, key: str, text_key: str,
                params: dict, reply_to: int | None) -> OutboxCommand:
    return await outbox.enqueue(
        session, kind=QUICK_POST, destination=outbox.tg_group(group.chat_id), idempotency_key=key,
        tenant_id=group.tenant_id, dialog_id=topic.dialog_id,
        payload={"topic_id": topic.id, "view": "keyed", "data": {"key": text_key, "params": params, "buttons": []},
                 "reply_to": reply_to},
    )


def _set_buttons(command: OutboxCommand, buttons: list[list[dict]], **extra) -> None:
    data = dict(command.payload["data"])
    data["buttons"] = buttons
    command.payload = {**command.payload, "data": data, **extra}


async def _preview(session: AsyncSession, actor: ws_base.Actor, topic: DialogTopic, group: ManagerGroup,
                   reply: QuickReply, *, key: str, reply_to: int | None) -> OutboxCommand:
    items = await _items(session, actor.tenant_id, list(reply.media_item_ids or []))
    text = reply.text if len(reply.text) <= PREVIEW_TEXT else reply.text[:PREVIEW_TEXT] + "…"
    params = {"name": reply.name, "text": text or "—"}
    text_key = "media.quick.preview"
    if items:
        text_key = "media.quick.preview_files"
        params["files"] = ", ".join(f"{KIND_ICONS.get(i.kind.value, '📎')} {i.title}" for i in items)
    command = await _post(session, topic, group, key=key, text_key=text_key, params=params, reply_to=reply_to)
    if "quick" not in command.payload:  # a repeated update finds the post it made the first time
        _set_buttons(command, [[{"key": "media.quick.button.send", "data": f"qr:s:{command.id}"},
                                {"key": "media.quick.button.cancel", "data": f"qr:c:{command.id}"}]],
                     quick={"reply_id": reply.id, "name": reply.name, "text": reply.text,
                            "media_item_ids": [i.id for i in items], "staff_id": actor.staff_id})
        events.record(session, "quick_reply_previewed", tenant_id=actor.tenant_id, dialog_id=topic.dialog_id,
                      actor_staff_id=actor.staff_id, command_id=command.id, quick_reply_id=reply.id)
    return command


async def request(session: AsyncSession, actor: ws_base.Actor, group: ManagerGroup, *, thread_id: int | None,
                  telegram_message_id: int, words: str) -> OutboxCommand:
    """`/q <words>` in a dialog's topic: a preview of the one reply that matches, or a list to choose from."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    await controls.dialog_in_group(session, actor, group, thread_id)
    topic = await topics.topic_by_thread(session, group, thread_id)
    found = await search(session, actor.tenant_id, words)
    if not found:
        any_reply = select(QuickReply.id).where(QuickReply.tenant_id == actor.tenant_id).limit(1)
        if (await session.execute(any_reply)).first():
            raise QuickReplyError("none", "no quick reply matches these words", words=words or "—")
        raise QuickReplyError("no_replies", "there are no quick replies yet: add them in the Mini App")
    key = f"quick:{group.chat_id}:{telegram_message_id}"
    if len(found) == 1:
        return await _preview(session, actor, topic, group, found[0], key=key, reply_to=telegram_message_id)
    shown = found[:CHOICES]
    lines = "\n".join(f"{n}. {r.name}" for n, r in enumerate(shown, 1))
    command = await _post(session, topic, group, key=key, reply_to=telegram_message_id,
                          text_key="media.quick.choose_more" if len(found) > CHOICES else "media.quick.choose",
                          params={"words": words or "—", "list": lines})
    if "choices" not in command.payload:
        buttons = [{"key": f"media.quick.button.{n}", "data": f"qr:p:{command.id}:{r.id}"}
                   for n, r in enumerate(shown, 1)]
        _set_buttons(command, [buttons[:4], buttons[4:]] if len(buttons) > 4 else [buttons],
                     choices=[r.id for r in shown])
    return command


async def _own_post(session: AsyncSession, actor: ws_base.Actor, group: ManagerGroup, command_id: int,
                    what: str) -> OutboxCommand:
    command = await session.get(OutboxCommand, command_id)
    if command is None or command.kind != QUICK_POST or command.tenant_id != actor.tenant_id \
            or command.destination != outbox.tg_group(group.chat_id) or what not in (command.payload or {}):
        raise QuickReplyError("unknown_post", "this quick reply message is not known")
    await lock_dialog(session, command.dialog_id)  # the lock order (core.db): the dialog row first
    return command


async def pick(session: AsyncSession, actor: ws_base.Actor, group: ManagerGroup, list_id: int, reply_id: int, *,
               list_message_id: int | None) -> OutboxCommand:
    """A button of a list: that reply's preview, under the list."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    command = await _own_post(session, actor, group, list_id, "choices")
    if reply_id not in command.payload["choices"]:
        raise QuickReplyError("unknown", "no such quick reply")
    reply = await get_reply(session, actor.tenant_id, reply_id)
    topic = await session.get(DialogTopic, command.payload["topic_id"])
    return await _preview(session, actor, topic, group, reply, key=f"quick-pick:{list_id}:{reply_id}",
                          reply_to=list_message_id)


async def decide(session: AsyncSession, actor: ws_base.Actor, group: ManagerGroup, preview_id: int, action: str, *,
                 preview_message_id: int) -> str:
    """Send or Cancel on a preview; returns "sent" or "cancelled". Send: the text and files of the preview go to the
    customer through the dialog's channel, as the manager's reply to the preview message."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    decision = {"s": "sent", "c": "cancelled"}.get(action)
    if decision is None:
        raise QuickReplyError("unknown_post", "unknown quick reply action")
    command = await _own_post(session, actor, group, preview_id, "quick")
    done = (await session.execute(
        select(Event).where(Event.kind == DECIDED, Event.command_id == preview_id).limit(1)
    )).scalar_one_or_none()
    if done is not None:
        raise QuickReplyError(f"already_{done.payload.get('decision', 'sent')}", "this quick reply was dealt with")
    quick = command.payload["quick"]
    topic = await session.get(DialogTopic, command.payload["topic_id"])
    events.record(session, DECIDED, tenant_id=actor.tenant_id, dialog_id=topic.dialog_id, command_id=preview_id,
                  actor_staff_id=actor.staff_id, decision=decision, quick_reply_id=quick["reply_id"])
    if decision == "cancelled":
        return decision
    dialog = await controls.dialog_in_group(session, actor, group, topic.thread_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    items = await _items(session, actor.tenant_id, list(quick["media_item_ids"]))
    await replies.manager_reply(session, actor, group, thread_id=topic.thread_id, telegram_message_id=preview_message_id,
                           text=quick["text"], media=await media_library.outgoing(session, items, channel))
    events.record(session, "quick_reply_sent", tenant_id=actor.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, quick_reply_id=quick["reply_id"], media=len(items))
    return decision
