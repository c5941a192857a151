"""Connecting a Telegram account, as /connect_telegram drives it: phone → code → 2FA password, or a QR code; wrong
and expired codes and wrong passwords get clear answers and a retry; the session ends up encrypted in a channel."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from sqlalchemy import select
from telethon import errors

from core.models import ChannelAccount, ChannelKind
from userbots.telegram.login import (
    Account,
    LoginError,
    LoginErrorKind,
    LoginState,
    QrTicket,
    TelegramLoginService,
    TelethonLoginClient,
    normalize_code,
    normalize_phone,
)

from . import telegram_fakes as tf
from .conftest import make_vk_channel

ANNA = Account(user_id=555, title="Анна Петрова", username="anna_shop")


class ScriptedLogin:
    """A LoginClient that answers as Telegram would, from a script of outcomes per call."""

    def __init__(self, **script):
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[tuple] = []
        self.closed = False
        self.session = tf.session_string()

    def _next(self, name, *args):
        self.calls.append((name, *args))
        outcome = self.script[name].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def send_code(self, phone):
        return self._next("send_code", phone)

    async def sign_in_code(self, phone, code, phone_code_hash):
        return self._next("sign_in_code", phone, code, phone_code_hash)

    async def sign_in_password(self, password):
        return self._next("sign_in_password", password)

    async def password_hint(self):
        return "кличка кота"

    async def qr_start(self):
        return self._next("qr_start")

    async def qr_wait(self, timeout):
        return self._next("qr_wait", timeout)

    async def session_string(self):
        return self.session

    async def close(self):
        self.closed = True


@pytest.fixture
async def tenant_id(db, secrets):
    return (await make_vk_channel(db, secrets, "unused", slug="shop")).tenant_id


def service(db, secrets, client, connected: list):
    async def factory():
        return client

    async def on_connected(channel_id):
        connected.append(channel_id)

    return TelegramLoginService(db, secrets, factory, on_connected=on_connected)


async def test_phone_code_and_password_with_mistakes(db, secrets, tenant_id):
    client = ScriptedLogin(
        send_code=["hash-1", "hash-2"],
        sign_in_code=[LoginError(LoginErrorKind.CODE_INVALID), LoginError(LoginErrorKind.CODE_EXPIRED),
                      LoginError(LoginErrorKind.PASSWORD_NEEDED)],
        sign_in_password=[LoginError(LoginErrorKind.PASSWORD_INVALID), ANNA],
    )
    connected: list[int] = []
    svc = service(db, secrets, client, connected)
    owner = 9001

    step = await svc.start(tenant_id, owner)
    assert step.state == LoginState.PHONE and "номер телефона" in step.text
    step = await svc.submit(tenant_id, owner, "телефон не скажу")
    assert step.retry and step.state == LoginState.PHONE and "Неверный номер" in step.text
    step = await svc.submit(tenant_id, owner, "8 (999) 123-45-67")
    assert step.state == LoginState.CODE and "+79991234567" in step.text
    assert client.calls[-1] == ("send_code", "+79991234567")

    step = await svc.submit(tenant_id, owner, "1 2 3 4 5")
    assert step.retry and "Неверный код" in step.text and "осталось 2 попытки" in step.text
    assert client.calls[-1] == ("sign_in_code", "+79991234567", "12345", "hash-1")
    step = await svc.submit(tenant_id, owner, "54321")
    assert step.retry and "Код истёк" in step.text  # a new code was sent by itself
    step = await svc.submit(tenant_id, owner, "67890")
    assert client.calls[-1] == ("sign_in_code", "+79991234567", "67890", "hash-2")
    assert step.state == LoginState.PASSWORD and "кличка кота" in step.text

    step = await svc.submit(tenant_id, owner, "qwerty")
    assert step.retry and "Неверный пароль" in step.text
    step = await svc.submit(tenant_id, owner, "correct horse")
    assert step.state == LoginState.DONE and "Анна Петрова" in step.text and step.channel_id
    assert connected == [step.channel_id] and client.closed and svc.state(tenant_id, owner) is None

    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, step.channel_id)
    assert (channel.kind, channel.external_id, channel.title) == (ChannelKind.TELEGRAM_ACCOUNT, "555", "Анна Петрова")
    assert secrets.decrypt(channel.credentials_enc) == client.session
    assert client.session.encode() not in bytes(channel.credentials_enc)


async def test_too_many_wrong_codes_ends_the_flow(db, secrets, tenant_id):
    client = ScriptedLogin(send_code=["h"], sign_in_code=[LoginError(LoginErrorKind.CODE_INVALID)] * 3)
    svc = service(db, secrets, client, [])
    await svc.start(tenant_id, 1)
    await svc.submit(tenant_id, 1, "+79990000000")
    for _ in range(2):
        assert (await svc.submit(tenant_id, 1, "11111")).retry
    step = await svc.submit(tenant_id, 1, "11111")
    assert step.state == LoginState.FAILED and "/connect_telegram" in step.text and client.closed
    async with db.unit_of_work() as session:
        assert (await session.execute(select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.TELEGRAM_ACCOUNT))).first() is None


async def test_flood_and_banned_numbers(db, secrets, tenant_id):
    client = ScriptedLogin(send_code=[LoginError(LoginErrorKind.FLOOD, seconds=300),
                                      LoginError(LoginErrorKind.PHONE_BANNED)])
    svc = service(db, secrets, client, [])
    await svc.start(tenant_id, 1)
    step = await svc.submit(tenant_id, 1, "+79990000000")
    assert step.retry and "300 с" in step.text and step.state == LoginState.PHONE
    step = await svc.submit(tenant_id, 1, "+79990000000")
    assert step.state == LoginState.FAILED and "заблокирован" in step.text


async def test_qr_login_renews_an_expired_code_and_asks_for_the_password(db, secrets, tenant_id):
    expires = dt.datetime(2026, 3, 1, 12, 0, 30, tzinfo=dt.timezone.utc)
    client = ScriptedLogin(
        qr_start=[QrTicket("tg://login?token=AAA", expires), QrTicket("tg://login?token=BBB", expires)],
        qr_wait=[LoginError(LoginErrorKind.QR_EXPIRED), LoginError(LoginErrorKind.PASSWORD_NEEDED)],
        sign_in_password=[ANNA],
    )
    connected: list[int] = []
    svc = service(db, secrets, client, connected)
    step = await svc.start(tenant_id, 7, method="qr")
    assert step.state == LoginState.QR and step.qr_url == "tg://login?token=AAA"
    assert step.qr_png.startswith(b"\x89PNG") and "Устройства" in step.text
    width, height = struct.unpack(">II", step.qr_png[16:24])
    assert width == height >= 21 * 8  # a square of at least a version-1 QR's 21 modules, 8 px each
    step = await svc.wait_qr(tenant_id, 7, timeout=1)
    assert step.qr_url == "tg://login?token=BBB" and "истёк" in step.text and step.qr_png.startswith(b"\x89PNG")
    step = await svc.wait_qr(tenant_id, 7, timeout=1)
    assert step.state == LoginState.PASSWORD
    step = await svc.submit(tenant_id, 7, "secret")
    assert step.state == LoginState.DONE and connected == [step.channel_id]


async def test_input_out_of_turn_and_cancel(db, secrets, tenant_id):
    client = ScriptedLogin(send_code=["h"])
    svc = service(db, secrets, client, [])
    await svc.start(tenant_id, 3)
    step = await svc.wait_qr(tenant_id, 3)
    assert "ожидается другое: телефон" in step.text
    step = await svc.cancel(tenant_id, 3)
    assert step.state == LoginState.CANCELLED and client.closed and svc.state(tenant_id, 3) is None


def test_phone_and_code_normalization():
    assert normalize_phone("+7 999 123-45-67") == "+79991234567"
    assert normalize_phone("89991234567") == "+79991234567"
    assert normalize_phone("4915112345678") == "+4915112345678"
    assert normalize_phone("12") is None and normalize_phone("звоните") is None
    assert normalize_code("12-345") == "12345"


class TelethonStandIn:
    """The few TelegramClient methods a login uses, raising Telethon's own error classes."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.connected = False

    def is_connected(self):
        return self.connected

    async def connect(self):
        self.connected = True

    async def _next(self):
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def send_code_request(self, phone):
        return await self._next()

    async def sign_in(self, **kwargs):
        return await self._next()


@pytest.mark.parametrize("error, kind", [
    (errors.PhoneCodeInvalidError(request=None), LoginErrorKind.CODE_INVALID),
    (errors.PhoneCodeExpiredError(request=None), LoginErrorKind.CODE_EXPIRED),
    (errors.SessionPasswordNeededError(request=None), LoginErrorKind.PASSWORD_NEEDED),
    (errors.PasswordHashInvalidError(request=None), LoginErrorKind.PASSWORD_INVALID),
    (errors.PhoneNumberInvalidError(request=None), LoginErrorKind.PHONE_INVALID),
    (errors.PhoneNumberBannedError(request=None), LoginErrorKind.PHONE_BANNED),
    (errors.FloodWaitError(request=None, capture=120), LoginErrorKind.FLOOD),
])
async def test_telethon_errors_become_login_errors(error, kind):
    client = TelethonLoginClient(TelethonStandIn(error))
    with pytest.raises(LoginError) as caught:
        await client.sign_in_code("+79990000000", "12345", "hash")
    assert caught.value.kind == kind
    if kind == LoginErrorKind.FLOOD:
        assert caught.value.seconds == 120
