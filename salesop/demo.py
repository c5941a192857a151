"""The offline demo: `salesop run` with no SALESOP_BOT_TOKEN.

Starts the sandbox stand-ins in-process and points the product at them, then sets up (once; idempotent) a
Russian-language demo shop: catalog and knowledge base, a manager forum group with an owner and a manager, the
shop's Telegram account connected both ways a shop can choose — as a userbot (signed in the way /connect_telegram
does it: phone, then the code Telegram sends; with imported history) and through Telegram Business (the same account
connects the manager bot; no session needed, no history) — and a VK community with imported history; then a scripted
trickle of customers asking typical questions on VK and on the Telegram account, so the whole loop is visible in the
sandbox viewer and the Mini App.

One account, two ways: the sandbox's Bot API and MTProto stand-ins share the account (sandbox/telegram/business.py),
so a customer's message reaches both the userbot and the bot and becomes one dialog (core.inbox.home_of: the userbot,
connected first, is the home channel); a manager's reply goes out through Telegram Business while the customer wrote
in the last 24 hours, else through the userbot, and the reply card says which way it went.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from pydantic import SecretStr
from sqlalchemy import select, update

from core.models import ChannelAccount, ChannelKind, ChannelStatus, ManagerGroup, StaffMember, Tenant
from core.services import channels
from core.services.tenants import create_tenant, role_by_code
from core.settings import Settings
from sandbox.runner import SandboxStack, start_sandbox

log = logging.getLogger("salesop.demo")

DEMO_SLUG = "demo"
DEMO_NAME = "Демо-магазин «Техносфера»"
VK_GROUP_ID = 210_001
HISTORY_CONVERSATIONS = 40
HISTORY_MESSAGES = 12
TG_PHONE = "+79991234567"  # the shop's own Telegram account
TG_HISTORY_CONVERSATIONS = 30
TG_HISTORY_MESSAGES = 10
# Telegram accounts need an api_id/api_hash (my.telegram.org); the stand-in accepts any, these only fill the fields.
SANDBOX_API_ID = 12345
SANDBOX_API_HASH = "0123456789abcdef0123456789abcdef"
CUSTOMER_NAMES = [("Пётр", "Соколов"), ("Алина", None), ("Дмитрий", "К."), ("Мария", "Лебедева"), ("Тимур", None)]
# Who writes, and what: typical questions of a small electronics shop's customers.
QUESTIONS = [
    "Здравствуйте! Сколько стоит робот-пылесос?",
    "Есть в наличии беспроводные наушники?",
    "Как быстро доставите в Казань?",
    "Можно вернуть товар, если не подошёл?",
    "Какая гарантия на электрический чайник?",
    "А оплатить картой при получении можно?",
    "Сделаете скидку, если возьму два?",
    "Позовите, пожалуйста, менеджера",
    "Хочу оформить заказ на умную колонку",
    "Товар пришёл с царапиной, что делать?",
]
TRICKLE_SECONDS = 20.0
FIRST_PAIR_GAP = 2.0
CHANNELS = 2  # VK, the Telegram account (userbot and Telegram Business)


@dataclass
class Demo:
    stack: SandboxStack
    settings: Settings
    owner_id: int = 0
    manager_id: int = 0
    group_chat_id: int = 0
    tg_account_id: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    @classmethod
    async def start(cls, settings: Settings) -> "Demo":
        stack = await start_sandbox(telegram_limits="realistic")
        webapp = settings.webapp
        demo_settings = settings.model_copy(update={
            "telegram": settings.telegram.model_copy(update={
                "bot_token": SecretStr(stack.telegram.bot_token), "telegram_api_url": stack.urls["telegram"],
                "webhook_url": None, "telegram_api_id": SANDBOX_API_ID,
                "telegram_api_hash": SecretStr(SANDBOX_API_HASH),
                "telegram_mtproto_address": stack.mtproto.address,
                "telegram_mtproto_public_key": stack.mtproto.public_key}),
            "vk": settings.vk.model_copy(update={"vk_api_url": stack.urls["vk"]}),
            "voice": settings.voice.model_copy(update={"elevenlabs_base_url": stack.urls["elevenlabs"]}),
            "webapp": webapp.model_copy(update={
                "webapp_url": webapp.webapp_url or f"http://{webapp.webapp_host}:{webapp.webapp_port}"}),
        })
        return cls(stack=stack, settings=demo_settings)

    async def stop(self) -> None:
        await self.stack.stop()

    async def seed(self, ctx) -> None:
        """The sandbox is new each run; the database persists. Sandbox ids are deterministic, so rows match up."""
        tg = self.stack.telegram
        self.owner_id = tg.create_user("Ольга", "Владелец", username="olga_owner")["id"]
        self.manager_id = tg.create_user("Иван", "Менеджер", username="ivan_sales")["id"]
        group = tg.create_forum_group(
            "Техносфера · менеджеры", members=[self.owner_id, self.manager_id], owner_id=self.owner_id,
            bot_rights={"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True})
        self.group_chat_id = group["id"]
        account = self.stack.mtproto.create_account(TG_PHONE, "Техносфера", "Магазин", username="technosfera_shop")
        self.tg_account_id = account.user.id
        self.stack.mtproto.seed(account.user.id, TG_HISTORY_CONVERSATIONS, TG_HISTORY_MESSAGES)
        vk_token = self.stack.vk.add_community(VK_GROUP_ID, "Техносфера ВКонтакте")
        self.stack.vk.seed(VK_GROUP_ID, conversations=HISTORY_CONVERSATIONS,
                           messages_per_conversation=HISTORY_MESSAGES, forbid_every=17)
        vk_start = await self._vk_live_start(ctx.settings, vk_token)

        async with ctx.db.unit_of_work() as session:
            tenant = (await session.execute(select(Tenant).where(Tenant.slug == DEMO_SLUG))).scalar_one_or_none()
            fresh = tenant is None
            if fresh:
                tenant = await create_tenant(session, slug=DEMO_SLUG, name=DEMO_NAME,
                                             escalation_chat_id=self.group_chat_id)
            group_row = (await session.execute(
                select(ManagerGroup).where(ManagerGroup.tenant_id == tenant.id))).scalars().first()
            if group_row is None:
                group_row = ManagerGroup(tenant_id=tenant.id, chat_id=self.group_chat_id, title=group["title"],
                                         is_forum=True)
                session.add(group_row)
            group_row.chat_id = self.group_chat_id
            # the Business account's owner (the shop's own account, which connects the bot) must be an owner or admin
            # of the shop for its connection to be taken
            for user_id, name, role in ((self.owner_id, "Ольга", "owner"), (self.manager_id, "Иван", "manager"),
                                        (self.tg_account_id, "Техносфера Магазин", "admin")):
                exists = (await session.execute(select(StaffMember).where(
                    StaffMember.tenant_id == tenant.id, StaffMember.telegram_user_id == user_id))).scalar_one_or_none()
                if exists is None:
                    role_id = (await role_by_code(session, tenant.id, role)).id
                    session.add(StaffMember(tenant_id=tenant.id, role_id=role_id, telegram_user_id=user_id, name=name))
            await session.flush()
            channel_id = await channels.add_channel(
                session, ctx.secrets, tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY,
                external_id=str(VK_GROUP_ID), title="Техносфера ВКонтакте", credentials=vk_token,
                start_state=vk_start)
            tenant_id = tenant.id
        if fresh:
            await self._load_shop(ctx, tenant_id)
        from userbots.importer import run_import

        report = await run_import(ctx.db, ctx.secrets, ctx.settings, channel_id, progress=False)
        log.info("demo VK history imported: %s", report)
        tg_channel_id = await self._connect_telegram_account(ctx, tenant_id)
        report = await run_import(ctx.db, ctx.secrets, ctx.settings, tg_channel_id, progress=False)
        log.info("demo Telegram history imported: %s", report)
        await self._retire_second_account(ctx, tenant_id)
        self._connect_business_account()

    @staticmethod
    async def _vk_live_start(settings: Settings, token: str) -> dict:
        """Where the community's live ingest begins, read as `salesop channel add vk` reads it. Without it the long
        poll began wherever VK stood when it first connected, and the trickle's first customer, who writes as the
        components start, was never taken in."""
        from userbots.vk import api as vk_api
        from userbots.vk.realtime import live_start

        api = vk_api.build_api(settings, token, community=True)
        try:
            return await live_start(api, community=True, group_id=VK_GROUP_ID)
        finally:
            await api.close()

    async def _retire_second_account(self, ctx, tenant_id: int) -> None:
        """Demo databases from before the shared account had a second account connected through Business: its
        channel is shown disconnected (its stand-in is gone), not as working forever."""
        from core.i18n import t

        async with ctx.db.unit_of_work() as session:
            await session.execute(update(ChannelAccount).where(
                ChannelAccount.tenant_id == tenant_id, ChannelAccount.kind == ChannelKind.TELEGRAM_BUSINESS,
                ChannelAccount.external_id != str(self.tg_account_id)).values(
                status=ChannelStatus.DISABLED, status_detail=t("business.channel.detail_disabled")))

    def _connect_business_account(self) -> None:
        """The shop's account — already the userbot — connects the manager bot under Settings → Telegram Business →
        Chatbots too: the business_connection update waits for the bot, which registers (or, on a later run,
        refreshes) the telegram_business channel of the same account. The stand-in is new every run, so is the
        connection id. The userbot's channel was registered first, so it stays the dialogs' home."""
        self.stack.telegram.business.connect(self.tg_account_id)

    async def _connect_telegram_account(self, ctx, tenant_id: int) -> int:
        """Sign the shop's account in exactly as the owner does with /connect_telegram: phone number, then the
        code Telegram sends to the account. The stand-in is new every run, so is the session; the update position
        of the previous run's stand-in means nothing to this one and is dropped."""
        from userbots.telegram.login import LoginState, TelegramLoginService, telethon_login_factory

        async with ctx.db.unit_of_work() as session:
            await session.execute(update(ChannelAccount).where(
                ChannelAccount.tenant_id == tenant_id, ChannelAccount.kind == ChannelKind.TELEGRAM_ACCOUNT,
                ChannelAccount.external_id == str(self.tg_account_id)).values(update_state={}))
        login = TelegramLoginService(ctx.db, ctx.secrets, telethon_login_factory(ctx.settings))
        step = await login.start(tenant_id, self.owner_id)
        step = await login.submit(tenant_id, self.owner_id, TG_PHONE)
        step = await login.submit(tenant_id, self.owner_id, self.stack.mtproto.login_code(TG_PHONE) or "")
        if step.state != LoginState.DONE or step.channel_id is None:
            raise RuntimeError(f"the demo Telegram account did not sign in: {step.state} {step.text}")
        return step.channel_id

    async def _load_shop(self, ctx, tenant_id: int) -> None:
        from core.ai.demo import load_demo_shop
        from core.ai.providers import build_providers

        embedder = build_providers(ctx.settings).embedder
        async with ctx.db.unit_of_work() as session:
            await load_demo_shop(session, tenant_id, embedder, ctx.settings.ai.price_table)

    async def _telegram_customer_writes(self, customer_id: int, text: str) -> None:
        mtproto = self.stack.mtproto
        if customer_id not in mtproto.world.people:
            first, last = CUSTOMER_NAMES[customer_id % len(CUSTOMER_NAMES)]
            mtproto.create_customer(first, last, user_id=customer_id)
        links = []
        if self._rng.random() < 0.3:  # came from an ad: the shop's link with UTM tags in the first message
            text += " (нашёл вас по ссылке)"
            links = [("по ссылке", "https://technosfera.example/?utm_source=telegram_ads&utm_campaign=spring")]
        await mtproto.customer_writes(self.tg_account_id, customer_id, text, links=links)

    def urls(self) -> list[tuple[str, str]]:
        miniapp = self.settings.webapp.webapp_url
        owner_init = quote(self.stack.telegram.init_data(self.owner_id), safe="")
        return [
            ("viewer", self.stack.urls["viewer"] + f"chat/{self.group_chat_id}"),
            ("miniapp", f"{miniapp}/#tgWebAppData={owner_init}"),
            ("accounts", self.stack.urls["telegram"] + "/_viewer/accounts/"),
            ("mtproto", self.stack.mtproto.address),
            *[(name, url) for name, url in self.stack.urls.items() if name != "viewer"],
        ]

    async def trickle(self, stop: asyncio.Event) -> None:
        """A customer writes every TRICKLE_SECONDS, on VK and on the Telegram account in turn (the account's message
        reaches both the userbot and the bot through Telegram Business): a new one mostly, sometimes one coming
        back.

        The sandbox starts empty every run while the database persists, so each run's customers get fresh ids
        (the stand-ins number messages from 1 again, and a known customer's message 1 would be a duplicate)."""
        customer = 700_000_000 + (int(time.time()) % 1_000_000) * 100
        turn = 0
        while not stop.is_set():
            customer += 1 if self._rng.random() < 0.7 else 0
            text = self._rng.choice(QUESTIONS)
            try:
                if turn % CHANNELS == 0:
                    ref = {"ref": "spring_sale", "ref_source": "vk_ads"} if self._rng.random() < 0.3 else {}
                    await self.stack.vk.user_writes(VK_GROUP_ID, customer, text, **ref)
                else:
                    await self._telegram_customer_writes(customer, text)
            except Exception:
                log.exception("demo customer could not write")
            turn += 1
            try:
                # the first customer of each channel comes at once, so a newcomer sees every channel right away
                await asyncio.wait_for(stop.wait(), timeout=FIRST_PAIR_GAP if turn < CHANNELS else TRICKLE_SECONDS)
            except TimeoutError:
                pass
