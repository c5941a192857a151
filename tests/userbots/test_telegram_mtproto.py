"""Telegram accounts end to end: real Telethon against the MTProto stand-in (sandbox/mtproto), the real database.

An account is connected the way /connect_telegram connects it (phone and code, a 2FA password, or a QR code), then
runs as in `salesop run`: customers' messages land as core inbound messages, what the owner writes from their
phone is a manager reply, edits, deletions and reads update the stored rows, a restart catches up on exactly what it
missed, replies go out through the gateway never twice, and a history import stores every message once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect

import pytest
from sqlalchemy import select

from core import inbox
from core.models import (
    Attachment,
    AttachmentKind,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Customer,
    Dialog,
    Direction,
    ImportRun,
    Message,
    TrafficTouch,
)
from core.ports import DeliveryError
from core.services import channels as channel_service
from sandbox.mtproto import MTProtoSandbox
from sandbox.vk.synth import png
from userbots.gateway import UserbotGateway, split_text
from userbots.importer import ImportStopped, run_import
from userbots.telegram.client import TelegramAccount, TelegramAccounts, TelethonClientFactory
from userbots.telegram.login import LoginState, TelegramLoginService, telethon_login_factory

from .conftest import mtproto_settings

PHONE = "+79990001122"


async def wait_for(predicate, timeout: float = 5.0):
    """Poll a predicate (plain or async) until it is truthy: events arrive over TCP, follow-ups run on the loop."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.02)


async def channel_row(db, channel_id: int) -> ChannelAccount:
    async with db.unit_of_work() as session:
        return await session.get(ChannelAccount, channel_id)


async def connect_with_code(db, secrets, settings, sandbox, tenant_id: int, phone: str = PHONE) -> int:
    """/connect_telegram by phone and code, as the owner types them; the new channel's id."""
    service = TelegramLoginService(db, secrets, telethon_login_factory(settings))
    await service.start(tenant_id, 1)
    step = await service.submit(tenant_id, 1, phone)
    assert step.state == LoginState.CODE, step.text
    step = await service.submit(tenant_id, 1, sandbox.login_code(phone))
    assert step.state == LoginState.DONE, step.text
    return step.channel_id


# ------------------------------------------------------------------------------------------------------ logging in


async def test_login_with_phone_and_code_stores_an_encrypted_session(db, tg_secrets, tg_settings, mtproto,
                                                                     tenant_of_shop):
    owner = mtproto.create_account(PHONE, "Ольга", "Магазин", username="olga_shop")
    service = TelegramLoginService(db, tg_secrets, telethon_login_factory(tg_settings))
    step = await service.start(tenant_of_shop, 1)
    assert step.state == LoginState.PHONE
    step = await service.submit(tenant_of_shop, 1, "8 (999) 000-11-22")
    assert step.state == LoginState.CODE and PHONE in step.text
    step = await service.submit(tenant_of_shop, 1, "00000" if mtproto.login_code(PHONE) != "00000" else "11111")
    assert step.retry and step.state == LoginState.CODE  # PHONE_CODE_INVALID from the server
    code = mtproto.login_code(PHONE)
    step = await service.submit(tenant_of_shop, 1, " ".join(code))  # typed with spaces, as people do
    assert step.state == LoginState.DONE and "Ольга Магазин" in step.text

    channel = await channel_row(db, step.channel_id)
    assert (channel.kind, channel.external_id, channel.title) == (ChannelKind.TELEGRAM_ACCOUNT, str(owner.user.id),
                                                                 "Ольга Магазин")
    assert channel.settings == {"username": "olga_shop"}
    session_string = tg_secrets.decrypt(channel.credentials_enc)
    assert session_string.encode() not in bytes(channel.credentials_enc)
    assert mtproto.signed_in(owner.user.id) == 1  # the stored key is the one the server signed in


async def test_login_with_a_2fa_password_retries_a_wrong_one(db, tg_secrets, tg_settings, mtproto, tenant_of_shop):
    owner = mtproto.create_account(PHONE, "Ольга", None, password="кот Барсик", password_hint="кот")
    service = TelegramLoginService(db, tg_secrets, telethon_login_factory(tg_settings))
    await service.start(tenant_of_shop, 1)
    await service.submit(tenant_of_shop, 1, PHONE)
    step = await service.submit(tenant_of_shop, 1, mtproto.login_code(PHONE))
    assert step.state == LoginState.PASSWORD and "кот" in step.text  # the hint, from account.getPassword
    step = await service.submit(tenant_of_shop, 1, "пёс Шарик")
    assert step.retry and step.state == LoginState.PASSWORD and "Неверный пароль" in step.text
    step = await service.submit(tenant_of_shop, 1, "кот Барсик")
    assert step.state == LoginState.DONE and step.channel_id
    channel = await channel_row(db, step.channel_id)
    assert channel.external_id == str(owner.user.id) and mtproto.signed_in(owner.user.id) == 1


