"""Injected Bot API failures, for fault-injection tests: a storm of 429s or 5xx answers.

Each injection is `count` failures of one kind, taken by the next matching calls (any method, or only `methods`), in
the order injected. The call fails BEFORE it does anything, as Telegram's answers do: a 429 "Too Many Requests: retry
after N" (flood control refuses the request; parameters.retry_after says how many seconds to wait,
https://core.telegram.org/bots/api#responseparameters), a 500 "Internal Server Error" or a 502 "Bad Gateway" / 504
"Gateway Timeout" (the front end could not reach the Bot API server, so the request never ran).

    POST   /_sandbox/faults   {"status": 429|500|502|504, "count": N, "retry_after"?: s, "methods"?: ["sendMessage"]}
    GET    /_sandbox/faults   {"pending": [...], "injected": {"429": n, ...}}
    DELETE /_sandbox/faults   drop what is still pending
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .botapi import TgError

DESCRIPTIONS = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}


@dataclass
class Injection:
    status: int
    left: int
    retry_after: int = 1
    methods: frozenset[str] | None = None  # lower-cased; None: every method

    def matches(self, method: str) -> bool:
        return self.methods is None or method.lower() in self.methods

    def json(self) -> dict:
        return {"status": self.status, "left": self.left, "retry_after": self.retry_after,
                "methods": sorted(self.methods) if self.methods is not None else None}


class Faults:
    def __init__(self) -> None:
        self.pending: list[Injection] = []
        self.injected: Counter[int] = Counter()

    def add(self, status: int, count: int = 1, retry_after: int | None = None,
            methods: list[str] | None = None) -> dict:
        status, count = int(status), int(count)
        if status != 429 and status not in DESCRIPTIONS:
            raise ValueError(f"status must be 429 or one of {sorted(DESCRIPTIONS)}, not {status}")
        if count < 1:
            raise ValueError("count must be at least 1")
        retry_after = int(retry_after) if retry_after is not None else 1
        if status == 429 and retry_after < 1:
            raise ValueError("retry_after must be at least 1 second")
        names = frozenset(m.lower() for m in methods) if methods else None
        injection = Injection(status, count, retry_after, names)
        self.pending.append(injection)
        return injection.json()

    def clear(self) -> None:
        self.pending.clear()

    def take(self, method: str) -> TgError | None:
        """The error the call to `method` answers with, if an injection is waiting for it."""
        for injection in self.pending:
            if injection.matches(method):
                injection.left -= 1
                if injection.left <= 0:
                    self.pending.remove(injection)
                self.injected[injection.status] += 1
                if injection.status == 429:
                    return TgError(429, f"Too Many Requests: retry after {injection.retry_after}",
                                   {"retry_after": injection.retry_after})
                return TgError(injection.status, DESCRIPTIONS[injection.status])
        return None

    def json(self) -> dict:
        return {"pending": [i.json() for i in self.pending],
                "injected": {str(k): v for k, v in sorted(self.injected.items())}}
