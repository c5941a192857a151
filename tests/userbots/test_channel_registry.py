"""Channel kinds are adapters registered in one place (userbots/channels): every ChannelKind has exactly one, a kind
without one stops the start (a ChannelKind nobody registered, a channel stored with a kind this code does not
know), and the supervisor and the gateway do only what the kind's adapter says — shown with a loopback adapter
that the real supervisor (lease, start, stop) and the real gateway drive without knowing what it is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from core.channels import CHANNEL_KINDS, ChannelTraits, Ingest, Registry, UnknownChannelKind
from core.inbox import InboundMessage, Sender
from core.leases import channel_lease
from core.models import ChannelAccount, ChannelKind, Message
from core.ratelimit import Budget
from core.ports import Delivery
from salesop.context import app_context
from userbots import component
from userbots.channels import ADAPTERS, ChannelAdapter
from userbots.checkpoint import ImportStopped
from userbots.gateway import UserbotGateway
from userbots.live import LiveIngest

from .conftest import make_vk_channel
from .test_vk_realtime import eventually


def test_every_channel_kind_has_one_adapter():
    ADAPTERS.check()
    assert {a.kind for a in ADAPTERS} == set(ChannelKind)
    assert set(ADAPTERS.kinds(ingest=Ingest.SESSION)) == {
        ChannelKind.VK_COMMUNITY, ChannelKind.VK_USER, ChannelKind.TELEGRAM_ACCOUNT}
    business = ADAPTERS.get(ChannelKind.TELEGRAM_BUSINESS).traits
    assert business.ingest == Ingest.BOT and not business.history and business.reply_window_hours == 24
    assert ADAPTERS.get("vk_user").kind == ChannelKind.VK_USER  # as the database stores it


def test_each_adapter_is_its_kinds_definition_and_imports_what_it_promises():
    """The adapter points at its kind's one definition (core.channels), which the dispatcher and the budgets read
    too; a kind with history has its own import (userbots/importer.py asks the adapter), one without refuses."""
    for adapter in ADAPTERS:
        assert adapter.traits is CHANNEL_KINDS.get(adapter.kind)
        if adapter.traits.history:
            assert type(adapter).import_history is not ChannelAdapter.import_history, adapter.kind


async def test_a_kind_without_history_refuses_an_import_in_words():
    with pytest.raises(ImportStopped, match="Telegram Business"):
        await ADAPTERS.get(ChannelKind.TELEGRAM_BUSINESS).import_history(None)  # type: ignore[arg-type]


def test_registering_a_kind_twice_or_no_kind_is_refused():
    registry: Registry = Registry()
    registry.register(Loopback())
    with pytest.raises(UnknownChannelKind, match="registered twice"):
        registry.register(Loopback())

    class Nowhere(ChannelAdapter):
        traits = ChannelTraits("whatsapp", "whatsapp", Ingest.SESSION, history=False,  # type: ignore[arg-type]
                               budget=Budget(1, 1.0, burst=1), topic_mark="WA")

    with pytest.raises(UnknownChannelKind, match="not a ChannelKind"):
        registry.register(Nowhere())
    with pytest.raises(UnknownChannelKind, match="'max'"):
        registry.get("max")


async def test_a_channel_kind_without_an_adapter_stops_the_start(vk_settings, monkeypatch):
    partial: Registry = Registry()
    for adapter in ADAPTERS:
        if adapter.kind != ChannelKind.TELEGRAM_BUSINESS:
            partial.register(adapter)
    monkeypatch.setattr(component, "ADAPTERS", partial)
    async with app_context(vk_settings) as ctx:
        with pytest.raises(UnknownChannelKind, match="telegram_business"):
            component.install(ctx)
        assert "channel_gateway" not in ctx.services


async def test_a_stored_channel_of_an_unknown_kind_stops_the_start(vk, vk_settings, secrets, db):
    """A channel written by a newer version (or of a kind whose module was removed) is refused at start, before
    anything runs — not left silently never running."""
    shop = await make_vk_channel(db, secrets, vk.token)
    async with db.unit_of_work() as session:  # as a newer schema would allow
        await session.execute(text("ALTER TABLE channel_accounts DROP CONSTRAINT ck_channel_accounts_channel_kind"))
        await session.execute(text(
            "INSERT INTO channel_accounts (tenant_id, kind, external_id, title, status, settings, update_state) "
            "VALUES (:tenant, 'whatsapp', '79990000000', 'WhatsApp', 'active', '{}', '{}')"), {"tenant": shop.tenant_id})
    async with app_context(vk_settings) as ctx:
        component.install(ctx)
        await ctx.queue.startup()
        try:
            with pytest.raises(UnknownChannelKind, match="whatsapp"):
                await asyncio.wait_for(component.run(ctx, asyncio.Event()), 30)
        finally:
            await ctx.queue.shutdown()
        assert ctx.services["userbots"].running == {}
    assert vk.sandbox.stats["longpoll_requests"] == 0  # the VK community was not started either


# ------------------------------------------------------------------------------------------- the seam, driven


class LoopbackChat:
    """The far side of the loopback channel: what customers write in, what the shop's replies came out as."""

    def __init__(self):
        self.incoming: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.delivered: list[tuple[int, str, str, str]] = []
        self.workers_running = 0
        self.forgotten: list[int] = []


