"""Answers to customers: a reply queued through the dialog's channel, a manager writing in the topic, the shop answering
from its own account (VK's interface, the Telegram app), notes and reactions in the topic — and what any person's
answer does to automatic replies still waiting and to pending cards.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, outbox
from ...ai import learning
from ...db import lock_dialog
from ...models import (
    CommandOrigin,
    CommandState,
    Customer,
    Dialog,
    DialogTopic,
    Direction,
    ManagerGroup,
    Message,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    TopicMessage,
    TopicMessageKind,
)
from ...permissions import Permission
from .base import NOTE_REACTION, SENT_BY_COMMAND, Actor, Kind, WorkspaceError, _key, _now
from .cards import _record_outdating, queue_card_edit
from .topics import _sent_by_us, refresh_pinned_card, topic_by_thread


async def send_to_customer(session: AsyncSession, dialog: Dialog, *, text: str, key: str,
                           origin: CommandOrigin = CommandOrigin.MANAGER, staff_id: int | None = None,
                           media: list[dict] | None = None, suggestion_id: int | None = None,
                           topic_message: dict | None = None, intent: str | None = None,
                           confidence: float | None = None, state: CommandState = CommandState.QUEUED,
                           now: datetime | None = None) -> OutboxCommand:
    """Queue a reply to the customer through the dialog's channel (kind SEND_CUSTOMER). The channel adapter gets
    `idempotency_key` (VK: random_id), so a retried command never reaches the customer twice."""
    now = _now(now)
    command = await outbox.enqueue(
        session, kind=Kind.SEND_CUSTOMER, destination=outbox.channel_dest(dialog.channel_id), idempotency_key=key,
        tenant_id=dialog.tenant_id, dialog_id=dialog.id, suggestion_id=suggestion_id, origin=origin,
        confidence=confidence, intent=intent, state=state,
        payload={"dialog_id": dialog.id, "chat_id": dialog.external_chat_id, "text": text, "media": media or [],
                 "staff_id": staff_id, "suggestion_id": suggestion_id, "topic_message": topic_message},
    )
    if staff_id is not None:
        answer = {"via": "card" if suggestion_id else "topic", "staff_id": staff_id, "command_id": command.id}
        await _after_manager_answer(session, dialog, except_command_id=command.id, now=now, answer=answer)
    return command


async def _after_manager_answer(session: AsyncSession, dialog: Dialog, *, except_command_id: int | None,
                                 now: datetime, answer: dict | None = None) -> None:
    """A person answered: the dialog is no longer unread, and automatic replies that have not left yet (an AI reply
    waiting out its human-like delay, a night auto-reply) are not wanted any more; their cards say so.

    `answer` is that answer — {via: topic | card | own_account, staff_id, command_id or message_id}: every draft it
    makes outdated keeps it (an OUTDATED_BY_ANSWER event), so the card can show what the customer got instead. The
    caller holds the dialog row (the lock order, core.db)."""
    conditions = [
        OutboxCommand.dialog_id == dialog.id, OutboxCommand.kind == Kind.SEND_CUSTOMER,
        OutboxCommand.origin.in_([CommandOrigin.AI, CommandOrigin.SYSTEM]),
        OutboxCommand.state.in_([CommandState.PENDING_APPROVAL, *outbox.RUNNABLE]),
        OutboxCommand.payload["staff_id"].astext.is_(None),
    ]
    if except_command_id is not None:
        conditions.append(OutboxCommand.id != except_command_id)
    waiting = (await session.execute(select(OutboxCommand.id, OutboxCommand.suggestion_id).where(*conditions))).all()
    reason = "the shop answered from its own account" if (answer or {}).get("via") == "own_account" \
        else "a manager answered"
    for command_id, suggestion_id in waiting:
        if await outbox.cancel(session, command_id, reason=reason) and suggestion_id is not None:
            suggestion = await session.get(Suggestion, suggestion_id)
            if suggestion is not None and suggestion.state == SuggestionState.PENDING:
                suggestion.state = SuggestionState.OUTDATED
                _record_outdating(session, suggestion.id, dialog, answer, now)
                await queue_card_edit(session, suggestion_id)
    # Any other draft still waiting on its card answered a moment a person has now answered: sending it as well
    # would give the customer a second, overlapping answer. Its card loses its buttons.
    await session.flush()
    earlier = (await session.execute(
        update(Suggestion)
        .where(Suggestion.dialog_id == dialog.id, Suggestion.state == SuggestionState.PENDING)
        .values(state=SuggestionState.OUTDATED)
        .returning(Suggestion.id)
        .execution_options(synchronize_session="fetch")
    )).scalars().all()
    for suggestion_id in earlier:
        _record_outdating(session, suggestion_id, dialog, answer, now)
        await queue_card_edit(session, suggestion_id)
    dialog.unread_count = 0
    await session.execute(
        update(Message).where(Message.dialog_id == dialog.id, Message.is_read.is_(False)).values(is_read=True)
    )


async def _our_echo(session: AsyncSession, message: Message) -> bool:
    """An outgoing message the channel reports that is one of our own sends: recorded as delivered, or a send still
    in flight whose text holds this message's (a long reply goes out in parts; a file may come back without text)."""
    if await _sent_by_us(session, message):
        return True
    in_flight = select(OutboxCommand.id).where(
        OutboxCommand.dialog_id == message.dialog_id, OutboxCommand.kind == Kind.SEND_CUSTOMER,
        OutboxCommand.state == CommandState.IN_FLIGHT,
    )
    if message.text:
        in_flight = in_flight.where(OutboxCommand.payload["text"].astext.contains(message.text, autoescape=True))
    return (await session.execute(in_flight.limit(1))).first() is not None


