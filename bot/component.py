"""The manager bot as a component of `salesop run` (salesop/runner.py): the outbox dispatcher, the task handlers that
turn inbox events and AI drafts into topic posts, and the bot itself (long polling, or a webhook on aiohttp with
the secret token header when SALESOP_WEBHOOK_URL is set)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.types import User
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiohttp import web

from core import inbox
from core.db import Database, database_unreachable
from core.errors import Conflict
from core.dispatcher import Dispatcher as OutboxDispatcher
from core.dispatcher import notify
from core.i18n import t
from core.ratelimit import build_rate_limiter
from core.services.workspace import cards, mirror
from core import commands
from core.ai.lead_commands import LEAD_KINDS
from core.commands import CommandKinds
from core.services import quick_replies, reports, voice
from core.services.workspace.commands import WorkspaceCommands
from core.services.workspace.kinds import workspace_kinds
from core.tasks import InTransaction
from core.app import AppContext, announce

from .commands import start_up
from .handlers.reports import ReportSurface
from .handlers.voice import task_handlers as voice_tasks
from .runtime import BotRuntime
from .setup import build_dispatcher
from .surface import make_bot

log = logging.getLogger(__name__)

POST_SUGGESTION_CARD = "post_suggestion_card"  # enqueued by the AI pipeline with {"suggestion_id"}
WEBHOOK_PATH = "/telegram/webhook"


DISPATCHER_POOL = 4  # connections of the dispatcher's own pool
# getMe at start-up, tried again while the Bot API answers 5xx or cannot be reached (seconds at time scale 1; aiogram's
# own backoff, as its polling uses for getUpdates).
GET_ME_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.6, jitter=0.1)


def command_kinds(media_root) -> CommandKinds:
    """Every outbox command kind, registered here explicitly: the workspace's, then each other area's from its own
    module. Installed as the registry queued commands are checked against (core.commands.check_payload)."""
    kinds = CommandKinds(
        *workspace_kinds(media_root),  # topics, cards, mirror posts, notices… and sends to customers
        voice.VoicePost(media_root),  # the shop's voice: previews, offers, transcripts in a topic
        voice.VoiceDone(media_root),  # …and an offer or preview dealt with, edited to say so
        quick_replies.QuickReplyPost(media_root),  # quick replies' previews in a topic
        *(kind(media_root) for kind in LEAD_KINDS),  # the AI's leads: waiting for approval, their cards
        reports.ReportCommand(),  # status reports in chats
    )
    commands.install(kinds)
    return kinds


def outbox_executor(media_root) -> WorkspaceCommands:
    return WorkspaceCommands(command_kinds(media_root), media_root=media_root)


def build_outbox_dispatcher(ctx: AppContext) -> OutboxDispatcher:
    settings = ctx.settings
    # Its own small pool: keeping the budget saturated must not wait behind a burst of inbound work for a connection.
    return OutboxDispatcher(
        Database(ctx.db.url, pool_size=DISPATCHER_POOL),
        limiter=build_rate_limiter(settings.redis.redis_url, settings.time_scale),
        executor=outbox_executor(settings.data_dir / "media"),
        clock=ctx.clock,
        # Looked up per call: the bot installs its surface, userbots/ its gateway, possibly after this is built.
        surface=lambda: ctx.services.get("manager_surface"),
        gateway=lambda: ctx.services.get("channel_gateway"),
        time_scale=settings.time_scale,  # the in-flight lease shrinks with every other emulated delay
    )


async def mirror_messages(session, payloads: list[dict]) -> None:
    """Several MIRROR_MESSAGE follow-ups in one transaction: core.services.workspace.mirror.mirror_many locks their
    dialogs in ascending id (core.db's lock order for several dialogs) and queues the posts each task would."""
    await mirror.mirror_many(session, [p["message_id"] for p in payloads])


def task_handlers(ctx: AppContext, wake) -> dict:
    """Task name → handler. Each task is one unit of work, run again as a whole after a deadlock or serialization
    failure (core.db.retry_transaction); the dispatcher is woken for the commands it queued. Run by a durable queue,
    the follow-up's row ends in that same transaction, and tasks of a kind that arrive together share one
    (core.tasks.InTransaction)."""

    async def notify_dispatchers(session):
        await notify(session)  # a dispatcher in another process wakes at commit

    def unit(work, batch=None):
        return InTransaction(ctx.db, work, batch=batch, before_commit=notify_dispatchers, after=wake)

    return {
        inbox.MIRROR_MESSAGE: unit(lambda s, message_id: mirror.mirror_many(s, [message_id]), batch=mirror_messages),
        inbox.MIRROR_EDIT: unit(lambda s, message_id: mirror.mirror_change(s, message_id)),
        inbox.REFRESH_CARDS: unit(lambda s, suggestion_ids: cards.refresh_cards(s, suggestion_ids)),
        POST_SUGGESTION_CARD: unit(lambda s, suggestion_id: cards.post_suggestion_card(s, suggestion_id)),
        **voice_tasks(ctx, wake),  # the shop's voice (previews) and customers' voice messages (transcripts)
    }


def install(ctx: AppContext) -> None:
    dispatcher = build_outbox_dispatcher(ctx)
    ctx.services["outbox_dispatcher"] = dispatcher
    ctx.services["task_queue"] = ctx.queue  # Telegram Business messages ask for AI drafts from the bot's handlers
    for name, handler in task_handlers(ctx, dispatcher.wake).items():
        ctx.queue.register(name, handler)
    if ctx.settings.telegram.bot_token is not None:
        _install_bot(ctx)


def fsm_storage(redis_url: str | None):
    """Conversation state of the bot's prompts: Redis when configured (shared by replicas, kept across restarts)."""
    if not redis_url:
        return None
    from aiogram.fsm.storage.redis import RedisStorage

    return RedisStorage.from_url(redis_url)


def _install_bot(ctx: AppContext) -> None:
    settings = ctx.settings
    bot = make_bot(settings)
    ctx.services["manager_bot"] = bot
    ctx.services["manager_surface"] = ReportSurface(  # TelegramManagerSurface that also posts status reports
        bot, time_scale=settings.time_scale, webapp_url=settings.webapp.webapp_url,
        miniapp_short_name=settings.webapp.miniapp_short_name,
    )


async def run(ctx: AppContext, stop: asyncio.Event) -> None:
    dispatcher: OutboxDispatcher = ctx.services["outbox_dispatcher"]
    if "manager_bot" not in ctx.services and ctx.settings.telegram.bot_token is not None:
        _install_bot(ctx)  # a component installed after us (the sandbox demo) may have provided the token
    async with ctx.db.unit_of_work() as session:
        # Open commands of a kind nobody registered (an upgrade dropped it), or channels of a kind with no definition,
        # are a start-up error, not failures later.
        await dispatcher.check(session)
    loop_task = asyncio.create_task(dispatcher.run(stop), name="outbox-dispatcher")
    bot: Bot | None = ctx.services.get("manager_bot")
    try:
        if bot is None:
            announce("bot", t("cli.run.bot_off", ctx.settings.language))
            await stop.wait()
            return
        me = await who_am_i(bot, stop, time_scale=ctx.settings.time_scale, language=ctx.settings.language,
                            health=ctx.services.setdefault("health", {}))
        if me is None:
            return  # stopped while the Bot API was still down
        runtime = BotRuntime(db=ctx.db, bot_id=me.id, bot_username=me.username, wake_dispatcher=dispatcher.wake)
        await start_up(bot, runtime, ctx.settings)  # command menus; the runtime learns the Mini App URL and AI setup
        dp = build_dispatcher(runtime, ctx.services, storage=fsm_storage(ctx.settings.redis.redis_url))
        if ctx.settings.telegram.webhook_url:
            await _run_webhook(ctx, bot, dp, stop)
        else:
            await _run_polling(bot, dp, stop, f"@{me.username}", ctx.settings.language,
                               time_scale=ctx.settings.time_scale, health=ctx.services["health"])
    finally:
        if not stop.is_set():
            # The bot failed (e.g. getMe did not answer): the process is stopping because of it, and the
            # dispatcher loop, which waits for `stop`, must not keep this component from ending.
            loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task
        await dispatcher.db.dispose()
        if bot is not None:
            await bot.session.close()


def _scaled(config: BackoffConfig, time_scale: float) -> BackoffConfig:
    scale = time_scale if time_scale and time_scale > 0 else 1.0
    return BackoffConfig(min_delay=config.min_delay / scale, max_delay=config.max_delay / scale,
                         factor=config.factor, jitter=config.jitter / scale)


async def who_am_i(bot: Bot, stop: asyncio.Event, *, time_scale: float = 1.0, language: str = "en",
                   health: dict | None = None) -> User | None:
    """getMe, waited for through a Bot API storm (answered_in_time). None when `stop` was set while waiting."""
    return await answered_in_time(bot.get_me, "getMe", stop, time_scale=time_scale, language=language,
                                  health=health)


async def answered_in_time(call, what: str, stop: asyncio.Event, *, time_scale: float = 1.0, language: str = "en",
                           health: dict | None = None):
    """A start-up call of the Bot API (getMe, deleteWebhook, setWebhook), tried again with backoff while the Bot API
    answers 5xx, 429 or cannot be reached: a storm at start-up is waited out instead of ending the process (and
    crash-looping through its restarts). Each failed try is a WARNING; the first one is also the component's status
    line, and health["bot"] says what it waits for until the call is answered. A refused token (401) or any other
    error still ends the component at once. Its result, or None when `stop` was set while waiting."""
    health = {} if health is None else health
    backoff = Backoff(_scaled(GET_ME_BACKOFF, time_scale))
    tries = 0
    while True:
        try:
            result = await call()
        except TelegramRetryAfter as error:
            why, delay = f"429 retry after {error.retry_after}", error.retry_after / max(time_scale, 1e-9)
        except TelegramServerError as error:
            why, delay = error.message, max(0.0, next(backoff))
        except TelegramNetworkError as error:
            why, delay = error.message, max(0.0, next(backoff))
        else:
            if tries:
                log.warning("bot: %s answered after %d failed tries", what, tries)
            health["bot"] = {"state": "ok"}
            return result
        tries += 1
        health["bot"] = {"state": "waiting", "call": what, "tries": tries, "error": why}
        log.warning("bot: %s failed (%s): trying again in %.3g s (try %d)", what, why, delay, tries)
        if tries == 1:
            announce("bot", t("cli.run.bot_waiting", language, call=what, error=why))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return None


async def _run_polling(bot: Bot, dp, stop: asyncio.Event, name: str, language: str, *, time_scale: float = 1.0,
                       health: dict | None = None) -> None:
    """Long polling that confirms an update to Telegram only after its unit of work committed.

    With aiogram's default handle_as_tasks=True each update is handled in a task of its own while the loop asks for
    the next ones — and that getUpdates call, carrying offset = update_id + 1, confirms the update whose handler is
    still running: a crash then loses it for good. With handle_as_tasks=False aiogram awaits each update's handling
    (the whole middleware chain, commit included) before it moves the offset past it and calls getUpdates again, so
    an update is confirmed only once handled; a process killed mid-transaction gets it again after a restart, and
    the processed-update record (bot.middlewares.claim_update) makes an update handled twice act once. Updates are
    then handled one at a time, in the order Telegram sent them. Stopping cancels a handler still running: its
    transaction rolls back and its update, not confirmed, comes again at the next start."""
    if await answered_in_time(lambda: bot.delete_webhook(drop_pending_updates=False), "deleteWebhook", stop,
                              time_scale=time_scale, language=language, health=health) is None:
        return  # stopped while the Bot API was still down
    dp.feed_update = feed_until_the_database_answers(dp.feed_update)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False,
                                                   handle_as_tasks=False,
                                                   allowed_updates=dp.resolve_used_update_types()))
    announce("bot", t("cli.run.bot_polling", language, name=name))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([polling, waiter], return_when=asyncio.FIRST_COMPLETED)
    if not polling.done():
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
    waiter.cancel()
    await polling


