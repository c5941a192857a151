"""Telegram Business in the sandbox (https://core.telegram.org/bots/api#businessconnection, Bot API 7.2; the rights
object of 9.0): a user's account becomes a business account and connects the bot (Settings → Telegram Business →
Chatbots); the bot then gets the account's private chats and answers on its behalf.

- `connect(user_id, rights=…)` / `disconnect(user_id)` queue a `business_connection` update (BusinessConnection: id,
  user, user_chat_id, date, rights, is_enabled). Reconnecting keeps the connection id; rights are refreshed.
- `write(sender_id, account_id, other_id, text)` is a message in the account's chat with another user — a customer
  writing to the shop (sender = the customer) or the owner typing in the Telegram app (sender = the account) — queued
  as `business_message` while the bot is connected; `edit` and `delete` queue `edited_business_message` and
  `deleted_business_messages` (BusinessMessagesDeleted: business_connection_id, chat, message_ids).
- Sending methods with `business_connection_id` post into that chat as the account (`from` = the account,
  `sender_business_bot` = the bot); the bot never gets its own messages back as updates. They need an enabled
  connection ("Bad Request: BUSINESS_CONNECTION_INVALID" otherwise), the right can_reply, a private chat with a user
  ("Bad Request: BUSINESS_PEER_INVALID") and a message from that user in the last 24 hours ("Bad Request:
  BUSINESS_PEER_USAGE_MISSING", the MTProto error messages.sendMessage documents for a peer that has not contacted
  the account recently).
- getBusinessConnection, readBusinessMessage (the right can_read_messages, a chat active in the last 24 hours) and
  deleteBusinessMessages (can_delete_sent_messages for the bot's own messages, can_delete_all_messages for any).

Unverified against the real server, chosen by the nearest documented MTProto error: a disabled connection answers
like an unknown one (BUSINESS_CONNECTION_INVALID), and a call the connection's rights do not allow (no can_reply,
no can_read_messages, no delete right) answers 403 "Forbidden: BOT_ACCESS_FORBIDDEN".
Message ids are one sequence per business account, as in Telegram's private chats.

One account, two ways. A business account is a Telegram user account: when the MTProto stand-in (sandbox/mtproto)
runs beside this one (`link(mtproto)`, done by sandbox/runner.py), an account that exists there and connects the bot
here is ONE account with one set of chats. A customer's message exists once, in the MTProto account's world, with
the account's next message id, and reaches both the account's MTProto sessions (UpdateNewMessage) and the bot
(business_message) under that same id, as Telegram numbers a business account's messages. Whatever changes on
the MTProto side (a customer writing or editing there, the owner's Telethon client sending, deletions) comes here
through the stand-in's listeners; what happens here (a customer writing through this control API, the bot sending
with business_connection_id, edits and deletions) is written into the MTProto account and pushed to its sessions.
People are one too: a user of one stand-in appears in the other with the same id when first needed.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..mtproto.world import SERVICE_USER_ID
from ..webparts import NotFound, json_routes
from .botapi import Params, TgError, api, bad
from .state import Chat, Record, strip_reply

if TYPE_CHECKING:
    from .botapi import BotApi
    from .sandbox import TelegramSandbox

# BusinessBotRights (https://core.telegram.org/bots/api#businessbotrights).
RIGHTS = (
    "can_reply", "can_read_messages", "can_delete_sent_messages", "can_delete_all_messages", "can_edit_name",
    "can_edit_bio", "can_edit_profile_photo", "can_edit_username", "can_change_gift_settings",
    "can_view_gifts_and_stars", "can_convert_gifts_to_stars", "can_transfer_and_upgrade_gifts", "can_transfer_stars",
    "can_manage_stories",
)  # fmt: skip
DEFAULT_RIGHTS = {"can_reply": True, "can_read_messages": True, "can_delete_sent_messages": True}
# Methods taking business_connection_id (lower case); elsewhere the parameter is ignored, as Telegram ignores
# parameters a method does not know.
BUSINESS_METHODS = frozenset(m.lower() for m in (
    "sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo", "sendVideoNote", "sendSticker",
    "sendAnimation", "sendMediaGroup", "sendChatAction", "editMessageText", "editMessageCaption",
    "editMessageReplyMarkup",
))  # fmt: skip
WINDOW = 24 * 3600  # "chats that were active in the last 24 hours"
FORBIDDEN = "Forbidden: BOT_ACCESS_FORBIDDEN"


@dataclass
class Connection:
    id: str
    user_id: int
    date: int
    rights: dict[str, bool] = field(default_factory=dict)
    is_enabled: bool = True


class Business:
    """The business accounts of a sandbox and their chats."""

    def __init__(self, sb: TelegramSandbox) -> None:
        self.sb = sb
        self.mode = True  # BotFather → Bot Settings → Business Mode (getMe.can_connect_to_business)
        self.connections: dict[str, Connection] = {}
        self.chats: dict[tuple[int, int], Chat] = {}  # (account, other user) → the account's chat with them
        self.last_seen: dict[tuple[int, int], float] = {}  # when the other user last wrote (the 24-hour rule)
        self.read: dict[tuple[int, int], int] = {}  # highest message id marked read through readBusinessMessage
        self._next_id: dict[int, int] = {}  # next message id per account
        self.mtproto: Any = None  # sandbox.mtproto.MTProtoSandbox sharing its accounts with this one (`link`)
        self._pushes: set[asyncio.Task] = set()

    # --------------------------------------------------------------------------------- one account, two ways

    def link(self, mtproto: Any) -> None:
        """Share Telegram accounts with the MTProto stand-in (module docstring)."""
        self.mtproto = mtproto
        mtproto.listeners.append(self._from_account)

    def _account(self, account_id: int) -> Any:
        """The MTProto account behind a business account, when there is one."""
        return self.mtproto.world.accounts.get(account_id) if self.mtproto is not None else None

    def _bot_user(self, person: Any) -> dict:
        """A person of the MTProto world as a user of this stand-in (same id)."""
        user = self.sb.users.get(person.id)
        if user is None:
            user = {"id": person.id, "is_bot": False, "first_name": person.first_name}
            if person.last_name:
                user["last_name"] = person.last_name
            if person.username:
                user["username"] = person.username
            if person.lang_code:
                user["language_code"] = person.lang_code
            self.sb.users[person.id] = user
            self.sb._changed()
        return user

    def _person(self, user_id: int) -> Any:
        """A user of this stand-in as a person of the MTProto world (same id)."""
        world = self.mtproto.world
        person = world.people.get(user_id)
        if person is None:
            user = self.sb._user(user_id)
            person = world.person(user_id, user["first_name"], user.get("last_name"), username=user.get("username"),
                                  lang_code=user.get("language_code"))
        return person

    def _push(self, account: Any, entry: Any) -> None:
        """Push a change of the MTProto account to its sessions (and, through the listeners, nowhere else: the
        change is already here)."""
        if entry is None:
            return
        task = asyncio.get_running_loop().create_task(self.mtproto.api.publish(account, entry))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    def _stored_media(self, body: dict) -> Any:
        """The file of a message body (this stand-in's file store) as an MTProto StoredMedia."""
        for kind in ("photo", "document", "voice", "audio", "video", "video_note"):
            value = body.get(kind)
            if not value:
                continue
            item = value[-1] if isinstance(value, list) else value
            stored = self.sb.files.get(item.get("file_id", ""))
            if stored is None:
                return None
            mime = stored.mime_type or {"photo": "image/jpeg", "voice": "audio/ogg"}.get(kind,
                                                                                           "application/octet-stream")
            return self.mtproto.world.store_media("photo" if kind == "photo" else "document", stored.data, mime=mime,
                                                  file_name=stored.file_name, voice=kind == "voice",
                                                  round=kind == "video_note", video=kind == "video",
                                                  audio=kind == "audio")
        return None

    def _from_account(self, account: Any, entry: Any) -> None:
        """An MTProto listener: a change of an account that is a business account here becomes the same change of
        its business chat, and the bot's update while it is connected."""
        account_id = account.user.id
        if self.connection_of(account_id) is None or entry.kind not in ("new", "edit", "delete"):
            return
        if entry.peer == SERVICE_USER_ID:
            return  # Telegram's service notifications (login codes) are no business chat
        self._bot_user(account.user)
        if entry.kind == "delete":
            gone: dict[int, list[int]] = {}
            for message_id in entry.message_ids:
                message = account.messages.get(message_id)
                chat = self.chats.get((account_id, message.peer)) if message is not None else None
                record = chat.visible(message_id) if chat is not None else None
                if record is not None:
                    self.sb.delete_message(record)
                    gone.setdefault(chat.id, []).append(message_id)
            conn = self.connection_of(account_id)
            for chat_id, ids in gone.items():
                if conn is not None and conn.is_enabled:
                    self.sb.enqueue("deleted_business_messages", {
                        "business_connection_id": conn.id, "chat": self.chats[(account_id, chat_id)].short(),
                        "message_ids": ids})
            return
        message = account.messages[entry.message_id]
        if message.peer not in self.mtproto.world.people:
            return
        self._bot_user(self.mtproto.world.people[message.peer])
        chat = self.chat(account_id, message.peer)
        record = chat.messages.get(message.id)
        if entry.kind == "edit":
            if record is None or record.deleted or record.msg.get("text") == message.text:
                return  # not here, or the edit came from here
            self.sb.edit_message(record, {"text": message.text})
            record.msg["edit_date"] = message.edit_date or int(time.time())
            if self._updates_on(account_id):
                self.sb.enqueue("edited_business_message", copy.deepcopy(record.msg))
            return
        if record is not None:
            return  # written here (the control API, the bot): already a message of this chat
        sender = self.sb.users[account_id if message.out else message.peer]
        body: dict[str, Any] = {}
        # links behind text (MessageEntityTextUrl) are text_link entities for the bot (UTM tags are read from them)
        links = [{"type": "text_link", "offset": e.offset, "length": e.length, "url": e.url}
                 for e in message.entities if getattr(e, "url", None)]
        if message.media is not None:
            media = message.media
            kind = "photo" if media.kind == "photo" else "voice" if media.voice else "video_note" if media.round \
                else "video" if media.video else "audio" if media.audio else "document"
            body[kind] = self.sb.store_file(kind, media.data, media.file_name, media.mime).media()
            if message.text:
                body["caption"] = message.text
                if links:
                    body["caption_entities"] = links
        else:
            body["text"] = message.text
            if links:
                body["entities"] = links
        reply = chat.visible(message.reply_to) if message.reply_to else None
        record = self._record(chat, message.id, sender, body, reply, date=message.date)
        if not message.out:
            self.last_seen[(account_id, message.peer)] = time.time()
        if self._updates_on(account_id):
            self.sb.enqueue("business_message", copy.deepcopy(record.msg))

    # ------------------------------------------------------------------------------------------ connections

    def connection_of(self, user_id: int) -> Connection | None:
        return next((c for c in self.connections.values() if c.user_id == user_id), None)

    def json(self, conn: Connection) -> dict:
        """BusinessConnection (https://core.telegram.org/bots/api#businessconnection); rights lists what is granted."""
        return {
            "id": conn.id, "user": dict(self.sb.users[conn.user_id]), "user_chat_id": conn.user_id, "date": conn.date,
            "rights": {k: True for k, v in conn.rights.items() if v}, "is_enabled": conn.is_enabled,
        }  # fmt: skip

    def connect(self, user_id: int, *, rights: dict | None = None, enabled: bool = True) -> dict:
        """The user turns their account into a business account (Premium) and connects the bot, or changes the
        connection (rights, paused or not); queues a business_connection update and returns it."""
        if not self.mode:
            raise ValueError("the bot has no Business Mode: turn it on in @BotFather first")
        if (account := self._account(user_id)) is not None:
            self._bot_user(account.user)  # the MTProto stand-in's account connects the bot: the same user
        user = self.sb._user(user_id)
        unknown = set(rights or {}) - set(RIGHTS)
        if unknown:
            raise ValueError(f"unknown business bot rights: {sorted(unknown)}")
        user["is_premium"] = True
        conn = self.connection_of(user_id)
        if conn is None:
            conn = Connection(id=secrets.token_urlsafe(24), user_id=user_id, date=int(time.time()))
            self.connections[conn.id] = conn
        conn.rights = {k: bool(v) for k, v in (DEFAULT_RIGHTS if rights is None else rights).items()}
        conn.is_enabled = enabled
        conn.date = int(time.time())
        update = self.json(conn)
        self.sb.enqueue("business_connection", copy.deepcopy(update))
        return update

    def disconnect(self, user_id: int) -> dict:
        """The owner removes the bot from Telegram Business → Chatbots: is_enabled false."""
        conn = self.connection_of(user_id)
        if conn is None:
            raise ValueError(f"user {user_id} has not connected the bot")
        conn.is_enabled = False
        update = self.json(conn)
        self.sb.enqueue("business_connection", copy.deepcopy(update))
        return update

    def _connection(self, p: Params) -> Connection:
        conn = self.connections.get(p.str("business_connection_id") or "")
        if conn is None or not conn.is_enabled:
            raise bad("BUSINESS_CONNECTION_INVALID")
        return conn

    # ------------------------------------------------------------------------------------------------ chats

    def chat(self, account_id: int, other_id: int) -> Chat:
        key = (account_id, other_id)
        chat = self.chats.get(key)
        if chat is None:
            other = self.sb._user(other_id)
            chat = self.chats[key] = Chat(id=other_id, type="private", user=other, business_owner_id=account_id)
        return chat

    def active(self, account_id: int, other_id: int) -> bool:
        seen = self.last_seen.get((account_id, other_id))
        return seen is not None and time.time() - seen < WINDOW

    def age(self, account_id: int, other_id: int, seconds: float) -> None:
        """Move the other user's last message `seconds` further into the past (to try the 24-hour rule)."""
        key = (account_id, other_id)
        if key in self.last_seen:
            self.last_seen[key] -= seconds

    def _new(self, chat: Chat, sender: dict, body: dict, reply: Record | None = None, *,
             by_bot: bool = False) -> Record:
        account_id = chat.business_owner_id
        assert account_id is not None
        account = self._account(account_id)
        if account is None:
            message_id = self._next_id.get(account_id, 1)
            self._next_id[account_id] = message_id + 1
            return self._record(chat, message_id, sender, body, reply, by_bot=by_bot)
        # one account, two ways: the message is the MTProto account's, with its next id, pushed to its sessions
        self._person(chat.id)
        message, entry = account.add_message(
            chat.id, out=sender["id"] == account_id, text=body.get("text") or body.get("caption") or "",
            media=self._stored_media(body), reply_to=reply.msg["message_id"] if reply is not None else None)
        record = self._record(chat, message.id, sender, body, reply, by_bot=by_bot, date=message.date)
        self._push(account, entry)
        return record

    def _record(self, chat: Chat, message_id: int, sender: dict, body: dict, reply: Record | None = None, *,
                by_bot: bool = False, date: int | None = None) -> Record:
        account_id = chat.business_owner_id
        assert account_id is not None
        msg: dict[str, Any] = {"message_id": message_id, "from": dict(sender), "chat": chat.short(),
                               "date": date or int(time.time())}
        conn = self.connection_of(account_id)
        if conn is not None:
            msg["business_connection_id"] = conn.id
        if by_bot:
            msg["sender_business_bot"] = dict(self.sb.bot_user)
        if reply is not None:
            msg["reply_to_message"] = strip_reply(reply.msg)
        msg.update(body)
        record = Record(msg, None)
        chat.messages[message_id] = record
        self.sb._changed()
        return record

    def _updates_on(self, account_id: int) -> bool:
        conn = self.connection_of(account_id)
        return conn is not None and conn.is_enabled

    def write(self, sender_id: int, account_id: int, other_id: int, text: str | None = None, *,
              photo: bytes | None = None, document: tuple[str, bytes] | None = None, voice: bytes | None = None,
              caption: str | None = None, reply_to_message_id: int | None = None) -> dict:
        """A message in the account's chat with `other_id`, written by the other user (a customer) or by the account
        itself in the Telegram app; queues business_message while the bot is connected."""
        from .sandbox import _detect_entities

        if sender_id not in (account_id, other_id):
            raise ValueError("the sender must be the business account or the user it talks to")
        chat = self.chat(account_id, other_id)
        sender = self.sb._user(sender_id)
        reply = None
        if reply_to_message_id is not None:
            reply = chat.visible(reply_to_message_id)
            if reply is None:
                raise ValueError(f"message {reply_to_message_id} not found")
        body: dict[str, Any] = {}
        for kind, data, name in (("photo", photo, None), ("document", document[1] if document else None,
                                                          document[0] if document else None), ("voice", voice, None)):
            if data is not None:
                body[kind] = self.sb.store_file(kind, data, name, None).media()
        if body:
            if caption or text:
                body["caption"] = caption or text
        elif text:
            body["text"] = text
            if entities := _detect_entities(text):
                body["entities"] = entities
        else:
            raise ValueError("a message needs text or media")
        record = self._new(chat, sender, body, reply)
        if sender_id == other_id:
            self.last_seen[(account_id, other_id)] = time.time()
        if self._updates_on(account_id):
            self.sb.enqueue("business_message", copy.deepcopy(record.msg))
        return copy.deepcopy(record.msg)

    def edit(self, sender_id: int, account_id: int, other_id: int, message_id: int, text: str) -> dict:
        """A person edits their text message in a business chat; queues edited_business_message."""
        chat = self.chat(account_id, other_id)
        record = chat.visible(message_id)
        if record is None or record.sender_id != sender_id or "text" not in record.msg:
            raise ValueError(f"user {sender_id} has no text message {message_id} in this chat")
        self.sb.edit_message(record, {"text": text})
        if (account := self._account(account_id)) is not None and message_id in account.messages:
            self._push(account, account.edit_message(account.messages[message_id], text))
        if self._updates_on(account_id):
            self.sb.enqueue("edited_business_message", copy.deepcopy(record.msg))
        return copy.deepcopy(record.msg)

    def delete(self, account_id: int, other_id: int, message_ids: list[int]) -> dict:
        """Messages deleted in the chat (by either side, for both); queues deleted_business_messages."""
        chat = self.chat(account_id, other_id)
        gone = []
        for message_id in message_ids:
            record = chat.visible(message_id)
            if record is not None:
                self.sb.delete_message(record)
                gone.append(message_id)
        update = {"chat": chat.short(), "message_ids": gone}
        self.deleted_in_account(account_id, gone)
        conn = self.connection_of(account_id)
        if conn is not None and conn.is_enabled and gone:
            self.sb.enqueue("deleted_business_messages", {"business_connection_id": conn.id, **update})
        return update

    def edited_by_bot(self, chat: Chat, record: Record) -> None:
        """The bot edited its message here (editMessageText/Caption with business_connection_id): edited in the
        MTProto account too."""
        account = self._account(chat.business_owner_id or 0)
        message = account.messages.get(record.msg["message_id"]) if account is not None else None
        text = record.msg.get("text") or record.msg.get("caption") or ""
        if message is not None and message.text != text:
            self._push(account, account.edit_message(message, text))

    def deleted_in_account(self, account_id: int, message_ids: list[int]) -> None:
        """Deleted here: deleted (for both sides) in the MTProto account too."""
        if (account := self._account(account_id)) is not None and message_ids:
            self._push(account, account.delete_messages(message_ids))

    def view(self, account_id: int, other_id: int) -> dict:
        """Read-back of one business chat: its messages (by_bot: sent through the connection) and what the bot
        marked read."""
        chat = self.chat(account_id, other_id)
        messages = []
        for record in chat.messages.values():
            item = self.sb._message_view(record)
            item["by_bot"] = "sender_business_bot" in record.msg
            messages.append(item)
        return {"chat": chat.short(), "account_id": account_id, "messages": messages,
                "read_up_to": self.read.get((account_id, other_id)), "active": self.active(account_id, other_id)}

    # ------------------------------------------------------------------------------------------- Bot API side

    @staticmethod
    def takes_connection(p: Params) -> bool:
        return p.has("business_connection_id") and p.method in BUSINESS_METHODS

    def chat_for(self, p: Params, *, write: bool) -> Chat:
        """The chat a method with business_connection_id acts in, refused as Telegram refuses it."""
        conn = self._connection(p)
        target = p.chat_id()
        if not isinstance(target, int) or target == conn.user_id or target not in self.sb.users \
                or self.sb.users[target].get("is_bot"):
            raise bad("BUSINESS_PEER_INVALID")
        chat = self.chat(conn.user_id, target)
        if write:
            if not conn.rights.get("can_reply"):
                raise TgError(403, FORBIDDEN)
            if not self.active(conn.user_id, target):
                raise bad("BUSINESS_PEER_USAGE_MISSING")
        return chat

    def post(self, chat: Chat, body: dict, reply: Record | None) -> Record:
        """The bot sends on behalf of the account: from = the account, sender_business_bot = the bot."""
        assert chat.business_owner_id is not None
        return self._new(chat, self.sb.users[chat.business_owner_id], body, reply, by_bot=True)


@api("getBusinessConnection")
async def get_business_connection(self: BotApi, p: Params) -> dict:
    conn = self.sb.business.connections.get(p.str("business_connection_id") or "")
    if conn is None:
        raise bad("BUSINESS_CONNECTION_INVALID")
    return self.sb.business.json(conn)


@api("readBusinessMessage")
async def read_business_message(self: BotApi, p: Params) -> bool:
    """"Marks incoming message as read on behalf of a business account. Requires the can_read_messages business bot
    right"; "The chat must have been active in the last 24 hours"."""
    business = self.sb.business
    conn = business._connection(p)
    if not conn.rights.get("can_read_messages"):
        raise TgError(403, FORBIDDEN)
    chat_id = p.int("chat_id")
    chat = business.chats.get((conn.user_id, chat_id or 0))
    if chat is None:
        raise bad("chat not found")
    if not business.active(conn.user_id, chat.id):
        raise bad("BUSINESS_PEER_USAGE_MISSING")
    record = chat.visible(p.int("message_id") or 0)
    if record is None or record.sender_id == conn.user_id:
        raise bad("message not found")
    key = (conn.user_id, chat.id)
    business.read[key] = max(business.read.get(key, 0), record.msg["message_id"])
    if (account := business._account(conn.user_id)) is not None:
        # read on the account itself: its sessions get the read receipt (updateReadHistoryInbox)
        business._push(account, account.read(chat.id, record.msg["message_id"], outbox=False))
    return True


@api("deleteBusinessMessages")
async def delete_business_messages(self: BotApi, p: Params) -> bool:
    """"Delete messages on behalf of a business account. Requires the can_delete_sent_messages business bot right to
    delete messages sent by the bot itself, or the can_delete_all_messages business bot right to delete any message."
    "All messages must be from the same chat"; missing ones are skipped."""
    business = self.sb.business
    conn = business._connection(p)
    ids = self._message_ids(p)
    chats = [c for (account, _), c in business.chats.items() if account == conn.user_id]
    found = [(chat, chat.visible(i)) for i in ids for chat in chats if chat.visible(i) is not None]
    if len({chat.id for chat, _ in found}) > 1:
        raise bad("MESSAGE_IDS_FROM_DIFFERENT_CHATS")  # unverified wording
    for _, record in found:
        own = "sender_business_bot" in record.msg
        if not (conn.rights.get("can_delete_all_messages") or (own and conn.rights.get("can_delete_sent_messages"))):
            raise TgError(403, FORBIDDEN)
    for _, record in found:
        self.sb.delete_message(record)
    business.deleted_in_account(conn.user_id, [record.msg["message_id"] for _, record in found])
    return True


def setup(app: web.Application, sb: TelegramSandbox) -> None:
    """Control API for business accounts (JSON in and out):

    GET    /_sandbox/business                                            connections
    POST   /_sandbox/business/connections          {user_id, rights?, enabled?}   connect (or change) → update
    POST   /_sandbox/business/connections/{user_id}/disable                        the owner removes the bot
    GET    /_sandbox/business/{account_id}/chats/{user_id}                          read-back
    POST   /_sandbox/business/{account_id}/chats/{user_id}/messages   {from_id, text?, caption?} (+ files photo,
                                                                       document, voice as multipart)
    POST   /_sandbox/business/{account_id}/chats/{user_id}/messages/{message_id}/edit   {from_id, text}
    POST   /_sandbox/business/{account_id}/chats/{user_id}/delete     {message_ids}
    POST   /_sandbox/business/{account_id}/chats/{user_id}/age        {seconds}  the last message lies further back
    """
    from .control import _body, _body_and_files

    route = json_routes(app, "/_sandbox/business")
    business = sb.business

    def ids(request: web.Request) -> tuple[int, int]:
        account, other = int(request.match_info["account_id"]), int(request.match_info["user_id"])
        for user_id in (account, other):
            if user_id not in sb.users:
                raise NotFound(f"user {user_id} not found")
        return account, other

    @route("GET", "")
    async def connections(request: web.Request) -> list:
        return [business.json(c) for c in business.connections.values()]

    @route("POST", "/connections")
    async def connect(request: web.Request) -> dict:
        body = await _body(request)
        enabled = body.get("enabled", True) not in (False, "false", "0", 0)
        return business.connect(int(body["user_id"]), rights=body.get("rights"), enabled=enabled)

    @route("POST", "/connections/{user_id}/disable")
    async def disable(request: web.Request) -> dict:
        return business.disconnect(int(request.match_info["user_id"]))

    @route("GET", "/{account_id}/chats/{user_id}")
    async def read_chat(request: web.Request) -> dict:
        return business.view(*ids(request))

    @route("POST", "/{account_id}/chats/{user_id}/messages")
    async def write(request: web.Request) -> dict:
        account, other = ids(request)
        body, files = await _body_and_files(request)
        return business.write(
            int(body["from_id"]), account, other, body.get("text") or None,
            photo=files.get("photo", (None, None))[1], document=files.get("document"),
            voice=files.get("voice", (None, None))[1], caption=body.get("caption") or None,
        )

    @route("POST", "/{account_id}/chats/{user_id}/messages/{message_id}/edit")
    async def edit(request: web.Request) -> dict:
        account, other = ids(request)
        body = await _body(request)
        return business.edit(int(body["from_id"]), account, other, int(request.match_info["message_id"]),
                             str(body["text"]))

    @route("POST", "/{account_id}/chats/{user_id}/delete")
    async def delete(request: web.Request) -> dict:
        account, other = ids(request)
        body = await _body(request)
        return business.delete(account, other, [int(i) for i in body["message_ids"]])

    @route("POST", "/{account_id}/chats/{user_id}/age")
    async def age(request: web.Request) -> dict:
        account, other = ids(request)
        body = await _body(request)
        business.age(account, other, float(body["seconds"]))
        return {"ok": True, "active": business.active(account, other)}
