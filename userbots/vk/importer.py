"""VK history import at the token's rate bound.

VK lists conversations newest activity first. Calls, not conversations, are queued: a scheduler packs every
`execute` with 25 calls — the first history page of listed conversations, next pages of long ones, and one listing
page whenever the backlog runs low — so no request of the budget (20/s for a community) goes out half empty, and
the stand-in's or VK's work per request stays even. Up to `workers` requests are in flight to hide latency.

Finished conversations go to one writer (userbots.bulk). The checkpoint is the lowest listing position not yet
written; it is stored in the same transaction as the messages. A conversation that jumps to the top of the listing
while the import runs (a customer wrote) could slip past the offset, so after the full pass a catch-up pass re-reads
the conversations active since the import started, and conversations VK refused alone get one more try.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import json
import time
from dataclasses import dataclass, field

from core.channels import CHANNEL_KINDS
from core.db import Database
from core.models import ChannelAccount
from core.settings import Settings

from ..bulk import ConversationHistory, WriteResult, write_history
from ..checkpoint import CATCHUP_SLACK, ChannelState, Checkpoint, ImportStopped, Progress, with_deadlock_retry
from ..texts import t
from . import api as vk_api
from .history import (
    PAGE,
    PROFILE_FIELDS,
    PendingConversation,
    listing_call,
    parse_conversations_by_id,
    parse_listing,
    to_history,
)
from .policy import VKRetryPolicy

WORKERS = 16  # execute requests in flight or queued at the pacer: the pacer must never find nobody waiting
WRITE_QUEUE = 16  # finished groups waiting for the writer: bounds memory whatever the history size
WRITE_CHUNK = 6_000  # messages per transaction, at most
LONG_CONVERSATION_FLUSH = 5_000  # a conversation this long is written in parts, so memory stays flat


@dataclass
class _WriteJob:
    histories: list[ConversationHistory]
    positions: list[int]  # listing positions this job completes (empty for a part of a long conversation)
    failed: dict[str, str] = field(default_factory=dict)  # peer id → error of a conversation VK refused alone
    message_count: int = 0
    recovered: list[str] = field(default_factory=list)  # failed earlier, imported now


class VKImporter:
    def __init__(self, db: Database, settings: Settings, channel: ChannelAccount, api: vk_api.PacedAPI,
                 checkpoint: Checkpoint, *, progress: bool = True, workers: int = WORKERS):
        self.db = db
        self.settings = settings
        self.channel = channel
        self.api = api
        self.checkpoint = checkpoint
        self.workers = workers
        group = CHANNEL_KINDS.get(channel.kind).group_mailbox
        self.owner_id = -int(channel.external_id) if group else int(channel.external_id)
        self.policy = VKRetryPolicy(ChannelState(db, channel.id), settings.time_scale)
        self.progress_enabled = progress
        self.messages_this_run = 0
        self.write_seconds = 0.0  # time inside write transactions: messages / this = what PostgreSQL sustains

    @property
    def cursor(self) -> dict:
        return self.checkpoint.cursor

    async def run(self) -> None:
        cursor = self.cursor
        progress = Progress(self.progress_enabled, self.checkpoint.total, self.checkpoint.done,
                            f"import {self.channel.kind.value} {self.channel.external_id}")
        try:
            if cursor.get("phase", "list") == "list":
                await _Pass(self, progress, start=int(cursor.get("offset", 0)), active_since=None).run()
                cursor.update(phase="catchup", offset=0)
                await self.checkpoint.save_now()
            if cursor["phase"] == "catchup":
                since = int(cursor["started_at"]) - CATCHUP_SLACK
                await _Pass(self, progress, start=int(cursor.get("offset", 0)), active_since=since).run()
                cursor.update(phase="retry", offset=0)
                await self.checkpoint.save_now()
            if cursor["phase"] == "retry":
                await self._retry_failed(progress)
                cursor.update(phase="done")
        finally:
            progress.close()

    async def write(self, jobs: list[_WriteJob], cursor: int | None, progress: Progress, *, listing: bool) -> None:
        """One transaction: the messages of `jobs` and the checkpoint that now covers them."""
        histories = [h for job in jobs for h in job.histories]
        # One order for every writer, so two transactions never wait on each other's rows in opposite order.
        histories.sort(key=lambda h: h.external_chat_id)
        failed: dict[str, str] = {}
        recovered: list[str] = []
        for job in jobs:
            failed.update(job.failed)
            recovered += job.recovered
        snapshot = json.loads(json.dumps(self.cursor))
        done = cursor if listing else None
        total = self.checkpoint.total

        async def transaction() -> WriteResult:
            async with self.db.unit_of_work() as session:
                result = await write_history(session, self.channel, histories)
                if failed:
                    self.checkpoint.note_failed(failed)
                if recovered:
                    self.checkpoint.note_recovered(recovered)
                if cursor is not None:
                    self.cursor["offset"] = cursor
                await self.checkpoint.save(session, inserted=result.messages, done=done, total=total)
                return result

        began = time.perf_counter()
        try:
            result = await with_deadlock_retry(transaction)
        except BaseException:
            self.cursor.clear()
            self.cursor.update(snapshot)
            raise
        finally:
            self.write_seconds += time.perf_counter() - began
        self.checkpoint.committed(result.messages, done, total)
        self.messages_this_run += result.messages
        progress.advance_to(done, self.checkpoint.messages)

    async def _retry_failed(self, progress: Progress) -> None:
        """Conversations that failed alone (VK refused one history) get one more try at the end. Each one leaves
        the checkpoint's failed list in the transaction that stores it, so a stop here loses none of them."""
        failed = list(self.cursor.get("failed") or {})
        for k in range(0, len(failed), 100):
            chunk = failed[k:k + 100]
            resp = await self.policy.run(lambda: self.api.request(
                "messages.getConversationsById", {"peer_ids": ",".join(chunk), "extended": 1,
                                                  "fields": PROFILE_FIELDS}))
            refs = parse_conversations_by_id(resp["response"])
            listed = {str(ref.peer_id) for ref in refs}
            # gone from VK altogether (the conversation was deleted): nothing left to import
            gone = _WriteJob([], [], recovered=[peer for peer in chunk if peer not in listed])
            if gone.recovered:
                await self.write([gone], None, progress, listing=False)
            pending = collections.deque(PendingConversation(ref) for ref in refs)
            while pending:
                batch = [pending.popleft() for _ in range(min(vk_api.MAX_EXECUTE_CALLS, len(pending)))]
                results = await self.policy.run(
                    lambda: vk_api.execute(self.api, [p.next_call() for p in batch]))
                job = _WriteJob([], [])
                for p, result in zip(batch, results):
                    peer = str(p.ref.peer_id)
                    if not result.ok:
                        job.failed[peer] = f"{result.error_code}: {result.error_msg}"
                        continue
                    p.add_page(result.response)
                    if p.done:
                        job.histories.append(to_history(self.channel.id, self.owner_id, p))
                        job.recovered.append(peer)
                    else:
                        pending.append(p)
                await self.write([job], None, progress, listing=False)


