"""The AI component as the running product uses it: the inbox's follow-up "suggest_reply" goes through the task
queue (in-process broker, and Redis Streams), the suggestion is stored, then "post_suggestion_card" is enqueued
after the commit and "refresh_customer_memory" rebuilds the customer's memory."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core import inbox
from core.ai import component
from core.ai.demo import load_demo_shop
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, Customer, Suggestion
from core.services.tenants import create_tenant
from salesop.context import app_context

from .conftest import NOON


async def _memory_refreshed(db) -> Customer:
    while True:
        async with db.unit_of_work() as session:
            customer = (await session.execute(select(Customer))).scalar_one()
        if customer.summary is not None:
            return customer
        await asyncio.sleep(0.02)


async def _run_through_queue(settings) -> tuple[Suggestion, Customer]:
    async with app_context(settings) as ctx:
        service = component.install(ctx)
        assert ctx.services["ai"] is service and service.providers.offline
        cards: asyncio.Queue = asyncio.Queue()

        async def post_suggestion_card(suggestion_id: int) -> None:
            # The bot's handler in production; here it checks the row is committed before the card is asked for.
            async with ctx.db.unit_of_work() as session:
                await cards.put(await session.get(Suggestion, suggestion_id))

        ctx.queue.register("post_suggestion_card", post_suggestion_card)
        await ctx.queue.startup()
        receiver = None
        stop = asyncio.Event()
        if not ctx.queue.in_process:
            receiver = asyncio.create_task(ctx.queue.receive(stop))
        try:
            async with ctx.db.unit_of_work() as session:
                tenant = await create_tenant(session, slug="shop", name="ТехноДом")
                channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77")
                session.add(channel)
                await session.flush()
                await load_demo_shop(session, tenant.id, service.providers.embedder)
                received = await inbox.receive(session, InboundMessage(
                    channel_id=channel.id, external_chat_id="501", external_id="1",
                    sender=Sender(external_user_id="501", first_name="Анна"), sent_at=NOON,
                    text="Сколько стоит робот-пылесос?"))
            for name, kwargs in received.follow_ups:  # what every adapter does after its commit
                await ctx.queue.enqueue(name, **kwargs)
            card = await asyncio.wait_for(cards.get(), timeout=30)
            customer = await asyncio.wait_for(_memory_refreshed(ctx.db), timeout=30)
            return card, customer
        finally:
            stop.set()
            if receiver is not None:
                await asyncio.wait_for(receiver, timeout=10)
            await ctx.queue.shutdown()


async def test_suggest_reply_task_in_process(settings):
    card, customer = await _run_through_queue(settings)
    assert "Робот-пылесос Xiaomi Robot Vacuum S10" in card.text and "24\u00a0990 ₽" in card.text
    assert customer.summary.startswith("Спрашивал(а) о: цена. Интересовался(ась) товарами: Робот-пылесос Xiaomi")
    assert customer.memory["preferences"] == ["Робот-пылесос Xiaomi Robot Vacuum S10"]


async def test_suggest_reply_task_on_redis_streams(settings, redis_url):
    on_redis = settings.model_copy(update={"redis": settings.redis.model_copy(update={"redis_url": redis_url})})
    card, _ = await _run_through_queue(on_redis)
    assert "24\u00a0990 ₽" in card.text