async def test_login_with_a_qr_code(db, tg_secrets, tg_settings, mtproto, tenant_of_shop):
    owner = mtproto.create_account(PHONE, "Ольга", None)
    connected: list[int] = []

    async def on_connected(channel_id: int) -> None:
        connected.append(channel_id)

    service = TelegramLoginService(db, tg_secrets, telethon_login_factory(tg_settings), on_connected=on_connected)
    step = await service.start(tenant_of_shop, 1, method="qr")
    assert step.state == LoginState.QR and step.qr_url.startswith("tg://login?token=")
    assert step.qr_png.startswith(b"\x89PNG")
    [token] = mtproto.pending_qr_tokens()
    telethon = service.flows[(tenant_of_shop, 1)].flow.client.client
    handlers = len(telethon.list_event_handlers())
    waiting = asyncio.create_task(service.wait_qr(tenant_of_shop, 1, timeout=10))
    # the QR login listens for Telegram's UpdateLoginToken from here on
    assert await wait_for(lambda: len(telethon.list_event_handlers()) > handlers, timeout=10)
    await mtproto.accept_qr(token, owner.user.id)  # scanned and confirmed on the phone
    step = await asyncio.wait_for(waiting, 10)
    assert step.state == LoginState.DONE and connected == [step.channel_id]
    assert (await channel_row(db, step.channel_id)).external_id == str(owner.user.id)


# ------------------------------------------------------------------------------------------------------ realtime


@pytest.fixture
async def connected(db, tg_secrets, tg_settings, mtproto, tenant_of_shop):
    """A shop whose owner connected their account by phone and code, and one customer who writes to it."""
    owner = mtproto.create_account(PHONE, "Ольга", "Магазин")
    customer = mtproto.create_customer("Анна", "Петрова", username="anna_p")
    channel_id = await connect_with_code(db, tg_secrets, tg_settings, mtproto, tenant_of_shop)
    return owner.user.id, customer.id, channel_id


