"""Exactly-once manager replies under faults: the AI pipeline storing its draft while a manager answers (lock order,
no deadlock), an update confirmed to Telegram only after its unit of work committed (polling and webhook), and a
manager told when their message could not be handled."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiohttp import ClientSession, web
from sqlalchemy import select, text

from bot import component
from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core.ai.pipeline import SuggestionPipeline
from core.ai.providers import build_providers
from core.clock import SystemClock
from core.models import Dialog, OutboxCommand
from core.services.workspace import replies
from tests.conftest import free_port

from .desk import Desk


async def wait_until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    """Wait for `condition()` (sync or async) to hold, checking every few milliseconds, at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def lock_waiters(desk: Desk) -> int:
    """Sessions of this test's database waiting for a row lock right now."""
    async with desk.db.engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ))).scalar_one()


@contextlib.asynccontextmanager
async def dialog_locked(desk: Desk, dialog_id: int):
    """Another transaction holds the dialog row (as a slow unit of work would) until the block ends."""
    async with desk.db.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(select(Dialog.id).where(Dialog.id == dialog_id).with_for_update())
        try:
            yield
        finally:
            await transaction.rollback()


async def reply_command(desk: Desk, message_id: int) -> OutboxCommand | None:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(OutboxCommand).where(
            OutboxCommand.idempotency_key == replies.manager_reply_key(desk.group_chat_id, message_id)
        ))).scalar_one_or_none()


async def _dialog_with_topic(desk: Desk, text_: str = "Сколько стоит доставка?"):
    anna = desk.customer()
    received = await desk.customer_writes(anna, text_)
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    assert topic is not None and topic.thread_id
    return anna, received, topic


async def test_a_manager_reply_while_the_pipeline_stores_its_draft_reaches_the_customer(desk: Desk):
    """The race that lost replies: the pipeline's final transaction (message row lock, then the suggestion insert)
    against a manager's reply (dialog lock, then marking messages read). Both must commit, the reply must leave."""
    anna, received, topic = await _dialog_with_topic(desk)
    pipeline = SuggestionPipeline(desk.db, build_providers(desk.ctx.settings), desk.ctx.settings, SystemClock())
    entered, release = asyncio.Event(), asyncio.Event()
    original = pipeline._check_facts

    async def paused_check_facts(*args, **kwargs):
        # Inside the final transaction, after its locks: held here until the manager's update is waiting.
        entered.set()
        await release.wait()
        return await original(*args, **kwargs)

    pipeline._check_facts = paused_check_facts
    drafting = asyncio.create_task(pipeline.run(received.message_id))
    await asyncio.wait_for(entered.wait(), 30)

    sent = await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Доставка 300 ₽, завтра.",
                                    thread_id=topic.thread_id)
    handling = asyncio.create_task(desk.pump())
    await wait_until(lambda: lock_waiters(desk), what="the manager's update waiting for the pipeline's lock")
    release.set()
    result = await asyncio.wait_for(drafting, 30)
    await asyncio.wait_for(handling, 30)
    await desk.settle()

    assert result.suggestion_id is not None  # the draft was stored too
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка 300 ₽, завтра."]
    command = await reply_command(desk, sent["message_id"])
    assert command is not None and command.state.value == "done"