# An update whose unit of work met a database that cannot be reached is handled again, with this backoff (real
# seconds: a PostgreSQL restart takes the time it takes), before polling moves past it.
DATABASE_BACKOFF = BackoffConfig(min_delay=0.2, max_delay=5.0, factor=1.6, jitter=0.05)


def feed_until_the_database_answers(feed):
    """aiogram's feed_update for long polling, handling an update again while the database cannot be reached.

    aiogram logs an update whose handling raised and moves past it, and the next getUpdates confirms it to Telegram:
    during a PostgreSQL restart a manager's reply was dropped that way, unstored, untold (bot.middlewares could not
    tell anyone either: the database was gone). Held here, the update is not confirmed until its unit of work
    committed — the polling waits, as it waits for any update being handled; stopping cancels the wait and the
    update comes again at the next start. Errors the update itself caused still end its handling as before."""
    async def feed_update(bot, update, **kwargs):
        backoff = Backoff(DATABASE_BACKOFF)
        while True:
            try:
                return await feed(bot, update, **kwargs)
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                delay = max(0.0, next(backoff))
                log.warning("update %s: the database cannot be reached (%s); handled again in %.2g s, not confirmed "
                            "until then (try %d)", update.update_id, type(exc).__name__, delay, backoff.counter)
                await asyncio.sleep(delay)

    return feed_update


