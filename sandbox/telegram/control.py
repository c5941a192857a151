"""Control API under /_sandbox/ (JSON in and out): the TelegramSandbox helpers over HTTP, apart from Telegram's paths.

GET    /_sandbox/                                        bot, limits, stats, users, chats, webhook
GET    /_sandbox/version                                 change counter (the viewer polls it)
POST   /_sandbox/limits                                  {"limits": "off"|"realistic"|"strict"}
GET    /_sandbox/stats
GET    /_sandbox/users                   POST {first_name, last_name?, username?, language_code?}
POST   /_sandbox/users/{user_id}/block   POST /_sandbox/users/{user_id}/unblock
GET    /_sandbox/users/{user_id}/init_data?auth_date=N   {"init_data": "..."}
GET    /_sandbox/chats                   POST {title, bot_rights?, is_forum?, members?, owner_id?}
POST   /_sandbox/channels                                {title, bot_rights?, owner_id?, subscribers?}
POST   /_sandbox/users/{user_id}/join                    {invite_link}: the person opens an invite link and joins
                                                         ({"outcome": "joined"}) or asks to ("join_request_sent");
                                                         404 unknown link, 410 revoked / expired / used up, 409 a
                                                         member already or a request pending, 403 banned
GET    /_sandbox/chats/{chat_id}                         read-back: members, topics, messages, edits, flags
POST   /_sandbox/chats/{chat_id}/messages                {user_id, text?, thread_id?, reply_to_message_id?, caption?};
                                                         multipart/form-data may add files photo, document, voice
POST   /_sandbox/chats/{chat_id}/messages/{message_id}/edit   {user_id, text}
POST   /_sandbox/chats/{chat_id}/press                   {user_id, message_id, callback_data}
POST   /_sandbox/chats/{chat_id}/members                 {user_id, status?, rights?}
POST   /_sandbox/chats/{chat_id}/bot                     {rights?, by_user_id?}   (DELETE removes the bot)
POST   /_sandbox/chats/{chat_id}/topics                  {name, icon_color?, by_user_id?}
POST   /_sandbox/chats/{chat_id}/topics/{thread_id}/close   .../reopen   DELETE .../topics/{thread_id}
GET    /_sandbox/sent?chat_id=N                          messages the bot sent
GET    /_sandbox/updates                                 updates waiting for the bot (not consumed)
GET    /_sandbox/callback_answers                        answerCallbackQuery calls
POST   /_sandbox/faults                                  {status: 429|500|502|504, count, retry_after?, methods?}: the
                                                         next matching Bot API calls fail so (GET: pending and
                                                         injected counts; DELETE: drop the pending ones)
Errors answer {"ok": false, "error": "..."} with status 400 (bad input) or 404 (unknown chat or user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..webparts import NotFound, json_response, json_routes
from .state import LinkRefused

if TYPE_CHECKING:
    from .sandbox import TelegramSandbox



def chat_summaries(sb: TelegramSandbox) -> list[dict]:
    result = []
    for chat in sb.chats.values():
        if chat.type == "private":
            assert chat.user is not None
            title = " ".join(filter(None, (chat.user["first_name"], chat.user.get("last_name"))))
        else:
            title = chat.title or ""
        result.append({
            "id": chat.id, "type": chat.type, "title": title, "is_forum": chat.is_forum, "blocked": chat.blocked,
            "topics": sum(1 for t in chat.topics.values() if not t.deleted),
            "messages": sum(1 for r in chat.messages.values() if not r.deleted),
        })  # fmt: skip
    return result


def setup(app: web.Application, sb: TelegramSandbox) -> None:
    route = json_routes(app, "/_sandbox")

    def chat_id(request: web.Request) -> int:
        value = int(request.match_info["chat_id"])
        if value not in sb.chats and (value not in sb.users or value == sb.bot_user_id):
            raise NotFound(f"chat {value} not found")  # a private chat is addressed by its user's id
        return value

    def user_id(request: web.Request) -> int:
        value = int(request.match_info["user_id"])
        if value not in sb.users:
            raise NotFound(f"user {value} not found")
        return value

    @route("GET", "/", name="sandbox-root")
    async def index(request: web.Request) -> dict:
        return {
            "bot": sb.bot_user, "token": sb.bot_token, "limits": sb.limits, "time_scale": sb.time_scale,
            "stats": sb.stats, "users": list(sb.users.values()), "chats": chat_summaries(sb),
            "webhook": sb.webhook_info(),
        }  # fmt: skip

    @route("GET", "/version", name="sandbox-version")
    async def version(request: web.Request) -> dict:
        return {"version": sb.version}

    @route("POST", "/limits")
    async def limits(request: web.Request) -> dict:
        body = await _body(request)
        sb.set_limits(str(body.get("limits")))
        return {"ok": True, "limits": sb.limits}

    @route("GET", "/stats")
    async def stats(request: web.Request) -> dict:
        return sb.stats

    @route("GET", "/users")
    async def users(request: web.Request) -> list:
        return [u for u in sb.users.values() if not u["is_bot"]]

    @route("POST", "/users")
    async def create_user(request: web.Request) -> dict:
        body = await _body(request)
        keys = ("first_name", "last_name", "username", "language_code")
        return sb.create_user(**{k: body[k] for k in keys if body.get(k) is not None})

    @route("POST", "/users/{user_id}/block")
    async def block(request: web.Request) -> dict:
        sb.block_bot(user_id(request))
        return {"ok": True}

    @route("POST", "/users/{user_id}/unblock")
    async def unblock(request: web.Request) -> dict:
        sb.unblock_bot(user_id(request))
        return {"ok": True}

    @route("GET", "/users/{user_id}/init_data")
    async def init_data(request: web.Request) -> dict:
        auth_date = request.query.get("auth_date")
        return {"init_data": sb.init_data(user_id(request), auth_date=int(auth_date) if auth_date else None)}

    @route("GET", "/chats")
    async def chats(request: web.Request) -> list:
        return chat_summaries(sb)

    @route("POST", "/chats")
    async def create_chat(request: web.Request) -> dict:
        body = await _body(request)
        return sb.create_forum_group(
            str(body["title"]),
            bot_rights=body.get("bot_rights"),
            is_forum=bool(body.get("is_forum", True)),
            members=[int(m) for m in body.get("members") or []],
            owner_id=int(body["owner_id"]) if body.get("owner_id") is not None else None,
        )

    @route("POST", "/channels")
    async def create_channel(request: web.Request) -> dict:
        body = await _body(request)
        return sb.create_channel(
            str(body["title"]),
            bot_rights=body.get("bot_rights"),
            owner_id=_int(body.get("owner_id")),
            subscribers=[int(m) for m in body.get("subscribers") or []],
        )

    @route("POST", "/users/{user_id}/join")
    async def join(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            return json_response(sb.join_by_link(user_id(request), str(body["invite_link"])))
        except LinkRefused as refused:
            return json_response({"ok": False, "error": str(refused)}, refused.status)

    @route("GET", "/chats/{chat_id}")
    async def read_chat(request: web.Request) -> dict:
        return sb.chat(chat_id(request))

    @route("POST", "/chats/{chat_id}/messages")
    async def send(request: web.Request) -> dict:
        body, files = await _body_and_files(request)
        return await sb.user_sends(
            int(body["user_id"]),
            chat_id(request),
            body.get("text") or None,
            thread_id=_int(body.get("thread_id")),
            reply_to_message_id=_int(body.get("reply_to_message_id")),
            photo=files.get("photo", (None, None))[1],
            document=files.get("document"),
            voice=files.get("voice", (None, None))[1],
            caption=body.get("caption") or None,
        )

    @route("POST", "/chats/{chat_id}/messages/{message_id}/edit")
    async def edit(request: web.Request) -> dict:
        body = await _body(request)
        message_id = int(request.match_info["message_id"])
        return await sb.user_edits(int(body["user_id"]), chat_id(request), message_id, str(body["text"]))

    @route("POST", "/chats/{chat_id}/press")
    async def press(request: web.Request) -> dict:
        body = await _body(request)
        return await sb.press_button(
            int(body["user_id"]), chat_id(request), int(body["message_id"]), str(body["callback_data"])
        )

    @route("POST", "/chats/{chat_id}/members")
    async def member(request: web.Request) -> dict:
        body = await _body(request)
        status = str(body.get("status") or "member")
        return sb.set_member(chat_id(request), int(body["user_id"]), status, body.get("rights"))

    @route("POST", "/chats/{chat_id}/bot")
    async def add_bot(request: web.Request) -> dict:
        body = await _body(request)
        return await sb.add_bot_to_group(chat_id(request), rights=body.get("rights"), by_user_id=_int(body.get("by_user_id")))

    @route("DELETE", "/chats/{chat_id}/bot")
    async def remove_bot(request: web.Request) -> dict:
        return await sb.remove_bot_from_group(chat_id(request))

    @route("POST", "/chats/{chat_id}/topics")
    async def create_topic(request: web.Request) -> dict:
        body = await _body(request)
        extra = {"icon_color": int(body["icon_color"])} if body.get("icon_color") else {}
        return sb.create_topic(chat_id(request), str(body["name"]), by_user_id=_int(body.get("by_user_id")), **extra)

    @route("POST", "/chats/{chat_id}/topics/{thread_id}/close")
    async def close_topic(request: web.Request) -> dict:
        sb.close_topic(chat_id(request), int(request.match_info["thread_id"]))
        return {"ok": True}

    @route("POST", "/chats/{chat_id}/topics/{thread_id}/reopen")
    async def reopen_topic(request: web.Request) -> dict:
        sb.reopen_topic(chat_id(request), int(request.match_info["thread_id"]))
        return {"ok": True}

    @route("DELETE", "/chats/{chat_id}/topics/{thread_id}")
    async def delete_topic(request: web.Request) -> dict:
        sb.delete_topic(chat_id(request), int(request.match_info["thread_id"]))
        return {"ok": True}

    @route("GET", "/sent")
    async def sent(request: web.Request) -> list:
        return sb.sent_messages(_int(request.query.get("chat_id")))

    @route("GET", "/updates")
    async def updates(request: web.Request) -> list:
        return sb.pending_updates()

    @route("GET", "/callback_answers")
    async def callback_answers(request: web.Request) -> list:
        return sb.callback_answers

    @route("POST", "/faults")
    async def add_fault(request: web.Request) -> dict:
        body = await _body(request)
        return sb.faults.add(body["status"], body.get("count", 1), body.get("retry_after"), body.get("methods"))

    @route("GET", "/faults")
    async def faults(request: web.Request) -> dict:
        return sb.faults.json()

    @route("DELETE", "/faults")
    async def clear_faults(request: web.Request) -> dict:
        sb.faults.clear()
        return {"ok": True}


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


async def _body(request: web.Request) -> dict:
    body, _ = await _body_and_files(request)
    return body


async def _body_and_files(request: web.Request) -> tuple[dict, dict[str, tuple[str, bytes]]]:
    """JSON, urlencoded or multipart; file parts come back as {field: (filename, bytes)}."""
    if not request.can_read_body:
        return dict(request.query), {}
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return body, {}
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            data = value.file.read()
            if data:
                files[key] = (value.filename or key, data)
        else:
            fields[key] = value
    return fields, files
