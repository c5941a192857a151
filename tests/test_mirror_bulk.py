"""Mirror follow-ups that run together (core.services.workspace.mirror.mirror_many) queue exactly the outbox commands
the per-message path (mirror_message, one task after another) queues for the same messages: same kinds, payloads,
idempotency keys and order within each dialog — so coalescing, the dispatcher and the fault tests see the same
commands whichever path ran. Both paths run on the same data, each in a transaction that is rolled back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from core import inbox
from core.inbox import InboundAttachment, InboundMessage, Sender
from core.models import (
    AttachmentKind,
    ChannelAccount,
    ChannelKind,
    Dialog,
    DialogTopic,
    Direction,
    ManagerGroup,
    Message,
    OutboxCommand,
)
from core.services.tenants import create_tenant
from core.services.workspace import mirror
from core.services.workspace.base import LATE_MIRROR_WINDOW, Kind, Marker

from .statements import counting_statements

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class _Undo(Exception):
    """Rolls a path's transaction back, so that the other path starts from the same data."""


def _msg(channel_id: int, user: str, n: int, **kw) -> InboundMessage:
    return InboundMessage(channel_id=channel_id, external_chat_id=user, external_id=f"{user}-{n}",
                          sender=Sender(external_user_id=user, first_name=f"Клиент {user}"),
                          sent_at=T0 + timedelta(seconds=n), text=kw.pop("text", f"{user}:{n} " + "ж" * n), **kw)


async def _receive(db, channel_id: int, user: str, first: int, count: int, **kw) -> list[int]:
    async with db.unit_of_work() as session:
        out = []
        for n in range(first, first + count):
            out.append((await inbox.receive(session, _msg(channel_id, user, n, **kw))).message_id)
        return out


async def _setup(db) -> tuple[list[int], dict[str, int], set[str]]:
    """Dialogs in every situation the bulk path takes or hands back. Returns the batch (message ids), the dialogs by
    chat, and the chats the bulk path must take itself."""
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77")
        ready = ManagerGroup(tenant_id=tenant.id, chat_id=-1001, title="Ready", is_forum=True, missing_rights=[])
        parked = ManagerGroup(tenant_id=tenant.id, chat_id=-1002, title="Parked", is_forum=True,
                              missing_rights=["can_manage_topics"])
        session.add_all([channel, ready, parked])
        await session.flush()
        channel_id, parked_id = channel.id, parked.id
    # A first message in each chat, mirrored (its topic created in the ready group) — except "fresh", which has none.
    chats = ["plain", "media", "late", "window", "deep", "behind", "marker", "echo", "skipped", "parked", "fresh"]
    firsts = {chat: (await _receive(db, channel_id, chat, 0, 1))[0] for chat in chats}
    async with db.unit_of_work() as session:
        for chat in chats:
            if chat not in ("fresh", "parked"):
                await mirror.mirror_message(session, firsts[chat])
        dialogs = dict((await session.execute(select(Dialog.external_chat_id, Dialog.id))).all())
        # "parked": its topic (created earlier, in Telegram already) lives in a group that lost its rights; its first
    # message was never mirrored.
        await session.execute(update(Dialog).where(Dialog.id == dialogs["parked"]).values(manager_group_id=parked_id))
        session.add(DialogTopic(dialog_id=dialogs["parked"], manager_group_id=parked_id, thread_id=77, title="p"))
        # "marker": a manager answered: the customer's next message turns the topic unread (an editForumTopic).
        await session.execute(update(DialogTopic).where(DialogTopic.dialog_id == dialogs["marker"])
                              .values(status_marker=Marker.ANSWERED.value))
    batch: list[int] = []
    plain = await _receive(db, channel_id, "plain", 1, 3)
    batch += plain
    album = await _receive(db, channel_id, "media", 1, 2, media_group_id="album-1",
                           attachments=(InboundAttachment(kind=AttachmentKind.PHOTO, mime="image/jpeg", size=10),))
    batch += album + await _receive(db, channel_id, "media", 3, 1, text="")
    # "late": two messages whose own tasks are not in this batch (they run later), then one that is.
    await _receive(db, channel_id, "late", 1, 2)
    batch += await _receive(db, channel_id, "late", 3, 1)
    # "window": more not mirrored messages than one task looks back at; two tasks in the batch.
    window = await _receive(db, channel_id, "window", 1, LATE_MIRROR_WINDOW + 25)
    batch += [window[-2], window[-1]]
    # "deep": far more than the bulk query fetches for one task: it still takes the latest window.
    batch += (await _receive(db, channel_id, "deep", 1, LATE_MIRROR_WINDOW * 4))[-1:]
    # "behind": a task far behind the others of its dialog needs older messages than fetched: per message.
    behind = await _receive(db, channel_id, "behind", 1, LATE_MIRROR_WINDOW * 3 + 10)
    batch += [behind[4], behind[-1]]
    batch += await _receive(db, channel_id, "marker", 1, 2)
    # "echo": the shop wrote from its own VK account (an outgoing message with its external id) before the customer.
    await _receive(db, channel_id, "echo", 1, 1, direction=Direction.OUT)
    batch += await _receive(db, channel_id, "echo", 2, 2)
    # "skipped": one imported, one sent through us — neither shown, nor a task's own step; one plain message.
    skipped = await _receive(db, channel_id, "skipped", 1, 3)
    async with db.unit_of_work() as session:
        await session.execute(update(Message).where(Message.id == skipped[0]).values(is_imported=True))
        await session.execute(update(Message).where(Message.id == skipped[1]).values(extra={"command_id": 1}))
    batch += skipped
    batch += await _receive(db, channel_id, "parked", 1, 2)
    batch += await _receive(db, channel_id, "fresh", 1, 2)
    bulk = {"plain", "media", "late", "window", "deep", "skipped"}
    return batch, dialogs, bulk