def webhook_path(webhook_url: str) -> str:
    """The local route: the path of the public URL Telegram posts to (a bare host means WEBHOOK_PATH)."""
    path = urlsplit(webhook_url).path.rstrip("/")
    return path or WEBHOOK_PATH


def webhook_app(bot: Bot, dp, secret: str | None, path: str = WEBHOOK_PATH) -> web.Application:
    """aiohttp app receiving updates. Each update is handled before the answer (handle_in_background=False): the
    200 goes out only after its unit of work committed, a failure answers 500 and Telegram delivers the update
    again (the update id dedup makes the retry safe)."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=False).register(
        app, path=path)
    setup_application(app, dp, bot=bot)
    return app


async def _run_webhook(ctx: AppContext, bot: Bot, dp, stop: asyncio.Event) -> None:
    settings = ctx.settings
    secret = settings.telegram.webhook_secret.get_secret_value() if settings.telegram.webhook_secret else None
    url = settings.telegram.webhook_url
    path = webhook_path(url)
    if urlsplit(url).path.rstrip("/") == "":
        url = url.rstrip("/") + path
    runner = web.AppRunner(webhook_app(bot, dp, secret, path))
    await runner.setup()
    site = web.TCPSite(runner, settings.webapp.webapp_host, settings.telegram.webhook_port)
    try:
        await site.start()
    except OSError as exc:  # taken after the start-up check: one line, no traceback
        await runner.cleanup()
        raise Conflict(f"the bot's webhook cannot listen on {settings.webapp.webapp_host}:"
                       f"{settings.telegram.webhook_port}: {exc.strerror or exc}; stop what uses it or set "
                       "SALESOP_WEBHOOK_PORT") from None
    if await answered_in_time(
            lambda: bot.set_webhook(url, secret_token=secret, allowed_updates=dp.resolve_used_update_types()),
            "setWebhook", stop, time_scale=settings.time_scale, language=settings.language,
            health=ctx.services.setdefault("health", {})) is None:
        await runner.cleanup()
        return
    announce("bot", t("cli.run.bot_webhook", settings.language, url=url,
                       address=f"{settings.webapp.webapp_host}:{settings.telegram.webhook_port}"))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
