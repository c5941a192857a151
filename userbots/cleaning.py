"""What a channel sends, made storable: PostgreSQL text holds neither NUL nor lone UTF-16 surrogates (half an
emoji cut by a length limit), and a name must stay on one line. Everything else people write is kept as it is."""

from __future__ import annotations


def _valid_utf8(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # a lone surrogate: replaced, the rest of the text kept
        return text.encode("utf-8", "replace").decode("utf-8")


def clean_text(text) -> str:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _valid_utf8(text.replace("\x00", ""))


def clean_name(name) -> str | None:
    """A person's or chat's name: RTL scripts, combining marks and emoji stay; control characters go."""
    if not isinstance(name, str):
        return None
    if not name.isprintable():  # the common case is checked in C; only odd names are walked
        name = "".join(ch for ch in name if ch >= " ")
    return _valid_utf8(name).strip() or None
