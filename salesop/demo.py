"""The offline demo: `salesop run` with no SALESOP_BOT_TOKEN.

Starts the sandbox stand-ins in-process and points the product at them, then sets up (once; idempotent) a
Russian-language demo shop: catalog and knowledge base, a manager forum group with an owner and a manager, a VK
community with imported history — and a scripted trickle of customers asking typical questions, so the whole
loop is visible in the sandbox viewer and the Mini App.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from pydantic import SecretStr
from sqlalchemy import select

from core.models import ChannelKind, ManagerGroup, StaffMember, Tenant
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


@dataclass
class Demo:
    stack: SandboxStack
    settings: Settings
    owner_id: int = 0
    manager_id: int = 0
    group_chat_id: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    @classmethod
    async def start(cls, settings: Settings) -> "Demo":
        stack = await start_sandbox(telegram_limits="realistic")
        webapp = settings.webapp
        demo_settings = settings.model_copy(update={
            "telegram": settings.telegram.model_copy(update={
                "bot_token": SecretStr(stack.telegram.bot_token), "telegram_api_url": stack.urls["telegram"],
                "webhook_url": None}),
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
        vk_token = self.stack.vk.add_community(VK_GROUP_ID, "Техносфера ВКонтакте")
        self.stack.vk.seed(VK_GROUP_ID, conversations=HISTORY_CONVERSATIONS,
                           messages_per_conversation=HISTORY_MESSAGES, forbid_every=17)

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
            for user_id, name, role in ((self.owner_id, "Ольга", "owner"), (self.manager_id, "Иван", "manager")):
                exists = (await session.execute(select(StaffMember).where(
                    StaffMember.tenant_id == tenant.id, StaffMember.telegram_user_id == user_id))).scalar_one_or_none()
                if exists is None:
                    role_id = (await role_by_code(session, tenant.id, role)).id
                    session.add(StaffMember(tenant_id=tenant.id, role_id=role_id, telegram_user_id=user_id, name=name))
            await session.flush()
            channel_id = await channels.add_channel(
                session, ctx.secrets, tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY,
                external_id=str(VK_GROUP_ID), title="Техносфера ВКонтакте", credentials=vk_token)
            tenant_id = tenant.id
        if fresh:
            await self._load_shop(ctx, tenant_id)
        from userbots.importer import run_import

        report = await run_import(ctx.db, ctx.secrets, ctx.settings, channel_id, progress=False)
        log.info("demo history imported: %s", report)

    async def _load_shop(self, ctx, tenant_id: int) -> None:
        from core.ai.demo import load_demo_shop
        from core.ai.providers import build_providers

        embedder = build_providers(ctx.settings).embedder
        async with ctx.db.unit_of_work() as session:
            await load_demo_shop(session, tenant_id, embedder, ctx.settings.ai.price_table)

    def urls(self) -> list[tuple[str, str]]:
        miniapp = self.settings.webapp.webapp_url
        owner_init = quote(self.stack.telegram.init_data(self.owner_id), safe="")
        return [
            ("viewer", self.stack.urls["viewer"] + f"chat/{self.group_chat_id}"),
            ("miniapp", f"{miniapp}/#tgWebAppData={owner_init}"),
            *[(name, url) for name, url in self.stack.urls.items() if name != "viewer"],
        ]

    async def trickle(self, stop: asyncio.Event) -> None:
        """A customer writes every TRICKLE_SECONDS: a new one mostly, sometimes one coming back.

        The sandbox starts empty every run while the database persists, so each run's customers get fresh ids
        (the stand-in numbers messages per customer from 1 again, and a known customer's message 1 is a duplicate)."""
        customer = 700_000_000 + (int(time.time()) % 1_000_000) * 100
        while not stop.is_set():
            customer += 1 if self._rng.random() < 0.7 else 0
            text = self._rng.choice(QUESTIONS)
            ref = {"ref": "spring_sale", "ref_source": "vk_ads"} if self._rng.random() < 0.3 else {}
            try:
                await self.stack.vk.user_writes(VK_GROUP_ID, customer, text, **ref)
            except Exception:
                log.exception("demo customer could not write")
            try:
                await asyncio.wait_for(stop.wait(), timeout=TRICKLE_SECONDS)
            except TimeoutError:
                pass
