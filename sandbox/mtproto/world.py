"""What the MTProto stand-in knows: people, business accounts, their private chats, files, and each account's
update sequence (pts) — the state Telegram keeps for a user account.

Only private chats exist (what the product ingests). Message ids are per account and grow with time across all
its chats, as in Telegram; every change to an account's messages takes the next pts and is logged, so
updates.getDifference can replay exactly what a disconnected client missed.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from sandbox.vk import synth

LOGIN_CODE_TTL = 300  # seconds a login code stays valid
SERVICE_USER_ID = 777000  # "Telegram": sends login codes to an account's other sessions


@dataclass
class Person:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone: str | None = None  # digits only, as Telegram returns it
    lang_code: str | None = "ru"

    @property
    def access_hash(self) -> int:
        """Stable per user, as each account's view of a user is (here: the same for every account)."""
        return int.from_bytes(hashlib.blake2b(f"ah:{self.id}".encode(), digest_size=8).digest(), "little",
                              signed=True)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass
class StoredMedia:
    id: int
    kind: str  # photo | document
    data: bytes
    mime: str
    date: int
    file_name: str | None = None
    voice: bool = False
    audio: bool = False
    video: bool = False
    round: bool = False
    duration: int = 0
    width: int = 0
    height: int = 0

    @property
    def access_hash(self) -> int:
        return int.from_bytes(hashlib.blake2b(f"fh:{self.id}".encode(), digest_size=8).digest(), "little",
                              signed=True)

    @property
    def file_reference(self) -> bytes:
        return hashlib.blake2b(f"fr:{self.id}".encode(), digest_size=12).digest()


@dataclass
class ChatMessage:
    id: int
    peer: int  # the other person of the private chat
    out: bool  # written by the account
    date: int
    text: str = ""
    media: StoredMedia | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    entities: list = field(default_factory=list)  # telethon MessageEntity* (links behind text, formatting)


@dataclass
class PrivateChat:
    peer: int
    message_ids: list[int] = field(default_factory=list)
    read_inbox_max_id: int = 0  # the account read the customer's messages up to here
    read_outbox_max_id: int = 0  # the customer read the account's messages up to here

    def live_ids(self, messages: dict[int, ChatMessage]) -> list[int]:
        return [i for i in self.message_ids if not messages[i].deleted]


@dataclass
class LoggedUpdate:
    pts: int
    pts_count: int
    kind: str  # new | edit | delete | read_inbox | read_outbox
    date: int
    message_id: int | None = None
    message_ids: tuple[int, ...] = ()
    peer: int | None = None
    max_id: int = 0


@dataclass
class Account:
    """A Telegram user account a business connects (a person signs in with phone + code, maybe 2FA)."""

    user: Person
    password: str | None = None
    password_hint: str | None = None
    pts: int = 0
    next_message_id: int = 1
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    chats: dict[int, PrivateChat] = field(default_factory=dict)
    log: list[LoggedUpdate] = field(default_factory=list)
    random_ids: dict[int, int] = field(default_factory=dict)  # random_id → message id (RANDOM_ID_DUPLICATE)
    blocked_by: set[int] = field(default_factory=set)  # customers who blocked this account
    blocked: set[int] = field(default_factory=set)  # customers this account blocked

    def chat(self, peer: int) -> PrivateChat:
        if peer not in self.chats:
            self.chats[peer] = PrivateChat(peer)
        return self.chats[peer]

    def add_message(self, peer: int, *, out: bool, text: str, date: int | None = None,
                    media: StoredMedia | None = None, reply_to: int | None = None, entities: list | None = None,
                    logged: bool = True) -> tuple[ChatMessage, LoggedUpdate | None]:
        message = ChatMessage(id=self.next_message_id, peer=peer, out=out, date=date or int(time.time()),
                              text=text, media=media, reply_to=reply_to, entities=list(entities or ()))
        self.next_message_id += 1
        self.messages[message.id] = message
        self.chat(peer).message_ids.append(message.id)
        if not logged:
            # history that was there before: outside the update sequence, so a client already following the
            # account's pts sees no gap (a gap would end in differenceTooLong and lose the next realtime updates)
            return message, None
        return message, self._log("new", message_id=message.id, peer=peer)

    def edit_message(self, message: ChatMessage, text: str) -> LoggedUpdate:
        message.text = text
        message.edit_date = int(time.time())
        return self._log("edit", message_id=message.id, peer=message.peer)

    def delete_messages(self, ids: list[int]) -> LoggedUpdate | None:
        gone = [i for i in ids if i in self.messages and not self.messages[i].deleted]
        for i in gone:
            self.messages[i].deleted = True
        if not gone:
            return None
        return self._log("delete", message_ids=tuple(gone), pts_count=len(gone))

    def read(self, peer: int, max_id: int, *, outbox: bool) -> LoggedUpdate | None:
        chat = self.chat(peer)
        if outbox:
            if max_id <= chat.read_outbox_max_id:
                return None
            chat.read_outbox_max_id = max_id
        else:
            if max_id <= chat.read_inbox_max_id:
                return None
            chat.read_inbox_max_id = max_id
        return self._log("read_outbox" if outbox else "read_inbox", peer=peer, max_id=max_id)

    def unread_count(self, peer: int) -> int:
        chat = self.chat(peer)
        return sum(1 for i in chat.live_ids(self.messages)
                   if not self.messages[i].out and i > chat.read_inbox_max_id)

    def _log(self, kind: str, *, pts_count: int = 1, **what) -> LoggedUpdate:
        self.pts += pts_count
        entry = LoggedUpdate(pts=self.pts, pts_count=pts_count, kind=kind, date=int(time.time()), **what)
        self.log.append(entry)
        return entry

    def updates_after(self, pts: int) -> list[LoggedUpdate]:
        return [u for u in self.log if u.pts > pts]


