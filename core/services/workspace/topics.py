"""A topic per dialog in its manager group: created exactly once, with its pinned card and status marker (the status
board); short system notices in a group; and what a mirror post of a customer's message carries (its payload, its
key, whether a message is our own send coming back).
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ... import outbox
from ...channels import CHANNEL_KINDS
from ...models import (
    ChannelAccount,
    CommandState,
    Customer,
    Dialog,
    DialogTopic,
    Direction,
    ManagerGroup,
    Message,
    OutboxCommand,
)
from .base import TOPIC_NAME_MAX, Kind, Marker, _key


async def notice(session: AsyncSession, group: ManagerGroup, *, key: str, params: dict | None = None,
                 topic: DialogTopic | None = None, thread_id: int | None = None,
                 reply_to: int | None = None) -> OutboxCommand:
    """A short system text in the group (General when no topic/thread). `key` names a text in the bot's locale."""
    return await outbox.enqueue(
        session, kind=Kind.NOTICE, destination=outbox.tg_group(group.chat_id), idempotency_key=_key("notice"),
        tenant_id=group.tenant_id, dialog_id=topic.dialog_id if topic else None,
        payload={"chat_id": group.chat_id, "thread_id": thread_id, "topic_id": topic.id if topic else None,
                 "key": key, "params": params or {}, "reply_to": reply_to},
    )


async def notice_chat(session: AsyncSession, chat_id: int, *, key: str, params: dict | None = None,
                      reply_to: int | None = None) -> OutboxCommand:
    """A short system text in a chat that is not (yet) a manager group, e.g. why it could not be connected."""
    return await outbox.enqueue(
        session, kind=Kind.NOTICE, destination=outbox.tg_group(chat_id) if chat_id < 0 else outbox.tg_chat(chat_id),
        idempotency_key=_key("notice"),
        payload={"chat_id": chat_id, "thread_id": None, "topic_id": None, "key": key, "params": params or {},
                 "reply_to": reply_to},
    )


