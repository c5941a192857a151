"""Roles of a tenant: what each grants (core.permissions.Permission) and which customer fields it hides
(core.permissions.Field), edited by people with MANAGE_USERS (the Mini App's role editor) or from the command line
(actor None).

Rules, checked here so that every way in obeys them:
- the owner role keeps every permission (it is how a business is always managed);
- nobody grants a permission they do not hold themselves (an administrator cannot make themselves more than that);
- nobody takes MANAGE_USERS away from their own role: they would lose the very right that could give it back;
- roles of another tenant, unknown permissions and unknown fields are refused.

A change takes effect at once everywhere, because every reader looks the role up when it acts: the Mini App
(webapp.auth reads the role on each request), the bot's buttons, the cards in the managers' topics and the reports
(core.services.workspace.views.audience_hidden_fields reads the audience role's hidden fields from the database). The
pinned cards already posted in topics are refreshed (one coalesced edit per topic, through the outbox) when the
audience role's visibility changes. Every change is an audit event with the old and new values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..errors import UserError
from ..i18n import t
from ..models import Dialog, DialogStatus, DialogTopic, Invitation, ManagerGroup, Role, StaffMember, Tenant
from ..permissions import ALL, BUILTIN_ROLES, Field, Permission
from .workspace import base
from .staff import OWNER, Acting

# Order in which the editor lists them (the enums' own order).
PERMISSIONS = tuple(p.value for p in Permission)
FIELDS = tuple(f.value for f in Field)


class RoleError(UserError):
    """A refused role change; `reason` names the text `miniapp.roles.error.<reason>`."""

    def __init__(self, reason: str, **params):
        key = f"miniapp.roles.error.{reason}"
        super().__init__(t(key, "en", **params), code=key, **params)
        self.reason = reason


@dataclass(frozen=True)
class RoleView:
    role_id: int
    code: str
    name: str
    permissions: tuple[str, ...]
    hidden_fields: tuple[str, ...]
    people: int  # active staff with this role

    def as_dict(self) -> dict:
        return {"id": self.role_id, "code": self.code, "name": self.name, "permissions": list(self.permissions),
                "hidden_fields": list(self.hidden_fields), "people": self.people}


def _authorize(actor: Acting | None, tenant_id: int) -> None:
    if actor is None:
        return
    if actor.tenant_id != tenant_id or not actor.can(Permission.MANAGE_USERS):
        raise RoleError("no_permission")


def _view(role: Role, people: int) -> RoleView:
    return RoleView(role.id, role.code, role.name,
                    tuple(p for p in PERMISSIONS if p in set(role.permissions)),
                    tuple(f for f in FIELDS if f in set(role.hidden_fields)), people)


async def list_roles(session: AsyncSession, tenant_id: int, *, actor: Acting | None) -> list[RoleView]:
    """The tenant's roles (built-in ones first), with how many active people hold each."""
    _authorize(actor, tenant_id)
    counts = dict((await session.execute(
        select(StaffMember.role_id, func.count(StaffMember.id))
        .where(StaffMember.tenant_id == tenant_id, StaffMember.is_active.is_(True))
        .group_by(StaffMember.role_id)
    )).all())
    roles = (await session.execute(select(Role).where(Role.tenant_id == tenant_id).order_by(Role.id))).scalars()
    return [_view(role, counts.get(role.id, 0)) for role in roles]


def _parse(values, known: tuple[str, ...], reason: str) -> set[str]:
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise RoleError(reason, value=str(values))
    out = set()
    for value in values:
        value = value.value if isinstance(value, (Permission, Field)) else value
        if not isinstance(value, str) or value not in known:
            raise RoleError(reason, value=str(value))
        out.add(value)
    return out


