"""Channels and manager groups that do not work now, as core.services.readiness reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from .. import readiness


@dataclass(frozen=True)
class ChannelProblem:
    channel_id: int
    kind: str
    title: str
    status: str  # core.models.ChannelStatus value
    fix: str | None  # core.services.readiness.Fix value


@dataclass(frozen=True)
class GroupProblem:
    chat_id: int
    title: str
    removed: bool  # the bot is no longer in the group
    not_forum: bool
    missing_rights: list[str]
    fix: str | None


@dataclass(frozen=True)
class ChannelProblems:
    channels: list[ChannelProblem]
    groups: list[GroupProblem]

    @property
    def total(self) -> int:
        return len(self.channels) + len(self.groups)


async def channel_problems(session: AsyncSession, tenant_id: int, *, now: datetime) -> ChannelProblems:
    """Channels that do not work (revoked tokens, errors, captcha, flood waits, disabled, a paused import) and
    manager groups the bot cannot work in (removed, no topics, rights missing): core.services.readiness's reading."""
    checked = await readiness.check(session, tenant_id, readiness.Platform(), now=now)
    return ChannelProblems(
        channels=[ChannelProblem(c.id, c.kind, c.title, c.status.value, c.fix.value if c.fix else None)
                  for c in checked.channels if c.level is not readiness.Level.OK],
        groups=[GroupProblem(g.chat_id, g.title, not g.is_active, not g.is_forum, list(g.missing_rights),
                             g.fix.value if g.fix else None)
                for g in checked.groups if g.level is not readiness.Level.OK],
    )
