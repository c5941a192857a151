"""Leases: each channel account (a Telethon session, a VK long poll) and each history import runs in exactly one
process at a time across replicas. A lease is a row in `channel_leases` (name, holder, fencing token, expires_at):
the holder renews it every `heartbeat` seconds; a holder that dies stops renewing, the row expires after `ttl`, and
another replica's next look (every `poll` seconds) takes it over — within ttl + poll of the last renewal, 30 s with the
defaults (heartbeat 10 s, ttl 25 s, poll 5 s; divided by SALESOP_TIME_SCALE like every emulated delay). The new
holder catches up by itself: a channel's start-gap logic (userbots/) fills from history or getDifference what came
meanwhile, and the inbox's keys make it idempotent.

A holder that cannot renew (another took the lease, or the database did not answer before the lease ran out by its
own clock) must stop the channel at once: `Leases.renew` says which names were lost. Two Telethon clients on one
session log the owner out (AUTH_KEY_DUPLICATED), so losing is cheaper than doubting.

Stopping is not instant, and a holder learns of its loss only at its next renewal: a write that must not outlive the
lease (a Telethon session's auth key and update state, which the new holder writes too) carries the lease's `Fence`
and checks it in its own statement, so a holder that lost the lease cannot overwrite its successor's newer state.

All times are the database's (now()), so replicas' clocks do not matter; a holder's own deadline is measured from
before its renewal was sent, so it never believes in a lease longer than the database does.

One holder's calls run one at a time: a renewal overlapping the holder's own acquire of a name it already holds (a
channel restarted after its worker failed, which moves the token on) compared the tokens of two different moments
and reported the lease lost while the holder had just taken it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from .db import Database
from .models import ChannelLease

log = logging.getLogger(__name__)


def channel_lease(channel_id: int) -> str:
    return f"channel:{channel_id}"


def channel_of_lease(name: str) -> int:
    """The channel a `channel_lease` name is for."""
    return int(name.split(":", 1)[1])


def import_lease(channel_id: int) -> str:
    return f"import:{channel_id}"


def holder_id() -> str:
    """This process (and this instance in it): host, pid and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseTimings:
    heartbeat: float = 10.0
    ttl: float = 25.0
    poll: float = 5.0  # how often a replica looks for leases to take over

    def scaled(self, time_scale: float) -> LeaseTimings:
        scale = time_scale if time_scale and time_scale > 0 else 1.0
        return LeaseTimings(self.heartbeat / scale, self.ttl / scale, self.poll / scale)


@dataclass(frozen=True)
class Holder:
    name: str
    holder: str
    expires_in: float | None  # seconds, by the database's clock


@dataclass(frozen=True)
class Fence:
    """One holder's lease as it took it (name, holder, fencing token)."""

    name: str
    holder: str
    token: int

    def still_held(self) -> ColumnElement[bool]:
        """A condition for a write's WHERE: true while the lease row is still this one — not taken over by another
        holder, not given back, not taken again (a new token). Checked in the write's own statement, it leaves no
        moment between the check and the write for a takeover to slip in."""
        return exists().where(ChannelLease.name == self.name, ChannelLease.holder == self.holder,
                              ChannelLease.token == self.token)


