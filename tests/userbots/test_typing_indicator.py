"""Tenant.typing_indicator: while an automatic reply waits out its human-like delay, the customer sees "typing…" in
their own chat — VK messages.setActivity, Telegram messages.setTyping — repeated until the reply leaves, taken away
when it is cancelled, and never shown for a tenant that turned it off. End to end: the customer's message through
the inbox, the real AI pipeline (offline responder) queueing the delayed reply, the outbox dispatcher, the userbots'
gateway with the real vkbottle / Telethon clients against the VK and MTProto stand-ins, which record what the
customer saw."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from core import inbox
from core.ai.demo import load_demo_shop
from core.ai.embedding import LocalEmbedder
from core.ai.pipeline import SuggestionPipeline, cancel_pending_autoreplies
from core.ai.providers import AIProviders
from core.clock import SystemClock
from core.dispatcher import Dispatcher, running
from core.inbox import InboundMessage, Sender
from core.models import (
    AIMode,
    CommandState,
    Decision,
    DelayProfile,
    Dialog,
    Message,
    OutboxCommand,
    Tenant,
)
from core.ratelimit import LocalRateLimiter
from core.commands import CommandKinds
from core.services.workspace.commands import WorkspaceCommands
from core.services.workspace.kinds import workspace_kinds
from userbots.gateway import UserbotGateway
from userbots.telegram.client import TelegramAccounts

from .conftest import GROUP, TIME_SCALE, make_vk_channel
from .test_telegram_mtproto import connect_with_code
from .test_telegram_mtproto import running as account_running

QUIET_GROUP = 77_000_002
ANNA, BORIS, VERA = 500_000_201, 500_000_202, 500_000_203
_ids = itertools.count(1)


async def wait_for(predicate, timeout: float = 15.0):
    """Poll a condition (plain or async) until it holds: calls travel over HTTP / MTProto from the dispatcher."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.02)


async def allow_autoreplies(db, settings, tenant_id: int, *, typing: bool) -> None:
    """Every lock open for a greeting from the no-key responder, and the LONG delay (25-60 s + typing time), so the
    reply waits long enough to watch; the tests end the delay themselves."""
    async with db.unit_of_work() as session:
        tenant = await session.get(Tenant, tenant_id)
        tenant.autosend_allowed = tenant.offline_autosend_allowed = True
        tenant.intents_autosend = ["greeting"]
        tenant.delay_profile = DelayProfile.LONG
        tenant.typing_indicator = typing
        await load_demo_shop(session, tenant_id, LocalEmbedder(), settings.ai.price_table)


def auto_pipeline(db, settings) -> SuggestionPipeline:
    return SuggestionPipeline(db, AIProviders(llm=None, embedder=LocalEmbedder()), settings, SystemClock())


async def auto_reply(db, pipeline: SuggestionPipeline, message_id: int) -> OutboxCommand:
    """The dialog in auto mode, then the suggest_reply task for the customer's message: a delayed auto-reply."""
    async with db.unit_of_work() as session:
        dialog_id = (await session.get(Message, message_id)).dialog_id
        await session.execute(update(Dialog).where(Dialog.id == dialog_id).values(ai_mode=AIMode.AUTO))
    result = await pipeline.run(message_id)
    assert result.decision == Decision.AUTO_SEND and result.command_id is not None
    return await command(db, result.command_id)


async def customer_writes(db, channel_id: int, user: int, text: str = "Добрый день!") -> int:
    async with db.unit_of_work() as session:
        received = await inbox.receive(session, InboundMessage(
            channel_id=channel_id, external_chat_id=str(user), external_id=f"vk-{next(_ids)}",
            sender=Sender(external_user_id=str(user), first_name="Анна"), sent_at=datetime.now(UTC), text=text))
    return received.message_id


async def command(db, command_id: int) -> OutboxCommand:
    async with db.unit_of_work() as session:
        return await session.get(OutboxCommand, command_id)


async def delay_ends(db, command_id: int) -> None:
    """The human-like delay runs out now (instead of in 25-60 seconds)."""
    async with db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).where(OutboxCommand.id == command_id)
                              .values(not_before=datetime.now(UTC)))