async def update_role(session: AsyncSession, tenant_id: int, code: str, *, actor: Acting | None,
                      permissions=None, hidden_fields=None, via: str = "miniapp") -> RoleView:
    """Set a role's permissions and/or hidden fields (None leaves that part as it is)."""
    _authorize(actor, tenant_id)
    # Role changes of one tenant run one at a time, like staff changes (core.services.staff).
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update(key_share=True)
    )).scalar_one_or_none()
    if tenant is None:
        raise RoleError("role_unknown", role=code)
    role = (await session.execute(
        select(Role).where(Role.tenant_id == tenant_id, Role.code == code).with_for_update()
    )).scalar_one_or_none()
    if role is None:
        raise RoleError("role_unknown", role=code)
    old_permissions, old_hidden = set(role.permissions), set(role.hidden_fields)
    new_permissions = old_permissions if permissions is None else _parse(permissions, PERMISSIONS, "bad_permission")
    new_hidden = old_hidden if hidden_fields is None else _parse(hidden_fields, FIELDS, "bad_field")

    if role.code == OWNER:
        if actor is not None and actor.role_code != OWNER:
            raise RoleError("owner_only")
        if new_permissions != {p.value for p in ALL}:
            raise RoleError("owner_keeps_all")
    if actor is not None:
        granted = new_permissions - old_permissions
        beyond = sorted(p for p in granted if not actor.can(Permission(p)))
        if beyond:
            raise RoleError("not_yours", permissions=", ".join(beyond))
        own_role = actor.role_code == role.code
        if own_role and Permission.MANAGE_USERS.value in old_permissions \
                and Permission.MANAGE_USERS.value not in new_permissions:
            raise RoleError("lockout")

    if new_permissions == old_permissions and new_hidden == old_hidden:
        return await _counted(session, role)
    role.permissions = [p for p in PERMISSIONS if p in new_permissions]
    role.hidden_fields = [f for f in FIELDS if f in new_hidden]
    await session.flush()
    events.record(
        session, "role_changed", tenant_id=tenant_id, actor_staff_id=actor.staff_id if actor else None,
        role=role.code, via=via,
        old={"permissions": sorted(old_permissions), "hidden_fields": sorted(old_hidden)},
        new={"permissions": sorted(new_permissions), "hidden_fields": sorted(new_hidden)},
        granted=sorted(new_permissions - old_permissions), revoked=sorted(old_permissions - new_permissions),
        shown=sorted(old_hidden - new_hidden), hidden=sorted(new_hidden - old_hidden),
    )
    if role.code == base.AUDIENCE_ROLE and new_hidden != old_hidden:
        await refresh_cards(session, tenant_id)
    return await _counted(session, role)


async def _counted(session: AsyncSession, role: Role) -> RoleView:
    people = (await session.execute(
        select(func.count(StaffMember.id)).where(StaffMember.role_id == role.id, StaffMember.is_active.is_(True))
    )).scalar_one()
    return _view(role, people)


# Open dialogs first: their cards are the ones people look at now.
_OPEN_FIRST = (DialogStatus.ACTIVE, DialogStatus.WAITING, DialogStatus.ESCALATED)


async def refresh_cards(session: AsyncSession, tenant_id: int) -> int:
    """Queue an edit of every posted pinned card of the tenant (the topics of each dialog's current group): they show
    what the audience role sees, which just changed. Repeated refreshes of one card coalesce into one edit, and the
    outbox spreads them within the group's message budget. Returns how many were queued."""
    rows = (await session.execute(
        select(DialogTopic.id, DialogTopic.dialog_id, ManagerGroup.chat_id)
        .join(Dialog, (Dialog.id == DialogTopic.dialog_id) & (Dialog.manager_group_id == DialogTopic.manager_group_id))
        .join(ManagerGroup, ManagerGroup.id == DialogTopic.manager_group_id)
        .where(Dialog.tenant_id == tenant_id, DialogTopic.pinned_message_id.is_not(None))
        .order_by(Dialog.status.in_(_OPEN_FIRST).desc(), Dialog.last_message_at.desc().nulls_last(), Dialog.id)
    )).all()
    for topic_id, dialog_id, chat_id in rows:
        await outbox.enqueue(
            session, kind=base.Kind.EDIT_PINNED_CARD, destination=outbox.tg_group(chat_id),
            idempotency_key=base._key(f"topic:{topic_id}:card-edit"),  # noqa: SLF001 — the workspace's own key scheme
            tenant_id=tenant_id, dialog_id=dialog_id, payload={"topic_id": topic_id},
        )
    return len(rows)


