"""Traffic marks in what customers send: UTM tags of the links in a message (both VK and Telegram)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)


def urls_in(text) -> list[str]:
    return URL.findall(text) if isinstance(text, str) else []


def utm_of(urls: list[str]) -> dict[str, str]:
    """The first value of each UTM field over the links, in order (values cut to the column size)."""
    utm: dict[str, str] = {}
    for url in urls:
        if not isinstance(url, str):
            continue
        try:
            query = urlsplit(url).query
        except ValueError:  # a malformed link (an unclosed IPv6 bracket…) carries no tags we can read
            continue
        for key, value in parse_qsl(query):
            key = key.lower()
            if key in UTM_FIELDS and value and key not in utm:
                utm[key] = value[:255]
    return utm
