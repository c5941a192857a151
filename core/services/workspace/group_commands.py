"""The command kinds shown in a manager group, one definition each (core.commands.CommandKind): topics (create,
rename, recreate), pinned and reply cards, mirror posts of customer messages, notices, alerts, /inbox, reactions,
bans, escalation notices, and posts other areas make into a dialog's topic (TopicPost). `prepare` reads the state at
execution time, `record` writes back what Telegram answered. Payload keys older rows may lack are NotRequired."""

from __future__ import annotations

from datetime import datetime
from typing import NotRequired, TypedDict

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events
from ...commands import Call, CommandKind, Destination, Lane
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
from .base import MIRROR_TEXT_BUDGET, Kind
from .calls import CommandSteps
from .cards import outdating_answer
from .controls import unanswered
from .topics import queue_pinned_card

MAX_COALESCED = 50  # mirror posts carried by one coalesced post
MAX_ALBUM = 10  # sendMediaGroup takes 2–10 items


class GroupKind(CommandSteps, CommandKind):
    """A kind shown in a manager group. Its record first follows a topic the surface had to recreate or reopen (any
    command naming a topic), then does the kind's own bookkeeping (`recorded`)."""

    destination = Destination.GROUP

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime) -> None:
        if commands[0].payload.get("topic_id"):
            await self._topic_moved(session, commands[0], delivery)
        await self.recorded(session, commands, delivery, now)

    async def recorded(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                       now: datetime) -> None:
        """The kind's own record, after the topic's."""

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


class CountedKind(GroupKind):
    """A post or edit in a topic counted towards the group's message total (ManagerGroup.message_count)."""

    async def recorded(self, session, commands, delivery, now):
        await self._count(session, commands[0], delivery)


class TopicPayload(TypedDict):
    topic_id: int


