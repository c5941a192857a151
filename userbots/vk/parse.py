"""VK objects (https://dev.vk.com/ru/reference/objects/message) → core inbox dataclasses. Pure functions: the live
path (long poll, gap fill) and the bulk importer read messages the same way, so both store the same rows.
"""

from __future__ import annotations

import functools
import mimetypes
from datetime import UTC, datetime

from core.inbox import InboundAttachment, InboundMessage, Sender, TrafficInfo
from core.models import AttachmentKind, Direction

from ..cleaning import clean_name as _clean
from ..cleaning import clean_text
from ..live import BOT_UPLOAD_LIMIT, MB
from ..texts import t
from ..traffic import urls_in, utm_of

CHAT_PEER_OFFSET = 2_000_000_000


def sent_at(message: dict) -> datetime:
    return datetime.fromtimestamp(_as_int(message.get("date")) or 0, UTC)


def is_outgoing(message: dict, owner_id: int) -> bool:
    """Written by the business: `out` when VK sends it (history, message_reply), else by author.

    owner_id is -group_id for a community and the account's user id for a user token."""
    if "out" in message:
        return bool(message["out"])
    return int(message.get("from_id") or 0) == owner_id


def sender_for(peer_id: int, profiles: dict[int, dict]) -> Sender:
    """The dialog's counterpart. For a group chat (rare for a shop) the chat itself is the 'customer'."""
    profile = profiles.get(peer_id) or {}
    if peer_id >= CHAT_PEER_OFFSET:
        return Sender(external_user_id=str(peer_id), first_name=profile.get("title") or f"Беседа {peer_id - CHAT_PEER_OFFSET}")
    if peer_id < 0:
        return Sender(external_user_id=str(peer_id), first_name=profile.get("name"),
                      profile_url=f"https://vk.com/club{-peer_id}")
    return Sender(
        external_user_id=str(peer_id),
        first_name=_clean(profile.get("first_name")),
        last_name=_clean(profile.get("last_name")),
        username=profile.get("screen_name") or profile.get("domain"),
        profile_url=f"https://vk.com/id{peer_id}",
    )


def traffic_of(message: dict) -> TrafficInfo | None:
    """VK ref/ref_source (a link like vk.me/club?ref=…) and UTM tags in any link the message carries."""
    ref, ref_source = message.get("ref"), message.get("ref_source")
    ref = ref if isinstance(ref, str) else None
    ref_source = ref_source if isinstance(ref_source, str) else None
    urls = urls_in(message.get("text"))
    for att in message.get("attachments") or ():
        if att.get("type") == "link" and isinstance(att.get("link"), dict):
            urls.append(att["link"].get("url") or "")
    utm = utm_of(urls)
    if not (ref or ref_source or utm):
        return None
    raw = {k: v for k, v in (("ref", ref), ("ref_source", ref_source)) if v} | utm
    return TrafficInfo(
        source=utm.get("utm_source") or (ref_source[:255] if ref_source else None),
        medium=utm.get("utm_medium"),
        campaign=utm.get("utm_campaign"),
        content=utm.get("utm_content"),
        term=utm.get("utm_term"),
        ref=ref[:255] if ref else None,
        raw=raw,
    )


