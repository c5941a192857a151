"""Channels lose nothing at their start or restart: `channel add` records where live ingest begins (VK: its server
time, newest message id and long-poll ts; Telegram: the account's update state at sign-in), and what customers write
before the first connection — or while the ingest is down — is fetched once, in order, whether the platform's own
update stream still has it or only its history does. A channel added in any process starts at once (NOTIFY)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core import inbox
from core.models import ChannelAccount, ChannelKind, Dialog, Message
from core.services import channels as channel_service
from core.services.tenants import create_tenant
from salesop.context import app_context
from userbots import component
from userbots.vk import api as vk_api
from userbots.vk.realtime import live_start

from .conftest import GROUP
from .test_cli import cli_env, salesop  # noqa: F401  (cli_env is a fixture)
from .test_telegram_mtproto import connect_with_code, running, stored, until_stored
from .test_vk_realtime import eventually, start_realtime


@pytest.fixture
async def tenant(db) -> int:
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        await session.flush()
        return tenant.id


async def add_vk_channel(db, secrets, vk_settings, token: str, tenant_id: int, *, community: bool = True,
                         external_id: int = GROUP) -> int:
    """What `salesop channel add` does, in this process: read where live ingest begins, store the channel."""
    api = vk_api.build_api(vk_settings, token, community=community)
    try:
        start = await live_start(api, community=community, group_id=external_id if community else None)
    finally:
        await api.close()
    async with db.unit_of_work() as session:
        return await channel_service.add_channel(
            session, secrets, tenant_id=tenant_id, kind=ChannelKind.VK_COMMUNITY if community else ChannelKind.VK_USER,
            external_id=str(external_id), title="Магазин «Тест»", credentials=token, start_state=start)


class Channel:
    def __init__(self, channel_id: int):
        self.channel_id = channel_id


async def channel_messages(db, channel_id: int) -> list[Message]:
    """Every message of the channel in the order the inbox recorded it."""
    async with db.unit_of_work() as session:
        return list((await session.execute(
            select(Message).join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.channel_id == channel_id).order_by(Message.id))).scalars())


async def texts_by_chat(db, channel_id: int) -> dict[str, list[str]]:
    """Each dialog's messages in the order they were recorded (a duplicate would show twice)."""
    async with db.unit_of_work() as session:
        rows = (await session.execute(
            select(Dialog.external_chat_id, Message.text).join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.channel_id == channel_id).order_by(Message.id))).all()
    out: dict[str, list[str]] = {}
    for chat, text in rows:
        out.setdefault(chat, []).append(text)
    return out


def has_count(db, channel_id: int, n: int):
    async def check():
        return len(await channel_messages(db, channel_id)) >= n
    return check


async def stop_task(stop: asyncio.Event, task: asyncio.Task) -> None:
    stop.set()
    await asyncio.wait_for(task, 30)