class CreateTopic(GroupKind):
    name = Kind.CREATE_TOPIC
    payload = TopicPayload

    async def prepare(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.thread_id is not None:
            return None  # a post already had to create it
        return Call("surface", "create_topic",
                    {"chat_id": group.chat_id, "name": topic.title, "marker": topic.status_marker})

    async def recorded(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        if delivery.extra.get("thread_id") is not None:
            topic.thread_id = int(delivery.extra["thread_id"])
        await self._count(session, commands[0], delivery)


def _refresh_of_the_same(kind: str, key: str, batch, follower) -> bool:
    """Refreshes of one thing (a topic's title, its pinned card, a reply card) coalesce: the last shows it all."""
    return follower.kind == kind and follower.payload.get(key) == batch[0].payload.get(key)


class EditTopic(CountedKind):
    """Title and icon from the topic's current status marker; repeated refreshes of one topic are one edit."""

    name = Kind.EDIT_TOPIC
    payload = TopicPayload
    coalescing = True
    repeatable = True

    def coalesces(self, batch, follower):
        return _refresh_of_the_same(self.name, "topic_id", batch, follower)

    async def prepare(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.thread_id is None:
            return None  # the topic will be created with the current marker
        return Call("surface", "edit_topic", {"chat_id": group.chat_id, "thread_id": topic.thread_id,
                                              "name": topic.title, "marker": topic.status_marker,
                                              "topic": self._topic_info(topic)})


class PostPinnedCard(GroupKind):
    name = Kind.POST_PINNED_CARD
    payload = TopicPayload

    async def prepare(self, session, commands):
        topic, _ = await self._topic(session, commands[0])
        return await self._post(session, commands[0], "pinned_card", await views.pinned_card(session, topic))

    async def recorded(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        ids = self._message_ids(delivery)
        if ids:
            topic.pinned_message_id = ids[0]
            session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=ids[0],
                                     kind=TopicMessageKind.PINNED_CARD))
        await self._count(session, commands[0], delivery)


class PinCard(GroupKind):
    name = Kind.PIN_CARD
    payload = TopicPayload
    repeatable = True
    message = False  # Telegram does not count a pin as a message of the group

    async def prepare(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.pinned_message_id is None:
            return None
        return Call("surface", "pin", {"chat_id": group.chat_id, "message_id": topic.pinned_message_id})


class EditPinnedCard(CountedKind):
    name = Kind.EDIT_PINNED_CARD
    payload = TopicPayload
    coalescing = True
    repeatable = True

    def coalesces(self, batch, follower):
        return _refresh_of_the_same(self.name, "topic_id", batch, follower)

    async def prepare(self, session, commands):
        topic, group = await self._topic(session, commands[0])
        if topic.pinned_message_id is None:
            return None  # not posted yet: it will show the current data when it is
        return Call("surface", "edit", {"chat_id": group.chat_id, "message_id": topic.pinned_message_id,
                                        "view": "pinned_card", "data": await views.pinned_card(session, topic)})


class MirrorPayload(TypedDict):
    topic_id: int
    message_id: int
    media: NotRequired[bool]  # whether the message has files (an album's parts go out as one sendMediaGroup)
    media_group_id: NotRequired[str | None]
    length: NotRequired[int]


class MirrorMessage(GroupKind):
    """A customer's message in its topic. A backlog of text messages becomes one post (up to MIRROR_TEXT_BUDGET
    characters), the parts of an album one sendMediaGroup."""

    name = Kind.MIRROR
    payload = MirrorPayload
    coalescing = True

    def coalesces(self, batch, follower):
        head = batch[0]
        if follower.kind != self.name:
            return False
        if head.payload.get("media_group_id"):
            return follower.payload.get("media_group_id") == head.payload["media_group_id"] and len(batch) < MAX_ALBUM
        if head.payload.get("media") or follower.payload.get("media"):
            return False
        total = sum(c.payload.get("length", 0) + 2 for c in batch) + follower.payload.get("length", 0)
        return total <= MIRROR_TEXT_BUDGET and len(batch) < MAX_COALESCED

    async def prepare(self, session, commands):
        ids = [c.payload["message_id"] for c in commands]
        messages = await views.mirror_messages(session, ids, self.media_root)
        if not messages:
            return None
        return await self._post(session, commands[0], "mirror", {"messages": messages})

    async def recorded(self, session, commands, delivery, now):
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


class MirrorChangePayload(TypedDict):
    topic_id: int
    message_id: int
    change: str  # edit | delete
    old_text: NotRequired[str | None]
    new_text: NotRequired[str | None]


class MirrorChange(CountedKind):
    name = Kind.MIRROR_CHANGE
    payload = MirrorChangePayload

    async def prepare(self, session, commands):
        command = commands[0]
        topic, _ = await self._topic(session, command)
        reply_to = await self._mirror_of(session, topic, command.payload["message_id"])
        data = {k: command.payload.get(k) for k in ("change", "old_text", "new_text")}
        return await self._post(session, command, "mirror_change", data, reply_to=reply_to)


class CardPayload(TypedDict):
    topic_id: int
    suggestion_id: int


class PostReplyCard(GroupKind):
    name = Kind.POST_REPLY_CARD
    payload = CardPayload

    async def prepare(self, session, commands):
        suggestion = await session.get(Suggestion, commands[0].payload["suggestion_id"])
        if suggestion is None or suggestion.state == SuggestionState.OUTDATED:
            return None
        return await self._post(session, commands[0], "reply_card", await views.reply_card(session, suggestion))

    async def recorded(self, session, commands, delivery, now):
        topic, _ = await self._topic(session, commands[0])
        ids = self._message_ids(delivery)
        if ids:
            session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=ids[0],
                                     suggestion_id=commands[0].payload["suggestion_id"],
                                     kind=TopicMessageKind.REPLY_CARD))
        await self._count(session, commands[0], delivery)


async def _reply_card(session: AsyncSession, suggestion: Suggestion) -> dict:
    """A card's data; an outdated one says what the customer got instead when a person's answer outdated it."""
    data = await views.reply_card(session, suggestion)
    data["answered"] = await outdating_answer(session, suggestion)
    return data


async def _send_confirm_data(session: AsyncSession, suggestion: Suggestion) -> dict:
    card = await _reply_card(session, suggestion)
    return {k: card.get(k) for k in ("suggestion_id", "state", "text", "answered", "decided_by", "decided_at",
                                     "timezone")}


class EditReplyCard(CountedKind):
    """A card shown again as it is now; repeated refreshes of one card are one edit."""

    name = Kind.EDIT_REPLY_CARD
    payload = CardPayload
    coalescing = True
    repeatable = True

    def coalesces(self, batch, follower):
        return _refresh_of_the_same(self.name, "suggestion_id", batch, follower)

    async def prepare(self, session, commands):
        suggestion = await session.get(Suggestion, commands[0].payload["suggestion_id"])
        card = await _card_message(session, suggestion.id) if suggestion else None
        if card is None:
            return None
        _, group = await self._topic(session, commands[0])
        return Call("surface", "edit", {"chat_id": group.chat_id, "message_id": card.telegram_message_id,
                                        "view": "reply_card", "data": await _reply_card(session, suggestion)})


async def _card_message(session: AsyncSession, suggestion_id: int) -> TopicMessage | None:
    return (await session.execute(
        select(TopicMessage).where(TopicMessage.suggestion_id == suggestion_id,
                                   TopicMessage.kind == TopicMessageKind.REPLY_CARD)
        .order_by(TopicMessage.id.desc()).limit(1)
    )).scalar_one_or_none()


class SendConfirmPayload(TypedDict):
    topic_id: int
    suggestion_id: int
    reply_to: NotRequired[int | None]


class PostSendConfirm(CountedKind):
    """Send pressed on a card a person's answer made outdated: the prompt with what the customer got and the confirm
    button, replying to the card — unless the draft was handled meanwhile."""

    name = Kind.SEND_CONFIRM
    payload = SendConfirmPayload

    async def prepare(self, session, commands):
        command = commands[0]
        suggestion = await session.get(Suggestion, command.payload["suggestion_id"])
        if suggestion is None or suggestion.state != SuggestionState.OUTDATED:
            return None
        return await self._post(session, command, "send_confirm", await _send_confirm_data(session, suggestion),
                                reply_to=command.payload.get("reply_to"))


class EditSendConfirmPayload(TypedDict):
    chat_id: int
    message_id: int
    suggestion_id: int


class EditSendConfirm(GroupKind):
    name = Kind.EDIT_SEND_CONFIRM
    payload = EditSendConfirmPayload
    repeatable = True

    async def prepare(self, session, commands):
        p = commands[0].payload
        suggestion = await session.get(Suggestion, p["suggestion_id"])
        if suggestion is None:
            return None
        return Call("surface", "edit", {"chat_id": p["chat_id"], "message_id": p["message_id"], "view": "send_confirm",
                                        "data": await _send_confirm_data(session, suggestion)})


class NoticePayload(TypedDict):
    chat_id: int
    key: str
    thread_id: NotRequired[int | None]
    topic_id: NotRequired[int | None]
    params: NotRequired[dict]
    reply_to: NotRequired[int | None]


class PostNotice(GroupKind):
    """A short system text (a key of the bot's locale) in a topic, a group's General topic or a private chat."""

    name = Kind.NOTICE
    payload = NoticePayload
    destination = Destination.CHAT

    async def prepare(self, session, commands):
        p = commands[0].payload
        thread_id, topic_info = p.get("thread_id"), None
        if p.get("topic_id"):
            topic = await session.get(DialogTopic, p["topic_id"])
            thread_id, topic_info = topic.thread_id, self._topic_info(topic)
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": thread_id, "topic": topic_info,
                                        "view": "notice", "data": {"key": p["key"], "params": p.get("params", {})},
                                        "reply_to": p.get("reply_to")})


