"""The media library: images, video, voice notes and documents a tenant keeps to send to customers (quick replies).

Files come from the Mini App (an upload) or from the bot's private chat (a file sent with `/save <name>`); both go
through `add_item`, which checks them against what every channel accepts, so that an item in the library can reach
a customer on Telegram and on VK alike:

- size: a bot downloads at most 20 MB from Telegram (getFile) — checked by the bot before it asks for the file — and
  uploads at most 50 MB (sendDocument/sendVideo/sendVoice), which is the library's limit; VK takes documents up to
  200 MB and photos up to 50 MB, so Telegram's bound is the one that binds;
- photos: JPEG, PNG or GIF (VK's photo upload takes these three), at most 10 MB, width + height at most 10000 and a
  side ratio of at most 20 (Telegram's sendPhoto);
- video: MP4 (Telegram plays MPEG-4 as a video; VK gets it as a document);
- voice: OGG/Opus (a voice bubble in Telegram; VK's audio messages take OGG/Opus);
- documents: anything but executables (VK refuses them) and MP3 (VK takes no audio as a document).

The bytes go to the content-addressed media store (core.media) under `library/<tenant id>`; the row keeps the key, its
type, size and checksum. What a channel already holds of an item is cached for the next send: the manager bot's
Telegram file id (MediaItem.telegram_file_id: re-sent through the bot without uploading) and, per VK community or
account, the attachment string VK gave the first upload (MediaChannelRef).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..channels import CHANNEL_KINDS
from ..errors import UserError
from ..media import GENERIC_MIME, MediaStore, sniff_mime
from ..models import AttachmentKind, ChannelAccount, MediaChannelRef, MediaItem, QuickReply

MB = 1024 * 1024
BOT_DOWNLOAD_LIMIT = 20 * MB  # Bot API getFile: "bots can download files of up to 20 MB"
UPLOAD_LIMIT = 50 * MB  # Bot API: bots upload files of up to 50 MB (VK: documents 200 MB, photos 50 MB)
PHOTO_LIMIT = 10 * MB  # Bot API sendPhoto
PHOTO_SIDES = 10_000  # sendPhoto: width + height at most 10000 (VK: 14000)
PHOTO_RATIO = 20  # sendPhoto and VK: sides at most 1:20
PHOTO_MIMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}  # VK's photo upload takes these
VIDEO_MIMES = {"video/mp4"}
# VK refuses executables as documents; MP3 is audio, which VK takes neither as a document nor as a voice message.
REFUSED_EXTENSIONS = frozenset({"exe", "apk", "bat", "cmd", "com", "msi", "scr", "jar", "vbs", "ps1", "sh", "dll",
                                "mp3"})
KINDS = (AttachmentKind.PHOTO, AttachmentKind.VIDEO, AttachmentKind.VOICE, AttachmentKind.DOCUMENT)
TITLE_MAX = 100
TAG_MAX = 32
TAGS_MAX = 10
LIBRARY_NAMESPACE = "library"
_TAG_SPLIT = re.compile(r"[\s,;#]+")
_FILE_NAME_UNSAFE = re.compile(r"[^\w.\- ]+")


class MediaError(UserError):
    """A file or a change the library refuses; `reason` names the text `media.error.<reason>`."""

    def __init__(self, reason: str, message: str, **params):
        super().__init__(message, code=f"media.error.{reason}", **params)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    kind: AttachmentKind
    mime: str


def _mb(size: int) -> str:
    return f"{size / MB:.1f}"


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG, PNG or GIF header, or None when the header cannot be read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def like(word: str) -> str:
    """An ILIKE pattern (escape character backslash) for text containing `word` literally."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _extension(file_name: str | None) -> str:
    return PurePosixPath(file_name or "").suffix.lstrip(".").lower()