async def topic_name(session: AsyncSession, dialog: Dialog) -> str:
    customer = await session.get(Customer, dialog.customer_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    return topic_title(customer.display_name, dialog.id, channel.kind)


def topic_title(display_name: str | None, dialog_id: int, channel_kind) -> str:
    """A new topic's title: the customer's name and the mark of the channel's kind."""
    name = (display_name or f"#{dialog_id}").strip()
    mark = CHANNEL_KINDS.get(channel_kind).topic_mark if channel_kind in CHANNEL_KINDS else "?"
    return f"{name[:TOPIC_NAME_MAX - 5]} · {mark}"


# The commands `queue_topic_setup` queues for a new topic, in this order: (kind, idempotency key's middle part).
TOPIC_SETUP = ((Kind.CREATE_TOPIC, "create"), (Kind.POST_PINNED_CARD, "card"), (Kind.PIN_CARD, "pin"))


async def _topic_command(session: AsyncSession, group: ManagerGroup, topic: DialogTopic, kind: str, key: str,
                         **payload) -> OutboxCommand:
    return await outbox.enqueue(
        session, kind=kind, destination=outbox.tg_group(group.chat_id), idempotency_key=key,
        tenant_id=group.tenant_id, dialog_id=topic.dialog_id, payload={"topic_id": topic.id, **payload},
    )


async def ensure_topic(session: AsyncSession, dialog: Dialog, group: ManagerGroup) -> tuple[DialogTopic, bool]:
    """The dialog's topic in `group`, created exactly once: two first messages racing both reach the same unique
    row, and only the transaction that inserted it queues createForumTopic and the pinned card."""
    query = select(DialogTopic).where(DialogTopic.dialog_id == dialog.id, DialogTopic.manager_group_id == group.id)
    topic = (await session.execute(query)).scalar_one_or_none()
    if topic is not None:
        return topic, False
    inserted = (
        await session.execute(
            insert(DialogTopic)
            .values(dialog_id=dialog.id, manager_group_id=group.id, title=await topic_name(session, dialog),
                    status_marker=Marker.NEW.value)
            .on_conflict_do_nothing(index_elements=["dialog_id", "manager_group_id"])
            .returning(DialogTopic.id)
        )
    ).scalar_one_or_none()
    topic = (await session.execute(query)).scalar_one()
    if inserted is not None:
        await queue_topic_setup(session, group, topic, generation="1")
    return topic, inserted is not None


async def queue_topic_setup(session: AsyncSession, group: ManagerGroup, topic: DialogTopic, *, generation: str) -> None:
    """createForumTopic, then the pinned card and its pin — in this order, in the dialog's lane (TOPIC_SETUP)."""
    await _topic_command(session, group, topic, Kind.CREATE_TOPIC, f"topic:{topic.id}:create:{generation}")
    await queue_pinned_card(session, group, topic, generation=generation)


async def queue_pinned_card(session: AsyncSession, group: ManagerGroup, topic: DialogTopic, *, generation: str) -> None:
    await _topic_command(session, group, topic, Kind.POST_PINNED_CARD, f"topic:{topic.id}:card:{generation}")
    await _topic_command(session, group, topic, Kind.PIN_CARD, f"topic:{topic.id}:pin:{generation}")


async def topic_for_dialog(session: AsyncSession, dialog: Dialog) -> tuple[DialogTopic, ManagerGroup] | None:
    if dialog.manager_group_id is None:
        return None
    topic = (
        await session.execute(
            select(DialogTopic).where(DialogTopic.dialog_id == dialog.id,
                                      DialogTopic.manager_group_id == dialog.manager_group_id)
        )
    ).scalar_one_or_none()
    if topic is None:
        return None
    return topic, await session.get(ManagerGroup, topic.manager_group_id)


async def topic_by_thread(session: AsyncSession, group: ManagerGroup, thread_id: int | None) -> DialogTopic | None:
    if thread_id is None:
        return None
    return (
        await session.execute(
            select(DialogTopic).where(DialogTopic.manager_group_id == group.id, DialogTopic.thread_id == thread_id)
        )
    ).scalar_one_or_none()


async def set_marker(session: AsyncSession, dialog: Dialog, marker: Marker,
                     found: tuple[DialogTopic, ManagerGroup] | None = None) -> None:
    """Change the topic's status marker; one editForumTopic is queued only when it really changes."""
    found = found or await topic_for_dialog(session, dialog)
    if found is None:
        return
    topic, group = found
    if topic.status_marker == marker.value:
        return
    topic.status_marker = marker.value
    await _topic_command(session, group, topic, Kind.EDIT_TOPIC, _key(f"topic:{topic.id}:marker"))


async def refresh_pinned_card(session: AsyncSession, dialog: Dialog) -> None:
    found = await topic_for_dialog(session, dialog)
    if found is not None:
        topic, group = found
        await _topic_command(session, group, topic, Kind.EDIT_PINNED_CARD, _key(f"topic:{topic.id}:card-edit"))


def _mirror_payload(message: Message, has_media: bool) -> dict:
    """What the dispatcher needs to coalesce posts without reading the messages: media or not, album, length."""
    return {"message_id": message.id, "media": has_media, "media_group_id": message.media_group_id,
            "length": len(message.text or "")}


def _mirror_key(message_id: int, topic_id: int) -> str:
    return f"mirror:{message_id}:{topic_id}"


async def _sent_by_us(session: AsyncSession, message: Message) -> bool:
    """An outgoing message the channel reports back after we delivered it (the external id of any of its parts) — or
    while the send is still in flight, before its external id is recorded (a VK long-poll echo can beat the dispatcher)."""
    if message.direction != Direction.OUT or not message.external_id:
        return False
    return (await session.execute(
        select(func.count()).select_from(OutboxCommand).where(
            OutboxCommand.dialog_id == message.dialog_id, OutboxCommand.kind == Kind.SEND_CUSTOMER,
            or_(OutboxCommand.result["external_id"].astext == message.external_id,
                # a long reply goes out in parts: the channel reports each part back
                OutboxCommand.result["message_ids"].contains([message.external_id]),
                and_(OutboxCommand.state == CommandState.IN_FLIGHT,
                     OutboxCommand.payload["text"].astext == message.text)),
        )
    )).scalar_one() > 0
