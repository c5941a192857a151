"""The userbots as a component of `salesop run` (salesop/runner.py SERVICES "userbots").

install(ctx): the ChannelGateway (ctx.services["channel_gateway"]) the outbox dispatcher sends customer replies
through, the running Telegram accounts (ctx.services["telegram_accounts"]), and — when api_id/api_hash are set —
the Telegram login service the manager bot's /connect_telegram drives (ctx.services["telegram_login"]).

run(ctx, stop): realtime ingest for every live channel — VK communities over the Bots Long Poll, VK user accounts
by polling their conversation list, Telegram accounts through Telethon — started at once when a channel is added
(`salesop channel add` or /connect_telegram, in any process: the add's transaction NOTIFYs, the component LISTENs)
and rescanned every few seconds besides, so a channel starts without a restart, and a channel whose token was
revoked stops until a person reconnects it.

Which channels run here, and how, is their kind's adapter's business (userbots/channels): the supervisor runs the
kinds whose messages arrive over a session of their own (Ingest.SESSION) and asks the adapter for each channel's
worker; Telegram Business chats arrive as updates of the manager bot and run nothing here. A kind without an adapter
stops the start: a ChannelKind nobody registered (install), or a channel in the database of a kind this code does
not know (run).

Replicas: each channel runs in exactly one process at a time. The supervisor takes the channel's lease
(core.leases, "channel:<id>") before starting it, renews its leases every heartbeat, and stops a channel at once when
its lease is lost; a channel whose lease another replica holds is left to it, and taken over at a later look once
that holder stopped renewing (it died). The new holder catches up from the channel's stored update state (VK's ts,
Telegram's pts), and the start-gap logic fills from history what the state no longer covers.

A lease lost to a database outage (not renewed before it ran out by this process's own clock) is taken again by the
first scan that reaches the database once it is back, unless another replica took it meanwhile. Until then the loss
shows in the health (`leases`: "lost", with the channels) — /healthz is not ok — not only in a log line. A channel is
never started while the stop of its previous worker is still under way (two clients of one session), and a lease
lost while its channel was starting stops that channel as soon as it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text

from core.db import database_unreachable
from core.i18n import t
from core.leases import Fence, LeaseTimings, Leases, channel_lease, channel_of_lease
from core.media import MediaStore, UnsafeStorageKey, media_root
from core.models import ChannelAccount, ChannelStatus
from core.ports import DeliveryError
from core.services import channels as channel_service
from core.app import AppContext, announce

from .channels import ADAPTERS, Ingest, LiveHost
from .gateway import UserbotGateway
from .live import MediaDownloads

log = logging.getLogger(__name__)

RESCAN_SECONDS = 30.0  # at most: with leases the supervisor looks every LeaseTimings.poll (5 s, scaled), so a
# dead replica's channels are taken over in time
OUTAGE_FIRST_DELAY, OUTAGE_MAX_DELAY = 0.2, 5.0  # the scan tried again while PostgreSQL cannot be reached (seconds)


def _media_fetcher(ctx: AppContext):
    """Bytes of a media item a manager attached: a Telegram file id (downloaded through the manager bot) or a file
    in the media store (the media library)."""
    store = MediaStore(media_root(ctx.settings.data_dir))

    async def fetch(item: dict) -> bytes:
        if item.get("telegram_file_id"):
            bot = ctx.services.get("manager_bot")
            if bot is None:
                raise DeliveryError("the manager bot is not running: media cannot be fetched", retry_after=30.0,
                                    code="no_bot")
            return (await bot.download(item["telegram_file_id"])).getvalue()
        if item.get("storage_key"):
            try:
                return await store.read(item["storage_key"])
            except UnsafeStorageKey:
                raise DeliveryError("media path outside the media store", permanent=True, code="bad_media") from None
        raise DeliveryError("a media item without a file", permanent=True, code="bad_media")

    return fetch


def install(ctx: AppContext) -> None:
    from .telegram.client import TelegramAccounts

    ADAPTERS.check()  # every ChannelKind has an adapter, or nothing starts

    accounts = TelegramAccounts(ctx.db)
    gateway = UserbotGateway(ctx.db, ctx.secrets, ctx.settings, fetch_media=_media_fetcher(ctx), telegram=accounts)
    supervisor = UserbotSupervisor(ctx, accounts, gateway)
    ctx.services["channel_gateway"] = gateway
    ctx.services["telegram_accounts"] = accounts
    ctx.services["userbots"] = supervisor
    telegram = ctx.settings.telegram
    if telegram.telegram_api_id and telegram.telegram_api_hash is not None:
        from .telegram.login import TelegramLoginService, telethon_login_factory

        ctx.services["telegram_login"] = TelegramLoginService(
            ctx.db, ctx.secrets, telethon_login_factory(ctx.settings), on_connected=supervisor.channel_added)


async def run(ctx: AppContext, stop: asyncio.Event) -> None:
    await ctx.services["userbots"].run(stop)


class UserbotSupervisor:
    """One task per live channel; started, restarted after a crash, and stopped as channels come and go."""

    def __init__(self, ctx: AppContext, accounts, gateway: UserbotGateway, leases: Leases | None = None,
                 adapters=None):
        self.ctx = ctx
        self.leases = leases or Leases(ctx.db, LeaseTimings().scaled(ctx.settings.time_scale))
        self.adapters = adapters if adapters is not None else ADAPTERS
        self.accounts = accounts
        self.gateway = gateway
        self.running: dict[int, tuple[asyncio.Task, asyncio.Event]] = {}
        self.stopping: set[int] = set()  # channels whose worker is being stopped: not started again until it ended
        self.lost: set[int] = set()  # channels whose lease this process lost and has not taken again (health)
        self.kinds: dict[int, object] = {}  # the kind of each channel started here (its adapter forgets it)
        self.wake = asyncio.Event()
        self.listening = None  # the connection LISTENing for added channels (CHANNELS_NOTIFY)
        # what the adapters start workers with; media: customers' files of every channel, downloaded live into the
        # store the manager bot posts them from
        self.host = LiveHost(ctx.db, ctx.queue, ctx.settings, ctx.secrets,
                             MediaDownloads(MediaStore(media_root(ctx.settings.data_dir))), accounts,
                             leases=self.leases, fenced_out=self.fenced_out)

    @property
    def health(self) -> dict:
        return self.ctx.services.setdefault("health", {})

    @staticmethod
    def _database_down(exc: BaseException) -> bool:
        return database_unreachable(exc)

    async def channel_added(self, channel_id: int) -> None:
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:

        await self.check_stored_kinds()
        heartbeats = asyncio.create_task(self._heartbeats(stop), name="userbot-leases")
        try:
            first = True
            outage = 0  # scans in a row that could not reach the database
            while not stop.is_set():
                self.wake.clear()  # before the scan: a channel added while it runs wakes the next one
                try:
                    await self._listen()
                    started = await self.sync()
                except Exception as exc:
                    if not self._database_down(exc):
                        raise
                    # A PostgreSQL restart: the running channels keep going (their own writes retry), and the scan
                    # is tried again with backoff instead of ending the component and every channel with it.
                    outage += 1
                    delay = min(OUTAGE_MAX_DELAY, OUTAGE_FIRST_DELAY * 2 ** (outage - 1))
                    self.health["userbots"] = {"state": "waiting", "call": "database", "tries": outage,
                                               "error": type(exc).__name__}
                    log.warning("userbots: the database cannot be reached (%s); scanning channels again in %.2g s "
                                "(try %d)", type(exc).__name__, delay, outage)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    continue
                if outage:
                    log.warning("userbots: the database answers again after %d failed scans", outage)
                    outage = 0
                self.health["userbots"] = {"state": "ok"}
                if first:
                    language = self.ctx.settings.language
                    kinds = ", ".join(f"{n} {k}" for k, n in started.items()) or t("cli.run.no_channels", language)
                    announce("userbots", t("cli.run.userbots", language, kinds=kinds))
                    first = False
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
                await asyncio.wait(waiters, timeout=min(RESCAN_SECONDS, self.leases.timings.poll,
                                                        self.leases.timings.heartbeat),
                                   return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            heartbeats.cancel()
            await asyncio.gather(heartbeats, return_exceptions=True)
            await self._unlisten()
            await self.stop_all()
            await self.leases.release_all()  # another replica takes them over at its next look
            await self.gateway.close()

    async def check_stored_kinds(self) -> None:
        """A channel in the database whose kind this code has no adapter for (written by a newer version, or a kind
        whose module was removed) is a start-up error, not a channel that silently never runs."""
        async with self.ctx.db.unit_of_work() as session:
            stored = (await session.execute(text("SELECT DISTINCT kind FROM channel_accounts"))).scalars().all()
        self.adapters.check(stored)

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        """Renew the leases every heartbeat, in a task of its own (a slow scan or stop must not let them expire); a
        channel whose lease was lost stops at once."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.leases.timings.heartbeat)
                return
            except TimeoutError:
                pass
            try:
                lost = await self.leases.renew()
            except Exception as exc:
                if not self._database_down(exc):
                    raise
                # Not renewed this time: if the outage outlasts the lease another replica may take a channel over,
                # and the next renewal after it reports that lease lost, which stops the channel here.
                log.warning("userbots: leases not renewed, the database cannot be reached (%s)", type(exc).__name__)
                continue
            for name in lost:
                channel_id = channel_of_lease(name)
                self.lost.add(channel_id)
                self._show_leases()
                if channel_id in self.running:
                    log.warning("channel %s: lease lost, stopping it here", channel_id)
                    await self._stop(channel_id, at_once=True)
                    self.wake.set()  # the scan looks again (and leaves the channel to its new holder)

    def fenced_out(self, fence: Fence) -> None:
        """A worker's write was refused under `fence`: the database says the lease is no longer this process's,
        maybe before a renewal found out. Shown at once; the next heartbeat stops the channel (a refusal under an
        older lease of a channel taken again since is no loss)."""
        if self.leases.fence(fence.name) != fence:
            return
        self.lost.add(channel_of_lease(fence.name))
        self._show_leases()

    def _show_leases(self) -> None:
        """Leases lost and not taken again are a failure a person must see: the channel may run nowhere."""
        if self.lost:
            self.health["leases"] = {"state": "lost", "channels": sorted(self.lost)}
        else:
            self.health["leases"] = {"state": "ok"}

    async def _listen(self) -> None:
        """LISTEN for added channels on a connection of our own, (re)opened whenever it is gone (a database
        restart); without it the rescan still finds every channel, only later."""
        if self.listening is not None:
            raw = await self._raw(self.listening)
            if raw is not None and not raw.is_closed():
                return
            await self._unlisten()
        try:
            connection = await self.ctx.db.engine.connect()
        except Exception:
            log.warning("no LISTEN on %s: channels start at the next rescan", channel_service.CHANNELS_NOTIFY,
                        exc_info=True)
            return
        try:
            raw = await self._raw(connection)
            await raw.add_listener(channel_service.CHANNELS_NOTIFY, self._notified)
        except Exception:
            log.warning("no LISTEN on %s: channels start at the next rescan", channel_service.CHANNELS_NOTIFY,
                        exc_info=True)
            with contextlib.suppress(Exception):
                await connection.close()
            return
        self.listening = connection  # anything added before this LISTEN is found by the scan that follows

    def _notified(self, *_) -> None:
        self.wake.set()

    @staticmethod
    async def _raw(connection):
        with contextlib.suppress(Exception):
            return (await connection.get_raw_connection()).driver_connection
        return None

    async def _unlisten(self) -> None:
        connection, self.listening = self.listening, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the pooled connection must not keep listening
                raw = await self._raw(connection)
                if raw is not None and not raw.is_closed():
                    await raw.remove_listener(channel_service.CHANNELS_NOTIFY, self._notified)
            with contextlib.suppress(Exception):
                await connection.close()

    async def sync(self) -> dict[str, int]:
        """Start what should run and does not, stop what runs and should not. Returns counts by kind started."""
        for channel_id in [c for c, (task, _) in self.running.items() if task.done()]:
            task, _ = self.running.pop(channel_id)
            if not task.cancelled() and task.exception() is not None:
                log.error("channel %s stopped with an error; restarting", channel_id, exc_info=task.exception())
            self._forget(channel_id)  # (its lease is kept: the restart below is this same holder)
        async with self.ctx.db.unit_of_work() as session:
            channels = await channel_service.live_channels(session, self.adapters.kinds(ingest=Ingest.SESSION))
        wanted = {c.id for c in channels}
        for channel_id in [c for c in self.running if c not in wanted]:
            await self._stop(channel_id)
        for name in [n for n in self.leases.held if channel_of_lease(n) not in wanted]:
            await self.leases.release(name)
        self.lost &= wanted  # a channel removed or stopped on purpose is not missing
        started: dict[str, int] = {}
        for channel in channels:
            if channel.id in self.running or channel.id in self.stopping:
                continue  # (one being stopped is started again by a later scan, once its worker ended)
            if await self.leases.acquire(channel_lease(channel.id)) is None:
                self.lost.discard(channel.id)  # another replica holds it: the channel runs there
                continue
            self.lost.discard(channel.id)
            try:
                async with self.ctx.db.unit_of_work() as session:  # its update state as the last holder left it
                    channel = await channel_service.get_channel(session, channel.id)
                if await self._start(channel):
                    started[channel.kind.value] = started.get(channel.kind.value, 0) + 1
                    if not self.leases.holds(channel_lease(channel.id)):
                        # lost while it started (the heartbeat found it gone before it was running): it must not
                        # run without its lease — another replica may be starting it
                        log.warning("channel %s: lease lost while starting, stopping it here", channel.id)
                        await self._stop(channel.id, at_once=True)
                        self.lost.add(channel.id)
                else:
                    await self.leases.release(channel_lease(channel.id))
            except Exception as exc:  # one broken channel (undecryptable token…) must not stop the others
                log.exception("channel %s cannot start", channel.id)
                await self.leases.release(channel_lease(channel.id))
                async with self.ctx.db.unit_of_work() as session:
                    await channel_service.set_status(session, channel.id, ChannelStatus.ERROR, str(exc)[:500])
        self._show_leases()
        return started

    async def _start(self, channel: ChannelAccount) -> bool:
        worker = await self.adapters.get(channel.kind).live(self.host, channel)
        if worker is None:
            return False  # it cannot run now; its status says why
        self.kinds[channel.id] = channel.kind
        channel_stop = asyncio.Event()
        task = asyncio.create_task(worker.run(channel_stop), name=f"userbot-{channel.id}")
        self.running[channel.id] = (task, channel_stop)
        return True

    def _forget(self, channel_id: int) -> None:
        kind = self.kinds.get(channel_id)
        if kind is not None:
            self.adapters.get(kind).forget(self.host, channel_id)

    async def _stop(self, channel_id: int, *, at_once: bool = False) -> None:
        """Stop a channel and give its lease back. `at_once`: the lease is lost — another replica may be starting the
        channel now, so nothing more may be read or sent here: the task is cancelled, not asked to finish."""
        task, channel_stop = self.running.pop(channel_id)
        channel_stop.set()
        self.stopping.add(channel_id)
        try:
            if at_once:
                self._forget(channel_id)  # no more sends through this process's client
                task.cancel()
                await asyncio.wait([task], timeout=30)
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 30)
            self._forget(channel_id)
            self.kinds.pop(channel_id, None)
        finally:
            self.stopping.discard(channel_id)
            self.wake.set()  # a scan waiting to start it again looks now
        if not at_once:
            await self.leases.release(channel_lease(channel_id))

    async def stop_all(self) -> None:
        """Stop every channel, even when the database is gone (their leases then run out by themselves): each one is
        told to stop first, so a failure midway leaves none running — a channel left running would keep the ending
        process alive for ever."""
        for _, channel_stop in self.running.values():
            channel_stop.set()
        for channel_id in list(self.running):
            try:
                await self._stop(channel_id)
            except Exception:
                log.warning("channel %s: its lease was not given back", channel_id, exc_info=True)
