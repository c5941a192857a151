"""A topic post is sent once and recorded for sure: the record of a call that happened is retried through a database
outage (never the call), a command marked "about to send" that its process left in flight is known to be possibly
sent (counted, sent again: nothing lost), and a live process's commands are never taken by another one.

The database outage is real: the dispatcher reaches PostgreSQL through a TCP relay the test cuts (every connection
closed, new ones refused) right after the Bot API answered. The process death is the executing task ending with a
BaseException between the call and its record, as SIGKILL would leave the rows."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from core import outbox
from core.db import Database
from core.dispatcher import Dispatcher, running
from core.models import CommandState, Event, OutboxCommand, TopicMessage
from core.services import readiness

from bot.handlers.private import status_lines
from tests.waiting import wait_for

from .desk import Desk

MIRROR = "mirror_message"


class ProcessDied(BaseException):
    """What the executing task sees of a SIGKILL: nothing after this point runs (no except Exception catches it)."""


class Relay:
    """A TCP relay to PostgreSQL's socket that can be cut like a network failure or a server going away."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.cut_off = False
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pump(src, dst):
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()


async def relay_to(db_url: str) -> tuple[Relay, str]:
    """A started relay to the database of `db_url` (postgresql://user@/<db>?host=<socket dir>&port=<port>), and
    the URL that reaches the database through it."""
    url = make_url(db_url)
    relay = Relay(f"{url.query['host']}/.s.PGSQL.{url.query['port']}")
    port = await relay.start()
    return relay, f"postgresql://{url.username}@127.0.0.1:{port}/{url.database}"


class Surface:
    """The real manager surface (the Bot API stand-in answers), with something happening around the post of one
    customer message (`text`)."""

    def __init__(self, real, text: str, *, after=None, before=None, times: int = 1):
        self.real, self.text, self.after, self.before, self.times = real, text, after, before, times
        self.mirror_calls = 0

    async def execute(self, kind: str, payload: dict):
        ours = kind == "post" and self.text in repr(payload)
        if ours and self.times > 0 and self.before is not None:
            self.times -= 1
            await self.before()
        delivery = await self.real.execute(kind, payload)
        if ours:
            self.mirror_calls += 1
            if self.times > 0 and self.after is not None:
                self.times -= 1
                await self.after()
        return delivery

    def __getattr__(self, name):
        return getattr(self.real, name)


def _posts(desk: Desk, thread_id: int, text: str) -> int:
    return sum(1 for m in desk.thread(thread_id) if text in (m.get("text") or ""))


async def _mirror_commands(desk: Desk, text_of_message_id: int | None = None) -> list[OutboxCommand]:
    async with desk.db.unit_of_work() as session:
        query = select(OutboxCommand).where(OutboxCommand.kind == MIRROR)
        if text_of_message_id is not None:
            query = query.where(OutboxCommand.payload["message_id"].as_integer() == text_of_message_id)
        return list((await session.execute(query.order_by(OutboxCommand.id))).scalars())


async def _first_topic(desk: Desk, anna: dict) -> int:
    first = await desk.customer_writes(anna, "Привет")
    await desk.settle()
    return (await desk.topic(first.dialog_id)).thread_id


async def test_the_record_of_a_sent_post_is_retried_through_a_database_outage_never_the_post(desk: Desk):
    anna = desk.customer()
    thread_id = await _first_topic(desk, anna)
    relay, relayed = await relay_to(desk.db.url)
    dispatcher: Dispatcher = desk.outbox
    direct = dispatcher.db
    dispatcher.db = Database(relayed, pool_size=4)

    async def database_gone():
        relay.cut()  # the Bot API answered; now PostgreSQL is unreachable for the dispatcher

        async def back_after_failed_records():
            await wait_for(lambda: dispatcher.stats.record_retries >= 3, "records tried in vain", timeout=60)
            relay.restore()

        asyncio.create_task(back_after_failed_records())

    surface = Surface(desk.ctx.services["manager_surface"], "Когда доставка?", after=database_gone)
    desk.ctx.services["manager_surface"] = surface
    try:
        received = await desk.customer_writes(anna, "Когда доставка?")
        async with running(dispatcher):
            async def recorded():
                commands = await _mirror_commands(desk, received.message_id)
                return commands and all(c.state == CommandState.DONE for c in commands)

            await wait_for(recorded, "the post recorded once the database is back", timeout=60)
    finally:
        await relay.close()
        await dispatcher.db.dispose()
        dispatcher.db = direct
    assert dispatcher.stats.record_retries >= 3
    assert surface.mirror_calls == 1  # the call was made once, whatever happened to its record
    assert _posts(desk, thread_id, "Когда доставка?") == 1
    [command] = await _mirror_commands(desk, received.message_id)
    assert command.attempts == 1 and command.unconfirmed_sends == 0
    assert command.result["external_id"] is not None