class Leases:
    """The leases one holder takes, renews and gives back."""

    def __init__(self, db: Database, timings: LeaseTimings | None = None, holder: str | None = None):
        self.db = db
        self.timings = timings or LeaseTimings()
        self.holder = holder or holder_id()
        self.held: dict[str, int] = {}  # name → fencing token
        self.valid_until = 0.0  # monotonic: past it, nothing held can be trusted (no renewal got through)
        self._one_at_a_time = asyncio.Lock()  # acquire, renew and release see and change `held` consistently

    async def acquire(self, name: str, *, force: bool = False) -> int | None:
        """Take `name` if it is free, expired or ours (with `force`: whatever its state — for a caller that proved
        exclusivity otherwise). Returns the fencing token, or None when another holder has it."""
        async with self._one_at_a_time:
            return await self._acquire(name, force=force)

    async def _acquire(self, name: str, *, force: bool) -> int | None:
        ttl = timedelta(seconds=self.timings.ttl)
        sent = time.monotonic()
        table = ChannelLease.__table__
        statement = insert(ChannelLease).values(name=name, holder=self.holder, token=1,
                                                expires_at=func.now() + ttl)
        takeable = None if force else (table.c.expires_at < func.now()) | (table.c.holder == self.holder)
        async with self.db.unit_of_work() as session:
            token = await session.scalar(statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": self.holder, "expires_at": func.now() + ttl, "acquired_at": func.now(),
                      "token": table.c.token + 1},
                where=takeable,
            ).returning(ChannelLease.token))
        if token is None:
            return None
        if not self.held:
            self.valid_until = sent + self.timings.ttl
        self.held[name] = token
        log.info("lease %s taken by %s (token %s)", name, self.holder, token)
        return token

    async def renew(self) -> set[str]:
        """Extend every lease held. Returns the names lost (taken by another, or gone), to be stopped at once. When
        the database does not answer, nothing is lost until this holder's own deadline passes — then everything is."""
        async with self._one_at_a_time:
            return await self._renew()

    async def _renew(self) -> set[str]:
        if not self.held:
            return set()
        sent = time.monotonic()
        try:
            async with self.db.unit_of_work() as session:
                kept = dict((await session.execute(
                    update(ChannelLease)
                    .where(ChannelLease.holder == self.holder, ChannelLease.name.in_(list(self.held)))
                    .values(expires_at=func.now() + timedelta(seconds=self.timings.ttl))
                    .returning(ChannelLease.name, ChannelLease.token)
                )).all())
        except Exception:
            if time.monotonic() < self.valid_until:
                log.warning("leases not renewed (the database did not answer); still valid for %.1f s",
                            self.valid_until - time.monotonic(), exc_info=True)
                return set()
            log.error("leases not renewed before they ran out: stopping %s", sorted(self.held))
            lost = set(self.held)
            self.held.clear()
            return lost
        self.valid_until = sent + self.timings.ttl
        lost = {name for name, token in self.held.items() if kept.get(name) != token}
        for name in lost:
            log.warning("lease %s lost by %s", name, self.holder)
            del self.held[name]
        return lost

    async def release(self, name: str) -> None:
        """Give `name` back at once (a clean stop), so another replica need not wait for it to expire."""
        async with self._one_at_a_time:
            await self._release(name)

    async def _release(self, name: str) -> None:
        token = self.held.pop(name, None)
        if token is None:
            return
        async with self.db.unit_of_work() as session:
            await session.execute(delete(ChannelLease).where(ChannelLease.name == name,
                                                             ChannelLease.holder == self.holder,
                                                             ChannelLease.token == token))

    async def release_all(self) -> None:
        for name in list(self.held):
            try:
                await self.release(name)
            except Exception:  # the database is gone: the leases expire by themselves
                log.warning("lease %s not given back", name, exc_info=True)
                self.held.pop(name, None)

    def holds(self, name: str) -> bool:
        return name in self.held

    def fence(self, name: str) -> Fence | None:
        """The fence of `name` as held now, for writes made under it; None when it is not held."""
        token = self.held.get(name)
        return None if token is None else Fence(name, self.holder, token)


async def holders(db: Database) -> list[Holder]:
    """Who holds what, for status pages and tests."""
    async with db.unit_of_work() as session:
        rows = (await session.execute(
            select(ChannelLease.name, ChannelLease.holder,
                   func.extract("epoch", ChannelLease.expires_at - func.now())).order_by(ChannelLease.name)
        )).all()
    return [Holder(name, holder, float(left) if left is not None else None) for name, holder, left in rows]
