"""Telegram accounts at the Telethon boundary, for what the MTProto stand-in does not produce (test_telegram_mtproto
runs real Telethon against it): constructed Telethon updates of every media kind, groups, bots and blocks through
Telethon's own event builders land in the database as core events; long flood waits on a send and on the dialog list
show on the channel; the session (with channel update states) survives a round trip through PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from telethon import TelegramClient, errors, types
from telethon._updates import ChannelState, SessionState

from core import inbox
from core.models import (
    Attachment,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Customer,
    Dialog,
    DialogStatus,
    Direction,
    ImportRun,
    Message,
    TrafficTouch,
)
from core.ports import DeliveryError
from core.services import channels as channel_service
from userbots.importer import run_import
from userbots.live import LiveIngest
from userbots.telegram.adapter import TelegramEvents
from userbots.telegram.client import send_through
from userbots.telegram.session import SessionStore

from . import telegram_fakes as tf
from .conftest import make_vk_channel

CUSTOMER = tf.user(42, "Анна", "Петрова", username="anna_p", phone="79990001122")


@pytest.fixture
async def account(db, secrets):
    """A connected Telegram account channel of the shop."""
    shop = await make_vk_channel(db, secrets, "unused", slug="shop")
    async with db.unit_of_work() as session:
        channel_id = await channel_service.add_channel(
            session, secrets, tenant_id=shop.tenant_id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id=str(tf.ME),
            title="Менеджер", credentials=tf.session_string())
    return channel_id




@pytest.fixture
async def wired(db, account, tasks):
    client = tf.FakeTelethonClient()
    TelegramEvents(db, LiveIngest(db, tasks.queue), account).register(client)
    return client


async def rows(db, account) -> list[Message]:
    async with db.unit_of_work() as session:
        return list((await session.execute(
            select(Message).join(Dialog, Dialog.id == Message.dialog_id).where(Dialog.channel_id == account)
            .order_by(Message.sent_at, Message.id))).scalars())


async def settle(tasks):
    await tasks.queue.broker.wait_all()  # the in-process queue runs follow-up handlers on the loop


async def test_private_messages_media_and_own_phone_replies_land_as_core_events(db, account, wired, tasks):
    link = "https://shop.example/p?utm_source=tg_ads&utm_medium=cpc&utm_campaign=spring"
    updates = [
        types.UpdateNewMessage(tf.message(1, 42, f"Здравствуйте! Видела у вас {link}"), 1, 1),
        types.UpdateNewMessage(tf.message(2, 42, "Вот чек", media=tf.pdf(), minutes=1), 2, 1),
        types.UpdateNewMessage(tf.message(3, 42, "", media=tf.photo(), minutes=2, grouped_id=77), 3, 1),
        types.UpdateNewMessage(tf.message(4, 42, "", media=tf.photo(2), minutes=2, grouped_id=77), 4, 1),
        types.UpdateNewMessage(tf.message(5, 42, "", media=tf.voice(), minutes=3), 5, 1),
        types.UpdateNewMessage(tf.message(6, 42, "", media=tf.video(), minutes=3), 6, 1),
        types.UpdateNewMessage(tf.message(7, 42, "", media=tf.video(7, round_message=True), minutes=3), 7, 1),
        types.UpdateNewMessage(tf.message(8, 42, "", media=tf.sticker(), minutes=4), 8, 1),
        types.UpdateNewMessage(tf.message(9, 42, "", media=types.MessageMediaGeo(
            geo=types.GeoPoint(long=37.6, lat=55.7, access_hash=1)), minutes=4), 9, 1),
        types.UpdateNewMessage(tf.message(10, 42, "Огромный файл", media=tf.pdf(10, "backup.zip", 2 * 1024 ** 3),
                                          minutes=5), 10, 1),
        # the owner answered from their own phone: a manager reply, not lost
        types.UpdateShortMessage(id=11, user_id=42, message="Спасибо, заказ принят!", pts=11, pts_count=1,
                                 date=tf.T0.replace(minute=6), out=True, reply_to=types.MessageReplyHeader(
                                     reply_to_msg_id=2)),
    ]
    for update in updates:
        await wired.dispatch(update, CUSTOMER)
    # not a private chat with a person: ignored
    await wired.dispatch(types.UpdateNewMessage(tf.message(12, 555, "в группе", peer_type=types.PeerChat), 12, 1))
    await wired.dispatch(types.UpdateNewMessage(tf.message(13, 77, "/start"), 13, 1), tf.user(77, "Бот", bot=True))
    await settle(tasks)

    stored = await rows(db, account)
    assert [m.external_id for m in stored] == [str(i) for i in range(1, 12)]
    assert [m.direction for m in stored] == [Direction.IN] * 10 + [Direction.OUT]
    assert stored[-1].reply_to_external_id == "2" and stored[2].media_group_id == stored[3].media_group_id == "77"
    async with db.unit_of_work() as session:
        atts = {m: (k.value, e, n, d) for m, k, e, n, d in (await session.execute(
            select(Attachment.message_id, Attachment.kind, Attachment.error, Attachment.file_name,
                   Attachment.duration))).all()}
        customer = (await session.execute(select(Customer))).scalar_one()
        touch = await session.get(TrafficTouch, customer.first_touch_id)
        dialog = (await session.execute(select(Dialog))).scalar_one()
    by_ext = {m.external_id: m.id for m in stored}
    assert atts[by_ext["2"]][:3] == ("document", None, "Чек об оплате.pdf")
    assert [atts[by_ext[str(i)]][0] for i in (3, 4, 5, 6, 7, 8)] == ["photo", "photo", "voice", "video",
                                                                    "video_note", "sticker"]
    assert atts[by_ext["5"]][3] == 7  # the voice note's duration
    assert atts[by_ext["9"]][0] == "other" and "geo" in atts[by_ext["9"]][1]
    assert "больше лимита" in atts[by_ext["10"]][1]  # a 2 GB file: kept, with the reason it cannot be mirrored
    assert (customer.first_name, customer.username, customer.phone) == ("Анна", "anna_p", "+79990001122")
    assert (touch.source, touch.medium, touch.campaign) == ("tg_ads", "cpc", "spring")
    assert dialog.unread_count == 0 and dialog.last_reply_at is not None  # the phone reply answered it
    assert sorted(c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]) == sorted(by_ext.values())
    assert len(tasks.calls[inbox.SUGGEST_REPLY]) == 10  # drafts for the customer's messages only

    # Telegram re-delivers after a reconnect: nothing changes
    await wired.dispatch(updates[0], CUSTOMER)
    await settle(tasks)
    assert len(await rows(db, account)) == 11 and len(tasks.calls[inbox.MIRROR_MESSAGE]) == 11


async def test_edits_deletions_reads_and_blocks(db, account, wired, tasks):
    await wired.dispatch(types.UpdateNewMessage(tf.message(1, 42, "Хочу синее платье"), 1, 1), CUSTOMER)
    await wired.dispatch(types.UpdateNewMessage(tf.message(2, 42, "Уже есть!", out=True, minutes=1), 2, 1), CUSTOMER)
    await wired.dispatch(types.UpdateNewMessage(tf.message(3, 42, "И размер M", minutes=2), 3, 1), CUSTOMER)
    await wired.dispatch(types.UpdateEditMessage(tf.message(1, 42, "Хочу красное платье", edit_minutes=3), 4, 1),
                         CUSTOMER)
    await wired.dispatch(types.UpdateDeleteMessages(messages=[3], pts=5, pts_count=1))
    await wired.dispatch(types.UpdateReadHistoryOutbox(peer=types.PeerUser(42), max_id=2, pts=6, pts_count=1))
    await wired.dispatch(types.UpdatePeerBlocked(peer_id=types.PeerUser(42), blocked=True))
    await settle(tasks)
    stored = {m.external_id: m for m in await rows(db, account)}
    assert stored["1"].text == "Хочу красное платье" and stored["1"].edit_count == 1
    assert stored["3"].deleted_at is not None and stored["2"].is_read
    async with db.unit_of_work() as session:
        dialog = (await session.execute(select(Dialog))).scalar_one()
        customer = (await session.execute(select(Customer))).scalar_one()
    assert dialog.status == DialogStatus.INACTIVE and customer.blocked
    assert [c["message_id"] for c in tasks.calls[inbox.MIRROR_EDIT]] == [stored["1"].id, stored["3"].id]

    await wired.dispatch(types.UpdatePeerBlocked(peer_id=types.PeerUser(42), blocked=False))
    # the owner read the chat on their phone: nothing unread any more
    await wired.dispatch(types.UpdateReadHistoryInbox(peer=types.PeerUser(42), max_id=3, still_unread_count=0,
                                                      pts=7, pts_count=1))
    async with db.unit_of_work() as session:
        dialog = (await session.execute(select(Dialog))).scalar_one()
        unread = (await session.execute(select(Message.id).where(Message.is_read.is_(False)))).all()
    assert dialog.status == DialogStatus.ACTIVE and dialog.unread_count == 0 and unread == []


async def test_session_and_update_state_round_trip_through_postgres(db, secrets, account):
    store = SessionStore(db, secrets, account)
    session = await store.load()
    assert session.auth_key is not None and session.dc_id == 2
    client = TelegramClient(session, 12345, "0123456789abcdef")
    # what Telethon's message box holds after some updates: our pts/qts/date/seq and one channel's pts
    client._message_box.load(SessionState(0, 0, False, pts=1501, qts=7, date=1772400000, seq=33, takeout_id=None),
                             [ChannelState(channel_id=9001, pts=88)])  # and a channel the account is in
    session.process_entities(types.contacts.ResolvedPeer(peer=types.PeerUser(42), chats=[], users=[CUSTOMER]))
    await client.disconnect()  # Telethon writes its state into the session and closes it: ours goes to the DB

    async with db.unit_of_work() as db_session:
        row = await db_session.get(ChannelAccount, account)
    assert row.update_state["pts"] == 1501 and row.update_state["seq"] == 33 and row.update_state["qts"] == 7
    assert row.update_state["channels"] == {"9001": 88}
    assert session.export().encode() not in bytes(row.credentials_enc)  # encrypted at rest

    restored = await SessionStore(db, secrets, account).load()
    assert restored.export() == session.export()
    state = restored.get_update_state(0)
    assert (state.pts, state.qts, state.seq, int(state.date.timestamp())) == (1501, 7, 33, 1772400000)
    assert restored.get_update_state(9001).pts == 88
    assert restored.get_input_entity(42) == types.InputPeerUser(42, CUSTOMER.access_hash)  # can answer after restart

    # a second client of the account (a history import) never moves the realtime client's position
    importer = TelegramClient(await SessionStore(db, secrets, account).load(owns_updates=False), 12345, "0" * 16)
    importer._message_box.load(SessionState(0, 0, False, pts=9999, qts=7, date=1772400000, seq=40, takeout_id=None), [])
    await importer.disconnect()
    async with db.unit_of_work() as db_session:
        assert (await db_session.get(ChannelAccount, account)).update_state["pts"] == 1501


async def test_a_long_flood_wait_on_a_send_shows_on_the_channel(db, account):
    """FloodWait longer than Telethon sleeps through by itself (the MTProto stand-in's budgets never ask for that
    long: test_telegram_mtproto covers sending against it)."""
    client = tf.FakeTelethonClient()
    client.entities[42] = CUSTOMER
    client.fail_next = [errors.FloodWaitError(request=None, capture=420)]
    with pytest.raises(DeliveryError) as flood:
        await send_through(db, client, account, "42", {"text": "Добрый день"}, "k:flood", None)
    assert flood.value.retry_after == 420.0 and not flood.value.permanent and flood.value.code == "flood"
    async with db.unit_of_work() as session:
        row = await session.get(ChannelAccount, account)
    assert row.status == ChannelStatus.FLOOD_WAIT and row.flood_until is not None and "420" in row.status_detail
    assert client.requests == []  # refused: nothing was sent


def _history(n_dialogs: int, per_dialog: int) -> list[tuple[types.User, list[types.Message]]]:
    dialogs = []
    for d in range(n_dialogs):
        uid = 100 + d
        messages = [tf.message(d * 1000 + k, uid, f"сообщение {k} в диалоге {d}", out=k % 3 == 2, minutes=-d * 60 + k,
                               media=tf.voice(d * 1000 + k) if k % 5 == 4 else None) for k in range(per_dialog)]
        dialogs.append((tf.user(uid, f"Покупатель{d}", None), messages[::-1]))  # newest first, as Telegram lists
    dialogs.append((tf.user(9, "Бот", None, bot=True), [tf.message(9, 9, "/start")]))
    return dialogs


def _expected(dialogs) -> set[tuple]:
    return {(str(u.id), str(m.id), "out" if m.out else "in", m.message) for u, ms in dialogs if not u.bot for m in ms}


async def _stored(db, account) -> set[tuple]:
    return {(c, e, d.value, t) for c, e, d, t in await _stored_rows(db, account)}


async def _stored_rows(db, account):
    async with db.unit_of_work() as session:
        return (await session.execute(
            select(Dialog.external_chat_id, Message.external_id, Message.direction, Message.text)
            .join(Dialog, Dialog.id == Message.dialog_id).where(Dialog.channel_id == account))).all()


class HistoryFactory:
    def __init__(self, client):
        self.client = client

    async def client_for(self, channel_id, *, updates=True):
        assert updates is False  # an import must not consume the realtime client's updates
        return self.client


async def test_a_flood_wait_on_the_dialog_list_is_waited_out_and_the_listing_resumed(db, secrets, settings, account):
    """messages.getDialogs refused for longer than Telethon sleeps by itself (the MTProto stand-in's budgets do not
    ask for that long; test_telegram_mtproto covers flood waits on reading history against it)."""
    dialogs = _history(3, 10)
    client = tf.FakeTelethonClient(dialogs=dialogs)
    client.listing_errors = [errors.FloodWaitError(request=None, capture=30)]
    fast = settings.model_copy(update={"time_scale": 1000.0})
    report = await run_import(db, secrets, fast, account, progress=False,
                              telegram_client_factory=HistoryFactory(client))
    assert report.status == "done" and report.messages_this_run == 30
    assert await _stored(db, account) == _expected(dialogs)
    async with db.unit_of_work() as session:
        row = await session.get(ChannelAccount, account)
        run = (await session.execute(select(ImportRun))).scalar_one()
    assert row.status == ChannelStatus.ACTIVE and run.cursor["flood_waits"] == 1  # shown, then cleared