async def kill_task(task: asyncio.Task) -> None:
    """The ingest dies where it stands (a transaction in flight is rolled back, nothing is closed cleanly)."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# ------------------------------------------------------------------------------------------------ VK communities


async def test_what_customers_write_between_channel_add_and_the_first_connection_arrives_once(
        db, vk, vk_settings, secrets, tasks, tenant, cli_env):  # noqa: F811
    await vk.sandbox.user_writes(GROUP, 500_000_001, "до подключения магазина")  # history: the importer's job
    code, out, err = await salesop(cli_env, "channel", "add", "vk", "--tenant", "shop", "--group-id", str(GROUP),
                                   "--token", vk.token)
    assert code == 0, err
    channel_id = int(out.strip())
    async with db.unit_of_work() as session:
        state = (await session.get(ChannelAccount, channel_id)).update_state
    assert state["ts"] and state["live_from"] and state["live_from_id"] >= 1

    # the product is not connected yet: customers write anyway
    await vk.sandbox.user_writes(GROUP, 500_000_001, "Здравствуйте, вы тут?")
    await vk.sandbox.user_writes(GROUP, 500_000_002, "Сколько стоит доставка?")
    await vk.sandbox.user_writes(GROUP, 500_000_001, "Жду ответа")

    realtime, stop, task = await start_realtime(db, tasks, vk_settings, Channel(channel_id), vk.token)
    try:
        await eventually(has_count(db, channel_id, 3))
        await vk.sandbox.user_writes(GROUP, 500_000_002, "И ещё вопрос")  # live, after the connection
        await eventually(has_count(db, channel_id, 4))
    finally:
        await stop_task(stop, task)

    assert await texts_by_chat(db, channel_id) == {
        "500000001": ["Здравствуйте, вы тут?", "Жду ответа"],
        "500000002": ["Сколько стоит доставка?", "И ещё вопрос"]}
    assert realtime.gap_fills == 0  # VK kept the events after the ts taken at the add
    rows = await channel_messages(db, channel_id)
    assert not any(m.is_imported for m in rows)
    assert sorted(c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]) == [m.id for m in rows]


@pytest.mark.parametrize("start", ["events_lost", "no_ts_at_add"])
async def test_when_the_long_poll_cannot_give_the_start_history_does(db, vk, vk_settings, secrets, tasks, tenant,
                                                                     start):
    """VK dropped the events after the add's ts (failed 1/3), or no ts could be taken at the add (Long Poll was
    off): the first connection reads what was written since the add from history, once, in order."""
    await vk.sandbox.user_writes(GROUP, 500_000_001, "до подключения магазина")
    if start == "no_ts_at_add":
        vk.sandbox.inject_error("groups.getLongPollServer", 100)
    channel_id = await add_vk_channel(db, secrets, vk_settings, vk.token, tenant)
    async with db.unit_of_work() as session:
        assert ("ts" in (await session.get(ChannelAccount, channel_id)).update_state) == (start == "events_lost")

    for n in range(3):
        await vk.sandbox.user_writes(GROUP, 500_000_001, f"первое {n}")
        await vk.sandbox.user_writes(GROUP, 500_000_002, f"второе {n}")
    if start == "events_lost":
        vk.sandbox.expire_longpoll(GROUP, 3)

    realtime, stop, task = await start_realtime(db, tasks, vk_settings, Channel(channel_id), vk.token)
    try:
        await eventually(has_count(db, channel_id, 6))
        await vk.sandbox.user_writes(GROUP, 500_000_002, "после подключения")
        await eventually(has_count(db, channel_id, 7))
    finally:
        await stop_task(stop, task)

    assert await texts_by_chat(db, channel_id) == {
        "500000001": ["первое 0", "первое 1", "первое 2"],
        "500000002": ["второе 0", "второе 1", "второе 2", "после подключения"]}
    assert realtime.gap_fills >= 1
    assert len(tasks.calls[inbox.MIRROR_MESSAGE]) == 7


@pytest.mark.parametrize("vk_keeps_events", [True, False])
async def test_a_killed_ingest_restarts_and_takes_in_everything_once_in_order(db, vk, vk_settings, secrets, tasks,
                                                                             tenant, vk_keeps_events):
    channel_id = await add_vk_channel(db, secrets, vk_settings, vk.token, tenant)
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, Channel(channel_id), vk.token)
    await vk.sandbox.user_writes(GROUP, 500_000_001, "раз")
    await eventually(has_count(db, channel_id, 1))
    # customers keep writing; the process dies in the middle of taking their messages in
    await vk.sandbox.user_writes(GROUP, 500_000_001, "два")
    await vk.sandbox.user_writes(GROUP, 500_000_002, "привет")
    await kill_task(task)
    await vk.sandbox.user_writes(GROUP, 500_000_001, "три")
    await vk.sandbox.user_writes(GROUP, 500_000_002, "есть кто?")
    if not vk_keeps_events:
        vk.sandbox.expire_longpoll(GROUP, 1)  # the stored ts is too old by the time the process is back

    realtime, stop, task = await start_realtime(db, tasks, vk_settings, Channel(channel_id), vk.token)
    try:
        await eventually(has_count(db, channel_id, 5))
        await vk.sandbox.user_writes(GROUP, 500_000_001, "четыре")
        await eventually(has_count(db, channel_id, 6))
    finally:
        await stop_task(stop, task)

    assert await texts_by_chat(db, channel_id) == {"500000001": ["раз", "два", "три", "четыре"],
                                                   "500000002": ["привет", "есть кто?"]}
    assert (realtime.gap_fills >= 1) == (not vk_keeps_events)
    rows = await channel_messages(db, channel_id)
    mirrored = [c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]]
    assert sorted(mirrored) == [m.id for m in rows]  # every message's follow-up once


# ------------------------------------------------------------------------------------------------ VK user accounts


async def test_a_vk_user_account_takes_in_what_was_written_since_the_add_and_while_it_was_down(
        db, vk, vk_settings, secrets, tasks, tenant, cli_env):  # noqa: F811
    account_id = 700_000_123
    token = vk.sandbox.add_user_token(account_id)
    await vk.sandbox.user_writes_to_account(account_id, 500_000_301, "старое сообщение")
    code, out, err = await salesop(cli_env, "channel", "add", "vk-user", "--tenant", "shop", "--token", token)
    assert code == 0, err
    channel_id = int(out.strip())
    await vk.sandbox.user_writes_to_account(account_id, 500_000_301, "Добрый вечер!")
    await vk.sandbox.user_writes_to_account(account_id, 500_000_302, "Есть в наличии?")

    realtime, stop, task = await start_realtime(db, tasks, vk_settings, Channel(channel_id), token)
    try:
        await eventually(has_count(db, channel_id, 2))
    finally:
        await stop_task(stop, task)
    await vk.sandbox.user_writes_to_account(account_id, 500_000_302, "Алло?")
    await vk.sandbox.user_writes_to_account(account_id, 500_000_301, "Ответьте, пожалуйста")
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, Channel(channel_id), token)
    try:
        await eventually(has_count(db, channel_id, 4))
    finally:
        await stop_task(stop, task)

    assert await texts_by_chat(db, channel_id) == {"500000301": ["Добрый вечер!", "Ответьте, пожалуйста"],
                                                   "500000302": ["Есть в наличии?", "Алло?"]}
    assert len(tasks.calls[inbox.MIRROR_MESSAGE]) == 4


async def test_reconnecting_a_channel_keeps_the_earlier_start(db, vk, vk_settings, secrets, tenant):
    """A channel connected again (a fresh token) resumes from where it was, not from the new add: nothing written
    in between is skipped."""
    channel_id = await add_vk_channel(db, secrets, vk_settings, vk.token, tenant)
    async with db.unit_of_work() as session:
        first = dict((await session.get(ChannelAccount, channel_id)).update_state)
    await vk.sandbox.user_writes(GROUP, 500_000_001, "между подключениями")
    assert await add_vk_channel(db, secrets, vk_settings, vk.token, tenant) == channel_id
    async with db.unit_of_work() as session:
        again = (await session.get(ChannelAccount, channel_id)).update_state
    assert again == first


# ------------------------------------------------------------------------------------------------ Telegram accounts


async def test_a_telegram_account_takes_in_what_was_written_between_login_and_the_first_connection(
        db, tg_secrets, tg_settings, mtproto, tenant_of_shop, tasks):
    owner = mtproto.create_account("+79990001122", "Ольга", "Магазин").user.id
    anna = mtproto.create_customer("Анна", "Петрова").id
    boris = mtproto.create_customer("Борис", None).id
    await mtproto.customer_writes(owner, anna, "до подключения")  # history: the importer's job
    channel_id = await connect_with_code(db, tg_secrets, tg_settings, mtproto, tenant_of_shop)
    async with db.unit_of_work() as session:
        start = dict((await session.get(ChannelAccount, channel_id)).update_state)
    assert start["pts"] == mtproto.account(owner).pts

    before = [await mtproto.customer_writes(owner, anna, "Здравствуйте!"),
              await mtproto.customer_writes(owner, boris, "Добрый день"),
              await mtproto.customer_writes(owner, anna, "Есть размер S?")]
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id):
        rows = await until_stored(db, channel_id, 3)
        live = await mtproto.customer_writes(owner, boris, "Жду")
        rows = await until_stored(db, channel_id, 4)
    assert [m.external_id for m in rows] == [str(m.id) for m in [*before, live]]

    # killed before Telethon wrote its update state back: the state stored is the one from the login
    async with db.unit_of_work() as session:
        await channel_service.save_update_state(session, channel_id, start)
    later = await mtproto.customer_writes(owner, anna, "Вы тут?")
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id):
        rows = await until_stored(db, channel_id, 5)
    assert [m.external_id for m in rows] == [str(m.id) for m in [*before, live, later]]
    # recorded once (what the difference replayed was a no-op), and in the order it was written
    assert [m.external_id for m in await channel_messages(db, channel_id)] == [m.external_id for m in rows]
    assert sorted(c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]) == sorted(m.id for m in rows)


async def test_a_telegram_message_whose_handling_a_stop_cut_short_comes_from_history(
        db, tg_secrets, tg_settings, mtproto, tenant_of_shop, tasks):
    """Telethon counts an update as handled when it takes it, and stores that state when it disconnects: a message
    whose recording the stop interrupted is not in any difference after the restart — history has it."""
    owner = mtproto.create_account("+79990001122", "Ольга", "Магазин").user.id
    anna = mtproto.create_customer("Анна", "Петрова").id
    channel_id = await connect_with_code(db, tg_secrets, tg_settings, mtproto, tenant_of_shop)
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id) as account:
        first = await mtproto.customer_writes(owner, anna, "Здравствуйте!")
        await until_stored(db, channel_id, 1)
        busy = asyncio.Event()

        async def never_done(inbound, **options):  # the process is stopped while this message is being recorded
            busy.set()
            await asyncio.Event().wait()

        account.events.live.message = never_done
        cut = await mtproto.customer_writes(owner, anna, "Хочу заказать платье")
        await asyncio.wait_for(busy.wait(), 10)
    async with db.unit_of_work() as session:
        assert (await session.get(ChannelAccount, channel_id)).update_state["pts"] == mtproto.account(owner).pts
    assert len(await stored(db, channel_id)) == 1

    later = await mtproto.customer_writes(owner, anna, "Размер M")
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id):
        rows = await until_stored(db, channel_id, 3)
    assert [m.external_id for m in rows] == [str(m.id) for m in (first, cut, later)]
    assert [m.external_id for m in await channel_messages(db, channel_id)] == [m.external_id for m in rows]
    assert len(tasks.calls[inbox.MIRROR_MESSAGE]) == 3


# ------------------------------------------------------------------------------------------------ waking up


async def test_a_channel_added_elsewhere_starts_at_once(vk, vk_settings, secrets, db, tenant, monkeypatch):
    """The add's transaction NOTIFYs; the running component LISTENs and starts the channel without waiting for
    its rescan (made an hour here, so only the wake-up can start it in time)."""
    monkeypatch.setattr(component, "RESCAN_SECONDS", 3600.0)
    async with app_context(vk_settings) as ctx:
        component.install(ctx)
        await ctx.queue.startup()
        supervisor = ctx.services["userbots"]
        stop = asyncio.Event()
        run = asyncio.create_task(component.run(ctx, stop))
        try:
            async def listening():
                return supervisor.listening is not None
            await eventually(listening)
            channel_id = await add_vk_channel(db, secrets, vk_settings, vk.token, tenant)  # as another process would

            async def started():
                return channel_id in supervisor.running
            await eventually(started, timeout=20)
            await vk.sandbox.user_writes(GROUP, 500_000_050, "Добрый день!")
            await eventually(has_count(db, channel_id, 1))
        finally:
            stop.set()
            await asyncio.wait_for(run, 30)
            await ctx.queue.shutdown()
