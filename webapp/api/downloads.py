"""Files a page offers for download (CSV exports), for Telegram's WebApp.downloadFile.

Inside Telegram a Mini App cannot save a blob: WebApp.downloadFile (Bot API 8.0) asks the client to download an
HTTPS URL itself — without the page's Authorization header. So the page posts the file here once (signed in) and gets
a short-lived URL whose random token is the only key (`GET /downloads/<token>/<name>`, attachment). In a plain
browser the page saves the blob directly and never comes here.

The files are kept DOWNLOAD_TTL seconds where every Mini App process sees them — the client's request may reach
another replica than the page's: on Redis with a TTL when SALESOP_REDIS_URL is set (the production layout has it),
else in the data directory (SALESOP_DATA_DIR/downloads, one file per download: the embedded mode's processes and the
compose services share it), each file saying until when it is served.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol
from urllib.parse import quote

from aiohttp import web

from core.errors import NotFound, UserError

from ..auth import signed_in
from ..pages import Page

routes = web.RouteTableDef()
PAGES: list[Page] = []
DOWNLOAD_TTL = 600  # seconds: the client fetches right after the page asks
MAX_FILE = 5 * 1024 * 1024  # a CSV of a chart's table; a bigger body is refused before it is read whole
MAX_KEPT = 200  # files kept at once (oldest dropped first): at most ~1 GB however many are asked for in 10 minutes
TYPES = {"csv": "text/csv; charset=utf-8"}
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")  # secrets.token_urlsafe's alphabet: never a path outside the directory
REDIS_KEY = "salesop:download:{token}"
REDIS_INDEX = "salesop:downloads"  # the kept tokens, newest first (trimmed to MAX_KEPT)


@dataclass(frozen=True)
class Download:
    data: bytes
    name: str
    type: str
    staff_id: int


class DownloadStore(Protocol):
    async def put(self, token: str, item: Download) -> None: ...

    async def get(self, token: str) -> Download | None: ...

    async def close(self) -> None: ...


class RedisDownloads:
    """One hash per download, expiring with Redis's own TTL; a list of the kept tokens drops the oldest past
    max_kept."""

    def __init__(self, redis_url: str, ttl: int = DOWNLOAD_TTL, max_kept: int = MAX_KEPT):
        import redis.asyncio as aioredis  # only when Redis is configured

        self.ttl, self.max_kept = ttl, max_kept
        self._redis = aioredis.Redis.from_url(redis_url)

    async def put(self, token: str, item: Download) -> None:
        key = REDIS_KEY.format(token=token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"data": item.data, "name": item.name, "type": item.type,
                                    "staff_id": item.staff_id})
            pipe.expire(key, self.ttl)
            pipe.lpush(REDIS_INDEX, token)
            pipe.lrange(REDIS_INDEX, self.max_kept, -1)
            pipe.ltrim(REDIS_INDEX, 0, self.max_kept - 1)
            pipe.expire(REDIS_INDEX, self.ttl)
            dropped = (await pipe.execute())[3]
        if dropped:
            await self._redis.delete(*(REDIS_KEY.format(token=t.decode()) for t in dropped))

    async def get(self, token: str) -> Download | None:
        found = await self._redis.hgetall(REDIS_KEY.format(token=token))
        if not found:
            return None
        return Download(data=found[b"data"], name=found[b"name"].decode(), type=found[b"type"].decode(),
                        staff_id=int(found[b"staff_id"]))

    async def close(self) -> None:
        await self._redis.aclose()


class FileDownloads:
    """One file per download in a directory every process of the deployment shares: a JSON line (name, type, staff,
    until when — wall-clock seconds, which other processes compare too) and the bytes. Written under a temporary
    name and renamed, so another process never reads half a file."""

    def __init__(self, directory: Path, ttl: int = DOWNLOAD_TTL, clock: Callable[[], float] = time.time,
                 max_kept: int = MAX_KEPT):
        self.directory, self.ttl, self.clock, self.max_kept = directory, ttl, clock, max_kept

    async def put(self, token: str, item: Download) -> None:
        await asyncio.to_thread(self._put, token, item)

    async def get(self, token: str) -> Download | None:
        return await asyncio.to_thread(self._get, token)

    async def close(self) -> None:
        pass

    def _put(self, token: str, item: Download) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sweep()
        now = self.clock()
        head = json.dumps({"name": item.name, "type": item.type, "staff_id": item.staff_id,
                           "until": now + self.ttl}).encode()
        part = self.directory / f".{token}.part"
        part.write_bytes(head + b"\n" + item.data)
        os.utime(part, (now, now))  # the sweep reads a file's age on the same clock
        os.replace(part, self.directory / token)

    def _get(self, token: str) -> Download | None:
        path = self.directory / token
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        head, _, data = raw.partition(b"\n")
        try:
            meta = json.loads(head)
        except ValueError:
            return None
        if meta["until"] <= self.clock():
            path.unlink(missing_ok=True)
            return None
        return Download(data=data, name=meta["name"], type=meta["type"], staff_id=meta["staff_id"])

    def _sweep(self) -> None:
        """Drop expired files (by their age: a file is never older than its TTL while valid) and the oldest beyond
        max_kept - 1, so the new one fits."""
        now = self.clock()
        kept = []
        for entry in os.scandir(self.directory):
            try:
                modified = entry.stat().st_mtime
            except FileNotFoundError:
                continue  # another process swept it meanwhile
            if modified + self.ttl <= now:
                Path(entry.path).unlink(missing_ok=True)
            elif not entry.name.startswith("."):
                kept.append((modified, entry.path))
        for _, path in sorted(kept)[:max(0, len(kept) - (self.max_kept - 1))]:
            Path(path).unlink(missing_ok=True)


def build_store(settings) -> DownloadStore:
    """Where this deployment keeps downloads: its Redis when configured, else its data directory."""
    if settings.redis.redis_url:
        return RedisDownloads(settings.redis.redis_url)
    return FileDownloads(Path(settings.data_dir) / "downloads")


DOWNLOADS = web.AppKey("downloads", DownloadStore)


def _store(request: web.Request) -> DownloadStore:
    store = request.app.get(DOWNLOADS)
    if store is None:
        raise NotFound("no downloads here")
    return store


@routes.post("/api/downloads")
async def api_make_download(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_FILE * 2:
        raise UserError("the file is too big to download this way", code="miniapp.downloads.too_big")
    try:
        body = await request.json()
    except ValueError:
        raise UserError("send JSON: {file_name, text}") from None
    body = body if isinstance(body, dict) else {}
    name, text = body.get("file_name"), body.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        raise UserError("send JSON: {file_name, text}")
    name = "".join(c for c in name if c not in '/\\\r\n"')[:120] or "export.csv"
    kind = name.rsplit(".", 1)[-1].lower()
    if kind not in TYPES:
        raise UserError("only CSV files are downloaded this way", code="miniapp.downloads.kind")
    data = text.encode()
    if len(data) > MAX_FILE:
        raise UserError("the file is too big to download this way", code="miniapp.downloads.too_big")
    async with signed_in(request) as (_, member):
        staff_id = member.staff_id
    token = secrets.token_urlsafe(24)
    await _store(request).put(token, Download(data=data, name=name, type=TYPES[kind], staff_id=staff_id))
    return web.json_response({"url": f"/downloads/{token}/{quote(name)}", "expires_in": DOWNLOAD_TTL},
                             status=201)


@routes.get("/downloads/{token}/{name}")
async def download(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    item = await _store(request).get(token) if TOKEN.match(token) else None
    if item is None:
        raise web.HTTPNotFound(text="this download link has expired")
    return web.Response(body=item.data, headers={
        "Content-Type": item.type, "Cache-Control": "no-store",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(item.name)}"})
