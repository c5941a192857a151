"""The event log: what happened, for the audit trail and for the agent (delivery, failure, edit, approval...)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .models import Event


def record(session: AsyncSession, kind: str, *, tenant_id: int | None, dialog_id: int | None = None,
           actor_staff_id: int | None = None, command_id: int | None = None, **payload) -> Event:
    event = Event(tenant_id=tenant_id, kind=kind, dialog_id=dialog_id, actor_staff_id=actor_staff_id,
                  command_id=command_id, payload=payload)
    session.add(event)
    return event
