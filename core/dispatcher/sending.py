"""Sending a claimed batch: paced once more at the moment it leaves, its call prepared (and marked "about to send"
unless repeating it is harmless: a kind flagged `repeatable`, or a send through a channel whose kind takes the
command's key as its dedup key, core.channels `keyed_sends`), made through the ManagerSurface or the
ChannelGateway running now, and its answer kept the moment it comes (DELIVERED)."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import update

from ..commands import Call, ChannelGateway, GatewayAction
from ..models import CommandState, OutboxCommand
from ..ports import Delivery, DeliveryError
from ..ratelimit import BOT_KEY, TELEGRAM_BOT, uses_bot
from .base import DELIVERED, Batch, DispatcherState

log = logging.getLogger("core.dispatcher")


def sending_key(destination: str) -> str:
    return f"{destination}:sending"


class Sending(DispatcherState):
    async def _perform(self, call: Call) -> Delivery:
        if call.via == "gateway":
            gateway = self.gateway()
            if gateway is None:
                raise DeliveryError("no channel gateway is running in this deployment", code="no_gateway")
            return await _through_gateway(gateway, call)
        surface = self.surface()
        if surface is None:
            raise DeliveryError("the manager bot is not running", code="no_surface")
        return await surface.execute(call.kind, call.payload)

    async def _execute(self, batch: Batch) -> None:
        try:
            await self._execute_batch(batch)
        except Exception:
            log.exception("dispatching commands %s failed", batch.ids)
        finally:
            self._executing.difference_update(batch.ids)
            self._stages.pop(batch.ids[0], None)
            self.wake()

    async def _prepare(self, batch: Batch) -> tuple[Call | None, bool]:
        """The call to make, and whether the commands are still ours. In the same transaction the commands are
        marked "about to send" (sending_since): from its commit on, the call may reach the far side."""
        async with self.db.unit_of_work() as session:
            call = await self.executor.prepare(session, await self._reload(session, batch))
            if call is None:
                return None, True
            now = self.clock.now()
            repeatable = await self._repeatable(session, batch.commands[0].kind, call)
            marked = (await session.execute(
                update(OutboxCommand)
                .where(OutboxCommand.id.in_(batch.ids), OutboxCommand.state == CommandState.IN_FLIGHT)
                .values(sending_since=None if repeatable else now, updated_at=now)
                .returning(OutboxCommand.id)
                .execution_options(synchronize_session=False)
            )).scalars().all()
            if len(marked) < len(batch.ids):  # taken back meanwhile (this process looked dead): not ours to send
                await session.rollback()
                return call, False
        return call, True

    async def _repeatable(self, session, kind: str, call: Call) -> bool:
        """Whether making this call (of a command of `kind`) twice leaves the far side as once: a kind flagged
        `repeatable` (edits, pins, reactions and bans land on the same message or member again; corrections and
        take-backs of delivered replies), or a call through a channel whose kind takes the command's key as its own
        dedup key (core.channels `keyed_sends`: VK random_id, MTProto random_id — a repeat is refused). Posts, new
        topics and Telegram Business sends (Bot API, no key) are not: a repeat shows twice."""
        if kind in self._repeatable_kinds:
            return True
        if call.via != "gateway":
            return False
        channel = await self._channel(session, call.channel_id)
        return channel is not None and channel.keyed_sends

    async def _execute_batch(self, batch: Batch) -> None:
        destination = batch.destination
        called = False
        head = batch.ids[0]
        self._stages[head] = ("waiting for its budget", time.monotonic())
        try:
            if uses_bot(destination):
                await self.limiter.acquire(BOT_KEY, TELEGRAM_BOT)
            if batch.took_token:
                # The token was taken at claim time; requests that then left late would reach the far side bunched
                # up. Pacing the moment of sending with the same budget keeps what arrives within it.
                await self.limiter.acquire(sending_key(destination), batch.budget)
            self._stages[head] = ("preparing its call", time.monotonic())
            call, ours = await self._prepare(batch)
            if call is None or not ours:
                if call is None:
                    await self._complete(batch, Delivery(extra={"skipped": True}), skipped=True)
                else:
                    log.warning("commands %s were taken back before their call: left to their new holder", batch.ids)
                if batch.took_token:
                    await self.limiter.refund(destination, batch.budget)
                    await self.limiter.refund(sending_key(destination), batch.budget)
                return
            if call.via == "gateway":
                await self._typing_settled(batch.commands[0].dialog_id)
            called = True
            self._stages[head] = ("calling", time.monotonic())
            delivery = await asyncio.wait_for(self._perform(call), self.call_timeout)
        except DeliveryError as error:
            await self._failed(batch, error)
            return
        except Exception as exc:  # network trouble, timeouts, a bug: retried with backoff, never lost
            log.warning("commands %s: %s: %s", batch.ids, type(exc).__name__, exc)
            # No answer to a call that left (a timeout, a bug after sending): it may have arrived.
            await self._failed(batch, DeliveryError(f"{type(exc).__name__}: {exc}"[:500], code="transient"),
                               unanswered=called)
            return
        calls = max(1, int(delivery.extra.get("api_calls", 1)))
        self.stats.api_calls[destination] = self.stats.api_calls.get(destination, 0) + calls
        if batch.took_token and calls > 1:
            await self.limiter.charge(destination, batch.budget, calls - 1)
            await self.limiter.charge(sending_key(destination), batch.budget, calls - 1)
        self._stages[head] = ("recording what its call did", time.monotonic())
        await self._delivered(batch, delivery)
        await self._complete(batch, delivery)

    async def _delivered(self, batch: Batch, delivery: Delivery) -> None:
        """The answer, kept in one statement right after it came (DELIVERED): from its commit on, a death of this
        process costs the bookkeeping a moment's delay (the recoverer records it), never a second send."""
        result = {"external_id": delivery.external_id, **delivery.extra, DELIVERED: True}

        async def keep() -> None:
            async with self.db.unit_of_work() as session:
                await session.execute(
                    update(OutboxCommand)
                    .where(OutboxCommand.id.in_(batch.ids), OutboxCommand.state == CommandState.IN_FLIGHT)
                    .values(result=result, sending_since=None, updated_at=self.clock.now())
                    .execution_options(synchronize_session=False)
                )

        await self._durably(keep, f"the answer to commands {batch.ids}")


async def _through_gateway(gateway: ChannelGateway, call: Call) -> Delivery:
    """A call of `via` "gateway": a send, or a correction or take-back of delivered messages (call.action)."""
    p = call.payload
    if call.action is GatewayAction.EDIT:
        return await _changing(gateway, "edit")(call.channel_id, call.chat_id, p["external_ids"], p["text"],
                                                previous_text=p.get("previous_text"), delivered=p.get("delivered"))
    if call.action is GatewayAction.DELETE:
        return await _changing(gateway, "delete")(call.channel_id, call.chat_id, p["external_ids"])
    return await gateway.send(call.channel_id, call.chat_id, p, idempotency_key=call.idempotency_key)


def _changing(gateway, method: str):
    """The gateway's edit or delete; a gateway without one fails the command for good, and the manager is told."""
    found = getattr(gateway, method, None)
    if found is None:
        raise DeliveryError(f"this channel gateway cannot {method} delivered messages", permanent=True,
                            code="unsupported")
    return found
