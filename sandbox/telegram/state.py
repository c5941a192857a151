"""In-memory world of the Telegram stand-in: chats, members, forum topics, messages, files."""

from __future__ import annotations

import mimetypes
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

# Administrator rights a ChatMemberAdministrator carries (https://core.telegram.org/bots/api#chatmemberadministrator).
ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
    "can_delete_stories", "can_send_welcome_messages", "can_pin_messages", "can_manage_topics",
)  # fmt: skip

# createForumTopic: "Color of the topic icon in RGB format. Currently, must be one of 7322096 (0x6FB9F0),
# 16766590 (0xFFD67E), 13338331 (0xCB86DB), 9367192 (0x8EEE98), 16749490 (0xFF93B2), or 16478047 (0xFB6F5F)"
# (https://core.telegram.org/bots/api#createforumtopic).
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)

# ReactionTypeEmoji.emoji (https://core.telegram.org/bots/api#reactiontypeemoji).
REACTION_EMOJI = frozenset(
    "❤ 👍 👎 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 "
    "😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡".split()
)

# sendChatAction.action (https://core.telegram.org/bots/api#sendchataction).
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document",
    "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})  # fmt: skip

# Update types delivered when allowed_updates is empty: all but these three
# (https://core.telegram.org/bots/api#getupdates, allowed_updates).
NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Custom emoji a bot may use as topic icons (https://core.telegram.org/bots/api#getforumtopiciconstickers).
TOPIC_ICONS = (
    ("5312536423851630001", "💡"), ("5377498341074542641", "❗️"), ("5309958691854754293", "✅"),
    ("5418085807791545980", "⏳"), ("5312241539987020022", "🔥"), ("5350305691942788490", "📈"),
    ("5357107601584693888", "💬"), ("5409357944619802453", "📝"), ("5312315739842026755", "🏆"),
    ("5420216386448270341", "⛔️"), ("5377544228505134960", "🆕"), ("5408906741125490282", "💰"),
)  # fmt: skip

SERVICE_KEYS = (
    "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened", "pinned_message",
    "new_chat_members", "left_chat_member",
)  # fmt: skip
CONTENT_KEYS = ("text", "entities", "caption", "caption_entities", "link_preview_options")
MEDIA_KINDS = ("photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation")

_FOLDERS = {
    "photo": ("photos", ".jpg"), "document": ("documents", ""), "voice": ("voice", ".oga"),
    "audio": ("music", ".mp3"), "video": ("videos", ".mp4"), "video_note": ("video_notes", ".mp4"),
    "sticker": ("stickers", ".webp"), "animation": ("animations", ".mp4"),
}  # fmt: skip
_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA", "voice": "AwACAgIAAxkBAA", "audio": "CQACAgIAAxkBAA",
    "video": "BAACAgIAAxkBAA", "video_note": "DQACAgIAAxkBAA", "sticker": "CAACAgIAAxkBAA",
    "animation": "CgACAgIAAxkBAA",
}  # fmt: skip
_DEFAULT_MIME = {
    "voice": "audio/ogg", "audio": "audio/mpeg", "video": "video/mp4", "video_note": "video/mp4",
    "animation": "video/mp4", "sticker": "image/webp", "photo": "image/jpeg",
}  # fmt: skip


@dataclass
class Member:
    status: str  # creator | administrator | member | left | kicked
    rights: dict[str, bool] = field(default_factory=dict)
    until_date: int = 0

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    @property
    def is_in_chat(self) -> bool:
        return self.status in ("creator", "administrator", "member")

    def can(self, right: str) -> bool:
        return self.status == "creator" or (self.status == "administrator" and bool(self.rights.get(right)))