class GroupAlertPayload(TypedDict):
    chat_id: int
    key: str
    params: NotRequired[dict]
    locale: NotRequired[str | None]


class PostGroupAlert(GroupKind):
    """A group broke or works again (core.services.workspace.parking): in its General topic in the bot's language,
    or in a person's private chat in theirs (the text made here, the surface only shows it)."""

    name = Kind.GROUP_ALERT
    payload = GroupAlertPayload
    destination = Destination.CHAT
    lane = Lane.NONE

    async def prepare(self, session, commands):
        p = commands[0].payload
        data = {"key": p["key"], "params": p.get("params") or {}}
        if p.get("locale"):
            data = {"key": "groups.text", "params": {"text": t(p["key"], p["locale"], **data["params"])}}
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": None, "topic": None, "view": "keyed",
                                        "data": data, "reply_to": None})


class InboxPayload(TypedDict):
    chat_id: int
    tenant_id: int
    thread_id: NotRequired[int | None]
    reply_to: NotRequired[int | None]


class PostInbox(GroupKind):
    """/inbox: the unanswered dialogs as they are when it is posted."""

    name = Kind.INBOX
    payload = InboxPayload
    lane = Lane.NONE

    async def prepare(self, session, commands):
        p = commands[0].payload
        items = await unanswered(session, p["tenant_id"])
        data = {"items": items, "timezone": await views.tenant_timezone(session, p["tenant_id"])}
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": p.get("thread_id"), "topic": None,
                                        "view": "inbox", "data": data, "reply_to": p.get("reply_to")})


