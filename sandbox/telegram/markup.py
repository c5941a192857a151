"""Bot API text formatting: HTML, MarkdownV2 and legacy Markdown (https://core.telegram.org/bots/api#formatting-options).

These are ports of TDLib's parse_html / parse_markdown_v2 / parse_markdown (td/telegram/MessageEntity.cpp), which the
Bot API server runs, so error texts and byte offsets are the ones Telegram answers with. Like TDLib the parsers walk
UTF-8 bytes (error offsets are byte offsets) and emit entities whose offset/length are UTF-16 code units
(https://core.telegram.org/bots/api#messageentity).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

__all__ = [
    "ENTITY_TYPES",
    "ParseError",
    "check_url",
    "finalize",
    "parse",
    "utf16_len",
]


class ParseError(ValueError):
    """The text after "Bad Request: can't parse entities: "."""


ENTITY_TYPES = {
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold", "italic", "underline",
    "strikethrough", "spoiler", "blockquote", "expandable_blockquote", "code", "pre", "text_link", "text_mention",
    "custom_emoji", "date_time",
}  # fmt: skip

# TDLib MessageEntity::get_type_priority: entities at the same offset and length are ordered by it.
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49, "text_mention": 49,
    "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93, "spoiler": 94, "custom_emoji": 99,
}  # fmt: skip

_LT, _GT, _AMP, _SLASH, _EQ, _QUOT, _APOS = b"<>&/=\"'"
_BS, _BT, _LF, _CR, _LPAR, _RPAR = b"\\`\n\r()"
_PAD = b"\0\0\0"  # TDLib reads C strings; three NULs let look-ahead past the end read 0 the same way


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_space(c: int) -> bool:
    # td::is_space treats NUL as space, which is how the scanners stop at the end of the string.
    return c in (0x20, 0x09, 0x0D, 0x0A, 0x00, 0x0B)


def _is_alnum(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _utf16_units(lead: int) -> int:
    """UTF-16 units added by a UTF-8 byte (continuation bytes add none, 4-byte sequences are surrogate pairs)."""
    if lead & 0xC0 == 0x80:
        return 0
    return 2 if lead >= 0xF0 else 1


def _sort(entities: list[dict]) -> list[dict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))


def check_url(url: str) -> str | None:
    """Normalize a link target like TDLib's check_url: "telegram.org" -> "http://telegram.org/"; None if invalid."""
    url = url.strip()
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):(//)?", url)
    if match and match.group(2) is None and match.group(1).lower() not in ("tg", "ton"):
        match = None  # "host:port" without a scheme
    if match:
        scheme = match.group(1).lower()
        if scheme in ("tg", "ton"):
            return url
        if scheme not in ("http", "https"):
            return None
        rest, prefix = url[match.end() :], url[: match.end()]
    else:
        rest, prefix = url, "http://"
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hostname = host.rsplit("@", 1)[-1].split(":")[0]
    if not hostname or ("." not in hostname and hostname != "localhost") or hostname.endswith("."):
        return None
    tail = rest[len(host) :]
    if not tail.startswith("/"):
        tail = "/" + tail
    return prefix + host + tail


def _link_user_id(url: str) -> int | None:
    """tg://user?id=123 links become text_mention entities."""
    scheme, _, rest = url.partition(":")
    if scheme.lower() != "tg":
        return None
    rest = rest[2:] if rest.startswith("//") else rest
    host, _, query = rest.partition("?")
    if host.rstrip("/").lower() != "user":
        return None
    value = dict(parse_qsl(query.split("#")[0])).get("id", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def _custom_emoji_id(url: str) -> str:
    """TDLib LinkManager::get_link_custom_emoji_id, with its error texts."""
    scheme, _, rest = url.partition(":")
    if scheme.lower() != "tg":
        raise ParseError("Custom emoji URL must have scheme tg")
    rest = rest[2:] if rest.startswith("//") else rest
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if host.lower() != "emoji":
        raise ParseError('Custom emoji URL must have host "emoji"')
    query = rest.split("#", 1)[0].partition("?")[2]
    value = dict(parse_qsl(query)).get("id")
    if not value:
        raise ParseError("Custom emoji URL must have an emoji identifier")
    return _check_custom_emoji_id(value)


def _check_custom_emoji_id(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]{0,18}", value) or int(value) >= 2**63:
        raise ParseError("Invalid custom emoji identifier specified")
    return value


# --------------------------------------------------------------------------------------------------------- HTML


_HTML_TAGS = {
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre", "code",
    "blockquote",
}  # fmt: skip
_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "u": "underline", "ins": "underline", "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip


def _decode_html_entity(b: bytes, pos: int) -> tuple[int, int]:
    """Only &lt; &gt; &amp; &quot; and numeric references are decoded; anything else stays literal text."""
    end = pos + 1
    code = 0
    if b[end] == ord("#"):
        end += 1
        if b[end] == ord("x"):
            end += 1
            while chr(b[end]) in "0123456789abcdefABCDEF":
                code = code * 16 + int(chr(b[end]), 16)
                end += 1
        else:
            while 0x30 <= b[end] <= 0x39:
                code = code * 10 + b[end] - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(b[end]).isascii() and chr(b[end]).isalpha():
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(bytes(b[pos + 1 : end]), 0)
        if not code:
            return 0, pos
    if b[end] == ord(";"):
        end += 1
    return code, end


def _char_bytes(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def parse_html(text: str) -> tuple[str, list[dict]]:
    b = text.encode("utf-8") + _PAD
    n = len(b) - len(_PAD)
    out = bytearray()
    u16 = 0
    stack: list[list] = []  # [tag, argument, utf16 offset, output byte position]
    entities: list[dict] = []
    i = 0
    while i < n:
        c = b[i]
        if c == _AMP:
            code, end = _decode_html_entity(b, i)
            if code:
                out += _char_bytes(code)
                u16 += 2 if code > 0xFFFF else 1
                i = end
                continue
        if c != _LT:
            u16 += _utf16_units(c)
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if b[i] != _SLASH:
            while not _is_space(b[i]) and b[i] != _GT:
                i += 1
            if b[i] == 0:
                raise ParseError(f"Unclosed start tag at byte offset {begin}")
            tag = b[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise ParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while b[i] != _GT:
                while b[i] != 0 and _is_space(b[i]):
                    i += 1
                if b[i] == _GT:
                    break
                name_begin = i
                while not _is_space(b[i]) and b[i] not in (_EQ, _GT):
                    i += 1
                name = b[name_begin:i].decode("utf-8", "replace").lower()
                if not name:
                    raise ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while b[i] != 0 and _is_space(b[i]):
                    i += 1
                if b[i] != _EQ:  # an attribute without a value, e.g. <blockquote expandable>
                    if b[i] == 0:
                        raise ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    if tag == "blockquote" and name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while b[i] != 0 and _is_space(b[i]):
                    i += 1
                if b[i] == 0:
                    raise ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if b[i] not in (_QUOT, _APOS):
                    # A name token (letters, digits, periods, hyphens); name tokens are case-insensitive.
                    token_begin = i
                    while _is_alnum(b[i]) or b[i] in b".-":
                        i += 1
                    value = b[token_begin:i].decode().lower()
                    if not _is_space(b[i]) and b[i] != _GT:
                        raise ParseError(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = b[i]
                    i += 1
                    raw = bytearray()
                    while b[i] != quote and b[i] != 0:
                        if b[i] == _AMP:
                            code, end = _decode_html_entity(b, i)
                            if code:
                                raw += _char_bytes(code)
                                i = end
                                continue
                        raw.append(b[i])
                        i += 1
                    if b[i] == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if b[i] == 0:
                    raise ParseError(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and name == "href":
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif tag == "tg-emoji" and name == "emoji-id":
                    argument = value
                elif tag == "blockquote" and name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            stack.append([tag, argument, u16, len(out)])
            i += 1
            continue

        if not stack:
            raise ParseError(f"Unexpected end tag at byte offset {begin}")
        while not _is_space(b[i]) and b[i] != _GT:
            i += 1
        end_tag = b[begin + 2 : i].decode("utf-8", "replace").lower()
        while _is_space(b[i]) and b[i] != 0:
            i += 1
        if b[i] != _GT:
            raise ParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_pos = stack[-1]
        if end_tag and end_tag != tag:
            raise ParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_tag}>"'
            )
        stack.pop()
        i += 1
        if u16 <= offset:
            continue
        span = {"offset": offset, "length": u16 - offset}
        last = entities[-1] if entities else None
        same_span = last is not None and last["offset"] == offset and last["length"] == span["length"]
        if tag in _SIMPLE_TAGS:
            entities.append({"type": _SIMPLE_TAGS[tag], **span})
        elif tag == "tg-emoji":
            entities.append({"type": "custom_emoji", **span, "custom_emoji_id": _check_custom_emoji_id(argument)})
        elif tag == "blockquote":
            entities.append({"type": "expandable_blockquote" if argument else "blockquote", **span})
        elif tag == "a":
            url = argument or out[out_pos:].decode("utf-8", "replace")
            user_id = _link_user_id(url)
            if user_id:
                entities.append({"type": "text_mention", **span, "user": {"id": user_id}})
            elif checked := check_url(url):
                entities.append({"type": "text_link", **span, "url": checked})
        elif tag == "pre":
            if same_span and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"  # <pre><code class="language-x"> is a pre block with a language
            else:
                entities.append({"type": "pre", **span})
        elif tag == "code":
            if same_span and last["type"] == "pre" and argument:
                last["language"] = argument
            else:
                entities.append({"type": "code", **span, **({"language": argument} if argument else {})})
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    try:
        result = out.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    return result, _sort(entities)


# --------------------------------------------------------------------------------------------------- MarkdownV2


_MD_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "precode": "PreCode", "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji", "blockquote": "BlockQuote",
}  # fmt: skip
_MD_RESERVED = b"_*[]()~`>#+-=|{}.!\n"


def _reserved(c: int) -> ParseError:
    return ParseError(f"Character '{chr(c)}' is reserved and must be escaped with the preceding '\\'")


def _md_url(b: bytes, i: int, n: int) -> tuple[str, int]:
    """Read "(...)" content starting after "(", honouring backslash escapes; returns (url, index of ")")."""
    url = bytearray()
    while i < n and b[i] != _RPAR:
        if b[i] == _BS and 0 < b[i + 1] <= 126:
            url.append(b[i + 1])
            i += 2
            continue
        url.append(b[i])
        i += 1
    return url.decode("utf-8", "replace"), i


def parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    b = text.encode("utf-8") + _PAD
    n = len(b) - len(_PAD)
    out = bytearray()
    u16 = 0
    stack: list[list] = []  # [kind, argument, utf16 offset, source byte offset, output byte position]
    entities: list[dict] = []
    have_blockquote = False
    can_start_blockquote = True
    i = 0
    while i < n:
        c = b[i]
        if c == _BS and 0 < b[i + 1] <= 126:
            i += 1
            u16 += 1
            out.append(b[i])
            if b[i] != _CR:
                can_start_blockquote = b[i] == _LF
            i += 1
            continue
        reserved = b"`" if stack and stack[-1][0] in ("code", "pre", "precode") else _MD_RESERVED
        if c not in reserved:
            if c & 0xC0 != 0x80:
                u16 += _utf16_units(c)
                if c != _CR:
                    can_start_blockquote = False
            out.append(c)
            i += 1
            continue

        is_end = False
        if stack:
            kind = stack[-1][0]
            if have_blockquote and c == _LF and (i + 1 == n or b[i + 1] != _GT):
                is_end = True
            elif kind == "bold":
                is_end = c == ord("*")
            elif kind == "italic":
                is_end = c == ord("_") and b[i + 1] != ord("_")
            elif kind == "code":
                is_end = c == _BT
            elif kind in ("pre", "precode"):
                is_end = c == _BT and b[i + 1] == _BT and b[i + 2] == _BT
            elif kind in ("text_link", "custom_emoji"):
                is_end = c == ord("]")
            elif kind == "underline":
                is_end = c == ord("_") and b[i + 1] == ord("_")
            elif kind == "strikethrough":
                is_end = c == ord("~")
            elif kind == "spoiler":
                is_end = c == ord("|") and b[i + 1] == ord("|")

        if not is_end:
            kind, argument, byte_offset = None, "", i
            if c == ord("_"):
                kind = "italic"
                if b[i + 1] == ord("_"):
                    kind = "underline"
                    i += 1
            elif c == ord("*"):
                kind = "bold"
            elif c == ord("~"):
                kind = "strikethrough"
            elif c == ord("|"):
                if b[i + 1] != ord("|"):
                    raise _reserved(c)
                i += 1
                kind = "spoiler"
            elif c == ord("["):
                kind = "text_link"
            elif c == _BT:
                if b[i + 1] == _BT and b[i + 2] == _BT:
                    i += 3
                    kind = "pre"
                    language_end = i
                    while not _is_space(b[language_end]) and b[language_end] != _BT:
                        language_end += 1
                    if i != language_end and language_end < n and b[language_end] != _BT:
                        kind = "precode"
                        argument = b[i:language_end].decode("utf-8", "replace")
                        i = language_end
                    if b[i] in (_LF, _CR):  # one new line after the opening fence is skipped
                        i += 2 if b[i + 1] in (_LF, _CR) and b[i] != b[i + 1] else 1
                    i -= 1
                else:
                    kind = "code"
            elif c == ord("!"):
                if b[i + 1] != ord("["):
                    raise _reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == _LF:
                u16 += 1
                out.append(_LF)
                can_start_blockquote = True
            elif c == _GT:
                if not can_start_blockquote:
                    raise _reserved(c)
                if not have_blockquote:
                    kind = "blockquote"
                    have_blockquote = True
            else:
                raise _reserved(c)
            if kind:
                stack.append([kind, argument, u16, byte_offset, len(out)])
            i += 1
            continue

        kind = stack[-1][0]
        if c == _LF and kind != "blockquote":
            # Only "||" right before the end of a quote line (an expandable quote marker) may end at a new line.
            top_offset = stack[-1][3]
            marker = top_offset == i - 2 or (top_offset == i - 3 and out and out[-1] == _CR)
            if kind != "spoiler" or not marker:
                raise ParseError(f"Can't find end of {_MD_NAMES[kind]} entity at byte offset {top_offset}")
            stack.pop()
            kind = stack[-1][0]
            if kind != "blockquote":
                raise ParseError(f"Can't find end of {_MD_NAMES[kind]} entity at byte offset {stack[-1][3]}")
            kind = "expandable_blockquote"
        _, argument, offset, _, out_pos = stack[-1]
        skip = u16 == offset
        extra: dict = {}
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "precode"):
            i += 2
        elif kind == "text_link":
            if b[i + 1] != _LPAR:
                url = out[out_pos:].decode("utf-8", "replace")
            else:
                url_begin = i + 2
                url, i = _md_url(b, url_begin, n)
                if b[i] != _RPAR:
                    raise ParseError(f"Can't find end of a URL at byte offset {url_begin}")
            user_id = _link_user_id(url)
            if user_id:
                kind, extra = "text_mention", {"user": {"id": user_id}}
            elif checked := check_url(url):
                extra = {"url": checked}
            else:
                skip = True
        elif kind == "custom_emoji":
            if b[i + 1] != _LPAR:
                raise ParseError("Custom emoji entity must contain a tg://emoji URL")
            url_begin = i + 2
            url, i = _md_url(b, url_begin, n)
            if b[i] != _RPAR:
                raise ParseError(f"Can't find end of a custom emoji URL at byte offset {url_begin}")
            extra = {"custom_emoji_id": _custom_emoji_id(url)}
        elif kind in ("blockquote", "expandable_blockquote"):
            have_blockquote = False
            out.append(b[i])
            can_start_blockquote = True
            u16 += 1
            skip = False
        if not skip:
            if kind == "precode":
                kind, extra = "pre", {"language": argument}
            entities.append({"type": kind, "offset": offset, "length": u16 - offset, **extra})
        stack.pop()
        i += 1

    if have_blockquote:
        kind = "blockquote"
        if stack[-1][0] == "spoiler" and stack[-1][3] == n - 2:
            stack.pop()
            kind = "expandable_blockquote"
        if stack[-1][0] == "blockquote":
            offset = stack.pop()[2]
            if u16 != offset:
                entities.append({"type": kind, "offset": offset, "length": u16 - offset})
    if stack:
        raise ParseError(f"Can't find end of {_MD_NAMES[stack[-1][0]]} entity at byte offset {stack[-1][3]}")
    return out.decode("utf-8", "replace"), _sort(entities)


# ------------------------------------------------------------------------------------------------ legacy Markdown


def parse_markdown(text: str) -> tuple[str, list[dict]]:
    """parse_mode "Markdown": only *bold*, _italic_, `code`, ```pre``` and [text](url); no nesting."""
    b = text.encode("utf-8") + _PAD
    n = len(b) - len(_PAD)
    out = bytearray()
    u16 = 0
    entities: list[dict] = []
    i = 0
    while i < n:
        c = b[i]
        if c == _BS and b[i + 1] in b"_*`[":
            out.append(b[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in b"_*`[":
            u16 += _utf16_units(c)
            out.append(c)
            i += 1
            continue
        begin = i
        end_char = ord("]") if c == ord("[") else c
        is_pre = False
        language = ""
        i += 1
        if c == _BT and b[i] == _BT and b[i + 1] == _BT:
            i += 2
            is_pre = True
            language_end = i
            while not _is_space(b[language_end]) and b[language_end] != _BT:
                language_end += 1
            if i != language_end and language_end < n and b[language_end] != _BT:
                language = b[i:language_end].decode("utf-8", "replace")
                i = language_end
            if b[i] in (_LF, _CR):
                i += 2 if b[i + 1] in (_LF, _CR) and b[i] != b[i + 1] else 1
        offset, out_start = u16, len(out)
        while i < n and (b[i] != end_char or (is_pre and not (b[i + 1] == _BT and b[i + 2] == _BT))):
            u16 += _utf16_units(b[i])
            out.append(b[i])
            i += 1
        if i == n:
            raise ParseError(f"Can't find end of the entity starting at byte offset {begin}")
        if offset != u16:
            span = {"offset": offset, "length": u16 - offset}
            if c == ord("_"):
                entities.append({"type": "italic", **span})
            elif c == ord("*"):
                entities.append({"type": "bold", **span})
            elif c == ord("["):
                if b[i + 1] == _LPAR:
                    url_begin = i + 2
                    i = url_begin
                    while i < n and b[i] != _RPAR:
                        i += 1
                    url = b[url_begin:i].decode("utf-8", "replace")
                else:
                    url = out[out_start:].decode("utf-8", "replace")
                user_id = _link_user_id(url)
                if user_id:
                    entities.append({"type": "text_mention", **span, "user": {"id": user_id}})
                elif checked := check_url(url):
                    entities.append({"type": "text_link", **span, "url": checked})
            elif is_pre:
                entities.append({"type": "pre", **span, **({"language": language} if language else {})})
            else:
                entities.append({"type": "code", **span})
        if is_pre:
            i += 2
        i += 1
    return out.decode("utf-8", "replace"), _sort(entities)


# ---------------------------------------------------------------------------------------------------- entry point


_PARSERS = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}


def parse(text: str, parse_mode: str) -> tuple[str, list[dict]]:
    """Raises KeyError for an unknown parse_mode and ParseError for bad markup."""
    return _PARSERS[parse_mode.lower()](text)


_TRIM = " \t\n\r\v\f"


def finalize(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Trim surrounding whitespace and clip entities to the text, as TDLib's fix_formatted_text does before sending."""
    stripped = text.strip(_TRIM)
    shift = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(total, entity["offset"] + entity["length"] - shift)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, _sort(result)
