"""The MTProto stand-in driven by real, unmodified Telethon: every test talks to it over TCP with a TelegramClient
the way the product's userbot does, so a deviation from Telegram's protocol or errors shows up as Telethon
misbehaving."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from telethon import TelegramClient, errors, events, functions, types, utils
from telethon.crypto import AuthKey, rsa
from telethon.network import Connection, ConnectionTcpAbridged, ConnectionTcpFull, ConnectionTcpIntermediate
from telethon.network.connection.tcpintermediate import RandomizedIntermediatePacketCodec
from telethon.sessions import StringSession

from sandbox.mtproto import MTProtoSandbox, rpc
from sandbox.vk import synth
from tests.waiting import wait_for

API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"
PHONE = "+79990001122"
EVENT_TIMEOUT = 5

Connect = Callable[..., Awaitable[TelegramClient]]


@pytest.fixture
async def start_sandbox() -> AsyncIterator[Callable[..., Awaitable[MTProtoSandbox]]]:
    """Starts stand-ins with the given options (limits, time_scale, takeout_delay) and makes Telethon trust their key."""
    started: list[MTProtoSandbox] = []

    async def start(**options) -> MTProtoSandbox:
        sandbox = MTProtoSandbox(**options)
        await sandbox.start()
        rsa.add_key(sandbox.public_key, old=False)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        await sandbox.stop()


@pytest.fixture
async def sandbox(start_sandbox) -> MTProtoSandbox:
    return await start_sandbox()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """connect(sandbox, session=None, connected=True, **client_options) → a TelegramClient (connected unless told
    otherwise, so handlers can be added first); all are disconnected after."""
    clients: list[TelegramClient] = []

    async def make(sandbox: MTProtoSandbox, session: StringSession | None = None, *, connected: bool = True,
                   **options) -> TelegramClient:
        if session is None:
            session = StringSession()
            session.set_dc(2, sandbox.server.host, sandbox.server.port)
        client = TelegramClient(session, API_ID, API_HASH, **options)
        clients.append(client)
        if connected:
            await client.connect()
        return client

    yield make
    for client in clients:
        await client.disconnect()


def peer(person) -> types.InputPeerUser:
    """How a client addresses a user it has met before (it keeps the access hash)."""
    return types.InputPeerUser(person.id, person.access_hash)


async def sign_in(client: TelegramClient, sandbox: MTProtoSandbox, phone: str = PHONE) -> types.User:
    await client.send_code_request(phone)
    return await client.sign_in(phone, sandbox.login_code(phone))


@pytest.fixture
async def owner(sandbox, connect):
    """An account with one customer, and a Telethon client signed in to it."""
    account = sandbox.create_account(PHONE, "Ольга", "Магазин")
    customer = sandbox.create_customer("Пётр", "Покупатель", username="petr")
    client = await connect(sandbox)
    await sign_in(client, sandbox)
    return account, customer, client


class Inbox:
    """Collects the events of one kind a client receives, so a test can wait for the next one."""

    def __init__(self, client: TelegramClient, event) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        client.add_event_handler(self.queue.put, event)

    async def next(self):
        return await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT)

    def empty(self) -> bool:
        return self.queue.empty()


# --- 1. handshake and transports


class PaddedIntermediateCodec(RandomizedIntermediatePacketCodec):
    tag = b"\xdd" * 4  # Telethon's padded-intermediate codec, announced plainly instead of inside obfuscation


class ConnectionTcpPaddedIntermediate(Connection):
    packet_codec = PaddedIntermediateCodec


@pytest.mark.parametrize(("transport", "kind"), [
    (ConnectionTcpFull, "full"), (ConnectionTcpAbridged, "abridged"), (ConnectionTcpIntermediate, "intermediate"),
    (ConnectionTcpPaddedIntermediate, "padded")])
async def test_every_tcp_transport_completes_the_handshake_and_calls_methods(sandbox, connect, transport, kind):
    account = sandbox.create_account(PHONE, "Ольга")
    customer = sandbox.create_customer("Пётр")
    client = await connect(sandbox, connection=transport)
    assert [c.transport.kind for c in sandbox.server.connections] == [kind]
    config = await client(functions.help.GetConfigRequest())
    assert config.this_dc == 2
    assert client.session.auth_key is not None
    assert not await client.is_user_authorized()
    await sign_in(client, sandbox)
    long_text = " ".join(["Здравствуйте!"] * 250)  # frames past abridged's one-byte length, both ways
    sent = await client.send_message(peer(customer), long_text)
    assert [m.text for m in await client.get_messages(peer(customer), ids=[sent.id])] == [long_text]
    assert sandbox.messages(account.user.id, customer.id)[-1]["text"] == long_text


async def test_an_auth_key_the_server_does_not_know_is_transport_error_404(sandbox, connect):
    session = StringSession()
    session.set_dc(2, sandbox.server.host, sandbox.server.port)
    session.auth_key = AuthKey(os.urandom(256))
    client = await connect(sandbox, session, connected=False)
    with pytest.raises(errors.AuthKeyNotFound):
        await client.connect()
    with pytest.raises(errors.AuthKeyNotFound):  # the client is disconnected for that same reason
        await client.disconnected


# --- 2. login with a code


async def test_login_with_the_code_the_account_receives(sandbox, connect):
    account = sandbox.create_account(PHONE, "Ольга", "Магазин")
    client = await connect(sandbox)
    await client.send_code_request(PHONE)
    with pytest.raises(errors.PhoneCodeInvalidError):
        await client.sign_in(PHONE, "00000" if sandbox.login_code(PHONE) != "00000" else "11111")
    me = await client.sign_in(PHONE, sandbox.login_code(PHONE))
    assert me.id == account.user.id
    assert await client.is_user_authorized()
    assert (await client.get_me()).phone == PHONE.lstrip("+")


async def test_a_phone_without_an_account_is_unoccupied(sandbox, connect):
    client = await connect(sandbox)
    await client.send_code_request("+79995550000")
    with pytest.raises(errors.PhoneNumberUnoccupiedError):
        await client.sign_in("+79995550000", sandbox.login_code("+79995550000"))


async def test_the_login_code_arrives_from_telegram_in_a_signed_in_session(owner, sandbox, connect):
    account, _, first = owner
    codes = Inbox(first, events.NewMessage(incoming=True))
    second = await connect(sandbox)
    await second.send_code_request(PHONE)
    event = await codes.next()
    assert event.sender_id == 777000
    assert sandbox.login_code(PHONE) in event.raw_text
    me = await second.sign_in(PHONE, sandbox.login_code(PHONE))
    assert me.id == account.user.id


# --- 3. two-step verification


async def test_an_account_with_a_password_asks_for_it_after_the_code(sandbox, connect):
    account = sandbox.create_account(PHONE, "Ольга", password="secret", password_hint="s…t")
    client = await connect(sandbox)
    await client.send_code_request(PHONE)
    with pytest.raises(errors.SessionPasswordNeededError):
        await client.sign_in(PHONE, sandbox.login_code(PHONE))
    assert not await client.is_user_authorized()
    with pytest.raises(errors.PasswordHashInvalidError):
        await client.sign_in(password="wrong")
    await client.sign_in(password="secret")
    assert (await client.get_me()).id == account.user.id


# --- 4. QR login


async def test_qr_login_completes_once_the_phone_accepts_the_token(sandbox, connect):
    account = sandbox.create_account(PHONE, "Ольга")
    client = await connect(sandbox)
    qr = await client.qr_login()
    assert qr.url.startswith("tg://login?token=")
    assert qr.token in sandbox.pending_qr_tokens()
    handlers = len(client.list_event_handlers())
    waiting = asyncio.create_task(qr.wait(EVENT_TIMEOUT))
    # the QR login listens for Telegram's UpdateLoginToken from here on
    await wait_for(lambda: len(client.list_event_handlers()) > handlers, "the QR login waiting for the scan")
    await sandbox.accept_qr(qr.token, account.user.id)
    user = await waiting
    assert user.id == account.user.id
    assert await client.is_user_authorized()


# --- 5. realtime updates


async def test_customer_activity_arrives_as_telethon_events(owner, sandbox):
    account, customer, client = owner
    new = Inbox(client, events.NewMessage)
    edited = Inbox(client, events.MessageEdited)
    deleted = Inbox(client, events.MessageDeleted)
    read = Inbox(client, events.MessageRead(inbox=False))

    written = await sandbox.customer_writes(account.user.id, customer.id, "Здравствуйте! Есть наушники?")
    event = await new.next()
    assert event.message.id == written.id
    assert event.raw_text == "Здравствуйте! Есть наушники?"
    assert event.sender_id == customer.id and event.is_private and not event.out
    assert (await event.get_sender()).username == "petr"

    await sandbox.customer_edits(account.user.id, written.id, "Здравствуйте! Есть беспроводные наушники?")
    event = await edited.next()
    assert (event.message.id, event.raw_text) == (written.id, "Здравствуйте! Есть беспроводные наушники?")

    answer = await sandbox.owner_writes(account.user.id, customer.id, "Да, есть!")
    event = await new.next()
    assert event.out and event.message.id == answer.id and event.chat_id == customer.id

    await sandbox.customer_reads(account.user.id, customer.id)
    event = await read.next()
    assert event.outbox and event.max_id == answer.id

    await sandbox.delete(account.user.id, [written.id, answer.id])
    event = await deleted.next()
    assert sorted(event.deleted_ids) == [written.id, answer.id]


# --- 6. catching up after a disconnect


async def _missed_while_offline(sandbox, connect, owner, count: int) -> tuple[list[int], list[int]]:
    account, customer, client = owner
    await client.get_dialogs()  # the client has seen the current state
    session = client.session
    await client.disconnect()
    missed = [(await sandbox.customer_writes(account.user.id, customer.id, f"пока вы были офлайн {n}")).id
              for n in range(count)]
    # catch_up=True: Telethon restores the update state kept in the session (else it starts from "now")
    again = await connect(sandbox, session, catch_up=True, connected=False)
    seen = Inbox(again, events.NewMessage)
    await again.connect()
    assert await again.is_user_authorized()
    await again.catch_up()
    got = [(await seen.next()).message.id for _ in missed]
    # A message written now arrives after anything the catch-up would deliver twice: everything up to it counts.
    marker = (await sandbox.customer_writes(account.user.id, customer.id, "уже онлайн")).id
    while (message_id := (await seen.next()).message.id) != marker:
        got.append(message_id)
    return missed, got


async def test_catch_up_delivers_what_was_missed_exactly_once(owner, sandbox, connect):
    missed, got = await _missed_while_offline(sandbox, connect, owner, 3)
    assert sorted(got) == missed
    assert sandbox.calls.get("GetDifferenceRequest")


async def test_a_long_difference_comes_in_slices_and_still_arrives_once(owner, sandbox, connect, monkeypatch):
    monkeypatch.setattr(rpc, "DIFFERENCE_LIMIT", 4)
    missed, got = await _missed_while_offline(sandbox, connect, owner, 11)
    assert sorted(got) == missed
    assert sandbox.calls["GetDifferenceRequest"] >= 3


# --- 7. reading history


async def test_dialogs_and_history_page_like_telegram(owner, sandbox):
    account, _, client = owner
    customers = sandbox.seed(account.user.id, 250, 7)
    expected = {d["peer"] for d in sandbox.dialogs(account.user.id)}
    dialogs = [d async for d in client.iter_dialogs()]
    assert {d.id for d in dialogs} == expected
    assert len(dialogs) == len(expected) == 250 + 1  # the seeded customers, and "Telegram" with the login code
    assert (await client.get_dialogs(limit=0)).total == len(expected)
    assert all(d.is_user for d in dialogs)

    customer = customers[17]
    stored = sandbox.messages(account.user.id, customer.id)
    newest_first = [m.id async for m in client.iter_messages(peer(customer))]
    assert newest_first == [m["id"] for m in reversed(stored)]
    page = await client.get_messages(peer(customer), limit=3, offset_id=stored[5]["id"])
    assert [m.id for m in page] == [stored[4]["id"], stored[3]["id"], stored[2]["id"]]
    assert page.total == 7
    assert [m.text for m in page] == [stored[4]["text"], stored[3]["text"], stored[2]["text"]]
    oldest_first = [m.id async for m in client.iter_messages(peer(customer), reverse=True)]
    assert oldest_first == [m["id"] for m in stored]

    # seeded history is what was there before: the connected client's update sequence goes on without a gap
    new = Inbox(client, events.NewMessage)
    written = await sandbox.customer_writes(account.user.id, customer.id, "а доставка есть?")
    assert (await new.next()).message.id == written.id


# --- 8. sending


async def test_sending_and_the_errors_telegram_answers(owner, sandbox, connect):
    account, customer, _ = owner
    # RANDOM_ID_DUPLICATE is a 500 (https://core.telegram.org/method/messages.sendMessage), which Telethon retries
    # as "Telegram is having internal issues" unless told to raise at once
    client = await connect(sandbox, request_retries=0, raise_last_call_error=True)
    await sign_in(client, sandbox)
    sent = await client.send_message(peer(customer), "Здравствуйте, Пётр!")
    assert sandbox.messages(account.user.id, customer.id)[-1]["id"] == sent.id
    assert sandbox.messages(account.user.id, customer.id)[-1]["text"] == "Здравствуйте, Пётр!"

    to_customer = peer(customer)
    request = functions.messages.SendMessageRequest(to_customer, "один раз", random_id=424242)
    await client(request)
    with pytest.raises(errors.RandomIdDuplicateError):
        await client(functions.messages.SendMessageRequest(to_customer, "один раз", random_id=424242))
    with pytest.raises(errors.MessageEmptyError):
        await client(functions.messages.SendMessageRequest(to_customer, "", random_id=1))
    with pytest.raises(errors.MessageTooLongError):
        await client.send_message(peer(customer), "я" * 4097)
    await client.send_message(peer(customer), "я" * 4096)

    sandbox.customer_blocks(account.user.id, customer.id)
    with pytest.raises(errors.UserIsBlockedError):
        await client.send_message(peer(customer), "Вы здесь?")


# --- 9. media


async def test_media_goes_both_ways_byte_exact(owner, sandbox):
    account, customer, client = owner
    png = synth.png(64, 48, 7)
    await client.send_file(peer(customer), _named(png, "receipt.png"))
    voice = b"OggS" + os.urandom(3000)
    await client.send_file(peer(customer), _named(voice, "voice.ogg"), voice_note=True)
    stored = sandbox.messages(account.user.id, customer.id)
    assert [m["media"]["kind"] for m in stored[-2:]] == ["photo", "voice"]
    assert sandbox.world.media[stored[-2]["media"]["id"]].data == png
    assert sandbox.world.media[stored[-1]["media"]["id"]].data == voice

    photo = synth.png(120, 90, 3)
    written = await sandbox.customer_writes(account.user.id, customer.id, "вот фото",
                                            media={"kind": "photo", "data": photo, "mime": "image/png"})
    message = await client.get_messages(peer(customer), ids=written.id)
    assert message.photo is not None
    assert await client.download_media(message, bytes) == photo
    _, location = utils.get_input_location(message.media)  # Telegram's rules for a chunk's offset and limit
    with pytest.raises(errors.LimitInvalidError):  # not a multiple of 4 KB
        await client(functions.upload.GetFileRequest(location, offset=0, limit=1000))
    with pytest.raises(errors.OffsetInvalidError):
        await client(functions.upload.GetFileRequest(location, offset=100, limit=4096))

    voice = b"OggS" + os.urandom(5000)
    written = await sandbox.customer_writes(account.user.id, customer.id, media={"kind": "voice", "data": voice,
                                                                                 "duration": 3})
    message = await client.get_messages(peer(customer), ids=written.id)
    assert message.voice is not None and message.file.duration == 3 and message.file.mime_type == "audio/ogg"
    assert await client.download_media(message, bytes) == voice

    big = os.urandom(700 * 1024)  # several upload parts, several download chunks
    sent = await client.send_file(peer(customer), _named(big, "price-list.pdf"), force_document=True)
    assert sandbox.world.media[sandbox.messages(account.user.id, customer.id)[-1]["media"]["id"]].data == big
    assert await client.download_media(sent, bytes) == big


def _named(data: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


# --- 10. flood limits


async def test_flood_wait_is_raised_or_slept_through(start_sandbox, connect, caplog):
    # strict: 3 history pages per emulated second per account, so 5 quick calls overrun it; time_scale=2 refills
    # the bucket in half a second, well within the patient client's sleeps (FLOOD_WAIT_1 is the least there is)
    sandbox = await start_sandbox(limits="strict", time_scale=2)
    account = sandbox.create_account(PHONE, "Ольга")
    customer = sandbox.create_customer("Пётр")
    await sandbox.customer_writes(account.user.id, customer.id, "привет")
    impatient = await connect(sandbox, flood_sleep_threshold=0)
    await sign_in(impatient, sandbox)
    with pytest.raises(errors.FloodWaitError) as flood:
        for _ in range(50):
            await impatient.get_messages(peer(customer), limit=1)
    assert flood.value.seconds >= 1

    patient = await connect(sandbox)  # flood_sleep_threshold=60: Telethon sleeps and retries by itself
    await sign_in(patient, sandbox)
    caplog.set_level("INFO", logger="telethon.client.users")
    for _ in range(5):
        assert [m.text for m in await patient.get_messages(peer(customer), limit=1)] == ["привет"]
    assert "flood wait" in caplog.text


# --- 11. takeout


async def test_takeout_session_wraps_requests(sandbox, connect, owner):
    account, customer, client = owner
    await sandbox.customer_writes(account.user.id, customer.id, "архив")
    async with client.takeout(users=True) as takeout:
        texts = [m.text async for m in takeout.iter_messages(peer(customer))]
    assert texts == ["архив"]
    assert sandbox.calls.get("InvokeWithTakeoutRequest")


async def test_takeout_waits_for_the_owner_to_confirm(start_sandbox, connect):
    sandbox = await start_sandbox(takeout_delay=5)
    sandbox.create_account(PHONE, "Ольга")
    client = await connect(sandbox)
    await sign_in(client, sandbox)
    with pytest.raises(errors.TakeoutInitDelayError) as delay:
        async with client.takeout(users=True):
            pass
    assert delay.value.seconds == 5


# --- 12. authorization


async def test_methods_need_a_signed_in_key(sandbox, connect):
    client = await connect(sandbox)
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await client.get_dialogs()


async def test_terminated_sessions_are_unregistered(owner, sandbox):
    account, _, client = owner
    await client.get_dialogs()
    sandbox.terminate_sessions(account.user.id)
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await client.get_dialogs()
    assert sandbox.signed_in(account.user.id) == 0
