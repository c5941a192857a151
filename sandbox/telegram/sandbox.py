"""TelegramSandbox: a local Telegram Bot API server with a scriptable world of users, groups and forum topics."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web

from . import business, control, viewer
from .botapi import BotApi, Params, TgError, read_params, webhook_reply_params
from .faults import Faults
from .ratelimit import RateLimiter
from .state import (
    ADMIN_RIGHTS,
    NOT_DEFAULT_UPDATES,
    SERVICE_KEYS,
    TOPIC_COLORS,
    TOPIC_ICONS,
    Chat,
    InviteLink,
    LinkRefused,
    Member,
    Record,
    StoredFile,
    Topic,
    new_file,
    strip_reply,
)

log = logging.getLogger(__name__)

# Bots can upload files up to 50 MB and download up to 20 MB (https://core.telegram.org/bots/api#sending-files,
# https://core.telegram.org/bots/api#getfile).
MAX_UPLOAD = 50 * 1024 * 1024
# getUpdates answers while a webhook is set, and to a long poll superseded by a newer one.
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


class TelegramSandbox:
    """Bot API stand-in. Mount `app` (or serve it) and point aiogram at it with
    `AiohttpSession(api=TelegramAPIServer.from_base(base_url))`.

    Deliberate simplifications: one bot per sandbox; the bot may message any created user (Telegram would first
    require the user to start the bot); photos are stored as uploaded (no thumbnails); the Mini App initData carries
    no Ed25519 `signature`; http:// webhook and Web App URLs are accepted for localhost only.
    """

    def __init__(self, *, limits: str = "off", time_scale: float = 1.0, bot_token: str | None = None) -> None:
        self.bot_token = bot_token or f"{secrets.randbelow(9 * 10**9) + 10**9}:AA{secrets.token_urlsafe(32)[:33]}"
        user_part = self.bot_token.split(":", 1)[0]
        if not user_part.isdigit():
            raise ValueError("bot_token must look like '123456:ABC...'")
        self.bot_user_id = int(user_part)
        self.bot_user = {
            "id": self.bot_user_id,
            "is_bot": True,
            "first_name": "Sales Operator",
            "username": f"salesop_{self.bot_user_id % 100000}_bot",
        }
        self.time_scale = time_scale
        self.limiter = RateLimiter(limits, time_scale)
        self.faults = Faults()  # injected 429/5xx storms (faults.py, POST /_sandbox/faults)
        self.users: dict[int, dict] = {self.bot_user_id: self.bot_user}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.stats: dict[str, Any] = {"requests": {}, "too_many_requests": 0, "messages_per_chat": {}}
        self.callback_answers: list[dict] = []
        self.commands: dict[str, list[dict]] = {}
        self.menu_buttons: dict[int | None, dict] = {}
        self.webhook: dict | None = None
        self.version = 0  # bumped on every change; the viewer polls it to refresh

        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(2_000_000_001)
        self._file_counter = itertools.count(1)
        self._sent: list[tuple[int, int]] = []
        self.callback_queries: dict[str, dict] = {}
        self._updates: list[dict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._updates_event = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._admin_user_id: int | None = None
        self._http: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task | None = None

        self.business = business.Business(self)  # business accounts connected to the bot, their chats
        self.api = BotApi(self)
        self.app = self._build_app()

    # ------------------------------------------------------------------------------------------------ limits

    @property
    def limits(self) -> str:
        return self.limiter.mode

    def set_limits(self, limits: str) -> None:
        """Switch "off" | "realistic" | "strict" at runtime (buckets start full again)."""
        self.limiter.set_mode(limits)
        self._changed()

    # ------------------------------------------------------------------------------------------ world set-up

    def create_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "ru",
    ) -> dict:
        if username and any(u.get("username", "").lower() == username.lower() for u in self.users.values()):
            raise ValueError(f"username @{username} is taken")
        user = {"id": next(self._user_ids), "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user["id"]] = user
        self._changed()
        return dict(user)

    def create_forum_group(
        self,
        title: str,
        *,
        bot_rights: dict | None = None,
        is_forum: bool = True,
        members: list[int] | tuple[int, ...] = (),
        owner_id: int | None = None,
    ) -> dict:
        """A supergroup (with topics when is_forum). The bot joins as administrator with `bot_rights`, or as a plain
        member when bot_rights is None. `owner_id` (optional) becomes the creator; `members` join as members."""
        chat = Chat(id=-int(f"100{next(self._group_ids)}"), type="supergroup", title=title, is_forum=is_forum)
        # Message 1 of a supergroup is its creation; in a forum, id 1 is also the General topic.
        chat.next_message_id = 2
        chat.members[self.bot_user_id] = self._bot_membership(bot_rights)
        if owner_id is not None:
            self._user(owner_id)
            chat.members[owner_id] = Member("creator")
        for user_id in members:
            self._user(user_id)
            chat.members.setdefault(user_id, Member("member"))
        self.chats[chat.id] = chat
        self._changed()
        return chat.short()

    def create_channel(
        self,
        title: str,
        *,
        bot_rights: dict | None = None,
        owner_id: int | None = None,
        subscribers: list[int] | tuple[int, ...] = (),
    ) -> dict:
        """A channel. A bot is only ever an administrator of a channel: with `bot_rights` it is one (add
        "can_invite_users" for invite links; chat_member updates need it to be an administrator), without it the
        bot is not in the channel. `owner_id` (optional) becomes the creator; `subscribers` are members."""
        chat = Chat(id=-int(f"100{next(self._group_ids)}"), type="channel", title=title)
        if bot_rights is not None:
            chat.members[self.bot_user_id] = Member("administrator", self._check_rights(bot_rights))
        if owner_id is not None:
            self._user(owner_id)
            chat.members[owner_id] = Member("creator")
        for user_id in subscribers:
            self._user(user_id)
            chat.members.setdefault(user_id, Member("member"))
        self.chats[chat.id] = chat
        self._changed()
        return chat.short()

    def find_invite_link(self, url: str) -> tuple[Chat, InviteLink]:
        """The chat and link a whole invite link (as its creator received it) leads to."""
        for chat in self.chats.values():
            for link in chat.invite_links:
                if link.url == url:
                    return chat, link
        raise LookupError(f"invite link {url} not found")

    def link_json(self, chat: Chat, link: InviteLink, viewer_id: int | None = None) -> dict:
        pending = sum(1 for r in chat.join_requests.values() if r["link"] is link)
        return link.json(self.users[link.creator_id], self.bot_user_id if viewer_id is None else viewer_id, pending)

    def join_by_link(self, user_id: int, url: str) -> dict:
        """A person opens an invite link and joins (or, for a link that creates join requests, asks to join): what a
        Telegram app does with messages.importChatInvite. Refusals raise LinkRefused with the HTTP status the
        control API answers: 404 unknown link, 410 revoked / expired / used up, 409 a member already or a request
        pending, 403 banned."""
        user = self._user(user_id)
        try:
            chat, link = self.find_invite_link(url)
        except LookupError as error:
            raise LinkRefused(404, str(error)) from None
        # A member opening a link just sees the chat; then the link itself; then whether this person may come in.
        status = self.member(chat, user_id).status
        if status in ("creator", "administrator", "member"):
            raise LinkRefused(409, "USER_ALREADY_PARTICIPANT")
        if link.is_revoked or (link.expire_date and link.expire_date <= time.time()):
            raise LinkRefused(410, "INVITE_HASH_EXPIRED")
        if link.member_limit and len(link.joined) >= link.member_limit:
            raise LinkRefused(410, "USERS_TOO_MUCH")
        if status == "kicked":
            raise LinkRefused(403, "USER_BANNED_IN_CHANNEL")
        if user_id in chat.join_requests:
            raise LinkRefused(409, "INVITE_REQUEST_SENT")
        if link.creates_join_request:
            date = int(time.time())
            chat.join_requests[user_id] = {"date": date, "link": link}
            bot = self.member(chat, self.bot_user_id)
            if bot.can("can_invite_users"):  # "The bot must have the can_invite_users administrator right"
                self.enqueue("chat_join_request", {
                    "chat": chat.short(), "from": dict(user), "user_chat_id": user_id, "date": date,
                    "invite_link": self.link_json(chat, link)})
            self._changed()
            return {"chat_id": chat.id, "outcome": "join_request_sent"}
        self.admit(chat, user, link, actor=user)
        return {"chat_id": chat.id, "outcome": "joined"}

    def admit(self, chat: Chat, user: dict, link: InviteLink, *, actor: dict) -> None:
        """The person becomes a member through `link` (joined, or their request approved by `actor`): a
        chat_member update carrying the link (administrator bots only), and in a group the join's service message."""
        old = self.member_json(chat, user["id"])
        chat.members[user["id"]] = Member("member")
        chat.join_requests.pop(user["id"], None)
        link.joined.append(user["id"])
        if self.member(chat, self.bot_user_id).is_admin:  # chat_member: "The bot must be an administrator"
            update = self.member_update(chat, actor, old, self.member_json(chat, user["id"]))
            update["invite_link"] = self.link_json(chat, link)
            self.enqueue("chat_member", update)
        if chat.is_group:
            self.new_message(chat, user, {"new_chat_members": [dict(user)]})
        self._changed()

    def set_member(self, chat_id: int, user_id: int, status: str = "member", rights: dict | None = None) -> dict:
        """Put a user into a group or channel as creator / administrator (with rights) / member, or mark them left /
        kicked."""
        chat = self._group(chat_id, channels=True)
        self._user(user_id)
        if status not in ("creator", "administrator", "member", "left", "kicked"):
            raise ValueError(f"unknown status {status!r}")
        old = self.member_json(chat, user_id)
        chat.members[user_id] = Member(status, self._check_rights(rights or {}))
        self.left_links(chat, user_id)
        new = self.member_json(chat, user_id)
        self.enqueue("chat_member", self.member_update(chat, self.users[user_id], old, new))
        return new

    async def add_bot_to_group(self, chat_id: int, *, rights: dict | None = None, by_user_id: int | None = None) -> dict:
        """Add (or re-add / promote) the bot; queues a my_chat_member update and returns it."""
        chat = self._group(chat_id)
        old = self.member_json(chat, self.bot_user_id)
        chat.members[self.bot_user_id] = self._bot_membership(rights)
        update = self.member_update(chat, self._actor(chat, by_user_id), old, self.member_json(chat, self.bot_user_id))
        self.enqueue("my_chat_member", update)
        return update

    async def remove_bot_from_group(self, chat_id: int, *, by_user_id: int | None = None) -> dict:
        """Kick the bot; later sends there answer 403 "Forbidden: bot was kicked from the supergroup chat"."""
        chat = self._group(chat_id)
        old = self.member_json(chat, self.bot_user_id)
        chat.members[self.bot_user_id] = Member("kicked")
        update = self.member_update(chat, self._actor(chat, by_user_id), old, self.member_json(chat, self.bot_user_id))
        self.enqueue("my_chat_member", update)
        return update

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: sends to their private chat answer 403 "Forbidden: bot was blocked by the user"."""
        self._set_blocked(user_id, True)

    def unblock_bot(self, user_id: int) -> None:
        self._set_blocked(user_id, False)

    def create_topic(
        self,
        chat_id: int,
        name: str,
        *,
        icon_color: int = TOPIC_COLORS[0],
        icon_custom_emoji_id: str | None = None,
        by_user_id: int | None = None,
    ) -> dict:
        """A person creates a topic (the bot sees the forum_topic_created service message)."""
        chat = self._group(chat_id)
        if not chat.is_forum:
            raise ValueError("the chat is not a forum")
        if icon_color not in TOPIC_COLORS:
            raise ValueError(f"icon_color must be one of {TOPIC_COLORS}")
        actor = self._actor(chat, by_user_id)
        topic = self.add_topic(chat, name, icon_color, icon_custom_emoji_id, actor)
        return topic.json()

    def close_topic(self, chat_id: int, thread_id: int, *, by_user_id: int | None = None) -> None:
        self._toggle_topic(chat_id, thread_id, True, by_user_id)

    def reopen_topic(self, chat_id: int, thread_id: int, *, by_user_id: int | None = None) -> None:
        self._toggle_topic(chat_id, thread_id, False, by_user_id)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A person deletes a topic with its messages; the bot then gets "message thread not found" there."""
        chat = self._group(chat_id)
        topic = self._topic(chat, thread_id)
        self.remove_topic(chat, topic)

    # --------------------------------------------------------------------------------------- people acting

    async def user_sends(
        self,
        user_id: int,
        chat_id: int,
        text: str | None = None,
        *,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
        voice: bytes | None = None,
        caption: str | None = None,
    ) -> dict:
        """A person writes: to the bot when chat_id == user_id, else into a group (topic `thread_id`, None = General).
        Queues a `message` update when the bot can see it and returns the message."""
        user = self._user(user_id)
        if chat_id == user_id:
            chat = self.private_chat(user_id)
            if chat.blocked:  # writing to a bot you blocked means unblocking it first
                self._set_blocked(user_id, False)
        else:
            chat = self._group(chat_id)
            member = chat.members.get(user_id)
            if member is None or not member.is_in_chat:
                raise ValueError(f"user {user_id} is not a member of chat {chat_id}")
        reply = None
        if reply_to_message_id is not None:
            reply = chat.visible(reply_to_message_id)
            if reply is None:
                raise ValueError(f"message {reply_to_message_id} not found in chat {chat_id}")
        thread = thread_id if thread_id is not None else (reply.thread_id if reply else None)
        if chat.is_forum and thread is not None:
            topic = self._topic(chat, thread)
            if topic.closed and not chat.members[user_id].is_admin:
                raise ValueError("TOPIC_CLOSED: only administrators can write to a closed topic")
        body: dict[str, Any] = {}
        media = [
            ("photo", photo, None),
            ("document", document[1] if document else None, document[0] if document else None),
            ("voice", voice, None),
        ]
        for kind, data, file_name in media:
            if data is not None:
                body[kind] = self.store_file(kind, data, file_name, None).media()
        if body:
            if caption or text:
                body["caption"] = caption or text
        elif text:
            body["text"] = text
            if entities := _detect_entities(text):
                body["entities"] = entities
        else:
            raise ValueError("a message needs text or media")
        if "caption" in body and (entities := _detect_entities(body["caption"])):
            body["caption_entities"] = entities
        return self.new_message(chat, user, body, thread_id=thread, reply_to=reply).msg

    async def user_edits(self, user_id: int, chat_id: int, message_id: int, text: str) -> dict:
        """A person edits their text message; queues an `edited_message` update."""
        chat = self.private_chat(user_id) if chat_id == user_id else self._group(chat_id)
        record = chat.visible(message_id)
        if record is None or record.sender_id != user_id or "text" not in record.msg:
            raise ValueError(f"user {user_id} has no text message {message_id} in chat {chat_id}")
        self.edit_message(record, {"text": text, "entities": _detect_entities(text) or None})
        if self._bot_sees(chat, record.msg):
            self.enqueue("edited_message", copy.deepcopy(record.msg))
        return record.msg

    async def press_button(self, user_id: int, chat_id: int, message_id: int, callback_data: str) -> dict:
        """A person presses an inline button carrying `callback_data`; queues a `callback_query` update."""
        user = self._user(user_id)
        chat = self.private_chat(user_id) if chat_id == user_id else self._group(chat_id)
        if not self.member(chat, user_id).is_in_chat:
            raise ValueError(f"user {user_id} is not a member of chat {chat_id}")
        record = chat.visible(message_id)
        if record is None:
            raise ValueError(f"message {message_id} not found in chat {chat_id}")
        rows = (record.msg.get("reply_markup") or {}).get("inline_keyboard", [])
        if not any(button.get("callback_data") == callback_data for row in rows for button in row):
            raise ValueError(f"message {message_id} has no button with callback_data {callback_data!r}")
        query_id = str(secrets.randbits(63))
        query = {
            "id": query_id,
            "from": dict(user),
            "message": copy.deepcopy(record.msg),
            "chat_instance": str(int(hashlib.sha256(str(chat.id).encode()).hexdigest()[:15], 16)),
            "data": callback_data,
        }
        self.callback_queries[query_id] = {
            "created": time.monotonic(),
            "answered": False,
            "chat_id": chat.id,
            "message_id": message_id,
            "user_id": user_id,
        }
        self.enqueue("callback_query", query)
        return query

    def init_data(self, user_id: int, *, auth_date: int | None = None) -> str:
        """Mini App initData signed like Telegram does
        (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):
        secret = HMAC_SHA256(key="WebAppData", msg=bot_token); hash = hex HMAC_SHA256(secret, data-check-string)
        where the data-check-string is the sorted "key=value" lines of all other fields joined by newlines."""
        user = self._user(user_id)
        web_app_user = {k: user[k] for k in ("id", "first_name", "last_name", "username", "language_code") if k in user}
        web_app_user["allows_write_to_pm"] = True
        fields = {
            "query_id": "AAH" + secrets.token_urlsafe(18),
            "user": json.dumps(web_app_user, ensure_ascii=False, separators=(",", ":")),
            "auth_date": str(auth_date if auth_date is not None else int(time.time())),
        }
        check_string = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
        secret = hmac.new(b"WebAppData", self.bot_token.encode(), hashlib.sha256).digest()
        fields["hash"] = hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()
        return urlencode(fields, quote_via=quote)

    # -------------------------------------------------------------------------------------------- read-back

    def chat(self, chat_id: int) -> dict:
        """Everything about a chat: members, topics (with their messages) and all messages, edits and flags."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ValueError(f"chat {chat_id} not found")
        messages = [self._message_view(record) for record in chat.messages.values()]
        topics = []
        if chat.is_forum:
            general = {"id": 1, "name": "General", "icon_color": None, "icon_custom_emoji_id": None}
            topics.append({**general, "closed": False, "deleted": False})
            for topic in chat.topics.values():
                keys = ("id", "name", "icon_color", "icon_custom_emoji_id", "closed", "deleted")
                topics.append({k: getattr(topic, k) for k in keys})
            for entry in topics:
                thread = None if entry["id"] == 1 else entry["id"]
                entry["messages"] = [m for m in messages if m["thread_id"] == thread]
        return {
            "chat": chat.short(),
            "blocked": chat.blocked,
            "members": [self.member_json(chat, user_id) for user_id in chat.members],
            "topics": topics,
            "messages": messages,
            "pinned": [r.msg["message_id"] for r in chat.messages.values() if r.pinned and not r.deleted],
            "last_action": chat.last_action,
            # As the chat's owner sees them: whole links, with who joined through each and the requests waiting.
            "invite_links": [{**self.link_json(chat, link, viewer_id=link.creator_id), "joined": list(link.joined)}
                             for link in chat.invite_links],
            "join_requests": [{"user_id": uid, "date": r["date"], "invite_link": r["link"].url}
                              for uid, r in chat.join_requests.items()],
        }

    def sent_messages(self, chat_id: int | None = None) -> list[dict]:
        """Every message the bot sent (current version, deleted ones included), oldest first."""
        return [
            copy.deepcopy(self.chats[cid].messages[mid].msg)
            for cid, mid in self._sent
            if chat_id is None or cid == chat_id
        ]

    def pending_updates(self) -> list[dict]:
        """Updates queued for the bot and not yet confirmed or delivered (a copy; nothing is consumed)."""
        return copy.deepcopy(self._updates)

    # ------------------------------------------------------------------------------------ internals: lookup

    def _user(self, user_id: int) -> dict:
        user = self.users.get(user_id)
        if user is None or user_id == self.bot_user_id:
            raise ValueError(f"user {user_id} not found")
        return user

    def _group(self, chat_id: int, *, channels: bool = False) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None or not (chat.is_group or (channels and chat.is_channel)):
            raise ValueError(f"group {chat_id} not found")
        return chat

    def _topic(self, chat: Chat, thread_id: int) -> Topic:
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise ValueError(f"topic {thread_id} not found in chat {chat.id}")
        return topic

    def private_chat(self, user_id: int) -> Chat:
        chat = self.chats.get(user_id)
        if chat is None:
            user = self._user(user_id)
            chat = self.chats[user_id] = Chat(id=user_id, type="private", user=user)
            chat.members = {user_id: Member("member"), self.bot_user_id: Member("member")}
        return chat

    def lookup_chat(self, chat_id: int | str) -> Chat | None:
        """A chat as the bot addresses it; private chats with known users are created on first use."""
        if isinstance(chat_id, str):
            return None  # @username addressing is for public channels and supergroups; none here have usernames
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id in self.users and chat_id != self.bot_user_id:
            return self.private_chat(chat_id)
        return None

    def member(self, chat: Chat, user_id: int) -> Member:
        return chat.members.get(user_id) or Member("left")

    def _check_rights(self, rights: dict) -> dict:
        unknown = set(rights) - set(ADMIN_RIGHTS) - {"is_anonymous", "can_post_messages", "can_edit_messages"}
        if unknown:
            raise ValueError(f"unknown administrator rights: {sorted(unknown)}")
        return {k: bool(v) for k, v in rights.items()}

    def _bot_membership(self, rights: dict | None) -> Member:
        return Member("member") if rights is None else Member("administrator", self._check_rights(rights))

    def _actor(self, chat: Chat, user_id: int | None) -> dict:
        """Who performs an admin action done through the Python/HTTP helpers: the given user, else the creator,
        else a "Sandbox Admin" user made creator of the chat on first need."""
        if user_id is not None:
            return self._user(user_id)
        for member_id, member in chat.members.items():
            if member.status == "creator":
                return self.users[member_id]
        if self._admin_user_id is None:
            self._admin_user_id = self.create_user("Sandbox Admin", username=f"sandbox_admin_{self.bot_user_id}")["id"]
        chat.members[self._admin_user_id] = Member("creator")
        return self.users[self._admin_user_id]

    def member_json(self, chat: Chat, user_id: int) -> dict:
        """ChatMember (https://core.telegram.org/bots/api#chatmember)."""
        member = self.member(chat, user_id)
        result: dict[str, Any] = {"status": member.status, "user": dict(self.users[user_id])}
        if member.status == "creator":
            result["is_anonymous"] = False
        elif member.status == "administrator":
            rights = {right: bool(member.rights.get(right)) for right in ADMIN_RIGHTS}
            rights["can_manage_chat"] = True  # implied by any other administrator privilege
            result.update({"can_be_edited": False, "is_anonymous": False, **rights})
        elif member.status == "kicked":
            result["until_date"] = member.until_date
        return result

    def left_links(self, chat: Chat, user_id: int) -> None:
        """A member who leaves or is removed frees their place on the link they joined through (member_limit)."""
        if not self.member(chat, user_id).is_in_chat:
            for link in chat.invite_links:
                if user_id in link.joined:
                    link.joined.remove(user_id)

    def member_update(self, chat: Chat, actor: dict, old: dict, new: dict) -> dict:
        """ChatMemberUpdated (https://core.telegram.org/bots/api#chatmemberupdated)."""
        date = int(time.time())
        return {"chat": chat.short(), "from": dict(actor), "date": date, "old_chat_member": old, "new_chat_member": new}

    def _set_blocked(self, user_id: int, blocked: bool) -> None:
        chat = self.private_chat(user_id)
        if chat.blocked == blocked:
            return
        old = self.member_json(chat, self.bot_user_id)
        chat.blocked = blocked
        chat.members[self.bot_user_id] = Member("kicked" if blocked else "member")
        update = self.member_update(chat, self.users[user_id], old, self.member_json(chat, self.bot_user_id))
        self.enqueue("my_chat_member", update)

    # -------------------------------------------------------------------------------- internals: messages

    def new_message(
        self,
        chat: Chat,
        sender: dict,
        body: dict,
        *,
        thread_id: int | None = None,
        reply_to: Record | None = None,
    ) -> Record:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg: dict[str, Any] = {"message_id": message_id, "from": dict(sender), "chat": chat.short()}
        msg["date"] = int(time.time())
        if thread_id is not None:
            msg["message_thread_id"] = thread_id
            if chat.is_forum:
                msg["is_topic_message"] = True
        if reply_to is None and chat.is_forum and thread_id is not None and thread_id != message_id:
            # In a forum every topic message not replying to anything replies to the topic's creation message.
            reply_to = chat.messages.get(thread_id)
        if reply_to is not None:
            msg["reply_to_message"] = strip_reply(reply_to.msg)
        msg.update(body)
        record = Record(msg, thread_id)
        chat.messages[message_id] = record
        if sender["id"] == self.bot_user_id:
            if record.service is None:
                self._sent.append((chat.id, message_id))
                per_chat = self.stats["messages_per_chat"]
                per_chat[chat.id] = per_chat.get(chat.id, 0) + 1
        elif self._bot_sees(chat, msg):
            self.enqueue("message", copy.deepcopy(msg))
        self._changed()
        return record

    def edit_message(self, record: Record, changes: dict) -> None:
        """Apply an edit, keeping the previous version in the record's history."""
        keys = ("text", "entities", "caption", "caption_entities", "reply_markup", *_MEDIA_KEYS)
        record.edits.append({"date": record.msg.get("edit_date", record.msg["date"]), **_pick(record.msg, keys)})
        for key, value in changes.items():
            if value is None:
                record.msg.pop(key, None)
            else:
                record.msg[key] = value
        record.msg["edit_date"] = int(time.time())
        self._changed()

    def delete_message(self, record: Record) -> None:
        record.deleted = True
        record.pinned = False
        self._changed()

    def add_topic(self, chat: Chat, name: str, icon_color: int, icon_custom_emoji_id: str | None, actor: dict) -> Topic:
        """The topic's id is the id of its forum_topic_created service message."""
        topic = Topic(chat.next_message_id, name, icon_color, icon_custom_emoji_id or None, creator_id=actor["id"])
        chat.topics[topic.id] = topic
        created = {"name": name, "icon_color": icon_color}
        if icon_custom_emoji_id:
            created["icon_custom_emoji_id"] = icon_custom_emoji_id
        self.new_message(chat, actor, {"forum_topic_created": created}, thread_id=topic.id)
        return topic

    def remove_topic(self, chat: Chat, topic: Topic) -> None:
        topic.deleted = True
        for record in chat.messages.values():
            if record.thread_id == topic.id:
                record.deleted = True
                record.pinned = False
        self._changed()

    def _toggle_topic(self, chat_id: int, thread_id: int, closed: bool, by_user_id: int | None) -> None:
        chat = self._group(chat_id)
        topic = self._topic(chat, thread_id)
        if topic.closed != closed:
            topic.closed = closed
            key = "forum_topic_closed" if closed else "forum_topic_reopened"
            self.new_message(chat, self._actor(chat, by_user_id), {key: {}}, thread_id=topic.id)

    def _bot_sees(self, chat: Chat, msg: dict) -> bool:
        """Whether a message from a person reaches the bot. Bots run in privacy mode (getMe answers
        can_read_all_group_messages=false), so in groups where the bot is not an administrator it only gets commands,
        mentions of it, replies to its messages and service messages (https://core.telegram.org/bots/features#privacy-mode)."""
        if chat.type == "private":
            return True
        member = self.member(chat, self.bot_user_id)
        if not member.is_in_chat:
            return False
        if member.is_admin or any(key in msg for key in SERVICE_KEYS):
            return True
        text = msg.get("text") or msg.get("caption") or ""
        reply = msg.get("reply_to_message")
        return (
            text.startswith("/")
            or f"@{self.bot_user['username']}".lower() in text.lower()
            or (reply is not None and reply["from"]["id"] == self.bot_user_id)
        )

    def _message_view(self, record: Record) -> dict:
        msg = record.msg
        media = None
        for kind in _MEDIA_KEYS:
            if kind in msg:
                item = msg[kind][-1] if kind == "photo" else msg[kind]
                keys = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type", "duration")
                media = {"type": kind, **{k: item[k] for k in keys if k in item}}
        return {
            "message_id": msg["message_id"],
            "thread_id": record.thread_id,
            "from": msg["from"],
            "by_bot": msg["from"]["id"] == self.bot_user_id,
            "date": msg["date"],
            "text": msg.get("text"),
            "entities": msg.get("entities", []),
            "caption": msg.get("caption"),
            "caption_entities": msg.get("caption_entities", []),
            "reply_markup": msg.get("reply_markup"),
            "reply_keyboard": record.reply_keyboard,
            "media": media,
            "media_group_id": msg.get("media_group_id"),
            "service": record.service,
            "reply_to_message_id": (msg.get("reply_to_message") or {}).get("message_id"),
            "forward_origin": msg.get("forward_origin"),
            "edit_date": msg.get("edit_date"),
            "edits": copy.deepcopy(record.edits),
            "pinned": record.pinned,
            "reactions": copy.deepcopy(record.reactions),
            "deleted": record.deleted,
            "message": copy.deepcopy(msg),
        }

    # ----------------------------------------------------------------------------------- internals: files

    def store_file(self, kind: str, data: bytes, file_name: str | None, mime_type: str | None) -> StoredFile:
        stored = new_file(kind, data, next(self._file_counter), file_name, mime_type)
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    async def download(self, url: str) -> bytes:
        """Telegram fetches media given as an HTTP URL itself; so does the sandbox (useful for local servers)."""
        try:
            async with self._session().get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
                if response.status != 200:
                    raise TgError(400, "Bad Request: failed to get HTTP URL content")
                return await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            raise TgError(400, "Bad Request: failed to get HTTP URL content") from None

    def topic_icon_stickers(self) -> list[dict]:
        result = []
        for custom_emoji_id, emoji in TOPIC_ICONS:
            path = f"stickers/topic_{custom_emoji_id}.webp"
            if path not in self.files_by_path:
                stored = StoredFile(
                    f"CAACAgIAAxUAAWTopicIcon{custom_emoji_id}", f"AgADTopic{custom_emoji_id[-8:]}", "sticker",
                    b"RIFF\x0c\x00\x00\x00WEBPVP8 ", path, mime_type="image/webp",
                )  # fmt: skip
                self.files[stored.file_id] = self.files_by_path[path] = stored
            sticker = self.files_by_path[path].media()
            sticker.update({"type": "custom_emoji", "emoji": emoji, "set_name": "Topics"})
            sticker["custom_emoji_id"] = custom_emoji_id
            result.append(sticker)
        return result

    # --------------------------------------------------------------------------------- updates & delivery

    def _changed(self) -> None:
        self.version += 1

    def enqueue(self, kind: str, payload: dict) -> None:
        """Queue an update unless allowed_updates excludes it; like Telegram, the filter applies when the update
        is created (https://core.telegram.org/bots/api#getupdates)."""
        allowed = self._allowed_updates
        if (allowed and kind not in allowed) or (not allowed and kind in NOT_DEFAULT_UPDATES):
            return
        self._updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._changed()
        self._wake()

    def _wake(self) -> None:
        event, self._updates_event = self._updates_event, asyncio.Event()
        event.set()

    def set_allowed_updates(self, allowed: list[str] | None) -> None:
        if allowed is not None:
            self._allowed_updates = list(allowed) or None

    async def get_updates(self, offset: int | None, limit: int, timeout: float) -> list[dict]:
        """getUpdates (https://core.telegram.org/bots/api#getupdates): an offset confirms every earlier update,
        a negative offset keeps only the last -offset ones; waits up to `timeout` real seconds for new ones."""
        if self.webhook is not None:
            raise TgError(409, WEBHOOK_CONFLICT)
        if offset:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            else:
                self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # an older long poll still waiting is terminated (see below)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._updates or self._closing:
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._updates_event
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            if generation != self._poll_generation:
                raise TgError(409, POLL_CONFLICT)

    def set_webhook(self, hook: dict | None, *, drop_pending_updates: bool = False) -> None:
        if drop_pending_updates:
            self._updates.clear()
        self.webhook = hook
        self._changed()
        self._wake()
        # A new URL takes effect at once, even while the old one is backing off; an update being delivered when
        # the old worker is cancelled stays queued and is sent again (delivery is at least once, as with Telegram).
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        if hook is not None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())

    def webhook_info(self) -> dict:
        """WebhookInfo (https://core.telegram.org/bots/api#webhookinfo)."""
        hook = self.webhook or {}
        info = {"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        for key in ("last_error_date", "last_error_message", "max_connections", "allowed_updates", "ip_address"):
            if hook.get(key) is not None:
                info[key] = hook[key]
        return info

    async def _deliver_webhook(self) -> None:
        """POST each update as JSON with X-Telegram-Bot-Api-Secret-Token; a non-2xx answer or a network error
        is retried with growing pauses, as Telegram does (https://core.telegram.org/bots/api#setwebhook).
        A 2xx answer may carry a method call to execute, like the real "reply in webhook response" feature."""
        attempt = 0
        while self.webhook is not None and not self._closing:
            if not self._updates:
                await self._updates_event.wait()
                continue
            hook, update = self.webhook, self._updates[0]
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            error, reply = None, None
            try:
                async with self._session().post(
                    hook["url"], data=json.dumps(update), headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    if 200 <= response.status < 300:
                        reply = await webhook_reply_params(response)
                    else:
                        error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                error = f"Connection failed: {type(exc).__name__}"
            if error is None:
                attempt = 0
                if self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                    self._changed()
                if reply is not None:
                    await self._run_webhook_reply(reply)
                continue
            hook["last_error_date"], hook["last_error_message"] = int(time.time()), error
            attempt += 1
            await asyncio.sleep(min(0.05 * 2**attempt, 5.0))

    async def _run_webhook_reply(self, reply: Params) -> None:
        method = reply.str("method") or ""
        try:
            await self.api.call(method, reply)
        except TgError as exc:  # Telegram drops the result of a webhook reply, errors included
            log.info("webhook reply %s failed: %s", method, exc.description)
        except Exception:
            log.exception("webhook reply %s failed", method)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def aclose(self) -> None:
        """Stop long polls and webhook delivery and close the HTTP client (the app's cleanup does this)."""
        self._closing = True
        self._wake()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
        if self._http is not None:
            await self._http.close()

    # ------------------------------------------------------------------------------------------------- HTTP

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        control.setup(app, self)
        business.setup(app, self)
        viewer.setup(app, self)

        async def on_shutdown(_: web.Application) -> None:
            self._closing = True  # lets pending long polls return before the server waits for them
            self._wake()

        async def on_cleanup(_: web.Application) -> None:
            await self.aclose()

        app.on_shutdown.append(on_shutdown)
        app.on_cleanup.append(on_cleanup)
        return app

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        requests = self.stats["requests"]
        requests[method] = requests.get(method, 0) + 1
        try:
            if request.match_info["token"] != self.bot_token:
                raise TgError(401, "Unauthorized")
            injected = self.faults.take(method)
            if injected is not None:
                raise injected
            params = await read_params(request)
            result = await self.api.call(method, params)
        except TgError as exc:
            if exc.code == 429:
                self.stats["too_many_requests"] += 1
            return web.json_response(exc.json(), status=exc.code)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(
                {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}, status=413
            )
        except Exception as exc:  # a sandbox bug must still reach the client as a Bot API answer
            log.exception("Bot API method %s failed", method)
            error = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {type(exc).__name__}: {exc}"}
            return web.json_response(error, status=500)
        if not method.lower().startswith("get"):
            self._changed()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        """https://api.telegram.org/file/bot<token>/<file_path> (https://core.telegram.org/bots/api#file)."""
        if request.match_info["token"] != self.bot_token:
            return web.json_response(TgError(401, "Unauthorized").json(), status=401)
        stored = self.files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(TgError(404, "Not Found").json(), status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")


_MEDIA_KEYS = ("photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation")


def _pick(msg: dict, keys: tuple[str, ...]) -> dict:
    return {k: copy.deepcopy(msg[k]) for k in keys if k in msg}


_AUTO_ENTITY = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)"
    r"|(?P<mention>(?<!\w)@[A-Za-z0-9_]{5,32})"
    r"|(?P<url>https?://[^\s<>\"]+)"
)


def _detect_entities(text: str) -> list[dict]:
    """Entities Telegram adds to what people type: bot commands, @mentions and links."""
    result = []
    for match in _AUTO_ENTITY.finditer(text):
        prefix_len = len(text[: match.start()].encode("utf-16-le")) // 2
        length = len(match.group().encode("utf-16-le")) // 2
        result.append({"type": match.lastgroup, "offset": prefix_len, "length": length})
    return result


__all__ = ["TelegramSandbox"]
