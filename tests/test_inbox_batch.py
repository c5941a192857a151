"""Live messages that arrive together share one transaction (core.inbox.receive_many, userbots.live.LiveIngest) —
and still are recorded exactly as one by one: once each, in each chat's order, with their follow-ups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core import followups, inbox
from core.errors import NotFound
from core.inbox import InboundAttachment, InboundMessage, Sender
from core.models import (
    Attachment,
    AttachmentKind,
    ChannelAccount,
    ChannelKind,
    Customer,
    Dialog,
    DialogStatus,
    Direction,
    FollowUp,
    Message,
    ProcessedUpdate,
    Suggestion,
    SuggestionState,
)
from core.services.tenants import create_tenant
from userbots.live import LiveIngest

from .statements import counting_statements

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class RecordingQueue:
    """The task queue as LiveIngest uses it: what was handed over, in order (no worker runs here)."""

    def __init__(self):
        self.enqueued: list[tuple[str, dict]] = []

    async def enqueue(self, name: str, **kwargs) -> None:
        self.enqueued.append((name, kwargs))


async def _channel(db) -> tuple[int, int]:
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77")
        session.add(channel)
        await session.flush()
        return tenant.id, channel.id


def _msg(channel_id, ext, user="501", text=None, at=0, **kw) -> InboundMessage:
    return InboundMessage(channel_id=channel_id, external_chat_id=user, external_id=ext,
                          sender=Sender(external_user_id=user, first_name=f"Клиент {user}"),
                          sent_at=T0 + timedelta(seconds=at), text=text or f"{user}:{ext}", **kw)


async def _texts(db) -> dict[str, list[str]]:
    """Each chat's messages in id order."""
    async with db.unit_of_work() as session:
        rows = (await session.execute(
            select(Dialog.external_chat_id, Message.text).join(Dialog, Dialog.id == Message.dialog_id)
            .order_by(Message.id))).all()
    out: dict[str, list[str]] = {}
    for chat, text in rows:
        out.setdefault(chat, []).append(text)
    return out


async def test_receive_many_matches_one_by_one(db):
    """Known dialogs (the bulk statement), a new dialog written twice, a replay and a copy within the batch, an
    attachment: each message once, each chat in order, counters and follow-ups as one by one."""
    tenant_id, channel_id = await _channel(db)
    async with db.unit_of_work() as session:
        for user in ("1", "2"):
            await inbox.receive(session, _msg(channel_id, f"{user}-0", user=user))
    async with db.unit_of_work() as session:
        dialog_1 = (await session.execute(select(Dialog).where(Dialog.external_chat_id == "1"))).scalar_one()
        dialog_1.status = DialogStatus.RESOLVED
        message_id = (await session.execute(select(Message.id).where(Message.dialog_id == dialog_1.id))).scalar_one()
        pending = Suggestion(tenant_id=tenant_id, dialog_id=dialog_1.id, message_id=message_id, text="черновик",
                             state=SuggestionState.PENDING)
        session.add(pending)
        await session.flush()
        pending_id = pending.id
    batch = [
        _msg(channel_id, "2-1", user="2", at=1),
        _msg(channel_id, "1-1", user="1", at=2,
             attachments=(InboundAttachment(AttachmentKind.PHOTO, mime="image/jpeg"),)),
        _msg(channel_id, "3-1", user="3", at=3),  # opens a dialog
        _msg(channel_id, "1-2", user="1", at=4),
        _msg(channel_id, "3-2", user="3", at=5),  # into the dialog opened just before
        _msg(channel_id, "1-0", user="1", at=6),  # a replay of what is recorded
        _msg(channel_id, "2-1", user="2", at=7),  # a copy of one in this batch
        _msg(channel_id, "2-2", user="2", at=8),
    ]
    async with db.unit_of_work() as session:
        received = await inbox.receive_many(session, batch)
    assert [r.created for r in received] == [True, True, True, True, True, False, False, True]
    assert [r.new_dialog for r in received][:5] == [False, False, True, False, False]
    assert received[2].dialog_id == received[4].dialog_id
    assert received[1].outdated_suggestion_ids == [pending_id] and received[3].outdated_suggestion_ids == []
    assert received[1].follow_ups == [
        (inbox.MIRROR_MESSAGE, {"message_id": received[1].message_id}),
        (inbox.REFRESH_CARDS, {"suggestion_ids": [pending_id]}),
        (inbox.SUGGEST_REPLY, {"message_id": received[1].message_id}),
    ]
    assert received[5].follow_ups == [] and received[6].follow_ups == []
    assert await _texts(db) == {"1": ["1:1-0", "1:1-1", "1:1-2"], "2": ["2:2-0", "2:2-1", "2:2-2"],
                                "3": ["3:3-1", "3:3-2"]}
    async with db.unit_of_work() as session:
        dialogs = {d.external_chat_id: d for d in (await session.execute(select(Dialog))).scalars()}
        assert {c: (d.message_count, d.unread_count) for c, d in dialogs.items()} == {
            "1": (3, 3), "2": (3, 3), "3": (2, 2)}
        assert dialogs["1"].status == DialogStatus.ACTIVE  # a customer writing again reopens it
        assert dialogs["1"].last_customer_message_at == T0 + timedelta(seconds=4)
        assert dialogs["2"].last_message_at == T0 + timedelta(seconds=8)
        assert (await session.get(Suggestion, pending_id)).state == SuggestionState.OUTDATED
        assert (await session.execute(select(func.count()).select_from(Customer))).scalar_one() == 3
        attachments = (await session.execute(select(Attachment))).scalars().all()
        assert [a.message_id for a in attachments] == [received[1].message_id]
        staged = {(f.kind, f.key) for f in (await session.execute(select(FollowUp))).scalars()}
    asked = {(name, followups.key_of(payload)) for r in received for name, payload in r.follow_ups}
    assert asked <= staged


