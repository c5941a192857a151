"""Logs never carry secrets: every log record is redacted as it is made, whatever logger or handler it goes to.

Installed once at start-up (salesop.cli), it replaces
- the values of every secret setting (each SecretStr of Settings: bot token, API keys, the database URL and its
  password, the webhook secret, the master key) and the embedded master key file's key,
- values registered later at run time (`register`: e.g. a channel token or session string just decrypted),
- and anything shaped like a secret even if nobody registered it: Telegram bot tokens (`123456:AA…`, 35 characters
  after the colon), VK tokens (`vk1.a.…`), OpenAI-style keys (`sk-…`), ElevenLabs keys (`sk_…`), Telethon
  session strings (`1` followed by hundreds of base64 characters)

with `***`. The record's message is formatted and redacted, and so is the text of its exception and stack, which
is where URLs with tokens usually hide (an aiohttp error quoting the request URL `…/bot<token>/getMe`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from pydantic import BaseModel, SecretStr

MASK = "***"
PATTERNS = (
    re.compile(r"\d{5,}:[A-Za-z0-9_-]{35}"),  # Telegram bot token
    re.compile(r"vk1\.a\.[A-Za-z0-9_.\-]+"),  # VK access token
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),  # OpenAI (and compatible) API key
    re.compile(r"\bsk_[A-Fa-f0-9]{32,}"),  # ElevenLabs API key
    re.compile(r"\b1[A-Za-z0-9_\-+/]{300,}={0,2}"),  # Telethon StringSession
)
MIN_SECRET = 6  # shorter configured values (a test's "x") would blank ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def register(*values: str | None) -> None:
    """Secrets only known at run time (a decrypted token): redacted from now on."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET:
                _secrets.add(value)
        _compile()


_known: re.Pattern | None = None


def _compile() -> None:
    global _known
    # Longest first, so a URL holding a password is replaced whole before the password alone.
    ordered = sorted(_secrets, key=len, reverse=True)
    _known = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None


def redact(text: str) -> str:
    if not text:
        return text
    known = _known
    if known is not None:
        text = known.sub(MASK, text)
    for pattern in PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def secrets_of(settings) -> list[str]:
    """Every SecretStr value of the settings (nested sections included), database URL passwords, and the embedded
    master key file's key when there is one."""
    from urllib.parse import urlsplit

    found: list[str] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name, None)
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                found.append(secret)
                try:
                    password = urlsplit(secret).password if "://" in secret else None
                except ValueError:
                    password = None
                if password:
                    found.append(password)
            elif isinstance(value, BaseModel):
                walk(value)

    walk(settings)
    data_dir = getattr(settings, "data_dir", None)
    if data_dir is not None:
        from .crypto import KEY_FILE

        key_file = data_dir / KEY_FILE
        try:
            found.extend(line.strip() for line in key_file.read_text().splitlines() if line.strip())
        except OSError:
            pass
    return found


def install(settings=None, extra: Iterable[str] = ()) -> None:
    """Redact every log record from now on (idempotent; a second call adds the settings' secrets)."""
    global _installed
    register(*(secrets_of(settings) if settings is not None else []), *extra)
    with _lock:
        if _installed:
            return
        _installed = True
        make_record = logging.getLogRecordFactory()

        def redacting_record(*args, **kwargs) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(redacting_record)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to the handler to report
        return
    clean = redact(message)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
