"""Fixtures for the userbots: the VK stand-in served over HTTP, a tenant with a connected VK community, and the
MTProto stand-in real Telethon talks to (Telegram accounts)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from core import inbox
from core.crypto import SecretBox
from core.models import ChannelKind
from core.services import channels as channel_service
from core.services.tenants import create_tenant
from core.settings import Settings
from core.tasks import TaskiqQueue, build_broker
from sandbox.mtproto import MTProtoSandbox
from sandbox.vk import VKSandbox

GROUP = 77_000_001
TIME_SCALE = 20.0  # emulated seconds per real second: rate budgets and backoffs run 20× faster in tests


@dataclass
class VKEnv:
    sandbox: VKSandbox
    url: str
    token: str
    runner: web.AppRunner

    @property
    def api_url(self) -> str:
        return f"{self.url}/method/"


async def serve_vk(**options) -> VKEnv:
    sandbox = VKSandbox(**options)
    runner = web.AppRunner(sandbox.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    token = sandbox.add_community(GROUP, "Магазин «Тест»")
    return VKEnv(sandbox, f"http://127.0.0.1:{runner.addresses[0][1]}", token, runner)


@pytest.fixture
async def vk():
    env = await serve_vk(time_scale=TIME_SCALE)
    yield env
    await env.runner.cleanup()


@pytest.fixture
def vk_settings(settings: Settings, vk: VKEnv) -> Settings:
    return settings.model_copy(update={
        "time_scale": TIME_SCALE,
        "vk": settings.vk.model_copy(update={"vk_api_url": vk.api_url}),
    })


@pytest.fixture
def secrets(vk_settings: Settings) -> SecretBox:
    return SecretBox([vk_settings.security.master_key.get_secret_value()])


@dataclass
class Shop:
    tenant_id: int
    channel_id: int


async def make_vk_channel(db, secrets: SecretBox, token: str, *, slug: str = "shop",
                          kind: ChannelKind = ChannelKind.VK_COMMUNITY, external_id: str = str(GROUP)) -> Shop:
    async with db.unit_of_work() as session:
        from core.models import Tenant

        tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
        if tenant is None:
            tenant = await create_tenant(session, slug=slug, name="Магазин")
            await session.flush()
        channel_id = await channel_service.add_channel(session, secrets, tenant_id=tenant.id, kind=kind,
                                                       external_id=external_id, title="Магазин «Тест»",
                                                       credentials=token)
        return Shop(tenant.id, channel_id)


@pytest.fixture
async def shop(db, secrets, vk) -> Shop:
    return await make_vk_channel(db, secrets, vk.token)


class RecordingQueue:
    """A real in-process taskiq queue whose handlers note what they were asked to do."""

    def __init__(self):
        self.calls: dict[str, list[dict]] = defaultdict(list)
        self.queue = TaskiqQueue(build_broker(None))
        for name in (inbox.MIRROR_MESSAGE, inbox.SUGGEST_REPLY, inbox.MIRROR_EDIT, inbox.REFRESH_CARDS):
            self.queue.register(name, self._handler(name))

    def _handler(self, name):
        async def handle(**kwargs):
            self.calls[name].append(kwargs)
        return handle


@pytest.fixture
async def tasks():
    recording = RecordingQueue()
    await recording.queue.startup()
    yield recording
    await recording.queue.shutdown()


# What my.telegram.org hands out: any values do for the stand-in, which checks neither.
TELEGRAM_API_ID = 12345
TELEGRAM_API_HASH = "0123456789abcdef0123456789abcdef"


def mtproto_settings(settings: Settings, sandbox: MTProtoSandbox, **overrides) -> Settings:
    """Settings whose Telegram accounts connect to this MTProto stand-in instead of Telegram's data centres."""
    return settings.model_copy(update={**overrides, "telegram": settings.telegram.model_copy(update={
        "telegram_api_id": TELEGRAM_API_ID, "telegram_api_hash": SecretStr(TELEGRAM_API_HASH),
        "telegram_mtproto_address": sandbox.address, "telegram_mtproto_public_key": sandbox.public_key})})


@pytest.fixture
async def mtproto():
    sandbox = MTProtoSandbox()
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
def tg_settings(settings: Settings, mtproto: MTProtoSandbox) -> Settings:
    return mtproto_settings(settings, mtproto)


@pytest.fixture
def tg_secrets(settings: Settings) -> SecretBox:
    return SecretBox([settings.security.master_key.get_secret_value()])


@pytest.fixture
async def tenant_of_shop(db) -> int:
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        await session.flush()
        return tenant.id