async def test_a_post_its_process_died_sending_is_counted_and_sent_again(desk: Desk):
    anna = desk.customer()
    thread_id = await _first_topic(desk, anna)
    dispatcher: Dispatcher = desk.outbox

    async def die():
        raise ProcessDied()

    real = desk.ctx.services["manager_surface"]
    # 1. Claimed, then killed before its call was prepared (no "about to send" mark): nothing can have arrived.
    early = await desk.customer_writes(anna, "Есть размер M?")
    async with desk.db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).where(OutboxCommand.state == CommandState.QUEUED).values(
            state=CommandState.IN_FLIGHT, attempts=1))
    await _expire(desk, dispatcher)
    assert await dispatcher.recover_leases() == []  # taken again, not counted
    await desk.settle()
    assert _posts(desk, thread_id, "Есть размер M?") == 1
    [command] = await _mirror_commands(desk, early.message_id)
    assert command.state == CommandState.DONE and command.unconfirmed_sends == 0

    # 2. Killed between the call and its record: the post may have arrived (it did); sent again and counted.
    surface = Surface(real, "А L?", after=die)
    desk.ctx.services["manager_surface"] = surface
    late = await desk.customer_writes(anna, "А L?")
    await _until_left_in_flight(desk, dispatcher, late.message_id)
    assert surface.mirror_calls == 1 and _posts(desk, thread_id, "А L?") == 1
    desk.ctx.services["manager_surface"] = real
    await _expire(desk, dispatcher)
    [command] = await _mirror_commands(desk, late.message_id)
    assert await dispatcher.recover_leases() == [command.id]
    await desk.settle()
    [command] = await _mirror_commands(desk, late.message_id)
    assert command.state == CommandState.DONE and command.attempts == 2
    assert command.unconfirmed_sends == 1 and command.last_error.startswith("lease expired")
    # The Bot API takes no idempotency key: the post shows twice, and the duplicate is counted, not silent.
    assert _posts(desk, thread_id, "А L?") == 2
    async with desk.db.unit_of_work() as session:
        events = (await session.execute(select(func.count(Event.id)).where(
            Event.kind == "command_unconfirmed", Event.command_id == command.id))).scalar_one()
        counted = (await session.execute(select(func.sum(OutboxCommand.unconfirmed_sends)))).scalar_one()
    assert events == 1 and counted == 1  # the death before the call is not counted
    # /status shows the count, in the owner's language
    async with desk.db.unit_of_work() as session:
        state = await readiness.check(session, desk.tenant_id, readiness.Platform(), now=datetime.now(UTC))
    assert state.unconfirmed_sends == 1
    assert any("1 message was sent again in the last day" in line for line in status_lines(state, "en"))
    assert any("1 сообщение отправлено повторно" in line for line in status_lines(state, "ru"))


async def _until_left_in_flight(desk: Desk, dispatcher: Dispatcher, message_id: int) -> None:
    """Claim rounds until the mirror command of this message is left in flight by its dead executor."""
    async def left():
        await dispatcher._cycle()
        await dispatcher._finish()
        commands = await _mirror_commands(desk, message_id)
        return commands and all(c.state == CommandState.IN_FLIGHT and c.sending_since is not None
                                and c.id not in dispatcher._executing for c in commands)

    await wait_for(left, "the command left in flight", timeout=30)


async def _expire(desk: Desk, dispatcher: Dispatcher) -> None:
    """As if a whole lease passed since the dead process last renewed its commands."""
    async with desk.db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).where(OutboxCommand.state == CommandState.IN_FLIGHT).values(
            updated_at=func.now() - 2 * dispatcher.lease))


