"""Which manager group a dialog lives in, and moving it to another one.

How a tenant's new dialogs are spread over its manager groups (Tenant.group_routing):
- "round_robin" (the default): every new dialog goes to the healthy group holding the fewest dialog topics (ties:
  the oldest group), whatever channel it came through;
- "by_channel": a dialog goes to the group its channel names (ChannelAccount.manager_group_id), followed along the
  group's rotation to a fresh one; a channel naming none goes to a group of its team (channel setting "team").
  When that group cannot take it (disconnected, or not ready for topics), or the channel names none, it falls back
  to round robin over the healthy groups, and the event "dialog_routed" says why.
Healthy: connected (is_active), not rotated away, not full while a fresher one exists, with the forum mode and the
bot's rights (a group lacking them is used only when no other exists). Either way a dialog stays in the group that
holds its topic for as long as that group is connected.
"""

from __future__ import annotations

import logging

from sqlalchemy import BigInteger, bindparam, column, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, outbox
from ...models import (
    Attachment,
    ChannelAccount,
    CommandState,
    Dialog,
    DialogTopic,
    Event,
    ManagerGroup,
    Message,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    Tenant,
)
from .base import LATE_MIRROR_WINDOW, ROTATE_AFTER, SENT_BY_COMMAND, Kind
from .topics import _mirror_key, _mirror_payload, _sent_by_us, _topic_command, ensure_topic

log = logging.getLogger(__name__)


ROUND_ROBIN = "round_robin"
BY_CHANNEL = "by_channel"
GROUP_ROUTINGS = (ROUND_ROBIN, BY_CHANNEL)


async def _follow_rotation(session: AsyncSession, group: ManagerGroup) -> ManagerGroup:
    seen = {group.id}
    while group.rotated_to_id is not None and group.rotated_to_id not in seen:
        group = await session.get(ManagerGroup, group.rotated_to_id)
        seen.add(group.id)
    return group


async def _healthy_groups(session: AsyncSession, tenant_id: int) -> list[ManagerGroup]:
    groups = list((await session.execute(
        select(ManagerGroup).where(ManagerGroup.tenant_id == tenant_id, ManagerGroup.is_active.is_(True),
                                   ManagerGroup.rotated_to_id.is_(None))
        .order_by(ManagerGroup.id)
    )).scalars())
    # A group near Telegram's practical size takes no new dialogs while a fresher one exists.
    groups = [g for g in groups if g.message_count < ROTATE_AFTER] or groups
    # A group without the forum mode or the bot's rights cannot hold topics while a ready one exists.
    return [g for g in groups if not g.missing_rights] or groups


async def _least_loaded(session: AsyncSession, groups: list[ManagerGroup]) -> ManagerGroup:
    """The group holding the fewest dialog topics (dialogs imported or preset there without a topic weigh nothing)."""
    counts = dict((await session.execute(
        select(DialogTopic.manager_group_id, func.count())
        .where(DialogTopic.manager_group_id.in_([g.id for g in groups])).group_by(DialogTopic.manager_group_id)
    )).all())
    return min(groups, key=lambda g: (counts.get(g.id, 0), g.id))


async def _channel_group(session: AsyncSession, channel: ChannelAccount,
                         groups: list[ManagerGroup]) -> tuple[ManagerGroup | None, str]:
    """by_channel: the channel's group and why it was chosen, or None and why it could not be."""
    if channel.manager_group_id is None:
        if (team := (channel.settings or {}).get("team")) and \
                (group := next((g for g in groups if g.team == team), None)) is not None:
            return group, "channel_team"
        return None, "channel_names_no_group"
    own = await session.get(ManagerGroup, channel.manager_group_id)
    group = await _follow_rotation(session, own)
    if not group.is_active:
        return None, "channel_group_inactive"
    if group.missing_rights:
        return None, "channel_group_not_ready"
    return group, "channel_group" if group.id == own.id else "channel_group_rotated"


async def _has_topic(session: AsyncSession, dialog: Dialog, group: ManagerGroup) -> bool:
    return (await session.execute(
        select(DialogTopic.id).where(DialogTopic.dialog_id == dialog.id, DialogTopic.manager_group_id == group.id)
    )).first() is not None


