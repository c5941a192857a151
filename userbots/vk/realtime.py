"""VK in real time.

Communities: vkbottle's Bots Long Poll (`BotPolling`), with the long-poll ts kept in the database
(ChannelAccount.update_state) instead of vkbottle's state file, so a restarted process asks VK for exactly what it
missed. Failures follow VK's rules in vkbottle (failed 1 → new ts, 2 → new key, 3 → new key and ts); after any of
them — and after a restart whose ts VK no longer keeps — the gap is filled from history: conversations active since
the last event are re-read and every message goes through the inbox, whose keys make duplicates no-ops.

Where live ingest begins is read from VK when the channel is added (`live_start`: VK's server time, the mailbox's
newest message id and the long-poll ts), so what customers write before the first connection is not lost however
late that connection comes: the long poll resumes from the ts taken at the add, and history fills in whatever the
long poll cannot give (no ts was taken, or VK no longer keeps it).

User accounts: the same gap fill, run every few seconds (the conversations listing is sorted by activity, so one
request answers 'anything new?'), at a fraction of the user token's 3 requests/s.

The stored position (ts, the last event's time) is written under the channel's lease (core.leases.Fence), as a
Telegram account's session is: a process that lost the lease keeps polling until its next renewal tells it, and its
writes meanwhile would move the new holder's ts backwards (events fetched again after the next restart). Each write
checks the lease in its own statement; a refused one is logged and reported (`fenced_out`: the supervisor shows the
lease lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import update
from vkbottle.exception_factory import ErrorHandler, VKAPIError
from vkbottle.polling import BotPolling

from core.channels import CHANNEL_KINDS
from core.db import Database
from core.leases import Fence
from core.models import ChannelAccount, ChannelStatus
from core.ports import TaskQueue
from core.services import channels as channel_service
from core.settings import Settings

from ..checkpoint import ChannelState, ImportStopped
from ..live import LiveIngest, MediaDownloads
from . import api as vk_api
from .history import PAGE, PROFILE_FIELDS, history_call, listing_call, parse_listing
from .media import VKMediaFetcher
from .parse import sender_for, sent_at, to_inbound
from .policy import VKRetryPolicy

log = logging.getLogger(__name__)

GAP_SLACK = 120  # seconds before the last event that a gap fill re-reads, against clock skew and late events
USER_POLL_INTERVAL = 5.0  # emulated seconds between 'anything new?' checks of a user account
PROFILE_CACHE = 10_000


async def live_start(api: vk_api.PacedAPI, *, community: bool, group_id: int | None = None) -> dict:
    """The update state a channel being added starts from, as VK sees it now: `live_from` (VK's server time),
    `live_from_id` (the newest message id of the mailbox: every message above it was written after the add; VK
    numbers one mailbox's messages in order) and, for a community, `ts` (its Bots Long Poll position: VK keeps the
    events after it for a while). Errors are VK's, for the caller to show."""
    state: dict[str, Any] = {"live_from": int((await api.request("utils.getServerTime", {}))["response"])}
    listing = (await api.request("messages.getConversations", {"count": 5}))["response"]
    state["live_from_id"] = max((int((item.get("last_message") or {}).get("id") or 0)
                                 for item in listing.get("items") or ()), default=0)
    if community:
        try:
            server = (await api.request("groups.getLongPollServer", {"group_id": group_id}))["response"]
        except VKAPIError as exc:  # Long Poll off in the community's settings (for now): history covers the start
            log.warning("VK community %s: no long-poll ts at the start (%s: %s)", group_id, exc.code, exc.error_msg)
        else:
            state["ts"] = str(server["ts"])
    return state


class StoredTsPolling(BotPolling):
    """BotPolling whose ts lives in the channel's row, and which reports every long-poll failure."""

    def __init__(self, *args, saved_ts: str | None, on_failure, on_server, **kwargs):
        super().__init__(*args, skip_old_events=False, error_handler=ErrorHandler(raise_exceptions=True), **kwargs)
        self.saved_ts = saved_ts
        self.on_failure = on_failure
        self.on_server = on_server

    async def get_server(self) -> dict[str, Any]:
        server = await super().get_server()
        await self.on_server(server)
        return server

    def restore_server_ts(self, server: dict[str, Any]) -> dict[str, Any]:
        if self.saved_ts:
            server["ts"] = self.saved_ts
        return server

    def save_server_ts(self, server: dict[str, Any]) -> None:
        # The handler stores event["ts"] in the same breath as the events; the ts of an empty poll needs no saving.
        self.saved_ts = server.get("ts")

    async def handle_failed_event(self, server: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        new_server = await super().handle_failed_event(server, event)
        await self.on_failure(int(event.get("failed") or 0))
        return new_server


class VKChannelRealtime:
    """Realtime ingest of one VK channel (community or user account)."""

    def __init__(self, db: Database, queue: TaskQueue, settings: Settings, channel: ChannelAccount, token: str,
                 media: MediaDownloads | None = None, *, fence: Fence | None = None,
                 fenced_out: Callable[[Fence], None] | None = None):
        """fence: the channel's lease the stored position is written under (module docstring); fenced_out(fence)
        is called when a write was refused for it."""
        self.db = db
        self.fence = fence
        self.fenced_out = fenced_out
        self.settings = settings
        self.channel_id = channel.id
        self.community = CHANNEL_KINDS.get(channel.kind).group_mailbox
        self.external_id = int(channel.external_id)
        self.owner_id = -self.external_id if self.community else self.external_id
        self.token = token
        self.state = dict(channel.update_state or {})
        self.live = LiveIngest(db, queue, media)  # media: customers' files downloaded before a message is recorded
        self.fetcher = VKMediaFetcher()
        self.channel_state = ChannelState(db, channel.id)
        self.policy = VKRetryPolicy(self.channel_state, settings.time_scale, give_up=False)
        self.profiles: dict[int, dict] = {}
        self.api: vk_api.PacedAPI | None = None
        self.source = f"vk:{channel.id}"
        self.gap_fills = 0

    def _sleep(self, emulated_seconds: float):
        return asyncio.sleep(emulated_seconds / self.settings.time_scale)

    async def run(self, stop: asyncio.Event) -> None:
        self.api = vk_api.build_api(self.settings, self.token, community=self.community)
        try:
            await self._mark(ChannelStatus.ACTIVE, None)
            if self.community:
                await self._run_longpoll(stop)
            else:
                await self._run_user_polling(stop)
        except ImportStopped as exc:  # the token was revoked: the channel says so, and this channel's loop ends
            log.warning("VK channel %s stopped: %s", self.channel_id, exc)
        finally:
            await self.api.close()
            await self.fetcher.close()

    async def _mark(self, status: ChannelStatus, detail: str | None) -> None:
        async with self.db.unit_of_work() as session:
            await channel_service.set_status(session, self.channel_id, status, detail)

    # ------------------------------------------------------------------ communities

    async def _run_longpoll(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            polling = StoredTsPolling(self.api, group_id=self.external_id, wait=25,
                                      saved_ts=self.state.get("ts"), on_failure=self._on_longpoll_failure,
                                      on_server=self._on_server)
            listener = asyncio.create_task(self._consume(polling))
            stopper = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait([listener, stopper], return_when=asyncio.FIRST_COMPLETED)
            finally:
                polling.stop()
                stopper.cancel()
                if not listener.done():
                    listener.cancel()
                await asyncio.gather(listener, stopper, return_exceptions=True)
            error = None if listener.cancelled() else listener.exception()
            if error is None:
                failures = 0
                continue
            if isinstance(error, (VKAPIError, aiohttp.ClientError, asyncio.TimeoutError)):
                # getLongPollServer failed (flood, captcha, network…): wait as the policy says, then reconnect
                wait = await self.policy.on_error(error, failures)
            else:
                # storing an event failed (database restart…): the ts was not saved, so VK sends it again
                log.error("VK channel %s: handling events failed, reconnecting", self.channel_id, exc_info=error)
                wait = min(60.0, 2.0 ** failures)
            failures += 1
            try:
                await asyncio.wait_for(stop.wait(), wait / self.settings.time_scale)
            except TimeoutError:
                pass

    async def _consume(self, polling: StoredTsPolling) -> None:
        async for event in polling.listen():
            for update in event.get("updates") or ():
                await self.handle(update)
            await self._save_state(ts=event.get("ts"))
            await self.channel_state.healthy()

    async def _save_state(self, **values) -> bool:
        """Store the position; False when the fence refused the write (the lease is another process's now)."""
        self.state.update({k: v for k, v in values.items() if v is not None}, seen_at=int(time.time()))
        return await channel_service.write_under_lease(
            self.db, self.channel_id, {"update_state": dict(self.state)}, fence=self.fence, fenced_out=self.fenced_out,
            what="VK position (long-poll ts, last event)")

    async def _on_server(self, server: dict[str, Any]) -> None:
        """A first connection without a ts (none could be taken when the channel was added) listens from VK's ts of
        now: what customers wrote since the add is read from history first, then that ts is stored, so a process
        stopped before its first event resumes from here, not from whatever VK's ts is by the time it is back (and
        one stopped during the fill simply fills again)."""
        if not self.state.get("ts") and server.get("ts"):
            await self.fill_gap()
            await self._save_state(ts=str(server["ts"]))

    async def _on_longpoll_failure(self, failed: int) -> None:
        log.info("VK long poll of channel %s failed with %s: filling the gap from history", self.channel_id, failed)
        await self.fill_gap()

    async def handle(self, update: dict) -> None:
        """One Bots Long Poll event: https://dev.vk.com/ru/api/community-events/json-schema"""
        kind = update.get("type")
        obj = update.get("object") or {}
        dedup = (self.source, str(update.get("event_id"))) if update.get("event_id") else None
        if kind == "message_new":
            message = obj.get("message") or obj
            await self.live.message(await self._inbound(message), dedup=dedup, media=self.fetcher.source)
        elif kind == "message_reply":
            # sent from VK's own interface (or through the API by us): a business reply, stored as outgoing
            await self.live.message(await self._inbound(obj), dedup=dedup)
        elif kind == "message_edit":
            at = datetime.fromtimestamp(int(obj.get("update_time") or time.time()), UTC)
            received = await self.live.edit(self.channel_id, str(obj.get("peer_id")), str(obj.get("id")),
                                            obj.get("text") or "", at, dedup=dedup)
            if received is None and dedup is not None:
                # an edit of a message we never saw (older than our history): store the message as it is now
                await self.live.message(await self._inbound(obj), media=self.fetcher.source)
        elif kind in ("message_allow", "message_deny"):
            await self.live.blocked(self.channel_id, str(obj.get("user_id")), kind == "message_deny", dedup=dedup)
        if update.get("object"):
            self._note_seen(obj.get("message") or obj)

    def _note_seen(self, message: dict) -> None:
        date = message.get("date")
        if date:
            self.state["last_event_at"] = max(int(self.state.get("last_event_at") or 0), int(date))

    async def _inbound(self, message: dict):
        peer_id = int(message.get("peer_id") or message.get("from_id") or 0)
        return to_inbound(self.channel_id, message, self.owner_id, {peer_id: await self._profile(peer_id)})

    async def _profile(self, peer_id: int) -> dict:
        """Names for a new customer (users.get), cached: message events carry ids only."""
        if peer_id in self.profiles or peer_id <= 0 or peer_id >= 2_000_000_000:
            return self.profiles.get(peer_id, {})
        try:
            users = (await self.api.request("users.get", {"user_ids": peer_id, "fields": PROFILE_FIELDS}))["response"]
        except Exception as exc:  # a name is nice to have; the message must land anyway
            log.warning("users.get %s failed: %r", peer_id, exc)
            return {}
        if len(self.profiles) >= PROFILE_CACHE:
            self.profiles.clear()
        self.profiles[peer_id] = users[0] if users else {}
        return self.profiles[peer_id]

    # ------------------------------------------------------------------ gap fill (and user-account polling)

    def _start_point(self) -> int | None:
        """Where a gap fill starts when nothing was seen yet: the moment the channel was added (VK's clock)."""
        start = self.state.get("live_from")
        return int(start) - GAP_SLACK if start else None

    async def fill_gap(self, since: int | None = None) -> int:
        """Re-read conversations active since `since` (default: the last event seen, minus a margin; before any
        event, the moment the channel was added) and store every message and edit found, each conversation's
        oldest first. Messages the mailbox held before the channel was added are the importer's, not live ones.
        Returns how many messages were new."""
        if since is None:
            last = int(self.state.get("last_event_at") or 0)
            since = last - GAP_SLACK if last else self._start_point()
        if since is None:
            seen = int(self.state.get("seen_at") or 0)
            if not seen:
                return 0  # added before starts were recorded and never connected: history is the importer's job
            since = seen - GAP_SLACK
        after_id = int(self.state.get("live_from_id") or 0)
        refs, offset = [], 0
        while True:
            resp = await self.policy.run(lambda: self.api.request(*listing_call(offset)))
            page = parse_listing(resp["response"], offset)
            fresh = [r for r in page.conversations if r.last_message_date >= since]
            refs.extend(fresh)
            self.profiles.update({r.peer_id: r.profile for r in fresh if r.profile})
            if page.exhausted or len(fresh) < len(page.conversations):
                break
            offset += PAGE
        # every page of a conversation is read before any of it is stored, so its messages land in their order
        found: dict[int, dict[int, dict]] = {ref.peer_id: {} for ref in refs}
        failed: set[int] = set()
        pending = [(ref, 0) for ref in refs]  # (conversation, history offset)
        while pending:
            chunk, pending = pending[:vk_api.MAX_EXECUTE_CALLS], pending[vk_api.MAX_EXECUTE_CALLS:]
            results = await self.policy.run(
                lambda: vk_api.execute(self.api, [history_call(r.peer_id, offset) for r, offset in chunk]))
            for (ref, offset), result in zip(chunk, results):
                if not result.ok:
                    log.warning("gap fill: history of %s failed: %s", ref.peer_id, result.error_msg)
                    failed.add(ref.peer_id)
                    continue
                items = result.response.get("items") or []
                # newest first: a message arriving meanwhile shifts a page by one, a duplicate kept once here
                found[ref.peer_id].update((int(m["id"]), m) for m in items if m.get("id"))
                if len(items) == PAGE and int(items[-1].get("date") or 0) >= since:
                    pending.append((ref, offset + PAGE))  # more than a page arrived during the gap
        new = 0
        newest = since
        for ref in refs:
            profiles = {ref.peer_id: ref.profile}
            sender = sender_for(ref.peer_id, profiles)
            for message_id, message in sorted(found[ref.peer_id].items()):
                date = int(message.get("date") or 0)
                newest = max(newest, date)
                if date >= since and message_id > after_id:
                    received = await self.live.message(
                        to_inbound(self.channel_id, message, self.owner_id, profiles, sender=sender),
                        media=self.fetcher.source)
                    new += bool(received and received.created)
                edited_at = int(message.get("update_time") or 0)
                if edited_at and edited_at >= since:  # never edited: no update_time at all
                    await self.live.edit(self.channel_id, str(ref.peer_id), str(message_id),
                                         message.get("text") or "", sent_at({"date": edited_at}))
        self.gap_fills += 1
        if not failed:  # a conversation that could not be read is read again by the next fill
            self.state["last_event_at"] = max(int(self.state.get("last_event_at") or 0), newest)
        await self._save_state()
        if new:
            log.info("VK channel %s: %s missed messages fetched", self.channel_id, new)
        return new

    async def _run_user_polling(self, stop: asyncio.Event) -> None:
        if not self.state.get("last_event_at") and self._start_point() is None:
            # added before starts were recorded: from now on (older history is the importer's job)
            self.state["last_event_at"] = int(time.time())
            await self._save_state()
        while not stop.is_set():
            await self.fill_gap()
            try:
                await asyncio.wait_for(stop.wait(), USER_POLL_INTERVAL / self.settings.time_scale)
            except TimeoutError:
                pass
