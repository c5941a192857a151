"""Mirroring: a live customer message (or their edit or deletion of one) shown in the dialog's topic, in the order the
customer wrote, creating the topic on first need.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import BigInteger, Integer, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ... import commands, outbox
from ...models import (
    Attachment,
    ChannelAccount,
    CommandOrigin,
    CommandState,
    Customer,
    Dialog,
    DialogTopic,
    Direction,
    ManagerGroup,
    Message,
    MessageEdit,
    OutboxCommand,
)
from . import routing
from .base import _UNREAD_AFTER, LATE_MIRROR_WINDOW, SENT_BY_COMMAND, Kind, Marker
from .routing import route_dialog
from .topics import (
    TOPIC_SETUP,
    _mirror_key,
    _mirror_payload,
    _sent_by_us,
    _topic_command,
    ensure_topic,
    set_marker,
    topic_for_dialog,
    topic_title,
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
    and no message in play is an outgoing one that may be our own send coming back — and so does a dialog without a
    topic in its group yet (its first messages): routed for the batch at once (routing.choose_groups), its topic row
    inserted and its set-up commands queued before its posts, as `ensure_topic` would. Any other dialog (a group
    that is gone or lacks rights, a marker to set, a possible echo) runs `mirror_message` per message, after the bulk
    insert. Returns how many posts were queued (as `mirror_message` counts them)."""
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
               ManagerGroup.tenant_id, ManagerGroup.is_active, ManagerGroup.missing_rights,
               Dialog.tenant_id, Dialog.channel_id, Dialog.manager_group_id)
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
    fresh: set[int] = set()  # dialogs without a topic in their group: routed and given one here (`_new_topics`)
    for (message_id, dialog_id, direction, external_id, shown, topic_id, marker, group_id, chat_id, tenant_id,
         active, missing, tenant_of_dialog, channel_id, current_group) in rows:
        if not shown:
            continue  # imported, or written through us: its own task queues nothing
        steps[dialog_id].append(message_id)
        if direction == Direction.OUT and external_id:
            slow.add(dialog_id)  # possibly our own send coming back: `_sent_by_us` decides, per message
        elif topic_id is None:
            fresh.add(dialog_id)
            place[dialog_id] = (tenant_of_dialog, channel_id, current_group)
            continue
        elif group_id is None or not active or missing \
                or (direction == Direction.IN and Marker(marker) in _UNREAD_AFTER):
            slow.add(dialog_id)
        place[dialog_id] = (topic_id, chat_id, tenant_id)
    fresh -= slow
    fast = {d: s for d, s in steps.items() if d not in slow and d not in fresh}
    queued, planned, setup = 0, [], []
    if fresh:
        fresh_planned, setup, handed_back = await _new_topics(session, {d: steps[d] for d in sorted(fresh)}, place)
        slow |= handed_back
        planned += fresh_planned
    if fast:
        fast_planned, fallback = await _plan_pending(session, fast, place)
        slow |= fallback
        planned += fast_planned
    if planned or setup:
        queued = await _insert_mirrors(session, planned, setup)
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


_PENDING_STATEMENT = None


def _pending_statement():
    """`_plan_pending`'s query, built once (its dialogs come as arrays: a VALUES list with the data in it could not
    be cached, and compiling it cost more than running it): per wanted dialog (its topic, its last step, how many at
    most), the latest live messages up to the step not yet mirrored to the topic, with whether each has media."""
    global _PENDING_STATEMENT
    if _PENDING_STATEMENT is None:
        wanted = func.unnest(
            bindparam("wanted_dialogs", type_=ARRAY(BigInteger)), bindparam("wanted_topics", type_=ARRAY(BigInteger)),
            bindparam("wanted_last", type_=ARRAY(BigInteger)), bindparam("wanted_caps", type_=ARRAY(Integer)),
        ).table_valued(column("dialog_id", BigInteger), column("topic_id", BigInteger), column("last_id", BigInteger),
                       column("cap", Integer)).render_derived(name="wanted", with_types=False)
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
        _PENDING_STATEMENT = select(inner).where(inner.c.rank <= inner.c.cap).order_by(inner.c.dialog_id, inner.c.id)
    return _PENDING_STATEMENT


async def _plan_pending(session: AsyncSession, fast: dict[int, list[int]],
                        place: dict[int, tuple]) -> tuple[list[tuple], set[int]]:
    """The mirror posts `mirror_message` would queue for each step in turn: at each, the not yet mirrored messages of
    its dialog up to it, at most LATE_MIRROR_WINDOW of the latest, oldest first. One query fetches, across all the
    dialogs, the candidates these steps can reach (the latest not mirrored ones up to each dialog's last step, as many
    as the steps could take together); a dialog whose steps would need older ones than fetched, or meet an outgoing
    message that may be our own echo, goes back to the per-message path (the returned set)."""
    limit_of = {d: LATE_MIRROR_WINDOW * (len(s) + 1) for d, s in fast.items()}
    wanted = [(d, place[d][0], max(s), limit_of[d]) for d, s in fast.items()]
    found = (await session.execute(_pending_statement(), {
        "wanted_dialogs": [w[0] for w in wanted], "wanted_topics": [w[1] for w in wanted],
        "wanted_last": [w[2] for w in wanted], "wanted_caps": [w[3] for w in wanted]})).all()
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