async def _outbox_after(session, since: int) -> dict[int, list[tuple]]:
    """The commands queued after `since`, per dialog in id order, with topic ids and random key parts named by what
    they stand for (a topic created in a rolled-back transaction gets another id in the next one)."""
    topics = {tid: f"T({d},{g})" for tid, d, g in (await session.execute(
        select(DialogTopic.id, DialogTopic.dialog_id, DialogTopic.manager_group_id))).all()}

    def named(key: str) -> str:
        key = re.sub(r"^(topic:)(\d+)", lambda m: m[1] + topics[int(m[2])], key)
        key = re.sub(r"^(mirror:\d+:)(\d+)$", lambda m: m[1] + topics[int(m[2])], key)
        return re.sub(r":[0-9a-f]{32}$", ":<random>", key)

    rows = (await session.execute(select(OutboxCommand).where(OutboxCommand.id > since).order_by(OutboxCommand.id)))
    out: dict[int, list[tuple]] = {}
    for command in rows.scalars():
        payload = dict(command.payload)
        if payload.get("topic_id") is not None:
            payload["topic_id"] = topics[payload["topic_id"]]
        out.setdefault(command.dialog_id, []).append((
            command.kind, command.destination, payload, named(command.idempotency_key), command.tenant_id,
            command.suggestion_id, command.state, command.origin, command.confidence, command.intent,
            command.attempts, command.result, command.unconfirmed_sends))
    markers = {topics[t.id]: t.status_marker for t in (await session.execute(select(DialogTopic))).scalars()}
    return {"commands": out, "markers": markers}


async def _run(db, work, since: int):
    seen = {}
    try:
        async with db.unit_of_work() as session:
            with counting_statements(db.engine) as counted:
                seen["result"] = await work(session)
            seen["statements"] = counted.statements
            seen.update(await _outbox_after(session, since))
            raise _Undo
    except _Undo:
        pass
    return seen


async def _one_by_one(session, ids: list[int]) -> int:
    """The per-message path as the batch ran it before: dialogs locked in id order, then each message's task."""
    dialog_ids = (await session.execute(select(Message.dialog_id).where(Message.id.in_(ids)))).scalars().all()
    await session.execute(select(Dialog.id).where(Dialog.id.in_(dialog_ids)).order_by(Dialog.id).with_for_update())
    for message_id in sorted(ids):
        await mirror.mirror_message(session, message_id)
    return 0


async def test_bulk_mirror_queues_what_one_by_one_does(db):
    batch, dialogs, bulk = await _setup(db)
    async with db.unit_of_work() as session:
        since = (await session.execute(select(func.max(OutboxCommand.id)))).scalar_one()
    expected = await _run(db, lambda s: _one_by_one(s, batch), since)
    got = await _run(db, lambda s: mirror.mirror_many(s, list(reversed(batch))), since)

    assert got["markers"] == expected["markers"]
    assert set(got["commands"]) == set(expected["commands"])
    for dialog_id, commands in expected["commands"].items():
        assert got["commands"][dialog_id] == commands, dialog_id
    by_chat = {d: chat for chat, d in dialogs.items()}
    posts = sum(1 for rows in expected["commands"].values() for row in rows if row[0] == Kind.MIRROR)
    assert got["result"] == posts
    # The bulk path really took the common case: the per-message path spends two statements on each post of those
    # dialogs (insert, read back) and about seven on each task; the bulk path a handful for all of them.
    bulk_posts = sum(1 for d, rows in expected["commands"].items() if by_chat[d] in bulk for row in rows
                     if row[0] == Kind.MIRROR)
    assert bulk_posts == 3 + 3 + 3 + 2 * LATE_MIRROR_WINDOW + LATE_MIRROR_WINDOW + 1
    assert got["statements"] + 2 * bulk_posts < expected["statements"], (got["statements"], expected["statements"])
    # …and the situations it hands back still queue what they did: a topic created, the marker changed.
    kinds = {by_chat[d]: [row[0] for row in rows] for d, rows in expected["commands"].items()}
    assert Kind.CREATE_TOPIC in kinds["fresh"] and Kind.EDIT_TOPIC in kinds["marker"]
    assert kinds["echo"].count(Kind.MIRROR) == 3 and kinds["parked"].count(Kind.MIRROR) == 3  # its first message too


