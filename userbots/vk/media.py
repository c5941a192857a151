"""The bytes of a VK attachment, fetched over HTTP from the URL VK put in the attachment (userbots/vk/parse.py keeps
it in external_ref["url"], or ["file_url"] for a video VK gave a file of). The URLs need no token: VK signs them.
"""

from __future__ import annotations

import aiohttp

from core.inbox import InboundAttachment

from ..live import DownloadFailed, FileTooLarge, MediaSource
from ..texts import t

# VK kinds whose URL is the file itself. A sticker is left out: VK serves PNG, and the bot posts stickers only as
# WEBP/TGS/WEBM; music ("audio") URLs are withheld from third-party apps and answer a placeholder recording.
_FILE_URL = {"photo": "url", "doc": "url", "audio_message": "url", "video": "file_url"}
CHUNK = 64 * 1024


def download_url(external_ref: dict) -> str | None:
    field = _FILE_URL.get(str(external_ref.get("type")))
    url = external_ref.get(field) if field else None
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None


class VKMediaFetcher:
    """One HTTP session per channel, opened on the first file and closed with the channel's realtime loop."""

    def __init__(self):
        self._session: aiohttp.ClientSession | None = None
        self.source = MediaSource(fetch=self.fetch, place="vk")

    async def fetch(self, att: InboundAttachment, max_bytes: int) -> bytes | None:
        url = download_url(att.external_ref)
        if url is None:
            return None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    raise DownloadFailed(t("channel.download_http_status", status=response.status))
                if response.content_type == "text/html":  # an expired link's error page, a video player
                    raise DownloadFailed(t("channel.download_web_page"))
                if response.content_length is not None and response.content_length > max_bytes:
                    raise FileTooLarge()
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    data += chunk
                    if len(data) > max_bytes:  # undeclared or understated size: stop reading at once
                        raise FileTooLarge()
                return bytes(data)
        except aiohttp.ClientError:
            raise DownloadFailed(t("channel.download_network")) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
