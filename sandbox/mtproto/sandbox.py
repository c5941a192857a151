"""The Telegram user-account stand-in: an MTProto server Telethon connects to unmodified (it is told the address
and the server's RSA public key, as it is told Telegram's), plus a control API to act as the people on the other
side — customers who write, edit, delete, read and block, and the account owner confirming a QR login.

Flood limits: Telegram publishes none for user accounts; what clients see are 420 FLOOD_WAIT_X answers
(https://core.telegram.org/api/errors#420-flood). The budgets below are the commonly observed magnitudes — a few
history pages per second when exporting, about one message per second into one chat, a handful of login codes per
phone per hour — in the same modes as the Bot API stand-in: off, realistic (budget plus a burst), strict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from telethon.tl import types

from ..telegram.ratelimit import Budget, RateLimiter
from .protocol import MTProtoServer, RpcError, ServerKey
from .rpc import Api
from .world import Account, ChatMessage, LoggedUpdate, Person, World

BUDGETS = {
    "read": Budget(3, 1.0, burst=30),  # messages.getHistory / getDialogs per account
    "send": Budget(20, 60.0, burst=10),  # messages sent by one account
    "send_chat": Budget(1, 1.0, burst=2),  # into one private chat
    "send_code": Budget(5, 3600.0, burst=0),  # login codes per phone number
}


class MTProtoSandbox:
    def __init__(self, *, limits: str = "off", time_scale: float = 1.0, latency_ms: float = 0.0,
                 takeout_delay: int = 0, key: ServerKey | None = None):
        self.world = World()
        self.limiter = RateLimiter(limits, time_scale, BUDGETS)
        self.latency_ms = latency_ms
        self.takeout_delay = takeout_delay  # > 0: account.initTakeoutSession answers TAKEOUT_INIT_DELAY_X
        self.calls: dict[str, int] = {}
        self.api = Api(self)
        self.server = MTProtoServer(self.api, key)
        # called with (account, logged update) after every change of an account is pushed to its sessions: the Bot
        # API stand-in shares accounts that are business accounts too (sandbox/telegram/business.py `link`)
        self.listeners: list[Callable[[Account, LoggedUpdate], None]] = []

    # --- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await self.server.start(host, port)

    async def stop(self) -> None:
        await self.server.stop()

    @property
    def address(self) -> str:
        """host:port, what SALESOP_TELEGRAM_MTPROTO_ADDRESS takes."""
        return f"{self.server.host}:{self.server.port}"

    @property
    def public_key(self) -> str:
        """The server's RSA public key (PEM), what SALESOP_TELEGRAM_MTPROTO_PUBLIC_KEY takes."""
        return self.server.key.public_pem()

    @property
    def limits(self) -> str:
        return self.limiter.mode

    def set_limits(self, mode: str) -> None:
        self.limiter.set_mode(mode)

    def limit(self, key: str, kind: str) -> None:
        wait = self.limiter.acquire([(kind, key)])
        if wait is not None:
            raise RpcError(420, f"FLOOD_WAIT_{wait}")

    # --- people

    def create_account(self, phone: str, first_name: str, last_name: str | None = None, *,
                       username: str | None = None, password: str | None = None,
                       password_hint: str | None = None, user_id: int | None = None) -> Account:
        """user_id: the account's Telegram user id when it must be a given one (the user the Bot API stand-in
        knows, for an account that is a business account there too)."""
        return self.world.create_account(phone, first_name, last_name, username=username, password=password,
                                         password_hint=password_hint, user_id=user_id)

    def create_customer(self, first_name: str, last_name: str | None = None, *, username: str | None = None,
                        phone: str | None = None, lang_code: str | None = "ru", user_id: int | None = None) -> Person:
        return self.world.person(user_id, first_name, last_name, username=username, phone=phone,
                                 lang_code=lang_code)

    def account(self, account_id: int) -> Account:
        account = self.world.accounts.get(account_id)
        if account is None:
            raise KeyError(f"no account {account_id}")
        return account

    def login_code(self, phone: str) -> str | None:
        return self.world.last_code(phone)

    def seed(self, account_id: int, conversations: int, messages_per_conversation: int, **kw) -> list[Person]:
        return self.world.seed(self.account(account_id), conversations, messages_per_conversation, **kw)

    # --- the other side of the chats

    async def customer_writes(self, account_id: int, customer_id: int, text: str = "", *,
                              media: dict | None = None, reply_to: int | None = None,
                              links: list[tuple[str, str]] = ()) -> ChatMessage:
        """A customer's message to the business account. media: {"kind": photo|document|voice|video_note,
        "data": bytes, "file_name", "mime", "duration"}; links: (shown text, url) pairs hidden behind text."""
        account = self.account(account_id)
        if customer_id not in self.world.people:
            raise KeyError(f"no person {customer_id}")
        if customer_id in account.blocked:
            raise PermissionError("the account blocked this customer")  # their messages never arrive
        stored = None
        if media:
            kind = media.get("kind", "document")
            stored = self.world.store_media(
                "photo" if kind == "photo" else "document", media["data"],
                mime=media.get("mime") or {"photo": "image/jpeg", "voice": "audio/ogg",
                                           "video_note": "video/mp4"}.get(kind, "application/octet-stream"),
                file_name=media.get("file_name"), voice=kind == "voice", round=kind == "video_note",
                duration=int(media.get("duration") or 0))
        entities = []
        for shown, url in links:
            offset = text.find(shown)
            if offset >= 0:
                entities.append(types.MessageEntityTextUrl(offset=_utf16_len(text[:offset]),
                                                           length=_utf16_len(shown), url=url))
        message, entry = account.add_message(customer_id, out=False, text=text, media=stored, reply_to=reply_to,
                                             entities=entities)
        await self.api.publish(account, entry)
        return message

    async def owner_writes(self, account_id: int, customer_id: int, text: str) -> ChatMessage:
        """The account's owner answers from their own phone: an outgoing message every session sees."""
        account = self.account(account_id)
        message, entry = account.add_message(customer_id, out=True, text=text)
        await self.api.publish(account, entry)
        return message

    async def customer_edits(self, account_id: int, message_id: int, text: str) -> None:
        account = self.account(account_id)
        await self.api.publish(account, account.edit_message(account.messages[message_id], text))

    async def delete(self, account_id: int, message_ids: list[int]) -> None:
        """Messages deleted for both sides (by the customer, or by the owner with "also delete for …")."""
        account = self.account(account_id)
        await self.api.publish(account, account.delete_messages(message_ids))

    async def customer_reads(self, account_id: int, customer_id: int, max_id: int | None = None) -> None:
        account = self.account(account_id)
        chat = account.chat(customer_id)
        outgoing = [i for i in chat.message_ids if account.messages[i].out]
        target = max_id or (outgoing[-1] if outgoing else 0)
        await self.api.publish(account, account.read(customer_id, target, outbox=True))

    def customer_blocks(self, account_id: int, customer_id: int, blocked: bool = True) -> None:
        """Telegram tells the blocked side nothing; sending to them fails with USER_IS_BLOCKED."""
        account = self.account(account_id)
        (account.blocked_by.add if blocked else account.blocked_by.discard)(customer_id)
        self.world.touch()

    async def accept_qr(self, token: bytes, account_id: int) -> None:
        await self.api.accept_login_token(token, self.account(account_id))

    def pending_qr_tokens(self) -> list[bytes]:
        now = time.time()
        return [t for t, v in self.api.login_tokens.items() if v["user_id"] is None and v["expires"] > now]

    def terminate_sessions(self, account_id: int) -> None:
        """"Terminate all other sessions" on the phone: every authorization of the account is revoked."""
        self.server.revoke(account_id)
        self.world.touch()

    # --- read back

    def signed_in(self, account_id: int) -> int:
        return sum(1 for record in self.server.auth_keys.values() if record.user_id == account_id)

    def dialogs(self, account_id: int) -> list[dict]:
        account = self.account(account_id)
        out = []
        for peer, chat in account.chats.items():
            ids = chat.live_ids(account.messages)
            if not ids:
                continue
            person = self.world.people[peer]
            last = account.messages[ids[-1]]
            out.append({"peer": peer, "name": person.name, "username": person.username, "count": len(ids),
                        "top_message": ids[-1], "date": last.date, "text": last.text,
                        "unread": account.unread_count(peer), "blocked": peer in account.blocked_by})
        return sorted(out, key=lambda d: d["top_message"], reverse=True)

    def messages(self, account_id: int, customer_id: int, *, include_deleted: bool = False) -> list[dict]:
        account = self.account(account_id)
        chat = account.chats.get(customer_id)
        if chat is None:
            return []
        out = []
        for message_id in chat.message_ids:
            m = account.messages[message_id]
            if m.deleted and not include_deleted:
                continue
            out.append({"id": m.id, "out": m.out, "text": m.text, "date": m.date,
                        "at": datetime.fromtimestamp(m.date, UTC).isoformat(), "edited": m.edit_date is not None,
                        "deleted": m.deleted, "reply_to": m.reply_to,
                        "read": m.id <= (chat.read_outbox_max_id if m.out else chat.read_inbox_max_id),
                        "media": None if m.media is None else {
                            "id": m.media.id, "kind": "voice" if m.media.voice else
                            "video_note" if m.media.round else m.media.kind,
                            "mime": m.media.mime, "size": len(m.media.data), "file_name": m.media.file_name}})
        return out


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
