"""The manager workspace in Telegram as domain operations: manager groups, a topic per dialog, status markers,
reply cards and what managers do with them, per-dialog controls, /inbox. (Removing staff: core.services.staff.)

Nothing here talks to Telegram. Every visible effect is an outbox command (core.outbox) that the dispatcher
executes through the ManagerSurface (bot/) or a ChannelGateway (userbots/); the command kinds and their payloads
are defined here and executed by core.services.workspace_commands. Functions take the caller's session (one unit of
work per update or task) and never commit.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Text, and_, cast, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, followups, outbox
from ..ai import learning
from ..db import lock_dialog
from ..errors import UserError
from ..models import (
    AIMode,
    Attachment,
    ChannelAccount,
    ChannelKind,
    CommandOrigin,
    CommandState,
    Customer,
    Decision,
    Dialog,
    DialogStatus,
    DialogTopic,
    Direction,
    Escalation,
    Event,
    ManagerGroup,
    Message,
    MessageEdit,
    OutboxCommand,
    Outcome,
    StaffMember,
    Suggestion,
    SuggestionState,
    Tenant,
    TopicMessage,
    TopicMessageKind,
    TrainingAction,
)
from ..permissions import Permission, can

log = logging.getLogger(__name__)


class Kind:
    """Outbox command kinds of the workspace. Destination: the manager group (tg_group), except where noted."""

    CREATE_TOPIC = "create_topic"  # {topic_id}
    EDIT_TOPIC = "edit_topic"  # {topic_id}: title and icon from the topic's current status marker
    POST_PINNED_CARD = "post_pinned_card"  # {topic_id}
    PIN_CARD = "pin_card"  # {topic_id}
    EDIT_PINNED_CARD = "edit_pinned_card"  # {topic_id}
    MIRROR = "mirror_message"  # {topic_id, message_id, media, media_group_id, length}
    MIRROR_CHANGE = "mirror_change"  # {topic_id, message_id, change: edit|delete, old_text, new_text}
    POST_REPLY_CARD = "post_reply_card"  # {topic_id, suggestion_id}
    EDIT_REPLY_CARD = "edit_reply_card"  # {topic_id, suggestion_id}
    NOTICE = "post_notice"  # {chat_id, thread_id, topic_id?, key, params, reply_to?} (a short system text)
    GROUP_ALERT = "post_group_alert"  # {chat_id, key, params, locale?}: a group broke or works again; destination: the
    # group (its General topic) or a person's private chat (rendered in their locale)
    INBOX = "post_inbox"  # {chat_id, thread_id, tenant_id, reply_to}: the unanswered-dialogs list
    REACT = "react"  # {chat_id, message_id, emoji}
    BAN = "ban_member"  # {chat_id, user_id}
    UNBAN = "unban_member"  # {chat_id, user_id, only_if_banned}: a removed person invited again may rejoin
    SEND_CONFIRM = "post_send_confirm"  # {topic_id, suggestion_id, reply_to}: Send on a card a person answered meanwhile
    EDIT_SEND_CONFIRM = "edit_send_confirm"  # {chat_id, message_id, suggestion_id}: that prompt once it is handled
    NOTIFY_ESCALATION = "notify_escalation"  # {escalation_id, chat_id}; destination: the escalation chat
    SEND_CUSTOMER = "send_customer_message"  # {dialog_id, chat_id, text, media, ...}; destination: channel_dest


# Calls that Telegram does not count as messages of the group (no "N messages a minute" token needed).
NOT_GROUP_MESSAGES = frozenset({Kind.PIN_CARD, Kind.REACT, Kind.BAN, Kind.UNBAN})


class Marker(str, enum.Enum):
    """Status board: each topic's icon and title prefix say where the dialog stands."""

    NEW = "new"  # never answered
    UNREAD = "unread"  # the customer wrote after an answer
    WAITING = "waiting"  # a reply card waits for approval
    ANSWERED = "answered"
    ESCALATED = "escalated"
    WON = "won"
    LOST = "lost"
    BLOCKED = "blocked"  # the customer blocked the business
    CLOSED = "closed"


# Markers that a new customer message replaces with UNREAD (the rest keep their meaning until someone acts).
_UNREAD_AFTER = {Marker.ANSWERED, Marker.WAITING, Marker.CLOSED, Marker.WON, Marker.LOST, Marker.BLOCKED}

CHANNEL_MARK = {ChannelKind.TELEGRAM_ACCOUNT: "TG", ChannelKind.TELEGRAM_BUSINESS: "TG", ChannelKind.VK_COMMUNITY: "VK",
                ChannelKind.VK_USER: "VK"}
