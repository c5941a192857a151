"""VKSandbox: a local VK API (https://dev.vk.com/ru/api/api-requests) for the real vkbottle client.

Serves `/method/<name>` (GET or POST form, `access_token` and `v` like api.vk.ru), the Bots Long Poll endpoint
`/wh<group_id>`, upload servers and media under `/_sandbox/upload/` and `/_sandbox/media/`, and a JSON control
API under `/_sandbox/<action>` mirroring the Python methods (POST a JSON body of their keyword arguments); GET
`/_sandbox/sent`, `/_sandbox/stats` and `/_sandbox/activity` (messages.setActivity calls: which customer saw
"typing…" when, and whether they still do) read the state back.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import inspect
import itertools
import json
import secrets
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

from . import synth, vkscript
from .errors import VKError, bad_param
from .mailbox import Mailbox, Seed
from .methods import Methods, Principal, _int

API_VERSION = "5.199"
MAX_EXECUTE_CALLS = 25  # https://dev.vk.com/ru/method/execute
RPS = {"group": 20, "user": 3}  # requests per second per token: https://dev.vk.com/ru/api/api-requests
LP_MAX_WAIT = 90  # https://dev.vk.com/ru/api/bots-long-poll/getting-started
LP_RETAIN = 10_000  # events kept per community; older ts values get {"failed": 1}
USER_BASE = 500_000_000  # seeded customers: USER_BASE + (seed % 200) * 1_000_000 + conversation index
CLIENT_INFO = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback",
                                  "intent_subscribe", "intent_unsubscribe"],
               "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}


class LongPoll:
    """Bots Long Poll session of one community: numbered events, the valid key and keys that were killed."""

    def __init__(self) -> None:
        self.key, self.ts = secrets.token_hex(20), 0
        self.events: deque[tuple[int, dict]] = deque(maxlen=LP_RETAIN)
        self.dead: dict[str, int] = {}
        self.fail_once = False
        self.wake = asyncio.Event()

    def notify(self) -> None:
        self.wake.set()
        self.wake = asyncio.Event()


class Community:
    def __init__(self, group_id: int, name: str) -> None:
        self.id, self.name = group_id, name
        self.mailbox = Mailbox(-group_id, name)
        self.lp = LongPoll()


def _form(v: Any) -> str:
    """A VKScript value as a request parameter, the way a form would carry it."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list):
        return ",".join(_form(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


class VKSandbox(Methods):
    def __init__(self, *, limits: bool = True, latency_ms: float = 0.0, time_scale: float = 1.0) -> None:
        self.limits, self.latency_ms, self.time_scale = limits, latency_ms, time_scale
        self.sent: list[dict] = []
        self.stats: dict[str, Any] = {"methods": Counter(), "tokens": Counter(), "errors": Counter(),
                                      "execute_calls": Counter(), "longpoll_requests": 0}
        self.origin: str | None = None  # http://host:port of the last request, used in media URLs
        self._tokens: dict[str, Principal] = {}
        self._communities: dict[int, Community] = {}
        self._accounts: dict[int, Mailbox] = {}
        self._hits: dict[str, deque[float]] = {}
        self._inject: dict[str, deque[list[int]]] = {}
        self._media: dict[tuple[str, int, int], dict] = {}  # uploaded/live attachments by (namespace, owner, id)
        self._blobs: dict[tuple[str, int, int], tuple[bytes, str]] = {}
        self._uploads: dict[str, tuple[bytes, str, str, int, str]] = {}
        self._media_ids = itertools.count(457_000_001)
        self._secret = secrets.token_bytes(16)
        self._closing = False
        self._methods = self.method_table()
        # documents up to 200 MB: https://dev.vk.com/ru/api/upload/document-in-profile
        self.app = web.Application(client_max_size=200 * 1024 * 1024)
        self.app.router.add_route("*", "/method/{name}", self._api)
        self.app.router.add_route("*", r"/wh{group_id:\d+}", self._longpoll)
        self.app.router.add_post(r"/_sandbox/upload/{kind}/{owner:-?\d+}", self._upload)
        self.app.router.add_get("/_sandbox/media/{kind}/{name}", self._media_file)
        self.app.router.add_get("/_sandbox/captcha.png", self._captcha)
        self.app.router.add_route("*", "/_sandbox/{action}", self._control)
        self.app.on_shutdown.append(self._shutdown)

    # ================================================================ Python control API

    def add_community(self, group_id: int, name: str, token: str | None = None) -> str:
        self._communities.setdefault(group_id, Community(group_id, name)).name = name
        token = token or "vk1.a." + secrets.token_urlsafe(48)
        self._tokens[token] = Principal("group", group_id)
        return token

    def add_user_token(self, user_id: int, token: str | None = None) -> str:
        token = token or "vk1.a." + secrets.token_urlsafe(48)
        self._tokens[token] = Principal("user", user_id)
        return token

    def revoke_token(self, token: str) -> None:
        self._tokens.pop(token, None)

    def seed(self, group_id: int, *, conversations: int, messages_per_conversation: int, seed: int = 0,
             forbid_every: int = 0, attachment_every: int = 5) -> None:
        """Replace the community's (or, for a user-token id, the account's) messages by a lazy synthetic history."""
        if not 0 <= conversations <= 1_000_000:
            raise ValueError("conversations must be within 0..1,000,000")
        box = self._communities[group_id].mailbox if group_id in self._communities else self._account(group_id)
        box.reset(Seed(conversations, messages_per_conversation, seed, forbid_every, attachment_every,
                       USER_BASE + seed % 200 * 1_000_000, box.owner_id))

    async def user_writes(self, group_id: int, user_id: int, text: str, *, attachments: list[dict] = (),
                          ref: str | None = None, ref_source: str | None = None) -> dict:
        box = self._community(group_id).mailbox
        atts = [self._live_attachment(a, user_id) for a in attachments]
        msg = box.add(user_id, out=False, text=text, attachments=atts, ref=ref, ref_source=ref_source)
        self._emit(group_id, "message_new", {"message": msg, "client_info": CLIENT_INFO})
        return self._public(msg)

    async def user_writes_to_account(self, account_id: int, user_id: int, text: str) -> dict:
        """A person writes to a VK user account (a shop run from a personal page); the account reads it from its
        conversation list (messages.getConversations / getHistory)."""
        return self._public(self._account(account_id).add(user_id, out=False, text=text, attachments=[]))

    async def community_replies_in_vk(self, group_id: int, user_id: int, text: str) -> dict:
        msg = self._community(group_id).mailbox.add(user_id, out=True, text=text, attachments=[],
                                                    admin_author_id=600_000_000 + group_id % 1_000_000)
        self._emit(group_id, "message_reply", msg)
        return self._public(msg)

    async def user_edits(self, group_id: int, user_id: int, message_id: int, text: str) -> dict:
        msg = self._community(group_id).mailbox.touch(message_id)
        if msg is None or msg["peer_id"] != user_id or msg["out"]:
            raise ValueError(f"user {user_id} has no message {message_id} in community {group_id}")
        msg.update(text=text, update_time=int(time.time()))
        self._emit(group_id, "message_edit", msg)
        return self._public(msg)

    async def user_allows(self, group_id: int, user_id: int) -> None:
        self._community(group_id).mailbox.allowed[user_id] = True
        self._emit(group_id, "message_allow", {"user_id": user_id, "key": secrets.token_hex(8)})

    async def user_denies(self, group_id: int, user_id: int) -> None:
        self._community(group_id).mailbox.allowed[user_id] = False
        self._emit(group_id, "message_deny", {"user_id": user_id})

    def activity(self, group_id: int | None = None, peer_id: int | None = None) -> list[dict]:
        """messages.setActivity calls ("typing…") the stand-in received, oldest first, each with whether the customer
        still sees it: of one community or user account (group_id: a community id or a user-token id) or of all."""
        boxes = ([self._communities[group_id].mailbox if group_id in self._communities else self._account(group_id)]
                 if group_id is not None else [c.mailbox for c in self._communities.values()]
                 + list(self._accounts.values()))
        out = [{**entry, "owner_id": box.owner_id,
                "typing_now": box.typing.get(entry["peer_id"]) == entry["until"] and box.typing_now(entry["peer_id"])}
               for box in boxes for entry in box.activity if peer_id is None or entry["peer_id"] == peer_id]
        return sorted(out, key=lambda e: e["at"])

    def inject_error(self, method: str, code: int, times: int = 1) -> None:
        self._inject.setdefault(method, deque()).append([code, times])

    def expire_longpoll(self, group_id: int, failed: int) -> None:
        """Make the community's Long Poll fail as documented (https://dev.vk.com/ru/api/bots-long-poll/getting-started):
        1 — history outdated: answer {"failed": 1, "ts": <current>} and drop the retained events;
        2 — key expired: the old key answers {"failed": 2} (events are kept, the old ts stays usable);
        3 — information lost: the old key answers {"failed": 3} and the events are dropped."""
        lp = self._community(group_id).lp
        if failed == 1:
            lp.fail_once = True
        else:
            lp.dead[lp.key], lp.key = failed, secrets.token_hex(20)
        if failed in (1, 3):
            lp.events.clear()
        lp.notify()

    # ================================================================ internals

    def _community(self, group_id: int) -> Community:
        if group_id not in self._communities:
            raise KeyError(f"community {group_id} was not added")
        return self._communities[group_id]

    def _account(self, user_id: int) -> Mailbox:
        if user_id not in self._accounts:
            who = synth.person(user_id)
            self._accounts[user_id] = Mailbox(user_id, f"{who['first_name']} {who['last_name']}")
        return self._accounts[user_id]

    def _mailbox(self, who: Principal, p: dict) -> Mailbox:
        if who.kind == "group":
            return self._communities[who.id].mailbox
        group_id = _int(p, "group_id", 0)
        return self._communities[group_id].mailbox if group_id in self._communities else self._account(who.id)

    def _public(self, obj: Any) -> Any:
        text = json.dumps(obj, ensure_ascii=False)
        return json.loads(text.replace(synth.BASE, self.origin) if self.origin else text)

    def _emit(self, group_id: int, kind: str, obj: dict) -> None:
        lp = self._communities[group_id].lp
        lp.ts += 1
        event_id = hashlib.sha1(b"%d:%d:%s" % (group_id, lp.ts, self._secret)).hexdigest()
        lp.events.append((lp.ts, {"group_id": group_id, "type": kind, "event_id": event_id, "v": API_VERSION,
                                  "object": copy.deepcopy(obj)}))
        lp.notify()

    def _sign(self, *parts: object) -> str:
        return hmac.new(self._secret, ":".join(map(str, parts)).encode(), hashlib.sha256).hexdigest()[:32]

    def _admit(self, token: str, rps: int) -> bool:
        """Sliding one-second window per token, the second scaled by time_scale."""
        now, window = time.monotonic(), 1.0 / self.time_scale
        hits = self._hits.setdefault(token, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= rps:
            return False
        hits.append(now)
        return True

    def _injected(self, method: str) -> None:
        queue = self._inject.get(method)
        if not queue:
            return
        code = queue[0][0]
        queue[0][1] -= 1
        if queue[0][1] <= 0:
            queue.popleft()
        if code == 14:  # captcha: https://dev.vk.com/ru/api/captcha-error
            sid = str(secrets.randbelow(10**12))
            raise VKError(14, captcha_sid=sid, captcha_img=f"{synth.BASE}/_sandbox/captcha.png?sid={sid}")
        raise VKError(code)

    def _call(self, name: str, params: dict[str, str], token: str | None) -> dict:
        """One API request: auth, version, rate limit, injected errors, then the method; {"response"} or {"error"}."""
        self.stats["methods"][name] += 1
        try:
            if not token:
                raise VKError(5, "no access_token passed.")
            self.stats["tokens"][token] += 1
            who = self._tokens.get(token)
            if who is None:
                raise VKError(5, "invalid access_token (4).")
            if not params.get("v"):
                raise VKError(8, "v (version) is required")
            if self.limits and not self._admit(token, RPS[who.kind]):
                raise VKError(6)
            if name == "execute":
                self._injected(name)
                return self._execute(who, params)
            if name not in self._methods:
                raise VKError(3)
            self._injected(name)
            return {"response": self._methods[name](who, params)}
        except VKError as e:
            self.stats["errors"][e.code] += 1
            return e.payload(name, params)

    def _execute(self, who: Principal, p: dict) -> dict:
        calls, errors = 0, []

        def api(method: str, params: dict) -> Any:
            nonlocal calls
            calls += 1
            if calls > MAX_EXECUTE_CALLS:
                raise VKError(13, "Too many API calls")
            self.stats["execute_calls"][method] += 1
            try:
                if method not in self._methods:
                    raise VKError(3)
                self._injected(method)
                form = {k: _form(v) for k, v in params.items() if v is not None}
                form.setdefault("v", p.get("v", API_VERSION))
                return json.loads(json.dumps(self._methods[method](who, form)))  # detached from the store
            except VKError as e:
                self.stats["errors"][e.code] += 1
                errors.append({"method": method, "error_code": e.code, "error_msg": e.msg})
                return False

        if not p.get("code"):
            raise bad_param("code")
        args = {k: v for k, v in p.items() if k not in ("code", "v", "func_v", "lang", "test_mode")}
        try:
            result = vkscript.run(p["code"], api, args)
        except vkscript.ScriptError as e:
            raise VKError(e.code, e.detail) from None
        return {"response": result, "execute_errors": errors} if errors else {"response": result}

    # ================================================================ HTTP

    async def _read_params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            params.update((k, v) for k, v in form.items() if isinstance(v, str))
        return params

    def _respond(self, request: web.Request, payload: Any) -> web.Response:
        self.origin = f"{request.scheme}://{request.host}"
        body = json.dumps(payload, ensure_ascii=False).replace(synth.BASE, self.origin)
        return web.Response(text=body, content_type="application/json")

    async def _api(self, request: web.Request) -> web.Response:
        params = await self._read_params(request)
        token = params.pop("access_token", None)
        auth = request.headers.get("Authorization", "")
        if not token and auth.startswith("Bearer "):
            token = auth[7:].strip()
        payload = self._call(request.match_info["name"], params, token)
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return self._respond(request, payload)

    async def _longpoll(self, request: web.Request) -> web.Response:
        """`{server}?act=a_check&key=&ts=&wait=` (https://dev.vk.com/ru/api/bots-long-poll/getting-started)."""
        q = await self._read_params(request)
        self.stats["longpoll_requests"] += 1
        com = self._communities.get(int(request.match_info["group_id"]))
        if com is None or q.get("act") != "a_check":
            return self._respond(request, {"failed": 2})
        lp = com.lp
        try:
            wait = min(max(int(q.get("wait") or 25), 0), LP_MAX_WAIT)
        except ValueError:
            wait = 25
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait / self.time_scale
        while True:
            if q.get("key") != lp.key:
                return self._respond(request, {"failed": lp.dead.get(q.get("key"), 2)})
            if lp.fail_once:
                lp.fail_once = False
                return self._respond(request, {"failed": 1, "ts": str(lp.ts)})
            try:
                ts = min(int(q.get("ts")), lp.ts)
            except (TypeError, ValueError):
                return self._respond(request, {"failed": 1, "ts": str(lp.ts)})
            oldest = lp.events[0][0] if lp.events else lp.ts + 1
            if ts < oldest - 1:  # events after ts are no longer kept
                return self._respond(request, {"failed": 1, "ts": str(lp.ts)})
            updates = [event for n, event in lp.events if n > ts]
            left = deadline - loop.time()
            if updates or left <= 0 or self._closing:
                return self._respond(request, {"ts": str(lp.ts), "updates": updates})
            try:
                await asyncio.wait_for(lp.wake.wait(), left)
            except TimeoutError:
                pass

    async def _shutdown(self, app: web.Application) -> None:
        self._closing = True
        for com in self._communities.values():
            com.lp.notify()

    async def _upload(self, request: web.Request) -> web.Response:
        """Upload servers: multipart `photo` → {server, photo, hash} for photos.saveMessagesPhoto
        (https://dev.vk.com/ru/method/photos.saveMessagesPhoto); `file` → {file} for docs.save
        (https://dev.vk.com/ru/api/upload/document-in-profile, https://dev.vk.com/ru/api/upload/audio-record)."""
        kind, owner = request.match_info["kind"], int(request.match_info["owner"])
        form = await request.post()
        field = next((form[k] for k in ("photo", "file", "file1") if isinstance(form.get(k), web.FileField)), None)
        if field is None:
            return self._respond(request, {"error": "ERR_UPLOAD_FILE_NOT_UPLOADED: file not uploaded"})
        data = field.file.read()
        if kind == "photo" and synth.image_size(data) is None:
            return self._respond(request, {"error": "ERR_UPLOAD_BAD_IMAGE_SIZE: photo is not an image"})
        key = secrets.token_hex(10)
        self._uploads[key] = (data, field.filename or "file", field.content_type, owner,
                              request.query.get("type", "doc"))
        if kind == "photo":
            photo = json.dumps([{"photo": key, "sizes": [], "kid": self._sign("kid", key)}])
            return self._respond(request, {"server": 851_000 + owner % 1000, "photo": photo,
                                           "hash": self._sign("photo", photo)})
        return self._respond(request, {"file": f"{owner}|{key}|{self._sign('file', owner, key)}"})

    async def _media_file(self, request: web.Request) -> web.StreamResponse:
        kind, name = request.match_info["kind"], request.match_info["name"]
        stem, _, ext = name.rpartition(".")
        try:
            owner, media_id = (int(x) for x in stem.split("_")) if "_" in stem else (int(stem), 0)
        except ValueError:
            raise web.HTTPNotFound() from None
        blob = self._blobs.get((kind, owner, media_id))
        if blob and not (kind == "audio_message" and ext == "mp3"):
            return web.Response(body=blob[0], content_type=blob[1])
        key = synth.h(kind, owner, media_id)
        if kind in ("photo", "sticker", "avatar"):
            w, hgt = (synth.SYNTH_PHOTO if kind == "photo" else (128, 128))
            return web.Response(body=synth.png(w, hgt, key), content_type="image/png")
        if kind == "doc":
            return web.Response(body=synth.pdf_bytes(owner, media_id), content_type="application/pdf")
        if kind == "audio_message":
            att = self._media.get(("doc", owner, media_id))
            duration = att["audio_message"]["duration"] if att else synth.voice_duration(media_id)
            if ext == "mp3":
                return web.Response(body=synth.mp3_silence(duration), content_type="audio/mpeg")
            return web.Response(body=synth.ogg_opus(duration, key & 0xFFFFFFFF), content_type="audio/ogg")
        if kind == "video":
            return web.Response(text=f"<html><body>video {owner}_{media_id}</body></html>", content_type="text/html")
        raise web.HTTPNotFound()

    async def _captcha(self, request: web.Request) -> web.Response:
        return web.Response(body=synth.png(130, 50, synth.h("captcha", request.query.get("sid"))),
                            content_type="image/png")

    _CONTROL = ("add_community", "add_user_token", "revoke_token", "seed", "user_writes", "community_replies_in_vk",
                "user_edits", "user_allows", "user_denies", "inject_error", "expire_longpoll", "activity")

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action in ("sent", "stats"):
            return self._respond(request, getattr(self, action))
        if action == "activity" and request.method == "GET":  # ?group_id=…&peer_id=…
            return self._respond(request, self.activity(
                **{k: int(request.query[k]) for k in ("group_id", "peer_id") if request.query.get(k)}))
        if action not in self._CONTROL or request.method != "POST":
            raise web.HTTPNotFound()
        body = await request.json() if request.can_read_body else {}
        try:
            result = getattr(self, action)(**body)
            if inspect.isawaitable(result):
                result = await result
        except (KeyError, TypeError, ValueError) as e:
            return self._respond(request, {"ok": False, "error": str(e)})
        return self._respond(request, {"ok": True, "result": result})
