"""Manager groups that cannot work: park, move, resume.

Telegram refuses work in a manager group for causes people can fix: the bot lacks an administrator right ("not
enough rights to create a topic", CHAT_ADMIN_REQUIRED), topics were turned off, the bot was removed ("bot was
kicked", "chat not found"). Such a refusal never fails a command for good (core.dispatcher asks group_refused in
the unit of work that records the failure; the my_chat_member update and /connect come through
core.services.workspace.groups: connect_group and disconnect_group):
- the group is marked (missing_rights / is_active) in that same unit of work, so routing skips it;
- each dialog waiting for it moves to a ready group of the tenant when it may leave (routing.route_dialog: its topic
  was never created there, or the bot is gone): a topic there, its recent messages and pending cards with it;
- the rest waits PARKED: the commands stay queued (state queued, not_before PARKED_UNTIL, result["parked"] saying
  for which group and why) and hold their dialog's lane, so nothing behind them overtakes them;
- the owners and admins of the tenant who talked to the bot (a private message) and the group's General topic (when
  the bot is still in it) are told once what is missing and how to fix it (an event marks it told);
- when the group works again (the bot promoted, re-added, or /connect), the parked commands go out again in their
  order under the group's budget, the dialogs that reached no topic anywhere meanwhile are mirrored (a durable
  follow-up each), and the same people are told it is fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Text, and_, cast, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, followups, outbox
from ...models import CommandState, Dialog, Event, ManagerGroup, Message, OutboxCommand, StaffMember
from ...permissions import Permission, can
from .base import REQUIRED_RIGHTS, Kind, _key, _now, group_by_chat
from .routing import _cancel_lane, _may_leave, route_dialog
from .topics import notice


async def _lock_group(session: AsyncSession, chat_id: int) -> ManagerGroup | None:
    """The group's row FOR UPDATE, read afresh: what changes a group's health is decided holding it, so that two
    updates at once (the bot added and /connect, a refusal and the rights update) decide once."""
    return (await session.execute(
        select(ManagerGroup).where(ManagerGroup.chat_id == chat_id).with_for_update()
        .execution_options(populate_existing=True)
    )).scalar_one_or_none()


PARKED = "parked"  # OutboxCommand.result key of a command waiting for its manager group to be fixed
PARKED_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)  # a parked command's not_before: queued, never due by itself
GROUP_ALERTED = "manager_group_alerted"  # event: the owners and General were told what the group lacks
GROUP_FIXED = "manager_group_fixed"  # event: they were told it works again
WAITING_LIMIT = 200  # dialogs handled at once when a group breaks (the rest as their own commands are refused)
MISSED_LIMIT = 500  # dialogs that reached no topic, filled in at once when a group works again
# Words of a "not enough rights to …" refusal → the right it names; else the command's kind says it.
REFUSED_RIGHTS = ((("topic",), "can_manage_topics"), (("pin",), "can_pin_messages"),
                  (("restrict", "ban"), "can_restrict_members"), (("delete",), "can_delete_messages"))
KIND_RIGHTS = {Kind.CREATE_TOPIC: "can_manage_topics", Kind.EDIT_TOPIC: "can_manage_topics",
               Kind.PIN_CARD: "can_pin_messages", Kind.BAN: "can_restrict_members", Kind.UNBAN: "can_restrict_members"}
SEND_RIGHT = "can_send_messages"  # the bot may not even post there


def _broken(group: ManagerGroup) -> bool:
    return not group.is_active or bool(group.missing_rights)


def refusal_problem(kind: str, code: str, reason: str) -> tuple[str, str | None]:
    """(problem, right) of a refusal: "removed" (the bot is not in the group, or the chat is gone), "topics" (the
    forum mode is off) or "rights" with the right it lacks."""
    if code in ("kicked", "chat_gone"):
        return "removed", None
    if code == "not_forum":
        return "topics", "topics"
    text = (reason or "").lower()
    for needles, right in REFUSED_RIGHTS:
        if any(needle in text for needle in needles):
            return "rights", right
    return "rights", KIND_RIGHTS.get(kind, SEND_RIGHT)


def _problem(group: ManagerGroup) -> tuple[str, str]:
    if not group.is_active:
        return "removed", ""
    if "topics" in group.missing_rights:
        return "topics", ""
    known = [r for r in REQUIRED_RIGHTS if r in group.missing_rights]
    return "rights", (known or group.missing_rights or [SEND_RIGHT])[0]


def _parked() -> object:
    return OutboxCommand.state.in_(outbox.RUNNABLE) & OutboxCommand.result.has_key(PARKED)


async def _lock_waiting_dialogs(session: AsyncSession, destination: str, also=()) -> list[Dialog]:
    """The dialogs with work queued for a group and not parked yet (and `also`), locked in id order — taken before
    the group's row, as core.db's lock order wants (the dialog row first)."""
    ids = set((await session.execute(
        select(OutboxCommand.dialog_id).where(
            OutboxCommand.destination == destination, OutboxCommand.state.in_(outbox.RUNNABLE),
            OutboxCommand.dialog_id.is_not(None), ~OutboxCommand.result.has_key(PARKED))
        .group_by(OutboxCommand.dialog_id).order_by(OutboxCommand.dialog_id).limit(WAITING_LIMIT)
    )).scalars())
    ids |= {i for i in also if i is not None}
    if not ids:
        return []
    return list((await session.execute(
        select(Dialog).where(Dialog.id.in_(ids)).order_by(Dialog.id).with_for_update()
    )).scalars())


async def group_refused(session: AsyncSession, chat_id: int, commands: list[OutboxCommand], *, code: str,
                        reason: str, now: datetime | None = None) -> bool:
    """Telegram refused `commands` (claimed, in flight) in a chat for a cause people can fix. When the chat is a
    manager group: it is marked, the commands and the work waiting there are moved or parked, people are told once
    (see above), and True is returned — the commands did not fail. False: not a manager group, fail as usual."""
    if await group_by_chat(session, chat_id) is None:
        return False
    problem, right = refusal_problem(commands[0].kind, code, reason)
    dialogs = await _lock_waiting_dialogs(session, outbox.tg_group(chat_id), also=[c.dialog_id for c in commands])
    group = await _lock_group(session, chat_id)
    was_healthy = not _broken(group)
    if problem == "removed":
        group.is_active = False
    elif right not in group.missing_rights:
        group.missing_rights = [*group.missing_rights, right]
    events.record(session, "manager_group_refused", tenant_id=group.tenant_id, chat_id=chat_id, group_id=group.id,
                  problem=problem, right=right, code=code, reason=(reason or "")[:300],
                  command_ids=[c.id for c in commands])
    await group_broke(session, group, dialogs=dialogs, was_healthy=was_healthy, held=commands, now=now)
    return True


async def group_broke(session: AsyncSession, group: ManagerGroup, *, dialogs: list[Dialog] | None = None,
                      was_healthy: bool, held: list[OutboxCommand] = (), now: datetime | None = None) -> None:
    """The group (locked, already marked) cannot take work. Each dialog waiting for it (locked by the caller) moves
    to a ready group when it may leave; a dialog whose command was refused (`held`, in flight) and cannot move is
    parked; the others keep their queue (their topic exists: posts there may still work) and park when refused.
    People are told once — when the group worked before, or when work had to wait or move."""
    now = _now(now)
    destination = outbox.tg_group(group.chat_id)
    refused = {c.dialog_id for c in held}
    moved, moved_to, parked = 0, None, 0
    for dialog in dialogs or []:
        if dialog.manager_group_id != group.id:
            await _cancel_lane(session, dialog.id, destination, "the dialog lives in another manager group now")
            continue
        if await _may_leave(session, dialog, group):
            chosen = await route_dialog(session, dialog)
            if chosen is not None and chosen.id != group.id:
                moved, moved_to = moved + 1, chosen
                continue
        if dialog.id in refused or not group.is_active:
            parked += await _park_lane(session, dialog.id, destination, group, now)
    for command in held:
        dialog = await session.get(Dialog, command.dialog_id) if command.dialog_id else None
        if command.kind == Kind.GROUP_ALERT or (dialog is not None and dialog.manager_group_id != group.id):
            # moved along with its dialog, or the group cannot be told (its owners are)
            command.state, command.updated_at = CommandState.CANCELLED, now
            command.last_error = f"manager group {group.chat_id} cannot take it: " + (
                "its dialog moved to another group" if dialog is not None else "not told")
        else:
            _park(command, group, now)
            parked += 1
    if (was_healthy or moved or parked) and not await _told(session, group):
        await _tell_broken(session, group, moved=moved, moved_to=moved_to)


def _park(command: OutboxCommand, group: ManagerGroup, now: datetime) -> None:
    problem, right = _problem(group)
    command.state, command.not_before, command.updated_at = CommandState.QUEUED, PARKED_UNTIL, now
    command.attempts = max(0, command.attempts - 1)  # the refusal was no attempt of the command's own
    command.result = {**(command.result or {}), PARKED: {"group_id": group.id, "problem": problem, "right": right}}
    command.last_error = f"waiting for manager group {group.chat_id}: {problem} {right}".strip()


async def _park_lane(session: AsyncSession, dialog_id: int, destination: str, group: ManagerGroup,
                     now: datetime) -> int:
    problem, right = _problem(group)
    mark = {PARKED: {"group_id": group.id, "problem": problem, "right": right}}
    result = await session.execute(
        update(OutboxCommand)
        .where(OutboxCommand.dialog_id == dialog_id, OutboxCommand.destination == destination,
               OutboxCommand.state.in_(outbox.RUNNABLE))
        .values(not_before=PARKED_UNTIL, updated_at=now,
                result=func.coalesce(OutboxCommand.result, type_coerce({}, JSONB)).op("||")(type_coerce(mark, JSONB)),
                last_error=f"waiting for manager group {group.chat_id}: {problem} {right}".strip())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount > 0)


async def group_fixed(session: AsyncSession, group: ManagerGroup, *, reply_to: int | None = None) -> int:
    """The group (locked, marked healthy) works again: its parked commands go out again in their order, the
    dialogs of the tenant that reached no topic anywhere are mirrored (a follow-up each, run by the task workers),
    and whoever was told it broke is told it is fixed (else the group hears it is ready). Returns the commands
    resumed."""
    now = datetime.now(UTC)
    destination = outbox.tg_group(group.chat_id)
    parked = (OutboxCommand.destination == destination) & _parked()
    # Parked work of a dialog that moved to another group meanwhile is not done here: its topic lives there.
    await session.execute(
        update(OutboxCommand)
        .where(parked, OutboxCommand.dialog_id.in_(select(Dialog.id).where(Dialog.manager_group_id != group.id)))
        .values(state=CommandState.CANCELLED, updated_at=now, last_error="its dialog moved to another manager group")
        .execution_options(synchronize_session=False)
    )
    resumed = (await session.execute(
        update(OutboxCommand).where(parked)
        .values(not_before=now, attempts=0, updated_at=now, last_error=None,
                result=OutboxCommand.result.op("-", return_type=JSONB)(cast(PARKED, Text)))
        .returning(OutboxCommand.id, OutboxCommand.dialog_id)
        .execution_options(synchronize_session=False)
    )).all()
    alert = await _last_alert(session, group)
    told = alert is not None and alert.kind == GROUP_ALERTED
    missed = await _stage_missed(session, group, since=alert.created_at if told else None)
    dialogs = len({dialog_id for _, dialog_id in resumed if dialog_id is not None} | set(missed))
    events.record(session, "manager_group_resumed", tenant_id=group.tenant_id, group_id=group.id,
                  chat_id=group.chat_id, resumed=len(resumed), missed=len(missed))
    if told:
        await _tell_fixed(session, group, dialogs=dialogs)
    else:
        await notice(session, group, key="group_ready", reply_to=reply_to)
    return len(resumed)


async def _stage_missed(session: AsyncSession, group: ManagerGroup, *, since: datetime | None) -> list[int]:
    """Dialogs whose live messages reached no topic because no group of the tenant could take them: never routed,
    or (when the group broke at `since`) living in this group or one the bot is gone from and written to since. A
    mirror follow-up for the latest message of each routes the dialog and posts what its topic does not show yet,
    in order (mirror posts are keyed per message and topic: nothing shown twice). Returns their dialog ids."""
    stale = Dialog.manager_group_id.is_(None)
    if since is not None:
        gone = select(ManagerGroup.id).where(ManagerGroup.tenant_id == group.tenant_id,
                                             ManagerGroup.is_active.is_(False))
        stale = or_(stale, and_(or_(Dialog.manager_group_id == group.id, Dialog.manager_group_id.in_(gone)),
                                Dialog.last_message_at >= since))
    rows = (await session.execute(
        select(Message.dialog_id, func.max(Message.id))
        .join(Dialog, Dialog.id == Message.dialog_id)
        .where(Dialog.tenant_id == group.tenant_id, stale, Message.is_imported.is_(False),
               Message.author_staff_id.is_(None))
        .group_by(Message.dialog_id).order_by(Message.dialog_id).limit(MISSED_LIMIT)
    )).all()
    for _, message_id in rows:
        await followups.stage(session, followups.MIRROR_MESSAGE, {"message_id": message_id},
                              tenant_id=group.tenant_id)
    return [dialog_id for dialog_id, _ in rows]


async def _last_alert(session: AsyncSession, group: ManagerGroup) -> Event | None:
    """The latest time people were told this group broke (GROUP_ALERTED) or works again (GROUP_FIXED)."""
    return (await session.execute(
        select(Event).where(Event.tenant_id == group.tenant_id, Event.kind.in_([GROUP_ALERTED, GROUP_FIXED]),
                            Event.payload["group_id"].as_integer() == group.id)
        .order_by(Event.id.desc()).limit(1)
    )).scalar_one_or_none()


async def _told(session: AsyncSession, group: ManagerGroup) -> bool:
    """Whether people were told this group broke and not yet that it works again."""
    last = await _last_alert(session, group)
    return last is not None and last.kind == GROUP_ALERTED


async def reachable_admins(session: AsyncSession, tenant_id: int) -> list[StaffMember]:
    """Owners and admins of the tenant (who may change its settings) the bot can write to: those who talked to it —
    joined by opening its link in a private chat ("staff_joined"). Telegram lets a bot write to nobody else."""
    talked = select(Event.id).where(Event.tenant_id == tenant_id, Event.kind == "staff_joined",
                                    Event.actor_staff_id == StaffMember.id).exists()
    staff = (await session.execute(
        select(StaffMember).where(StaffMember.tenant_id == tenant_id, StaffMember.is_active.is_(True), talked)
        .order_by(StaffMember.id)
    )).scalars().all()
    return [s for s in staff if can(s.role.permissions, Permission.MANAGE_TENANT_SETTINGS)]


async def _alert(session: AsyncSession, tenant_id: int, chat_id: int, key: str, params: dict,
                 locale: str | None = None) -> None:
    """A message about a group's health: in its General topic (the bot's language), or privately to a person in
    theirs (`locale`)."""
    await outbox.enqueue(
        session, kind=Kind.GROUP_ALERT, idempotency_key=_key("group-alert"), tenant_id=tenant_id,
        destination=outbox.tg_group(chat_id) if chat_id < 0 else outbox.tg_chat(chat_id),
        payload={"chat_id": chat_id, "key": key, "params": params, "locale": locale},
    )


async def _tell_broken(session: AsyncSession, group: ManagerGroup, *, moved: int,
                       moved_to: ManagerGroup | None) -> None:
    problem, right = _problem(group)
    params = {"problem": problem, "right": right, "moved": moved, "moved_to": moved_to.title if moved_to else ""}
    if group.is_active:
        await _alert(session, group.tenant_id, group.chat_id, "groups.general.broken", params)
    people = await reachable_admins(session, group.tenant_id)
    for person in people:
        await _alert(session, group.tenant_id, person.telegram_user_id, "groups.owner.broken",
                     {**params, "title": group.title}, locale=person.locale)
    events.record(session, GROUP_ALERTED, tenant_id=group.tenant_id, group_id=group.id, chat_id=group.chat_id,
                  problem=problem, right=right, moved=moved, general=group.is_active, told=[p.id for p in people])


async def _tell_fixed(session: AsyncSession, group: ManagerGroup, *, dialogs: int) -> None:
    await _alert(session, group.tenant_id, group.chat_id, "groups.general.fixed", {"dialogs": dialogs})
    people = await reachable_admins(session, group.tenant_id)
    for person in people:
        await _alert(session, group.tenant_id, person.telegram_user_id, "groups.owner.fixed",
                     {"title": group.title, "dialogs": dialogs}, locale=person.locale)
    events.record(session, GROUP_FIXED, tenant_id=group.tenant_id, group_id=group.id, chat_id=group.chat_id,
                  dialogs=dialogs, told=[p.id for p in people])