@dataclass
class Topic:
    id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False
    creator_id: int | None = None

    def json(self) -> dict:
        result: dict[str, Any] = {"message_thread_id": self.id, "name": self.name, "icon_color": self.icon_color}
        if self.icon_custom_emoji_id:
            result["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return result


@dataclass
class Record:
    """One message as stored: its current Bot API JSON plus what the sandbox tracks about it."""

    msg: dict
    thread_id: int | None  # forum topic id (None for General and chats without topics)
    edits: list[dict] = field(default_factory=list)  # earlier versions, oldest first
    deleted: bool = False
    pinned: bool = False
    reactions: list[dict] = field(default_factory=list)  # the bot's reaction (setMessageReaction)
    reply_keyboard: dict | None = None  # a ReplyKeyboardMarkup/Remove/ForceReply sent with the message

    @property
    def service(self) -> str | None:
        return next((key for key in SERVICE_KEYS if key in self.msg), None)

    @property
    def sender_id(self) -> int:
        return self.msg["from"]["id"]


class LinkRefused(Exception):
    """An invite link a person cannot use (join_by_link): `status` is the control API's answer, the text Telegram's
    error name."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status


@dataclass
class InviteLink:
    """An additional invite link of a group or channel (createChatInviteLink)."""

    url: str  # https://t.me/+<16-character hash>
    creator_id: int
    name: str = ""
    expire_date: int = 0
    member_limit: int = 0
    creates_join_request: bool = False
    is_revoked: bool = False
    joined: list[int] = field(default_factory=list)  # who joined through it and is still a member (member_limit)

    def json(self, creator: dict, viewer_id: int, pending: int = 0) -> dict:
        """ChatInviteLink (https://core.telegram.org/bots/api#chatinvitelink), in the official server's field order.
        "If the link was created by another chat administrator, then the second part of the link will be replaced
        with '…'": a bot that did not create it sees the first half of the hash and "..."."""
        url = self.url
        if self.creator_id != viewer_id:
            head, hash_ = url.rsplit("+", 1)
            url = f"{head}+{hash_[: len(hash_) // 2]}..."
        result: dict[str, Any] = {"invite_link": url}
        if self.name:
            result["name"] = self.name
        result["creator"] = dict(creator)
        if self.expire_date:
            result["expire_date"] = self.expire_date
        if self.member_limit:
            result["member_limit"] = self.member_limit
        result.update(creates_join_request=self.creates_join_request, is_primary=False, is_revoked=self.is_revoked)
        if pending:
            result["pending_join_request_count"] = pending
        return result


@dataclass
class Chat:
    id: int
    type: str  # private | group | supergroup | channel
    title: str | None = None
    user: dict | None = None  # the user of a private chat
    is_forum: bool = False
    members: dict[int, Member] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, Record] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False  # private chat: the user blocked the bot
    invite_links: list[InviteLink] = field(default_factory=list)
    join_requests: dict[int, dict] = field(default_factory=dict)  # user id → {"date", "link": InviteLink}
    last_action: dict | None = None
    business_owner_id: int | None = None  # a business account's chat with this user (sandbox/telegram/business.py)

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    @property
    def is_channel(self) -> bool:
        return self.type == "channel"

    @property
    def kind_name(self) -> str:
        """As Bot API errors name the chat: "bot is not a member of the channel chat" / "supergroup chat"."""
        return {"supergroup": "supergroup chat", "channel": "channel chat"}.get(self.type, "group chat")

    def short(self) -> dict:
        if self.type == "private":
            assert self.user is not None
            keys = ("first_name", "last_name", "username")
            return {"id": self.id, "type": "private", **{k: self.user[k] for k in keys if self.user.get(k)}}
        result: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.is_forum:
            result["is_forum"] = True
        return result

    def full(self) -> dict:
        """ChatFullInfo (https://core.telegram.org/bots/api#chatfullinfo)."""
        result = {
            **self.short(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                "premium_subscription": False, "gifts_from_channels": False,
            },
        }  # fmt: skip
        pinned = [r for r in self.messages.values() if r.pinned and not r.deleted]
        if pinned:
            result["pinned_message"] = strip_reply(pinned[-1].msg)
        if self.is_group:
            result["permissions"] = {"can_send_messages": True, "can_manage_topics": False}
        return result

    def visible(self, message_id: int) -> Record | None:
        record = self.messages.get(message_id)
        return None if record is None or record.deleted else record


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    def json(self) -> dict:
        """File (https://core.telegram.org/bots/api#file)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def media(self, extra: dict | None = None) -> Any:
        """The message field describing this file: PhotoSize list, Document, Voice, ..."""
        extra = {k: v for k, v in (extra or {}).items() if v is not None}
        base = {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": len(self.data)}
        if self.kind == "photo":
            width, height = image_size(self.data)
            return [{**base, "width": width, "height": height}]
        if self.kind == "sticker":
            return {**base, "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}
        if self.kind == "video_note":
            return {**base, "length": extra.get("length", 240), "duration": extra.get("duration", 0)}
        result = {**base, "mime_type": self.mime_type}
        if self.kind in ("voice", "audio", "video", "animation"):
            result["duration"] = extra.get("duration", 0)
        if self.kind in ("video", "animation"):
            result["width"], result["height"] = extra.get("width", 640), extra.get("height", 360)
        if self.kind in ("document", "audio", "video", "animation") and self.file_name:
            result["file_name"] = self.file_name
        if self.kind == "audio":
            result.update({k: extra[k] for k in ("performer", "title") if k in extra})
        return result


def new_file(kind: str, data: bytes, counter: int, file_name: str | None, mime_type: str | None) -> StoredFile:
    folder, ext = _FOLDERS[kind]
    if kind == "document":
        ext = ("." + file_name.rsplit(".", 1)[1]) if file_name and "." in file_name else ""
    if mime_type in (None, "", "application/octet-stream"):
        guessed = mimetypes.guess_type(file_name)[0] if file_name else None
        mime_type = guessed or _DEFAULT_MIME.get(kind, "application/octet-stream")
    return StoredFile(
        file_id=_ID_PREFIX[kind] + secrets.token_urlsafe(36),
        file_unique_id="AgAD" + secrets.token_urlsafe(9),
        kind=kind,
        data=data,
        file_path=f"{folder}/file_{counter}{ext}",
        file_name=file_name,
        mime_type=mime_type,
    )


def strip_reply(msg: dict) -> dict:
    """Messages nested in reply_to_message / pinned_message don't carry their own reply_to_message."""
    return {k: v for k, v in msg.items() if k not in ("reply_to_message", "pinned_message")}


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG; 800x600 for anything else (the sandbox accepts any bytes)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
    return 800, 600
