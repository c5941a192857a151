"""Mirroring: a live customer message (or their edit or deletion of one) shown in the dialog's topic, in the order the
customer wrote, creating the topic on first need.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import Attachment, Dialog, Direction, Message, MessageEdit, OutboxCommand
from .base import _UNREAD_AFTER, LATE_MIRROR_WINDOW, SENT_BY_COMMAND, Kind, Marker
from .routing import route_dialog
from .topics import (
    _mirror_key,
    _mirror_payload,
    _sent_by_us,
    _topic_command,
    ensure_topic,
    set_marker,
    topic_for_dialog,
)

log = logging.getLogger(__name__)


async def mirror_message(session: AsyncSession, message_id: int) -> int:
    """Task MIRROR_MESSAGE: show a live message in its dialog's topic (creating the topic on first need).

    Imported history is never mirrored. The dialog row is locked so that concurrent mirrors of one dialog queue their
    posts in message order; a message whose task ran late is queued before the one that triggered this run.
    Returns how many posts were queued."""
    message = await session.get(Message, message_id)
    if message is None or message.is_imported:
        return 0
    dialog = (await session.execute(select(Dialog).where(Dialog.id == message.dialog_id).with_for_update())).scalar_one()
    if message.author_staff_id is not None or SENT_BY_COMMAND in (message.extra or {}) \
            or await _sent_by_us(session, message):
        return 0  # our own reply coming back from the channel: the topic shows it already
    group = await route_dialog(session, dialog)
    if group is None:
        log.info("tenant %s has no manager group yet: dialog %s is not mirrored", dialog.tenant_id, dialog.id)
        return 0
    topic, _ = await ensure_topic(session, dialog, group)
    # Messages of this dialog whose mirror task has not queued a post yet (e.g. it runs a moment later), oldest
    # first, so that the posts follow the order the customer wrote in; one query, with whether each has media.
    mirror_key = func.concat("mirror:", Message.id, f":{topic.id}")
    has_media = select(Attachment.id).where(Attachment.message_id == Message.id).exists()
    already = select(OutboxCommand.id).where(OutboxCommand.idempotency_key == mirror_key).exists()
    pending = (await session.execute(
        select(Message, has_media)
        .where(Message.dialog_id == dialog.id, Message.id <= message.id, Message.is_imported.is_(False),
               Message.author_staff_id.is_(None), ~Message.extra.has_key(SENT_BY_COMMAND), ~already)
        .order_by(Message.id.desc()).limit(LATE_MIRROR_WINDOW)
    )).all()
    queued = 0
    for item, media in reversed(pending):
        if item.id != message.id and await _sent_by_us(session, item):
            continue
        await _topic_command(session, group, topic, Kind.MIRROR, _mirror_key(item.id, topic.id),
                             **_mirror_payload(item, media))
        queued += 1
    if message.direction == Direction.IN and Marker(topic.status_marker) in _UNREAD_AFTER:
        await set_marker(session, dialog, Marker.UNREAD, found=(topic, group))
    return queued


async def mirror_change(session: AsyncSession, message_id: int) -> bool:
    """Task MIRROR_EDIT: a customer edited or deleted a message — a short note replying to its mirror."""
    message = await session.get(Message, message_id)
    if message is None or message.is_imported:
        return False
    dialog = await session.get(Dialog, message.dialog_id)
    found = await topic_for_dialog(session, dialog)
    if found is None:
        return False
    topic, group = found
    if message.deleted_at is not None:
        change, key = "delete", f"change:{message.id}:deleted"
        old_text, new_text = message.text, None
    else:
        last = (await session.execute(
            select(MessageEdit).where(MessageEdit.message_id == message.id).order_by(MessageEdit.id.desc()).limit(1)
        )).scalar_one_or_none()
        change, key = "edit", f"change:{message.id}:edit:{message.edit_count}"
        old_text, new_text = (last.old_text if last else None), message.text
    await _topic_command(session, group, topic, Kind.MIRROR_CHANGE, key, message_id=message.id, change=change,
                         old_text=old_text, new_text=new_text)
    return True
