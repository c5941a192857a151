"""A manager desk on the sandbox Telegram Bot API: a tenant with staff, a forum group the owner connected by adding
the bot, a Telegram-account channel, the real aiogram bot and dispatcher, and the outbox dispatcher.

Customers' messages enter through core.inbox.receive and the mirror task handler, like the userbots feed them;
managers act through real Telegram updates (button presses, messages) that the sandbox queues and the aiogram
Dispatcher consumes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select
from taskiq import InMemoryBroker

from bot import component
from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core import inbox
from core.clock import SystemClock
from core.crypto import SecretBox
from core.db import DatabaseHandle
from core.inbox import InboundAttachment, InboundMessage, Sender
from core.models import (
    ChannelAccount,
    ChannelKind,
    Decision,
    DialogTopic,
    ManagerGroup,
    StaffMember,
    Suggestion,
)
from core.services.tenants import create_tenant, role_by_code
from core.settings import Settings
from core.tasks import TaskiqQueue
from salesop.context import AppContext
from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from tests.bot.gateway import SandboxBotGateway

RIGHTS = {"can_manage_topics": True, "can_pin_messages": True, "can_delete_messages": True,
          "can_restrict_members": True}


@dataclass
class Desk:
    sb: TelegramSandbox
    ctx: AppContext
    dp: object
    gateway: SandboxBotGateway
    tenant_id: int
    channel_id: int
    group_chat_id: int
    owner: dict
    manager: dict
    viewer: dict
    outsider: dict
    tasks: dict
    offset: int = 0
    _external_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def db(self):
        return self.ctx.db

    @property
    def bot(self):
        return self.ctx.services["manager_bot"]

    @property
    def outbox(self):
        return self.ctx.services["outbox_dispatcher"]

    # ---------------------------------------------------------------------------------------- customers

    def customer(self, first_name: str = "Анна", last_name: str | None = "Петрова") -> dict:
        return self.sb.create_user(first_name, last_name)

    def inbound(self, user: dict, text: str, **kw) -> InboundMessage:
        return InboundMessage(
            channel_id=self.channel_id, external_chat_id=str(user["id"]),
            external_id=kw.pop("external_id", None) or str(next(self._external_ids)),
            sender=Sender(external_user_id=str(user["id"]), first_name=user["first_name"],
                          last_name=user.get("last_name")),
            sent_at=kw.pop("sent_at", None) or datetime.now(UTC), text=text, **kw,
        )

    async def receive(self, msg: InboundMessage) -> inbox.Received:
        """core.inbox.receive in its own unit of work, then the follow-ups this area handles (the AI's are not run)."""
        async with self.db.unit_of_work() as session:
            received = await inbox.receive(session, msg)
        await self.follow_up(received)
        return received

    async def follow_up(self, received) -> None:
        for name, kwargs in received.follow_ups:
            if name in self.tasks:
                await self.tasks[name](**kwargs)

    async def customer_writes(self, user: dict, text: str, **kw) -> inbox.Received:
        return await self.receive(self.inbound(user, text, **kw))

    async def suggest(self, received: inbox.Received, text: str, *, intent: str = "price", confidence: float = 0.82,
                      decision: Decision = Decision.NEED_APPROVAL, reason: str = "по прайсу",
                      sources: list[dict] | None = None) -> int:
        """A draft as the AI pipeline stores it, then its "post_suggestion_card" task."""
        async with self.db.unit_of_work() as session:
            suggestion = Suggestion(
                tenant_id=received.tenant_id, dialog_id=received.dialog_id, message_id=received.message_id,
                text=text, intent=intent, confidence=confidence, decision=decision, decision_reason=reason,
                sources=sources or [{"title": "Прайс"}],
            )
            session.add(suggestion)
            await session.flush()
            suggestion_id = suggestion.id
        await self.tasks[component.POST_SUGGESTION_CARD](suggestion_id=suggestion_id)
        return suggestion_id

    # ------------------------------------------------------------------------------------------- bot side

    async def pump(self) -> int:
        """Feed every update the sandbox has queued through the aiogram Dispatcher (confirming them)."""
        count = 0
        while True:
            updates = await self.bot.get_updates(offset=self.offset, timeout=0)
            if not updates:
                return count
            for update in updates:
                self.offset = update.update_id + 1
                await self.dp.feed_update(self.bot, update)
                count += 1

    async def settle(self, timeout: float = 60.0) -> None:
        """Updates handled and the outbox drained, until nothing new happens."""
        for _ in range(20):
            handled = await self.pump()
            await self.outbox.drain(timeout=timeout)
            if not handled and not await self.bot.get_updates(offset=self.offset, timeout=0):
                return

    async def press(self, user: dict, message_id: int, callback_data: str) -> None:
        await self.sb.press_button(user["id"], self.group_chat_id, message_id, callback_data)
        await self.settle()

    async def write(self, user: dict, text: str | None = None, *, thread_id: int | None = None, **kw) -> dict:
        message = await self.sb.user_sends(user["id"], self.group_chat_id, text, thread_id=thread_id, **kw)
        await self.settle()
        return message

    # --------------------------------------------------------------------------------------------- reading

    async def topic(self, dialog_id: int) -> DialogTopic | None:
        async with self.db.unit_of_work() as session:
            return (await session.execute(
                select(DialogTopic).where(DialogTopic.dialog_id == dialog_id)
            )).scalar_one_or_none()

    def group(self) -> dict:
        return self.sb.chat(self.group_chat_id)

    def live_topics(self) -> list[dict]:
        return [t for t in self.group()["topics"] if t["id"] != 1 and not t["deleted"]]

    def thread(self, thread_id: int) -> list[dict]:
        """The bot's and people's messages in one topic (service messages left out), oldest first."""
        return [m for m in self.group()["messages"]
                if m["thread_id"] == thread_id and not m["service"] and not m["deleted"]]

    def card_of(self, thread_id: int, suggestion_id: int) -> dict:
        marker = f"s:send:{suggestion_id}"
        for message in self.thread(thread_id):
            for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
                if any(b.get("callback_data") == marker for b in row):
                    return message
        raise AssertionError(f"no card with buttons for suggestion {suggestion_id}")

    def customer_chat(self, user: dict) -> list[dict]:
        if user["id"] not in self.sb.chats:
            return []
        return [m for m in self.sb.chat(user["id"])["messages"] if m["by_bot"]]


async def _staff(session, tenant_id: int, role: str, user: dict, username: str | None = None) -> None:
    session.add(StaffMember(tenant_id=tenant_id, role_id=(await role_by_code(session, tenant_id, role)).id,
                            telegram_user_id=user["id"], name=user["first_name"], username=username))


@dataclass
class Resources:
    """What a desk started, to be closed by `close_desk`."""

    runner: web.AppRunner
    ctx: AppContext


def desk_context(*, database_url: str, master_key: str, data_dir, time_scale: float, bot_token: str,
                 api_url: str) -> tuple[AppContext, SandboxBotGateway]:
    """The manager bot's component on a Telegram Bot API at `api_url`, customers' channels answered by the sandbox
    gateway: what a desk runs, whether its sandbox is in this process or its own."""
    from core.db import Database

    settings = Settings.load(
        data_dir=data_dir, db={"database_url": database_url}, security={"master_key": master_key},
        time_scale=time_scale, telegram={"bot_token": bot_token, "telegram_api_url": api_url},
    )
    db = Database(database_url, pool_size=10)
    ctx = AppContext(settings=settings, handle=DatabaseHandle(db.url, None), db=db,
                     secrets=SecretBox([master_key]), queue=TaskiqQueue(InMemoryBroker()), clock=SystemClock())
    component.install(ctx)
    gateway = SandboxBotGateway(ctx.services["manager_bot"], time_scale)
    ctx.services["channel_gateway"] = gateway
    return ctx, gateway


async def build_desk(*, database_url: str, master_key: str, data_dir, limits: str = "off", time_scale: float = 1000.0,
                     escalation_to_owner: bool = True) -> tuple[Desk, Resources]:
    """A desk on its own sandbox. The default time scale makes budgets never bind in functional tests; the burst and
    rate-limit tests pass the scale they need (the sandbox and our budgets always share it)."""
    sb = TelegramSandbox(limits="off", time_scale=time_scale)
    runner, base = await serve(sb.app)
    ctx, gateway = desk_context(database_url=database_url, master_key=master_key, data_dir=data_dir,
                                time_scale=time_scale, bot_token=sb.bot_token, api_url=base)
    db = ctx.db
    owner = sb.create_user("Ольга", "Владелец", username="olga_owner")
    manager = sb.create_user("Иван", "Менеджер", username="ivan_manager")
    viewer = sb.create_user("Вера", "Наблюдатель", username="vera_viewer")
    outsider = sb.create_user("Посторонний")
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин",
                                     escalation_chat_id=owner["id"] if escalation_to_owner else None)
        await session.flush()
        for role, user, username in (("owner", owner, "olga_owner"), ("manager", manager, "ivan_manager"),
                                     ("viewer", viewer, "vera_viewer")):
            await _staff(session, tenant.id, role, user, username)
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="555",
                                 title="Магазин")
        session.add(channel)
        await session.flush()
        tenant_id, channel_id = tenant.id, channel.id
    chat = sb.create_forum_group("Менеджеры", bot_rights=None, owner_id=owner["id"],
                                 members=[manager["id"], viewer["id"], outsider["id"]])
    runtime = BotRuntime(db=db, bot_id=sb.bot_user_id, bot_username=sb.bot_user["username"],
                         wake_dispatcher=ctx.services["outbox_dispatcher"].wake)
    desk = Desk(sb=sb, ctx=ctx, dp=build_dispatcher(runtime), gateway=gateway, tenant_id=tenant_id,
                channel_id=channel_id, group_chat_id=chat["id"], owner=owner, manager=manager, viewer=viewer,
                outsider=outsider, tasks=component.task_handlers(ctx, ctx.services["outbox_dispatcher"].wake))
    # The owner adds the bot as an administrator: the group registers itself for the tenant.
    await sb.add_bot_to_group(chat["id"], rights=RIGHTS, by_user_id=owner["id"])
    await desk.settle()
    async with db.unit_of_work() as session:
        group = (await session.execute(select(ManagerGroup))).scalar_one()
        assert group.missing_rights == [] and group.tenant_id == tenant_id
    sb.set_limits(limits)
    return desk, Resources(runner, ctx)


async def close_desk(resources: Resources) -> None:
    await resources.ctx.services["manager_bot"].session.close()
    await resources.ctx.services["outbox_dispatcher"].db.dispose()
    await resources.ctx.db.dispose()
    await resources.runner.cleanup()


def attachment(kind: str, **kw) -> InboundAttachment:
    from core.models import AttachmentKind

    return InboundAttachment(AttachmentKind(kind), **kw)