async def test_a_live_process_keeps_its_lease_through_a_slow_call(desk: Desk):
    anna = desk.customer()
    thread_id = await _first_topic(desk, anna)
    holder: Dispatcher = desk.outbox
    holder.lease = timedelta(seconds=0.4)  # short leases so that several run out during the slow call
    other = Dispatcher(Database(desk.db.url, pool_size=2), limiter=holder.limiter, executor=holder.executor,
                       surface=holder.surface, gateway=holder.gateway, clock=holder.clock)
    other.lease = holder.lease
    release = asyncio.Event()
    surface = Surface(desk.ctx.services["manager_surface"], "Подождёте?", before=release.wait)
    desk.ctx.services["manager_surface"] = surface
    try:
        received = await desk.customer_writes(anna, "Подождёте?")
        async with running(holder):
            async def sending():
                commands = await _mirror_commands(desk, received.message_id)
                return commands and commands[0].sending_since is not None and commands[0]

            command = await wait_for(sending, "the post on its way", timeout=30)
            started = command.sending_since

            async def renewed_past_leases():
                [c] = await _mirror_commands(desk, received.message_id)
                return c.updated_at - started > 3 * holder.lease

            # The call hangs for more than three leases: the holder's heartbeat renews it meanwhile.
            await wait_for(renewed_past_leases, "the lease renewed by its holder", timeout=30)
            assert await other.recover_leases() == []  # nothing of a live process is taken
            [c] = await _mirror_commands(desk, received.message_id)
            assert c.state == CommandState.IN_FLIGHT
            release.set()

            async def done():
                [c] = await _mirror_commands(desk, received.message_id)
                return c.state == CommandState.DONE

            await wait_for(done, "the slow post recorded", timeout=30)
    finally:
        release.set()
        await other.db.dispose()
    [c] = await _mirror_commands(desk, received.message_id)
    assert c.attempts == 1 and c.unconfirmed_sends == 0
    assert _posts(desk, thread_id, "Подождёте?") == 1


async def test_after_a_database_outage_nobody_takes_commands_before_a_lease_of_its_own_health(desk: Desk):
    """Every lease looks expired when PostgreSQL comes back; the holders renew theirs within a quarter lease, so a
    process takes others' commands only after it has itself seen the database healthy for a whole lease."""
    dispatcher: Dispatcher = desk.outbox
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Привет")
    async with desk.db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).values(
            state=CommandState.IN_FLIGHT, attempts=1, updated_at=func.now() - 10 * outbox.LEASE))
    dispatcher._healthy_since = None  # a cycle just failed: the database was gone
    await dispatcher._cycle()  # the first cycle that reaches it again
    assert {c.state for c in await _mirror_commands(desk)} == {CommandState.IN_FLIGHT}
    dispatcher._healthy_since -= dispatcher.lease.total_seconds()  # a lease of health later
    dispatcher._last_lease_check = 0.0
    await dispatcher._cycle()
    await desk.settle()
    assert {c.state for c in await _mirror_commands(desk)} == {CommandState.DONE}
    assert (await desk.topic(received.dialog_id)).thread_id is not None


async def test_a_post_whose_answer_was_kept_is_recorded_by_the_recoverer_not_sent_again(desk: Desk):
    """The process died after the Bot API answered and the answer was kept (one statement), before the bookkeeping:
    whoever recovers the command records it from the kept answer — the post shows once, nothing is counted."""
    anna = desk.customer()
    thread_id = await _first_topic(desk, anna)
    dispatcher: Dispatcher = desk.outbox
    real_complete = dispatcher._complete
    died = []

    async def die_before_bookkeeping(batch, delivery, **kw):
        if not kw.get("skipped") and not died:
            died.append(batch.ids)
            raise ProcessDied()
        await real_complete(batch, delivery, **kw)

    dispatcher._complete = die_before_bookkeeping
    try:
        received = await desk.customer_writes(anna, "Сколько ждать?")
        await _until_left_in_flight_answered(desk, dispatcher, received.message_id)
    finally:
        del dispatcher._complete  # the class's own again
    [command] = await _mirror_commands(desk, received.message_id)
    assert command.sending_since is None and command.result["delivered"] is True
    assert _posts(desk, thread_id, "Сколько ждать?") == 1
    await _expire(desk, dispatcher)
    assert await dispatcher.recover_leases() == []  # nothing sent again, nothing counted
    await desk.settle()
    [command] = await _mirror_commands(desk, received.message_id)
    assert command.state == CommandState.DONE and command.attempts == 1 and command.unconfirmed_sends == 0
    assert "delivered" not in command.result and command.result["external_id"]
    assert _posts(desk, thread_id, "Сколько ждать?") == 1
    # the bookkeeping was done by the recoverer: the post is known as this message's mirror
    async with desk.db.unit_of_work() as session:
        mapped = (await session.execute(select(TopicMessage.telegram_message_id).where(
            TopicMessage.message_id == received.message_id))).scalars().all()
    assert [str(i) for i in mapped] == [command.result["external_id"]]


async def _until_left_in_flight_answered(desk: Desk, dispatcher: Dispatcher, message_id: int) -> None:
    async def left():
        await dispatcher._cycle()
        await dispatcher._finish()
        commands = await _mirror_commands(desk, message_id)
        return commands and all(c.state == CommandState.IN_FLIGHT and (c.result or {}).get("delivered")
                                and c.id not in dispatcher._executing for c in commands)

    await wait_for(left, "the command left in flight with its answer kept", timeout=30)
