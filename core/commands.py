"""Outbox command kinds as typed definitions, and the registry the dispatcher executes them through.

Each kind is one `CommandKind`: its name, the payload it takes (a TypedDict, checked when a command is queued), where
it goes (Destination), which commands it waits for (Lane), whether it takes a token of its destination's message
budget, which commands behind it ride along in the same call (coalesces), and its steps side by side: `prepare` turns
the claimed rows into one Call on the ManagerSurface (bot/) or a ChannelGateway (userbots/), `record` writes back
what the far side answered, `record_failure` what people see when it failed.

Definitions are registered explicitly at composition time (bot/component.py: the workspace's kinds from
core.services.workspace.kinds, each other area's from its own module) in one `CommandKinds`. A name registered twice
is an error; at start-up `CommandKinds.check` refuses a database holding open commands of a kind nobody registered
(an upgrade that dropped a kind would leave them to fail one by one), and once a registry is installed `check_payload`
refuses queueing a kind it does not know or a payload without the keys its type requires. Payload types name the
keys that are required (`Required[...]` or a total TypedDict); keys older rows may lack are NotRequired, so commands
queued by an earlier version still execute.

The dispatcher (core.dispatcher) depends only on the small `Executor` protocol below.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, ClassVar, NotRequired, Protocol, Required, get_origin, get_type_hints

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import CommandState, OutboxCommand
from .ports import Delivery, DeliveryError

OPEN_STATES = (CommandState.PENDING_APPROVAL, CommandState.APPROVED, CommandState.QUEUED, CommandState.IN_FLIGHT)


class GatewayAction(str, enum.Enum):
    """What a call through a ChannelGateway does with the customer's chat."""

    SEND = "send"
    EDIT = "edit"  # correct delivered messages (payload: external_ids, text, previous_text, delivered)
    DELETE = "delete"  # take delivered messages back (payload: external_ids)


@dataclass(frozen=True)
class Call:
    """One call on the far side: `via` "surface" (the manager bot, bot/surface.py) or "gateway" (a customer's
    channel, userbots/gateway.py), the call's kind and payload, and for a gateway the channel, chat, key and what
    the call does there (`action`)."""

    via: str  # "surface" | "gateway"
    kind: str
    payload: dict
    channel_id: int | None = None
    chat_id: str | None = None
    idempotency_key: str | None = None
    action: GatewayAction = GatewayAction.SEND


def channel_id_of(destination: str) -> int | None:
    if destination.startswith("channel:"):
        return int(destination.split(":", 1)[1])
    return None


class Destination(str, enum.Enum):
    """Where a kind's commands go (core.outbox's budget keys)."""

    GROUP = "group"  # a manager group: tg:group:<chat>
    CHAT = "chat"  # a group or a person's private chat: tg:group:<chat> | tg:chat:<chat>
    CHANNEL = "channel"  # a customer's channel: channel:<id>

    def admits(self, destination: str) -> bool:
        if self is Destination.GROUP:
            return destination.startswith("tg:group:")
        if self is Destination.CHAT:
            return destination.startswith(("tg:group:", "tg:chat:"))
        return destination.startswith("channel:")


class Lane(str, enum.Enum):
    """Which commands a command waits for (core.dispatcher: one lane runs strictly in id order)."""

    DIALOG = "dialog"  # the earlier open commands of its dialog to the same destination
    NONE = "none"  # none: queued without a dialog, it runs as soon as its destination has a token


class CommandKind:
    """One outbox command kind. Subclasses set the class attributes and the steps they need."""

    name: ClassVar[str]
    payload: ClassVar[type]  # a TypedDict
    destination: ClassVar[Destination]
    lane: ClassVar[Lane] = Lane.DIALOG
    message: ClassVar[bool] = True  # takes a token of its destination's message budget (pins, reactions do not)
    # Whether commands behind one of this kind in its lane may ride along in its call (then `coalesces` decides
    # for each): the dispatcher looks behind a lane's head only for these.
    coalescing: ClassVar[bool] = False
    # Whether an automatic reply of this kind shows "typing…" in the customer's chat while it waits out its delay.
    typing: ClassVar[bool] = False
    # Whether making its call twice leaves the far side as once (an edit, a pin, a reaction, a ban; a correction or
    # take-back of a delivered reply): then no "about to send" mark, and a death mid-call is no possible duplicate.
    # Posts, new topics and Bot API sends are not. (A customer send through a channel that dedups by the command's
    # key is repeatable by its channel: its kind's `keyed_sends`, core.channels.)
    repeatable: ClassVar[bool] = False

    def coalesces(self, batch: list[OutboxCommand], follower: OutboxCommand) -> bool:
        """Whether `follower`, next in the lane, can go out in the same call as `batch` (its head of this kind)."""
        return False

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None:
        """The call to make, or None when there is nothing to do any more (the command completes as skipped)."""
        raise NotImplementedError

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime) -> None:
        """What the far side answered, written back in the unit of work that completes the commands."""

    async def record_failure(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError, *,
                             retrying: bool) -> None:
        """What people see of a failure (retries, `retrying`, usually stay invisible)."""

    @classmethod
    def missing(cls, payload: dict) -> list[str]:
        """The keys the payload type requires that `payload` lacks."""
        return sorted(k for k in required_keys(cls.payload) if k not in payload)