async def test_polling_confirms_an_update_only_after_its_transaction_committed(desk: Desk):
    """A handler blocked mid-transaction when the bot dies: the update is still unconfirmed at Telegram, the next
    start reads it again and the reply reaches the customer exactly once."""
    anna, received, topic = await _dialog_with_topic(desk)
    offsets: list[int | None] = []
    get_updates = desk.sb.get_updates

    async def recording_get_updates(offset, limit, timeout):
        offsets.append(offset)
        return await get_updates(offset, limit, timeout)

    desk.sb.get_updates = recording_get_updates
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake)

    async with dialog_locked(desk, received.dialog_id):
        dp = build_dispatcher(runtime)
        stop = asyncio.Event()
        polling = asyncio.create_task(component._run_polling(desk.bot, dp, stop, "@bot", "en"))
        sent = await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Отправим сегодня.",
                                        thread_id=topic.thread_id)
        [pending] = desk.sb._updates
        update_id = pending["update_id"]
        await wait_until(lambda: lock_waiters(desk), what="the handler blocked inside its transaction")
        # A loop that confirms early does it at once with its next getUpdates; give it the chance to.
        with contextlib.suppress(AssertionError):
            await wait_until(lambda: any(o is not None and o > update_id for o in offsets), timeout=2.0)
        assert all(o is None or o <= update_id for o in offsets), "confirmed while its handler was still running"
        # The process dies: polling stops and whatever the dispatcher still runs dies with it.
        stop.set()
        await asyncio.wait_for(polling, 30)
        for task in list(getattr(dp, "_handle_update_tasks", ())):
            task.cancel()
        await asyncio.gather(*getattr(dp, "_handle_update_tasks", ()), return_exceptions=True)
    assert await reply_command(desk, sent["message_id"]) is None  # nothing of it was committed

    # The restart: a new dispatcher polls without the confirmed offset and gets the update again.
    assert [u["update_id"] for u in desk.sb._updates] == [update_id]
    dp = build_dispatcher(runtime)
    stop = asyncio.Event()
    polling = asyncio.create_task(component._run_polling(desk.bot, dp, stop, "@bot", "en"))
    try:
        await wait_until(lambda: reply_command(desk, sent["message_id"]), what="the update handled after restart")
    finally:
        stop.set()
        await asyncio.wait_for(polling, 30)
    await desk.outbox.drain(timeout=30)
    # Telegram delivering it once more (no confirmation reached it) changes nothing.
    desk.sb.get_updates = get_updates
    desk.offset = 0
    await desk.settle()
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Отправим сегодня."]


async def test_the_webhook_answers_only_after_the_update_committed(desk: Desk):
    anna, received, topic = await _dialog_with_topic(desk)
    secret = "s3cret-token"
    runner = web.AppRunner(component.webhook_app(desk.bot, desk.dp, secret))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        sent = await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Можно забрать сегодня.",
                                        thread_id=topic.thread_id)
        [update] = await desk.bot.get_updates(offset=desk.offset, timeout=0)
        body = update.model_dump(mode="json", exclude_none=True)
        async with ClientSession() as http:
            async def post():
                async with http.post(f"http://127.0.0.1:{port}{component.WEBHOOK_PATH}", json=body,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as response:
                    return response.status

            async with dialog_locked(desk, received.dialog_id):
                answer = asyncio.create_task(post())
                await wait_until(lambda: lock_waiters(desk), what="the webhook's handler inside its transaction")
                assert not answer.done()  # no 200 while the unit of work is open
            assert await asyncio.wait_for(answer, 30) == 200
        # The answer came after the commit: the reply is in the outbox.
        assert await reply_command(desk, sent["message_id"]) is not None
    finally:
        await runner.cleanup()
    desk.offset = update.update_id + 1
    await desk.settle()
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Можно забрать сегодня."]


async def test_a_manager_is_told_when_their_message_could_not_be_handled(desk: Desk, monkeypatch):
    anna, received, topic = await _dialog_with_topic(desk)

    async def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(replies, "send_to_customer", broken)
    with pytest.raises(RuntimeError):
        await desk.write(desk.manager, "Да, есть в наличии.", thread_id=topic.thread_id)
    monkeypatch.undo()
    await desk.settle()

    sent = next(m for m in desk.thread(topic.thread_id) if m["text"] == "Да, есть в наличии.")
    notices = [m for m in desk.thread(topic.thread_id)
               if m["by_bot"] and "не обработано" in (m["text"] or "")]
    assert len(notices) == 1 and "RuntimeError" in notices[0]["text"]
    assert notices[0]["reply_to_message_id"] == sent["message_id"]
    assert desk.customer_chat(anna) == []
