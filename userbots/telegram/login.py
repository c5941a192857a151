"""Connecting a Telegram account: phone → code → (2FA password), or a QR code scanned in the Telegram app.

`LoginFlow` is a framework-free state machine: it knows the steps, the retries and the answers to show, and drives a
`LoginClient` (the Telethon one in production, a fake in tests). `TelegramLoginService` keeps one flow per person
connecting an account and stores the resulting session encrypted as a channel — this is the API the manager bot's
/connect_telegram drives:

    service = ctx.services["telegram_login"]
    step = await service.start(tenant_id, telegram_user_id)                 # → asks for the phone
    step = await service.start(tenant_id, telegram_user_id, method="qr")    # → step.qr_png to show
    step = await service.submit(tenant_id, telegram_user_id, text)          # phone, code or password, as asked
    step = await service.wait_qr(tenant_id, telegram_user_id, timeout=30)   # after showing the QR
    await service.cancel(tenant_id, telegram_user_id)

Every step is a `LoginStep`: `state` (what is expected next), `text` (Russian, ready to show), `qr_png`/`qr_url`
for the QR method, `channel_id` once connected, `retry` when the last input was wrong.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.crypto import SecretBox
from core.db import Database
from core.models import ChannelKind
from core.services import channels as channel_service
from core.settings import Settings

from ..texts import t

log = logging.getLogger(__name__)

MAX_CODE_ATTEMPTS = 3
MAX_PASSWORD_ATTEMPTS = 3
FLOW_TTL = 15 * 60  # seconds a half-finished login is kept


class LoginState(str, enum.Enum):
    PHONE = "phone"  # waiting for the phone number
    CODE = "code"  # waiting for the code Telegram sent
    PASSWORD = "password"  # waiting for the 2FA cloud password
    QR = "qr"  # waiting for the QR code to be scanned
    DONE = "done"
    FAILED = "failed"  # too many wrong attempts, or the number is banned: start again
    CANCELLED = "cancelled"


class LoginErrorKind(str, enum.Enum):
    PHONE_INVALID = "phone_invalid"
    PHONE_BANNED = "phone_banned"
    CODE_INVALID = "code_invalid"
    CODE_EXPIRED = "code_expired"
    PASSWORD_NEEDED = "password_needed"
    PASSWORD_INVALID = "password_invalid"
    QR_EXPIRED = "qr_expired"
    FLOOD = "flood"


class LoginError(Exception):
    def __init__(self, kind: LoginErrorKind, seconds: int | None = None):
        super().__init__(kind.value)
        self.kind = kind
        self.seconds = seconds


@dataclass(frozen=True)
class Account:
    user_id: int
    title: str
    username: str | None = None


@dataclass(frozen=True)
class QrTicket:
    url: str  # tg://login?token=…
    expires: datetime


class LoginClient(Protocol):
    """What a login needs from Telegram. Errors are LoginError with a LoginErrorKind."""

    async def send_code(self, phone: str) -> str: ...  # → phone_code_hash

    async def sign_in_code(self, phone: str, code: str, phone_code_hash: str) -> Account: ...

    async def sign_in_password(self, password: str) -> Account: ...

    async def password_hint(self) -> str | None: ...

    async def qr_start(self) -> QrTicket: ...

    async def qr_wait(self, timeout: float) -> Account: ...  # raises LoginError(QR_EXPIRED) on timeout

    async def session_string(self) -> str: ...

    # Optional: the account's update state right after signing in (pts, qts, seq, date), where its live ingest
    # begins — the first connection asks Telegram for the difference since, so nothing written meanwhile is lost.
    # async def update_state(self) -> dict: ...

    async def close(self) -> None: ...


@dataclass
class LoginStep:
    state: LoginState
    text: str
    retry: bool = False
    qr_url: str | None = None
    qr_png: bytes | None = None
    account: Account | None = None
    channel_id: int | None = None


def qr_png(url: str, box: int = 8, border: int = 2) -> bytes:
    """The QR code as a PNG, written directly (qrcode's image backends need Pillow or pypng; the matrix is enough)."""
    import qrcode

    code = qrcode.QRCode(border=border)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    rows = []
    for cells in matrix:
        line = b"\x00" + b"".join((b"\x00" if dark else b"\xff") * box for dark in cells)  # filter byte, then pixels
        rows.extend([line] * box)
    size = len(matrix) * box

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


PHONE_RE = re.compile(r"^\+?\d{7,15}$")


def normalize_phone(text: str) -> str | None:
    digits = re.sub(r"[\s\-()]", "", text or "")
    if digits.startswith("8") and len(digits) == 11:  # a Russian number written the local way
        digits = "+7" + digits[1:]
    if not PHONE_RE.match(digits):
        return None
    return digits if digits.startswith("+") else "+" + digits


def normalize_code(text: str) -> str:
    # people paste "1 2 3 4 5" or "12-345" (Telegram expires codes sent as-is through Telegram itself)
    return re.sub(r"\D", "", text or "")


class LoginFlow:
    """One account being connected. Not thread-safe; one person drives it step by step."""

    def __init__(self, client: LoginClient, *, lang: str = "ru"):
        self.client = client
        self.lang = lang
        self.state = LoginState.PHONE
        self.phone: str | None = None
        self.phone_code_hash: str | None = None
        self.code_attempts = 0
        self.password_attempts = 0
        self.account: Account | None = None
        self.qr: QrTicket | None = None

    def _step(self, key: str, *, retry: bool = False, **values) -> LoginStep:
        return LoginStep(self.state, t(key, self.lang, **values), retry=retry, account=self.account)

    def _expected(self) -> str:
        key = {LoginState.PHONE: "channel.login_expected.phone", LoginState.CODE: "channel.login_expected.code",
               LoginState.PASSWORD: "channel.login_expected.password",
               LoginState.QR: "channel.login_expected.qr"}.get(self.state)
        return t(key, self.lang) if key else self.state.value

    async def begin(self) -> LoginStep:
        self.state = LoginState.PHONE
        return self._step("channel.login_ask_phone")

    async def submit(self, text: str) -> LoginStep:
        """Whatever the person typed, read as what the flow waits for."""
        if self.state == LoginState.PHONE:
            return await self.submit_phone(text)
        if self.state == LoginState.CODE:
            return await self.submit_code(text)
        if self.state == LoginState.PASSWORD:
            return await self.submit_password(text)
        return self._step("channel.login_not_expected", expected=self._expected())

    async def submit_phone(self, text: str) -> LoginStep:
        if self.state != LoginState.PHONE:
            return self._step("channel.login_not_expected", expected=self._expected())
        phone = normalize_phone(text)
        if phone is None:
            return self._step("channel.login_phone_invalid", retry=True)
        try:
            self.phone_code_hash = await self.client.send_code(phone)
        except LoginError as exc:
            return self._fail_or_retry(exc)
        self.phone = phone
        self.state = LoginState.CODE
        return self._step("channel.login_code_sent", phone=phone)

    async def submit_code(self, text: str) -> LoginStep:
        if self.state != LoginState.CODE:
            return self._step("channel.login_not_expected", expected=self._expected())
        code = normalize_code(text)
        try:
            self.account = await self.client.sign_in_code(self.phone, code, self.phone_code_hash)
        except LoginError as exc:
            if exc.kind == LoginErrorKind.PASSWORD_NEEDED:
                return await self._ask_password()
            if exc.kind == LoginErrorKind.CODE_INVALID:
                self.code_attempts += 1
                left = MAX_CODE_ATTEMPTS - self.code_attempts
                if left <= 0:
                    self.state = LoginState.FAILED
                    return self._step("channel.login_too_many_attempts")
                return self._step("channel.login_code_invalid", retry=True, left=left)
            if exc.kind == LoginErrorKind.CODE_EXPIRED:
                try:
                    self.phone_code_hash = await self.client.send_code(self.phone)
                except LoginError as again:
                    return self._fail_or_retry(again)
                self.code_attempts = 0
                return self._step("channel.login_code_expired", retry=True)
            return self._fail_or_retry(exc)
        self.state = LoginState.DONE
        return self._step("channel.login_done", title=self.account.title)

    async def _ask_password(self) -> LoginStep:
        self.state = LoginState.PASSWORD
        hint = await self.client.password_hint()
        return self._step("channel.login_ask_password",
                          hint=t("channel.login_password_hint", self.lang, hint=hint) if hint else "")

    async def submit_password(self, text: str) -> LoginStep:
        if self.state != LoginState.PASSWORD:
            return self._step("channel.login_not_expected", expected=self._expected())
        try:
            self.account = await self.client.sign_in_password(text)
        except LoginError as exc:
            if exc.kind == LoginErrorKind.PASSWORD_INVALID:
                self.password_attempts += 1
                left = MAX_PASSWORD_ATTEMPTS - self.password_attempts
                if left <= 0:
                    self.state = LoginState.FAILED
                    return self._step("channel.login_too_many_attempts")
                return self._step("channel.login_password_invalid", retry=True, left=left)
            return self._fail_or_retry(exc)
        self.state = LoginState.DONE
        return self._step("channel.login_done", title=self.account.title)

    async def begin_qr(self) -> LoginStep:
        self.state = LoginState.QR
        return await self._show_qr("channel.login_qr")

    async def _show_qr(self, key: str) -> LoginStep:
        try:
            self.qr = await self.client.qr_start()
        except LoginError as exc:
            return self._fail_or_retry(exc)
        step = self._step(key, expires=self.qr.expires.strftime("%H:%M:%S"))
        if key != "channel.login_qr":  # a renewed code: say so, then how to scan it
            step.text += " " + t("channel.login_qr", self.lang, expires=self.qr.expires.strftime("%H:%M:%S"))
        step.qr_url = self.qr.url
        step.qr_png = qr_png(self.qr.url)
        return step

    async def wait_qr(self, timeout: float) -> LoginStep:
        """Wait for the scan; an expired code is replaced by a fresh one (shown again)."""
        if self.state != LoginState.QR:
            return self._step("channel.login_not_expected", expected=self._expected())
        try:
            self.account = await self.client.qr_wait(timeout)
        except LoginError as exc:
            if exc.kind == LoginErrorKind.PASSWORD_NEEDED:
                return await self._ask_password()
            if exc.kind == LoginErrorKind.QR_EXPIRED:
                return await self._show_qr("channel.login_qr_expired")
            return self._fail_or_retry(exc)
        self.state = LoginState.DONE
        return self._step("channel.login_done", title=self.account.title)

    async def cancel(self) -> LoginStep:
        self.state = LoginState.CANCELLED
        await self.client.close()
        return self._step("channel.login_cancelled")

    def _fail_or_retry(self, exc: LoginError) -> LoginStep:
        if exc.kind == LoginErrorKind.PHONE_INVALID:
            self.state = LoginState.PHONE
            return self._step("channel.login_phone_invalid", retry=True)
        if exc.kind == LoginErrorKind.PHONE_BANNED:
            self.state = LoginState.FAILED
            return self._step("channel.login_phone_banned")
        if exc.kind == LoginErrorKind.FLOOD:
            return self._step("channel.login_flood", retry=True, seconds=exc.seconds or 0)
        self.state = LoginState.FAILED
        return self._step("channel.login_too_many_attempts")


class TelethonLoginClient:
    """LoginClient over a Telethon TelegramClient (a fresh, not yet authorized one)."""

    def __init__(self, client):
        self.client = client
        self._qr = None

    async def _connected(self):
        if not self.client.is_connected():
            await self.client.connect()
        return self.client

    @staticmethod
    def _translate(exc: Exception) -> LoginError | None:
        from telethon import errors

        table = (
            (errors.SessionPasswordNeededError, LoginErrorKind.PASSWORD_NEEDED),
            (errors.PhoneCodeInvalidError, LoginErrorKind.CODE_INVALID),
            (errors.PhoneCodeEmptyError, LoginErrorKind.CODE_INVALID),
            (errors.PhoneCodeExpiredError, LoginErrorKind.CODE_EXPIRED),
            (errors.PhoneNumberInvalidError, LoginErrorKind.PHONE_INVALID),
            (errors.PhoneNumberUnoccupiedError, LoginErrorKind.PHONE_INVALID),
            (errors.PhoneNumberBannedError, LoginErrorKind.PHONE_BANNED),
            (errors.PasswordHashInvalidError, LoginErrorKind.PASSWORD_INVALID),
        )
        if isinstance(exc, errors.FloodWaitError):
            return LoginError(LoginErrorKind.FLOOD, seconds=exc.seconds)
        for error_type, kind in table:
            if isinstance(exc, error_type):
                return LoginError(kind)
        return None

    async def _call(self, coro_factory):
        try:
            return await coro_factory()
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from None

    @staticmethod
    def _account(user) -> Account:
        title = " ".join(p for p in (user.first_name, user.last_name) if p) or (user.username or str(user.id))
        return Account(user_id=user.id, title=title, username=user.username)

    async def send_code(self, phone: str) -> str:
        client = await self._connected()
        sent = await self._call(lambda: client.send_code_request(phone))
        return sent.phone_code_hash

    async def sign_in_code(self, phone: str, code: str, phone_code_hash: str) -> Account:
        client = await self._connected()
        user = await self._call(lambda: client.sign_in(phone=phone, code=code, phone_code_hash=phone_code_hash))
        return self._account(user)

    async def sign_in_password(self, password: str) -> Account:
        client = await self._connected()
        return self._account(await self._call(lambda: client.sign_in(password=password)))

    async def password_hint(self) -> str | None:
        from telethon import functions

        client = await self._connected()
        try:
            return (await client(functions.account.GetPasswordRequest())).hint
        except Exception as exc:  # the hint is a courtesy: the password can be asked without it
            log.info("could not read the 2FA hint: %r", exc)
            return None

    async def qr_start(self) -> QrTicket:
        client = await self._connected()
        if self._qr is None:
            self._qr = await self._call(lambda: client.qr_login())
        else:
            await self._call(lambda: self._qr.recreate())
        return QrTicket(self._qr.url, self._qr.expires)

    async def qr_wait(self, timeout: float) -> Account:
        try:
            user = await self._call(lambda: self._qr.wait(timeout))
        except asyncio.TimeoutError:
            raise LoginError(LoginErrorKind.QR_EXPIRED) from None
        return self._account(user)

    async def session_string(self) -> str:
        return self.client.session.export() if hasattr(self.client.session, "export") else self.client.session.save()

    async def update_state(self) -> dict:
        """updates.getState of the account just signed in: the realtime client starts from it (getDifference), so
        what customers write before its first connection is fetched then."""
        from telethon import functions

        state = await self.client(functions.updates.GetStateRequest())
        return {"pts": state.pts, "qts": state.qts, "seq": state.seq, "date": int(state.date.timestamp())}

    async def close(self) -> None:
        await self.client.disconnect()


@dataclass
class _Pending:
    flow: LoginFlow
    started: float = field(default_factory=time.monotonic)


LoginClientFactory = Callable[[], Awaitable[LoginClient]]


class TelegramLoginService:
    """Connect-an-account flows, one per (tenant, person). A finished flow becomes a channel with its session stored
    encrypted; `on_connected(channel_id)` then starts its realtime ingest."""

    def __init__(self, db: Database, secrets: SecretBox, client_factory: LoginClientFactory,
                 on_connected: Callable[[int], Awaitable[None]] | None = None):
        self.db = db
        self.secrets = secrets
        self.client_factory = client_factory
        self.on_connected = on_connected
        self.flows: dict[tuple[int, int], _Pending] = {}

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, p in self.flows.items() if now - p.started > FLOW_TTL]:
            pending = self.flows.pop(key)
            asyncio.ensure_future(pending.flow.client.close())

    async def start(self, tenant_id: int, user_id: int, *, method: str = "phone", lang: str = "ru") -> LoginStep:
        self._expire()
        old = self.flows.pop((tenant_id, user_id), None)
        if old is not None:
            await old.flow.client.close()
        flow = LoginFlow(await self.client_factory(), lang=lang)
        self.flows[(tenant_id, user_id)] = _Pending(flow)
        step = await (flow.begin_qr() if method == "qr" else flow.begin())
        return await self._after(tenant_id, user_id, step)

    def state(self, tenant_id: int, user_id: int) -> LoginState | None:
        pending = self.flows.get((tenant_id, user_id))
        return pending.flow.state if pending else None

    async def submit(self, tenant_id: int, user_id: int, text: str) -> LoginStep:
        pending = self.flows.get((tenant_id, user_id))
        if pending is None:
            return LoginStep(LoginState.FAILED, t("channel.login_too_many_attempts"))
        return await self._after(tenant_id, user_id, await pending.flow.submit(text))

    async def wait_qr(self, tenant_id: int, user_id: int, timeout: float = 30.0) -> LoginStep:
        pending = self.flows.get((tenant_id, user_id))
        if pending is None:
            return LoginStep(LoginState.FAILED, t("channel.login_too_many_attempts"))
        return await self._after(tenant_id, user_id, await pending.flow.wait_qr(timeout))

    async def cancel(self, tenant_id: int, user_id: int) -> LoginStep:
        pending = self.flows.pop((tenant_id, user_id), None)
        if pending is None:
            return LoginStep(LoginState.CANCELLED, t("channel.login_cancelled"))
        return await pending.flow.cancel()

    async def _after(self, tenant_id: int, user_id: int, step: LoginStep) -> LoginStep:
        if step.state == LoginState.DONE:
            pending = self.flows.pop((tenant_id, user_id))
            step.channel_id = await self._store(tenant_id, pending.flow)
            await pending.flow.client.close()
            if self.on_connected is not None:
                await self.on_connected(step.channel_id)
        elif step.state == LoginState.FAILED:
            pending = self.flows.pop((tenant_id, user_id), None)
            if pending is not None:
                await pending.flow.client.close()
        return step

    async def _store(self, tenant_id: int, flow: LoginFlow) -> int:
        session = await flow.client.session_string()
        read_state = getattr(flow.client, "update_state", None)  # optional in LoginClient
        start = await read_state() if read_state is not None else None
        async with self.db.unit_of_work() as db_session:
            return await channel_service.add_channel(
                db_session, self.secrets, tenant_id=tenant_id, kind=ChannelKind.TELEGRAM_ACCOUNT,
                external_id=str(flow.account.user_id), title=flow.account.title, credentials=session,
                settings={"username": flow.account.username} if flow.account.username else None,
                start_state=start,
            )


def telethon_login_factory(settings: Settings) -> LoginClientFactory:
    """Fresh Telethon clients for logins (api_id/api_hash from my.telegram.org)."""

    async def make() -> LoginClient:
        from .client import new_telethon_client
        from .session import DatabaseSession

        return TelethonLoginClient(new_telethon_client(settings, DatabaseSession()))

    return make