TOPIC_NAME_MAX = 120  # Telegram allows 128; the marker prefix takes the rest
# The cards in a manager group are seen by everyone in it: they show what this role may see.
AUDIENCE_ROLE = "manager"
# Rights the bot needs in a manager group, and what each is for.
ROTATE_AFTER = 1_000_000  # messages in one forum before new dialogs go to a fresh group
REQUIRED_RIGHTS = ("can_manage_topics", "can_pin_messages", "can_delete_messages", "can_restrict_members")
MIRROR_TEXT_BUDGET = 4000
LATE_MIRROR_WINDOW = 20  # how far back a mirror task looks for messages whose own task has not run yet  # characters one coalesced post may carry (Telegram: 4096 per message)
SENT_BY_COMMAND = "command_id"  # Message.extra key on messages we delivered ourselves
NOTE_REACTION = "✍"
DELIVERED_REACTION = "👍"
REJECT_REASONS = ("wrong", "tone", "offtopic", "other")


class WorkspaceError(UserError):
    """A refusal a manager sees. `code` picks the text in the bot's locale; the message is the English fallback."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Actor:
    """A staff member acting in a manager group, with their role's permissions."""

    staff_id: int
    tenant_id: int
    telegram_user_id: int
    name: str
    role_code: str
    permissions: frozenset[str]

    def can(self, permission: Permission) -> bool:
        return can(self.permissions, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise WorkspaceError("no_permission", f"your role lacks {permission.value}", permission=permission.value)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _key(prefix: str) -> str:
    """Idempotency key for commands that may legitimately repeat (every edit is a new command)."""
    return f"{prefix}:{uuid.uuid4().hex}"


# ------------------------------------------------------------------------------------------- staff & groups


async def group_by_chat(session: AsyncSession, chat_id: int) -> ManagerGroup | None:
    return (await session.execute(select(ManagerGroup).where(ManagerGroup.chat_id == chat_id))).scalar_one_or_none()


async def load_actor(session: AsyncSession, tenant_id: int, telegram_user_id: int) -> Actor | None:
    staff = (
        await session.execute(
            select(StaffMember).where(
                StaffMember.tenant_id == tenant_id,
                StaffMember.telegram_user_id == telegram_user_id,
                StaffMember.is_active.is_(True),
            )
        )
    ).scalar_one_or_none()
    if staff is None:
        return None
    return Actor(staff.id, staff.tenant_id, staff.telegram_user_id, staff.name, staff.role.code,
                 frozenset(staff.role.permissions))


@dataclass
class GroupStatus:
    group: ManagerGroup
    missing: list[str]  # "topics" when the forum mode is off, else the rights the bot lacks
    resumed: int = 0  # parked commands that went out again because the group works again


async def _lock_group(session: AsyncSession, chat_id: int) -> ManagerGroup | None:
    """The group's row FOR UPDATE, read afresh: what changes a group's health is decided holding it, so that two
    updates at once (the bot added and /connect, a refusal and the rights update) decide once."""
    return (await session.execute(
        select(ManagerGroup).where(ManagerGroup.chat_id == chat_id).with_for_update()
        .execution_options(populate_existing=True)
    )).scalar_one_or_none()


async def connect_group(session: AsyncSession, *, chat_id: int, title: str, is_forum: bool, bot_rights: dict,
                        by_telegram_user_id: int, tenant_slug: str | None = None,
                        asked: bool = False, reply_to: int | None = None) -> GroupStatus:
    """The bot was added (or promoted, or demoted) in a supergroup, or someone typed /connect (`asked`): register the
    group for the tenant of the person who did it and say exactly what is still missing.

    Idempotent: the bot-added event and /connect at once make one row (INSERT … ON CONFLICT on the chat id, then the
    row locked). What changed decides what is said: a new group is told whether it is ready; a group that works again
    resumes what was parked for it and the dialogs that reached no topic anywhere (group_fixed); a working group that
    lost rights hands its waiting work to a healthy group or parks it, and people are told once (group_broke). A rights
    change in a group already connected counts whoever made it; registering a group takes an owner or admin."""
    known = await group_by_chat(session, chat_id)
    if known is not None and not asked:
        tenant = await session.get(Tenant, known.tenant_id)
        staff = (await session.execute(select(StaffMember).where(
            StaffMember.tenant_id == tenant.id, StaffMember.telegram_user_id == by_telegram_user_id)
        )).scalar_one_or_none()
    else:
        staff, tenant = await _connecting_owner(session, by_telegram_user_id, tenant_slug)
    missing = ([] if is_forum else ["topics"]) + [r for r in REQUIRED_RIGHTS if not bot_rights.get(r)]
    if missing:
        await _lock_waiting_dialogs(session, outbox.tg_group(chat_id))  # lock order: dialog rows before the group's
    inserted = (await session.execute(
        insert(ManagerGroup)
        .values(tenant_id=tenant.id, chat_id=chat_id, title=title[:255], is_forum=is_forum, missing_rights=missing,
                is_active=True, message_count=0)
        .on_conflict_do_nothing(index_elements=["chat_id"])
        .returning(ManagerGroup.id)
    )).scalar_one_or_none()
    group = await _lock_group(session, chat_id)
    if group.tenant_id != tenant.id:
        raise WorkspaceError("connect_taken", "this group already belongs to another business")
    was_broken = inserted is None and _broken(group)
    group.title, group.is_forum, group.missing_rights, group.is_active = title[:255], is_forum, missing, True
    await session.flush()
    if not missing:
        # A fresh group replaces the tenant's full ones: their new dialogs (and channels pointing there) come here.
        await session.execute(
            update(ManagerGroup)
            .where(ManagerGroup.tenant_id == tenant.id, ManagerGroup.id != group.id,
                   ManagerGroup.message_count >= ROTATE_AFTER, ManagerGroup.rotated_to_id.is_(None))
            .values(rotated_to_id=group.id)
        )
    events.record(session, "manager_group_connected", tenant_id=tenant.id, actor_staff_id=staff.id if staff else None,
                  chat_id=chat_id, missing=missing, new=inserted is not None)
    status = GroupStatus(group, missing)
    if missing:
        if inserted is not None or asked:
            await notice(session, group, key="group_missing", params={"missing": missing}, reply_to=reply_to)
        if inserted is None:
            await group_broke(session, group, was_healthy=not was_broken)
    elif was_broken:
        status.resumed = await group_fixed(session, group, reply_to=reply_to if asked else None)
    elif inserted is not None or asked:
        await notice(session, group, key="group_ready", reply_to=reply_to)
    return status


async def _connecting_owner(session: AsyncSession, telegram_user_id: int,
                            tenant_slug: str | None) -> tuple[StaffMember, Tenant]:
    query = (
        select(StaffMember, Tenant)
        .join(Tenant, Tenant.id == StaffMember.tenant_id)
        .where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
    )
    if tenant_slug:
        query = query.where(Tenant.slug == tenant_slug)
    candidates = [
        (staff, tenant) for staff, tenant in (await session.execute(query)).all()
        if can(staff.role.permissions, Permission.MANAGE_TENANT_SETTINGS)
    ]
    if not candidates:
        raise WorkspaceError("connect_not_owner", "only an owner or admin of a tenant can connect a manager group")
    if len(candidates) > 1:
        raise WorkspaceError("connect_choose_tenant", "you manage several businesses: /connect <slug>",
                             slugs=", ".join(sorted(t.slug for _, t in candidates)))
    return candidates[0]


async def disconnect_group(session: AsyncSession, chat_id: int) -> None:
    """The bot left or was removed: new dialogs go elsewhere, so does the work waiting for the group (group_broke);
    topics stay mapped in case it comes back (then what waits for it there resumes)."""
    if await group_by_chat(session, chat_id) is None:
        return
    await _lock_waiting_dialogs(session, outbox.tg_group(chat_id))  # lock order: dialog rows before the group's
    group = await _lock_group(session, chat_id)
    if group.is_active:
        was_healthy = not _broken(group)
        group.is_active = False
        events.record(session, "manager_group_disconnected", tenant_id=group.tenant_id, chat_id=chat_id)
        await group_broke(session, group, was_healthy=was_healthy)


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


# ------------------------------------------------------------------------------------------------- routing


# How a tenant's new dialogs are spread over its manager groups (Tenant.group_routing):
# - "round_robin" (the default): every new dialog goes to the healthy group holding the fewest dialog topics (ties:
#   the oldest group), whatever channel it came through;
# - "by_channel": a dialog goes to the group its channel names (ChannelAccount.manager_group_id), followed along the
#   group's rotation to a fresh one; a channel naming none goes to a group of its team (channel setting "team").
#   When that group cannot take it (disconnected, or not ready for topics), or the channel names none, it falls back
#   to round robin over the healthy groups, and the event "dialog_routed" says why.
# Healthy: connected (is_active), not rotated away, not full while a fresher one exists, with the forum mode and the
# bot's rights (a group lacking them is used only when no other exists). Either way a dialog stays in the group that
# holds its topic for as long as that group is connected.
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


# ------------------------------------------------------------------------ groups that cannot work: park, move, resume
#
# Telegram refuses work in a manager group for causes people can fix: the bot lacks an administrator right ("not
# enough rights to create a topic", CHAT_ADMIN_REQUIRED), topics were turned off, the bot was removed ("bot was
# kicked", "chat not found"). Such a refusal never fails a command for good (core.dispatcher asks group_refused in
# the unit of work that records the failure; the my_chat_member update and /connect come through connect_group and
# disconnect_group):
# - the group is marked (missing_rights / is_active) in that same unit of work, so routing skips it;
# - each dialog waiting for it moves to a ready group of the tenant when it may leave (route_dialog: its topic was
#   never created there, or the bot is gone): a topic there, its recent messages and pending cards with it;
# - the rest waits PARKED: the commands stay queued (state queued, not_before PARKED_UNTIL, result["parked"] saying
#   for which group and why) and hold their dialog's lane, so nothing behind them overtakes them;
# - the owners and admins of the tenant who talked to the bot (a private message) and the group's General topic (when
#   the bot is still in it) are told once what is missing and how to fix it (an event marks it told);
# - when the group works again (the bot promoted, re-added, or /connect), the parked commands go out again in their
#   order under the group's budget, the dialogs that reached no topic anywhere meanwhile are mirrored (a durable
#   follow-up each), and the same people are told it is fixed.

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


# -------------------------------------------------------------------------------------------------- topics


async def topic_name(session: AsyncSession, dialog: Dialog) -> str:
    customer = await session.get(Customer, dialog.customer_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    name = (customer.display_name or f"#{dialog.id}").strip()
    return f"{name[:TOPIC_NAME_MAX - 5]} · {CHANNEL_MARK.get(channel.kind, '?')}"


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
    """createForumTopic, then the pinned card and its pin — in this order, in the dialog's lane."""
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


# -------------------------------------------------------------------------------------------------- mirror


def _mirror_payload(message: Message, has_media: bool) -> dict:
    """What the dispatcher needs to coalesce posts without reading the messages: media or not, album, length."""
    return {"message_id": message.id, "media": has_media, "media_group_id": message.media_group_id,
            "length": len(message.text or "")}


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


# --------------------------------------------------------------------------------------------- reply cards


async def post_suggestion_card(session: AsyncSession, suggestion_id: int) -> bool:
    """Task "post_suggestion_card": the AI drafted a reply; show it as a card in the dialog's topic."""
    suggestion = await session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.state == SuggestionState.OUTDATED:
        return False  # a newer customer message arrived first: the card would be stale on arrival
    if (suggestion.inputs or {}).get("dialog_mode") == AIMode.LEARNING.value:
        # Drafted in learning mode: kept silently, compared with the manager's own reply (core.ai.learning).
        return False
    dialog = (await session.execute(select(Dialog).where(Dialog.id == suggestion.dialog_id).with_for_update())).scalar_one()
    group = await route_dialog(session, dialog)
    if group is None:
        return False
    topic, _ = await ensure_topic(session, dialog, group)
    await _topic_command(session, group, topic, Kind.POST_REPLY_CARD, f"card:{suggestion.id}",
                         suggestion_id=suggestion.id)
    if suggestion.state == SuggestionState.PENDING:
        if suggestion.decision == Decision.ESCALATE:
            await set_marker(session, dialog, Marker.ESCALATED)
            escalation = (await session.execute(
                select(Escalation).where(Escalation.suggestion_id == suggestion.id).order_by(Escalation.id).limit(1)
            )).scalar_one_or_none()
            if escalation is not None:
                await notify_escalation(session, dialog, escalation)
        elif suggestion.decision == Decision.NEED_APPROVAL:
            await set_marker(session, dialog, Marker.WAITING)
    return True


async def refresh_cards(session: AsyncSession, suggestion_ids: list[int]) -> int:
    """Task REFRESH_CARDS: suggestions changed state (e.g. outdated by a newer customer message). A card not posted
    yet is simply not posted; a posted one is edited (its buttons go away). Returns the number of edits queued."""
    edits = 0
    for suggestion_id in suggestion_ids:
        post = (await session.execute(
            select(OutboxCommand).where(OutboxCommand.idempotency_key == f"card:{suggestion_id}")
        )).scalar_one_or_none()
        if post is None:
            continue
        if post.state in (CommandState.QUEUED, CommandState.APPROVED):
            await outbox.cancel(session, post.id, reason="suggestion outdated before its card was posted")
            continue
        if await queue_card_edit(session, suggestion_id):
            edits += 1
    return edits


async def queue_card_edit(session: AsyncSession, suggestion_id: int) -> bool:
    suggestion = await session.get(Suggestion, suggestion_id)
    if suggestion is None:
        return False
    dialog = await session.get(Dialog, suggestion.dialog_id)
    found = await topic_for_dialog(session, dialog)
    if found is None:
        return False
    topic, group = found
    await _topic_command(session, group, topic, Kind.EDIT_REPLY_CARD, _key(f"card-edit:{suggestion_id}"),
                         suggestion_id=suggestion_id)
    return True


# A person's answer made a pending draft outdated (payload: suggestion_id, via, staff_id, command_id | message_id).
OUTDATED_BY_ANSWER = "suggestion_outdated_by_answer"


def _record_outdating(session: AsyncSession, suggestion_id: int, dialog: Dialog, answer: dict | None,
                      now: datetime) -> None:
    if answer is None:
        return
    events.record(session, OUTDATED_BY_ANSWER, tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=answer.get("staff_id"), command_id=answer.get("command_id"),
                  suggestion_id=suggestion_id, via=answer["via"], message_id=answer.get("message_id"),
                  at=now.isoformat())


async def outdating_answer(session: AsyncSession, suggestion: Suggestion) -> dict | None:
    """The person's answer that made this draft outdated — what the customer got instead: {via, who (a staff name,
    None for the shop's own account), channel_kind, at, text, media} — or None when none did (a newer customer
    message outdated it, or nothing did). The text is read where it lives (the send, the message), so forgetting a
    customer forgets it here too."""
    event = (await session.execute(
        select(Event).where(Event.dialog_id == suggestion.dialog_id, Event.kind == OUTDATED_BY_ANSWER,
                            Event.payload["suggestion_id"].as_integer() == suggestion.id)
        .order_by(Event.id.desc()).limit(1)
    )).scalar_one_or_none()
    if event is None:
        return None
    p = event.payload
    text, media = "", False
    if event.command_id is not None and (command := await session.get(OutboxCommand, event.command_id)) is not None:
        text, media = command.payload.get("text") or "", bool(command.payload.get("media"))
    elif p.get("message_id") and (message := await session.get(Message, p["message_id"])) is not None:
        text = message.text or ""
        media = (await session.execute(
            select(Attachment.id).where(Attachment.message_id == message.id).limit(1))).first() is not None
    staff = await session.get(StaffMember, event.actor_staff_id) if event.actor_staff_id else None
    dialog = await session.get(Dialog, suggestion.dialog_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    return {"via": p.get("via"), "who": staff.name if staff else None, "channel_kind": channel.kind.value,
            "at": p.get("at") or event.created_at.isoformat(), "text": text, "media": media}


async def request_send(session: AsyncSession, actor: Actor, suggestion_id: int, *, card_message_id: int | None = None,
                       now: datetime | None = None) -> OutboxCommand | None:
    """Send pressed on a card. A draft that a person's answer made outdated (its card may not have lost its buttons
    yet, or the manager's screen is behind) is not sent: a prompt replying to the card shows what the customer got —
    the text, who, when — with a confirm button (confirm_send); only that second tap sends. Returns the send, or
    None when the confirmation was asked for."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state == SuggestionState.OUTDATED and await outdating_answer(session, suggestion) is not None:
        dialog = await session.get(Dialog, suggestion.dialog_id)
        found = await topic_for_dialog(session, dialog)
        if found is not None:
            topic, group = found
            # One prompt per draft: pressing Send again does not post another.
            await _topic_command(session, group, topic, Kind.SEND_CONFIRM, f"send-confirm:{suggestion.id}",
                                 suggestion_id=suggestion.id, reply_to=card_message_id)
        events.record(session, "suggestion_send_confirm_asked", tenant_id=actor.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, suggestion_id=suggestion.id)
        return None
    return await approve_suggestion(session, actor, suggestion_id, now=now)


async def confirm_send(session: AsyncSession, actor: Actor, suggestion_id: int, *,
                       prompt: tuple[int, int] | None = None, now: datetime | None = None) -> OutboxCommand:
    """The second tap: the manager saw what the customer already got and sends the draft as well. `prompt` (chat id,
    message id) is the confirmation prompt, which then loses its button."""
    now = _now(now)
    actor.require(Permission.MANAGE_CONVERSATIONS)
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state == SuggestionState.PENDING:
        return await approve_suggestion(session, actor, suggestion_id, now=now)
    if suggestion.state != SuggestionState.OUTDATED:
        raise WorkspaceError("card_done", "this card has been handled already", state=suggestion.state.value)
    if await outdating_answer(session, suggestion) is None:
        raise WorkspaceError("card_outdated", "a newer customer message made this draft outdated")
    suggestion.state, suggestion.final_text = SuggestionState.SENT, suggestion.text
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.SENT, suggestion.text)
    events.record(session, "suggestion_approved", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id, after_answer=True)
    command = await _send_suggestion(session, actor, suggestion, suggestion.text, now)
    if prompt is not None:
        chat_id, message_id = prompt
        await outbox.enqueue(
            session, kind=Kind.EDIT_SEND_CONFIRM, destination=outbox.tg_group(chat_id),
            idempotency_key=_key(f"send-confirm-edit:{suggestion.id}"), tenant_id=actor.tenant_id,
            dialog_id=suggestion.dialog_id,
            payload={"chat_id": chat_id, "message_id": message_id, "suggestion_id": suggestion.id},
        )
    await queue_card_edit(session, suggestion.id)
    return command


async def _lock_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int) -> Suggestion:
    dialog_id = (await session.execute(
        select(Suggestion.dialog_id).where(Suggestion.id == suggestion_id))).scalar_one_or_none()
    if dialog_id is not None:
        await lock_dialog(session, dialog_id)  # the lock order (core.db): the dialog row before the suggestion
    suggestion = (
        await session.execute(select(Suggestion).where(Suggestion.id == suggestion_id).with_for_update())
    ).scalar_one_or_none()
    if suggestion is None or suggestion.tenant_id != actor.tenant_id:
        raise WorkspaceError("card_unknown", "this card is not known")
    return suggestion


async def _pending(session: AsyncSession, actor: Actor, suggestion_id: int) -> Suggestion:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state == SuggestionState.OUTDATED:
        if await outdating_answer(session, suggestion) is not None:
            raise WorkspaceError("card_answered", "the customer has been answered meanwhile")
        raise WorkspaceError("card_outdated", "a newer customer message made this draft outdated")
    if suggestion.state != SuggestionState.PENDING:
        raise WorkspaceError("card_done", "this card has been handled already", state=suggestion.state.value)
    return suggestion


async def _customer_text(session: AsyncSession, message_id: int) -> str:
    message = await session.get(Message, message_id)
    return message.text if message else ""


async def _sample(session: AsyncSession, suggestion: Suggestion, action: TrainingAction, final: str | None) -> None:
    """Every Send/Edit/Reject/Escalate is a training sample (core.ai.learning owns what a sample is)."""
    await learning.record_sample(session, suggestion, action, final)


async def _send_suggestion(session: AsyncSession, actor: Actor, suggestion: Suggestion, text: str,
                           now: datetime) -> OutboxCommand:
    dialog = await session.get(Dialog, suggestion.dialog_id)
    waiting = (await session.execute(
        select(OutboxCommand).where(OutboxCommand.suggestion_id == suggestion.id,
                                    OutboxCommand.kind == Kind.SEND_CUSTOMER,
                                    OutboxCommand.state == CommandState.PENDING_APPROVAL)
    )).scalar_one_or_none()
    if waiting is not None:
        # The AI queued the reply awaiting approval: approve that command (with the final text) instead of a copy.
        waiting.payload = {**waiting.payload, "text": text, "staff_id": actor.staff_id}
        await outbox.approve(session, waiting.id, staff_id=actor.staff_id)
        await _after_manager_answer(session, dialog, except_command_id=waiting.id, now=now,
                                    answer={"via": "card", "staff_id": actor.staff_id, "command_id": waiting.id})
        return waiting
    return await send_to_customer(
        session, dialog, text=text, origin=CommandOrigin.AI, staff_id=actor.staff_id, suggestion_id=suggestion.id,
        key=f"suggestion:{suggestion.id}:send", intent=suggestion.intent, confidence=suggestion.confidence,
        state=CommandState.APPROVED, now=now,
    )


async def approve_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int,
                             now: datetime | None = None) -> OutboxCommand:
    """Send: the draft goes to the customer as it is; the card changes once delivery is known."""
    now = _now(now)
    suggestion = await _pending(session, actor, suggestion_id)
    suggestion.state, suggestion.final_text = SuggestionState.SENT, suggestion.text
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.SENT, suggestion.text)
    events.record(session, "suggestion_approved", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id)
    return await _send_suggestion(session, actor, suggestion, suggestion.text, now)


async def edit_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int, text: str,
                          now: datetime | None = None) -> OutboxCommand:
    """Edit: the manager's version goes to the customer; the draft/final pair is kept for training."""
    now = _now(now)
    text = text.strip()
    if not text:
        raise WorkspaceError("empty_text", "the edited text is empty")
    suggestion = await _pending(session, actor, suggestion_id)
    suggestion.state, suggestion.final_text = SuggestionState.EDITED, text
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.EDITED, text)
    events.record(session, "suggestion_edited", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id,
                  similarity=learning.similarity(suggestion.text, text))
    return await _send_suggestion(session, actor, suggestion, text, now)


async def _cancel_waiting_sends(session: AsyncSession, suggestion: Suggestion, reason: str) -> None:
    ids = (await session.execute(
        select(OutboxCommand.id).where(OutboxCommand.suggestion_id == suggestion.id,
                                       OutboxCommand.kind == Kind.SEND_CUSTOMER,
                                       OutboxCommand.state.in_([CommandState.PENDING_APPROVAL, *outbox.RUNNABLE]))
    )).scalars()
    for command_id in list(ids):
        await outbox.cancel(session, command_id, reason=reason)


async def reject_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int, reason: str | None = None,
                            now: datetime | None = None) -> None:
    """Reject: nothing is sent. The card then offers reason buttons (optional) until one is chosen."""
    now = _now(now)
    suggestion = await _pending(session, actor, suggestion_id)
    suggestion.state, suggestion.reject_reason = SuggestionState.REJECTED, reason
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.REJECTED, None)
    await _cancel_waiting_sends(session, suggestion, "rejected by a manager")
    events.record(session, "suggestion_rejected", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id, reason=reason)
    await queue_card_edit(session, suggestion.id)