async def test_bulk_mirror_redelivered_posts_nothing_twice(db):
    """A redelivered batch (the follow-ups ran, the process died before they were marked done) posts no message
    twice — and takes, like the per-message path, the older messages the window left out the first time."""
    batch, _, _ = await _setup(db)
    async with db.unit_of_work() as session:
        await mirror.mirror_many(session, batch)
        since = (await session.execute(select(func.max(OutboxCommand.id)))).scalar_one()
        first = set((await session.execute(
            select(OutboxCommand.payload["message_id"].as_integer()).where(OutboxCommand.kind == Kind.MIRROR)
        )).scalars())
    expected = await _run(db, lambda s: _one_by_one(s, batch), since)
    got = await _run(db, lambda s: mirror.mirror_many(s, batch), since)
    assert got["commands"] == expected["commands"] and got["markers"] == expected["markers"]
    again = [row[2]["message_id"] for rows in got["commands"].values() for row in rows if row[0] == Kind.MIRROR]
    assert again and not first & set(again)


async def _routed(session) -> dict:
    """Each dialog's group and its routing events' fields (ids of groups by title: both paths see the same groups)."""
    from core.models import Event

    titles = dict((await session.execute(select(ManagerGroup.id, ManagerGroup.title))).all())
    groups = {d: titles.get(g) for d, g in (await session.execute(select(Dialog.id, Dialog.manager_group_id))).all()}
    events = sorted((e.dialog_id, titles[e.payload["group_id"]], e.payload["mode"], e.payload["reason"],
                     titles.get(e.payload["previous_group_id"])) for e in (await session.execute(
                        select(Event).where(Event.kind == "dialog_routed"))).scalars())
    return {"groups": groups, "events": events}


@pytest.mark.parametrize("routing", ["round_robin", "by_channel"])
async def test_bulk_mirror_of_first_messages_routes_and_creates_topics_as_one_by_one(db, routing):
    """First messages of many dialogs (no topic yet) in one batch: routed in dialog order (round robin over the ready
    groups; by channel: to the channel's group), each topic created with its set-up commands before its posts — what
    the per-message path queues, in far fewer statements."""
    from core.models import Tenant

    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77")
        group_b = ManagerGroup(tenant_id=tenant.id, chat_id=-1002, title="B", is_forum=True, missing_rights=[])
        session.add_all([channel,
                         ManagerGroup(tenant_id=tenant.id, chat_id=-1001, title="A", is_forum=True, missing_rights=[]),
                         group_b,
                         ManagerGroup(tenant_id=tenant.id, chat_id=-1003, title="C", is_forum=True,
                                      missing_rights=["can_manage_topics"])])
        await session.flush()
        channel_id = channel.id
        if routing == "by_channel":
            channel.manager_group_id = group_b.id
            await session.execute(update(Tenant).where(Tenant.id == tenant.id).values(group_routing=routing))
    # One dialog has a topic already (group A holds one more): the round robin starts with B.
    old = await _receive(db, channel_id, "old", 0, 1)
    async with db.unit_of_work() as session:
        await mirror.mirror_message(session, old[0])
        since = (await session.execute(select(func.max(OutboxCommand.id)))).scalar_one()
    batch = []
    for n in range(7):
        batch += await _receive(db, channel_id, f"new{n}", 0, 1 + n % 3)
    batch += await _receive(db, channel_id, "old", 1, 1)

    async def with_routes(work):
        async def run(session):
            result = await work(session)
            seen["routes"] = await _routed(session)
            return result
        seen: dict = {}
        out = await _run(db, run, since)
        return out, seen["routes"]

    expected, expected_routes = await with_routes(lambda s: _one_by_one(s, batch))
    got, got_routes = await with_routes(lambda s: mirror.mirror_many(s, batch))
    assert got["commands"] == expected["commands"] and got["markers"] == expected["markers"]
    assert got_routes == expected_routes
    assert set(got_routes["groups"].values()) == ({"A", "B"} if routing == "round_robin" else {"B"})
    kinds = [row[0] for rows in got["commands"].values() for row in rows]
    assert kinds.count(Kind.CREATE_TOPIC) == 7 and kinds.count(Kind.MIRROR) == len(batch)
    assert got["result"] == len(batch)
    assert got["statements"] * 4 < expected["statements"], (got["statements"], expected["statements"])