@dataclass
class LoginCode:
    phone: str
    phone_code_hash: str
    code: str
    sent_at: float


class World:
    def __init__(self) -> None:
        self.people: dict[int, Person] = {}
        self.accounts: dict[int, Account] = {}
        self.phones: dict[str, int] = {}
        self.media: dict[int, StoredMedia] = {}
        self.codes: dict[str, LoginCode] = {}  # phone_code_hash → code
        self._next_user_id = 5_000_000_001
        self._next_media_id = 9_000_000_001
        self.version = 0  # bumped on every change (the viewer reloads on it)
        self.service = self.person(SERVICE_USER_ID, "Telegram")

    def touch(self) -> None:
        self.version += 1

    # --- people and accounts

    def person(self, user_id: int | None, first_name: str, last_name: str | None = None, *,
               username: str | None = None, phone: str | None = None, lang_code: str | None = "ru") -> Person:
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        person = Person(user_id, first_name, last_name, username, _digits(phone) if phone else None, lang_code)
        self.people[user_id] = person
        if person.phone:
            self.phones[person.phone] = user_id
        self.touch()
        return person

    def create_account(self, phone: str, first_name: str, last_name: str | None = None, *,
                       username: str | None = None, password: str | None = None,
                       password_hint: str | None = None, user_id: int | None = None) -> Account:
        digits = _digits(phone)
        if digits in self.phones and self.phones[digits] in self.accounts:
            return self.accounts[self.phones[digits]]
        user = self.person(user_id, first_name, last_name, username=username, phone=digits)
        account = Account(user=user, password=password, password_hint=password_hint)
        self.accounts[user.id] = account
        self.touch()
        return account

    def account_by_phone(self, phone: str) -> Account | None:
        user_id = self.phones.get(_digits(phone))
        return self.accounts.get(user_id) if user_id is not None else None

    # --- login codes

    def new_code(self, phone: str) -> LoginCode:
        code = LoginCode(_digits(phone), secrets.token_hex(9), f"{secrets.randbelow(100_000):05d}", time.time())
        self.codes[code.phone_code_hash] = code
        self.touch()
        return code

    def last_code(self, phone: str) -> str | None:
        """The newest login code sent to this phone (what the person reads in their Telegram app)."""
        digits = _digits(phone)
        codes = [c for c in self.codes.values() if c.phone == digits]
        return max(codes, key=lambda c: c.sent_at).code if codes else None

    # --- media

    def store_media(self, kind: str, data: bytes, *, mime: str, file_name: str | None = None, **attrs) -> StoredMedia:
        media = StoredMedia(id=self._next_media_id, kind=kind, data=data, mime=mime, date=int(time.time()),
                            file_name=file_name, **attrs)
        self._next_media_id += 1
        if kind == "photo" and not media.width:
            media.width, media.height = synth.image_size(data) or (0, 0)
        self.media[media.id] = media
        return media

    # --- seeded history

    def seed(self, account: Account, conversations: int, messages_per_conversation: int, *,
             end: int | None = None, span: int = 180 * 86_400, seed: int = 1) -> list[Person]:
        """Deterministic Russian-language shop history: `conversations` customers, each with a dialog of
        `messages_per_conversation` messages (customer and shop taking turns, some photos of receipts), spread
        over `span` seconds before `end`. Ids follow time across all chats, as Telegram numbers them."""
        end = end or int(time.time()) - 3600
        events: list[tuple[int, int, int, bool]] = []
        customers = []
        for i in range(conversations):
            info = synth.person(900_000 + i)
            customer = self.person(None, info["first_name"], info["last_name"],
                                   username=f"buyer{account.user.id % 10_000}_{i}" if i % 3 else None)
            customers.append(customer)
            first = end - span + (span * i) // max(1, conversations) + synth.h(seed, "start", i) % 3600
            for j in range(messages_per_conversation):
                events.append((first + j * (60 + synth.h(seed, "gap", i, j) % 900), i, j, j % 2 == 0))
        events.sort()
        for date, i, j, from_customer in events:
            media = None
            kind = None
            if from_customer and synth.h(seed, "photo", i, j) % 10 == 0:
                kind = "photo"
                media = self.store_media("photo", synth.png(120, 160, synth.h(seed, "png", i, j) % 10_000),
                                         mime="image/png")
            text = synth.text(seed, i, j, from_customer, kind)
            account.add_message(customers[i].id, out=not from_customer, text=text, date=date, media=media,
                                logged=False)
        for customer in customers:
            chat = account.chat(customer.id)
            ids = chat.message_ids
            chat.read_outbox_max_id = ids[-1] if ids else 0
            chat.read_inbox_max_id = ids[-1] if ids else 0
        self.touch()
        return customers


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