@functools.cache
def required_keys(payload: type) -> frozenset[str]:
    """A TypedDict's required keys. Read from its resolved hints: in a module with postponed annotations
    (`from __future__ import annotations`) Python 3.11's own __required_keys__ cannot see NotRequired[...]."""
    optional = {Required: False, NotRequired: True}
    total = getattr(payload, "__total__", True)
    return frozenset(key for key, hint in get_type_hints(payload, include_extras=True).items()
                     if not optional.get(get_origin(hint), not total))


class UnknownCommandKind(RuntimeError):
    """An outbox kind nobody registered (or registered twice): found at start-up or when it is queued."""


class CommandKinds:
    """The registry: every kind this deployment executes, registered explicitly at composition time."""

    def __init__(self, *kinds: CommandKind):
        self._kinds: dict[str, CommandKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: CommandKind) -> None:
        if not getattr(kind, "name", None):
            raise UnknownCommandKind(f"{type(kind).__name__} has no name")
        if kind.name in self._kinds:
            raise UnknownCommandKind(f"outbox kind {kind.name} registered twice")
        self._kinds[kind.name] = kind

    def __contains__(self, name: str) -> bool:
        return name in self._kinds

    def __iter__(self):
        return iter(self._kinds.values())

    def names(self) -> frozenset[str]:
        return frozenset(self._kinds)

    def flagged(self, flag: str) -> frozenset[str]:
        """The names of the kinds with `flag` ("coalescing", "typing", "repeatable") set."""
        return frozenset(name for name, kind in self._kinds.items() if getattr(kind, flag))

    def get(self, name: str) -> CommandKind:
        kind = self._kinds.get(name)
        if kind is None:
            raise UnknownCommandKind(f"no outbox kind {name!r} is registered")
        return kind

    def check_payload(self, name: str, destination: str, payload: dict) -> None:
        kind = self.get(name)
        missing = kind.missing(payload)
        if missing:
            raise TypeError(f"outbox kind {name} needs {missing} in its payload, got {sorted(payload)}")
        if not kind.destination.admits(destination):
            raise TypeError(f"outbox kind {name} goes to a {kind.destination.value}, not {destination}")

    async def check(self, session: AsyncSession) -> None:
        """At start-up: every open command in the database must be of a registered kind."""
        kinds = set((await session.execute(
            select(OutboxCommand.kind).where(OutboxCommand.state.in_(OPEN_STATES)).distinct()
        )).scalars())
        unknown = sorted(kinds - self._kinds.keys())
        if unknown:
            raise UnknownCommandKind(f"open outbox commands of kinds nobody registered: {', '.join(unknown)}")


_installed: CommandKinds | None = None


def install(registry: CommandKinds) -> None:
    """Make `registry` the one `check_payload` checks queued commands against (the composition root calls this)."""
    global _installed
    _installed = registry


def check_payload(name: str, destination: str, payload: dict) -> None:
    """core.outbox.enqueue: refuse a kind the installed registry does not know, or a payload missing required keys.
    Before a registry is installed (a tool that only reads) nothing is checked."""
    if _installed is not None:
        _installed.check_payload(name, destination, payload)


class Executor(Protocol):
    """What the dispatcher needs of the command kinds (core.services.workspace.commands.WorkspaceCommands).
    `kinds` is the registry: the dispatcher reads the kinds' flags (coalescing, typing, repeatable) from it, so it
    knows no kind by name."""

    kinds: CommandKinds

    def counts_as_message(self, kind: str) -> bool: ...

    def coalesces(self, batch: list, follower) -> bool: ...

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None: ...

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery: Delivery,
                     now: datetime | None = None) -> None: ...

    async def hold(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError, *,
                   now: datetime) -> bool: ...

    async def record_failure(self, session: AsyncSession, commands: list[OutboxCommand], error: DeliveryError, *,
                             retrying: bool) -> None: ...


class ManagerSurface(Protocol):
    """The manager bot's side (bot/surface.py): makes a call of `via` "surface"."""

    async def execute(self, kind: str, payload: dict) -> Delivery: ...


class ChannelGateway(Protocol):
    """The customers' channels (userbots/gateway.py): makes a call of `via` "gateway". A gateway may also have
    `edit(channel_id, chat_id, external_ids, text, *, previous_text, delivered)`, `delete(channel_id, chat_id,
    external_ids)` and `typing(channel_id, chat_id, *, stop=False)`; calls it lacks fail (edit, delete) or are
    skipped (typing)."""

    async def send(self, channel_id: int, chat_id: str, payload: dict, *,
                   idempotency_key: str | None = None) -> Delivery: ...


# What the dispatcher is given for each far side: called per call, it returns the one running now, or None while it
# is not (yet) running in this process: the call then fails as "no_surface" / "no_gateway", a transient error.
SurfaceProvider = Callable[[], ManagerSurface | None]
GatewayProvider = Callable[[], ChannelGateway | None]


def none_running() -> None:
    """A provider for a far side this deployment does not run."""
    return None