# ----------------------------------------------------------------------------------------- new and deleted roles

MAX_ROLE_NAME = 100
ROLE_CODE_MAX = 32  # roles.code


def _code_for(name: str, taken: set[str]) -> str:
    """A role's code from its name: latin letters and digits of it, else "role"; numbered when taken."""
    base_code = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:24] or "role"
    code, n = base_code, 1
    while code in taken or code in BUILTIN_ROLES:
        n += 1
        code = f"{base_code}_{n}"[:ROLE_CODE_MAX]
    return code


async def create_role(session: AsyncSession, tenant_id: int, *, actor: Acting | None, name: str, permissions=(),
                      hidden_fields=(), via: str = "miniapp") -> RoleView:
    """A new role with a name, what it grants and which customer fields it hides. Nobody grants a permission they do
    not hold themselves; names are unique in the business (whatever their case)."""
    _authorize(actor, tenant_id)
    name = " ".join(str(name or "").split())
    if not name or len(name) > MAX_ROLE_NAME:
        raise RoleError("bad_name", max=MAX_ROLE_NAME)
    new_permissions = _parse(permissions, PERMISSIONS, "bad_permission")
    new_hidden = _parse(hidden_fields, FIELDS, "bad_field")
    if actor is not None:
        beyond = sorted(p for p in new_permissions if not actor.can(Permission(p)))
        if beyond:
            raise RoleError("not_yours", permissions=", ".join(beyond))
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update(key_share=True)
    )).scalar_one_or_none()
    if tenant is None:
        raise RoleError("role_unknown", role=name)
    existing = (await session.execute(select(Role.code, Role.name).where(Role.tenant_id == tenant_id))).all()
    if any(n.lower() == name.lower() for _, n in existing):
        raise RoleError("duplicate", role=name)
    role = Role(tenant_id=tenant_id, code=_code_for(name, {c for c, _ in existing}), name=name,
                permissions=[p for p in PERMISSIONS if p in new_permissions],
                hidden_fields=[f for f in FIELDS if f in new_hidden])
    session.add(role)
    await session.flush()
    events.record(session, "role_created", tenant_id=tenant_id, actor_staff_id=actor.staff_id if actor else None,
                  role=role.code, name=name, via=via,
                  new={"permissions": sorted(new_permissions), "hidden_fields": sorted(new_hidden)})
    return _view(role, 0)


async def delete_role(session: AsyncSession, tenant_id: int, code: str, *, actor: Acting | None,
                      via: str = "miniapp") -> str:
    """Delete a role nobody holds (nor held: removed people keep their last role on record) and no waiting invitation
    gives. The built-in roles stay. Returns the deleted role's name."""
    _authorize(actor, tenant_id)
    await session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(key_share=True))
    role = (await session.execute(
        select(Role).where(Role.tenant_id == tenant_id, Role.code == code).with_for_update()
    )).scalar_one_or_none()
    if role is None:
        raise RoleError("role_unknown", role=code)
    if role.code in BUILTIN_ROLES:
        raise RoleError("builtin", role=role.name)
    people = (await session.execute(
        select(func.count(StaffMember.id)).where(StaffMember.role_id == role.id))).scalar_one()
    if people:
        raise RoleError("in_use", role=role.name, count=people)
    waiting = (await session.execute(
        select(func.count(Invitation.id)).where(Invitation.role_id == role.id, Invitation.used_at.is_(None),
                                                Invitation.expires_at > func.now()))).scalar_one()
    if waiting:
        raise RoleError("invited", role=role.name, count=waiting)
    name = role.name
    await session.execute(delete(Invitation).where(Invitation.role_id == role.id))  # used or expired ones
    await session.delete(role)
    await session.flush()
    events.record(session, "role_deleted", tenant_id=tenant_id, actor_staff_id=actor.staff_id if actor else None,
                  role=code, name=name, via=via,
                  old={"permissions": list(role.permissions), "hidden_fields": list(role.hidden_fields)})
    return name
