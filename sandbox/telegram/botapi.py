"""Bot API methods (https://core.telegram.org/bots/api#available-methods) over the sandbox's world.

Requests arrive as a query string, application/x-www-form-urlencoded, application/json or multipart/form-data
(https://core.telegram.org/bots/api#making-requests); nested objects in form bodies are JSON strings. Answers are
{"ok": true, "result": ...} or {"ok": false, "error_code": N, "description": "...", "parameters": {...}}.

Each handler is registered under its Bot API method name, documented at https://core.telegram.org/bots/api#<name in
lower case>; the limits quoted in comments are from there. Error descriptions are the server's own: Bot API checks,
TDLib's (lower-cased first letter, "Bad Request: " in front, e.g. "not enough rights to create a topic" from
ForumTopicManager) and MTProto error names (TOPIC_CLOSED, TOPIC_NOT_MODIFIED, BUTTON_DATA_INVALID, ...).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from . import markup
from .state import (
    CHAT_ACTIONS,
    MEDIA_KINDS,
    REACTION_EMOJI,
    TOPIC_COLORS,
    Chat,
    InviteLink,
    Member,
    Record,
    StoredFile,
    Topic,
    strip_reply,
)

if TYPE_CHECKING:
    from .sandbox import TelegramSandbox

MAX_TEXT = 4096  # "Text of the message to be sent, 1-4096 characters after entities parsing" (sendMessage)
MAX_CAPTION = 1024  # "0-1024 characters after entities parsing" (sendPhoto and friends)
MAX_TOPIC_NAME = 128  # "Topic name, 1-128 characters" (createForumTopic)
MAX_INVITE_LINK_NAME = 32  # "Invite link name; 0-32 characters" (createChatInviteLink): longer names are cut
MAX_INVITE_MEMBER_LIMIT = 99999  # member_limit "1-99999"
MAX_CALLBACK_DATA = 64  # "Data to be sent in a callback query ..., 1-64 bytes" (InlineKeyboardButton)
# A callback query must be answered soon; an old query id is refused (answerCallbackQuery). Real seconds.
CALLBACK_QUERY_TTL = 15.0
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)  # editMessageText and friends when nothing changes


class TgError(Exception):
    """An unsuccessful Bot API answer (https://core.telegram.org/bots/api#making-requests)."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def json(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad(description: str) -> TgError:
    return TgError(400, f"Bad Request: {description}")


@dataclass
class Upload:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Typed access to request parameters, whichever encoding they came in."""

    def __init__(self, values: Mapping[str, Any], method: str = "") -> None:
        self.values = dict(values)
        self.method = method  # lower-cased name of the method being called

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, Upload):
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise bad(f'field "{name}" must be of type Integer')

    def bool(self, name: str) -> bool:
        return self.values.get(name) in (True, 1, "true", "True", "1")

    def json(self, name: str, what: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad(f"can't parse {what} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value is None or value == "":
            raise bad(f"{name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return self.int(name)  # type: ignore[return-value]
        except TgError:
            raise bad("chat not found") from None


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON object") from None
            if isinstance(body, dict):
                values.update(body)
        else:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    values[key] = Upload(value.file.read(), value.filename, value.content_type)
                else:
                    values[key] = value
    return Params(values)


async def webhook_reply_params(response: aiohttp.ClientResponse) -> Params | None:
    """A webhook may answer with a method call, as JSON or form data (aiogram sends multipart form data)."""
    values: dict[str, Any] = {}
    try:
        if response.content_type == "application/json":
            body = await response.json(content_type=None)
            values = body if isinstance(body, dict) else {}
        elif response.content_type.startswith("multipart/"):
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    data = await part.read()
                    values[part.name] = (
                        Upload(bytes(data), part.filename, part.headers.get("Content-Type"))
                        if part.filename
                        else data.decode()
                    )
    except (ValueError, aiohttp.ClientError):
        return None  # an unreadable answer is just an acknowledgement
    return Params(values) if values.get("method") else None


Handler = Callable[["BotApi", Params], Awaitable[Any]]
_METHODS: dict[str, Handler] = {}


def api(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            _METHODS[name.lower()] = handler  # method names are case-insensitive (Making requests)
        return handler

    return register


def _https_or_local(url: str) -> bool:
    """Telegram takes only HTTPS for webhooks and Web Apps; the sandbox also takes http:// on localhost."""
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    return bool(parts.hostname) and (parts.scheme == "https" or (parts.scheme == "http" and local))


def _kind_title(kind: str) -> str:
    return "".join(word.title() for word in kind.split("_"))


class BotApi:
    def __init__(self, sandbox: TelegramSandbox) -> None:
        self.sb = sandbox

    async def call(self, method: str, params: Params) -> Any:
        handler = _METHODS.get(method.lower())
        if handler is None:
            raise TgError(404, "Not Found")  # what api.telegram.org answers for an unknown method
        params.method = method.lower()
        return await handler(self, params)

    # -------------------------------------------------------------------------------------------- helpers

    def _chat(self, p: Params, name: str = "chat_id", *, write: bool = True) -> Chat:
        if name == "chat_id" and self.sb.business.takes_connection(p):
            return self.sb.business.chat_for(p, write=write)  # a business account's chat (business.py)
        chat = self.sb.lookup_chat(p.chat_id(name))
        if chat is None:
            raise bad("chat not found")
        if chat.type == "private":
            if write and chat.blocked:
                raise TgError(403, "Forbidden: bot was blocked by the user")
            return chat
        member = self.sb.member(chat, self.sb.bot_user_id)
        kind = chat.kind_name
        if member.status == "kicked":
            raise TgError(403, f"Forbidden: bot was kicked from the {kind}")
        if not member.is_in_chat:
            raise TgError(403, f"Forbidden: bot is not a member of the {kind}")
        return chat

    def _bot(self, chat: Chat) -> Member:
        return self.sb.member(chat, self.sb.bot_user_id)

    def _charge(self, chat: Chat, cost: int = 1) -> None:
        """Flood control (see ratelimit.py): the bot-wide budget plus the per-chat one."""
        kind = "private" if chat.type == "private" else "group"
        retry_after = self.sb.limiter.acquire([("global", None), (kind, chat.id)], cost)
        if retry_after is not None:
            raise TgError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def _formatted(
        self,
        text: str | None,
        parse_mode: str | None,
        raw_entities: Any,
        *,
        limit: int,
        too_long: str,
        empty: str | None = None,
    ) -> tuple[str | None, list[dict]]:
        """Text or caption after entity parsing (https://core.telegram.org/bots/api#formatting-options).
        `empty` is the error for a missing text; captions may be absent."""
        if not text:
            if empty:
                raise bad(empty)
            return None, []
        if raw_entities:
            entities = self._entities(raw_entities)
        elif parse_mode:
            try:
                text, entities = markup.parse(text, parse_mode)
            except KeyError:
                raise bad("unsupported parse_mode") from None
            except markup.ParseError as exc:
                raise bad(f"can't parse entities: {exc}") from None
        else:
            entities = []
        text, entities = markup.finalize(text, entities)
        if not text:
            if empty:
                raise bad(empty)
            return None, []
        if len(text) > limit:
            raise bad(too_long)
        resolved = []
        for entity in entities:
            if entity["type"] == "text_mention":
                user = self.sb.users.get(entity["user"].get("id"))
                if user is None:
                    continue  # a mention of a user the server doesn't know can't be shown
                entity = {**entity, "user": dict(user)}
            resolved.append(entity)
        return text, resolved

    def _entities(self, raw: Any) -> list[dict]:
        """The `entities` / `caption_entities` parameter (https://core.telegram.org/bots/api#messageentity)."""
        if not isinstance(raw, list):
            raise bad("can't parse entities JSON object")
        result = []
        for item in raw:
            if not (isinstance(item, dict) and isinstance(item.get("offset"), int) and isinstance(item.get("length"), int)):
                raise bad("can't parse entities JSON object")
            if item.get("type") not in markup.ENTITY_TYPES:
                raise bad(f"can't parse MessageEntity: unsupported entity type \"{item.get('type')}\"")
            result.append({k: v for k, v in item.items() if v is not None})
        return result

    def _text(self, p: Params) -> tuple[str | None, list[dict]]:
        return self._formatted(
            p.str("text"), p.str("parse_mode"), p.json("entities", "entities"),
            limit=MAX_TEXT, too_long="message is too long", empty="message text is empty",
        )  # fmt: skip

    def _caption(self, p: Params) -> tuple[str | None, list[dict]]:
        return self._formatted(
            p.str("caption"), p.str("parse_mode"), p.json("caption_entities", "entities"),
            limit=MAX_CAPTION, too_long="message caption is too long",
        )  # fmt: skip

    def _markup(self, chat: Chat, p: Params) -> tuple[dict | None, dict | None]:
        """reply_markup: an inline keyboard goes on the message; a reply keyboard / removal / force reply is returned
        second (https://core.telegram.org/bots/api#inlinekeyboardmarkup)."""
        raw = p.json("reply_markup", "reply keyboard markup")
        if raw is None:
            return None, None
        if not isinstance(raw, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            rows = raw["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
            keyboard = [[self._button(chat, button) for button in row] for row in rows]
            keyboard = [row for row in keyboard if row]
            return ({"inline_keyboard": keyboard} if keyboard else None), None
        if "keyboard" in raw or raw.get("remove_keyboard") or raw.get("force_reply"):
            return None, raw
        raise bad("can't parse reply keyboard markup JSON object")

    def _button(self, chat: Chat, button: Any) -> dict:
        """InlineKeyboardButton (https://core.telegram.org/bots/api#inlinekeyboardbutton)."""
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        button = {k: v for k, v in button.items() if v is not None}
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise bad("BUTTON_DATA_INVALID")
        elif "url" in button:
            if not isinstance(button["url"], str) or not markup.check_url(button["url"]):
                raise bad("BUTTON_URL_INVALID")
        elif "web_app" in button:
            url = button["web_app"].get("url", "") if isinstance(button["web_app"], dict) else ""
            if chat.type != "private":  # Web App buttons work in private chats only
                raise bad("BUTTON_TYPE_INVALID")
            if not _https_or_local(url):
                raise bad(f"inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed")
        elif not any(
            key in button
            for key in (
                "switch_inline_query", "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                "login_url", "callback_game", "pay", "copy_text",
            )
        ):  # fmt: skip
            raise bad("text buttons are unallowed in the inline keyboard")
        return button

    def _reply_target(self, chat: Chat, p: Params) -> Record | None:
        """reply_parameters (https://core.telegram.org/bots/api#replyparameters) or the older reply_to_message_id."""
        params = p.json("reply_parameters", "reply parameters")
        if params is None:
            message_id, allow = p.int("reply_to_message_id"), p.bool("allow_sending_without_reply")
        elif isinstance(params, dict) and isinstance(params.get("message_id"), (int, str)):
            message_id, allow = int(params["message_id"]), bool(params.get("allow_sending_without_reply"))
            if params.get("chat_id") not in (None, chat.id, str(chat.id)):
                message_id = -1  # replies to other chats aren't emulated
        else:
            raise bad("can't parse reply parameters JSON object")
        if not message_id:
            return None
        record = chat.visible(message_id)
        if record is None and not allow:
            raise bad("message to be replied not found")
        return record

    def _thread(self, chat: Chat, thread_id: int | None, reply: Record | None) -> int | None:
        """Resolve message_thread_id. In forums a message goes to General when it's omitted; message_thread_id=1
        (General) is answered with "message thread not found", as the real Bot API does
        (https://github.com/tdlib/telegram-bot-api/issues/798). A reply without a thread id lands in the replied
        message's topic."""
        if chat.type == "private":
            return None  # topics in private chats with bots are not emulated; the id is ignored
        if thread_id is None:
            thread_id = reply.thread_id if reply is not None else None
            if thread_id is None:
                return None
        if chat.is_forum:
            topic = chat.topics.get(thread_id)
            if topic is None or topic.deleted:
                raise bad("message thread not found")
            if topic.closed:  # the sandbox rejects every bot post in a closed topic; reopen it first
                raise bad("TOPIC_CLOSED")
            return thread_id
        if chat.visible(thread_id) is None:  # a reply thread of a non-forum supergroup starts at a message
            raise bad("message thread not found")
        return thread_id

    async def _input_file(self, p: Params, field: str, kind: str, value: Any = None) -> StoredFile:
        """InputFile or String (https://core.telegram.org/bots/api#sending-files): an upload (possibly via attach://),
        a file_id already on the server, or an HTTP URL for Telegram to fetch."""
        if value is None:
            value = p.values.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.values.get(value[len("attach://") :])
        if value is None or value == "":
            raise bad(f"there is no {field} in the request")
        if isinstance(value, Upload):
            if not value.data:
                raise bad("file must be non-empty")
            return self.sb.store_file(kind, value.data, value.filename, value.content_type)
        value = str(value)
        if value.startswith(("http://", "https://")):
            name = urlsplit(value).path.rsplit("/", 1)[-1] or None
            return self.sb.store_file(kind, await self.sb.download(value), name, None)
        stored = self.sb.files.get(value)
        if stored is None:
            raise bad("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad(f"can't use file of type {_kind_title(stored.kind)} as {_kind_title(kind)}")
        return stored

    def _options(self, p: Params, body: dict, inline: dict | None) -> dict:
        if inline:
            body["reply_markup"] = inline
        if p.bool("protect_content"):
            body["has_protected_content"] = True
        if (options := p.json("link_preview_options", "link preview options")) and "text" in body:
            body["link_preview_options"] = options
        return body

    def _post(
        self, chat: Chat, body: dict, thread: int | None, reply: Record | None, reply_keyboard: dict | None = None
    ) -> Record:
        if chat.business_owner_id is not None:  # sent on behalf of a business account
            return self.sb.business.post(chat, body, reply)
        record = self.sb.new_message(chat, self.sb.bot_user, body, thread_id=thread, reply_to=reply)
        record.reply_keyboard = reply_keyboard
        return record

    def _forum(self, p: Params) -> Chat:
        chat = self._chat(p)
        if not chat.is_forum:
            raise bad("the chat is not a forum")
        return chat

    def _forum_topic(self, chat: Chat, p: Params) -> Topic:
        """A topic addressed by message_thread_id in the topic management methods."""
        thread_id = p.int("message_thread_id")
        if thread_id is None or thread_id <= 0:
            raise bad("invalid message thread identifier specified")
        topic = chat.topics.get(thread_id)
        if topic is None:
            raise bad("TOPIC_ID_INVALID")
        if topic.deleted:
            raise bad("TOPIC_DELETED")
        return topic

    def _may_manage(self, chat: Chat, topic: Topic, right: str, action: str) -> None:
        """Topic changes need an administrator right unless the bot created the topic (TDLib ForumTopicManager)."""
        if not self._bot(chat).can(right) and topic.creator_id != self.sb.bot_user_id:
            raise bad(f"not enough rights to {action}")

    def _service(self, chat: Chat, body: dict, thread: int | None) -> Record:
        return self.sb.new_message(chat, self.sb.bot_user, body, thread_id=thread)

    def _message_ids(self, p: Params) -> list[int]:
        ids = p.json("message_ids", "message identifiers")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise bad("can't parse message identifiers JSON object")
        if not 1 <= len(ids) <= 100:  # "A JSON-serialized list of 1-100 identifiers" (copyMessages, forwardMessages)
            raise bad("message identifiers must be specified" if not ids else "too many messages identifiers")
        if any(b <= a for a, b in zip(ids, ids[1:])):
            raise bad("message identifiers must be in a strictly increasing order")
        return ids

    # -------------------------------------------------------------------------------------- bot & updates

    @api("getMe")
    async def get_me(self, p: Params) -> dict:
        return {
            **self.sb.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,  # privacy mode on, as for a new bot
            "supports_inline_queries": False,
            "can_connect_to_business": self.sb.business.mode,
            "has_main_web_app": False,
        }

    @api("logOut", "close")
    async def log_out(self, p: Params) -> bool:
        return True

    @api("getUpdates")
    async def get_updates(self, p: Params) -> list[dict]:
        allowed = p.json("allowed_updates", "allowed updates")
        if allowed is not None and not isinstance(allowed, list):
            raise bad("can't parse allowed updates JSON object")
        self.sb.set_allowed_updates(allowed)
        limit = min(max(p.int("limit", 100) or 100, 1), 100)  # "Values between 1-100 are accepted"
        return await self.sb.get_updates(p.int("offset"), limit, max(p.int("timeout", 0) or 0, 0))

    @api("setWebhook")
    async def set_webhook(self, p: Params) -> bool:
        url = p.str("url") or ""
        if not url:  # "Use an empty string to remove webhook integration"
            self.sb.set_webhook(None, drop_pending_updates=p.bool("drop_pending_updates"))
            return True
        if not _https_or_local(url):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.str("secret_token")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):  # "1-256 characters. Only A-Z, a-z, 0-9, _ and -"
            raise bad("secret token contains unallowed characters")
        allowed = p.json("allowed_updates", "allowed updates")
        self.sb.set_allowed_updates(allowed)
        hook = {
            "url": url,
            "secret_token": secret,
            "max_connections": p.int("max_connections", 40),
            "allowed_updates": allowed or None,
            "ip_address": p.str("ip_address"),
        }
        self.sb.set_webhook(hook, drop_pending_updates=p.bool("drop_pending_updates"))
        return True

    @api("deleteWebhook")
    async def delete_webhook(self, p: Params) -> bool:
        self.sb.set_webhook(None, drop_pending_updates=p.bool("drop_pending_updates"))
        return True

    @api("getWebhookInfo")
    async def get_webhook_info(self, p: Params) -> dict:
        return self.sb.webhook_info()

    @api("setMyCommands")
    async def set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:  # "At most 100 commands can be specified"
            raise bad("can't parse commands JSON object")
        for command in commands:
            # BotCommand.command: "1-32 characters. Can contain only lowercase English letters, digits and underscores"
            if not isinstance(command, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise bad("command description must be non-empty")
        keys = ("command", "description")
        self.sb.commands[self._commands_key(p)] = [{k: c[k] for k in keys} for c in commands]
        return True

    @api("getMyCommands")
    async def get_my_commands(self, p: Params) -> list[dict]:
        return self.sb.commands.get(self._commands_key(p), [])

    @api("deleteMyCommands")
    async def delete_my_commands(self, p: Params) -> bool:
        self.sb.commands.pop(self._commands_key(p), None)
        return True

    def _commands_key(self, p: Params) -> str:
        scope = p.json("scope", "BotCommandScope") or {"type": "default"}
        return json.dumps([scope, p.str("language_code") or ""], sort_keys=True)

    @api("setChatMenuButton")
    async def set_chat_menu_button(self, p: Params) -> bool:
        button = p.json("menu_button", "menu button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise bad("can't parse menu button JSON object")
        if button["type"] == "web_app":
            url = (button.get("web_app") or {}).get("url", "")
            if not button.get("text") or not _https_or_local(url):
                raise bad(f"menu button Web App URL '{url}' is invalid: Only HTTPS links are allowed")
        chat_id = self._chat(p, write=False).id if p.has("chat_id") else None
        self.sb.menu_buttons[chat_id] = button
        return True

    @api("getChatMenuButton")
    async def get_chat_menu_button(self, p: Params) -> dict:
        chat_id = self._chat(p, write=False).id if p.has("chat_id") else None
        return self.sb.menu_buttons.get(chat_id) or self.sb.menu_buttons.get(None) or {"type": "default"}

    # ------------------------------------------------------------------------------------------- sending

    @api("sendMessage")
    async def send_message(self, p: Params) -> dict:
        text, entities = self._text(p)  # Telegram parses the markup before it looks at the chat
        chat = self._chat(p)
        inline, keyboard = self._markup(chat, p)
        reply = self._reply_target(chat, p)
        thread = self._thread(chat, p.int("message_thread_id"), reply)
        self._charge(chat)
        body = self._options(p, {"text": text, **({"entities": entities} if entities else {})}, inline)
        return self._post(chat, body, thread, reply, keyboard).msg

    async def _send_media(self, p: Params, kind: str) -> dict:
        caption, entities = self._caption(p)
        chat = self._chat(p)
        inline, keyboard = self._markup(chat, p)
        reply = self._reply_target(chat, p)
        thread = self._thread(chat, p.int("message_thread_id"), reply)
        stored = await self._input_file(p, kind, kind)
        extra = {k: p.int(k) for k in ("duration", "width", "height", "length")}
        extra.update({k: p.str(k) for k in ("performer", "title")})
        self._charge(chat)
        body: dict[str, Any] = {kind: stored.media(extra)}
        if caption and kind not in ("sticker", "video_note"):
            body["caption"] = caption
            if entities:
                body["caption_entities"] = entities
        if p.bool("has_spoiler"):
            body["has_media_spoiler"] = True
        return self._post(chat, self._options(p, body, inline), thread, reply, keyboard).msg

    @api("sendPhoto")
    async def send_photo(self, p: Params) -> dict:
        return await self._send_media(p, "photo")

    @api("sendDocument")
    async def send_document(self, p: Params) -> dict:
        return await self._send_media(p, "document")

    @api("sendVoice")
    async def send_voice(self, p: Params) -> dict:
        return await self._send_media(p, "voice")

    @api("sendAudio")
    async def send_audio(self, p: Params) -> dict:
        return await self._send_media(p, "audio")

    @api("sendVideo")
    async def send_video(self, p: Params) -> dict:
        return await self._send_media(p, "video")

    @api("sendVideoNote")
    async def send_video_note(self, p: Params) -> dict:
        return await self._send_media(p, "video_note")

    @api("sendSticker")
    async def send_sticker(self, p: Params) -> dict:
        return await self._send_media(p, "sticker")

    @api("sendAnimation")
    async def send_animation(self, p: Params) -> dict:
        return await self._send_media(p, "animation")

    @api("sendMediaGroup")
    async def send_media_group(self, p: Params) -> list[dict]:
        media = p.json("media", "media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise bad("can't parse media JSON object")
        # "A JSON-serialized array describing messages to be sent, must include 2-10 items" (sendMediaGroup)
        if len(media) > 10:
            raise bad("too much messages to send as an album")
        if len(media) < 2:
            raise bad("wrong number of media in the album: must include 2-10 items")
        chat = self._chat(p)
        reply = self._reply_target(chat, p)
        thread = self._thread(chat, p.int("message_thread_id"), reply)
        items = []
        for item in media:
            kind = item.get("type")
            if kind not in ("photo", "video", "document", "audio"):  # the InputMedia types an album accepts
                raise bad(f'can\'t parse InputMedia: unsupported media type "{kind}"')
            caption, entities = self._formatted(
                item.get("caption"), item.get("parse_mode") or p.str("parse_mode"), item.get("caption_entities"),
                limit=MAX_CAPTION, too_long="message caption is too long",
            )  # fmt: skip
            stored = await self._input_file(p, "media", kind, item.get("media"))
            body: dict[str, Any] = {kind: stored.media({k: item.get(k) for k in ("duration", "width", "height")})}
            if caption:
                body["caption"] = caption
                if entities:
                    body["caption_entities"] = entities
            items.append(body)
        self._charge(chat, len(items))  # every item of an album is a message for flood control
        group_id = str(secrets.randbits(62))
        records = [
            self._post(chat, self._options(p, {**body, "media_group_id": group_id}, None), thread, reply if i == 0 else None)
            for i, body in enumerate(items)
        ]
        return [record.msg for record in records]

    def _copy_body(self, record: Record) -> dict:
        keys = ("text", "entities", "link_preview_options", "caption", "caption_entities", "has_media_spoiler")
        return {k: record.msg[k] for k in (*keys, *MEDIA_KINDS) if k in record.msg}

    def _source(self, p: Params, message_id: int, missing: str) -> Record:
        source = self._chat(p, "from_chat_id", write=False)
        record = source.visible(message_id)
        if record is None:
            raise bad(missing)
        return record

    @api("copyMessage")
    async def copy_message(self, p: Params) -> dict:
        chat = self._chat(p)
        record = self._source(p, p.int("message_id") or 0, "message to copy not found")
        if record.service:
            raise bad("message can't be copied")
        body = self._copy_body(record)
        if p.values.get("caption") is not None or p.bool("remove_caption"):
            body.pop("caption", None)
            body.pop("caption_entities", None)
            caption, entities = self._caption(p)
            if caption and "text" not in body:
                body["caption"] = caption
                if entities:
                    body["caption_entities"] = entities
        inline, keyboard = self._markup(chat, p)
        reply = self._reply_target(chat, p)
        thread = self._thread(chat, p.int("message_thread_id"), reply)
        self._charge(chat)
        return {"message_id": self._post(chat, self._options(p, body, inline), thread, reply, keyboard).msg["message_id"]}

    @api("forwardMessage")
    async def forward_message(self, p: Params) -> dict:
        chat = self._chat(p)
        record = self._source(p, p.int("message_id") or 0, "message to forward not found")
        if record.service:
            raise bad("message can't be forwarded")
        thread = self._thread(chat, p.int("message_thread_id"), None)
        self._charge(chat)
        return self._post(chat, self._forwarded(record), thread, None).msg

    def _forwarded(self, record: Record) -> dict:
        """forward_origin of a forwarded message (https://core.telegram.org/bots/api#messageoriginuser)."""
        origin = {"type": "user", "sender_user": record.msg["from"], "date": record.msg["date"]}
        return {"forward_origin": origin, **self._copy_body(record)}

    @api("copyMessages", "forwardMessages")
    async def copy_messages(self, p: Params) -> list[dict]:
        """Missing or service messages are skipped; albums stay albums (copyMessages, forwardMessages)."""
        chat = self._chat(p)
        ids = self._message_ids(p)
        source = self._chat(p, "from_chat_id", write=False)
        records = [r for r in (source.visible(i) for i in ids) if r is not None and not r.service]
        thread = self._thread(chat, p.int("message_thread_id"), None)
        self._charge(chat, max(len(records), 1))
        forward = p.method == "forwardmessages"
        albums: dict[str, str] = {}
        result = []
        for record in records:
            body = self._forwarded(record) if forward else self._copy_body(record)
            if not forward and p.bool("remove_caption"):
                body.pop("caption", None)
                body.pop("caption_entities", None)
            if group := record.msg.get("media_group_id"):
                body["media_group_id"] = albums.setdefault(group, str(secrets.randbits(62)))
            result.append({"message_id": self._post(chat, body, thread, None).msg["message_id"]})
        return result

    @api("sendChatAction")
    async def send_chat_action(self, p: Params) -> bool:
        chat = self._chat(p)
        action = p.str("action")
        if action not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        chat.last_action = {"action": action, "thread_id": p.int("message_thread_id"), "date": int(time.time())}
        return True

    # ------------------------------------------------------------------------------------------- editing

    def _editable(self, p: Params) -> tuple[Chat, Record]:
        if p.has("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")  # inline mode isn't emulated
        chat = self._chat(p)
        record = chat.visible(p.int("message_id") or 0)
        if record is None:
            raise bad("message to edit not found")
        by_bot = (record.msg.get("sender_business_bot") or {}).get("id") == self.sb.bot_user_id
        if (record.sender_id != self.sb.bot_user_id and not by_bot) or record.service:
            raise bad("message can't be edited")
        return chat, record

    def _apply_edit(self, chat: Chat, record: Record, changes: dict) -> dict:
        current = {key: record.msg.get(key) or None for key in changes}
        if current == {key: value or None for key, value in changes.items()}:
            raise bad(NOT_MODIFIED)
        self._charge(chat)
        self.sb.edit_message(record, changes)
        if chat.business_owner_id is not None:
            self.sb.business.edited_by_bot(chat, record)  # the same message in the account's MTProto world
        return record.msg

    @api("editMessageText")
    async def edit_message_text(self, p: Params) -> dict:
        chat, record = self._editable(p)
        if "text" not in record.msg:
            raise bad("there is no text in the message to edit")
        text, entities = self._text(p)
        inline, _ = self._markup(chat, p)  # leaving reply_markup out removes the inline keyboard
        return self._apply_edit(chat, record, {"text": text, "entities": entities, "reply_markup": inline})

    @api("editMessageCaption")
    async def edit_message_caption(self, p: Params) -> dict:
        chat, record = self._editable(p)
        if "text" in record.msg:
            raise bad("there is no caption in the message to edit")
        caption, entities = self._caption(p)
        inline, _ = self._markup(chat, p)
        return self._apply_edit(chat, record, {"caption": caption, "caption_entities": entities, "reply_markup": inline})

    @api("editMessageReplyMarkup")
    async def edit_message_reply_markup(self, p: Params) -> dict:
        chat, record = self._editable(p)
        inline, _ = self._markup(chat, p)
        return self._apply_edit(chat, record, {"reply_markup": inline})

    @api("deleteMessage")
    async def delete_message(self, p: Params) -> bool:
        chat = self._chat(p, write=False)
        record = chat.visible(p.int("message_id") or 0)
        if record is None:
            raise bad("message to delete not found")
        self._check_deletable(chat, record)
        self.sb.delete_message(record)
        return True

    @api("deleteMessages")
    async def delete_messages(self, p: Params) -> bool:
        chat = self._chat(p, write=False)
        for message_id in self._message_ids(p):
            record = chat.visible(message_id)
            if record is not None:  # "If some of the specified messages can't be found, they are skipped"
                self._check_deletable(chat, record)
                self.sb.delete_message(record)
        return True

    def _check_deletable(self, chat: Chat, record: Record) -> None:
        """deleteMessage: bots delete their own messages, any message in private chats, and others' messages in
        groups with can_delete_messages; topic creation messages can't be deleted."""
        own = record.sender_id == self.sb.bot_user_id
        if record.service == "forum_topic_created" or not (
            own or chat.type == "private" or self._bot(chat).can("can_delete_messages")
        ):
            raise bad("message can't be deleted")

    @api("setMessageReaction")
    async def set_message_reaction(self, p: Params) -> bool:
        chat = self._chat(p, write=False)
        record = chat.visible(p.int("message_id") or 0)
        if record is None:
            raise bad("message to react not found")
        reactions = p.json("reaction", "reaction types") or []
        if not isinstance(reactions, list):
            raise bad("can't parse reaction types JSON object")
        for reaction in reactions:
            emoji = reaction.get("emoji") if isinstance(reaction, dict) and reaction.get("type") == "emoji" else None
            if emoji not in REACTION_EMOJI:
                raise bad("REACTION_INVALID")
        if len(reactions) > 1:  # "Bots can't use paid reactions" and set at most one
            raise bad("REACTIONS_TOO_MANY")
        record.reactions = [{"type": "emoji", "emoji": r["emoji"]} for r in reactions]
        return True

    @api("pinChatMessage")
    async def pin_chat_message(self, p: Params) -> bool:
        chat = self._chat(p)
        record = chat.visible(p.int("message_id") or 0)
        if chat.is_group and not self._bot(chat).can("can_pin_messages"):
            raise bad("not enough rights to manage pinned messages in the chat")
        if record is None:
            raise bad("message to pin not found")
        record.pinned = True
        if chat.is_group:  # groups get a "pinned a message" service message in the same topic
            self._service(chat, {"pinned_message": strip_reply(record.msg)}, record.thread_id)
        return True

    @api("unpinChatMessage")
    async def unpin_chat_message(self, p: Params) -> bool:
        chat = self._chat(p)
        if chat.is_group and not self._bot(chat).can("can_pin_messages"):
            raise bad("not enough rights to manage pinned messages in the chat")
        pinned = [r for r in chat.messages.values() if r.pinned and not r.deleted]
        if p.has("message_id"):  # else "the most recent pinned message (by sending date) will be unpinned"
            pinned = [r for r in pinned if r.msg["message_id"] == p.int("message_id")]
        if pinned:
            pinned[-1].pinned = False
        return True

    @api("unpinAllChatMessages", "unpinAllForumTopicMessages")
    async def unpin_all(self, p: Params) -> bool:
        chat = self._chat(p)
        if chat.is_group and not self._bot(chat).can("can_pin_messages"):
            raise bad("not enough rights to manage pinned messages in the chat")
        thread = p.int("message_thread_id")
        for record in chat.messages.values():
            if thread is None or record.thread_id == thread:
                record.pinned = False
        return True

    # --------------------------------------------------------------------------------------- callbacks

    @api("answerCallbackQuery")
    async def answer_callback_query(self, p: Params) -> bool:
        query_id = p.str("callback_query_id") or ""
        query = self.sb.callback_queries.get(query_id)
        if query is None or query["answered"] or time.monotonic() - query["created"] > CALLBACK_QUERY_TTL:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = p.str("text") or ""
        if len(text) > 200:  # "Text of the notification ... 0-200 characters"
            raise bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        self.sb.callback_answers.append({
            "callback_query_id": query_id, "chat_id": query["chat_id"], "message_id": query["message_id"],
            "user_id": query["user_id"], "text": text or None, "show_alert": p.bool("show_alert"),
            "url": p.str("url"), "cache_time": p.int("cache_time", 0),
        })  # fmt: skip
        return True

    # ------------------------------------------------------------------------------------------ topics

    @api("createForumTopic")
    async def create_forum_topic(self, p: Params) -> dict:
        chat = self._forum(p)
        if not self._bot(chat).can("can_manage_topics"):
            raise bad("not enough rights to create a topic")
        name = _clean_topic_name(p.str("name"))
        icon_color = p.int("icon_color", TOPIC_COLORS[0])
        if icon_color not in TOPIC_COLORS:
            raise bad("invalid icon color specified")
        emoji_id = p.str("icon_custom_emoji_id")
        self._charge(chat)
        return self.sb.add_topic(chat, name, icon_color, emoji_id, self.sb.bot_user).json()

    @api("editForumTopic")
    async def edit_forum_topic(self, p: Params) -> bool:
        chat = self._forum(p)
        topic = self._forum_topic(chat, p)
        self._may_manage(chat, topic, "can_manage_topics", "edit the topic")
        changes: dict[str, Any] = {}
        if p.has("name"):
            changes["name"] = _clean_topic_name(p.str("name"))
        if "icon_custom_emoji_id" in p.values:  # "Pass an empty string to remove the icon"
            changes["icon_custom_emoji_id"] = p.str("icon_custom_emoji_id") or ""
        if not changes:
            return True
        if all((getattr(topic, key) or "") == value for key, value in changes.items()):
            raise bad("TOPIC_NOT_MODIFIED")
        self._charge(chat)
        topic.name = changes.get("name", topic.name)
        topic.icon_custom_emoji_id = changes.get("icon_custom_emoji_id", topic.icon_custom_emoji_id) or None
        self._service(chat, {"forum_topic_edited": changes}, topic.id)
        return True

    @api("closeForumTopic", "reopenForumTopic")
    async def toggle_forum_topic(self, p: Params) -> bool:
        chat = self._forum(p)
        topic = self._forum_topic(chat, p)
        self._may_manage(chat, topic, "can_manage_topics", "close or open the topic")
        closing = p.method == "closeforumtopic"
        if topic.closed == closing:
            raise bad("TOPIC_NOT_MODIFIED")
        topic.closed = closing
        self._service(chat, {"forum_topic_closed" if closing else "forum_topic_reopened": {}}, topic.id)
        return True

    @api("deleteForumTopic")
    async def delete_forum_topic(self, p: Params) -> bool:
        chat = self._forum(p)
        topic = self._forum_topic(chat, p)
        self._may_manage(chat, topic, "can_delete_messages", "delete the topic")
        self.sb.remove_topic(chat, topic)
        return True

    @api("getForumTopicIconStickers")
    async def get_forum_topic_icon_stickers(self, p: Params) -> list[dict]:
        return self.sb.topic_icon_stickers()

    # -------------------------------------------------------------------------------------- chat & members

    @api("getChat")
    async def get_chat(self, p: Params) -> dict:
        return self._chat(p, write=False).full()

    @api("getChatMember")
    async def get_chat_member(self, p: Params) -> dict:
        chat = self._chat(p, write=False)
        user_id = p.int("user_id")
        if user_id not in self.sb.users:
            raise bad("user not found")
        return self.sb.member_json(chat, user_id)

    @api("getChatAdministrators")
    async def get_chat_administrators(self, p: Params) -> list[dict]:
        chat = self._chat(p, write=False)
        if chat.type == "private":
            raise bad("there are no administrators in the private chat")
        return [self.sb.member_json(chat, uid) for uid, member in chat.members.items() if member.is_admin]

    @api("getChatMemberCount")
    async def get_chat_member_count(self, p: Params) -> int:
        chat = self._chat(p, write=False)
        return sum(1 for member in chat.members.values() if member.is_in_chat)

    def _restrictable(self, p: Params) -> tuple[Chat, int]:
        chat = self._chat(p, write=False)
        if chat.type == "private":
            raise bad("chat member status can't be changed in private chats")
        if not self._bot(chat).can("can_restrict_members"):
            raise bad("not enough rights to restrict/unrestrict chat member")
        user_id = p.int("user_id")
        if user_id not in self.sb.users:
            raise bad("user not found")
        return chat, user_id

    @api("banChatMember")
    async def ban_chat_member(self, p: Params) -> bool:
        chat, user_id = self._restrictable(p)
        status = self.sb.member(chat, user_id).status
        if status == "creator":
            raise bad("can't remove chat owner")
        if status == "administrator":
            raise bad("user is an administrator of the chat")
        self._change_member(chat, user_id, Member("kicked", until_date=p.int("until_date", 0) or 0))
        if p.bool("revoke_messages"):
            for record in chat.messages.values():
                if record.sender_id == user_id:
                    record.deleted = True
        return True

    @api("unbanChatMember")
    async def unban_chat_member(self, p: Params) -> bool:
        """"By default, this method guarantees that after the call the user is not a member of the chat, but will be
        able to join it. So if the user is a member of the chat they will also be removed" (unbanChatMember)."""
        chat, user_id = self._restrictable(p)
        status = self.sb.member(chat, user_id).status
        if status == "creator" or status == "administrator":
            raise bad("user is an administrator of the chat")
        if status == "kicked" or (status == "member" and not p.bool("only_if_banned")):
            self._change_member(chat, user_id, Member("left"))
        return True

    def _change_member(self, chat: Chat, user_id: int, member: Member) -> None:
        old = self.sb.member_json(chat, user_id)
        chat.members[user_id] = member
        self.sb.left_links(chat, user_id)
        update = self.sb.member_update(chat, self.sb.bot_user, old, self.sb.member_json(chat, user_id))
        self.sb.enqueue("chat_member", update)

    # ------------------------------------------------------------------------- invite links and join requests
    # Checks in the official server's order (telegram-bot-api's Client.cpp reading the parameters, then TDLib's
    # DialogInviteLinkManager): the chat, a private chat, the join request / member limit conflict, the right.

    def _links_chat(self, p: Params) -> Chat:
        chat = self._chat(p, write=False)
        if chat.type == "private":
            raise bad("can't invite members to a private chat")
        return chat

    def _link_fields(self, chat: Chat, p: Params) -> dict:
        """name, expire_date, member_limit, creates_join_request as create and edit read them: a missing one is
        its default (an edit sets every field)."""
        name = " ".join((p.str("name") or "").replace("\n", " ").split(" ")).strip()[:MAX_INVITE_LINK_NAME]
        expire_date = p.int("expire_date", 0) or 0
        member_limit = p.int("member_limit", 0) or 0
        creates_join_request = p.bool("creates_join_request")
        if creates_join_request and member_limit > 0:
            raise bad("member limit can't be specified for links requiring administrator approval")
        if not self._bot(chat).can("can_invite_users"):
            raise bad("not enough rights to manage chat invite link")
        if expire_date and expire_date <= time.time():
            raise bad("EXPIRE_DATE_INVALID")
        if member_limit < 0 or member_limit > MAX_INVITE_MEMBER_LIMIT:
            raise bad("USAGE_LIMIT_INVALID")
        return {"name": name, "expire_date": max(expire_date, 0), "member_limit": member_limit,
                "creates_join_request": creates_join_request}

    def _own_link(self, chat: Chat, p: Params) -> InviteLink:
        url = p.str("invite_link") or ""
        if not url:
            raise bad("invite link must be non-empty")
        link = next((link for link in chat.invite_links if link.url == url), None)
        if link is None:
            raise bad("INVITE_HASH_EXPIRED")
        if link.creator_id != self.sb.bot_user_id:
            # "Use this method to edit a non-primary invite link created by the bot" (editChatInviteLink)
            raise bad("CHAT_ADMIN_REQUIRED")
        return link

    @api("createChatInviteLink")
    async def create_chat_invite_link(self, p: Params) -> dict:
        chat = self._links_chat(p)
        fields = self._link_fields(chat, p)
        link = InviteLink(url=f"https://t.me/+{secrets.token_urlsafe(12)[:16]}", creator_id=self.sb.bot_user_id,
                          **fields)
        chat.invite_links.append(link)
        self.sb._changed()
        return self.sb.link_json(chat, link)

    @api("editChatInviteLink")
    async def edit_chat_invite_link(self, p: Params) -> dict:
        chat = self._links_chat(p)
        fields = self._link_fields(chat, p)
        link = self._own_link(chat, p)
        if link.is_revoked:
            raise bad("INVITE_REVOKED_MISSING")
        for key, value in fields.items():
            setattr(link, key, value)
        self.sb._changed()
        return self.sb.link_json(chat, link)

    @api("revokeChatInviteLink")
    async def revoke_chat_invite_link(self, p: Params) -> dict:
        chat = self._links_chat(p)
        if not self._bot(chat).can("can_invite_users"):
            raise bad("not enough rights to manage chat invite link")
        link = self._own_link(chat, p)
        link.is_revoked = True
        # Pending requests through a revoked link stay: an administrator may still decide them.
        self.sb._changed()
        return self.sb.link_json(chat, link)

    def _join_request(self, p: Params) -> tuple[Chat, int, dict]:
        user_id = p.int("user_id", 0) or 0
        if user_id <= 0:
            raise bad("invalid user_id specified")
        chat = self._chat(p, write=False)
        if chat.type == "private":
            raise bad("the chat can't have join requests")
        if not self._bot(chat).can("can_invite_users"):
            raise bad("not enough rights to manage chat join requests")
        if self.sb.member(chat, user_id).is_in_chat:
            raise bad("USER_ALREADY_PARTICIPANT")
        request = chat.join_requests.get(user_id)
        if request is None:
            raise bad("HIDE_REQUESTER_MISSING")
        return chat, user_id, request

    @api("approveChatJoinRequest")
    async def approve_chat_join_request(self, p: Params) -> bool:
        chat, user_id, request = self._join_request(p)
        # The person comes in through the link they asked with; the chat_member update is "from" the approving bot.
        self.sb.admit(chat, self.sb.users[user_id], request["link"], actor=self.sb.bot_user)
        return True

    @api("declineChatJoinRequest")
    async def decline_chat_join_request(self, p: Params) -> bool:
        chat, user_id, _ = self._join_request(p)
        del chat.join_requests[user_id]  # no update tells anyone; the person may ask again
        self.sb._changed()
        return True

    # -------------------------------------------------------------------------------------------- files

    @api("getFile")
    async def get_file(self, p: Params) -> dict:
        stored = self.sb.files.get(p.str("file_id") or "")
        if stored is None:
            raise bad("invalid file id")
        if len(stored.data) > 20 * 1024 * 1024:  # "bots can download files of up to 20MB in size" (getFile)
            raise bad("file is too big")
        return stored.json()


def _clean_topic_name(name: str | None) -> str:
    """TDLib's clean_name: new lines become spaces, surrounding spaces go, and the name is cut to 128 characters;
    an empty name is refused (ForumTopicManager::create_forum_topic)."""
    cleaned = " ".join((name or "").replace("\n", " ").split(" ")).strip()[:MAX_TOPIC_NAME]
    if not cleaned:
        raise bad("title must be non-empty")
    return cleaned
