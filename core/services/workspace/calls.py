"""The calls workspace commands become, and the steps every command kind shares (the kinds are defined in
core.services.workspace.group_commands and .customer_commands): `prepare` turns claimed outbox rows into one call
on the ManagerSurface (bot/) or a ChannelGateway (userbots/), reading the current state at execution time (so a card shows what is
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

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import (
    Dialog,
    DialogTopic,
    ManagerGroup,
    OutboxCommand,
    TopicMessage,
    TopicMessageKind,
)
from ...commands import Call, channel_id_of  # noqa: F401 — where the workspace's kinds have always found them
from ...ports import Delivery
from .topics import notice, topic_for_dialog


class CommandSteps:
    """What the prepare and record steps of every kind share: the topic a command is about, a post into it,
    the Telegram messages an answer names, the group's message count, a notice replying to a manager's message."""

    def __init__(self, media_root: Path | None = None):
        self.media_root = media_root

    async def _topic(self, session: AsyncSession, command: OutboxCommand) -> tuple[DialogTopic, ManagerGroup]:
        topic = await session.get(DialogTopic, command.payload["topic_id"])
        group = await session.get(ManagerGroup, topic.manager_group_id)
        # The session's identity map holds objects weakly: unreferenced, the next step's get() (a record's topic
        # step, then its count) selected both rows again. Held for the session's unit of work, it finds them.
        session.info.setdefault("held_topics", []).extend((topic, group))
        return topic, group

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

    async def _mirror_of(self, session: AsyncSession, topic: DialogTopic, message_id: int) -> int | None:
        """The topic post showing a message: its own, or the coalesced post that carried it (the latest mirror post
        of an earlier-or-same message, since posts keep message order)."""
        return (await session.execute(
            select(TopicMessage.telegram_message_id)
            .where(TopicMessage.dialog_topic_id == topic.id, TopicMessage.kind == TopicMessageKind.MIRROR,
                   TopicMessage.message_id <= message_id)
            .order_by(TopicMessage.message_id.desc(), TopicMessage.id.desc()).limit(1)
        )).scalar_one_or_none()

    def _message_ids(self, delivery: Delivery) -> list[int]:
        ids = delivery.extra.get("message_ids") or ([int(delivery.external_id)] if delivery.external_id else [])
        return [int(i) for i in ids]

    async def _count(self, session: AsyncSession, command: OutboxCommand, delivery: Delivery) -> None:
        topic, group = await self._topic(session, command)
        await session.execute(update(ManagerGroup).where(ManagerGroup.id == group.id).values(
            message_count=ManagerGroup.message_count + max(1, int(delivery.extra.get("api_calls", 1)))))

    async def _reply_notice(self, session: AsyncSession, command: OutboxCommand, key: str,
                            params: dict | None = None) -> None:
        """A short notice in the dialog's topic, replying to the manager's message the command is about."""
        dialog = await session.get(Dialog, command.dialog_id)
        found = await topic_for_dialog(session, dialog) if dialog is not None else None
        if found is None:
            return
        topic, group = found
        where = command.payload.get("topic_message") or {}
        await notice(session, group, key=key, topic=topic, reply_to=where.get("message_id"), params=params)
