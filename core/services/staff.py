"""Staff of a tenant: who a Telegram user is in each business they work for, and how people join and leave.

A person can be staff of several tenants; private-chat commands ask which one where it matters.

Joining is by invitation only: a single-use random token for one role, valid for a while (7 days by default), given
as a Telegram deep link (`https://t.me/<bot>?start=<token>`); only its sha256 is stored. The tenant's first owner
claims the link `salesop tenant create` prints. Roles change and people are removed by owners and admins (the
MANAGE_USERS permission) in the bot or from the command line (actor None); owners are made, changed and removed only
by owners, and the last active owner stays. Every change is an audit event with who did it and the old/new values.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..errors import UserError
from ..i18n import normalize, t
from ..models import (
    Dialog,
    DialogStatus,
    Invitation,
    ManagerGroup,
    OutboxCommand,
    Role,
    StaffMember,
    Tenant,
)
from ..permissions import Permission, can
from .workspace import base, topics


@dataclass(frozen=True)
class Membership:
    """One active staff record of a Telegram user, with the tenant and the role's rights."""

    staff_id: int
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    role_code: str
    permissions: frozenset[str]
    hidden_fields: frozenset[str]
    locale: str
    name: str

    def can(self, permission: Permission) -> bool:
        return can(self.permissions, permission)


async def memberships(session: AsyncSession, telegram_user_id: int) -> list[Membership]:
    """Every tenant where this Telegram user is active staff, oldest membership first."""
    rows = (await session.execute(
        select(StaffMember, Tenant)
        .join(Tenant, Tenant.id == StaffMember.tenant_id)
        .where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
        .order_by(StaffMember.id)
    )).all()
    return [
        Membership(staff.id, tenant.id, tenant.slug, tenant.name, staff.role.code,
                   frozenset(staff.role.permissions), frozenset(staff.role.hidden_fields), staff.locale, staff.name)
        for staff, tenant in rows
    ]


# ------------------------------------------------------------------------------------------------ refusals


class StaffError(UserError):
    """A refused staff action: `reason` names the text `staff.error.<reason>` (the error's code), which the bot and
    the CLI show in their reader's language (`text(locale)`); the message is the English one."""

    def __init__(self, reason: str, **params):
        key = f"staff.error.{reason}"
        super().__init__(t(key, "en", **params), code=key, **params)
        self.reason = reason


class Acting(Protocol):
    """Whoever acts in the bot: a Membership (private chat) or a workspace Actor (manager group)."""

    staff_id: int
    tenant_id: int
    role_code: str

    def can(self, permission: Permission) -> bool: ...


OWNER = "owner"
INVITE_TTL = timedelta(days=7)
MAX_TTL = timedelta(days=90)
# Telegram's deep-link payload: at most 64 characters of A–Z a–z 0–9 _ -. 32 random bytes → 43 such characters.
PAYLOAD_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN_BYTES = 32
# Dialogs a removed person may still hold: the ones that are not over.
OPEN_DIALOGS = (DialogStatus.ACTIVE, DialogStatus.WAITING, DialogStatus.ESCALATED)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _authorize(actor: Acting | None, tenant_id: int) -> None:
    """None is the command line (whoever runs it owns the installation); anyone else needs MANAGE_USERS here."""
    if actor is None:
        return
    if actor.tenant_id != tenant_id or not actor.can(Permission.MANAGE_USERS):
        raise StaffError("no_permission")


def _owner_only(actor: Acting | None) -> None:
    """Owners are made, changed and removed by owners (or from the command line), not by admins."""
    if actor is not None and actor.role_code != OWNER:
        raise StaffError("owner_only")


async def _lock_tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    """Staff changes of one tenant run one at a time (so two owners cannot demote each other at once). FOR NO KEY
    UPDATE does not block the key-share locks that inserts referencing the tenant take."""
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update(key_share=True)
    )).scalar_one_or_none()
    if tenant is None:
        raise StaffError("tenant_unknown")
    return tenant


async def _role(session: AsyncSession, tenant_id: int, code: str) -> Role:
    roles = list((await session.execute(select(Role).where(Role.tenant_id == tenant_id).order_by(Role.id))).scalars())
    for role in roles:
        if role.code == code:
            return role
    choices = ", ".join(r.code for r in roles)
    raise StaffError("role_unknown", role=code, roles=choices)


async def roles(session: AsyncSession, tenant_id: int) -> list[str]:
    """The tenant's role codes in their order (built-in roles first)."""
    return list((await session.execute(
        select(Role.code).where(Role.tenant_id == tenant_id).order_by(Role.id)
    )).scalars())


