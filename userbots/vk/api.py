"""vkbottle's API with what it lacks for us: request pacing per token, `execute` batching, and errors sorted into
what the caller should do (wait, ask a person, give up on one item).

VK allows ~20 requests/s for a community token and ~3/s for a user token, counted per token over a sliding second.
vkbottle sends as fast as it is called, so every request of one token — realtime, import, sends, in any process —
takes a slot from the token's budget in core.ratelimit (`PacedAPI.request`, a subclass of vkbottle's API that keeps
its request and response validators, token generator and HTTP client). With Redis configured the budget lives there,
so every process using the token shares it; without, it is this process's (the embedded, one-process default).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any

import msgspec
from vkbottle import API
from vkbottle.api.response_validator import ABCResponseValidator, VKAPIErrorResponseValidator
from vkbottle.exception_factory import VKAPIError
from vkbottle.http import AiohttpClient

from core.channels import CHANNEL_KINDS
from core.ratelimit import Budget, RateLimiter, build_rate_limiter, evenly

MAX_EXECUTE_CALLS = 25
# The server counts a request when it gets to it, not when we sent it: a busy server (or event loop) delays some
# requests more than others, and a window measured on our side can then look too short on theirs. The pacing keeps a
# margin on the window that adapts: it grows by a step on every refusal (error 6) and shrinks slowly while none
# come, so it settles just above the jitter there is — a few percent — instead of a fixed worst case.
MARGIN_START = 0.03
MARGIN_MIN = 0.015
MARGIN_MAX = 0.20
MARGIN_STEP_UP = 0.01
MARGIN_STEP_DOWN = 0.0025
CALM_SENDS = 100  # sends without a refusal before the margin shrinks a step
RETRIES_ON_6 = 10  # "too many requests per second" answers one request takes before it gives up

# What a VK error code means for the caller (6, too many requests per second, is retried inside PacedAPI).
FLOOD = {9, 29}  # flood control / rate limit reached: wait long, keep the channel's state visible
CAPTCHA = 14
AUTH = {5, 27, 28}  # token invalid, revoked or of the wrong kind
PERMANENT_SEND = {7, 15, 900, 901, 902}  # can't send to this user (901: forbade messages from the community)


@dataclass
class Margin:
    """The adaptive margin on a token's window (see MARGIN_START), one per token per process."""

    value: float = MARGIN_START
    calm: int = 0
    refusals: int = 0

    def sent(self) -> None:
        self.calm += 1
        if self.calm >= CALM_SENDS:
            self.calm = 0
            self.value = max(MARGIN_MIN, self.value - MARGIN_STEP_DOWN)

    def refused(self) -> None:
        self.refusals += 1
        self.calm = 0
        self.value = min(MARGIN_MAX, self.value + MARGIN_STEP_UP)


def token_key(token: str) -> str:
    """The token's budget key (a hash: the token is never kept or logged)."""
    return "vk:token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


_margins: dict[str, Margin] = {}
_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def shared_limiter(redis_url: str | None, time_scale: float) -> RateLimiter:
    """One rate limiter per event loop for the VK APIs of this process: on Redis when `redis_url` is set (shared with
    every other process using the same tokens), else in this process."""
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    limiter = per_loop.get((redis_url, time_scale))
    if limiter is None:
        limiter = per_loop[(redis_url, time_scale)] = build_rate_limiter(redis_url, time_scale)
    return limiter


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
    """vkbottle API whose every request first takes a slot of its token's budget (core.ratelimit); 'too many
    requests' (6) widens the margin and is retried in place."""

    def __init__(self, token: str, *, api_url: str, version: str, budget: Budget, time_scale: float = 1.0,
                 http_client: AiohttpClient | None = None, limiter: RateLimiter | None = None):
        super().__init__(token, http_client=http_client or AiohttpClient())
        self.response_validators = [FastJSONValidator(), VKAPIErrorResponseValidator()]
        self.API_URL = api_url if api_url.endswith("/") else api_url + "/"
        self.API_VERSION = version
        self.budget = budget  # the token's kind's (core.channels: VK_COMMUNITY or VK_USER)
        self.limiter = limiter or shared_limiter(None, time_scale)
        self.key = token_key(token)
        self.margin = _margins.setdefault(self.key, Margin())
        self.time_scale = time_scale
        self.retries_on_6 = 0
        self.requests_made = 0

    async def _slot(self) -> None:
        # evenly: VK counts any sliding second, so no burst (see core.ratelimit.evenly)
        await self.limiter.acquire(self.key, evenly(self.budget, self.margin.value))
        self.margin.sent()

    async def request(self, method: str, data: dict[str, Any], version: str | None = None) -> dict[str, Any]:
        """vkbottle's API.request, paced, and reading the answer as bytes: msgspec decodes bytes several times
        faster than the str vkbottle would hand it (history pages are hundreds of kilobytes each)."""
        data = await self.validate_request(data)
        attempt = 0
        while True:
            await self._slot()
            self.requests_made += 1
            async with self.token_generator as token:
                raw = await self.http_client.request_content(
                    self.API_URL + method, method="POST", data=data,
                    params={"access_token": token, "v": version or self.API_VERSION},
                )
            try:
                return await self.validate_response(method, data, raw)
            except VKAPIError[6]:
                # Jitter, or a process not sharing the budget (no Redis) used the token: the refused request did
                # not count there, so it takes a new slot under a wider margin.
                attempt += 1
                self.retries_on_6 += 1
                if attempt >= RETRIES_ON_6:
                    raise
                self.margin.refused()

    async def close(self) -> None:
        await self.http_client.close()


def build_api(settings, token: str, *, community: bool) -> PacedAPI:
    """The paced API for one token, pointed at settings.vk.vk_api_url (the sandbox in tests and demos), its budget
    on Redis when settings.redis.redis_url is set. Its budget is its kind's (core.channels)."""
    (kind,) = CHANNEL_KINDS.kinds(where=lambda traits: traits.platform == "vk" and traits.group_mailbox == community)
    return PacedAPI(token, api_url=settings.vk.vk_api_url, version=settings.vk.vk_api_version,
                    budget=CHANNEL_KINDS.get(kind).budget, time_scale=settings.time_scale,
                    limiter=shared_limiter(settings.redis.redis_url, settings.time_scale))


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
