"""Deleting a customer's personal data on request (`salesop customer forget`).

What goes: the text of every message of the customer's dialogs (theirs and ours), past versions of edited messages,
attachments (rows, and the files in the media store no other attachment uses), the customer's identities on the
channels (who they are on VK / Telegram), profile fields, notes, tags, memory and summary, the AI's drafts and their
inputs, training samples, escalation summaries, texts in queued and past outbox commands and in audit events, and the
raw data of their traffic touches. A command still waiting to reach them is cancelled.

What stays, anonymous, for analytics: the customer, dialog and message rows (with their times, directions, counts,
outcomes and amounts), the traffic source and campaign. An audit event records who asked and what was removed.

The files are removed by the caller after the commit (`remove_files`): a rolled-back transaction must not have lost
them; a crash between the commit and the removal leaves unreferenced files, which a rerun of the command removes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..db import lock_dialog
from ..errors import NotFound
from ..media import MediaStore, UnsafeStorageKey
from ..models import (
    Attachment,
    CommandState,
    Customer,
    CustomerIdentity,
    Dialog,
    DialogTopic,
    Escalation,
    Event,
    Message,
    MessageEdit,
    OutboxCommand,
    Suggestion,
    TrafficTouch,
    TrainingSample,
)

# Event payload keys that may hold what someone wrote.
TEXT_KEYS = ("text", "old_text", "new_text", "customer_text", "final", "draft")


@dataclass
class Forgotten:
    customer_id: int
    dialogs: int = 0
    messages: int = 0
    attachments: int = 0
    identities: int = 0
    training_samples: int = 0
    cancelled_commands: int = 0
    files: list[str] = field(default_factory=list)  # storage keys no longer referenced: remove after commit

    def as_dict(self) -> dict:
        return {"customer_id": self.customer_id, "dialogs": self.dialogs, "messages": self.messages,
                "attachments": self.attachments, "identities": self.identities,
                "training_samples": self.training_samples, "cancelled_commands": self.cancelled_commands,
                "files": len(self.files)}


async def forget_customer(session: AsyncSession, *, tenant_id: int, customer_id: int,
                          actor_staff_id: int | None = None, requested_by: str | None = None,
                          now: datetime | None = None) -> Forgotten:
    """Remove the customer's personal data (see the module docstring). Idempotent: forgetting twice is harmless."""
    now = now or datetime.now(UTC)
    customer = (await session.execute(
        select(Customer).where(Customer.id == customer_id, Customer.tenant_id == tenant_id)
    )).scalar_one_or_none()
    if customer is None:
        raise NotFound(f"no customer {customer_id} in this business", code="reliability.forget.unknown",
                       customer=customer_id)
    result = Forgotten(customer_id=customer.id)
    dialog_ids = list((await session.execute(
        select(Dialog.id).where(Dialog.customer_id == customer.id).order_by(Dialog.id)
    )).scalars())
    for dialog_id in dialog_ids:  # the lock order (core.db): each dialog row first, in ascending id
        await lock_dialog(session, dialog_id)
    result.dialogs = len(dialog_ids)

    if dialog_ids:
        in_dialogs = Message.dialog_id.in_(dialog_ids)
        message_ids = select(Message.id).where(in_dialogs)
        attachments = list((await session.execute(
            select(Attachment.id, Attachment.storage_key).where(Attachment.message_id.in_(message_ids))
        )).all())
        result.attachments = len(attachments)
        keys = {key for _, key in attachments if key}
        if attachments:
            await session.execute(delete(Attachment).where(Attachment.id.in_([i for i, _ in attachments])))
        if keys:
            # Content-addressed: a file another attachment (another customer's same photo) uses stays.
            still_used = set((await session.execute(
                select(Attachment.storage_key).where(Attachment.storage_key.in_(keys))
            )).scalars())
            result.files = sorted(keys - still_used)
        await session.execute(delete(MessageEdit).where(MessageEdit.message_id.in_(message_ids)))
        result.messages = (await session.execute(
            update(Message).where(in_dialogs)
            .values(text="", extra={}, delivery_error=None, reply_to_external_id=None)
        )).rowcount or 0
        result.training_samples = (await session.execute(
            delete(TrainingSample).where(TrainingSample.dialog_id.in_(dialog_ids))
        )).rowcount or 0
        await session.execute(
            update(Suggestion).where(Suggestion.dialog_id.in_(dialog_ids))
            .values(text="", final_text=None, inputs={}, checks={}, reject_reason=None)
        )
        await session.execute(
            update(Escalation).where(Escalation.dialog_id.in_(dialog_ids))
            .values(reason="", summary=None, proposed_answer=None, to_clarify=None)
        )
        waiting = list((await session.execute(
            select(OutboxCommand.id).where(
                OutboxCommand.dialog_id.in_(dialog_ids),
                OutboxCommand.state.in_([CommandState.PENDING_APPROVAL, *outbox.RUNNABLE]))
        )).scalars())
        for command_id in waiting:
            if await outbox.cancel(session, command_id, reason="the customer's data was deleted"):
                result.cancelled_commands += 1
        # Texts in commands (sent, failed, cancelled) and in events: the keys go, the rest stays for statistics.
        await session.execute(
            update(OutboxCommand).where(OutboxCommand.dialog_id.in_(dialog_ids))
            .values(payload=OutboxCommand.payload.op("-")(text("CAST(:keys AS text[])")), result={})
            .execution_options(synchronize_session=False),
            {"keys": list(TEXT_KEYS)},
        )
        await session.execute(
            update(Event).where(Event.dialog_id.in_(dialog_ids))
            .values(payload=Event.payload.op("-")(text("CAST(:keys AS text[])")))
            .execution_options(synchronize_session=False),
            {"keys": list(TEXT_KEYS)},
        )
        await session.execute(
            update(Dialog).where(Dialog.id.in_(dialog_ids))
            .values(outcome_reason=None,
                    # The channel's chat id says who it was; the (channel, chat) pair must stay unique.
                    external_chat_id=func.concat("forgotten:", Dialog.id))
        )
        await session.execute(
            update(DialogTopic).where(DialogTopic.dialog_id.in_(dialog_ids))
            .values(title=func.concat("#", DialogTopic.dialog_id))
        )

    result.identities = (await session.execute(
        delete(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id)
    )).rowcount or 0
    await session.execute(update(TrafficTouch).where(TrafficTouch.customer_id == customer.id).values(raw={}))
    customer.display_name = f"#{customer.id}"
    customer.first_name = customer.last_name = customer.phone = customer.email = None
    customer.username = customer.profile_url = customer.notes = customer.summary = None
    customer.summary_updated_at = None
    customer.tags, customer.memory = [], {}
    customer.extra = {"forgotten_at": now.isoformat()}
    await session.flush()
    events.record(session, "customer_forgotten", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                  requested_by=requested_by, **result.as_dict())
    return result


def remove_files(store: MediaStore, keys: list[str]) -> int:
    """Delete the media files `forget_customer` freed (after its commit). Returns how many were removed."""
    removed = 0
    for key in keys:
        try:
            store.path_of(key).unlink()
            removed += 1
        except (FileNotFoundError, UnsafeStorageKey):
            continue
    return removed