async def set_reject_reason(session: AsyncSession, actor: Actor, suggestion_id: int, reason: str) -> None:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    if reason not in REJECT_REASONS:
        raise WorkspaceError("bad_reason", "unknown reason")
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state != SuggestionState.REJECTED or suggestion.reject_reason:
        raise WorkspaceError("card_done", "this card has been handled already", state=suggestion.state.value)
    suggestion.reject_reason = reason
    events.record(session, "suggestion_reject_reason", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id, reason=reason)
    await queue_card_edit(session, suggestion.id)


async def _summary(session: AsyncSession, dialog: Dialog) -> str:
    customer = await session.get(Customer, dialog.customer_id)
    if customer.summary:
        return customer.summary
    recent = list((await session.execute(
        select(Message.text).where(Message.dialog_id == dialog.id, Message.text != "")
        .order_by(Message.id.desc()).limit(3)
    )).scalars())
    return " / ".join(reversed([t[:200] for t in recent]))


async def escalate(session: AsyncSession, actor: Actor, *, dialog_id: int, suggestion_id: int | None = None,
                   reason: str = "manager", now: datetime | None = None) -> Escalation:
    """Escalate: an escalation with reason, summary and the proposed answer; the tenant's escalation chat is told."""
    now = _now(now)
    suggestion = None
    if suggestion_id is not None:
        suggestion = await _pending(session, actor, suggestion_id)
        dialog_id = suggestion.dialog_id
    else:
        actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    escalation = Escalation(
        tenant_id=dialog.tenant_id, dialog_id=dialog.id, suggestion_id=suggestion.id if suggestion else None,
        reason=reason, summary=await _summary(session, dialog), proposed_answer=suggestion.text if suggestion else None,
        to_clarify=(suggestion.decision_reason or None) if suggestion else None, created_by_id=actor.staff_id,
    )
    session.add(escalation)
    if suggestion is not None:
        suggestion.state, suggestion.decided_by_id, suggestion.decided_at = SuggestionState.ESCALATED, actor.staff_id, now
        await _sample(session, suggestion, TrainingAction.ESCALATED, None)
        await _cancel_waiting_sends(session, suggestion, "escalated by a manager")
        await queue_card_edit(session, suggestion.id)
    dialog.status = DialogStatus.ESCALATED
    await session.flush()
    events.record(session, "dialog_escalated", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, escalation_id=escalation.id, reason=reason)
    await set_marker(session, dialog, Marker.ESCALATED)
    await refresh_pinned_card(session, dialog)
    await notify_escalation(session, dialog, escalation)
    return escalation


