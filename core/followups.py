"""Durable follow-up work: what an event asks to be done next (mirror a message into its topic, draft a reply,
refresh the customer's memory, transcribe a voice message, ...) is a row in `follow_ups`, written in the SAME
transaction as the event that caused it, then run by taskiq workers (core.tasks.TaskiqQueue) with retries, backoff
and jitter. A crash anywhere loses nothing: the row is still there, and the relay hands it to a worker again.

Why a table of its own rather than the outbox (core.outbox / core.dispatcher): an outbox command is something that
LEAVES the system, run by one dispatcher loop under per-destination rate budgets, lanes and delivery states;
follow-ups are internal computations (an LLM call can take seconds) that must spread over taskiq workers on as many
machines as needed and must not wait behind a group's Telegram budget. What they share is the idea — the row is
the truth, execution is at-least-once, handlers are idempotent — not the machinery.

The life of a row:
- `stage(session, KIND, payload)` inside the causing transaction (the inbox does it for every message, edit and
  deletion); after the commit the caller's `queue.enqueue(name, **payload)` hands it to taskiq at once.
- A worker claims it (pending → running with a lease), runs the handler, and deletes the row. (kind, key) — the
  payload as canonical JSON — is the identity: the same work asked for twice is one row, and work asked for again
  while it runs (a second edit of the same message) runs once more after it (`again`).
- A handler that raises: the row goes back to pending and taskiq's retry middleware kicks it again after an
  exponential delay with jitter; after `kind.attempts` failures the row is DEAD — counted in the /status checklist
  (core.services.readiness) with its last error, never dropped, and tried again from the start at the next start of
  the product (after the cause was fixed).
- The relay (`Relay`, run by every process that executes tasks) hands to taskiq again every pending row nobody
  kicked for `grace` seconds (its process died between commit and enqueue, or its in-memory queue died with it) and
  every running row whose lease ran out (the worker died mid-task); at start it hands over everything pending.

A redelivered task is harmless: a worker runs a row only if it can claim it, and every handler is idempotent on its
own keys (mirror posts are outbox commands keyed "mirror:<message>:<topic>", cards "card:<suggestion>", a draft is
skipped when the message already has one, a transcript when the message has one).

Each kind is one typed definition below, declared in `KINDS` explicitly. Every process must register a handler for
every kind (`TaskiqQueue.check_follow_ups` at start-up: a kind nobody handles is a start-up error, never a task
silently dropped at run time).

Locks: staging upserts one follow_ups row, after whatever the causing transaction locked (core.db's order: the
dialog row first); claims and completions touch only the follow_ups row, each in its own short transaction, so they
never hold a lock another transaction waits for while waiting themselves.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Text, and_, case, cast, delete, event, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from .db import Database
from .models import FollowUp, FollowUpState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowUpKind:
    """One kind of follow-up work: its task name, the payload it takes, how often it is tried before it is dead."""

    name: str
    params: tuple[str, ...]
    attempts: int = 5

    def payload(self, kwargs: dict) -> dict:
        if set(kwargs) != set(self.params):
            raise TypeError(f"follow-up {self.name} takes {self.params}, got {sorted(kwargs)}")
        return kwargs


MIRROR_MESSAGE = FollowUpKind("mirror_message", ("message_id",))
MIRROR_EDIT = FollowUpKind("mirror_edit", ("message_id",))
REFRESH_CARDS = FollowUpKind("refresh_cards", ("suggestion_ids",))
SUGGEST_REPLY = FollowUpKind("suggest_reply", ("message_id",))
POST_SUGGESTION_CARD = FollowUpKind("post_suggestion_card", ("suggestion_id",))
REFRESH_CUSTOMER_MEMORY = FollowUpKind("refresh_customer_memory", ("customer_id",))
REEMBED_STALE = FollowUpKind("reembed_stale", ("tenant_id",))
TRANSCRIBE_VOICE = FollowUpKind("transcribe_voice", ("message_id",))


def _declare(*kinds: FollowUpKind) -> dict[str, FollowUpKind]:
    declared: dict[str, FollowUpKind] = {}
    for kind in kinds:
        if kind.name in declared:
            raise ValueError(f"follow-up kind {kind.name} declared twice")
        declared[kind.name] = kind
    return declared


KINDS: dict[str, FollowUpKind] = _declare(
    MIRROR_MESSAGE, MIRROR_EDIT, REFRESH_CARDS, SUGGEST_REPLY, POST_SUGGESTION_CARD, REFRESH_CUSTOMER_MEMORY,
    REEMBED_STALE, TRANSCRIBE_VOICE,
)


class UnknownFollowUp(RuntimeError):
    """A follow-up kind without a handler in this process, or a task name nobody declared: found at start-up."""


@dataclass(frozen=True)
class Timings:
    """Seconds (real ones: `scaled` divides emulated seconds by SALESOP_TIME_SCALE, as the rate budgets do)."""

    retry_delay: float = 2.0  # the first retry's delay; doubled each time, with jitter
    max_retry_delay: float = 60.0
    grace: float = 90.0  # a pending row nobody handed over for this long goes to taskiq again (> max_retry_delay)
    lease: float = 300.0  # a running row whose worker is silent this long is run again
    poll: float = 10.0  # how often the relay looks

    def scaled(self, time_scale: float) -> Timings:
        scale = time_scale if time_scale and time_scale > 0 else 1.0
        return Timings(*(value / scale for value in (self.retry_delay, self.max_retry_delay, self.grace,
                                                        self.lease, self.poll)))


def key_of(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def _kind(kind: FollowUpKind | str) -> FollowUpKind:
    if isinstance(kind, FollowUpKind):
        return kind
    found = KINDS.get(kind)
    if found is None:
        raise UnknownFollowUp(f"no follow-up kind {kind!r}")
    return found


# Follow-ups staged by transactions of this process that committed, not yet handed to the queue: `enqueue` needs no
# row of its own for them (`committed`). Bounded: a row the relay hands over instead is simply forgotten here.
_COMMITTED: OrderedDict[tuple[str, str], None] = OrderedDict()
_COMMITTED_MAX = 20_000
_STAGED = "follow_ups.staged"  # session.info key: (kind, key) staged in the session's transaction


@event.listens_for(Session, "after_commit")
def _remember_committed(session: Session) -> None:
    staged = session.info.pop(_STAGED, None)
    if staged:
        for item in staged:
            _COMMITTED[item] = None
        while len(_COMMITTED) > _COMMITTED_MAX:
            _COMMITTED.popitem(last=False)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_STAGED, None)


def committed(name: str, payload: dict) -> bool:
    """True (once) when a transaction of this process staged this work and committed: its row exists, or the work
    already ran."""
    try:
        del _COMMITTED[(name, key_of(payload))]
    except KeyError:
        return False
    return True


async def stage(session: AsyncSession, kind: FollowUpKind, payload: dict, *, tenant_id: int | None = None) -> None:
    """Ask for `kind` with `payload` in the caller's transaction (nothing runs before it commits). Asked again while
    pending: one row; while running: it runs once more after; a dead one comes back to life with fresh attempts."""
    await stage_many(session, [(kind, payload)], tenant_id=tenant_id)


async def stage_many(session: AsyncSession, asked: list[tuple[FollowUpKind, dict]], *,
                     tenant_id: int | None = None) -> None:
    """`stage` for several pieces of work in one statement (one round trip for everything an event asks for)."""
    rows, seen = [], set()
    for kind, payload in asked:
        payload = kind.payload(payload)
        key = key_of(payload)
        if (kind.name, key) in seen:  # one statement cannot touch a row twice
            continue
        seen.add((kind.name, key))
        rows.append({"kind": kind.name, "key": key, "payload": payload, "tenant_id": tenant_id})
    if not rows:
        return
    if not session.in_nested_transaction():  # a savepoint may roll back alone: then `enqueue` writes the row
        session.sync_session.info.setdefault(_STAGED, set()).update(seen)
    # One statement all the same (insertmanyvalues renders the rows into one INSERT), built and compiled once: a
    # multi-row VALUES built per call cost more CPU than the database spends on it.
    await session.execute(_stage_statement(), rows)


_STAGE_STATEMENT = None


def _stage_statement():
    global _STAGE_STATEMENT
    if _STAGE_STATEMENT is None:
        table = FollowUp.__table__
        statement = insert(table)
        running = table.c.state == FollowUpState.RUNNING.value
        _STAGE_STATEMENT = statement.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={
                "state": case((running, FollowUpState.RUNNING.value), else_=FollowUpState.PENDING.value),
                "again": running,
                "attempts": case((table.c.state == FollowUpState.DEAD.value, 0), else_=table.c.attempts),
                "due_at": func.now(),
                "tenant_id": func.coalesce(table.c.tenant_id, statement.excluded.tenant_id),
                "updated_at": func.now(),
            },
        )
    return _STAGE_STATEMENT


async def stage_all(session: AsyncSession, follow_ups: Iterable[tuple[str, dict]], *,
                    tenant_id: int | None = None) -> None:
    """`stage` for (name, payload) pairs as the inbox and the AI pipeline return them."""
    await stage_many(session, [(_kind(name), payload) for name, payload in follow_ups], tenant_id=tenant_id)


async def ensure(db: Database, kind: FollowUpKind, payload: dict) -> None:
    """The row for work asked for outside a transaction of its own (a task queued after a commit by code that did not
    stage it): written now, so that from here on it survives a crash. An existing row is left as it is."""
    payload = kind.payload(payload)
    async with db.unit_of_work() as session:
        await session.execute(insert(FollowUp).values(kind=kind.name, key=key_of(payload), payload=payload)
                              .on_conflict_do_nothing(index_elements=["kind", "key"]))


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int


ABSENT = "absent"  # no row: the work was never staged (or is already done): run it as a plain task
BUSY = "busy"  # a row that another worker holds, that is dead, or not due yet: leave it


async def claim(db: Database, kind: FollowUpKind, payload: dict, timings: Timings) -> Claim | str:
    key = key_of(payload)
    table = FollowUp.__table__
    now = func.now()
    async with db.unit_of_work() as session:
        row = (await session.execute(
            update(FollowUp)
            .where(FollowUp.kind == kind.name, FollowUp.key == key,
                   or_(and_(table.c.state == FollowUpState.PENDING.value, FollowUp.due_at <= now),
                       and_(table.c.state == FollowUpState.RUNNING.value, FollowUp.lease_until < now)))
            .values(state=FollowUpState.RUNNING, attempts=FollowUp.attempts + 1, again=False,
                    lease_until=now + timedelta(seconds=timings.lease), updated_at=now)
            .returning(FollowUp.id, FollowUp.attempts)
        )).one_or_none()
        if row is not None:
            return Claim(row.id, row.attempts)
        exists = await session.scalar(select(FollowUp.id).where(FollowUp.kind == kind.name, FollowUp.key == key))
    return BUSY if exists is not None else ABSENT


@dataclass(frozen=True)
class Taken:
    """A row read for work done inside one transaction (`take`, `done`): `version` is the row's xmin, which any
    change of the row (asked for again, handed over by the relay) replaces."""

    id: int
    attempts: int
    version: str


async def take(session: AsyncSession, kind: FollowUpKind, payloads: list[dict]) -> dict[str, Taken | str]:
    """For work whose whole effect is written in the caller's transaction (core.tasks.InTransaction): each payload's
    key → its row if it may run now (pending and due, or running with its lease run out), BUSY if it has a row that
    may not; keys without a row are left out (ABSENT). Nothing is locked here: `done` deletes exactly the rows read,
    in the same transaction as the work, so the work and the end of its row commit together or not at all."""
    table = FollowUp.__table__
    now = func.now()
    runnable = or_(and_(table.c.state == FollowUpState.PENDING.value, FollowUp.due_at <= now),
                   and_(table.c.state == FollowUpState.RUNNING.value, FollowUp.lease_until < now))
    rows = (await session.execute(
        select(FollowUp.id, FollowUp.key, FollowUp.attempts, cast(literal_column("follow_ups.xmin"), Text),
               runnable)
        .where(FollowUp.kind == kind.name, FollowUp.key.in_({key_of(p) for p in payloads}))
    )).all()
    return {row[1]: Taken(row[0], row[2], row[3]) if row[4] else BUSY for row in rows}


async def done(session: AsyncSession, taken: list[Taken]) -> bool:
    """Delete the rows `take` read, in the work's transaction. False when any of them changed or went meanwhile (the
    same work asked for again after the read, another worker finished it): the caller rolls back, and whoever
    changed the row runs the work (every change of a row comes with a kick)."""
    if not taken:
        return True
    gone = (await session.execute(
        delete(FollowUp)
        .where(tuple_(FollowUp.id, cast(literal_column("follow_ups.xmin"), Text)).in_(
            [(t.id, t.version) for t in taken]))
        .returning(FollowUp.id)
    )).all()
    return len(gone) == len(taken)


async def failed(db: Database, kind: FollowUpKind, payload: dict, error: str) -> bool | None:
    """A failed attempt of work run inside its own transaction (rolled back): counted on its row. True when it was
    the last one (the row is dead), False when it is pending again, None when there is no row (a plain task)."""
    table = FollowUp.__table__
    attempts = FollowUp.attempts + 1
    async with db.unit_of_work() as session:
        state = (await session.execute(
            update(FollowUp)
            .where(FollowUp.kind == kind.name, FollowUp.key == key_of(payload),
                   table.c.state != FollowUpState.DEAD.value)
            .values(attempts=attempts,
                    state=case((attempts >= kind.attempts, FollowUpState.DEAD.value),
                               else_=FollowUpState.PENDING.value),
                    lease_until=None, due_at=func.now(), kicked_at=func.now(), last_error=error[:2000],
                    updated_at=func.now())
            .returning(table.c.state)
        )).scalar_one_or_none()
    return None if state is None else state == FollowUpState.DEAD.value


async def finish(db: Database, claimed: Claim) -> bool:
    """The work is done: the row goes. True when it was asked for again meanwhile (it is pending again: kick it)."""
    async with db.unit_of_work() as session:
        gone = await session.scalar(delete(FollowUp).where(FollowUp.id == claimed.id, FollowUp.again.is_(False))
                                    .returning(FollowUp.id))
        if gone is not None:
            return False
        again = await session.scalar(
            update(FollowUp).where(FollowUp.id == claimed.id)
            .values(state=FollowUpState.PENDING, again=False, lease_until=None, due_at=func.now(),
                    kicked_at=func.now(), updated_at=func.now())
            .returning(FollowUp.id))
    return again is not None


async def fail(db: Database, kind: FollowUpKind, claimed: Claim, error: str) -> bool:
    """A failed attempt. True when it was the last one: the row is dead. Otherwise it is pending again at once (the
    retry middleware's delayed kick claims it; `kicked_at` keeps the relay away meanwhile)."""
    dead = claimed.attempts >= kind.attempts
    async with db.unit_of_work() as session:
        await session.execute(
            update(FollowUp).where(FollowUp.id == claimed.id)
            .values(state=FollowUpState.DEAD if dead else FollowUpState.PENDING, lease_until=None,
                    due_at=func.now(), kicked_at=func.now(), last_error=error[:2000], updated_at=func.now()))
    return dead


async def kill(db: Database, name: str, key: str, error: str) -> None:
    """A row of a kind this process does not know (left by another version): dead, so a person sees it."""
    async with db.unit_of_work() as session:
        await session.execute(update(FollowUp).where(FollowUp.kind == name, FollowUp.key == key)
                              .values(state=FollowUpState.DEAD, last_error=error[:2000], updated_at=func.now()))


async def due(db: Database, timings: Timings, *, everything: bool = False, limit: int = 500) -> list[tuple[str, dict]]:
    """Rows to hand to taskiq again, marked as handed over in the same statement (so replicas share them out):
    pending ones nobody handed over for `grace` seconds (all of them with `everything`), running ones whose lease
    ran out."""
    now = func.now()
    table = FollowUp.__table__
    pending = table.c.state == FollowUpState.PENDING.value
    if not everything:
        pending = and_(pending, FollowUp.kicked_at < now - timedelta(seconds=timings.grace))
    stale = and_(table.c.state == FollowUpState.RUNNING.value, FollowUp.lease_until < now)
    picked = (select(FollowUp.id).where(or_(pending, stale)).order_by(FollowUp.id).limit(limit)
              .with_for_update(skip_locked=True).scalar_subquery())
    async with db.unit_of_work() as session:
        rows = (await session.execute(
            update(FollowUp).where(FollowUp.id.in_(picked))
            .values(state=FollowUpState.PENDING, kicked_at=now, due_at=now, lease_until=None, updated_at=now)
            .returning(FollowUp.kind, FollowUp.payload, FollowUp.id)
        )).all()
    return [(row.kind, row.payload) for row in sorted(rows, key=lambda r: r.id)]


async def revive_dead(db: Database) -> int:
    """At start: dead work gets a fresh set of attempts (the cause may have been fixed meanwhile)."""
    async with db.unit_of_work() as session:
        revived = (await session.execute(
            update(FollowUp).where(FollowUp.__table__.c.state == FollowUpState.DEAD.value)
            .values(state=FollowUpState.PENDING, attempts=0, due_at=func.now(), updated_at=func.now())
            .returning(FollowUp.id))).all()
    return len(revived)


@dataclass(frozen=True)
class DeadCount:
    count: int
    last_error: str | None
    kinds: tuple[str, ...]


async def dead(session: AsyncSession, tenant_id: int) -> DeadCount:
    """Follow-ups of a tenant that failed every attempt (for the /status checklist)."""
    table = FollowUp.__table__
    where = (FollowUp.tenant_id == tenant_id, table.c.state == FollowUpState.DEAD.value)
    count = (await session.execute(select(func.count(FollowUp.id)).where(*where))).scalar_one()
    if not count:
        return DeadCount(0, None, ())
    last = (await session.execute(select(FollowUp.last_error).where(*where)
                                  .order_by(FollowUp.updated_at.desc(), FollowUp.id.desc()).limit(1))).scalar_one()
    kinds = tuple((await session.execute(select(FollowUp.kind).where(*where).distinct().order_by(FollowUp.kind)))
                  .scalars())
    return DeadCount(count, last, kinds)


class Relay:
    """Hands to taskiq again what nobody runs: at start every pending row (with the in-process broker: the in-memory
    queue of a process that died is gone, the rows are not) and dead rows with fresh attempts; then, every `poll` seconds, pending rows nobody
    handed over for `grace` seconds and running rows whose lease ran out. Several processes may run one: a row is
    handed over by one of them per pass, and a worker runs it only if it claims it."""

    def __init__(self, db: Database, queue, timings: Timings, *, revive: bool = True):
        self.db = db
        self.queue = queue
        self.timings = timings
        self.revive = revive
        self.handed_over = 0

    async def run(self, stop) -> None:
        import asyncio

        first = True
        while not stop.is_set():
            try:
                if first and self.revive:
                    revived = await revive_dead(self.db)
                    if revived:
                        log.warning("%s failed follow-ups are tried again", revived)
                # An in-process queue died with its process: at start everything pending is handed over. Redis
                # Streams keep what was sent (and redeliver it), so there only what nobody handed over for a while.
                await self.once(everything=first and self.queue.in_process)
                first = False
            except Exception:  # a database restart: the next pass tries again
                log.exception("follow-up relay pass failed")
            try:
                await asyncio.wait_for(stop.wait(), self.timings.poll)
            except TimeoutError:
                pass

    async def once(self, *, everything: bool = False) -> int:
        rows = await due(self.db, self.timings, everything=everything)
        for name, payload in rows:
            await self.queue.kick(name, payload)
        self.handed_over += len(rows)
        return len(rows)
