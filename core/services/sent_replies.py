"""A reply that already went to a customer, corrected or taken back by a manager.

A manager edits their reply in the dialog's topic as anyone edits a Telegram message: the customer's copy is
corrected too. Replying /delete to it takes it back: it is deleted for the customer. Both are outbox commands in the
dialog's lane to its channel (so they run after the send itself), executed through ChannelGateway.edit / .delete by
core.services.workspace.customer_commands; a reply that has not left yet is simply changed or cancelled instead.

Nothing here talks to a channel; functions take the caller's session and never commit.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..models import (
    CommandOrigin,
    CommandState,
    Dialog,
    ManagerGroup,
    Message,
    OutboxCommand,
)
from ..permissions import Permission
from .workspace import base, replies, topics
from .workspace.base import Actor, WorkspaceError

# Outbox kinds; destination: the dialog's channel (outbox.channel_dest), the same lane as the send they follow.
EDIT_CUSTOMER = "edit_customer_message"  # {dialog_id, chat_id, send_command_id, text, staff_id, topic_message}
DELETE_CUSTOMER = "delete_customer_message"  # {dialog_id, chat_id, send_command_id, staff_id, topic_message}

NOT_LEFT_YET = (CommandState.PENDING_APPROVAL, *outbox.RUNNABLE)
NEVER_DELIVERED = (CommandState.FAILED, CommandState.CANCELLED)


async def _typed_reply(session: AsyncSession, group: ManagerGroup, telegram_message_id: int) -> OutboxCommand | None:
    return (await session.execute(
        select(OutboxCommand)
        .where(OutboxCommand.idempotency_key == replies.manager_reply_key(group.chat_id, telegram_message_id))
        .with_for_update()
    )).scalar_one_or_none()


def _follow_ups(kind: str, send: OutboxCommand):
    return select(OutboxCommand).where(
        OutboxCommand.dialog_id == send.dialog_id, OutboxCommand.kind == kind,
        OutboxCommand.payload["send_command_id"].astext == str(send.id),
    )


async def _taken_back(session: AsyncSession, send: OutboxCommand) -> OutboxCommand | None:
    """A /delete of this reply that is done or still on its way (a failed one took nothing back)."""
    return (await session.execute(
        _follow_ups(DELETE_CUSTOMER, send).where(OutboxCommand.state.notin_(NEVER_DELIVERED))
        .order_by(OutboxCommand.id.desc()).limit(1)
    )).scalar_one_or_none()


async def current_text(session: AsyncSession, send: OutboxCommand) -> str:
    """What the reply says now as far as the manager asked: the latest edit done or on its way (a failed one left
    the customer the text before it), else the text sent."""
    latest = (await session.execute(
        _follow_ups(EDIT_CUSTOMER, send).with_only_columns(OutboxCommand.payload["text"].astext)
        .where(OutboxCommand.state.notin_(NEVER_DELIVERED))
        .order_by(OutboxCommand.id.desc()).limit(1)
    )).scalar_one_or_none()
    return latest if latest is not None else (send.payload.get("text") or "")


async def sent_message(session: AsyncSession, send: OutboxCommand) -> Message | None:
    """Our row of the delivered reply (written when the send was recorded)."""
    return (await session.execute(
        select(Message).where(Message.dialog_id == send.dialog_id,
                              Message.extra[base.SENT_BY_COMMAND].astext == str(send.id))
        .order_by(Message.id).limit(1)
    )).scalar_one_or_none()


def _follow_up_payload(send: OutboxCommand, actor: Actor, **extra) -> dict:
    """`topic_message` is where the reply stands in the topic: the notices about it reply to that message."""
    return {"dialog_id": send.dialog_id, "chat_id": send.payload.get("chat_id"), "send_command_id": send.id,
            "staff_id": actor.staff_id, "topic_message": send.payload.get("topic_message"), **extra}


async def correct_reply(session: AsyncSession, actor: Actor, group: ManagerGroup, *, telegram_message_id: int,
                        text: str, edit_marker: str | None = None) -> OutboxCommand | None:
    """A manager edited their message in a dialog's topic. If it was a reply to the customer, the customer's copy
    is corrected: a reply still waiting to leave just carries the new text, a delivered one gets an edit command.
    Returns the command that will carry the new text, or None when the message was no reply (a note, a command,
    an edit of a card) or its text did not change (formatting only)."""
    send = await _typed_reply(session, group, telegram_message_id)
    if send is None:
        return None
    actor.require(Permission.MANAGE_CONVERSATIONS)
    if not (text or "").strip():
        raise WorkspaceError("edit_empty", "an edit cannot leave the reply empty")
    if text == await current_text(session, send):
        return None
    if await _taken_back(session, send) is not None:
        raise WorkspaceError("reply_taken_back", "this reply was deleted for the customer: write a new one")
    if send.state in NEVER_DELIVERED:
        raise WorkspaceError("reply_not_delivered", "this message did not reach the customer")
    events.record(session, "customer_message_edit_requested", tenant_id=send.tenant_id, dialog_id=send.dialog_id,
                  actor_staff_id=actor.staff_id, command_id=send.id)
    if send.state in NOT_LEFT_YET:
        # Locked above, so no dispatcher takes it meanwhile: the customer simply gets the corrected text.
        send.payload = {**send.payload, "text": text}
        return send
    return await outbox.enqueue(
        session, kind=EDIT_CUSTOMER, destination=send.destination,
        idempotency_key=f"{send.idempotency_key}:edit:{edit_marker or uuid.uuid4().hex}",
        tenant_id=send.tenant_id, dialog_id=send.dialog_id, origin=CommandOrigin.MANAGER,
        payload=_follow_up_payload(send, actor, text=text),
    )


async def take_back(session: AsyncSession, actor: Actor, group: ManagerGroup, *, thread_id: int | None,
                    command_message_id: int, target_message_id: int | None) -> OutboxCommand:
    """/delete as a reply to the manager's own message that went to the customer. A reply still waiting to leave is
    cancelled (with a notice at once); a delivered one gets a delete command (its notice follows the deletion)."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    if target_message_id is None:
        raise WorkspaceError("delete_needs_reply", "reply /delete to your message that went to the customer")
    send = await _typed_reply(session, group, target_message_id)
    if send is None:
        raise WorkspaceError("delete_not_a_reply", "this message did not go to a customer")
    if send.payload.get("staff_id") != actor.staff_id:
        raise WorkspaceError("delete_not_yours", "only its author can take a reply back")
    topic = await topics.topic_by_thread(session, group, thread_id)
    if topic is not None and topic.dialog_id != send.dialog_id:
        raise WorkspaceError("delete_not_a_reply", "this message did not go to a customer")
    if send.state in NEVER_DELIVERED:
        raise WorkspaceError("reply_not_delivered", "this message did not reach the customer")
    if await _taken_back(session, send) is not None:
        raise WorkspaceError("reply_already_deleted", "this reply has been deleted for the customer already")
    dialog = await session.get(Dialog, send.dialog_id)
    found = await topics.topic_for_dialog(session, dialog)
    if send.state in NOT_LEFT_YET:
        await outbox.cancel(session, send.id, reason="taken back by a manager before it left")
        events.record(session, "customer_message_taken_back", tenant_id=send.tenant_id, dialog_id=send.dialog_id,
                      actor_staff_id=actor.staff_id, command_id=send.id, delivered=False)
        if found is not None:
            await topics.notice(session, found[1], key="reply_cancelled", topic=found[0], reply_to=target_message_id)
        return send
    events.record(session, "customer_message_delete_requested", tenant_id=send.tenant_id, dialog_id=send.dialog_id,
                  actor_staff_id=actor.staff_id, command_id=send.id)
    return await outbox.enqueue(
        session, kind=DELETE_CUSTOMER, destination=send.destination,
        idempotency_key=f"{send.idempotency_key}:delete:{command_message_id}",
        tenant_id=send.tenant_id, dialog_id=send.dialog_id, origin=CommandOrigin.MANAGER,
        payload=_follow_up_payload(send, actor),
    )