class _Pass:
    """One pass over the listing from `start`: all of it, or (catch-up) its head active since a moment."""

    # Listed conversations waiting for their first call: below this, another listing page is asked for. A listing
    # call waits at the pacer behind every execute already queued, so the look-ahead covers all of them, twice.
    LOW_WATER = WORKERS * vk_api.MAX_EXECUTE_CALLS * 2
    MAX_LISTING_PENDING = 3
    MAX_LISTING_FAILURES = 5

    def __init__(self, importer: VKImporter, progress: Progress, *, start: int, active_since: int | None):
        self.imp = importer
        self.progress = progress
        self.active_since = active_since
        self.listing_offset = start
        self.listed_until = start
        self.listing_pending = 0
        self.listing_retry: collections.deque[int] = collections.deque()  # offsets whose listing call failed
        self.listing_failures = 0
        self.exhausted = False
        self.ready: collections.deque[PendingConversation] = collections.deque()
        self.unwritten: set[int] = set()
        self.unwritten_heap: list[int] = []
        self.in_flight = 0
        self.slots = asyncio.Semaphore(importer.workers)
        self.wake = asyncio.Event()
        self.write_q: asyncio.Queue[_WriteJob | None] = asyncio.Queue(maxsize=WRITE_QUEUE)
        self.failure: BaseException | None = None
        self.tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ scheduling

    def _want_listing(self) -> bool:
        if self.listing_retry:
            return True
        return (not self.exhausted and self.listing_pending < self.MAX_LISTING_PENDING
                and len(self.ready) + self.listing_pending * PAGE < self.LOW_WATER)

    def _next_calls(self) -> list[tuple[tuple[str, dict], object]] | None:
        """The calls of the next execute, or None to wait for answers in flight first."""
        listing = self._want_listing()
        capacity = vk_api.MAX_EXECUTE_CALLS - int(listing)
        full = len(self.ready) >= capacity
        tail = self.exhausted and not self.listing_pending and bool(self.ready)
        starving = listing and self.in_flight == 0
        if not (full or tail or starving):
            return None
        calls: list[tuple[tuple[str, dict], object]] = []
        if listing:
            if self.listing_retry:
                offset = self.listing_retry.popleft()
            else:
                offset, self.listing_offset = self.listing_offset, self.listing_offset + PAGE
            self.listing_pending += 1
            calls.append((listing_call(offset), offset))
        while len(calls) < vk_api.MAX_EXECUTE_CALLS and self.ready:
            calls.append((self.ready[0].next_call(), self.ready.popleft()))
        return calls

    def _finished(self) -> bool:
        return (self.exhausted and not self.listing_pending and not self.listing_retry and not self.ready
                and self.in_flight == 0)

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer(), name="vk-import-writer")
        try:
            while True:
                if self.failure is not None:
                    raise self.failure
                if writer.done():
                    writer.result()  # a writer failure surfaces here
                    raise RuntimeError("the import writer stopped early")
                if self._finished():
                    break
                calls = self._next_calls()
                if calls is None:
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                await self.slots.acquire()
                self.in_flight += 1
                task = asyncio.create_task(self._execute(calls))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            await self.write_q.put(None)
            await writer
        finally:
            for task in [*self.tasks, writer]:
                task.cancel()
            await asyncio.gather(*self.tasks, writer, return_exceptions=True)

    async def _execute(self, calls: list[tuple[tuple[str, dict], object]]) -> None:
        imp = self.imp
        try:
            results = await imp.policy.run(lambda: vk_api.execute(imp.api, [call for call, _ in calls]))
            job = _WriteJob([], [])
            long_ones: list[PendingConversation] = []
            for (_, target), result in zip(calls, results):
                if isinstance(target, int):
                    self._on_listing(target, result)
                    continue
                pending: PendingConversation = target
                if not result.ok:
                    pending.error = f"{result.error_code}: {result.error_msg}"
                    job.failed[str(pending.ref.peer_id)] = pending.error
                else:
                    pending.add_page(result.response)
                if pending.error is not None or pending.done:
                    job.positions.append(pending.ref.position)
                    if pending.messages:
                        job.histories.append(to_history(imp.channel.id, imp.owner_id, pending))
                        pending.messages = []
                else:
                    self.ready.appendleft(pending)  # its next page goes out first, so long conversations finish
                    if len(pending.messages) >= LONG_CONVERSATION_FLUSH:
                        long_ones.append(pending)
            if long_ones:
                parts = [to_history(imp.channel.id, imp.owner_id, p) for p in long_ones]
                for p in long_ones:
                    p.messages = []
                await self.write_q.put(_WriteJob(parts, [], {}, sum(len(h.messages) for h in parts)))
            job.message_count = sum(len(h.messages) for h in job.histories)
            if job.positions or job.histories:
                await self.write_q.put(job)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the scheduler, which stops the pass with it
            if self.failure is None:
                self.failure = exc
        finally:
            self.in_flight -= 1
            self.slots.release()
            self.wake.set()

    def _on_listing(self, offset: int, result) -> None:
        self.listing_pending -= 1
        if not result.ok:
            self.listing_failures += 1
            if self.listing_failures > self.MAX_LISTING_FAILURES:
                raise ImportStopped(t("channel.vk_error", error=f"{result.error_code}: {result.error_msg}", seconds=0))
            self.listing_retry.append(offset)  # asked again in the next execute
            return
        self.listing_failures = 0
        page = parse_listing(result.response, offset)
        refs = page.conversations
        exhausted = page.exhausted
        if self.active_since is None:
            self.imp.checkpoint.total = page.total
            self.progress.set_total(page.total)
        else:
            fresh = [r for r in refs if r.last_message_date >= self.active_since]
            exhausted = exhausted or len(fresh) < len(refs)
            refs = fresh
        for ref in refs:
            self.ready.append(PendingConversation(ref))
            self.unwritten.add(ref.position)
            heapq.heappush(self.unwritten_heap, ref.position)
        if page.conversations:  # pages asked for ahead of the end come back empty and end nothing
            self.listed_until = max(self.listed_until, offset + len(page.conversations))
        self.exhausted = self.exhausted or exhausted

    def _cursor(self) -> int:
        while self.unwritten_heap and self.unwritten_heap[0] not in self.unwritten:
            heapq.heappop(self.unwritten_heap)
        return self.unwritten_heap[0] if self.unwritten_heap else self.listed_until

    # ------------------------------------------------------------------ writing

    async def _writer(self) -> None:
        listing = self.active_since is None
        closing = False
        while not closing:
            first = await self.write_q.get()
            if first is None:
                break
            jobs, size = [first], first.message_count
            while size < WRITE_CHUNK and not self.write_q.empty():
                more = self.write_q.get_nowait()
                if more is None:
                    closing = True
                    break
                jobs.append(more)
                size += more.message_count
            positions = [p for job in jobs for p in job.positions]
            self.unwritten.difference_update(positions)
            try:
                await self.imp.write(jobs, self._cursor(), self.progress, listing=listing)
            except BaseException:
                self.unwritten.update(positions)
                raise
        # Everything listed is written: the pass ends at the end of the listing.
        await self.imp.write([], self._cursor(), self.progress, listing=listing)
