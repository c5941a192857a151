"""The media store: files on disk under `<data_dir>/media`, each named by a relative storage key — what
`Attachment.storage_key` and `MediaItem.storage_key` hold, and what the manager bot reads to post a file.

Keys are content-addressed inside a namespace (`inbox/<channel id>/ab/abcdef….png`): the same bytes written twice
(a replayed event, a retried unit of work) land on the same file, so a repeat costs nothing and never leaves a
second copy. Writes are atomic (a temporary file in the same directory, then a rename): a reader never sees half a
file, and a crash leaves at most a stray temporary file. A key is checked segment by segment before it touches the
file system, so no key — stored in the database, sent by a client — can reach outside the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MEDIA_DIR = "media"
MAX_KEY_LENGTH = 255  # attachments.storage_key / media_items.storage_key are String(255)
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_EXTENSION = re.compile(r"[a-z0-9]{1,8}")
GENERIC_MIME = "application/octet-stream"

# The suffix a stored file gets by its type: the bot uploads it under that name when it has no file name of its own,
# and Telegram decides by it whether a voice note is a voice note.
_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "application/pdf": "pdf",
    "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a", "video/mp4": "mp4", "video/quicktime": "mov",
    "video/webm": "webm", "application/x-tgsticker": "tgs", "text/plain": "txt",
}  # fmt: skip


class UnsafeStorageKey(ValueError):
    """A storage key that is not a plain relative path of safe segments."""


@dataclass(frozen=True)
class StoredMedia:
    storage_key: str
    size: int
    sha256: str
    mime: str | None


def media_root(data_dir: Path) -> Path:
    return Path(data_dir) / MEDIA_DIR


def sniff_mime(data: bytes) -> str | None:
    """The type the bytes themselves announce, for the few kinds whose declared type is often a guess (a photo's
    type from its URL, a voice note's from the channel's field)."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    return None


def stored_mime(declared: str | None, data: bytes) -> str | None:
    """The declared type, corrected by the bytes when it is missing, generic, or a different subtype of the same kind
    (image/jpeg declared, PNG bytes). A declared type of another kind wins: a .docx is a zip, and stays a .docx."""
    sniffed = sniff_mime(data)
    if sniffed is None:
        return declared
    if not declared or declared == GENERIC_MIME or declared.split("/")[0] == sniffed.split("/")[0]:
        return sniffed
    return declared


def extension_for(mime: str | None, file_name: str | None) -> str:
    known = _EXTENSIONS.get(mime or "")
    if known:
        return known
    suffix = PurePosixPath(file_name or "").suffix.lstrip(".").lower()
    if _EXTENSION.fullmatch(suffix):
        return suffix
    guessed = (mimetypes.guess_extension(mime) or "").lstrip(".") if mime else ""
    return guessed if _EXTENSION.fullmatch(guessed) else "bin"


class MediaStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path_of(self, storage_key: str) -> Path:
        """The file a key names. Raises UnsafeStorageKey for anything but safe relative segments (no `..`, no
        absolute path, no backslash, no hidden or temporary names), and for a key that resolves outside the store
        through a symlink."""
        if not isinstance(storage_key, str) or not storage_key or len(storage_key) > MAX_KEY_LENGTH:
            raise UnsafeStorageKey(f"bad storage key {storage_key!r}")
        parts = storage_key.split("/")
        if not all(_SEGMENT.fullmatch(part) for part in parts):
            raise UnsafeStorageKey(f"bad storage key {storage_key!r}")
        path = self.root.joinpath(*parts)
        root = self.root.resolve()
        if root not in path.resolve().parents:
            raise UnsafeStorageKey(f"storage key {storage_key!r} leaves the media store")
        return path

    def key_for(self, namespace: str, digest: str, extension: str) -> str:
        return f"{namespace}/{digest[:2]}/{digest}.{extension}"

    def put(self, data: bytes, *, namespace: str, mime: str | None = None, file_name: str | None = None) -> StoredMedia:
        """Write `data` under `namespace` (safe segments, e.g. "inbox/12") and return its key. Blocking: call
        `save` from async code."""
        digest = hashlib.sha256(data).hexdigest()
        final_mime = stored_mime(mime, data)
        key = self.key_for(namespace, digest, extension_for(final_mime, file_name))
        path = self.path_of(key)
        if not (path.is_file() and path.stat().st_size == len(data)):  # same key, same size: the same bytes
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        return StoredMedia(storage_key=key, size=len(data), sha256=digest, mime=final_mime)

    async def save(self, data: bytes, *, namespace: str, mime: str | None = None,
                   file_name: str | None = None) -> StoredMedia:
        return await asyncio.to_thread(self.put, data, namespace=namespace, mime=mime, file_name=file_name)

    async def read(self, storage_key: str) -> bytes:
        return await asyncio.to_thread(self.path_of(storage_key).read_bytes)