def outbox_dispatcher(db, gateway, tmp_path) -> Dispatcher:
    executor = WorkspaceCommands(CommandKinds(*workspace_kinds(tmp_path)))
    return Dispatcher(db, limiter=LocalRateLimiter(TIME_SCALE), executor=executor,
                      gateway=lambda: gateway, clock=SystemClock(), poll_interval=0.05)


@contextlib.asynccontextmanager
async def userbot_gateway(db, secrets, settings, **options):
    gateway = UserbotGateway(db, secrets, settings, **options)
    try:
        yield gateway
    finally:
        await gateway.close()


async def test_vk_customers_see_typing_until_the_delayed_reply_leaves(db, secrets, vk, vk_settings, tmp_path):
    shop = await make_vk_channel(db, secrets, vk.token)
    quiet_token = vk.sandbox.add_community(QUIET_GROUP, "Тихий магазин")
    quiet = await make_vk_channel(db, secrets, quiet_token, slug="quiet", external_id=str(QUIET_GROUP))
    await allow_autoreplies(db, vk_settings, shop.tenant_id, typing=True)
    await allow_autoreplies(db, vk_settings, quiet.tenant_id, typing=False)
    pipeline = auto_pipeline(db, vk_settings)
    anna = await auto_reply(db, pipeline, await customer_writes(db, shop.channel_id, ANNA))
    boris = await auto_reply(db, pipeline, await customer_writes(db, shop.channel_id, BORIS))
    vera = await auto_reply(db, pipeline, await customer_writes(db, quiet.channel_id, VERA))
    box = vk.sandbox._communities[GROUP].mailbox

    def seen(group: int, peer: int) -> list[dict]:
        return vk.sandbox.activity(group, peer)

    async with userbot_gateway(db, secrets, vk_settings) as gateway:
        dispatcher = outbox_dispatcher(db, gateway, tmp_path)
        async with running(dispatcher):
            # Both of the shop's customers see "typing…", again and again while their replies wait.
            assert await wait_for(lambda: len(seen(GROUP, ANNA)) >= 2 and len(seen(GROUP, BORIS)) >= 2)
            assert {e["type"] for e in seen(GROUP, ANNA) + seen(GROUP, BORIS)} == {"typing"}
            assert box.typing_now(ANNA) and vk.sandbox.sent == []

            # Anna's delay runs out: the reply leaves, and her "typing…" ends with it, for good.
            await delay_ends(db, anna.id)
            assert await wait_for(lambda: [s["peer_id"] for s in vk.sandbox.sent] == [ANNA])
            assert await wait_for(lambda: _done(db, anna.id))
            typed_for_anna = len(seen(GROUP, ANNA))
            assert not box.typing_now(ANNA)
            assert vk.sandbox.sent[0]["message"] == anna.payload["text"]

            # Boris's reply still waits: his typing goes on (rounds keep running), Anna's never comes back.
            before = len(seen(GROUP, BORIS))
            assert await wait_for(lambda: len(seen(GROUP, BORIS)) >= before + 2)
            assert len(seen(GROUP, ANNA)) == typed_for_anna and not box.typing_now(ANNA)

            # The quiet shop turned the indicator off: Vera, whose reply waits the same way, never saw it.
            assert seen(QUIET_GROUP, VERA) == []
            assert (await command(db, vera.id)).state == CommandState.QUEUED
    assert dispatcher.stats.typing >= 6


async def _done(db, command_id: int) -> bool:
    return (await command(db, command_id)).state == CommandState.DONE


async def test_vk_typing_survives_refusals_and_never_holds_up_the_send(db, secrets, vk, vk_settings, tmp_path):
    shop = await make_vk_channel(db, secrets, vk.token)
    await allow_autoreplies(db, vk_settings, shop.tenant_id, typing=True)
    anna = await auto_reply(db, auto_pipeline(db, vk_settings), await customer_writes(db, shop.channel_id, ANNA))
    vk.sandbox.inject_error("messages.setActivity", 10, times=1000)  # VK refuses every typing call
    async with userbot_gateway(db, secrets, vk_settings) as gateway:
        dispatcher = outbox_dispatcher(db, gateway, tmp_path)
        async with running(dispatcher):
            assert await wait_for(lambda: vk.sandbox.stats["errors"][10] >= 1)
            await delay_ends(db, anna.id)
            assert await wait_for(lambda: _done(db, anna.id))
    assert [s["peer_id"] for s in vk.sandbox.sent] == [ANNA] and vk.sandbox.activity(GROUP, ANNA) == []
    assert dispatcher.stats.typing == 0 and dispatcher.stats.failed == 0


