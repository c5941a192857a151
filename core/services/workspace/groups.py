"""Registering manager groups: the bot added, promoted or demoted in a supergroup, or /connect typed there (one row per
chat, whoever comes first), and the bot leaving or removed. What the group lacks is said once; work waiting for a
group that broke or works again is handed to core.services.workspace.parking.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, outbox
from ...models import ManagerGroup, StaffMember, Tenant
from ...permissions import Permission, can
from .base import REQUIRED_RIGHTS, ROTATE_AFTER, WorkspaceError, group_by_chat
from .parking import _broken, _lock_group, _lock_waiting_dialogs, group_broke, group_fixed
from .topics import notice


@dataclass
class GroupStatus:
    group: ManagerGroup
    missing: list[str]  # "topics" when the forum mode is off, else the rights the bot lacks
    resumed: int = 0  # parked commands that went out again because the group works again


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
