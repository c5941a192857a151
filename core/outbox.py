"""Commands out: everything that leaves the system is a row here first, so a crash at any point loses nothing.

States: pending_approval → approved → queued → in_flight → done | failed (after retries) | cancelled.
The dispatcher (core.dispatcher) claims runnable commands with SKIP LOCKED, executes them through the adapters
within per-destination rate budgets, and records the outcome as an event the agent can see.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from . import commands, events
from .models import CommandOrigin, CommandState, OutboxCommand
from .ports import Delivery

MAX_ATTEMPTS = 8
# A command claimed by a worker that died is taken again after this long (emulated seconds: `lease` divides it by
# SALESOP_TIME_SCALE like every budget). The worker executing a command renews it (core.dispatcher's heartbeat), so a
# slow call or a database outage is no reason to take it again; only a dead worker's commands run out.
LEASE = timedelta(seconds=60)
MIN_LEASE = timedelta(seconds=3)  # real seconds: below this a busy event loop could miss its own heartbeat

RUNNABLE = (CommandState.APPROVED, CommandState.QUEUED)


def lease(time_scale: float = 1.0) -> timedelta:
    """The in-flight lease in real time for a deployment running at `time_scale` emulated seconds per second."""
    scale = time_scale if time_scale and time_scale > 0 else 1.0
    return max(MIN_LEASE, LEASE / scale)


def tg_group(chat_id: int) -> str:
    """Budget key for posts into one manager forum group (~20 messages/min, edits included)."""
    return f"tg:group:{chat_id}"


def tg_chat(chat_id: int) -> str:
    """Budget key for one private chat (~1 message/s)."""
    return f"tg:chat:{chat_id}"


def channel_dest(channel_id: int) -> str:
    """Budget key for a customer channel (VK token, Telegram account)."""
    return f"channel:{channel_id}"


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    destination: str,
    payload: dict,
    idempotency_key: str,
    tenant_id: int | None = None,
    dialog_id: int | None = None,
    suggestion_id: int | None = None,
    origin: CommandOrigin = CommandOrigin.SYSTEM,
    confidence: float | None = None,
    intent: str | None = None,
    state: CommandState = CommandState.QUEUED,
    not_before: datetime | None = None,
) -> OutboxCommand:
    """Insert a command once per idempotency key; a second enqueue with the same key returns the first command.
    A kind the deployment did not register, or a payload without its type's required keys, is refused here
    (core.commands.check_payload) instead of failing when the dispatcher takes it."""
    commands.check_payload(kind, destination, payload)
    values = dict(
        kind=kind, destination=destination, payload=payload, idempotency_key=idempotency_key, tenant_id=tenant_id,
        dialog_id=dialog_id, suggestion_id=suggestion_id, origin=origin, confidence=confidence, intent=intent,
        state=state,
    )
    if not_before is not None:
        values["not_before"] = not_before
    command_id = (
        await session.execute(
            insert(OutboxCommand).values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxCommand.id)
        )
    ).scalar_one_or_none()
    if command_id is None:
        return (
            await session.execute(select(OutboxCommand).where(OutboxCommand.idempotency_key == idempotency_key))
        ).scalar_one()
    return await session.get(OutboxCommand, command_id)


async def approve(session: AsyncSession, command_id: int, *, staff_id: int | None = None) -> bool:
    done = (await session.execute(
        update(OutboxCommand)
        .where(OutboxCommand.id == command_id, OutboxCommand.state == CommandState.PENDING_APPROVAL)
        .values(state=CommandState.APPROVED, updated_at=datetime.now().astimezone())
        .returning(OutboxCommand.tenant_id, OutboxCommand.dialog_id)
    )).first()
    if done:
        events.record(session, "command_approved", tenant_id=done[0], dialog_id=done[1], actor_staff_id=staff_id,
                      command_id=command_id)
    return done is not None


async def cancel(session: AsyncSession, command_id: int, *, reason: str) -> bool:
    """Cancel a command that has not started (e.g. an auto-reply waiting out its delay when a manager answered)."""
    done = (await session.execute(
        update(OutboxCommand)
        .where(OutboxCommand.id == command_id,
               OutboxCommand.state.in_([CommandState.PENDING_APPROVAL, *RUNNABLE]))
        .values(state=CommandState.CANCELLED, last_error=reason, updated_at=datetime.now().astimezone())
        .returning(OutboxCommand.tenant_id, OutboxCommand.dialog_id)
    )).first()
    if done:
        events.record(session, "command_cancelled", tenant_id=done[0], dialog_id=done[1], command_id=command_id,
                      reason=reason)
    return done is not None


async def claim(session: AsyncSession, *, now: datetime, limit: int = 50,
                exclude_destinations: set[str] = frozenset(), lease: timedelta = LEASE) -> list[OutboxCommand]:
    """Take runnable commands (and ones whose worker died mid-flight), oldest first, marking them in_flight.
    SKIP LOCKED lets any number of dispatchers share the table without taking the same command."""
    query = (
        select(OutboxCommand)
        .where(
            or_(
                OutboxCommand.state.in_(RUNNABLE) & (OutboxCommand.not_before <= now),
                (OutboxCommand.state == CommandState.IN_FLIGHT) & (OutboxCommand.updated_at < now - lease),
            )
        )
        .order_by(OutboxCommand.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if exclude_destinations:
        query = query.where(OutboxCommand.destination.not_in(exclude_destinations))
    commands = list((await session.execute(query)).scalars())
    for command in commands:
        command.state = CommandState.IN_FLIGHT
        command.attempts += 1
        command.updated_at = now
    return commands


async def complete(session: AsyncSession, command: OutboxCommand, delivery: Delivery, *, now: datetime) -> bool:
    """Record a delivery. Idempotent: a command already done keeps its first record (returns False)."""
    if command.state == CommandState.DONE:
        return False
    command.state = CommandState.DONE
    command.done_at = now
    command.updated_at = now
    command.result = {"external_id": delivery.external_id, **delivery.extra}
    events.record(session, "command_done", tenant_id=command.tenant_id, dialog_id=command.dialog_id,
                  command_id=command.id, command_kind=command.kind, external_id=delivery.external_id)
    return True


def backoff(attempts: int) -> timedelta:
    """Exponential backoff for 5xx and network errors: 1, 2, 4 … 64 s."""
    return timedelta(seconds=min(64, 2 ** max(0, attempts - 1)))


async def fail(session: AsyncSession, command: OutboxCommand, reason: str, *, now: datetime,
               retry_after: float | None = None, permanent: bool = False, unanswered: bool = False) -> bool:
    """Record a failed attempt. Returns True when the command will be retried.

    A rate-limit answer (retry_after) waits exactly that long and does not use up an attempt. `unanswered`: the call
    left and no answer came (a timeout): it may have arrived, so a retry is counted as an unconfirmed send."""
    command.last_error = reason
    command.updated_at = now
    if unanswered and command.sending_since is not None and not permanent:
        command.unconfirmed_sends += 1
    command.sending_since = None  # the attempt is over, its outcome recorded
    if retry_after is not None and not permanent:
        command.attempts -= 1
        command.state = CommandState.QUEUED
        command.not_before = now + timedelta(seconds=retry_after)
        return True
    if permanent or command.attempts >= MAX_ATTEMPTS:
        command.state = CommandState.FAILED
        events.record(session, "command_failed", tenant_id=command.tenant_id, dialog_id=command.dialog_id,
                      command_id=command.id, command_kind=command.kind, reason=reason)
        return False
    command.state = CommandState.QUEUED
    command.not_before = now + backoff(command.attempts)
    return True
