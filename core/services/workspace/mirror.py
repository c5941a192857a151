"""Mirroring: a live customer message (or their edit or deletion of one) shown in the dialog's topic, in the order the
customer wrote, creating the topic on first need.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import Integer, column, func, select, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ... import commands, outbox
from ...models import (
    Attachment,
    CommandOrigin,
    CommandState,
    Dialog,
    DialogTopic,
    Direction,
    ManagerGroup,
    Message,
    MessageEdit,
    OutboxCommand,
)
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


def _mirrorable():
    """What a mirror task shows at all: live, written by the customer or on the shop's own account (not by a manager
    through us, not a send of ours recorded as such)."""
    return (Message.is_imported.is_(False), Message.author_staff_id.is_(None),
            ~Message.extra.has_key(SENT_BY_COMMAND))


async def mirror_many(session: AsyncSession, message_ids: list[int]) -> int:
    """Several MIRROR_MESSAGE tasks in one transaction, with the outbox rows `mirror_message` would queue for each
    of them in turn (same payloads, keys, order within each dialog) — in a few statements for the batch instead of
    about seven per message.

    The dialogs are locked first, in ascending id (core.db's lock order for several dialogs). The bulk path takes the
    common case: the dialog's topic exists in its connected group that has the bot's rights, no status marker changes,
    and no message in play is an outgoing one that may be our own send coming back. Any other dialog (no group or topic
    yet, a group that is gone or lacks rights, a marker to set, a possible echo) runs `mirror_message` per message,
    after the bulk insert. Returns how many posts were queued (as `mirror_message` counts them)."""
    if not message_ids:
        return 0
    ids = sorted(set(message_ids))
    # 1. The messages with their dialogs (locked, ascending id: FOR UPDATE locks rows in the order they come out of
    # the sort), each dialog's current group and its topic there — one statement.
    rows = (await session.execute(
        select(Message.id, Message.dialog_id, Message.direction, Message.external_id,
               (Message.is_imported.is_(False) & Message.author_staff_id.is_(None)
                # as `mirror_message` reads it: a message without extra is no send of ours
                & ~func.coalesce(Message.extra.has_key(SENT_BY_COMMAND), False)).label("mirrorable"),
               DialogTopic.id, DialogTopic.status_marker, ManagerGroup.id, ManagerGroup.chat_id,
               ManagerGroup.tenant_id, ManagerGroup.is_active, ManagerGroup.missing_rights)
        .join(Dialog, Dialog.id == Message.dialog_id)
        .outerjoin(ManagerGroup, ManagerGroup.id == Dialog.manager_group_id)
        .outerjoin(DialogTopic, (DialogTopic.dialog_id == Dialog.id)
                   & (DialogTopic.manager_group_id == Dialog.manager_group_id))
        .where(Message.id.in_(ids))
        .order_by(Dialog.id, Message.id)
        .with_for_update(of=Dialog)
    )).all()
    steps: dict[int, list[int]] = defaultdict(list)  # dialog → its messages a task of their own would mirror
    place: dict[int, tuple] = {}  # dialog → (topic id, group chat id, tenant id)
    slow: set[int] = set()  # dialogs left to the per-message path
    for (message_id, dialog_id, direction, external_id, shown, topic_id, marker, group_id, chat_id, tenant_id,
         active, missing) in rows:
        if not shown:
            continue  # imported, or written through us: its own task queues nothing
        steps[dialog_id].append(message_id)
        if topic_id is None or group_id is None or not active or missing \
                or (direction == Direction.OUT and external_id) \
                or (direction == Direction.IN and Marker(marker) in _UNREAD_AFTER):
            slow.add(dialog_id)
        place[dialog_id] = (topic_id, chat_id, tenant_id)
    fast = {d: s for d, s in steps.items() if d not in slow}
    queued, planned = 0, []
    if fast:
        planned, fallback = await _plan_pending(session, fast, place)
        slow |= fallback
        queued = await _insert_mirrors(session, planned)
    if slow:
        # Loaded once and held (the identity map keeps only what is referenced): each mirror then finds its message
        # and the tenant's groups without a query of its own. The dialogs are locked already, in order.
        slow_ids = [m for d in sorted(slow) for m in steps[d]]
        held = list((await session.execute(select(Message).where(Message.id.in_(slow_ids)))).scalars())
        held += list((await session.execute(
            select(ManagerGroup).where(ManagerGroup.tenant_id.in_(
                select(Dialog.tenant_id).where(Dialog.id.in_(slow))))
        )).scalars())
        for message_id in slow_ids:  # each as its own task would, in order within its dialog
            queued += await mirror_message(session, message_id)
        del held
    return queued


async def _plan_pending(session: AsyncSession, fast: dict[int, list[int]],
                        place: dict[int, tuple]) -> tuple[list[tuple], set[int]]:
    """The mirror posts `mirror_message` would queue for each step in turn: at each, the not yet mirrored messages of
    its dialog up to it, at most LATE_MIRROR_WINDOW of the latest, oldest first. One query fetches, across all the
    dialogs, the candidates these steps can reach (the latest not mirrored ones up to each dialog's last step, as many
    as the steps could take together); a dialog whose steps would need older ones than fetched, or meet an outgoing
    message that may be our own echo, goes back to the per-message path (the returned set)."""
    limit_of = {d: LATE_MIRROR_WINDOW * (len(s) + 1) for d, s in fast.items()}
    wanted = values(column("dialog_id", Integer), column("topic_id", Integer), column("last_id", Integer),
                    column("cap", Integer), name="wanted").data(
        [(d, place[d][0], max(s), limit_of[d]) for d, s in fast.items()])
    has_media = select(Attachment.id).where(Attachment.message_id == Message.id).exists()
    already = select(OutboxCommand.id).where(
        OutboxCommand.idempotency_key == func.concat("mirror:", Message.id, ":", wanted.c.topic_id)).exists()
    rank = func.row_number().over(partition_by=Message.dialog_id, order_by=Message.id.desc())
    inner = (
        select(Message.id, Message.dialog_id, Message.direction, Message.external_id, Message.media_group_id,
               Message.text, has_media.label("media"), wanted.c.cap, rank.label("rank"))
        .join(wanted, wanted.c.dialog_id == Message.dialog_id)
        .where(Message.id <= wanted.c.last_id, *_mirrorable(), ~already)
    ).subquery()
    found = (await session.execute(
        select(inner).where(inner.c.rank <= inner.c.cap).order_by(inner.c.dialog_id, inner.c.id)
    )).all()
    candidates: dict[int, list] = defaultdict(list)
    for row in found:
        candidates[row.dialog_id].append(row)
    planned, fallback = [], set()
    for dialog_id, dialog_steps in fast.items():
        rows = candidates.get(dialog_id, [])
        truncated = len(rows) >= limit_of[dialog_id]  # older not mirrored messages may exist beyond what was fetched
        topic_id, chat_id, tenant_id = place[dialog_id]
        done: set[int] = set()
        posts = []
        for step in sorted(dialog_steps):
            open_ = [r for r in rows if r.id <= step and r.id not in done]
            take = open_[-LATE_MIRROR_WINDOW:]
            if truncated and len(take) < LATE_MIRROR_WINDOW:
                posts = None  # this step would reach messages older than the fetched ones
                break
            for r in take:
                if r.id != step and r.direction == Direction.OUT and r.external_id:
                    posts = None  # possibly our own send coming back: `_sent_by_us` decides, per message
                    break
                done.add(r.id)
                posts.append((r, topic_id, chat_id, tenant_id))
            if posts is None:
                break
        if posts is None:
            fallback.add(dialog_id)
        else:
            planned.extend(posts)
    return planned, fallback


async def _insert_mirrors(session: AsyncSession, planned: list) -> int:
    """One multi-row insert of the mirror posts, exactly as `_topic_command` → `outbox.enqueue` writes each (a key
    already queued is left as it is); nothing is read back."""
    if not planned:
        return 0
    rows = []
    for message, topic_id, chat_id, tenant_id in planned:
        destination = outbox.tg_group(chat_id)
        payload = {"topic_id": topic_id, **_mirror_payload(message, message.media)}
        commands.check_payload(Kind.MIRROR, destination, payload)
        rows.append(dict(
            kind=Kind.MIRROR, destination=destination, payload=payload,
            idempotency_key=_mirror_key(message.id, topic_id), tenant_id=tenant_id, dialog_id=message.dialog_id,
            suggestion_id=None, origin=CommandOrigin.SYSTEM, confidence=None, intent=None, state=CommandState.QUEUED,
            attempts=0, result={}, unconfirmed_sends=0,
        ))
    inserted = (await session.execute(
        insert(OutboxCommand).values(rows).on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxCommand.id)
    )).all()
    return len(inserted)


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
