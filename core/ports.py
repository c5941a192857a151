"""How core/ talks to the outside world. Adapters in bot/, userbots/, sandbox-backed providers implement these;
core never imports aiogram, telethon, vkbottle or aiohttp."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class TaskQueue(Protocol):
    """Fire-and-forget background work (taskiq: in-process or Redis Streams)."""

    async def enqueue(self, name: str, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """What a channel or Telegram answered for one executed command."""

    external_id: str | None = None  # message id on the far side
    extra: dict = field(default_factory=dict)


class DeliveryError(Exception):
    """A command could not be executed. `retry_after` (seconds) → wait exactly that; `permanent` → do not retry."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False, code: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        self.code = code  # e.g. "blocked", "topic_deleted", "topic_closed", "flood"


class ChannelGateway(Protocol):
    """Sends to a customer through the dialog's channel (Telegram account, VK community, VK user)."""

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery: ...

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        """Give delivered messages a new text. `external_ids` hold the text of one reply, in order (a long text
        went out in parts); `previous_text` lets unchanged parts be left alone; `delivered` is what `send` answered
        for them (its extra). Answers extra.parts (messages the new text needs), extra.message_parts (messages there
        are) and extra.edited_ids. An edit that changes nothing on the far side is a success."""
        ...

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        """Delete delivered messages for the customer too. Messages already gone count as deleted."""
        ...

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        """Show the customer "typing…" in their chat with the business (VK messages.setActivity, Telegram
        messages.setTyping). The channel shows it for a few seconds only (VK ~10, Telegram ~5-6), so the caller
        repeats it while it should last; `stop` takes it away at once where the channel can (Telegram's cancel
        action; VK has none and it simply runs out). Best effort: a failure raises DeliveryError, and the caller
        never lets it hold up or fail a send. Optional: a gateway without it shows no typing."""
        ...


class ManagerSurface(Protocol):
    """The manager workspace in Telegram (bot API): topics, cards, posts."""

    async def execute(self, kind: str, payload: dict) -> Delivery: ...


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    parsed: dict | None = None  # structured output, when a schema was asked for
    tool_calls: list[dict] = field(default_factory=list)


class LLM(Protocol):
    name: str

    async def chat(self, messages: list[dict], *, schema: dict | None = None, tools: list[dict] | None = None,
                   temperature: float = 0.3) -> ChatResult: ...


class Embedder(Protocol):
    name: str  # recorded on every vector so a change of embedder marks old vectors stale
    dim: int

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:  # vectors, tokens used
        ...


class Speech(Protocol):
    async def synthesize(self, text: str, *, voice_id: str, api_key: str) -> bytes:  # OGG/Opus
        ...
