"""The executor of outbox commands the dispatcher (core.dispatcher) drives, through the small protocol it depends on
(core.commands.Executor): each step goes to the command's registered definition (core.commands.CommandKinds — the
workspace's kinds from core.services.workspace.kinds, other areas' from their own modules), and refusals in a
manager group that people can fix are held instead of failed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from ... import outbox
from ...commands import Call, CommandKinds, UnknownCommandKind
from ...models import OutboxCommand
from ...ports import Delivery, DeliveryError
from .parking import group_refused

# Refusals in a manager group that people can fix (WorkspaceCommands.hold): never "failed for good".
GROUP_REFUSALS = frozenset({"rights", "not_forum", "kicked", "chat_gone"})
GROUP_DESTINATION = outbox.tg_group(0)[:-1]  # "tg:group:"


class WorkspaceCommands:
    def __init__(self, kinds: CommandKinds, *, media_root: Path | None = None):
        self.kinds = kinds
        self.media_root = media_root  # where the kinds' files are (bot/handlers/media.py finds the store by it)

    def counts_as_message(self, kind: str) -> bool:
        """Whether a command needs a token of its destination's budget (pins, reactions and bans are no messages).
        A kind nobody registered takes one: its prepare then fails it."""
        return kind not in self.kinds or self.kinds.get(kind).message

    def coalesces(self, batch: list[OutboxCommand], follower: OutboxCommand) -> bool:
        """Whether `follower`, next in the same dialog lane, can ride along in the same Telegram call as `batch`:
        a backlog of text messages becomes one post, the parts of an album one sendMediaGroup, repeated refreshes of
        the same card or title one edit."""
        head = batch[0]
        return follower.kind == head.kind and head.kind in self.kinds and \
            self.kinds.get(head.kind).coalesces(batch, follower)

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None:
        """The call to make, or None when there is nothing to do any more (the command completes as skipped)."""
        head = commands[0]
        try:
            kind = self.kinds.get(head.kind)
        except UnknownCommandKind as error:  # the start-up check lets none in; a row written since fails visibly
            raise DeliveryError(str(error), permanent=True, code="unknown_kind") from error
        return await kind.prepare(session, commands)

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime | None = None) -> None:
        await self.kinds.get(commands[0].kind).record(session, commands, delivery, now or datetime.now(UTC))

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
            await self.kinds.get(head.kind).record_failure(session, commands, error, retrying=retrying)