@contextlib.asynccontextmanager
async def running(db, queue, settings, secrets, channel_id: int):
    """The account's realtime ingest, as the userbots component runs it, until the block ends."""
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, channel_id)
    account = TelegramAccount(db, queue, channel, TelethonClientFactory(settings, db, secrets))
    stop = asyncio.Event()
    task = asyncio.create_task(account.run(stop))
    connected = asyncio.create_task(account.connected.wait())
    # ends as soon as it connects; under busy test workers the MTProto handshake can take longer than 10 s
    await asyncio.wait([task, connected], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    connected.cancel()
    if task.done():
        task.result()  # what stopped it, if it raised
    assert account.connected.is_set(), "the account did not connect"
    try:
        yield account
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def stored(db, channel_id: int) -> list[Message]:
    """The channel's messages in Telegram's order (Telethon handles updates concurrently: rows may be written out
    of order)."""
    async with db.unit_of_work() as session:
        rows = (await session.execute(
            select(Message).join(Dialog, Dialog.id == Message.dialog_id).where(Dialog.channel_id == channel_id)
        )).scalars()
        return sorted(rows, key=lambda m: int(m.external_id))


async def until_stored(db, channel_id: int, count: int) -> list[Message]:
    async def enough():
        return len(await stored(db, channel_id)) >= count
    await wait_for(enough)
    return await stored(db, channel_id)


async def test_realtime_messages_replies_edits_deletions_and_reads(db, tg_secrets, tg_settings, mtproto, connected,
                                                                   tasks):
    owner, customer, channel_id = connected
    link = "https://shop.example/dress?utm_source=tg_ads&utm_medium=cpc&utm_campaign=spring"
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id):
        assert (await channel_row(db, channel_id)).status == ChannelStatus.ACTIVE
        hello = await mtproto.customer_writes(owner, customer, "Здравствуйте! Видела у вас платье",
                                              links=[("платье", link)])
        receipt = png(120, 160, 7)
        photo = await mtproto.customer_writes(owner, customer, "Вот чек", media={"kind": "photo", "data": receipt})
        answer = await mtproto.owner_writes(owner, customer, "Спасибо, заказ принят!")  # from the owner's phone
        rows = await until_stored(db, channel_id, 3)
        assert [(m.external_id, m.direction, m.text) for m in rows] == [
            (str(hello.id), Direction.IN, "Здравствуйте! Видела у вас платье"),
            (str(photo.id), Direction.IN, "Вот чек"),
            (str(answer.id), Direction.OUT, "Спасибо, заказ принят!")]

        async with db.unit_of_work() as session:
            attachment = (await session.execute(select(Attachment))).scalar_one()
            buyer = (await session.execute(select(Customer))).scalar_one()
            touch = await session.get(TrafficTouch, buyer.first_touch_id)
            dialog = (await session.execute(select(Dialog))).scalar_one()
        assert attachment.message_id == rows[1].id and attachment.kind == AttachmentKind.PHOTO
        assert (attachment.width, attachment.height) == (120, 160)
        assert (buyer.first_name, buyer.last_name, buyer.username) == ("Анна", "Петрова", "anna_p")
        assert (touch.source, touch.medium, touch.campaign) == ("tg_ads", "cpc", "spring")
        assert dialog.external_chat_id == str(customer) and dialog.last_reply_at is not None
        await wait_for(lambda: len(tasks.calls[inbox.MIRROR_MESSAGE]) == 3)
        assert sorted(c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]) == sorted(m.id for m in rows)
        assert sorted(c["message_id"] for c in tasks.calls[inbox.SUGGEST_REPLY]) == sorted([rows[0].id, rows[1].id])

        await mtproto.customer_edits(owner, hello.id, "Здравствуйте! Видела у вас красное платье")
        await mtproto.delete(owner, [photo.id])
        await mtproto.customer_reads(owner, customer)

        async def updated():
            by_id = {m.external_id: m for m in await stored(db, channel_id)}
            return (by_id[str(hello.id)].edit_count == 1 and by_id[str(photo.id)].deleted_at is not None
                    and by_id[str(answer.id)].is_read) and by_id
        by_id = await wait_for(updated)
        assert by_id, "the edit, the deletion and the read receipt did not all arrive"
        assert by_id[str(hello.id)].text == "Здравствуйте! Видела у вас красное платье"
        await wait_for(lambda: len(tasks.calls[inbox.MIRROR_EDIT]) == 2)
        assert sorted(c["message_id"] for c in tasks.calls[inbox.MIRROR_EDIT]) == sorted([rows[0].id, rows[1].id])
    assert len(await stored(db, channel_id)) == 3


async def test_a_restart_catches_up_on_what_was_written_meanwhile_exactly_once(db, tg_secrets, tg_settings, mtproto,
                                                                              connected, tasks):
    owner, customer, channel_id = connected
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id):
        first = await mtproto.customer_writes(owner, customer, "Добрый день")
        await until_stored(db, channel_id, 1)
    state = (await channel_row(db, channel_id)).update_state
    assert state["pts"] == mtproto.account(owner).pts  # written through DatabaseSession on disconnect

    offline = [await mtproto.customer_writes(owner, customer, "Вы тут?"),
               await mtproto.customer_writes(owner, customer, "Жду ответа про доставку")]
    for _ in range(2):  # and once more: a second restart replays nothing
        async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id):
            rows = await until_stored(db, channel_id, 3)
        assert [m.external_id for m in rows] == [str(m.id) for m in [first, *offline]]
    assert (await channel_row(db, channel_id)).update_state["pts"] == mtproto.account(owner).pts
    assert await wait_for(lambda: len(tasks.calls[inbox.MIRROR_MESSAGE]) == 3)


# ------------------------------------------------------------------------------------------------------ sending