def _command_row(kind: str, chat_id: int, tenant_id: int, dialog_id: int, key: str, payload: dict) -> dict:
    """An outbox row exactly as `_topic_command` → `outbox.enqueue` writes it."""
    destination = outbox.tg_group(chat_id)
    commands.check_payload(kind, destination, payload)
    return dict(
        kind=kind, destination=destination, payload=payload, idempotency_key=key, tenant_id=tenant_id,
        dialog_id=dialog_id, suggestion_id=None, origin=CommandOrigin.SYSTEM, confidence=None, intent=None,
        state=CommandState.QUEUED, attempts=0, result={}, unconfirmed_sends=0,
    )


async def _insert_mirrors(session: AsyncSession, planned: list, setup: list[dict] = ()) -> int:
    """One multi-row insert of new topics' set-up commands (first: each dialog's lane runs them before its posts)
    and the mirror posts (a key already queued is left as it is); returns how many posts were inserted."""
    rows = list(setup)
    for message, topic_id, chat_id, tenant_id in planned:
        rows.append(_command_row(Kind.MIRROR, chat_id, tenant_id, message.dialog_id,
                                 _mirror_key(message.id, topic_id),
                                 {"topic_id": topic_id, **_mirror_payload(message, message.media)}))
    if not rows:
        return 0
    # Executed with the rows as parameters: insertmanyvalues renders them into one INSERT from a statement compiled
    # once (a multi-row VALUES built per batch cost more CPU than the database spends on it).
    inserted = (await session.execute(_COMMANDS_INSERT, rows)).scalars().all()
    return sum(1 for kind in inserted if kind == Kind.MIRROR)


_COMMANDS_INSERT = (insert(OutboxCommand.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
                    .returning(OutboxCommand.__table__.c.kind))


async def _new_topics(session: AsyncSession, fresh: dict[int, list[int]], found: dict[int, tuple]
                      ) -> tuple[list[tuple], list[dict], set[int]]:
    """Dialogs without a topic in their current group (`found`: dialog → (tenant, channel, current group)), as
    `mirror_message` runs them one after another: routed (routing.choose_groups), the topic created there with its
    set-up commands (createForumTopic, the pinned card, its pin), then the posts. Returns the posts (as
    `_plan_pending` does), the set-up command rows, and the dialogs handed back to the per-message path untouched (no
    group to go to, more waiting messages than one query fetches) or after routing (a topic that exists already:
    its marker may change)."""
    chosen = await routing.choose_groups(session, [(d, *found[d]) for d in fresh])
    handed_back = set(fresh) - set(chosen)
    if not chosen:  # no group to go to: `mirror_message` says so
        return [], [], handed_back
    # Planned before anything is written: a placeholder topic (no post is keyed to it yet) per dialog.
    place = {d: (-d, group.chat_id, group.tenant_id) for d, (group, _) in chosen.items()}
    planned, fallback = await _plan_pending(session, {d: fresh[d] for d in chosen}, place)
    handed_back |= fallback
    chosen = {d: c for d, c in chosen.items() if d not in fallback}
    if not chosen:
        return [], [], handed_back
    await routing.record_routes(session, chosen)
    titles = {d: topic_title(name, d, kind) for d, name, kind in (await session.execute(
        select(Dialog.id, Customer.display_name, ChannelAccount.kind)
        .join(Customer, Customer.id == Dialog.customer_id).join(ChannelAccount, ChannelAccount.id == Dialog.channel_id)
        .where(Dialog.id.in_(list(chosen)))
    )).all()}
    topics = DialogTopic.__table__
    created = dict((await session.execute(
        insert(topics).on_conflict_do_nothing(index_elements=["dialog_id", "manager_group_id"])
        .returning(topics.c.dialog_id, topics.c.id),
        [dict(dialog_id=d, manager_group_id=group.id, title=titles[d], status_marker=Marker.NEW.value)
         for d, (group, _) in sorted(chosen.items())],
    )).all())
    handed_back |= set(chosen) - set(created)  # made meanwhile by another way in: `ensure_topic` finds it
    setup, posts = [], []
    for dialog_id, topic_id in sorted(created.items()):
        group = chosen[dialog_id][0]
        setup += [_command_row(kind, group.chat_id, group.tenant_id, dialog_id, f"topic:{topic_id}:{part}:1",
                               {"topic_id": topic_id}) for kind, part in TOPIC_SETUP]
    for message, _, chat_id, tenant_id in planned:
        if message.dialog_id in created:
            posts.append((message, created[message.dialog_id], chat_id, tenant_id))
    return posts, setup, handed_back


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