async def _active_owners(session: AsyncSession, tenant_id: int) -> int:
    return (await session.execute(
        select(func.count(StaffMember.id)).join(Role, Role.id == StaffMember.role_id)
        .where(StaffMember.tenant_id == tenant_id, StaffMember.is_active.is_(True), Role.code == OWNER)
    )).scalar_one()


async def _member(session: AsyncSession, tenant_id: int, staff_id: int) -> StaffMember:
    """The staff row, locked FOR NO KEY UPDATE: rows that merely reference it (events, assignments) are not blocked."""
    staff = (await session.execute(
        select(StaffMember).where(StaffMember.id == staff_id).with_for_update(of=StaffMember, key_share=True)
    )).scalar_one_or_none()
    if staff is None or staff.tenant_id != tenant_id:
        raise StaffError("staff_unknown", who=str(staff_id))
    return staff


async def staff_id_of(session: AsyncSession, tenant_id: int, telegram_user_id: int) -> int:
    """The staff record (active or removed) of a Telegram user in a tenant."""
    staff_id = (await session.execute(
        select(StaffMember.id).where(StaffMember.tenant_id == tenant_id,
                                     StaffMember.telegram_user_id == telegram_user_id)
    )).scalar_one_or_none()
    if staff_id is None:
        raise StaffError("staff_unknown", who=str(telegram_user_id))
    return staff_id


# --------------------------------------------------------------------------------------------- invitations


@dataclass(frozen=True)
class Invite:
    """A fresh invitation. The token exists only here (and in the link given to the person): the database keeps its
    sha256."""

    invitation_id: int
    token: str
    tenant_id: int
    tenant_slug: str
    role_code: str
    expires_at: datetime

    def link(self, bot_username: str) -> str:
        return deep_link(bot_username, self.token)


async def create_invitation(session: AsyncSession, tenant_id: int, role_code: str, *, actor: Acting | None,
                            ttl: timedelta = INVITE_TTL, via: str = "bot", now: datetime | None = None) -> Invite:
    """A single-use invitation to join the tenant with a role, valid for `ttl`."""
    _authorize(actor, tenant_id)
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise StaffError("bad_ttl", days=MAX_TTL.days)
    role = await _role(session, tenant_id, role_code)
    if role.code == OWNER:
        _owner_only(actor)
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise StaffError("tenant_unknown")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    assert PAYLOAD_RE.fullmatch(token)
    expires_at = _now(now) + ttl
    invitation = Invitation(tenant_id=tenant_id, role_id=role.id, token_hash=token_hash(token),
                            created_by_id=actor.staff_id if actor else None, expires_at=expires_at)
    session.add(invitation)
    await session.flush()
    events.record(session, "staff_invited", tenant_id=tenant_id, actor_staff_id=actor.staff_id if actor else None,
                  invitation_id=invitation.id, role=role.code, expires_at=expires_at.isoformat(), via=via)
    return Invite(invitation.id, token, tenant_id, tenant.slug, role.code, expires_at)


@dataclass(frozen=True)
class Joined:
    staff_id: int
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    role_code: str
    locale: str
    reactivated: bool


def _full_name(first_name: str | None, last_name: str | None) -> str:
    return " ".join(p for p in (first_name, last_name) if p).strip()[:200] or "—"


async def claim_invitation(session: AsyncSession, token: str, *, telegram_user_id: int, first_name: str | None,
                           last_name: str | None = None, username: str | None = None,
                           language_code: str | None = None, now: datetime | None = None) -> Joined:
    """The person who opened the link becomes staff with the invitation's role (a removed person comes back).
    An unknown, used or expired token, or someone who already works there, changes nothing."""
    now = _now(now)
    invitation = None
    if PAYLOAD_RE.fullmatch(token or ""):
        invitation = (await session.execute(
            select(Invitation).where(Invitation.token_hash == token_hash(token)).with_for_update()
        )).scalar_one_or_none()
    if invitation is None:
        raise StaffError("invite_unknown")
    if invitation.used_at is not None:
        raise StaffError("invite_used")
    if invitation.expires_at <= now:
        raise StaffError("invite_expired")
    tenant = await _lock_tenant(session, invitation.tenant_id)
    role = await session.get(Role, invitation.role_id)
    staff = (await session.execute(
        select(StaffMember)
        .where(StaffMember.tenant_id == tenant.id, StaffMember.telegram_user_id == telegram_user_id)
        .with_for_update(of=StaffMember, key_share=True)
    )).scalar_one_or_none()
    if staff is not None and staff.is_active:
        raise StaffError("already_staff", tenant=tenant.name)
    name, locale = _full_name(first_name, last_name), normalize(language_code)
    old_role = None
    if staff is None:
        staff = StaffMember(tenant_id=tenant.id, role_id=role.id, telegram_user_id=telegram_user_id, name=name,
                            username=username, locale=locale)
        session.add(staff)
    else:
        old_role = staff.role.code
        staff.role_id, staff.name, staff.username, staff.locale = role.id, name, username, locale
        staff.is_active, staff.removed_at = True, None
    await session.flush()
    await session.refresh(staff, ["role"])
    invitation.used_by_id, invitation.used_at = staff.id, now
    if old_role is not None:
        await _lift_bans(session, tenant.id, staff, key=f"invitation:{invitation.id}")
    events.record(session, "staff_joined", tenant_id=tenant.id, actor_staff_id=staff.id, staff_id=staff.id,
                  invitation_id=invitation.id, invited_by=invitation.created_by_id, old_role=old_role,
                  new_role=role.code, reactivated=old_role is not None, telegram_user_id=telegram_user_id)
    return Joined(staff.id, tenant.id, tenant.slug, tenant.name, role.code, locale, old_role is not None)