# ---------------------------------------------------------------------------------------------- Telegram accounts

PHONE = "+79990003344"


async def test_telegram_account_customers_see_typing_and_it_stops_when_the_reply_is_cancelled(
        db, tg_secrets, tg_settings, mtproto, tenant_of_shop, tasks, tmp_path):
    owner = mtproto.create_account(PHONE, "Ольга", "Магазин")
    anna = mtproto.create_customer("Анна", "Петрова")
    channel_id = await connect_with_code(db, tg_secrets, tg_settings, mtproto, tenant_of_shop, phone=PHONE)
    await allow_autoreplies(db, tg_settings, tenant_of_shop, typing=True)
    accounts = TelegramAccounts(db)

    def typing(action: str) -> list[dict]:
        return [e for e in mtproto.api.typing
                if (e["account"], e["peer"], e["action"]) == (owner.user.id, anna.id, action)]

    async with account_running(db, tasks.queue, tg_settings, tg_secrets, channel_id) as account, \
            userbot_gateway(db, tg_secrets, tg_settings, telegram=accounts) as gateway:
        accounts.add(account)
        await mtproto.customer_writes(owner.user.id, anna.id, "Добрый день!")
        assert await wait_for(lambda: tasks.calls[inbox.SUGGEST_REPLY])
        reply = await auto_reply(db, auto_pipeline(db, tg_settings),
                                 tasks.calls[inbox.SUGGEST_REPLY][0]["message_id"])
        dispatcher = outbox_dispatcher(db, gateway, tmp_path)
        async with running(dispatcher):
            # Telegram shows "typing…" for ~5 s: it is sent again while the reply waits.
            assert await wait_for(lambda: len(typing("SendMessageTypingAction")) >= 2)
            assert typing("SendMessageCancelAction") == []

            # A manager answers first: the automatic reply is cancelled, and so is the "typing…".
            async with db.unit_of_work() as session:
                assert await cancel_pending_autoreplies(session, reply.dialog_id, reason="a manager answered")
            assert await wait_for(lambda: len(typing("SendMessageCancelAction")) == 1)
            assert (await command(db, reply.id)).state == CommandState.CANCELLED
    assert [m for m in mtproto.messages(owner.user.id, anna.id) if m["out"]] == []


async def test_no_typing_for_a_reply_without_a_delay(db, secrets, vk, vk_settings, tmp_path):
    """Only automatic replies in their delay window type: with the delay profile off the reply leaves at once,
    and no "typing…" comes before (or, worse, after) it."""
    shop = await make_vk_channel(db, secrets, vk.token)
    await allow_autoreplies(db, vk_settings, shop.tenant_id, typing=True)
    async with db.unit_of_work() as session:
        (await session.get(Tenant, shop.tenant_id)).delay_profile = DelayProfile.OFF
    anna = await auto_reply(db, auto_pipeline(db, vk_settings), await customer_writes(db, shop.channel_id, ANNA))
    async with userbot_gateway(db, secrets, vk_settings) as gateway:
        dispatcher = outbox_dispatcher(db, gateway, tmp_path)
        async with running(dispatcher):
            assert await wait_for(lambda: _done(db, anna.id))
    async with db.unit_of_work() as session:
        assert (await session.execute(select(OutboxCommand.state))).scalars().all() == [CommandState.DONE]
    assert [s["peer_id"] for s in vk.sandbox.sent] == [ANNA] and vk.sandbox.activity(GROUP, ANNA) == []


@pytest.fixture(autouse=True)
def _quick_typing_rounds(monkeypatch):
    """A look for replies in their delay window on every dispatcher cycle (0.5 s apart in production)."""
    monkeypatch.setattr("core.dispatcher.typing_indicator.TYPING_ROUND", 0.0)