async def test_replies_through_the_gateway_are_delivered_once(db, tg_secrets, tg_settings, mtproto, connected,
                                                              tasks):
    owner, customer, channel_id = connected
    receipt = png(64, 48, 3)
    voice_note = b"OggS" + bytes(range(256)) * 8

    async def fetch_media(item: dict) -> bytes:  # what the media store or the manager bot hands over
        return receipt if item["kind"] == "photo" else voice_note

    accounts = TelegramAccounts(db)
    gateway = UserbotGateway(db, tg_secrets, tg_settings, fetch_media=fetch_media, telegram=accounts)
    with pytest.raises(DeliveryError) as offline:
        await gateway.send(channel_id, str(customer), {"text": "Добрый день"}, idempotency_key="k:offline")
    assert offline.value.code == "not_connected" and not offline.value.permanent

    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id) as account:
        accounts.add(account)
        await mtproto.customer_writes(owner, customer, "Сколько стоит доставка?")  # now the account knows her
        await until_stored(db, channel_id, 1)

        def chat():
            return [m for m in mtproto.messages(owner, customer) if m["out"]]

        long_text = "Доставка по Москве бесплатно. " * 200  # 6,000 characters: two messages
        first = await gateway.send(channel_id, str(customer), {"text": long_text}, idempotency_key="reply:1")
        again = await gateway.send(channel_id, str(customer), {"text": long_text}, idempotency_key="reply:1")
        assert [m["text"] for m in chat()] == [p for p in split_text(long_text, 4096)]
        assert first.extra["message_ids"] == [str(m["id"]) for m in chat()] and first.external_id
        assert again.extra["message_ids"] == []  # RANDOM_ID_DUPLICATE: the customer got it once

        payload = {"text": "Вот ваш чек", "media": [{"kind": "photo", "storage_key": "receipts/1.png"},
                                                    {"kind": "voice", "telegram_file_id": "voice-1"}]}
        sent = await gateway.send(channel_id, str(customer), payload, idempotency_key="reply:2")
        await gateway.send(channel_id, str(customer), payload, idempotency_key="reply:2")  # a retried command
        photo, voice, caption = chat()[2:]
        assert photo["media"]["kind"] == "photo" and photo["media"]["size"] == len(receipt)
        assert voice["media"]["kind"] == "voice" and voice["media"]["mime"] == "audio/ogg"
        assert caption["text"] == "Вот ваш чек" and len(chat()) == 5
        assert sent.extra["message_ids"] == [str(m["id"]) for m in (photo, voice, caption)]

        with pytest.raises(DeliveryError) as unknown:
            await gateway.send(channel_id, "5999999999", {"text": "Здравствуйте"}, idempotency_key="reply:3")
        assert unknown.value.permanent and unknown.value.code == "unknown_peer"

        mtproto.customer_blocks(owner, customer)
        with pytest.raises(DeliveryError) as blocked:
            await gateway.send(channel_id, str(customer), {"text": "Вы тут?"}, idempotency_key="reply:4")
        assert blocked.value.permanent and blocked.value.code == "blocked" and len(chat()) == 5
        mtproto.customer_blocks(owner, customer, blocked=False)

        mtproto.terminate_sessions(owner)  # "terminate all other sessions" on the owner's phone
        with pytest.raises(DeliveryError) as revoked:
            await gateway.send(channel_id, str(customer), {"text": "Вы тут?"}, idempotency_key="reply:5")
        assert revoked.value.permanent and revoked.value.code == "revoked" and len(chat()) == 5
        row = await channel_row(db, channel_id)
        assert row.status == ChannelStatus.REVOKED and "/connect_telegram" in row.status_detail


# ------------------------------------------------------------------------------------------------------ history import


def expected_history(sandbox, owner: int, customers) -> set[tuple]:
    return {(str(c.id), str(m["id"]), "out" if m["out"] else "in", m["text"])
            for c in customers for m in sandbox.messages(owner, c.id)}


async def stored_history(db, channel_id: int) -> list[tuple]:
    async with db.unit_of_work() as session:
        rows = (await session.execute(
            select(Dialog.external_chat_id, Message.external_id, Message.direction, Message.text)
            .join(Dialog, Dialog.id == Message.dialog_id).where(Dialog.channel_id == channel_id))).all()
    return [(chat, ext, direction.value, text) for chat, ext, direction, text in rows]