async def route_dialog(session: AsyncSession, dialog: Dialog) -> ManagerGroup | None:
    """The manager group a dialog lives in: the connected group that holds its topic, else the one the tenant's
    routing picks (see GROUP_ROUTINGS above) — then remembered on the dialog and recorded as "dialog_routed".

    A dialog leaves the group holding its topic when the bot was removed from it, or when the group cannot make
    topics and this dialog's topic was never created there while a ready group can take it: its waiting work moves
    along (_move_dialog). With no ready group to go to, it stays where its topic is and waits (group_broke)."""
    current = await session.get(ManagerGroup, dialog.manager_group_id) if dialog.manager_group_id else None
    has_topic = current is not None and await _has_topic(session, dialog, current)
    if has_topic and current.is_active and not await _may_leave(session, dialog, current):
        return current
    groups = await _healthy_groups(session, dialog.tenant_id)
    if not groups:
        return None
    if has_topic and current.is_active and all(g.missing_rights for g in groups):
        return current  # nowhere ready to go: it waits in its group
    tenant = await session.get(Tenant, dialog.tenant_id)
    mode = tenant.group_routing if tenant.group_routing in GROUP_ROUTINGS else ROUND_ROBIN
    chosen, reason = None, "round_robin"
    if mode == BY_CHANNEL:
        chosen, why = await _channel_group(session, await session.get(ChannelAccount, dialog.channel_id), groups)
        if chosen is not None:
            reason = why
        else:
            reason = f"round_robin:{why}"
            log.info("dialog %s: its channel's group cannot take it (%s): round robin", dialog.id, why)
    if chosen is None:
        chosen = await _least_loaded(session, groups)
    previous = dialog.manager_group_id
    dialog.manager_group_id = chosen.id
    events.record(session, "dialog_routed", tenant_id=dialog.tenant_id, dialog_id=dialog.id, group_id=chosen.id,
                  mode=mode, reason=reason, previous_group_id=previous)
    if has_topic and chosen.id != current.id:
        await _move_dialog(session, dialog, current, chosen)
    return chosen


async def _may_leave(session: AsyncSession, dialog: Dialog, group: ManagerGroup) -> bool:
    """Whether a dialog may leave the group holding its topic: the bot is gone from it, or the group cannot take
    work and the dialog's topic was never created there (nothing of its history is there)."""
    if not group.is_active:
        return True
    if not group.missing_rights:
        return False
    thread = (await session.execute(
        select(DialogTopic.thread_id).where(DialogTopic.dialog_id == dialog.id,
                                            DialogTopic.manager_group_id == group.id)
    )).first()
    return thread is None or thread[0] is None


