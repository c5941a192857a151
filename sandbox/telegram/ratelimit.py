"""Flood limits of the Bot API as token buckets on an emulated clock.

Telegram publishes its limits only as guidance (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
about 1 message per second in one chat, at most 20 messages per minute in one group, about 30 messages per second in
total. Going over gives 429 "Too Many Requests: retry after N" with parameters.retry_after
(https://core.telegram.org/bots/api#responseparameters).

Each budget "N per P seconds" is a bucket holding N tokens that refills at N/P tokens per second, so a client may spend
a whole budget at once and then must pace itself. Modes:
- "strict": the bucket holds exactly the budget;
- "realistic": the bucket holds the budget plus a small burst allowance (what one sees from the real servers, which
  tolerate short spikes);
- "off": nothing is limited.
The clock is time.monotonic() * time_scale, so with time_scale=60 a per-minute budget refills in one real second and
retry_after (always whole emulated seconds, at least 1) is the emulated time until the bucket really has room.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

MODES = ("off", "realistic", "strict")


@dataclass(frozen=True)
class Budget:
    count: int
    per_seconds: float
    burst: int  # extra tokens in "realistic" mode

    @property
    def rate(self) -> float:
        return self.count / self.per_seconds


BUDGETS = {
    "global": Budget(30, 1.0, burst=10),  # ~30 messages per second per bot
    "group": Budget(20, 60.0, burst=5),  # 20 messages per minute into one group (sends, edits, topic changes)
    "private": Budget(1, 1.0, burst=2),  # ~1 message per second into one private chat
}


class Bucket:
    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def wait(self, cost: int, now: float) -> float:
        """Emulated seconds until `cost` tokens are available (a cost above capacity needs a full bucket)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return max(0.0, (min(cost, self.capacity) - self.tokens) / self.rate)


class RateLimiter:
    def __init__(self, mode: str = "off", time_scale: float = 1.0, budgets: dict[str, Budget] | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.budgets = budgets or BUDGETS
        self.mode = "off"
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"limits must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self._buckets: dict[tuple[str, object], Bucket] = {}

    def now(self) -> float:
        return time.monotonic() * self.time_scale

    def acquire(self, keys: list[tuple[str, object]], cost: int = 1) -> int | None:
        """Take `cost` tokens from every bucket in `keys`, or none of them and return retry_after in seconds."""
        if self.mode == "off":
            return None
        now = self.now()
        buckets = [self._bucket(kind, key, now) for kind, key in keys]
        wait = max(bucket.wait(cost, now) for bucket in buckets)
        if wait > 1e-9:
            return max(1, math.ceil(wait - 1e-9))
        for bucket in buckets:
            bucket.tokens -= cost
        return None

    def _bucket(self, kind: str, key: object, now: float) -> Bucket:
        bucket = self._buckets.get((kind, key))
        if bucket is None:
            budget = self.budgets[kind]
            capacity = budget.count + (budget.burst if self.mode == "realistic" else 0)
            bucket = self._buckets[(kind, key)] = Bucket(capacity, budget.rate, now)
        return bucket
