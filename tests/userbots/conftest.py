"""Fixtures for the userbots: the VK stand-in served over HTTP, a tenant with a connected VK community."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest
from aiohttp import web
from sqlalchemy import select

from core import inbox
from core.crypto import SecretBox
from core.models import ChannelKind
from core.services import channels as channel_service
from core.services.tenants import create_tenant
from core.settings import Settings
from core.tasks import TaskiqQueue, build_broker
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