async def _cancel_lane(session: AsyncSession, dialog_id: int, destination: str, reason: str) -> int:
    """Drop a dialog's queued work for a group it no longer lives in (its topic is elsewhere now)."""
    result = await session.execute(
        update(OutboxCommand)
        .where(OutboxCommand.dialog_id == dialog_id, OutboxCommand.destination == destination,
               OutboxCommand.state.in_(outbox.RUNNABLE))
        .values(state=CommandState.CANCELLED, last_error=reason, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def _move_dialog(session: AsyncSession, dialog: Dialog, old: ManagerGroup, new: ManagerGroup) -> None:
    """The dialog left `old` for `new` (route_dialog): what still waited there is dropped, and the new group gets a
    topic with the dialog's recent messages and its pending reply cards — as the old topic would have shown them."""
    dropped = await _cancel_lane(session, dialog.id, outbox.tg_group(old.chat_id), f"moved to manager group {new.id}")
    topic, _ = await ensure_topic(session, dialog, new)
    has_media = select(Attachment.id).where(Attachment.message_id == Message.id).exists()
    already = select(OutboxCommand.id).where(
        OutboxCommand.idempotency_key == func.concat("mirror:", Message.id, f":{topic.id}")).exists()
    recent = (await session.execute(
        select(Message, has_media)
        .where(Message.dialog_id == dialog.id, Message.is_imported.is_(False), Message.author_staff_id.is_(None),
               ~Message.extra.has_key(SENT_BY_COMMAND), ~already)
        .order_by(Message.id.desc()).limit(LATE_MIRROR_WINDOW)
    )).all()
    for message, media in reversed(recent):
        if not await _sent_by_us(session, message):
            await _topic_command(session, new, topic, Kind.MIRROR, _mirror_key(message.id, topic.id),
                                 **_mirror_payload(message, media))
    # Cards meant for the old topic (queued or shown there) and still waiting for a decision are shown here too.
    cards = (await session.execute(
        select(Suggestion.id).where(
            Suggestion.dialog_id == dialog.id, Suggestion.state == SuggestionState.PENDING,
            select(OutboxCommand.id).where(OutboxCommand.idempotency_key == func.concat("card:", Suggestion.id))
            .exists())
        .order_by(Suggestion.id)
    )).scalars().all()
    for suggestion_id in cards:
        await _topic_command(session, new, topic, Kind.POST_REPLY_CARD, f"card:{suggestion_id}:{topic.id}",
                             suggestion_id=suggestion_id)
    events.record(session, "dialog_moved", tenant_id=dialog.tenant_id, dialog_id=dialog.id, from_group_id=old.id,
                  group_id=new.id, dropped=dropped, mirrored=len(recent), cards=len(cards))


async def choose_groups(session: AsyncSession, dialogs: list[tuple[int, int, int, int | None]]
                        ) -> dict[int, tuple[ManagerGroup, dict]]:
    """`route_dialog` for several dialogs that have no topic in their current group (a batch of first messages),
    without writing anything: (dialog id, tenant id, channel id, current group id) → the group each goes to and its
    "dialog_routed" event's fields, chosen in ascending dialog id as `route_dialog` would one after another (each
    choice counts the topic the one before will create). A tenant without a group leaves its dialogs out. Write the
    choices with `record_routes`."""
    chosen: dict[int, tuple[ManagerGroup, dict]] = {}
    by_tenant: dict[int, list[tuple[int, int, int | None]]] = {}
    for dialog_id, tenant_id, channel_id, current in sorted(dialogs):
        by_tenant.setdefault(tenant_id, []).append((dialog_id, channel_id, current))
    for tenant_id, items in by_tenant.items():
        groups = await _healthy_groups(session, tenant_id)
        if not groups:
            continue
        tenant = await session.get(Tenant, tenant_id)
        mode = tenant.group_routing if tenant.group_routing in GROUP_ROUTINGS else ROUND_ROBIN
        counts = dict((await session.execute(
            select(DialogTopic.manager_group_id, func.count())
            .where(DialogTopic.manager_group_id.in_([g.id for g in groups])).group_by(DialogTopic.manager_group_id)
        )).all())
        by_channel: dict[int, tuple[ManagerGroup | None, str]] = {}  # the channel's choice depends on it alone
        for dialog_id, channel_id, current in items:
            group, reason = None, "round_robin"
            if mode == BY_CHANNEL:
                if channel_id not in by_channel:
                    by_channel[channel_id] = await _channel_group(
                        session, await session.get(ChannelAccount, channel_id), groups)
                group, why = by_channel[channel_id]
                if group is not None:
                    reason = why
                else:
                    reason = f"round_robin:{why}"
                    log.info("dialog %s: its channel's group cannot take it (%s): round robin", dialog_id, why)
            if group is None:
                group = min(groups, key=lambda g: (counts.get(g.id, 0), g.id))
            counts[group.id] = counts.get(group.id, 0) + 1
            chosen[dialog_id] = (group, dict(tenant_id=tenant_id, group_id=group.id, mode=mode, reason=reason,
                                              previous_group_id=current))
    return chosen


# Dialogs' groups as `record_routes` writes them, with the dialogs and groups as arrays (built and compiled once).
_ROUTED_TARGET = func.unnest(
    bindparam("routed_dialogs", type_=ARRAY(BigInteger)), bindparam("routed_groups", type_=ARRAY(BigInteger)),
).table_valued(column("dialog_id", BigInteger), column("group_id", BigInteger)).render_derived(name="target")
_ROUTED = (update(Dialog.__table__).where(Dialog.__table__.c.id == _ROUTED_TARGET.c.dialog_id)
           .values(manager_group_id=_ROUTED_TARGET.c.group_id))


async def record_routes(session: AsyncSession, chosen: dict[int, tuple[ManagerGroup, dict]]) -> None:
    """Write what `choose_groups` chose: each dialog's group (one statement) and its "dialog_routed" event (one)."""
    if not chosen:
        return
    moved = [(d, group.id) for d, (group, fields) in sorted(chosen.items()) if fields["previous_group_id"] != group.id]
    if moved:
        await session.execute(_ROUTED, {"routed_dialogs": [d for d, _ in moved],
                                        "routed_groups": [g for _, g in moved]})
    await session.execute(insert(Event.__table__), [
        dict(tenant_id=fields["tenant_id"], kind="dialog_routed", dialog_id=dialog_id, actor_staff_id=None,
             command_id=None, payload={k: v for k, v in fields.items() if k != "tenant_id"})
        for dialog_id, (_, fields) in sorted(chosen.items())])