async def notify_escalation(session: AsyncSession, dialog: Dialog, escalation: Escalation) -> None:
    """Tell the tenant's escalation chat (a group or a person), once per escalation."""
    tenant = await session.get(Tenant, dialog.tenant_id)
    if not tenant.escalation_chat_id:
        return
    chat_id = tenant.escalation_chat_id
    await outbox.enqueue(
        session, kind=Kind.NOTIFY_ESCALATION,
        destination=outbox.tg_group(chat_id) if chat_id < 0 else outbox.tg_chat(chat_id),
        idempotency_key=f"escalation:{escalation.id}:notify", tenant_id=dialog.tenant_id,
        payload={"escalation_id": escalation.id, "chat_id": chat_id},
    )


# ------------------------------------------------------------------------------------------- to customers


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


async def _dialog(session: AsyncSession, actor: Actor, dialog_id: int) -> Dialog:
    dialog = (await session.execute(select(Dialog).where(Dialog.id == dialog_id).with_for_update())).scalar_one_or_none()
    if dialog is None or dialog.tenant_id != actor.tenant_id:
        raise WorkspaceError("dialog_unknown", "this dialog is not known")
    return dialog


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


# --------------------------------------------------------------------------------------- per-dialog controls

AI_MODE_ALIASES = {"off": AIMode.OFF, "learning": AIMode.LEARNING, "semi": AIMode.SEMI_AUTO,
                   "semi_auto": AIMode.SEMI_AUTO, "auto": AIMode.AUTO}


