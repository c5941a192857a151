"""vkbottle's API with what it lacks for us: a per-token request pacer, `execute` batching, and errors sorted into
what the caller should do (wait, ask a person, give up on one item).

VK allows ~20 requests/s for a community token and ~3/s for a user token, counted per token over a sliding second.
vkbottle sends as fast as it is called, so every request of one token — realtime, import, sends — goes through one
shared `TokenPacer` in `PacedAPI.request` (a subclass of vkbottle's API that keeps its request and response
validators, token generator and HTTP client).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from vkbottle import API
from vkbottle.api.response_validator import ABCResponseValidator, VKAPIErrorResponseValidator
from vkbottle.exception_factory import VKAPIError
from vkbottle.http import AiohttpClient

COMMUNITY_RPS = 20
USER_RPS = 3
MAX_EXECUTE_CALLS = 25
# The server counts a request when it gets to it, not when we sent it: a busy server (or event loop) delays some
# requests more than others, and a window measured on our side can then look too short on theirs. The pacer keeps a
# margin on the window that adapts: it grows by a step on every refusal (error 6) and shrinks slowly while none
# come, so it settles just above the jitter there is — a few percent — instead of a fixed worst case.
MARGIN_START = 0.03
MARGIN_MIN = 0.015
MARGIN_MAX = 0.20
MARGIN_STEP_UP = 0.01
MARGIN_STEP_DOWN = 0.0025
CALM_SENDS = 100  # sends without a refusal before the margin shrinks a step

# What a VK error code means for the caller (6, too many requests per second, is retried inside PacedAPI).
FLOOD = {9, 29}  # flood control / rate limit reached: wait long, keep the channel's state visible
CAPTCHA = 14
AUTH = {5, 27, 28}  # token invalid, revoked or of the wrong kind
PERMANENT_SEND = {7, 15, 900, 901, 902}  # can't send to this user (901: forbade messages from the community)


class TokenPacer:
    """At most `rate` requests per emulated second for one token, evenly spaced.

    Sends follow a virtual schedule, one slot every window×(1+margin)/rate (GCRA): a send the event loop delayed
    does not push the schedule back, the next one simply goes sooner, so stalls cost nothing on average. On top,
    VK's own rule — no more than `rate` sends in any window — is checked on actual send times, so no catch-up ever
    becomes a burst the server would refuse."""

    def __init__(self, rate: int, time_scale: float = 1.0):
        self.rate = rate
        self.window = 1.0 / time_scale
        self.margin = MARGIN_START
        self._sent: collections.deque[float] = collections.deque(maxlen=rate)
        self._next_slot = 0.0  # theoretical time of the next send
        self._lock = asyncio.Lock()
        self._calm = 0
        self.waited = 0.0  # seconds requests spent waiting for the bound
        self.refusals = 0

    @property
    def window_with_margin(self) -> float:
        return self.window * (1 + self.margin)

    @property
    def interval(self) -> float:
        return self.window_with_margin / self.rate

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                # a late send may go up to half a slot early on the schedule, never more
                ready = self._next_slot - self.interval / 2
                if len(self._sent) == self.rate:
                    ready = max(ready, self._sent[0] + self.window_with_margin)
                if ready <= now:
                    self._sent.append(now)
                    self._next_slot = max(self._next_slot, now - self.interval / 2) + self.interval
                    self._calm += 1
                    if self._calm >= CALM_SENDS:
                        self._calm = 0
                        self.margin = max(MARGIN_MIN, self.margin - MARGIN_STEP_DOWN)
                    return
                self.waited += ready - now
                await asyncio.sleep(ready - now)

    async def refused(self) -> None:
        """The server said 'too many requests' anyway (jitter, or another process using the token): widen the
        margin; the refused request did not count there, so it goes again after one slot."""
        self.refusals += 1
        self._calm = 0
        self.margin = min(MARGIN_MAX, self.margin + MARGIN_STEP_UP)
        await asyncio.sleep(self.window_with_margin / self.rate)


_pacers: dict[tuple[str, float, int], TokenPacer] = {}


def pacer_for(token: str, rate: int, time_scale: float) -> TokenPacer:
    """One pacer per token per process and event loop (keyed by a hash: the token is never kept or logged)."""
    key = (hashlib.sha256(token.encode()).hexdigest(), time_scale, id(asyncio.get_running_loop()))
    pacer = _pacers.get(key)
    if pacer is None:
        pacer = _pacers[key] = TokenPacer(rate, time_scale)
    return pacer


class FastJSONValidator(ABCResponseValidator):
    """vkbottle decodes answers with the stdlib json; history pages are megabytes each, so decode them with msgspec
    (a vkbottle-types dependency) — several times faster, same result."""

    async def validate(self, method: str, data: dict[str, Any], response: Any, ctx_api: API) -> Any:
        if isinstance(response, (str, bytes)):
            try:
                return msgspec.json.decode(response)
            except msgspec.DecodeError:
                raise VKAPIError[1](error_msg=f"VK answered {method} with something that is not JSON") from None
        return response


class PacedAPI(API):
    """vkbottle API whose every request waits for its token's pacer; 'too many requests' (6) is retried in place."""

    def __init__(self, token: str, *, api_url: str, version: str, rate: int, time_scale: float = 1.0,
                 http_client: AiohttpClient | None = None):
        super().__init__(token, http_client=http_client or AiohttpClient())
        self.response_validators = [FastJSONValidator(), VKAPIErrorResponseValidator()]
        self.API_URL = api_url if api_url.endswith("/") else api_url + "/"
        self.API_VERSION = version
        self.pacer = pacer_for(token, rate, time_scale)
        self.time_scale = time_scale
        self.retries_on_6 = 0
        self.requests_made = 0

    async def request(self, method: str, data: dict[str, Any], version: str | None = None) -> dict[str, Any]:
        """vkbottle's API.request, paced, and reading the answer as bytes: msgspec decodes bytes several times
        faster than the str vkbottle would hand it (history pages are hundreds of kilobytes each)."""
        data = await self.validate_request(data)
        attempt = 0
        while True:
            await self.pacer.wait()
            self.requests_made += 1
            async with self.token_generator as token:
                raw = await self.http_client.request_content(
                    self.API_URL + method, method="POST", data=data,
                    params={"access_token": token, "v": version or self.API_VERSION},
                )
            try:
                return await self.validate_response(method, data, raw)
            except VKAPIError[6]:
                attempt += 1
                self.retries_on_6 += 1
                if attempt >= 10:
                    raise
                await self.pacer.refused()

    async def close(self) -> None:
        await self.http_client.close()


