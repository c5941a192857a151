"""The userbots component inside `salesop run`: the gateway is offered to the dispatcher, every live channel gets
realtime ingest, channels added while running start without a restart, a revoked one stops."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.models import ChannelAccount, ChannelKind, ChannelStatus, Message
from salesop.context import app_context
from userbots import component
from userbots.gateway import UserbotGateway

from .conftest import GROUP, make_vk_channel
from .test_vk_realtime import eventually


async def test_component_runs_every_live_channel_and_picks_up_new_ones(vk, vk_settings, secrets, db):
    await make_vk_channel(db, secrets, vk.token)
    async with app_context(vk_settings) as ctx:
        component.install(ctx)
        assert isinstance(ctx.services["channel_gateway"], UserbotGateway)
        assert "telegram_login" not in ctx.services  # no api_id/api_hash configured
        await ctx.queue.startup()
        stop = asyncio.Event()
        running = asyncio.create_task(component.run(ctx, stop))
        try:
            await eventually(lambda: _listening(vk, 1))
            await vk.sandbox.user_writes(GROUP, 500_000_050, "Добрый день!")
            await eventually(lambda: _stored(db, "Добрый день!"))

            # a second community connected while running
            second_group = GROUP + 1
            token = vk.sandbox.add_community(second_group, "Второй магазин")
            await make_vk_channel(db, secrets, token, external_id=str(second_group))
            await ctx.services["userbots"].channel_added(0)
            await eventually(lambda: _running(ctx, 2))
            await eventually(lambda: _listening(vk, 2))
            await vk.sandbox.user_writes(second_group, 500_000_051, "Здравствуйте")
            await eventually(lambda: _stored(db, "Здравствуйте"))

            # a Telegram account without api_id/api_hash says why it does not run
            async with db.unit_of_work() as session:
                tg = ChannelAccount(tenant_id=1, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="42", title="Аккаунт",
                                    credentials_enc=secrets.encrypt("1session"), update_state={}, settings={})
                session.add(tg)
            await ctx.services["userbots"].channel_added(0)
            await eventually(lambda: _status(db, tg.id, ChannelStatus.ERROR))
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
            await ctx.queue.shutdown()
        assert ctx.services["userbots"].running == {}


async def _listening(vk, communities: int) -> bool:
    return len([c for c in vk.sandbox._communities.values() if c.lp.key]) >= communities and \
        vk.sandbox.stats["longpoll_requests"] >= communities


async def _running(ctx, n: int) -> bool:
    return len(ctx.services["userbots"].running) == n


async def _stored(db, text: str) -> bool:
    async with db.unit_of_work() as session:
        return (await session.execute(select(Message.id).where(Message.text == text))).first() is not None


async def _status(db, channel_id: int, status: ChannelStatus) -> bool:
    async with db.unit_of_work() as session:
        return (await session.get(ChannelAccount, channel_id)).status == status