async def dialog_in_group(session: AsyncSession, actor: Actor, group: ManagerGroup, thread_id: int | None) -> Dialog:
    _, dialog = await _topic_dialog(session, group, thread_id)
    if dialog.tenant_id != actor.tenant_id:
        raise WorkspaceError("dialog_unknown", "this dialog is not known")
    return dialog


async def set_ai_mode(session: AsyncSession, actor: Actor, dialog_id: int, mode: str) -> Dialog:
    actor.require(Permission.MANAGE_AUTOSEND)
    if mode not in AI_MODE_ALIASES:
        raise WorkspaceError("bad_ai_mode", "AI mode: off, learning, semi or auto")
    dialog = await _dialog(session, actor, dialog_id)
    previous, dialog.ai_mode = dialog.ai_mode, AI_MODE_ALIASES[mode]
    if previous != dialog.ai_mode:
        events.record(session, "ai_mode_changed", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, mode=dialog.ai_mode.value, previous=previous.value)
        await refresh_pinned_card(session, dialog)
    return dialog


async def assign(session: AsyncSession, actor: Actor, dialog_id: int, *, staff_id: int | None = None,
                 username: str | None = None) -> StaffMember:
    """Assign the dialog to a staff member (the actor by default, or @username)."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    query = select(StaffMember).where(StaffMember.tenant_id == actor.tenant_id, StaffMember.is_active.is_(True))
    if username:
        query = query.where(func.lower(StaffMember.username) == username.lstrip("@").lower())
    else:
        query = query.where(StaffMember.id == (staff_id or actor.staff_id))
    staff = (await session.execute(query)).scalar_one_or_none()
    if staff is None:
        raise WorkspaceError("staff_unknown", "no such staff member", who=username or "")
    if dialog.assignee_id != staff.id:
        dialog.assignee_id = staff.id
        events.record(session, "dialog_assigned", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, assignee_id=staff.id)
        await refresh_pinned_card(session, dialog)
    return staff


def parse_amount(raw: str | None) -> Decimal | None:
    if not raw or not raw.strip():
        return None
    try:
        amount = Decimal(raw.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise WorkspaceError("bad_amount", "the amount must be a number", raw=raw) from None
    if amount < 0 or amount >= Decimal("1e12"):
        raise WorkspaceError("bad_amount", "the amount must be a number", raw=raw)
    return amount


async def mark_won(session: AsyncSession, actor: Actor, dialog_id: int, amount: Decimal | None = None,
                   now: datetime | None = None) -> Dialog:
    """Won: a sale. The dialog's approved replies become few-shot examples for the assistant."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    tenant = await session.get(Tenant, dialog.tenant_id)
    dialog.outcome, dialog.outcome_amount, dialog.outcome_at = Outcome.WON, amount, _now(now)
    dialog.outcome_currency, dialog.outcome_reason = tenant.currency, None
    await session.flush()
    await learning.on_dialog_outcome(session, dialog.id)
    events.record(session, "dialog_won", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, amount=str(amount) if amount is not None else None)
    await set_marker(session, dialog, Marker.WON)
    await refresh_pinned_card(session, dialog)
    return dialog