async def test_live_ingest_batches_what_arrives_together(db):
    """60 chats writing at once: far fewer transactions than messages, each caller gets its own message, replays
    (same event id) are recorded once, and every follow-up is handed over after the commit."""
    _, channel_id = await _channel(db)
    queue = RecordingQueue()
    live = LiveIngest(db, queue)
    for round_ in range(3):
        results = await asyncio.gather(*(
            live.message(_msg(channel_id, f"{user}-{round_}", user=str(user), at=round_),
                         dedup=("vk", f"{user}:{round_}"))
            for user in range(60)))
        assert [r.message_id is not None for r in results] == [True] * 60
        assert len({r.message_id for r in results}) == 60
    assert live.transactions < 3 * 60 / 5
    again = await asyncio.gather(*(live.message(_msg(channel_id, f"{user}-2", user=str(user), at=2),
                                                dedup=("vk", f"{user}:2")) for user in range(60)))
    assert again == [None] * 60  # the event ids are known: nothing happens
    texts = await _texts(db)
    assert texts == {str(user): [f"{user}:{user}-{n}" for n in range(3)] for user in range(60)}
    mirrored = [p["message_id"] for name, p in queue.enqueued if name == inbox.MIRROR_MESSAGE]
    assert len(mirrored) == len(set(mirrored)) == 180
    async with db.unit_of_work() as session:
        assert (await session.execute(select(func.count()).select_from(ProcessedUpdate))).scalar_one() == 180


async def test_a_lone_message_is_not_delayed_and_order_is_kept(db):
    """One chat writing message after message (each awaited): every one is recorded before the call returns."""
    _, channel_id = await _channel(db)
    live = LiveIngest(db, RecordingQueue())
    for n in range(5):
        received = await live.message(_msg(channel_id, str(n), at=n))
        assert received is not None and received.created
        assert (await _texts(db))["501"][-1] == f"501:{n}"
    assert live.transactions == 5


async def test_a_bad_message_fails_alone(db):
    """An event for a channel that does not exist fails its own caller; the others in its batch are recorded."""
    _, channel_id = await _channel(db)
    live = LiveIngest(db, RecordingQueue())
    results = await asyncio.gather(
        *(live.message(_msg(channel_id, str(n), user=str(n))) for n in range(5)),
        live.message(_msg(channel_id + 999, "x", user="9")),
        *(live.message(_msg(channel_id, str(n), user=str(n))) for n in range(5, 10)),
        return_exceptions=True)
    assert isinstance(results[5], NotFound)
    assert all(isinstance(r, inbox.Received) and r.created for r in results[:5] + results[6:])
    assert sorted(await _texts(db)) == sorted(str(n) for n in range(10))


async def test_shop_messages_keep_their_own_transaction(db):
    """The shop's own message (it locks the dialog and cancels waiting replies) is not batched; it is recorded."""
    _, channel_id = await _channel(db)
    live = LiveIngest(db, RecordingQueue())
    first = await live.message(_msg(channel_id, "1"))
    own, other = await asyncio.gather(live.message(_msg(channel_id, "2", direction=Direction.OUT, at=1)),
                                      live.message(_msg(channel_id, "3", user="502", at=2)))
    assert first.created and own.created and other.created
    async with db.unit_of_work() as session:
        dialog = await session.get(Dialog, own.dialog_id)
        assert (dialog.message_count, dialog.unread_count) == (2, 0)