def _as_int(value) -> int | None:
    """A number VK sent, or None: a malformed field must not fail the database insert of a whole batch."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -2**31 < value < 2**31 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def _as_size(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62 else None


def _largest(images: list[dict]) -> dict:
    images = [i for i in images if isinstance(i, dict)]
    return max(images, key=lambda s: (_as_int(s.get("width")) or 0) * (_as_int(s.get("height")) or 0), default={})


def _media_ref(kind: str, body: dict, url: str | None) -> dict:
    ref = {"type": kind, "owner_id": body.get("owner_id"), "id": body.get("id")}
    if body.get("access_key"):
        ref["access_key"] = body["access_key"]
    if url:
        ref["url"] = url
    return ref


def _photo(body: dict) -> InboundAttachment:
    best = body.get("orig_photo") or _largest(body.get("sizes") or [])
    url = best.get("url") if isinstance(best.get("url"), str) else None
    return InboundAttachment(AttachmentKind.PHOTO, mime="image/png" if url and url.split("?")[0].endswith(".png")
                             else "image/jpeg", external_ref=_media_ref("photo", body, url),
                             width=_as_int(best.get("width")), height=_as_int(best.get("height")))


@functools.lru_cache(maxsize=512)
def _mime_for(title: str) -> str:
    return mimetypes.guess_type(title)[0] or "application/octet-stream"


def _doc(body: dict) -> InboundAttachment:
    ext = (body.get("ext") or "").lower()
    title = body.get("title") or (f"document.{ext}" if ext else "document")
    if ext and not title.lower().endswith("." + ext):
        title = f"{title}.{ext}"
    size = _as_size(body.get("size"))
    error = None
    if size and size > BOT_UPLOAD_LIMIT:  # the manager bot could not upload it into the topic: say so
        error = t("channel.attachment_too_large", size_mb=size // MB, limit_mb=BOT_UPLOAD_LIMIT // MB)
    return InboundAttachment(AttachmentKind.DOCUMENT, mime=_mime_for("x." + title.rpartition(".")[2].lower() if "." in title else title),
                             size=size, file_name=_clean(title)[:255] if _clean(title) else None,
                             external_ref=_media_ref("doc", body, body.get("url")), error=error)


def _audio_message(body: dict) -> InboundAttachment:
    ref = _media_ref("audio_message", body, body.get("link_ogg") or body.get("link_mp3"))
    if body.get("transcript"):
        ref["transcript"] = body["transcript"]
    return InboundAttachment(AttachmentKind.VOICE, mime="audio/ogg" if body.get("link_ogg") else "audio/mpeg",
                             duration=_as_int(body.get("duration")), external_ref=ref)


# VK gives the files of a video (https://dev.vk.com/ru/reference/objects/video, `files`) only in some cases; the
# middle qualities first, the ones most likely to fit what the bot can upload
_VIDEO_FILES = ("mp4_720", "mp4_480", "mp4_360", "mp4_240", "mp4_1080")


def _video(body: dict) -> InboundAttachment:
    preview = _largest(body.get("image") or [])
    ref = _media_ref("video", body, body.get("player"))
    if preview.get("url"):
        ref["preview_url"] = preview["url"]
    files = body.get("files") if isinstance(body.get("files"), dict) else {}
    file_url = next((files[q] for q in _VIDEO_FILES if isinstance(files.get(q), str)), None)
    if file_url:
        ref["file_url"] = file_url
    if body.get("title"):
        ref["title"] = body["title"]
    return InboundAttachment(AttachmentKind.VIDEO, duration=_as_int(body.get("duration")), external_ref=ref,
                             width=_as_int(body.get("width")), height=_as_int(body.get("height")))


def _sticker(body: dict) -> InboundAttachment:
    best = _largest(body.get("images") or [])
    return InboundAttachment(AttachmentKind.STICKER, mime="image/png",
                             external_ref={"type": "sticker", "sticker_id": body.get("sticker_id"),
                                           "product_id": body.get("product_id"), "url": best.get("url")},
                             width=_as_int(best.get("width")), height=_as_int(best.get("height")))


def _audio(body: dict) -> InboundAttachment:
    return InboundAttachment(AttachmentKind.AUDIO, mime="audio/mpeg", duration=_as_int(body.get("duration")),
                             file_name=_clean(" — ".join(p for p in (body.get("artist"), body.get("title")) if p))[:255]
                             if (body.get("artist") or body.get("title")) else None,
                             external_ref=_media_ref("audio", body, body.get("url")))


def _link(body: dict) -> InboundAttachment:
    return InboundAttachment(AttachmentKind.OTHER, external_ref={"type": "link", "url": body.get("url"),
                                                                 "title": body.get("title")})


_READERS = {"photo": _photo, "doc": _doc, "audio_message": _audio_message, "video": _video, "sticker": _sticker,
            "audio": _audio, "link": _link}


def attachment(raw: dict) -> InboundAttachment:
    """One VK attachment. A type we do not know (gift, money transfer, mini app…) is kept with a note, never
    dropped, and a malformed one is kept with the reason — the message itself always lands."""
    kind = str(raw.get("type") or "unknown")
    body = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    reader = _READERS.get(kind)
    if reader is None:
        return InboundAttachment(AttachmentKind.OTHER, external_ref={"type": kind, kind: body},
                                 error=t("channel.attachment_unknown", kind=kind))
    try:
        return reader(body)
    except (TypeError, ValueError, AttributeError) as exc:
        return InboundAttachment(AttachmentKind.OTHER, external_ref={"type": kind, kind: body},
                                 error=t("channel.attachment_unreadable", kind=kind, error=exc))


def to_inbound(channel_id: int, message: dict, owner_id: int, profiles: dict[int, dict], *,
               sender: Sender | None = None) -> InboundMessage:
    """One VK message. `sender` may be passed when the caller already built it for the whole conversation."""
    peer_id = int(message["peer_id"])
    reply = message.get("reply_message") or {}
    return InboundMessage(
        channel_id=channel_id,
        external_chat_id=str(peer_id),
        external_id=str(message["id"]),
        sender=sender or sender_for(peer_id, profiles),
        sent_at=sent_at(message),
        text=clean_text(message.get("text")),
        direction=Direction.OUT if is_outgoing(message, owner_id) else Direction.IN,
        attachments=tuple(attachment(a) for a in message.get("attachments") or ()),
        reply_to_external_id=str(reply["id"]) if reply.get("id") else None,
        traffic=traffic_of(message),
    )


def profiles_by_id(response: dict) -> dict[int, dict]:
    """`profiles` and `groups` of an extended VK response, keyed by peer id (groups negative)."""
    out = {int(p["id"]): p for p in response.get("profiles") or ()}
    out.update({-int(g["id"]): g for g in response.get("groups") or ()})
    return out
