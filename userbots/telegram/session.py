"""Telethon sessions kept in the database: the StringSession (DC and auth key) encrypted with the master key in
ChannelAccount.credentials_enc, and what StringSession forgets — the update state (pts, qts, date, seq and each
channel's pts) and the access hashes of the people written to — in ChannelAccount.update_state.

Telethon writes the update state into the session on disconnect and once a minute (its keepalive), then calls
`save()`/`close()`; here those persist to the database, so a restarted process catches up exactly on what it missed
(`catch_up=True`), even after a crash, from at most a minute before it.

The realtime client writes under its channel's lease (core.leases.Fence): a process that lost the lease — another
replica took the channel over and writes the session now — keeps running until it notices, and its last writes (at
the disconnect that stops it, or Telethon's minute) would put back an older update state (pts going backwards:
updates fetched twice, or skipped) or another auth key. So each write is made only while the lease is still this
process's, checked in the write's own statement; a refused write is logged and reported (`fenced_out`: the supervisor
shows the lease lost in its health).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable

from telethon import types
from telethon.sessions import StringSession

from core.crypto import SecretBox
from core.db import Database
from core.leases import Fence
from core.services import channels as channel_service


# Telethon announces async session methods as experimental on every call; ours are two plain awaits.
warnings.filterwarnings("ignore", message="Using async sessions support is an experimental feature")

MAX_ENTITIES = 50_000  # access hashes kept (the most recent): enough to answer anyone who wrote lately


class SessionStore:
    """Where one channel's session lives. With a `fence`, written only while that lease is still held (module
    docstring); `fenced_out(fence)` is called when a write was refused for it."""

    def __init__(self, db: Database, secrets: SecretBox, channel_id: int, *, fence: Fence | None = None,
                 fenced_out: Callable[[Fence], None] | None = None):
        self.db = db
        self.secrets = secrets
        self.channel_id = channel_id
        self.fence = fence
        self.fenced_out = fenced_out

    async def load(self, *, owns_updates: bool = True) -> DatabaseSession:
        """The stored session. Only the client that handles updates (realtime) may write the update state back:
        another client of the same account (a history import) would store a position whose updates nobody saw."""
        async with self.db.unit_of_work() as session:
            channel = await channel_service.get_channel(session, self.channel_id)
            string = channel_service.credentials(self.secrets, channel)
            state = dict(channel.update_state or {})
        return DatabaseSession(string, state=state, store=self, owns_updates=owns_updates)

    async def save(self, string: str, state: dict | None) -> bool:
        """Store the session string and (when given) the update state; False when the fence refused the write."""
        values: dict = {"credentials_enc": self.secrets.encrypt(string)}
        if state is not None:
            values["update_state"] = state
        return await channel_service.write_under_lease(self.db, self.channel_id, values, fence=self.fence,
                                                       fenced_out=self.fenced_out, what="Telegram session")


class DatabaseSession(StringSession):
    """A StringSession whose save() and close() write to the database (Telethon awaits them)."""

    def __init__(self, string: str | None = None, *, state: dict | None = None, store: SessionStore | None = None,
                 owns_updates: bool = True):
        super().__init__(string or None)
        self.store = store
        self.owns_updates = owns_updates
        if state:
            self._restore(state)

    def export(self) -> str:
        """The session string (what StringSession.save() returns)."""
        return StringSession.save(self)

    def save(self):
        return self._persist()

    def close(self):
        return self._persist()

    async def _persist(self) -> None:
        if self.store is not None and self.auth_key is not None:
            await self.store.save(self.export(), self.state_json() if self.owns_updates else None)

    def state_json(self) -> dict:
        out: dict = {"channels": {}}
        for entity_id, state in self.get_update_states():
            if entity_id == 0:
                out.update(pts=state.pts, qts=state.qts, seq=state.seq, date=int(state.date.timestamp()))
            else:
                out["channels"][str(entity_id)] = state.pts
        # (id, hash, username, phone, name) rows of the entity cache; users and channels only need id and hash
        rows = sorted(self._entities, key=lambda row: row[0])[-MAX_ENTITIES:]
        out["entities"] = [[row[0], row[1], row[2]] for row in rows if row[1]]
        return out

    def _restore(self, state: dict) -> None:
        if "pts" in state:
            self.set_update_state(0, types.updates.State(
                pts=int(state["pts"]), qts=int(state["qts"]), seq=int(state["seq"]),
                date=dt.datetime.fromtimestamp(int(state["date"]), dt.timezone.utc), unread_count=0))
        for channel_id, pts in (state.get("channels") or {}).items():
            self.set_update_state(int(channel_id), types.updates.State(
                pts=int(pts), qts=0, seq=0, date=dt.datetime.now(dt.timezone.utc), unread_count=0))
        for marked_id, access_hash, username in state.get("entities") or ():
            self._entities.add((int(marked_id), int(access_hash), username, None, None))