async def test_history_import_with_takeout_stops_and_resumes_to_the_same_result(db, tg_secrets, tg_settings,
                                                                                 mtproto, connected):
    owner, _, channel_id = connected
    customers = mtproto.seed(owner, 60, 15)
    mtproto.latency_ms = 5  # slow enough to stop it half-way
    stopped = asyncio.create_task(run_import(db, tg_secrets, tg_settings, channel_id, progress=False))

    async def half_way():
        async with db.unit_of_work() as session:
            return ((await session.execute(select(ImportRun.conversations_done))).scalar_one_or_none() or 0) >= 10
    assert await wait_for(half_way, 20)
    stopped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopped
    partial = await stored_history(db, channel_id)
    assert 0 < len(partial) < 60 * 15
    mtproto.latency_ms = 0

    report = await run_import(db, tg_secrets, tg_settings, channel_id, progress=False)
    assert report.status == "done" and report.messages_this_run == 60 * 15 - len(partial)
    stored = await stored_history(db, channel_id)
    assert len(stored) == len(set(stored)) and set(stored) == expected_history(mtproto, owner, customers)
    assert mtproto.calls["InitTakeoutSessionRequest"] == 2 and mtproto.calls["FinishTakeoutSessionRequest"] == 2
    async with db.unit_of_work() as session:
        counts = dict((await session.execute(select(Dialog.external_chat_id, Dialog.message_count))).all())
        imported = (await session.execute(select(Message.is_imported).distinct())).scalars().all()
    assert counts == {str(c.id): 15 for c in customers} and imported == [True]


async def test_history_import_without_takeout_through_flood_waits(db, tg_secrets, settings, tenant_of_shop):
    # strict: 3 history reads per emulated second and no burst, a bucket refilled on the real clock. The import runs
    # into FLOOD_WAIT only while it reads faster than the bucket refills, so the emulated clock runs slowly here:
    # at 1.5× the bucket refills 4.5 reads per real second, and reading 20 dialogs floods as long as one read and
    # its write take under ~200 ms on average — several times what they take on a busy 2-core machine (~50 ms).
    # Not 1×: there Telethon would sleep through the short waits itself and the import's own waiting goes untested.
    time_scale = 1.5
    sandbox = MTProtoSandbox(limits="strict", time_scale=time_scale, takeout_delay=5)
    await sandbox.start()
    try:
        scaled = mtproto_settings(settings, sandbox, time_scale=time_scale)
        owner = sandbox.create_account(PHONE, "Ольга", "Магазин").user.id
        channel_id = await connect_with_code(db, tg_secrets, scaled, sandbox, tenant_of_shop)
        customers = sandbox.seed(owner, 20, 15)
        report = await run_import(db, tg_secrets, scaled, channel_id, progress=False)
        assert report.status == "done"
        stored = await stored_history(db, channel_id)
        assert len(stored) == len(set(stored)) and set(stored) == expected_history(sandbox, owner, customers)
        async with db.unit_of_work() as session:
            run = (await session.execute(select(ImportRun))).scalar_one()
        assert run.cursor.get("flood_waits", 0) > 0
        assert "InitTakeoutSessionRequest" in sandbox.calls and "FinishTakeoutSessionRequest" not in sandbox.calls
        assert (await channel_row(db, channel_id)).status == ChannelStatus.ACTIVE
    finally:
        await sandbox.stop()


# ------------------------------------------------------------------------------------------------------ lost sessions


async def revoked_after_run(db, queue, settings, secrets, channel_id: int) -> ChannelAccount:
    """Start the account as the component does; it must give up by itself (no crash, no reconnect loop)."""
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.ACTIVE)
        channel = await session.get(ChannelAccount, channel_id)
    account = TelegramAccount(db, queue, channel, TelethonClientFactory(settings, db, secrets))
    await asyncio.wait_for(account.run(asyncio.Event()), 10)
    row = await channel_row(db, channel_id)
    assert row.status == ChannelStatus.REVOKED and "/connect_telegram" in row.status_detail
    return row


async def test_terminated_sessions_stop_realtime_and_import_with_a_clear_state(db, tg_secrets, tg_settings, mtproto,
                                                                             connected, tasks):
    owner, _, channel_id = connected
    mtproto.terminate_sessions(owner)  # "terminate all other sessions" on the owner's phone
    await revoked_after_run(db, tasks.queue, tg_settings, tg_secrets, channel_id)
    with pytest.raises(ImportStopped, match="connect_telegram"):
        await run_import(db, tg_secrets, tg_settings, channel_id, progress=False)
    assert (await channel_row(db, channel_id)).status == ChannelStatus.REVOKED


async def test_a_session_the_server_forgot_shows_revoked(db, tg_secrets, settings, mtproto, connected, tasks):
    _, _, channel_id = connected
    await mtproto.stop()
    forgetful = MTProtoSandbox()  # a new server: it never issued the stored auth key
    await forgetful.start()
    try:
        forgetful.create_account(PHONE, "Ольга", "Магазин")
        await revoked_after_run(db, tasks.queue, mtproto_settings(settings, forgetful), tg_secrets, channel_id)
    finally:
        await forgetful.stop()