def build_api(settings, token: str, *, community: bool) -> PacedAPI:
    """The paced API for one token, pointed at settings.vk.vk_api_url (the sandbox in tests and demos)."""
    return PacedAPI(token, api_url=settings.vk.vk_api_url, version=settings.vk.vk_api_version,
                    rate=COMMUNITY_RPS if community else USER_RPS, time_scale=settings.time_scale)


@dataclass
class CallResult:
    """One call inside an execute batch: its response, or the VK error it got."""

    response: Any = None
    error_code: int | None = None
    error_msg: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


def _script(calls: list[tuple[str, dict]]) -> str:
    # VKScript object literals accept JSON; each call's result lands at its index in the returned array.
    parts = [f"API.{method}({json.dumps(params, ensure_ascii=False)})" for method, params in calls]
    return "return [" + ",".join(parts) + "];"


# The import sends the same shape of execute twenty times a second: history pages, sometimes after one listing
# page. As fixed scripts fed through Args (https://dev.vk.com/ru/method/execute) the code is short, the same every
# time (VK, like the stand-in, need not parse it anew) and only the peer ids and offsets travel.
_HISTORY_LOOP = ('var p = Args.peers.split(","); var o = Args.offsets.split(","); var n = parseInt(Args.n); '
                 'var i = 0; while (i < n) { out.push(API.messages.getHistory({"peer_id": parseInt(p[i]), '
                 '"offset": parseInt(o[i]), "count": parseInt(Args.count)})); i = i + 1; } return out;')
HISTORY_SCRIPT = "var out = []; " + _HISTORY_LOOP
LISTING_AND_HISTORY_SCRIPT = ('var out = [API.messages.getConversations({"offset": parseInt(Args.list_offset), '
                              '"count": parseInt(Args.list_count), "extended": 1, "fields": Args.fields})]; '
                              + _HISTORY_LOOP)


def _packed(calls: list[tuple[str, dict]]) -> dict | None:
    """execute parameters for calls that fit the fixed scripts, or None (then the calls are written out)."""
    listing, history = None, calls
    if calls and calls[0][0] == "messages.getConversations":
        listing, history = calls[0][1], calls[1:]
        if set(listing) != {"offset", "count", "extended", "fields"} or listing["extended"] != 1:
            return None
    if any(method != "messages.getHistory" or set(params) != {"peer_id", "offset", "count"}
           for method, params in history):
        return None
    counts = {params["count"] for _, params in history}
    if len(counts) > 1:
        return None
    packed = {"code": HISTORY_SCRIPT, "n": len(history), "count": counts.pop() if counts else 200,
              "peers": ",".join(str(int(p["peer_id"])) for _, p in history),
              "offsets": ",".join(str(int(p["offset"])) for _, p in history)}
    if listing is not None:
        packed.update(code=LISTING_AND_HISTORY_SCRIPT, list_offset=int(listing["offset"]),
                      list_count=int(listing["count"]), fields=listing["fields"])
    return packed


async def execute(api: API, calls: list[tuple[str, dict]]) -> list[CallResult]:
    """Up to 25 API calls in one request. A failing call (VK answers `false` for it and lists the error in
    `execute_errors`, in call order) fails alone; an error of the whole request (auth, flood, captcha) raises."""
    if not 0 < len(calls) <= MAX_EXECUTE_CALLS:
        raise ValueError(f"execute takes 1..{MAX_EXECUTE_CALLS} calls, got {len(calls)}")
    raw = await api.request("execute", _packed(calls) or {"code": _script(calls)})
    responses = raw.get("response") or []
    errors = collections.deque(raw.get("execute_errors") or [])
    out: list[CallResult] = []
    for index in range(len(calls)):
        value = responses[index] if index < len(responses) else False
        if value is False:
            err = errors.popleft() if errors else {}
            out.append(CallResult(error_code=int(err.get("error_code") or 1), error_msg=err.get("error_msg")))
        else:
            out.append(CallResult(response=value))
    return out


@dataclass
class Identity:
    """Who a token belongs to, as VK says."""

    kind: str  # "community" | "user"
    id: int
    title: str


async def resolve_community(api: API, group_id: int | None = None) -> Identity:
    params = {"group_id": group_id} if group_id else {}
    resp = (await api.request("groups.getById", params))["response"]
    groups = resp.get("groups", resp) if isinstance(resp, dict) else resp
    if not groups:
        raise LookupError("the token does not belong to a community")
    group = groups[0]
    return Identity("community", int(group["id"]), group.get("name") or f"club{group['id']}")


async def resolve_user(api: API) -> Identity:
    users = (await api.request("users.get", {}))["response"]
    if not users:
        raise LookupError("the token does not belong to a user")
    user = users[0]
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    return Identity("user", int(user["id"]), name or f"id{user['id']}")