async def mark_lost(session: AsyncSession, actor: Actor, dialog_id: int, reason: str | None = None,
                    now: datetime | None = None) -> Dialog:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    dialog.outcome, dialog.outcome_reason, dialog.outcome_at = Outcome.LOST, (reason or None), _now(now)
    dialog.outcome_amount = None
    await session.flush()
    await learning.on_dialog_outcome(session, dialog.id)
    events.record(session, "dialog_lost", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, reason=reason)
    await set_marker(session, dialog, Marker.LOST)
    await refresh_pinned_card(session, dialog)
    return dialog


async def close_dialog(session: AsyncSession, actor: Actor, dialog_id: int, now: datetime | None = None) -> Dialog:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    if dialog.status != DialogStatus.RESOLVED:
        dialog.status, dialog.closed_at = DialogStatus.RESOLVED, _now(now)
        events.record(session, "dialog_closed", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id)
        if dialog.outcome is None:
            await set_marker(session, dialog, Marker.CLOSED)
        await refresh_pinned_card(session, dialog)
    return dialog


async def reopen_dialog(session: AsyncSession, actor: Actor, dialog_id: int) -> Dialog:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    if dialog.status in (DialogStatus.RESOLVED, DialogStatus.ESCALATED) or dialog.outcome is not None:
        dialog.status, dialog.closed_at = DialogStatus.ACTIVE, None
        dialog.outcome = dialog.outcome_amount = dialog.outcome_reason = dialog.outcome_at = None
        events.record(session, "dialog_reopened", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id)
        await set_marker(session, dialog, Marker.UNREAD if dialog.unread_count else Marker.ANSWERED)
        await refresh_pinned_card(session, dialog)
    return dialog


