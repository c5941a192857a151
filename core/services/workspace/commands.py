"""The executor of workspace commands the dispatcher (core.dispatcher) drives: which commands ride along in one
call (coalescing), `prepare` and `record` per kind (core.services.workspace.group_commands for the manager group,
.customer_commands for customers, or a kind another area registered), and refusals people can fix held instead
of failed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from ... import outbox
from ...models import (
    OutboxCommand,
)
from ...ports import Delivery, DeliveryError
from .. import sent_replies
from .base import MIRROR_TEXT_BUDGET, NOT_GROUP_MESSAGES, Kind
from .calls import Call, CommandKind, channel_id_of
from .customer_commands import CustomerCommands
from .group_commands import GroupCommands
from .parking import group_refused

MAX_COALESCED = 50
# Refusals in a manager group that people can fix (WorkspaceCommands.hold): never "failed for good".
GROUP_REFUSALS = frozenset({"rights", "not_forum", "kicked", "chat_gone"})
GROUP_DESTINATION = outbox.tg_group(0)[:-1]  # "tg:group:"
MAX_ALBUM = 10  # sendMediaGroup takes 2–10 items


class WorkspaceCommands(GroupCommands, CustomerCommands):
    def __init__(self, media_root: Path):
        self.media_root = media_root
        self.kinds: dict[str, CommandKind] = {}

    def register(self, kind: str, definition: CommandKind) -> None:
        self.kinds[kind] = definition

    def counts_as_message(self, kind: str) -> bool:
        """Whether a command needs a token of its destination's budget (pins, reactions and bans are no messages)."""
        return kind not in NOT_GROUP_MESSAGES

    def coalesces(self, batch: list[OutboxCommand], follower: OutboxCommand) -> bool:
        """Whether `follower`, next in the same dialog lane, can ride along in the same Telegram call as `batch`:
        a backlog of text messages becomes one post, the parts of an album one sendMediaGroup, repeated refreshes of
        the same card or title one edit."""
        head = batch[0]
        if follower.kind != head.kind:
            return False
        if head.kind == Kind.MIRROR:
            if head.payload.get("media_group_id"):
                return (follower.payload.get("media_group_id") == head.payload["media_group_id"]
                        and len(batch) < MAX_ALBUM)
            if head.payload.get("media") or follower.payload.get("media"):
                return False
            total = sum(c.payload.get("length", 0) + 2 for c in batch) + follower.payload.get("length", 0)
            return total <= MIRROR_TEXT_BUDGET and len(batch) < MAX_COALESCED
        if head.kind in (Kind.EDIT_TOPIC, Kind.EDIT_PINNED_CARD):
            return follower.payload.get("topic_id") == head.payload.get("topic_id")
        if head.kind == Kind.EDIT_REPLY_CARD:
            return follower.payload.get("suggestion_id") == head.payload.get("suggestion_id")
        return False

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None:
        """The call to make, or None when there is nothing to do any more (the command completes as skipped)."""
        head = commands[0]
        if head.kind in self.kinds:
            return await self.kinds[head.kind].prepare(session, commands)
        method = getattr(self, f"_prepare_{head.kind}", None)
        if method is None:
            # A kind from another area: its payload is already what the surface or gateway expects.
            if head.destination.startswith("channel:"):
                return Call("gateway", head.kind, head.payload, channel_id=channel_id_of(head.destination),
                            chat_id=str(head.payload.get("chat_id")), idempotency_key=head.idempotency_key)
            if head.payload.get("topic_id") and head.payload.get("view"):
                return await self._area_post(session, head)
            return Call("surface", head.kind, head.payload)
        return await method(session, commands)

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        head = commands[0]
        if head.kind in self.kinds:
            await self.kinds[head.kind].record(session, commands, delivery, now)
            return
        if head.payload.get("topic_id") and head.kind != Kind.SEND_CUSTOMER:
            await self._topic_moved(session, head, delivery)
        method = getattr(self, f"_record_{head.kind}", None)
        if method is not None:
            await method(session, commands, delivery, now)

    async def hold(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError, *,
                   now: datetime) -> bool:
        """A refusal whose cause people can fix never fails a command for good: the bot lacks a right in a manager
        group, its topics are off, the bot was removed or the chat is gone (bot/surface.py's codes rights, not_forum,
        kicked, chat_gone). In the unit of work recording the failure, the group is marked and the commands move to
        another group with their dialog or wait parked until it is fixed, and people are told once
        (core.services.workspace.parking.group_refused). Returns whether the commands were held so; if not, they fail."""
        head = commands[0]
        if error.code not in GROUP_REFUSALS or not head.destination.startswith(GROUP_DESTINATION):
            return False
        chat_id = int(head.destination[len(GROUP_DESTINATION):])
        return await group_refused(session, chat_id, commands, code=error.code, reason=error.reason, now=now)

    async def record_failure(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError,
                             *, retrying: bool) -> None:
        """What people see when a command failed for good. Retries (rate limits, network) stay invisible."""
        head = commands[0]
        if head.kind in self.kinds:
            await self.kinds[head.kind].record_failure(session, commands, error, retrying=retrying)
            return
        if retrying:
            return
        if head.kind == Kind.SEND_CUSTOMER:
            await self._customer_send_failed(session, head, error)
        elif head.kind == sent_replies.EDIT_CUSTOMER:
            await self._edit_failed(session, head, error)
        elif head.kind == sent_replies.DELETE_CUSTOMER:
            await self._delete_failed(session, head, error)
