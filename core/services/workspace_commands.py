"""How each workspace command is executed: `prepare` turns claimed outbox rows into one call on the ManagerSurface
(bot/) or a ChannelGateway (userbots/), reading the current state at execution time (so a card shows what is
true when it is posted), and `record` writes back what Telegram or the channel answered (topic ids, message
mapping, delivered customer messages, blocked customers).

Surface calls (kind → payload) that bot/surface.py implements:
  create_topic {chat_id, name, marker}                      → extra.thread_id
  edit_topic   {chat_id, thread_id, name, marker}
  post         {chat_id, thread_id, topic, view, data, reply_to}  → extra.message_ids (topic: {name, marker} lets the
               surface recreate a deleted topic or reopen a closed one, then resend; extra.thread_id/recreated/reopened)
  edit         {chat_id, message_id, view, data}             → extra.missing when the message is gone
  pin          {chat_id, message_id}
  react        {chat_id, message_id, emoji}
  ban          {chat_id, user_id}
  unban        {chat_id, user_id, only_if_banned}
Every answer may carry extra.api_calls (Telegram messages it took, for the rate budget).

Gateway calls: send_customer_message → ChannelGateway.send; edit_customer_message and delete_customer_message
(core.services.sent_replies) → ChannelGateway.edit / .delete with the ids the send was delivered as.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..i18n import t
from ..models import (
    Attachment,
    AuthorKind,
    CommandOrigin,
    CommandState,
    Customer,
    Dialog,
    DialogStatus,
    DialogTopic,
    Direction,
    Escalation,
    ManagerGroup,
    Message,
    MessageEdit,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    TopicMessage,
    TopicMessageKind,
)
from ..media import MediaStore
from ..ports import Delivery, DeliveryError
from . import sent_replies
from . import workspace as ws
from . import workspace_views as views
from .workspace import Kind, Marker

log = logging.getLogger(__name__)

MAX_COALESCED = 50
# Refusals in a manager group that people can fix (WorkspaceCommands.hold): never "failed for good".
GROUP_REFUSALS = frozenset({"rights", "not_forum", "kicked", "chat_gone"})
GROUP_DESTINATION = outbox.tg_group(0)[:-1]  # "tg:group:"
MAX_ALBUM = 10  # sendMediaGroup takes 2–10 items


@dataclass(frozen=True)
class Call:
    via: str  # "surface" | "gateway"
    kind: str
    payload: dict
    channel_id: int | None = None
    chat_id: str | None = None
    idempotency_key: str | None = None


def channel_id_of(destination: str) -> int | None:
    if destination.startswith("channel:"):
        return int(destination.split(":", 1)[1])
    return None


class CommandKind(Protocol):
    """An outbox kind another area defines (e.g. core.services.reports.ReportCommand), registered explicitly with
    WorkspaceCommands.register: its prepare, record and record_failure are called for commands of that kind."""

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None: ...

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime) -> None: ...

    async def record_failure(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError, *,
                             retrying: bool) -> None: ...


class WorkspaceCommands:
    def __init__(self, media_root: Path):
        self.media_root = media_root
        self.kinds: dict[str, CommandKind] = {}

    def register(self, kind: str, definition: CommandKind) -> None:
        self.kinds[kind] = definition

    # ---------------------------------------------------------------------------------------- coalescing

    def counts_as_message(self, kind: str) -> bool:
        """Whether a command needs a token of its destination's budget (pins, reactions and bans are no messages)."""
        return kind not in ws.NOT_GROUP_MESSAGES

    def coalesces(self, batch: list[OutboxCommand], follower: OutboxCommand) -> bool:
        """Whether `follower`, next in the same dialog lane, can ride along in the same Telegram call as `batch`:
        a backlog of text messages becomes one post, the parts of an album one sendMediaGroup, repeated refreshes of
        the same card or title one edit."""
        head = batch[0]
        if follower.kind != head.kind:
            return False
        if head.kind == Kind.MIRROR:
            if head.payload.get("media_group_id"):
                return (follower.payload.get("media_group_id") == head.payload["media_group_id"]
                        and len(batch) < MAX_ALBUM)
            if head.payload.get("media") or follower.payload.get("media"):
                return False
            total = sum(c.payload.get("length", 0) + 2 for c in batch) + follower.payload.get("length", 0)
            return total <= ws.MIRROR_TEXT_BUDGET and len(batch) < MAX_COALESCED
        if head.kind in (Kind.EDIT_TOPIC, Kind.EDIT_PINNED_CARD):
            return follower.payload.get("topic_id") == head.payload.get("topic_id")
        if head.kind == Kind.EDIT_REPLY_CARD:
            return follower.payload.get("suggestion_id") == head.payload.get("suggestion_id")
        return False

    # -------------------------------------------------------------------------------------------- prepare

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None:
        """The call to make, or None when there is nothing to do any more (the command completes as skipped)."""
        head = commands[0]
        if head.kind in self.kinds:
            return await self.kinds[head.kind].prepare(session, commands)
        method = getattr(self, f"_prepare_{head.kind}", None)
        if method is None:
            # A kind from another area: its payload is already what the surface or gateway expects.
            if head.destination.startswith("channel:"):
                return Call("gateway", head.kind, head.payload, channel_id=channel_id_of(head.destination),
                            chat_id=str(head.payload.get("chat_id")), idempotency_key=head.idempotency_key)
            if head.payload.get("topic_id") and head.payload.get("view"):
                return await self._area_post(session, head)
            return Call("surface", head.kind, head.payload)
        return await method(session, commands)

    async def _topic(self, session: AsyncSession, command: OutboxCommand) -> tuple[DialogTopic, ManagerGroup]:
        topic = await session.get(DialogTopic, command.payload["topic_id"])
        return topic, await session.get(ManagerGroup, topic.manager_group_id)

    @staticmethod
    def _topic_info(topic: DialogTopic) -> dict:
        return {"name": topic.title, "marker": topic.status_marker}

    async def _post(self, session: AsyncSession, command: OutboxCommand, view: str, data: dict,
                    reply_to: int | None = None) -> Call:
        topic, group = await self._topic(session, command)
        return Call("surface", "post", {
            "chat_id": group.chat_id, "thread_id": topic.thread_id, "topic": self._topic_info(topic),
            "view": view, "data": data, "reply_to": reply_to,
        })

    async def _area_post(self, session: AsyncSession, command: OutboxCommand) -> Call:
        """A post of another area into a dialog's topic ({topic_id, view, data, reply_to | reply_to_message}, e.g.
        core.services.voice): the topic as it is now, replying to the post of a customer's message when one is named,
        a stored file (data.storage_key) given by its path in the media store."""
        p = command.payload
        topic, _ = await self._topic(session, command)
        reply_to = p.get("reply_to")
        if reply_to is None and p.get("reply_to_message"):
            reply_to = await self._mirror_of(session, topic, p["reply_to_message"])
        data = dict(p.get("data") or {})
        if data.get("storage_key"):
            data["path"] = str(MediaStore(self.media_root).path_of(data["storage_key"]))
        return await self._post(session, command, p["view"], data, reply_to=reply_to)

    async def _prepare_create_topic(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.thread_id is not None:
            return None  # a post already had to create it
        return Call("surface", "create_topic",
                    {"chat_id": group.chat_id, "name": topic.title, "marker": topic.status_marker})

    async def _prepare_edit_topic(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.thread_id is None:
            return None  # the topic will be created with the current marker
        return Call("surface", "edit_topic", {"chat_id": group.chat_id, "thread_id": topic.thread_id,
                                              "name": topic.title, "marker": topic.status_marker,
                                              "topic": self._topic_info(topic)})

    async def _prepare_post_pinned_card(self, session, commands):
        topic, _ = await self._topic(session, commands[0])
        return await self._post(session, commands[0], "pinned_card", await views.pinned_card(session, topic))

    async def _prepare_pin_card(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.pinned_message_id is None:
            return None
        return Call("surface", "pin", {"chat_id": group.chat_id, "message_id": topic.pinned_message_id})

    async def _prepare_edit_pinned_card(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.pinned_message_id is None:
            return None  # not posted yet: it will show the current data when it is
        return Call("surface", "edit", {"chat_id": group.chat_id, "message_id": topic.pinned_message_id,
                                        "view": "pinned_card", "data": await views.pinned_card(session, topic)})

    async def _prepare_mirror_message(self, session, commands):
        ids = [c.payload["message_id"] for c in commands]
        messages = await views.mirror_messages(session, ids, self.media_root)
        if not messages:
            return None
        return await self._post(session, commands[0], "mirror", {"messages": messages})

    async def _mirror_of(self, session: AsyncSession, topic: DialogTopic, message_id: int) -> int | None:
        """The topic post showing a message: its own, or the coalesced post that carried it (the latest mirror post
        of an earlier-or-same message, since posts keep message order)."""
        return (await session.execute(
            select(TopicMessage.telegram_message_id)
            .where(TopicMessage.dialog_topic_id == topic.id, TopicMessage.kind == TopicMessageKind.MIRROR,
                   TopicMessage.message_id <= message_id)
            .order_by(TopicMessage.message_id.desc(), TopicMessage.id.desc()).limit(1)
        )).scalar_one_or_none()

    async def _prepare_mirror_change(self, session, commands):
        command = commands[0]
        topic, _ = await self._topic(session, command)
        reply_to = await self._mirror_of(session, topic, command.payload["message_id"])
        data = {k: command.payload.get(k) for k in ("change", "old_text", "new_text")}
        return await self._post(session, command, "mirror_change", data, reply_to=reply_to)

    async def _prepare_post_reply_card(self, session, commands):
        suggestion = await session.get(Suggestion, commands[0].payload["suggestion_id"])
        if suggestion is None or suggestion.state == SuggestionState.OUTDATED:
            return None
        return await self._post(session, commands[0], "reply_card", await views.reply_card(session, suggestion))

    async def _card_message(self, session: AsyncSession, suggestion_id: int) -> TopicMessage | None:
        return (await session.execute(
            select(TopicMessage).where(TopicMessage.suggestion_id == suggestion_id,
                                       TopicMessage.kind == TopicMessageKind.REPLY_CARD)
            .order_by(TopicMessage.id.desc()).limit(1)
        )).scalar_one_or_none()

    async def _prepare_edit_reply_card(self, session, commands):
        suggestion = await session.get(Suggestion, commands[0].payload["suggestion_id"])
        card = await self._card_message(session, suggestion.id) if suggestion else None
        if card is None:
            return None
        _, group = await self._topic(session, commands[0])
        return Call("surface", "edit", {"chat_id": group.chat_id, "message_id": card.telegram_message_id,
                                        "view": "reply_card", "data": await self._reply_card(session, suggestion)})

    @staticmethod
    async def _reply_card(session: AsyncSession, suggestion: Suggestion) -> dict:
        """A card's data; an outdated one says what the customer got instead when a person's answer outdated it."""
        data = await views.reply_card(session, suggestion)
        data["answered"] = await ws.outdating_answer(session, suggestion)
        return data

    async def _send_confirm_data(self, session: AsyncSession, suggestion: Suggestion) -> dict:
        card = await self._reply_card(session, suggestion)
        return {k: card.get(k) for k in ("suggestion_id", "state", "text", "answered", "decided_by", "decided_at",
                                         "timezone")}

    async def _prepare_post_send_confirm(self, session, commands):
        """Send pressed on a card a person's answer made outdated: the prompt with what the customer got and the
        confirm button, replying to the card — unless the draft was handled meanwhile."""
        command = commands[0]
        suggestion = await session.get(Suggestion, command.payload["suggestion_id"])
        if suggestion is None or suggestion.state != SuggestionState.OUTDATED:
            return None
        return await self._post(session, command, "send_confirm", await self._send_confirm_data(session, suggestion),
                                reply_to=command.payload.get("reply_to"))

    async def _prepare_edit_send_confirm(self, session, commands):
        p = commands[0].payload
        suggestion = await session.get(Suggestion, p["suggestion_id"])
        if suggestion is None:
            return None
        return Call("surface", "edit", {"chat_id": p["chat_id"], "message_id": p["message_id"], "view": "send_confirm",
                                        "data": await self._send_confirm_data(session, suggestion)})

    async def _prepare_post_notice(self, session, commands):
        p = commands[0].payload
        thread_id, topic_info = p.get("thread_id"), None
        if p.get("topic_id"):
            topic = await session.get(DialogTopic, p["topic_id"])
            thread_id, topic_info = topic.thread_id, self._topic_info(topic)
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": thread_id, "topic": topic_info,
                                        "view": "notice", "data": {"key": p["key"], "params": p.get("params", {})},
                                        "reply_to": p.get("reply_to")})

    async def _prepare_post_group_alert(self, session, commands):
        """A group broke or works again (core.services.workspace, groups that cannot work): in its General topic in the
        bot's language, or in a person's private chat in theirs (the text made here, the surface only shows it)."""
        p = commands[0].payload
        data = {"key": p["key"], "params": p.get("params") or {}}
        if p.get("locale"):
            data = {"key": "groups.text", "params": {"text": t(p["key"], p["locale"], **data["params"])}}
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": None, "topic": None, "view": "keyed",
                                        "data": data, "reply_to": None})

    async def _prepare_post_inbox(self, session, commands):
        p = commands[0].payload
        items = await ws.unanswered(session, p["tenant_id"])
        data = {"items": items, "timezone": await views.tenant_timezone(session, p["tenant_id"])}
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": p.get("thread_id"), "topic": None,
                                        "view": "inbox", "data": data, "reply_to": p.get("reply_to")})

    async def _prepare_react(self, session, commands):
        return Call("surface", "react", dict(commands[0].payload))

    async def _prepare_ban_member(self, session, commands):
        return Call("surface", "ban", dict(commands[0].payload))

    async def _prepare_unban_member(self, session, commands):
        command = commands[0]
        p = command.payload
        # Commands without a dialog share no lane: a ban of the same person still in flight in this group (removed and
        # invited again at once) must land first, or it would undo the unban. Tried again shortly, nobody is told.
        earlier_ban = (await session.execute(
            select(OutboxCommand.id).where(
                OutboxCommand.kind == Kind.BAN, OutboxCommand.destination == command.destination,
                OutboxCommand.id < command.id, OutboxCommand.state == CommandState.IN_FLIGHT,
                OutboxCommand.payload["user_id"].as_integer() == int(p["user_id"])).limit(1)
        )).first()
        if earlier_ban is not None:
            raise DeliveryError("an earlier ban of this person is still in flight", code="transient")
        return Call("surface", "unban", {"only_if_banned": True, **p})

    async def _prepare_notify_escalation(self, session, commands):
        p = commands[0].payload
        escalation = await session.get(Escalation, p["escalation_id"])
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": None, "topic": None,
                                        "view": "escalation", "data": await views.escalation_card(session, escalation),
                                        "reply_to": None})

    async def _prepare_send_customer_message(self, session, commands):
        command = commands[0]
        p = command.payload
        if command.origin == CommandOrigin.AI and p.get("staff_id") is None and command.suggestion_id:
            suggestion = await session.get(Suggestion, command.suggestion_id)
            if suggestion is not None and suggestion.state == SuggestionState.OUTDATED:
                return None  # an automatic reply to a question the customer has moved on from
        chat_id = p.get("chat_id")
        if chat_id is None:  # the AI pipeline names the dialog only
            chat_id = (await session.get(Dialog, p["dialog_id"])).external_chat_id
        return Call("gateway", Kind.SEND_CUSTOMER, {**p, "chat_id": str(chat_id)},
                    channel_id=channel_id_of(command.destination), chat_id=str(chat_id),
                    idempotency_key=command.idempotency_key)

    async def _prepare_edit_customer_message(self, session, commands):
        command = commands[0]
        p = command.payload
        send = await session.get(OutboxCommand, p["send_command_id"])
        if send is None or send.state != CommandState.DONE:
            return None  # the reply never reached the customer (that failure was shown): nothing to correct
        applied = p.get("applied")
        if applied is None:  # a retried command applied it already
            applied = await self._apply_edit(session, send, p["text"])
            command.payload = {**p, "applied": applied}
        return Call("gateway", sent_replies.EDIT_CUSTOMER,
                    {"external_ids": _delivered_ids(send, text_only=True), "text": p["text"],
                     "previous_text": applied["old_text"], "delivered": dict(send.result or {})},
                    channel_id=channel_id_of(command.destination), chat_id=str(p["chat_id"]),
                    idempotency_key=command.idempotency_key)

    async def _apply_edit(self, session: AsyncSession, send: OutboxCommand, text: str) -> dict:
        """Our copy of the reply takes the new text just before the channel is asked, because the channel reports
        our own edit back (VK long poll, Telegram updates) and that echo must find nothing new — else it would look
        like an edit by the customer. A permanent failure puts the old text back (_edit_failed)."""
        message = await sent_replies.sent_message(session, send)
        if message is None:
            return {"old_text": send.payload.get("text") or ""}
        applied = {"old_text": message.text, "message_id": message.id,
                   "old_edited_at": message.edited_at.isoformat() if message.edited_at else None}
        if message.text == text:
            return applied
        now = datetime.now(UTC)
        edit = MessageEdit(message_id=message.id, old_text=message.text, new_text=text, edited_at=now)
        session.add(edit)
        await session.flush()
        message.text, message.edited_at, message.edit_count = text, now, message.edit_count + 1
        return {**applied, "edit_id": edit.id}

    async def _prepare_delete_customer_message(self, session, commands):
        command = commands[0]
        p = command.payload
        send = await session.get(OutboxCommand, p["send_command_id"])
        if send is None or send.state != CommandState.DONE:
            return None
        if "applied" not in p:
            # Marked before the call, as with edits: the channel's report of our own deletion then changes nothing.
            message = await sent_replies.sent_message(session, send)
            applied = {}
            if message is not None and message.deleted_at is None:
                message.deleted_at = datetime.now(UTC)
                applied = {"message_id": message.id}
            command.payload = {**p, "applied": applied}
        return Call("gateway", sent_replies.DELETE_CUSTOMER, {"external_ids": _delivered_ids(send, text_only=False)},
                    channel_id=channel_id_of(command.destination), chat_id=str(p["chat_id"]),
                    idempotency_key=command.idempotency_key)

    # --------------------------------------------------------------------------------------------- record

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        head = commands[0]
        if head.kind in self.kinds:
            await self.kinds[head.kind].record(session, commands, delivery, now)
            return
        if head.payload.get("topic_id") and head.kind != Kind.SEND_CUSTOMER:
            await self._topic_moved(session, head, delivery)
        method = getattr(self, f"_record_{head.kind}", None)
        if method is not None:
            await method(session, commands, delivery, now)

    async def _topic_moved(self, session: AsyncSession, command: OutboxCommand, delivery: Delivery) -> None:
        """The surface had to recreate a deleted topic or reopen a closed one: remember the new thread, and give a
        recreated topic its pinned card again."""
        topic, group = await self._topic(session, command)
        extra = delivery.extra
        if extra.get("reopened"):
            topic.closed = False
        new_thread = extra.get("thread_id")
        if new_thread is None or new_thread == topic.thread_id:
            return
        recreated = topic.thread_id is not None or extra.get("recreated")
        topic.thread_id = new_thread
        if recreated:
            topic.pinned_message_id = None
            events.record(session, "topic_recreated", tenant_id=group.tenant_id, dialog_id=topic.dialog_id,
                          thread_id=new_thread)
            if command.kind != Kind.POST_PINNED_CARD:
                await ws.queue_pinned_card(session, group, topic, generation=str(new_thread))

    def _message_ids(self, delivery: Delivery) -> list[int]:
        ids = delivery.extra.get("message_ids") or ([int(delivery.external_id)] if delivery.external_id else [])
        return [int(i) for i in ids]

    async def _count(self, session: AsyncSession, command: OutboxCommand, delivery: Delivery) -> None:
        topic, group = await self._topic(session, command)
        await session.execute(update(ManagerGroup).where(ManagerGroup.id == group.id).values(
            message_count=ManagerGroup.message_count + max(1, int(delivery.extra.get("api_calls", 1)))))

    async def _record_create_topic(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        if delivery.extra.get("thread_id") is not None:
            topic.thread_id = int(delivery.extra["thread_id"])
        await self._count(session, commands[0], delivery)

    async def _record_post_pinned_card(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        ids = self._message_ids(delivery)
        if ids:
            topic.pinned_message_id = ids[0]
            session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=ids[0],
                                     kind=TopicMessageKind.PINNED_CARD))
        await self._count(session, commands[0], delivery)

    async def _record_mirror_message(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        ids = self._message_ids(delivery)
        message_ids = [c.payload["message_id"] for c in commands]
        if ids:
            # An album maps part to part; a coalesced text post (or a long text split in parts) maps to its first.
            pairs = zip(message_ids, ids) if len(ids) == len(message_ids) else [(message_ids[0], ids[0])]
            for message_id, telegram_id in pairs:
                session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=telegram_id,
                                         message_id=message_id, kind=TopicMessageKind.MIRROR))
        for attachment_id, file_id in (delivery.extra.get("file_ids") or {}).items():
            await session.execute(update(Attachment).where(Attachment.id == int(attachment_id))
                                  .values(telegram_file_id=file_id))
        await self._count(session, commands[0], delivery)

    async def _record_post_reply_card(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        ids = self._message_ids(delivery)
        if ids:
            session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=ids[0],
                                     suggestion_id=commands[0].payload["suggestion_id"],
                                     kind=TopicMessageKind.REPLY_CARD))
        await self._count(session, commands[0], delivery)

    async def _record_mirror_change(self, session, commands, delivery, now):
        await self._count(session, commands[0], delivery)

    async def _record_edit_topic(self, session, commands, delivery, now):
        await self._count(session, commands[0], delivery)

    async def _record_edit_pinned_card(self, session, commands, delivery, now):
        await self._count(session, commands[0], delivery)

    async def _record_edit_reply_card(self, session, commands, delivery, now):
        await self._count(session, commands[0], delivery)

    async def _record_post_send_confirm(self, session, commands, delivery, now):
        await self._count(session, commands[0], delivery)

    async def _record_send_customer_message(self, session, commands, delivery, now):
        command = commands[0]
        p = command.payload
        dialog = (await session.execute(select(Dialog).where(Dialog.id == p["dialog_id"]).with_for_update())).scalar_one()
        staff_id = p.get("staff_id")
        values = dict(
            tenant_id=dialog.tenant_id, dialog_id=dialog.id, external_id=delivery.external_id,
            direction=Direction.OUT, author_kind=AuthorKind.MANAGER if staff_id else AuthorKind.AI,
            author_staff_id=staff_id, text=p.get("text") or "", sent_at=now, is_read=True,
            extra={ws.SENT_BY_COMMAND: command.id, "media": p.get("media") or []},
        )
        statement = insert(Message).values(**values)
        if delivery.external_id is not None:
            # The channel may have reported the message back already (a userbot sees its own sends): same row.
            statement = statement.on_conflict_do_update(
                index_elements=["dialog_id", "external_id"],
                set_={"author_kind": values["author_kind"], "author_staff_id": staff_id, "extra": values["extra"]},
            )
        # xmax = 0 only on a fresh insert: an echo row already counted by the inbox must not be counted twice.
        inserted = (await session.execute(statement.returning(literal_column("xmax = 0")))).scalar_one()
        first = None
        if dialog.first_response_seconds is None and dialog.last_customer_message_at is not None:
            first = max(0, int((now - dialog.last_customer_message_at).total_seconds()))
        await session.execute(update(Dialog).where(Dialog.id == dialog.id).values(
            message_count=Dialog.message_count + int(inserted), last_message_at=now, last_reply_at=now, unread_count=0,
            first_response_seconds=func.coalesce(Dialog.first_response_seconds, first),
            status=DialogStatus.WAITING if dialog.status == DialogStatus.ACTIVE else dialog.status,
        ))
        events.record(session, "customer_message_sent", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      command_id=command.id, actor_staff_id=staff_id, external_id=delivery.external_id,
                      suggestion_id=command.suggestion_id)
        found = await ws.topic_for_dialog(session, dialog)
        if found is not None and Marker(found[0].status_marker) not in (Marker.WON, Marker.LOST, Marker.ESCALATED):
            await ws.set_marker(session, dialog, Marker.ANSWERED)
        if command.suggestion_id:
            suggestion = await session.get(Suggestion, command.suggestion_id)
            if suggestion is not None and suggestion.state == SuggestionState.PENDING:
                # An automatic reply went out: the draft was sent as it is.
                suggestion.state, suggestion.final_text, suggestion.decided_at = SuggestionState.SENT, suggestion.text, now
            await ws.queue_card_edit(session, command.suggestion_id)
        elif (where := p.get("topic_message")) and found is not None:
            await ws.react(session, found[1], where["message_id"], ws.DELIVERED_REACTION, dialog_id=dialog.id)

    async def _record_edit_customer_message(self, session, commands, delivery, now):
        command = commands[0]
        events.record(session, "customer_message_edited", tenant_id=command.tenant_id, dialog_id=command.dialog_id,
                      actor_staff_id=command.payload.get("staff_id"), command_id=command.id,
                      external_ids=delivery.extra.get("edited_ids"))
        needed, existing = delivery.extra.get("parts"), delivery.extra.get("message_parts")
        if needed is not None and existing is not None and needed != existing:
            # A long reply went out as several messages and the new text needs another number of them (or a file
            # went out without a text, and a Telegram account's file message has none to edit): the messages there
            # are were corrected, and the manager is told what the customer sees.
            key = "edit_text_missing" if existing == 0 else "edit_parts_more" if needed > existing \
                else "edit_parts_fewer"
            await self._reply_notice(session, command, key, {"needed": needed, "existing": existing})

    async def _record_delete_customer_message(self, session, commands, delivery, now):
        command = commands[0]
        events.record(session, "customer_message_taken_back", tenant_id=command.tenant_id,
                      dialog_id=command.dialog_id, actor_staff_id=command.payload.get("staff_id"),
                      command_id=command.id, delivered=True)
        await self._reply_notice(session, command, "reply_deleted")

    async def _reply_notice(self, session: AsyncSession, command: OutboxCommand, key: str,
                            params: dict | None = None) -> None:
        """A short notice in the dialog's topic, replying to the manager's message the command is about."""
        dialog = await session.get(Dialog, command.dialog_id)
        found = await ws.topic_for_dialog(session, dialog) if dialog is not None else None
        if found is None:
            return
        topic, group = found
        where = command.payload.get("topic_message") or {}
        await ws.notice(session, group, key=key, topic=topic, reply_to=where.get("message_id"), params=params)

    # --------------------------------------------------------------------------------------------- failure

    async def hold(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError, *,
                   now: datetime) -> bool:
        """A refusal whose cause people can fix never fails a command for good: the bot lacks a right in a manager
        group, its topics are off, the bot was removed or the chat is gone (bot/surface.py's codes rights, not_forum,
        kicked, chat_gone). In the unit of work recording the failure, the group is marked and the commands move to
        another group with their dialog or wait parked until it is fixed, and people are told once
        (core.services.workspace.group_refused). Returns whether the commands were held so; if not, they fail."""
        head = commands[0]
        if error.code not in GROUP_REFUSALS or not head.destination.startswith(GROUP_DESTINATION):
            return False
        chat_id = int(head.destination[len(GROUP_DESTINATION):])
        return await ws.group_refused(session, chat_id, commands, code=error.code, reason=error.reason, now=now)

    async def record_failure(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError,
                             *, retrying: bool) -> None:
        """What people see when a command failed for good. Retries (rate limits, network) stay invisible."""
        head = commands[0]
        if head.kind in self.kinds:
            await self.kinds[head.kind].record_failure(session, commands, error, retrying=retrying)
            return
        if retrying:
            return
        if head.kind == Kind.SEND_CUSTOMER:
            await self._customer_send_failed(session, head, error)
        elif head.kind == sent_replies.EDIT_CUSTOMER:
            await self._edit_failed(session, head, error)
        elif head.kind == sent_replies.DELETE_CUSTOMER:
            await self._delete_failed(session, head, error)

    async def _customer_send_failed(self, session: AsyncSession, command: OutboxCommand, error: DeliveryError) -> None:
        p = command.payload
        command.result = {**(command.result or {}), "error_code": error.code or "error"}  # what the card shows
        dialog = await session.get(Dialog, p["dialog_id"])
        if error.code == "blocked":
            customer = await session.get(Customer, dialog.customer_id)
            customer.blocked = True
            if dialog.status != DialogStatus.INACTIVE:
                dialog.status = DialogStatus.INACTIVE
                events.record(session, "customer_blocked", tenant_id=dialog.tenant_id, dialog_id=dialog.id)
            await ws.set_marker(session, dialog, Marker.BLOCKED)
            await ws.refresh_pinned_card(session, dialog)
        if command.suggestion_id:
            await ws.queue_card_edit(session, command.suggestion_id)
            return
        found = await ws.topic_for_dialog(session, dialog)
        if found is None:
            return
        topic, group = found
        where = p.get("topic_message") or {}
        await ws.notice(session, group, key="delivery_failed", topic=topic, reply_to=where.get("message_id"),
                        params={"reason": error.code or "error", "detail": error.reason[:200]})

    async def _edit_failed(self, session: AsyncSession, command: OutboxCommand, error: DeliveryError) -> None:
        """The customer keeps the old text (VK's 24 hours passed, the message is gone...): so does our copy, and the
        manager is told why."""
        applied = command.payload.get("applied") or {}
        if applied.get("edit_id"):
            message = await session.get(Message, applied["message_id"])
            if message is not None and message.text == command.payload["text"]:
                old_at = applied.get("old_edited_at")
                message.text = applied["old_text"]
                message.edit_count = max(0, message.edit_count - 1)
                message.edited_at = datetime.fromisoformat(old_at) if old_at else None
            edit = await session.get(MessageEdit, applied["edit_id"])
            if edit is not None:
                await session.delete(edit)
        command.result = {**(command.result or {}), "error_code": error.code or "error"}
        await self._reply_notice(session, command, "edit_failed",
                                 {"reason": error.code or "error", "detail": error.reason[:200]})

    async def _delete_failed(self, session: AsyncSession, command: OutboxCommand, error: DeliveryError) -> None:
        applied = command.payload.get("applied") or {}
        if applied.get("message_id"):
            message = await session.get(Message, applied["message_id"])
            if message is not None:
                message.deleted_at = None
        command.result = {**(command.result or {}), "error_code": error.code or "error"}
        await self._reply_notice(session, command, "delete_failed",
                                 {"reason": error.code or "error", "detail": error.reason[:200]})


def _delivered_ids(send: OutboxCommand, *, text_only: bool) -> list[str]:
    """The channel's ids of what a send delivered: all its messages, or those carrying the text (a Telegram account
    sends media as messages of their own; the gateway says which ids hold the text parts)."""
    result = send.result or {}
    if text_only and result.get("text_message_ids") is not None:
        return [str(i) for i in result["text_message_ids"]]
    ids = result.get("message_ids") or ([result["external_id"]] if result.get("external_id") else [])
    return [str(i) for i in ids]