async def answered_from_own_account(session: AsyncSession, message_id: int, now: datetime | None = None) -> bool:
    """The shop wrote to the customer from its own account — VK's interface, the Telegram app of a connected
    account — and not through us: that is a person's answer like one written in the topic. Automatic replies still
    waiting are cancelled and pending cards become outdated (they show this answer). core.inbox calls it for every
    new outgoing message, holding the dialog row. Returns whether it was such an answer."""
    message = await session.get(Message, message_id)
    if message is None or message.direction != Direction.OUT or message.is_imported \
            or message.author_staff_id is not None or SENT_BY_COMMAND in (message.extra or {}):
        return False
    if await _our_echo(session, message):
        return False  # our own reply coming back from the channel
    dialog = await lock_dialog(session, message.dialog_id)
    # Learning mode: the AI's silent draft is compared with this answer, as with a reply in the topic.
    await learning.compare_with_manager_reply(session, dialog.id, message.text or "", now=now or message.sent_at)
    await _after_manager_answer(session, dialog, except_command_id=None, now=now or message.sent_at,
                                answer={"via": "own_account", "message_id": message.id})
    events.record(session, "shop_answered_from_own_account", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  message_id=message.id)
    return True


async def _topic_dialog(session: AsyncSession, group: ManagerGroup, thread_id: int | None) -> tuple[DialogTopic, Dialog]:
    topic = await topic_by_thread(session, group, thread_id)
    if topic is None:
        raise WorkspaceError("not_a_dialog_topic", "write in a dialog's topic")
    dialog = (await session.execute(select(Dialog).where(Dialog.id == topic.dialog_id).with_for_update())).scalar_one()
    return topic, dialog


async def manager_reply(session: AsyncSession, actor: Actor, group: ManagerGroup, *, thread_id: int | None,
                        telegram_message_id: int, text: str, media: list[dict] | None = None,
                        now: datetime | None = None) -> OutboxCommand:
    """A manager wrote in a dialog's topic: it goes to the customer as it is (text, photo, document, voice)."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    if not (text or "").strip() and not media:
        raise WorkspaceError("empty_text", "nothing to send")
    topic, dialog = await _topic_dialog(session, group, thread_id)
    session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=telegram_message_id,
                             kind=TopicMessageKind.MANAGER))
    events.record(session, "manager_reply", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id)
    # Learning mode: the AI's silent draft is compared with this reply (a training sample with the similarity).
    await learning.compare_with_manager_reply(session, dialog.id, text or "", staff_id=actor.staff_id, now=_now(now))
    return await send_to_customer(
        session, dialog, text=text or "", media=media, origin=CommandOrigin.MANAGER, staff_id=actor.staff_id,
        key=manager_reply_key(group.chat_id, telegram_message_id),
        topic_message={"chat_id": group.chat_id, "message_id": telegram_message_id}, now=now,
    )


def manager_reply_key(chat_id: int, telegram_message_id: int) -> str:
    """The idempotency key of the send a manager's topic message becomes: how an edit or a /delete of that message
    finds what it became (core.services.sent_replies)."""
    return f"tg:{chat_id}:{telegram_message_id}:reply"


async def card_suggestion(session: AsyncSession, group: ManagerGroup, telegram_message_id: int) -> int | None:
    """The suggestion whose card is this topic message (a manager replied to a card with their own text)."""
    return (await session.execute(
        select(TopicMessage.suggestion_id)
        .join(DialogTopic, DialogTopic.id == TopicMessage.dialog_topic_id)
        .where(DialogTopic.manager_group_id == group.id, TopicMessage.telegram_message_id == telegram_message_id,
               TopicMessage.kind == TopicMessageKind.REPLY_CARD)
    )).scalar_one_or_none()


async def add_note(session: AsyncSession, actor: Actor, group: ManagerGroup, *, thread_id: int | None,
                   telegram_message_id: int, text: str, now: datetime | None = None) -> None:
    """/note: an internal note on the customer — shown on the pinned card, never sent."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    text = text.strip()
    if not text:
        raise WorkspaceError("note_empty", "/note needs a text")
    now = _now(now)
    topic, dialog = await _topic_dialog(session, group, thread_id)
    customer = await session.get(Customer, dialog.customer_id)
    line = f"{now:%d.%m %H:%M} {actor.name}: {text}"
    customer.notes = f"{customer.notes}\n{line}" if customer.notes else line
    session.add(TopicMessage(dialog_topic_id=topic.id, telegram_message_id=telegram_message_id,
                             kind=TopicMessageKind.NOTE))
    events.record(session, "note_added", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, text=text)
    await react(session, group, telegram_message_id, NOTE_REACTION, dialog_id=dialog.id)
    await refresh_pinned_card(session, dialog)


async def react(session: AsyncSession, group: ManagerGroup, message_id: int, emoji: str,
                dialog_id: int | None = None) -> None:
    await outbox.enqueue(
        session, kind=Kind.REACT, destination=outbox.tg_group(group.chat_id), idempotency_key=_key("react"),
        tenant_id=group.tenant_id, dialog_id=dialog_id,
        payload={"chat_id": group.chat_id, "message_id": message_id, "emoji": emoji},
    )
