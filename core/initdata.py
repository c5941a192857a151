"""Telegram Mini App initData validation (core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app).

secret = HMAC_SHA256(key="WebAppData", msg=bot_token); data-check-string = the sorted `k=v` lines of every field
but `hash` (`signature` stays in); the hex HMAC_SHA256(secret, dcs) must equal `hash` (compared in constant time);
auth_date older than the TTL is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .errors import NotAuthenticated


@dataclass(frozen=True)
class WebAppUser:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    auth_date: int


def sign(fields: dict[str, str], bot_token: str) -> str:
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    data_check_string = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return hmac.new(secret, data_check_string.encode(), hashlib.sha256).hexdigest()


def validate(init_data: str, bot_token: str, *, ttl: int, now: float) -> WebAppUser:
    """The Telegram user initData speaks for. Anything wrong with it — unsigned, forged, expired, or signed but
    malformed (no user, a user that is not an object or has no integer id) — is NotAuthenticated (HTTP 401)."""
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=False))
    received = fields.pop("hash", None)
    if not received:
        raise NotAuthenticated("initData has no hash")
    if not hmac.compare_digest(sign(fields, bot_token), received):
        raise NotAuthenticated("initData signature is invalid")
    try:
        auth_date = int(fields["auth_date"])
        user = json.loads(fields["user"])
    except (KeyError, ValueError, TypeError, RecursionError):
        raise NotAuthenticated("initData lacks auth_date or user") from None
    if now - auth_date > ttl:
        raise NotAuthenticated("initData has expired; reopen the Mini App")
    if not isinstance(user, dict):
        raise NotAuthenticated("initData user is not an object")
    user_id = user.get("id")
    # JSON booleans are ints to Python; a Telegram user id is a positive integer and nothing else.
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise NotAuthenticated("initData user has no valid id")
    return WebAppUser(id=user_id, first_name=_text(user.get("first_name")) or "",
                      last_name=_text(user.get("last_name")), username=_text(user.get("username")),
                      language_code=_text(user.get("language_code")), auth_date=auth_date)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None