class LoopbackWorker:
    def __init__(self, host, channel: ChannelAccount, chat: LoopbackChat):
        self.live = LiveIngest(host.db, host.queue)
        self.channel_id = channel.id
        self.chat = chat
        self.next_id = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.chat.workers_running += 1
        try:
            while not stop.is_set():
                getter = asyncio.ensure_future(self.chat.incoming.get())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait([getter, stopper], return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
                    return
                user, body = getter.result()
                self.next_id += 1
                await self.live.message(InboundMessage(
                    channel_id=self.channel_id, external_chat_id=user, external_id=f"loop-{self.next_id}",
                    sender=Sender(external_user_id=user, first_name="Лу"), sent_at=datetime.now(UTC), text=body))
        finally:
            self.chat.workers_running -= 1


class LoopbackSender:
    def __init__(self, chat: LoopbackChat):
        self.chat = chat

    async def send(self, channel_id, chat_id, payload, *, idempotency_key):
        self.chat.delivered.append((channel_id, chat_id, payload.get("text") or "", idempotency_key))
        return Delivery(external_id=f"out-{len(self.chat.delivered)}",
                        extra={"message_ids": [f"out-{len(self.chat.delivered)}"]})

    async def edit(self, channel_id, chat_id, external_ids, text, *, previous_text=None, delivered=None):
        return Delivery(external_id=external_ids[0], extra={"edited_ids": external_ids, "parts": 1,
                                                             "message_parts": len(external_ids)})

    async def delete(self, channel_id, chat_id, external_ids):
        return Delivery(external_id=external_ids[0], extra={"deleted_ids": external_ids})

    async def typing(self, channel_id, chat_id, *, stop=False):
        return None

    async def close(self):
        pass


class Loopback(ChannelAdapter):
    """A whole channel kind in one class, as a WhatsApp module would be (registered here for an existing kind,
    since a new ChannelKind needs a migration)."""

    traits = ChannelTraits(ChannelKind.VK_USER, "loopback", Ingest.SESSION, history=False,
                           budget=Budget(1, 1.0, burst=1), topic_mark="LB")

    def __init__(self, chat: LoopbackChat | None = None):
        self.chat = chat or LoopbackChat()

    def sender(self, deps):
        return LoopbackSender(self.chat)

    async def live(self, host, channel):
        return LoopbackWorker(host, channel, self.chat)

    def forget(self, host, channel_id):
        self.chat.forgotten.append(channel_id)


async def test_the_supervisor_and_the_gateway_run_any_registered_adapter(vk, vk_settings, secrets, db):
    chat = LoopbackChat()
    registry: Registry = Registry()
    registry.register(Loopback(chat))
    shop = await make_vk_channel(db, secrets, "user-token", kind=ChannelKind.VK_USER, external_id="5001")
    async with app_context(vk_settings) as ctx:
        gateway = UserbotGateway(ctx.db, ctx.secrets, ctx.settings, adapters=registry)
        supervisor = component.UserbotSupervisor(ctx, accounts=None, gateway=gateway, adapters=registry)
        await ctx.queue.startup()
        stop = asyncio.Event()
        run = asyncio.create_task(supervisor.run(stop))
        try:
            async def started():
                return shop.channel_id in supervisor.running and chat.workers_running == 1
            await eventually(started)
            assert list(supervisor.running) == [shop.channel_id]
            assert channel_lease(shop.channel_id) in supervisor.leases.held

            await chat.incoming.put(("u-1", "Здравствуйте, есть доставка?"))

            async def stored():
                async with db.unit_of_work() as session:
                    return (await session.execute(select(Message).where(Message.text == "Здравствуйте, есть доставка?"))
                            ).scalar_one_or_none()
            assert (await eventually(stored)).external_id == "loop-1"

            delivery = await gateway.send(shop.channel_id, "u-1", {"text": "Да, по всей России."},
                                          idempotency_key="k1")
            assert delivery.external_id == "out-1"
            assert chat.delivered == [(shop.channel_id, "u-1", "Да, по всей России.", "k1")]
            assert (await gateway.delete(shop.channel_id, "u-1", ["out-1"])).extra["deleted_ids"] == ["out-1"]
        finally:
            stop.set()
            await asyncio.wait_for(run, 30)
            await ctx.queue.shutdown()
        assert supervisor.running == {} and chat.workers_running == 0
        assert shop.channel_id in chat.forgotten  # the adapter dropped what it kept for the stopped channel