async def _lift_bans(session: AsyncSession, tenant_id: int, staff: StaffMember, *, key: str) -> None:
    """A removed person who comes back may join the managers' groups again: the ban their removal queued is lifted
    (unbanChatMember with only_if_banned, so whoever is in a group meanwhile stays in it); a ban that has not run yet
    is simply cancelled."""
    waiting_bans = (await session.execute(
        select(OutboxCommand.id).where(
            OutboxCommand.tenant_id == tenant_id, OutboxCommand.kind == base.Kind.BAN,
            OutboxCommand.state.in_(outbox.RUNNABLE),
            OutboxCommand.payload["user_id"].as_integer() == staff.telegram_user_id)
    )).scalars().all()
    for command_id in waiting_bans:
        await outbox.cancel(session, command_id, reason="the person was invited again")
    groups = list((await session.execute(
        select(ManagerGroup).where(ManagerGroup.tenant_id == tenant_id, ManagerGroup.is_active.is_(True))
        .order_by(ManagerGroup.id)
    )).scalars())
    for group in groups:
        await outbox.enqueue(
            session, kind=base.Kind.UNBAN, destination=outbox.tg_group(group.chat_id),
            idempotency_key=f"unban:{group.id}:{staff.id}:{key}", tenant_id=tenant_id,
            payload={"chat_id": group.chat_id, "user_id": staff.telegram_user_id, "only_if_banned": True},
        )


# ----------------------------------------------------------------------------------------------- the staff


@dataclass(frozen=True)
class StaffRow:
    staff_id: int
    telegram_user_id: int
    name: str
    username: str | None
    role_code: str
    active: bool
    locale: str

    def as_dict(self) -> dict:
        return {"staff_id": self.staff_id, "telegram_user_id": self.telegram_user_id, "name": self.name,
                "username": self.username, "role": self.role_code, "active": self.active, "locale": self.locale}


def _row(staff: StaffMember) -> StaffRow:
    return StaffRow(staff.id, staff.telegram_user_id, staff.name, staff.username, staff.role.code, staff.is_active,
                    staff.locale)


async def list_staff(session: AsyncSession, tenant_id: int, *, actor: Acting | None,
                     include_removed: bool = True) -> list[StaffRow]:
    """Everyone who works (or worked) for the tenant: active people first, each group oldest first."""
    _authorize(actor, tenant_id)
    query = select(StaffMember).where(StaffMember.tenant_id == tenant_id)
    if not include_removed:
        query = query.where(StaffMember.is_active.is_(True))
    rows = (await session.execute(query.order_by(StaffMember.is_active.desc(), StaffMember.id))).scalars()
    return [_row(staff) for staff in rows]


async def get_staff(session: AsyncSession, tenant_id: int, staff_id: int, *, actor: Acting | None) -> StaffRow:
    _authorize(actor, tenant_id)
    staff = await session.get(StaffMember, staff_id)
    if staff is None or staff.tenant_id != tenant_id:
        raise StaffError("staff_unknown", who=str(staff_id))
    return _row(staff)


