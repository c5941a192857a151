"""Rate budgets for everything that leaves the system, so the far side never has to say 429.

Each budget "count per period, up to `burst` back to back" is enforced with GCRA (the generic cell rate algorithm: one
stored timestamp per key, the "theoretical arrival time"), which is exactly a token bucket of capacity `burst`
refilling at count/period — the shape Telegram and VK enforce. Two implementations share the arithmetic:

- `LocalRateLimiter`: in-process (the embedded default, one dispatcher process);
- `RedisRateLimiter`: one Lua script per operation on Redis, so any number of dispatcher processes on any number of
  machines share one budget per destination (the Redis server's clock is the only clock).

`time_scale` (emulated seconds per real second) shrinks every interval, so tests and demos against the sandboxes,
which run their limits on the same emulated clock, finish in seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Budget:
    count: int
    per_seconds: float
    burst: int  # how many may go back to back before pacing starts (the bucket's capacity)

    def interval(self, time_scale: float) -> float:
        """Real seconds between two tokens."""
        return self.per_seconds / self.count / time_scale


# The manager bot's destinations (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
# The bursts are smaller than the budgets on purpose: a request reaches Telegram a little later than its token was
# taken (queueing, the network), and late arrivals bunch up; a short burst leaves room for that. The long-run rate,
# which is what bounds a backlog's drain, is the full budget. A customer's channel has the budget of its kind's
# definition (core.channels: VK communities and user tokens, Telegram accounts, Telegram Business).
TELEGRAM_GROUP = Budget(20, 60.0, burst=10)  # one group: 20 messages a minute, edits and topic changes included
TELEGRAM_PRIVATE_CHAT = Budget(1, 1.0, burst=1)  # one private chat: about one message a second
TELEGRAM_BOT = Budget(30, 1.0, burst=20)  # the whole bot: about 30 messages a second
# A channel destination whose channel is gone (deleted while commands to it waited): a careful pace, whatever it was.
GONE_CHANNEL = Budget(1, 1.0, burst=3)

BOT_KEY = "tg:bot"


class HasBudget(Protocol):
    budget: Budget  # core.channels.ChannelTraits: a channel kind's definition


def evenly(budget: Budget, margin: float = 0.0) -> Budget:
    """The budget with no burst (requests evenly spaced), its period stretched by `margin`: for a far side that
    counts any sliding window (VK's API per token), where a bucket letting a burst through would let up to twice
    the count into one window."""
    return Budget(budget.count, budget.per_seconds * (1 + margin), burst=1)


def destination_budget(destination: str, channel: HasBudget | None = None) -> Budget:
    """The budget of one outbox destination key (core.outbox.tg_group / tg_chat / channel_dest); for a customer's
    channel, `channel` is its kind's definition (core.channels.CHANNEL_KINDS), None when the channel is gone."""
    if destination.startswith("tg:group:"):
        return TELEGRAM_GROUP
    if destination.startswith("tg:chat:"):
        return TELEGRAM_PRIVATE_CHAT
    if destination.startswith("channel:"):
        return channel.budget if channel is not None else GONE_CHANNEL
    return TELEGRAM_PRIVATE_CHAT  # anything unknown gets the most careful pace


def uses_bot(destination: str) -> bool:
    """Destinations the manager bot writes to share the bot-wide budget as well."""
    return destination.startswith("tg:")


class RateLimiter(Protocol):
    async def try_acquire(self, key: str, budget: Budget) -> float:
        """Take a token now if there is one (returns 0), else take nothing and return real seconds until one."""
        ...

    async def acquire(self, key: str, budget: Budget) -> None:
        """Reserve the next token and sleep until it is due."""
        ...

    async def charge(self, key: str, budget: Budget, tokens: int) -> None:
        """Spend tokens already used (extra calls a command needed, e.g. re-creating a deleted topic)."""
        ...

    async def refund(self, key: str, budget: Budget) -> None:
        """Give back a token taken for a command that made no call after all."""
        ...

    async def block(self, key: str, budget: Budget, seconds: float) -> None:
        """The far side said "retry after": nobody passes for exactly that long, then pacing resumes."""
        ...


@dataclass
class _Gcra:
    """GCRA on one key. Times are real seconds on some clock; `tat` is the theoretical arrival time."""

    interval: float
    tolerance: float  # (burst - 1) × interval: how far ahead of now tat may run before a request must wait

    def try_take(self, tat: float, now: float) -> tuple[float, float]:
        """(new tat, wait): wait 0 means taken."""
        tat = max(tat, now)
        wait = tat - now - self.tolerance
        if wait > 1e-9:
            return tat, wait
        return tat + self.interval, 0.0

    def reserve(self, tat: float, now: float) -> tuple[float, float]:
        tat = max(tat, now)
        return tat + self.interval, max(0.0, tat - now - self.tolerance)


def _gcra(budget: Budget, time_scale: float) -> _Gcra:
    interval = budget.interval(time_scale)
    return _Gcra(interval=interval, tolerance=(budget.burst - 1) * interval)


class LocalRateLimiter:
    """Budgets in this process only: right when one dispatcher runs (the embedded default)."""

    def __init__(self, time_scale: float = 1.0, clock=time.monotonic):
        self.time_scale = time_scale
        self._clock = clock
        self._tat: dict[str, float] = {}

    async def try_acquire(self, key: str, budget: Budget) -> float:
        now = self._clock()
        tat, wait = _gcra(budget, self.time_scale).try_take(self._tat.get(key, now), now)
        self._tat[key] = tat
        return wait

    async def acquire(self, key: str, budget: Budget) -> None:
        now = self._clock()
        self._tat[key], wait = _gcra(budget, self.time_scale).reserve(self._tat.get(key, now), now)
        if wait > 0:
            await asyncio.sleep(wait)

    async def charge(self, key: str, budget: Budget, tokens: int) -> None:
        if tokens <= 0:
            return
        now = self._clock()
        self._tat[key] = max(self._tat.get(key, now), now) + tokens * budget.interval(self.time_scale)

    async def refund(self, key: str, budget: Budget) -> None:
        now = self._clock()
        if key in self._tat:
            self._tat[key] = max(now, self._tat[key] - budget.interval(self.time_scale))

    async def block(self, key: str, budget: Budget, seconds: float) -> None:
        gcra = _gcra(budget, self.time_scale)
        now = self._clock()
        self._tat[key] = max(self._tat.get(key, now), now + seconds + gcra.tolerance)


# One script for every operation, so each is atomic across processes. Times are microseconds on the Redis clock.
# ARGV: op, interval_us, tolerance_us, amount (tokens for "charge", microseconds for "block").
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op = ARGV[1]
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = 0
if op == 'try' then
  wait = tat - now - tolerance
  if wait > 0 then return wait end
  wait = 0
  tat = tat + interval
elseif op == 'reserve' then
  wait = tat - now - tolerance
  if wait < 0 then wait = 0 end
  tat = tat + interval
elseif op == 'charge' then
  tat = tat + amount * interval
elseif op == 'refund' then
  tat = tat - interval
  if tat < now then tat = now end
elseif op == 'block' then
  if tat < now + amount + tolerance then tat = now + amount + tolerance end
end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return wait
"""


class RedisRateLimiter:
    """Budgets shared by every process that talks to the same Redis."""

    PREFIX = "salesop:rl:"

    def __init__(self, redis_url: str, time_scale: float = 1.0):
        import redis.asyncio as aioredis  # only when Redis is configured

        self.time_scale = time_scale
        self._redis = aioredis.Redis.from_url(redis_url)
        self._script = self._redis.register_script(_GCRA_LUA)

    async def _run(self, op: str, key: str, budget: Budget, amount: float = 0) -> float:
        gcra = _gcra(budget, self.time_scale)
        wait_us = await self._script(
            keys=[self.PREFIX + key],
            args=[op, round(gcra.interval * 1e6), round(gcra.tolerance * 1e6), round(amount)],
        )
        return max(0.0, int(wait_us) / 1e6)

    async def try_acquire(self, key: str, budget: Budget) -> float:
        return await self._run("try", key, budget)

    async def acquire(self, key: str, budget: Budget) -> None:
        wait = await self._run("reserve", key, budget)
        if wait > 0:
            await asyncio.sleep(wait)

    async def charge(self, key: str, budget: Budget, tokens: int) -> None:
        if tokens > 0:
            await self._run("charge", key, budget, tokens)

    async def refund(self, key: str, budget: Budget) -> None:
        await self._run("refund", key, budget)

    async def block(self, key: str, budget: Budget, seconds: float) -> None:
        await self._run("block", key, budget, seconds * 1e6)

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(redis_url: str | None, time_scale: float = 1.0) -> LocalRateLimiter | RedisRateLimiter:
    if redis_url:
        return RedisRateLimiter(redis_url, time_scale)
    return LocalRateLimiter(time_scale)
