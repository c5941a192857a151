"""The audit log: who did what and when, read from the event log (core.events) — settings changes with their old and
new values, staff and role changes, knowledge base and catalog edits, escalations closed, and, when asked for, what
the system did on its own (deliveries, failures).

Filters: kind, person (a staff member, "people" = any staff member, "all" = the system's own events too) and a
period of local days; pages go back by event id, 50 at a time, over ix_events_tenant_time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import UserError
from ..models import Event, StaffMember

PAGE = 50
PEOPLE = "people"  # events with a staff member behind them
EVERYONE = "all"  # the system's own events too


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    kind: str
    actor_id: int | None
    actor: str | None
    dialog_id: int | None
    payload: dict

    def as_dict(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat(), "kind": self.kind, "actor_id": self.actor_id,
                "actor": self.actor, "dialog_id": self.dialog_id, "payload": self.payload}


@dataclass(frozen=True)
class Changed:
    """One old → new pair found in an event's payload."""

    key: str
    old: object
    new: object


def changes(payload: dict) -> list[Changed]:
    """The old and new values an event carries: settings_changed's {"changes": {key: {old, new}}}, or top-level
    old_*/new_* pairs and {"old": .., "new": ..} (role changes)."""
    found: list[Changed] = []
    nested = payload.get("changes")
    if isinstance(nested, dict):
        for key, pair in nested.items():
            if isinstance(pair, dict) and ("old" in pair or "new" in pair):
                found.append(Changed(str(key), pair.get("old"), pair.get("new")))
    if "old" in payload and "new" in payload and not isinstance(payload.get("old"), dict):
        found.append(Changed(str(payload.get("what") or payload.get("field") or ""), payload["old"], payload["new"]))
    for key in payload:
        if key.startswith("old_") and f"new_{key[4:]}" in payload:
            found.append(Changed(key[4:], payload[key], payload[f"new_{key[4:]}"]))
    return found


async def kinds(session: AsyncSession, tenant_id: int) -> list[str]:
    return list((await session.execute(
        select(Event.kind).where(Event.tenant_id == tenant_id).group_by(Event.kind).order_by(Event.kind)
    )).scalars())


async def people(session: AsyncSession, tenant_id: int) -> list[tuple[int, str]]:
    """Everyone who ever was the tenant's staff (removed people stay in the log)."""
    return [(r.id, r.name) for r in (await session.execute(
        select(StaffMember.id, StaffMember.name).where(StaffMember.tenant_id == tenant_id).order_by(StaffMember.name)
    )).all()]


async def entries(session: AsyncSession, tenant_id: int, *, kind: str | None = None, actor: str = PEOPLE,
                  since: datetime | None = None, until: datetime | None = None, before_id: int | None = None,
                  limit: int = PAGE) -> list[AuditRow]:
    """Newest first. `actor`: a staff member's id (as text), PEOPLE or EVERYONE."""
    stmt = (select(Event, StaffMember.name).outerjoin(StaffMember, StaffMember.id == Event.actor_staff_id)
            .where(Event.tenant_id == tenant_id))
    if kind:
        stmt = stmt.where(Event.kind == kind)
    if actor == PEOPLE:
        stmt = stmt.where(Event.actor_staff_id.is_not(None))
    elif actor != EVERYONE:
        if not actor.isdigit():
            raise UserError(f"unknown person {actor!r}", code="miniapp.audit.error.person")
        stmt = stmt.where(Event.actor_staff_id == int(actor))
    if since is not None:
        stmt = stmt.where(Event.created_at >= since)
    if until is not None:
        stmt = stmt.where(Event.created_at < until)
    if before_id is not None:
        stmt = stmt.where(Event.id < before_id)
    rows = (await session.execute(stmt.order_by(Event.id.desc()).limit(limit))).all()
    return [AuditRow(e.id, e.created_at, e.kind, e.actor_staff_id, name, e.dialog_id, dict(e.payload or {}))
            for e, name in rows]


async def count(session: AsyncSession, tenant_id: int) -> int:
    return (await session.execute(select(func.count(Event.id)).where(Event.tenant_id == tenant_id))).scalar_one()