async def change_role(session: AsyncSession, tenant_id: int, staff_id: int, role_code: str, *,
                      actor: Acting | None, via: str = "bot") -> StaffRow:
    """Give an active staff member another role. The last active owner keeps theirs."""
    _authorize(actor, tenant_id)
    await _lock_tenant(session, tenant_id)
    staff = await _member(session, tenant_id, staff_id)
    if not staff.is_active:
        raise StaffError("staff_removed", name=staff.name)
    role = await _role(session, tenant_id, role_code)
    old = staff.role.code
    if old == role.code:
        return _row(staff)
    if OWNER in (old, role.code):
        _owner_only(actor)
    if old == OWNER and await _active_owners(session, tenant_id) <= 1:
        raise StaffError("last_owner")
    staff.role_id = role.id
    await session.flush()
    await session.refresh(staff, ["role"])
    events.record(session, "staff_role_changed", tenant_id=tenant_id,
                  actor_staff_id=actor.staff_id if actor else None, staff_id=staff.id, old_role=old,
                  new_role=role.code, via=via)
    return _row(staff)


@dataclass(frozen=True)
class Removal:
    staff_id: int
    name: str
    groups: int  # manager groups they are banned from
    unassigned: list[int]  # their open dialogs, now without an assignee


async def remove_staff(session: AsyncSession, tenant_id: int, staff_id: int, *, actor: Acting | None,
                       via: str = "bot", now: datetime | None = None) -> Removal:
    """A fired employee loses access at once: deactivated (every check of bot buttons, topic replies and the Mini
    App looks for active staff), banned from every manager group of the tenant, and their open dialogs lose their
    assignee. The last active owner cannot be removed."""
    _authorize(actor, tenant_id)
    await _lock_tenant(session, tenant_id)
    staff = await _member(session, tenant_id, staff_id)
    if not staff.is_active:
        raise StaffError("staff_removed", name=staff.name)
    if actor is not None and staff.id == actor.staff_id:
        raise StaffError("remove_self")
    if staff.role.code == OWNER:
        _owner_only(actor)
        if await _active_owners(session, tenant_id) <= 1:
            raise StaffError("last_owner")
    now = _now(now)
    staff.is_active, staff.removed_at = False, now
    groups = list((await session.execute(
        select(ManagerGroup).where(ManagerGroup.tenant_id == tenant_id, ManagerGroup.is_active.is_(True))
        .order_by(ManagerGroup.id)
    )).scalars())
    for group in groups:
        await outbox.enqueue(
            session, kind=base.Kind.BAN, destination=outbox.tg_group(group.chat_id),
            idempotency_key=f"ban:{group.id}:{staff.id}:{int(now.timestamp())}", tenant_id=tenant_id,
            payload={"chat_id": group.chat_id, "user_id": staff.telegram_user_id},
        )
    dialogs = list((await session.execute(
        select(Dialog).where(Dialog.tenant_id == tenant_id, Dialog.assignee_id == staff.id,
                             Dialog.status.in_(OPEN_DIALOGS))
        .order_by(Dialog.id).with_for_update()
    )).scalars())
    for dialog in dialogs:
        dialog.assignee_id = None
        await topics.refresh_pinned_card(session, dialog)  # the card no longer names them
    events.record(session, "staff_removed", tenant_id=tenant_id, actor_staff_id=actor.staff_id if actor else None,
                  staff_id=staff.id, telegram_user_id=staff.telegram_user_id, old_role=staff.role.code,
                  groups=len(groups), unassigned=[d.id for d in dialogs], via=via)
    return Removal(staff.id, staff.name, len(groups), [d.id for d in dialogs])


async def revoke_invitation(session: AsyncSession, tenant_id: int, invitation_id: int, *, actor: Acting | None,
                            via: str = "miniapp", now: datetime | None = None) -> str:
    """A pending invitation withdrawn before anyone used it: its link stops working at once (it expires now; the
    row stays for the audit). Who may invite with a role may withdraw it. Returns the role's code."""
    _authorize(actor, tenant_id)
    await _lock_tenant(session, tenant_id)
    row = (await session.execute(
        select(Invitation, Role.code).join(Role, Role.id == Invitation.role_id)
        .where(Invitation.id == invitation_id, Invitation.tenant_id == tenant_id).with_for_update(of=Invitation)
    )).one_or_none()
    if row is None:
        raise StaffError("invite_unknown")
    invitation, role_code = row
    if role_code == OWNER:
        _owner_only(actor)
    if invitation.used_at is not None:
        raise StaffError("invite_used")
    moment = _now(now)
    if invitation.expires_at <= moment:
        raise StaffError("invite_expired")
    invitation.expires_at = moment
    events.record(session, "invitation_revoked", tenant_id=tenant_id, actor_staff_id=actor.staff_id if actor else None,
                  invitation_id=invitation.id, role=role_code, via=via)
    return role_code
