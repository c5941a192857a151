"""History import against the VK stand-in: the database equals the source exactly, however often the import is
killed (task cancelled at random points, and `salesop import` killed with SIGKILL), alongside realtime, and through
revoked tokens, captchas, floods and conversations VK refuses alone."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys

import pytest
from sqlalchemy import func, select

from core.models import (
    Attachment,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Customer,
    Dialog,
    DialogStatus,
    ImportRun,
    ImportStatus,
    Message,
)
from core.services import channels as channel_service
from core.tasks import TaskiqQueue, build_broker
from sandbox.vk import synth
from userbots.importer import ImportStopped, run_import
from userbots.vk.realtime import VKChannelRealtime

from .conftest import GROUP, make_vk_channel, serve_vk
from .source import consistency_problems, database_messages, source_messages
from tests.waiting import wait_for


def seed(vk, conversations: int = 400, messages: int = 6, **kw) -> None:
    vk.sandbox.seed(GROUP, conversations=conversations, messages_per_conversation=messages, seed=11,
                    forbid_every=kw.pop("forbid_every", 9), attachment_every=kw.pop("attachment_every", 2), **kw)


async def assert_equals_source(db, vk, channel_id: int) -> None:
    expected = source_messages(vk.sandbox)
    stored = await database_messages(db, channel_id)
    assert stored == expected, (sorted(expected - stored)[:3], sorted(stored - expected)[:3])
    assert await consistency_problems(db, channel_id) == []


async def import_run(db, channel_id: int) -> ImportRun:
    async with db.unit_of_work() as session:
        return (await session.execute(select(ImportRun).where(ImportRun.channel_id == channel_id)
                                      .order_by(ImportRun.id.desc()).limit(1))).scalar_one()


async def test_clean_import_equals_the_source(db, vk, vk_settings, secrets, shop):
    seed(vk)
    report = await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert (report.status, report.conversations, report.conversations_total) == ("done", 400, 400)
    assert report.messages == report.messages_this_run == 2400 and report.failed_conversations == 0
    await assert_equals_source(db, vk, shop.channel_id)
    async with db.unit_of_work() as session:
        inactive = (await session.execute(select(func.count()).select_from(Dialog)
                                          .where(Dialog.status == DialogStatus.INACTIVE))).scalar_one()
        blocked = (await session.execute(select(func.count()).select_from(Customer)
                                         .where(Customer.blocked))).scalar_one()
        imported = (await session.execute(select(func.count()).select_from(Message)
                                          .where(Message.is_imported))).scalar_one()
        unknown = (await session.execute(select(Attachment.error, Attachment.external_ref)
                                         .where(Attachment.error.is_not(None)))).all()
        names = dict((await session.execute(select(Customer.profile_url, Customer.first_name))).all())
    assert inactive == blocked == 400 // 9  # every 9th customer forbade messages from the community (VK 901)
    assert imported == 2400
    assert unknown and all(ref["type"] in ("gift", "mini_app", "money_transfer") and ref["type"] in error
                           for error, ref in unknown)
    # names with RTL script, combining marks and emoji arrive as VK has them
    odd = [uid for uid in range(synth_base(vk), synth_base(vk) + 400) if synth.h("odd", uid) % 16 in (1, 2, 4)]
    assert odd and all(names[f"https://vk.com/id{uid}"] == synth.person(uid)["first_name"] for uid in odd)
    # a second import finds everything stored: nothing new, nothing twice
    again = await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert again.messages_this_run == 0 and again.run_id != report.run_id
    await assert_equals_source(db, vk, shop.channel_id)


def synth_base(vk) -> int:
    return vk.sandbox._communities[GROUP].mailbox.seed.base


@pytest.mark.parametrize("run_seed", [1, 2, 3])
async def test_import_cancelled_at_random_points_equals_one_clean_run(db, secrets, settings, run_seed):
    """Property: whatever the points the import is stopped at, resuming ends in the source exactly."""
    rng = random.Random(run_seed)
    vk = await serve_vk(time_scale=20.0)
    try:
        seed(vk, conversations=600, messages=rng.choice([1, 4, 9]))
        cfg = settings.model_copy(update={"time_scale": 20.0, "vk": settings.vk.model_copy(
            update={"vk_api_url": vk.api_url})})
        shop = await make_vk_channel(db, secrets, vk.token)
        stats = vk.sandbox.stats

        def calls() -> int:  # VK API calls so far, each call inside an `execute` counted
            return sum(stats["methods"].values()) + sum(stats["execute_calls"].values())

        def progress(run) -> tuple | None:  # what a run has committed (its checkpoint)
            if run is None or (run.messages_done, run.conversations_done) == (0, 0) and \
                    run.cursor.get("phase", "list") == "list" and not run.cursor.get("offset"):
                return None
            return run.messages_done, run.conversations_done, run.cursor.get("phase"), run.cursor.get("offset")

        kills = 0
        while True:
            # The cancel point is a random amount of the import's own progress (its VK calls), whatever the speed of
            # the machine, and never before this run committed part of its work (so every run gets further).
            started_from = progress(await _maybe_run(db, shop.channel_id))
            cancel_at = calls() + rng.randint(1, 200)
            task = asyncio.create_task(run_import(db, secrets, cfg, shop.channel_id, progress=False,
                                                  workers=rng.choice([1, 4, 16])))

            async def at_cancel_point() -> bool:
                if task.done():
                    return True
                if calls() < cancel_at:
                    return False
                return progress(await _maybe_run(db, shop.channel_id)) not in (None, started_from)

            await wait_for(at_cancel_point, "the import at its cancel point", timeout=120, interval=0.002)
            if task.done():
                break
            task.cancel()
            try:
                await task
                break  # it finished right before the cancel
            except asyncio.CancelledError:
                kills += 1
            run = await _maybe_run(db, shop.channel_id)
            # stopped mid-way it says so; stopped while opening its checkpoint it looks like a killed run; stopped
            # in its last breath (releasing the lock) it is simply done
            assert run is None or run.status in (ImportStatus.PAUSED, ImportStatus.RUNNING, ImportStatus.DONE)
        report = task.result()
        assert report.status == "done"
        await assert_equals_source(db, vk, shop.channel_id)
        async with db.unit_of_work() as session:
            counted = (await session.execute(select(func.sum(ImportRun.messages_done))
                                             .where(ImportRun.channel_id == shop.channel_id))).scalar_one()
        assert counted == len(source_messages(vk.sandbox))  # counted once however many runs it took
        assert kills >= 1
    finally:
        await vk.runner.cleanup()


async def test_kill_9_of_salesop_import_resumes_from_the_database_checkpoint(db_url, db, secrets, settings, tmp_path):
    vk = await serve_vk(time_scale=2.0)
    try:
        seed(vk, conversations=1500, messages=5)
        shop = await make_vk_channel(db, secrets, vk.token)
        env = {**os.environ, "SALESOP_DATABASE_URL": db_url, "SALESOP_VK_API_URL": vk.api_url,
               "SALESOP_MASTER_KEY": settings.security.master_key.get_secret_value(), "SALESOP_TIME_SCALE": "2",
               "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_LOG_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "salesop.cli", "import", str(shop.channel_id), "--json"]

        proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        # The kill point is a random amount of the import's recorded progress, not of wall-clock time (nor of its VK
        # calls: the import fetches far ahead of what it has written, and a kill after the last call would find it
        # done). Polled as fast as the database answers; the rest of the import after the target takes seconds.
        target = random.Random(5).randint(200, 1000)

        async def at_kill_point() -> bool:
            run = await _maybe_run(db, shop.channel_id)
            return proc.returncode is not None or (run is not None and run.conversations_done >= target)

        await wait_for(at_kill_point, f"{target} conversations imported", timeout=120, interval=0.005)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        killed_at = await import_run(db, shop.channel_id)
        assert proc.returncode == -signal.SIGKILL
        assert killed_at.status == ImportStatus.RUNNING  # nobody could say otherwise: the process was gone
        assert 0 < killed_at.conversations_done < 1500

        proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        import json

        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert summary["conversations"] == 1500 and summary["messages"] == 7500
        assert summary["messages_this_run"] < 7500  # resumed, not started over
        assert "conv" in err.decode()  # the progress bar went to stderr
        await assert_equals_source(db, vk, shop.channel_id)
    finally:
        await vk.runner.cleanup()


async def _maybe_run(db, channel_id):
    async with db.unit_of_work() as session:
        return (await session.execute(select(ImportRun).where(ImportRun.channel_id == channel_id)
                                      .order_by(ImportRun.id.desc()).limit(1))).scalar_one_or_none()


async def test_import_alongside_realtime_stores_everything_once(db, vk, vk_settings, secrets, shop):
    seed(vk, conversations=500, messages=4)
    base = synth_base(vk)
    queue = TaskiqQueue(build_broker(None))
    mirrored: list[int] = []

    async def mirror(message_id):
        mirrored.append(message_id)

    queue.register("mirror_message", mirror)
    await queue.startup()
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    realtime = VKChannelRealtime(db, queue, vk_settings, channel, vk.token)
    stop = asyncio.Event()
    live = asyncio.create_task(realtime.run(stop))
    while vk.sandbox.stats["longpoll_requests"] == 0:
        await asyncio.sleep(0.02)
    importing = asyncio.create_task(run_import(db, secrets, vk_settings, shop.channel_id, progress=False))
    live_ids = []
    for n in range(30):  # customers keep writing, to old conversations deep in the listing and to new ones
        peer = base + (n * 37) % 500 if n % 3 else 600_000_000 + n
        live_ids.append((await vk.sandbox.user_writes(GROUP, peer, f"живое сообщение {n}"))["id"])
        await asyncio.sleep(0.01)
    await importing
    for _ in range(200):
        stored = await database_messages(db, shop.channel_id)
        if {str(i) for i in live_ids} <= {m[1] for m in stored}:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await live
    await queue.shutdown()
    await assert_equals_source(db, vk, shop.channel_id)
    async with db.unit_of_work() as session:
        live_rows = (await session.execute(select(Message.id, Message.is_imported)
                                           .where(Message.external_id.in_([str(i) for i in live_ids])))).all()
    assert len(live_rows) == 30
    # imported history never goes to topics; only messages that arrived live were mirrored
    assert set(mirrored) <= {row.id for row in live_rows}
    assert len(mirrored) == len(set(mirrored)) and set(mirrored) == {r.id for r in live_rows if not r.is_imported}


async def test_revoked_token_pauses_with_a_clear_state_and_resumes_after_reconnect(db, vk, vk_settings, secrets, shop):
    seed(vk)
    vk.sandbox.revoke_token(vk.token)
    with pytest.raises(ImportStopped) as caught:
        await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert "VK отклонил токен" in str(caught.value)
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    run = await import_run(db, shop.channel_id)
    assert channel.status == ChannelStatus.REVOKED and run.status == ImportStatus.PAUSED and run.error
    new_token = vk.sandbox.add_community(GROUP, "Магазин «Тест»")
    async with db.unit_of_work() as session:
        same = await channel_service.add_channel(session, secrets, tenant_id=shop.tenant_id,
                                                 kind=channel.kind, external_id=str(GROUP), title="Магазин",
                                                 credentials=new_token)
    assert same == shop.channel_id
    report = await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert report.run_id == run.id and report.status == "done"  # the same import, resumed
    await assert_equals_source(db, vk, shop.channel_id)


@pytest.mark.parametrize("code", [14, 9, 29, 10])
async def test_captcha_and_flood_are_waited_out(db, secrets, settings, code):
    vk = await serve_vk(time_scale=400.0)  # VK's waits (seconds to minutes) pass in milliseconds
    try:
        seed(vk, conversations=120, messages=3)
        cfg = settings.model_copy(update={"time_scale": 400.0, "vk": settings.vk.model_copy(
            update={"vk_api_url": vk.api_url})})
        shop = await make_vk_channel(db, secrets, vk.token)
        vk.sandbox.inject_error("execute", code, times=3)
        report = await run_import(db, secrets, cfg, shop.channel_id, progress=False)
        assert report.status == "done" and vk.sandbox.stats["errors"][code] == 3
        await assert_equals_source(db, vk, shop.channel_id)
        async with db.unit_of_work() as session:
            channel = await session.get(ChannelAccount, shop.channel_id)
        assert channel.status == ChannelStatus.ACTIVE and channel.status_detail is None  # cleared once it passed
    finally:
        await vk.runner.cleanup()


async def test_a_captcha_that_stays_pauses_the_import_visibly(db, secrets, settings):
    vk = await serve_vk(time_scale=400.0)
    try:
        seed(vk, conversations=120, messages=3)
        cfg = settings.model_copy(update={"time_scale": 400.0, "vk": settings.vk.model_copy(
            update={"vk_api_url": vk.api_url})})
        shop = await make_vk_channel(db, secrets, vk.token)
        vk.sandbox.inject_error("execute", 14, times=1000)
        with pytest.raises(ImportStopped, match="капчу"):
            await run_import(db, secrets, cfg, shop.channel_id, progress=False)
        async with db.unit_of_work() as session:
            channel = await session.get(ChannelAccount, shop.channel_id)
        assert channel.status == ChannelStatus.CAPTCHA and "капчу" in channel.status_detail
        assert (await import_run(db, shop.channel_id)).status == ImportStatus.PAUSED
        vk.sandbox._inject.clear()
        report = await run_import(db, secrets, cfg, shop.channel_id, progress=False)
        assert report.status == "done"
        await assert_equals_source(db, vk, shop.channel_id)
    finally:
        await vk.runner.cleanup()


async def test_conversations_vk_refuses_alone_are_retried_and_the_rest_goes_on(db, vk, vk_settings, secrets, shop):
    seed(vk, conversations=200, messages=3)
    vk.sandbox.inject_error("messages.getHistory", 15, times=4)  # four conversations: access denied, once
    report = await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert report.status == "done" and report.failed_conversations == 0
    assert vk.sandbox.stats["errors"][15] == 4
    await assert_equals_source(db, vk, shop.channel_id)


async def test_a_conversation_that_keeps_failing_is_reported_not_lost_silently(db, vk, vk_settings, secrets, shop):
    seed(vk, conversations=30, messages=2)
    vk.sandbox.inject_error("messages.getHistory", 15, times=31)  # 30 in the pass, 1 in the retry
    report = await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert report.status == "done" and report.failed_conversations == 1
    assert len(report.errors) == 1 and "15" in report.errors[0]
    run = await import_run(db, shop.channel_id)
    assert "не загружен" in run.error
    stored = await database_messages(db, shop.channel_id)
    assert len(stored) == len(source_messages(vk.sandbox)) - 2  # one conversation of two messages missing


async def test_a_second_import_of_the_same_channel_is_refused_while_one_runs(db, vk, vk_settings, secrets, shop):
    seed(vk, conversations=2000, messages=2)
    first = asyncio.create_task(run_import(db, secrets, vk_settings, shop.channel_id, progress=False))

    async def first_running() -> bool:  # it holds the channel's import lock before it opens its checkpoint
        run = await _maybe_run(db, shop.channel_id)
        return run is not None and run.status == ImportStatus.RUNNING

    await wait_for(first_running, "the first import running")
    from core.errors import Conflict

    with pytest.raises(Conflict):
        await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    await first
    await assert_equals_source(db, vk, shop.channel_id)


async def test_user_account_history_imports_too(db, vk, vk_settings, secrets):
    account_id = 700_000_321
    token = vk.sandbox.add_user_token(account_id)
    vk.sandbox.seed(account_id, conversations=120, messages_per_conversation=5, seed=4, attachment_every=3)
    shop = await make_vk_channel(db, secrets, token, kind=ChannelKind.VK_USER, external_id=str(account_id))
    report = await run_import(db, secrets, vk_settings, shop.channel_id, progress=False)
    assert (report.status, report.conversations, report.messages) == ("done", 120, 600)
    box = vk.sandbox._account(account_id)
    expected = {(str(p), str(box.history_at(p, c)["id"]), "out" if box.history_at(p, c)["out"] else "in")
                for p in box.listing("all", 0, 10**6)[1] for c in range(box.history_len(p))}
    stored = {(chat, ext, direction) for chat, ext, direction, _, _ in await database_messages(db, shop.channel_id)}
    assert stored == expected
