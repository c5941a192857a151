"""Executing the commands shown in a manager group: topics (create, rename, recreate), pinned and reply cards,
mirror posts of customer messages, notices, alerts, /inbox, reactions, bans, escalation notices — `prepare` reads
the state at execution time, `record` writes back what Telegram answered (core.services.workspace.commands)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events
from ...i18n import t
from ...media import MediaStore
from ...models import (
    Attachment,
    CommandState,
    DialogTopic,
    Escalation,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    TopicMessage,
    TopicMessageKind,
)
from ...ports import Delivery, DeliveryError
from . import views
from .base import Kind
from .calls import Call, CommandSteps
from .cards import outdating_answer
from .controls import unanswered
from .topics import queue_pinned_card


class GroupCommands(CommandSteps):
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
        data["answered"] = await outdating_answer(session, suggestion)
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
        items = await unanswered(session, p["tenant_id"])
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
                await queue_pinned_card(session, group, topic, generation=str(new_thread))

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
