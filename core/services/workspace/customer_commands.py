"""The command kinds sent to customers through a channel, one definition each (core.commands.CommandKind): send,
edit, take back a reply — the call to the ChannelGateway, what its delivery changes (our copy of the message, the
dialog, the card, the topic marker), and what people see when it failed for good."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events
from ...commands import Call, CommandKind, Destination, GatewayAction, channel_id_of
from ...models import (
    AuthorKind,
    CommandOrigin,
    CommandState,
    Customer,
    Dialog,
    DialogStatus,
    Direction,
    Message,
    MessageEdit,
    OutboxCommand,
    Suggestion,
    SuggestionState,
)
from ...ports import DeliveryError
from .. import sent_replies
from .base import DELIVERED_REACTION, SENT_BY_COMMAND, Kind, Marker
from .calls import CommandSteps
from .cards import queue_card_edit
from .replies import react
from .topics import notice, refresh_pinned_card, set_marker, topic_for_dialog


class SendPayload(TypedDict):
    dialog_id: int
    chat_id: NotRequired[str | int | None]  # the AI pipeline names the dialog only
    text: NotRequired[str]
    media: NotRequired[list]
    staff_id: NotRequired[int | None]
    suggestion_id: NotRequired[int | None]
    topic_message: NotRequired[dict | None]  # where the manager's reply stands in the topic
    typing: NotRequired[bool]
    delay_seconds: NotRequired[float]
    auto: NotRequired[str]


class CustomerKind(CommandSteps, CommandKind):
    destination = Destination.CHANNEL


class SendCustomerMessage(CustomerKind):
    name = Kind.SEND_CUSTOMER
    payload = SendPayload
    typing = True

    async def prepare(self, session, commands):
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

    async def record(self, session, commands, delivery, now):
        command = commands[0]
        p = command.payload
        dialog = (await session.execute(select(Dialog).where(Dialog.id == p["dialog_id"]).with_for_update())).scalar_one()
        staff_id = p.get("staff_id")
        values = dict(
            tenant_id=dialog.tenant_id, dialog_id=dialog.id, external_id=delivery.external_id,
            direction=Direction.OUT, author_kind=AuthorKind.MANAGER if staff_id else AuthorKind.AI,
            author_staff_id=staff_id, text=p.get("text") or "", sent_at=now, is_read=True,
            extra={SENT_BY_COMMAND: command.id, "media": p.get("media") or []},
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
        found = await topic_for_dialog(session, dialog)
        if found is not None and Marker(found[0].status_marker) not in (Marker.WON, Marker.LOST, Marker.ESCALATED):
            await set_marker(session, dialog, Marker.ANSWERED)
        if command.suggestion_id:
            suggestion = await session.get(Suggestion, command.suggestion_id)
            if suggestion is not None and suggestion.state == SuggestionState.PENDING:
                # An automatic reply went out: the draft was sent as it is.
                suggestion.state, suggestion.final_text, suggestion.decided_at = SuggestionState.SENT, suggestion.text, now
            await queue_card_edit(session, command.suggestion_id)
        elif (where := p.get("topic_message")) and found is not None:
            await react(session, found[1], where["message_id"], DELIVERED_REACTION, dialog_id=dialog.id)

    async def record_failure(self, session, commands, error, *, retrying):
        if retrying:
            return
        command = commands[0]
        p = command.payload
        command.result = {**(command.result or {}), "error_code": error.code or "error"}  # what the card shows
        dialog = await session.get(Dialog, p["dialog_id"])
        if error.code == "blocked":
            customer = await session.get(Customer, dialog.customer_id)
            customer.blocked = True
            if dialog.status != DialogStatus.INACTIVE:
                dialog.status = DialogStatus.INACTIVE
                events.record(session, "customer_blocked", tenant_id=dialog.tenant_id, dialog_id=dialog.id)
            await set_marker(session, dialog, Marker.BLOCKED)
            await refresh_pinned_card(session, dialog)
        if command.suggestion_id:
            await queue_card_edit(session, command.suggestion_id)
            return
        found = await topic_for_dialog(session, dialog)
        if found is None:
            return
        topic, group = found
        where = p.get("topic_message") or {}
        await notice(session, group, key="delivery_failed", topic=topic, reply_to=where.get("message_id"),
                        params={"reason": error.code or "error", "detail": error.reason[:200]})


class ChangePayload(TypedDict):
    dialog_id: int
    chat_id: str | int
    send_command_id: int
    staff_id: NotRequired[int | None]
    topic_message: NotRequired[dict | None]
    applied: NotRequired[dict]  # what prepare changed in our copy before the call (a retry finds it done)


class EditPayload(ChangePayload):
    text: str


class EditCustomerMessage(CustomerKind):
    """A delivered reply corrected (core.services.sent_replies)."""

    name = sent_replies.EDIT_CUSTOMER
    payload = EditPayload
    repeatable = True

    async def prepare(self, session, commands):
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
                    idempotency_key=command.idempotency_key, action=GatewayAction.EDIT)

    async def _apply_edit(self, session: AsyncSession, send: OutboxCommand, text: str) -> dict:
        """Our copy of the reply takes the new text just before the channel is asked, because the channel reports
        our own edit back (VK long poll, Telegram updates) and that echo must find nothing new — else it would look
        like an edit by the customer. A permanent failure puts the old text back (record_failure)."""
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

    async def record(self, session, commands, delivery, now):
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

    async def record_failure(self, session, commands, error, *, retrying):
        """The customer keeps the old text (VK's 24 hours passed, the message is gone...): so does our copy, and the
        manager is told why."""
        if retrying:
            return
        command = commands[0]
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


class DeleteCustomerMessage(CustomerKind):
    """A delivered reply taken back (core.services.sent_replies)."""

    name = sent_replies.DELETE_CUSTOMER
    payload = ChangePayload
    repeatable = True

    async def prepare(self, session, commands):
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
                    idempotency_key=command.idempotency_key, action=GatewayAction.DELETE)

    async def record(self, session, commands, delivery, now):
        command = commands[0]
        events.record(session, "customer_message_taken_back", tenant_id=command.tenant_id,
                      dialog_id=command.dialog_id, actor_staff_id=command.payload.get("staff_id"),
                      command_id=command.id, delivered=True)
        await self._reply_notice(session, command, "reply_deleted")

    async def record_failure(self, session, commands, error, *, retrying):
        if retrying:
            return
        command = commands[0]
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


CUSTOMER_KINDS = (SendCustomerMessage, EditCustomerMessage, DeleteCustomerMessage)