def check_size(size: int, *, through_bot: bool = False) -> None:
    """The size bound alone: what the bot can download (20 MB) or what the library keeps (50 MB)."""
    if size <= 0:
        raise MediaError("empty", "the file is empty")
    if through_bot and size > BOT_DOWNLOAD_LIMIT:
        raise MediaError("too_big_for_bot", "bots can download files of up to 20 MB: upload it in the Mini App",
                         size=_mb(size), limit=BOT_DOWNLOAD_LIMIT // MB, upload=UPLOAD_LIMIT // MB)
    if size > UPLOAD_LIMIT:
        raise MediaError("too_big", "bots can send files of up to 50 MB", size=_mb(size), limit=UPLOAD_LIMIT // MB)


def check_file(data: bytes, *, mime: str | None, file_name: str | None, kind: str | None = None) -> Checked:
    """What the file is and whether every channel takes it; MediaError says what is wrong and how to fix it.
    `kind` is what the sender meant (a photo, a voice note, "document" for a file sent as a file); without it the
    bytes and the declared type decide."""
    check_size(len(data))
    sniffed = sniff_mime(data)
    declared = (mime or "").split(";")[0].strip().lower() or None
    real = sniffed or (declared if declared != GENERIC_MIME else None) or GENERIC_MIME
    wanted = AttachmentKind(kind) if kind else None
    if wanted is not None and wanted not in KINDS:
        raise MediaError("kind", "only photos, video, voice notes and documents", kind=str(kind))
    if wanted is None:
        if real.startswith("image/"):
            wanted = AttachmentKind.PHOTO
        elif real.startswith("video/"):
            wanted = AttachmentKind.VIDEO
        elif real == "audio/ogg":
            wanted = AttachmentKind.VOICE
        elif real.startswith("audio/"):
            raise MediaError("audio_format", "audio goes to customers as a voice note in OGG/Opus")
        else:
            wanted = AttachmentKind.DOCUMENT
    if wanted == AttachmentKind.PHOTO:
        if real not in PHOTO_MIMES:
            raise MediaError("photo_format", "photos must be JPEG, PNG or GIF", format=real)
        if len(data) > PHOTO_LIMIT:
            raise MediaError("photo_too_big", "photos are at most 10 MB", size=_mb(len(data)),
                             limit=PHOTO_LIMIT // MB)
        size = image_size(data)
        if size is None or min(size) <= 0:
            raise MediaError("photo_broken", "the image cannot be read")
        width, height = size
        if width + height > PHOTO_SIDES:
            raise MediaError("photo_sides", "width and height together are at most 10000 pixels", width=width,
                             height=height, limit=PHOTO_SIDES)
        if max(width, height) > PHOTO_RATIO * min(width, height):
            raise MediaError("photo_ratio", "the sides of a photo are at most 1:20", width=width, height=height)
    elif wanted == AttachmentKind.VIDEO:
        if real not in VIDEO_MIMES:
            raise MediaError("video_format", "video must be MP4", format=real)
    elif wanted == AttachmentKind.VOICE:
        if real != "audio/ogg" or b"OpusHead" not in data[:512]:
            raise MediaError("voice_format", "voice notes must be OGG/Opus", format=real)
    else:
        extension = _extension(file_name)
        if extension in REFUSED_EXTENSIONS or real == "audio/mpeg":
            raise MediaError("document_format", "VK takes no executables and no MP3 as documents",
                             extension=extension or real)
        if sniffed is None and declared and declared != GENERIC_MIME:
            real = declared
    return Checked(wanted, real)


def clean_title(title: str | None, file_name: str | None = None) -> str:
    title = " ".join((title or "").split()) or PurePosixPath(file_name or "").stem.strip()
    if not title:
        raise MediaError("no_title", "give the file a name")
    if len(title) > TITLE_MAX:
        raise MediaError("title_too_long", "the name is too long", limit=TITLE_MAX)
    return title


def parse_tags(raw) -> list[str]:
    """Tags from a list or a "#a b, c" string: lower-cased, without '#', each once, in order."""
    items = raw if isinstance(raw, list) else _TAG_SPLIT.split(str(raw or ""))
    tags: list[str] = []
    for item in items:
        tag = str(item).strip().lstrip("#").lower()
        if not tag or tag in tags:
            continue
        if len(tag) > TAG_MAX:
            raise MediaError("tag_too_long", "a tag is too long", tag=tag[:40], limit=TAG_MAX)
        tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise MediaError("too_many_tags", "too many tags", limit=TAGS_MAX)
    return tags


async def _title_taken(session: AsyncSession, tenant_id: int, title: str, except_id: int | None = None) -> bool:
    query = select(MediaItem.id).where(MediaItem.tenant_id == tenant_id,
                                       func.lower(MediaItem.title) == title.lower())
    if except_id is not None:
        query = query.where(MediaItem.id != except_id)
    return (await session.execute(query.limit(1))).first() is not None


async def add_item(session: AsyncSession, store: MediaStore, tenant_id: int, data: bytes, *, title: str | None,
                   file_name: str | None = None, mime: str | None = None, kind: str | None = None, tags=None,
                   staff_id: int | None = None, telegram_file_id: str | None = None) -> MediaItem:
    """Check the file, keep its bytes in the media store and add it to the library. Names are unique per tenant
    (case aside): a quick reply and a person name items by them."""
    checked = check_file(data, mime=mime, file_name=file_name, kind=kind)
    title = clean_title(title, file_name)
    tags = parse_tags(tags)
    if await _title_taken(session, tenant_id, title):
        raise MediaError("title_taken", "the library has a file with this name", title=title)
    stored = await store.save(data, namespace=f"{LIBRARY_NAMESPACE}/{tenant_id}", mime=checked.mime,
                              file_name=file_name)
    item = MediaItem(tenant_id=tenant_id, title=title, kind=checked.kind, mime=checked.mime, size=stored.size,
                     sha256=stored.sha256, storage_key=stored.storage_key, tags=tags, created_by_id=staff_id,
                     telegram_file_id=telegram_file_id)
    session.add(item)
    await session.flush()
    events.record(session, "media_item_added", tenant_id=tenant_id, actor_staff_id=staff_id, media_item_id=item.id,
                  media_kind=checked.kind.value, size=stored.size)
    return item


async def get_item(session: AsyncSession, tenant_id: int, item_id: int) -> MediaItem:
    item = await session.get(MediaItem, item_id)
    if item is None or item.tenant_id != tenant_id:
        raise MediaError("unknown", "no such file in the library", id=item_id)
    return item


async def list_items(session: AsyncSession, tenant_id: int, *, query: str = "", kind: str | None = None,
                     limit: int = 200) -> list[MediaItem]:
    """The library, newest first; `query` matches words of the name or a tag, `kind` one kind."""
    statement = select(MediaItem).where(MediaItem.tenant_id == tenant_id)
    for word in query.lower().split()[:5]:
        statement = statement.where(or_(MediaItem.title.ilike(like(word), escape="\\"),
                                        MediaItem.tags.any(word.lstrip("#"))))
    if kind:
        statement = statement.where(MediaItem.kind == AttachmentKind(kind))
    return list((await session.execute(statement.order_by(MediaItem.id.desc()).limit(limit))).scalars())


async def update_item(session: AsyncSession, tenant_id: int, item_id: int, *, title: str | None = None, tags=None,
                      staff_id: int | None = None) -> MediaItem:
    item = await get_item(session, tenant_id, item_id)
    if title is not None:
        title = clean_title(title)
        if await _title_taken(session, tenant_id, title, except_id=item.id):
            raise MediaError("title_taken", "the library has a file with this name", title=title)
        item.title = title
    if tags is not None:
        item.tags = parse_tags(tags)
    events.record(session, "media_item_changed", tenant_id=tenant_id, actor_staff_id=staff_id, media_item_id=item.id)
    return item


async def delete_item(session: AsyncSession, tenant_id: int, item_id: int, *, staff_id: int | None = None) -> None:
    """Remove an item; refused while a quick reply sends it (the reply would lose its file unnoticed). The bytes
    stay in the store: content-addressed, they may be another item's or a customer's too."""
    item = await get_item(session, tenant_id, item_id)
    users = (await session.execute(
        select(QuickReply.name).where(QuickReply.tenant_id == tenant_id, QuickReply.media_item_ids.any(item.id))
        .order_by(QuickReply.name)
    )).scalars().all()
    if users:
        raise MediaError("in_use", "quick replies send this file", replies=", ".join(users))
    await session.delete(item)
    events.record(session, "media_item_deleted", tenant_id=tenant_id, actor_staff_id=staff_id, media_item_id=item_id,
                  title=item.title)


def item_row(item: MediaItem) -> dict:
    return {"id": item.id, "title": item.title, "kind": item.kind.value, "mime": item.mime, "size": item.size,
            "tags": list(item.tags or []), "created_at": item.created_at.isoformat() if item.created_at else None}


def file_name_of(item: MediaItem) -> str:
    """The name the file goes out under: its title, safe for any channel, with the stored file's extension."""
    extension = _extension(item.storage_key) or "bin"
    stem = _FILE_NAME_UNSAFE.sub("", item.title).strip().replace(" ", "_")[:60] or "file"
    return stem if stem.lower().endswith(f".{extension}") else f"{stem}.{extension}"


# ----------------------------------------------------------------------------------------- sending and caches


async def outgoing(session: AsyncSession, items: list[MediaItem], channel: ChannelAccount) -> list[dict]:
    """The `media` of a send to a customer through `channel` (core.services.workspace.replies.send_to_customer): each item
    by its stored file, with what that channel already holds of it — VK's attachment string uploaded before through
    this very community or account, the manager bot's file id for a Telegram Business chat (the bot sends it). A
    Telegram account (Telethon) uploads the stored bytes."""
    refs: dict[int, str] = {}
    traits = CHANNEL_KINDS.get(channel.kind)
    if traits.media_by_channel_ref and items:
        refs = dict((await session.execute(
            select(MediaChannelRef.media_item_id, MediaChannelRef.ref).where(
                MediaChannelRef.channel_id == channel.id,
                MediaChannelRef.media_item_id.in_([i.id for i in items]))
        )).all())
    media = []
    for item in items:
        entry = {"kind": item.kind.value, "storage_key": item.storage_key, "file_name": file_name_of(item),
                 "mime": item.mime, "media_item_id": item.id}
        if item.id in refs:
            entry["vk_attachment"] = refs[item.id]
        if traits.media_by_bot_file_id and item.telegram_file_id:
            entry["telegram_file_id"] = item.telegram_file_id
        media.append(entry)
    return media


async def remember_channel_ref(session: AsyncSession, media_item_id: int, channel_id: int, ref: str) -> None:
    """A channel holds the item now (VK: the attachment string of the upload): the next send reuses it."""
    await session.execute(
        insert(MediaChannelRef).values(media_item_id=media_item_id, channel_id=channel_id, ref=ref)
        .on_conflict_do_update(index_elements=["media_item_id", "channel_id"], set_={"ref": ref})
    )


async def forget_channel_ref(session: AsyncSession, media_item_id: int, channel_id: int) -> None:
    """The channel no longer has what was cached (VK refused the attachment): the next send uploads again."""
    ref = await session.get(MediaChannelRef, (media_item_id, channel_id))
    if ref is not None:
        await session.delete(ref)


async def remember_telegram_file_id(session: AsyncSession, media_item_id: int, file_id: str) -> None:
    """The manager bot uploaded the item (a Telegram Business send): its file id sends it again without bytes."""
    item = await session.get(MediaItem, media_item_id)
    if item is not None and not item.telegram_file_id:
        item.telegram_file_id = file_id