class ReactPayload(TypedDict):
    chat_id: int
    message_id: int
    emoji: str


class React(GroupKind):
    name = Kind.REACT
    payload = ReactPayload
    repeatable = True
    message = False

    async def prepare(self, session, commands):
        return Call("surface", "react", dict(commands[0].payload))


class MemberPayload(TypedDict):
    chat_id: int
    user_id: int
    only_if_banned: NotRequired[bool]


class BanMember(GroupKind):
    name = Kind.BAN
    payload = MemberPayload
    repeatable = True
    lane = Lane.NONE
    message = False

    async def prepare(self, session, commands):
        return Call("surface", "ban", dict(commands[0].payload))


class UnbanMember(GroupKind):
    """A removed person invited again may rejoin."""

    name = Kind.UNBAN
    payload = MemberPayload
    repeatable = True
    lane = Lane.NONE
    message = False

    async def prepare(self, session, commands):
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


class EscalationPayload(TypedDict):
    escalation_id: int
    chat_id: int


class NotifyEscalation(GroupKind):
    """An escalation's card in the escalation chat (a group or a person's private chat)."""

    name = Kind.NOTIFY_ESCALATION
    payload = EscalationPayload
    destination = Destination.CHAT
    lane = Lane.NONE

    async def prepare(self, session, commands):
        p = commands[0].payload
        escalation = await session.get(Escalation, p["escalation_id"])
        return Call("surface", "post", {"chat_id": p["chat_id"], "thread_id": None, "topic": None,
                                        "view": "escalation", "data": await views.escalation_card(session, escalation),
                                        "reply_to": None})


class TopicPostPayload(TypedDict):
    topic_id: int
    view: str
    data: NotRequired[dict]
    reply_to: NotRequired[int | None]
    reply_to_message: NotRequired[int | None]


class TopicPost(GroupKind):
    """A post of another area into a dialog's topic ({topic_id, view, data, reply_to | reply_to_message}, e.g.
    core.services.voice): the topic as it is now, replying to the post of a customer's message when one is named,
    a stored file (data.storage_key) given by its path in the media store. Each area defines its own kind on it
    (a name and, if it carries more, a payload type) in its own module."""

    payload = TopicPostPayload

    async def prepare(self, session, commands):
        command = commands[0]
        p = command.payload
        topic, _ = await self._topic(session, command)
        reply_to = p.get("reply_to")
        if reply_to is None and p.get("reply_to_message"):
            reply_to = await self._mirror_of(session, topic, p["reply_to_message"])
        data = dict(p.get("data") or {})
        if data.get("storage_key"):
            data["path"] = str(MediaStore(self.media_root).path_of(data["storage_key"]))
        return await self._post(session, command, p["view"], data, reply_to=reply_to)


GROUP_KINDS = (CreateTopic, EditTopic, PostPinnedCard, PinCard, EditPinnedCard, MirrorMessage, MirrorChange,
               PostReplyCard, EditReplyCard, PostSendConfirm, EditSendConfirm, PostNotice, PostGroupAlert, PostInbox,
               React, BanMember, UnbanMember, NotifyEscalation)
