"""With several replicas, a Telegram account's replies leave only through the replica holding its session (the
channel's lease, core.leases): a reply claimed by another replica is handed over at once — queued again with no
attempt used and no shared block — and the holder delivers it, once. Against the MTProto stand-in."""

from __future__ import annotations

from sqlalchemy import select

from core import outbox
from core.clock import SystemClock
from core.dispatcher import Dispatcher
from core.models import CommandState, Dialog, OutboxCommand
from core.ratelimit import LocalRateLimiter
from core.services.workspace.base import Kind
from core.commands import CommandKinds
from core.services.workspace.commands import WorkspaceCommands
from core.services.workspace.kinds import workspace_kinds
from tests.waiting import wait_for
from userbots.gateway import UserbotGateway
from userbots.telegram.client import TelegramAccounts

from .test_telegram_mtproto import connected, running, until_stored  # noqa: F401 (connected is a fixture)


async def _command(db, command_id: int) -> OutboxCommand:
    async with db.unit_of_work() as session:
        return await session.get(OutboxCommand, command_id)


async def test_a_reply_claimed_by_a_replica_without_the_session_is_delivered_by_the_holder(
        db, tg_secrets, tg_settings, mtproto, connected, tasks, tmp_path):  # noqa: F811
    owner, customer, channel_id = connected
    limiter = LocalRateLimiter(time_scale=1000.0)  # shared by both, as Redis shares it between processes

    def replica(accounts: TelegramAccounts) -> Dispatcher:
        gateway = UserbotGateway(db, tg_secrets, tg_settings, telegram=accounts)
        return Dispatcher(db, limiter=limiter, executor=WorkspaceCommands(CommandKinds(*workspace_kinds(tmp_path))),
                          gateway=lambda: gateway, clock=SystemClock())

    elsewhere = replica(TelegramAccounts(db))  # runs no Telegram account: another replica holds its lease
    holder_accounts = TelegramAccounts(db)
    holder = replica(holder_accounts)
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id) as account:
        holder_accounts.add(account)
        await mtproto.customer_writes(owner, customer, "Когда привезёте?")
        await until_stored(db, channel_id, 1)
        async with db.unit_of_work() as session:
            dialog = (await session.execute(select(Dialog).where(Dialog.channel_id == channel_id))).scalar_one()
            command = await outbox.enqueue(
                session, kind=Kind.SEND_CUSTOMER, destination=outbox.channel_dest(channel_id),
                payload={"dialog_id": dialog.id, "text": "Завтра до обеда"}, idempotency_key="reply:replicas",
                tenant_id=dialog.tenant_id, dialog_id=dialog.id)
            command_id = command.id

        # The replica without the session claims it first: it hands it over, it does not send nor fail it.
        await elsewhere._cycle()
        await elsewhere._finish()
        handed = await _command(db, command_id)
        assert elsewhere.stats.elsewhere == 1 and elsewhere.stats.rate_limited == 0
        assert handed.state == CommandState.QUEUED and handed.attempts == 0  # no attempt used up
        assert handed.not_before <= SystemClock().now()  # due now: no waiting out a block
        assert [m for m in mtproto.messages(owner, customer) if m["out"]] == []
        await elsewhere._cycle()  # it stays away from that channel for a while
        assert (await _command(db, command_id)).state == CommandState.QUEUED

        # The holder takes it at its next look and delivers it once.
        async def delivered():
            await holder._cycle()
            await holder._finish()
            return (await _command(db, command_id)).state == CommandState.DONE

        await wait_for(delivered, "the holder delivered the reply", timeout=30)
        out = [m["text"] for m in mtproto.messages(owner, customer) if m["out"]]
        assert out == ["Завтра до обеда"]
        done = await _command(db, command_id)
        assert done.attempts == 1 and done.unconfirmed_sends == 0 and done.sending_since is None