# ---------------------------------------------------------------------------------------------------- inbox


async def unanswered(session: AsyncSession, tenant_id: int, limit: int = 30) -> list[dict]:
    """Dialogs waiting for an answer, oldest first, with where their topics are."""
    rows = (await session.execute(
        select(Dialog, Customer.display_name, DialogTopic.thread_id, ManagerGroup.chat_id)
        .join(Customer, Customer.id == Dialog.customer_id)
        .outerjoin(DialogTopic, (DialogTopic.dialog_id == Dialog.id)
                   & (DialogTopic.manager_group_id == Dialog.manager_group_id))
        .outerjoin(ManagerGroup, ManagerGroup.id == DialogTopic.manager_group_id)
        .where(Dialog.tenant_id == tenant_id, Dialog.unread_count > 0,
               Dialog.status.notin_([DialogStatus.RESOLVED, DialogStatus.INACTIVE]))
        .order_by(Dialog.last_customer_message_at.asc().nulls_last(), Dialog.id)
        .limit(limit)
    )).all()
    return [
        {"dialog_id": dialog.id, "name": name, "unread": dialog.unread_count,
         "since": dialog.last_customer_message_at.isoformat() if dialog.last_customer_message_at else None,
         "chat_id": chat_id, "thread_id": thread_id}
        for dialog, name, thread_id, chat_id in rows
    ]


async def request_inbox(session: AsyncSession, actor: Actor, group: ManagerGroup, *, thread_id: int | None,
                        reply_to: int | None) -> OutboxCommand:
    actor.require(Permission.VIEW_CONVERSATIONS)
    return await outbox.enqueue(
        session, kind=Kind.INBOX, destination=outbox.tg_group(group.chat_id), idempotency_key=_key("inbox"),
        tenant_id=group.tenant_id,
        payload={"chat_id": group.chat_id, "thread_id": thread_id, "tenant_id": group.tenant_id,
                 "reply_to": reply_to},
    )