class _Undo(Exception):
    """Rolls a run back, so that the other way starts from the same data."""


async def _first_messages_state(session) -> dict:
    """Customers, dialogs, messages and traffic touches, named by chat and user (ids differ between runs)."""
    from core.models import CustomerIdentity, TrafficTouch

    chats = {d.id: (d.channel_id, d.external_chat_id) for d in (await session.execute(select(Dialog))).scalars()}
    users = {ci.customer_id: (ci.channel_id, ci.external_user_id)
             for ci in (await session.execute(select(CustomerIdentity))).scalars()}
    customers = {users[c.id]: (c.display_name, c.first_name, c.username) for c in
                 (await session.execute(select(Customer))).scalars() if c.id in users}
    dialogs = {chats[d.id]: (users[d.customer_id], d.message_count, d.unread_count, d.status, d.manager_group_id,
                             d.last_customer_message_at) for d in (await session.execute(select(Dialog))).scalars()}
    messages: dict[tuple, list] = {}  # each chat's in id order (across chats the batch goes by dialog)
    for m in (await session.execute(select(Message).order_by(Message.id))).scalars():
        messages.setdefault(chats[m.dialog_id], []).append((m.external_id, m.text))
    touches = sorted((users[t.customer_id], t.source, t.medium, t.campaign, t.ref, "copied_from" in (t.raw or {}))
                     for t in (await session.execute(select(TrafficTouch))).scalars())
    orphans = (await session.execute(select(func.count()).select_from(Customer)
                                     .where(Customer.id.not_in(list(users) or [0])))).scalar_one()
    return {"customers": customers, "dialogs": dialogs, "messages": messages, "touches": touches,
            "orphans": orphans}


async def test_first_messages_in_one_batch_match_one_by_one(db):
    """Customers' first messages (new customers, new dialogs; one customer known on another Telegram channel of the
    tenant with a touch there; a campaign code in one) recorded together make the customers, dialogs, messages,
    touches and follow-ups the one-by-one path makes — in a handful of statements."""
    from sqlalchemy import update

    from core.inbox import TrafficInfo
    from core.models import Tenant

    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        vk = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77")
        tg_a = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="9001")
        tg_b = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="9002")
        session.add_all([vk, tg_a, tg_b])
        await session.flush()
        await session.execute(update(Tenant).where(Tenant.id == tenant.id)
                              .values(campaign_code_pattern=r"промокод\s+(\w+)"))
        vk_id, a_id, b_id = vk.id, tg_a.id, tg_b.id
    async with db.unit_of_work() as session:  # user 700 wrote on channel A first, through an ad
        await inbox.receive(session, _msg(a_id, "a-1", user="700", traffic=TrafficInfo(source="ads", campaign="x")))
    batch = [_msg(vk_id, "v1-1", user="1", at=1), _msg(vk_id, "v2-1", user="2", text="промокод SPRING", at=2),
             _msg(vk_id, "v1-2", user="1", at=3), _msg(b_id, "b-1", user="700", at=4),
             _msg(b_id, "b-2", user="700", at=5), _msg(b_id, "c-1", user="701", text="промокод AUTUMN", at=6),
             _msg(vk_id, "v2-1", user="2", text="промокод SPRING", at=2)]  # a copy within the batch

    async def run(work) -> dict:
        seen = {}
        try:
            async with db.unit_of_work() as session:
                with counting_statements(db.engine) as counted:
                    received = await work(session)
                seen["statements"] = counted.statements
                seen["received"] = [(r.created, r.new_dialog, [name for name, _ in r.follow_ups]) for r in received]
                seen["state"] = await _first_messages_state(session)
                seen["follow_ups"] = (await session.execute(select(func.count()).select_from(FollowUp))).scalar_one()
                raise _Undo
        except _Undo:
            pass
        return seen

    async def one_by_one(session):
        return [await inbox.receive(session, msg) for msg in batch]

    expected = await run(one_by_one)
    got = await run(lambda session: inbox.receive_many(session, batch))
    assert got["state"] == expected["state"]
    assert got["received"] == expected["received"] and got["follow_ups"] == expected["follow_ups"]
    assert [r[1] for r in got["received"]] == [True, True, False, True, False, True, False]
    touches = got["state"]["touches"]
    assert ((b_id, "700"), "ads", None, "x", None, True) in touches  # copied from channel A
    assert sum(1 for t in touches if t[3] in ("SPRING", "AUTUMN")) == 2  # the codes
    # (most of what is left: traffic.first_contact for the three that find something, as one by one)
    assert got["statements"] * 2 < expected["statements"], (got["statements"], expected["statements"])
