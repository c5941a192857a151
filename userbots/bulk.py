"""Batched writes of history: thousands of messages per statement, with the same unique keys as core.inbox.

Live ingest (core.inbox.receive) writes one message per transaction and asks for follow-up tasks (mirror to a topic,
draft a reply). History is different: it is written in large batches (INSERT … SELECT FROM unnest(arrays), one
statement per table per batch), never mirrored into topics, and a replay — a resumed import, or a message realtime
already stored — is skipped by ON CONFLICT DO NOTHING on (channel, external user), (channel, chat) and
(dialog, message id). Dialog counters grow only by the rows actually inserted, so any number of interrupted runs
ends in the same database as one clean run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.inbox import InboundMessage, Sender
from core.models import AuthorKind, ChannelAccount, DialogStatus, Direction


@dataclass
class ConversationHistory:
    """One conversation's messages as fetched from the channel, plus the channel's read and block state."""

    external_chat_id: str
    sender: Sender
    messages: list[InboundMessage]
    read_inbox_max_id: int = 0  # incoming messages with an id up to this one were read on the channel side
    blocked: bool | None = None  # True: the customer forbade messages (VK 901); None: unknown, leave as is


@dataclass
class WriteResult:
    messages: int = 0  # rows actually inserted (replays are not counted)
    dialogs_created: int = 0
    attachments: int = 0
    per_dialog: dict[int, int] = field(default_factory=dict)


async def _raw(session: AsyncSession):
    """The asyncpg connection under the session's transaction: unnest() arrays need asyncpg's array codecs.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement; statements sent on the raw
    connection before that would run in autocommit, each committed alone. So one statement goes through SQLAlchemy
    first, and the raw connection is checked to be inside the transaction."""
    await session.execute(text("SELECT 1"))
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        raise RuntimeError("bulk writes need the session's transaction to be open")
    return raw


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _customers(conn, channel: ChannelAccount, conversations: list[ConversationHistory]) -> dict[str, int]:
    """external user id → customer id, creating customers (and identities) that do not exist yet.

    Customer ids are taken from the sequence first, so each new identity points at a known row; an identity another
    writer (realtime) created meanwhile wins, and our spare customer row is deleted — the same rule as core.inbox."""
    senders: dict[str, Sender] = {}
    for conv in conversations:
        senders.setdefault(conv.sender.external_user_id, conv.sender)
    ids = list(senders)
    rows = await conn.fetch(
        "SELECT external_user_id, customer_id FROM customer_identities "
        "WHERE channel_id = $1 AND external_user_id = ANY($2::text[])",
        channel.id, ids,
    )
    known = {r["external_user_id"]: r["customer_id"] for r in rows}
    missing = [uid for uid in ids if uid not in known]
    if not missing:
        return known
    new_ids = [r[0] for r in await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, $1)", len(missing))]
    people = [senders[uid] for uid in missing]
    await conn.execute(
        """
        INSERT INTO customers (id, tenant_id, display_name, first_name, last_name, username, profile_url, phone,
                               language, tags, memory, blocked, extra)
        SELECT u.id, $1, u.display_name, u.first_name, u.last_name, u.username, u.profile_url, u.phone, u.language,
               '{}'::varchar[], '{}'::jsonb, false, '{}'::jsonb
        FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
             AS u(id, display_name, first_name, last_name, username, profile_url, phone, language)
        """,
        channel.tenant_id, new_ids,
        [p.display_name[:255] for p in people], [_cut(p.first_name, 255) for p in people],
        [_cut(p.last_name, 255) for p in people], [_cut(p.username, 64) for p in people],
        [_cut(p.profile_url, 255) for p in people], [_cut(p.phone, 32) for p in people],
        [_cut(p.language, 8) for p in people],
    )
    won = await conn.fetch(
        """
        INSERT INTO customer_identities (customer_id, channel_id, external_user_id, username)
        SELECT u.customer_id, $1, u.external_user_id, u.username
        FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(customer_id, external_user_id, username)
        ON CONFLICT (channel_id, external_user_id) DO NOTHING
        RETURNING external_user_id, customer_id
        """,
        channel.id, new_ids, missing, [_cut(p.username, 64) for p in people],
    )
    known.update({r["external_user_id"]: r["customer_id"] for r in won})
    lost = [uid for uid in missing if uid not in known]
    if lost:
        spare = [cid for uid, cid in zip(missing, new_ids) if uid in set(lost)]
        await conn.execute("DELETE FROM customers WHERE id = ANY($1::bigint[])", spare)
        rows = await conn.fetch(
            "SELECT external_user_id, customer_id FROM customer_identities "
            "WHERE channel_id = $1 AND external_user_id = ANY($2::text[])",
            channel.id, lost,
        )
        known.update({r["external_user_id"]: r["customer_id"] for r in rows})
    return known


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value


async def _dialogs(conn, channel: ChannelAccount, conversations: list[ConversationHistory],
                   customers: dict[str, int]) -> tuple[dict[str, int], int]:
    chats = [c.external_chat_id for c in conversations]
    created = await conn.fetch(
        """
        INSERT INTO dialogs (tenant_id, customer_id, channel_id, external_chat_id, status, ai_mode, manager_group_id,
                             unread_count, message_count)
        SELECT $1, u.customer_id, $2, u.chat, 'active', 'semi_auto', $3, 0, 0
        FROM unnest($4::bigint[], $5::text[]) AS u(customer_id, chat)
        ON CONFLICT (channel_id, external_chat_id) DO NOTHING
        RETURNING id
        """,
        channel.tenant_id, channel.id, channel.manager_group_id,
        [customers[c.sender.external_user_id] for c in conversations], chats,
    )
    rows = await conn.fetch(
        "SELECT id, external_chat_id FROM dialogs WHERE channel_id = $1 AND external_chat_id = ANY($2::text[])",
        channel.id, chats,
    )
    return {r["external_chat_id"]: r["id"] for r in rows}, len(created)


async def write_history(session: AsyncSession, channel: ChannelAccount,
                        conversations: list[ConversationHistory]) -> WriteResult:
    """Persist a batch of conversations with all their messages. Conversations without messages are skipped: a
    dialog exists only once it has a message. Must run inside the caller's unit of work."""
    conversations = [c for c in conversations if c.messages]
    result = WriteResult()
    if not conversations:
        return result
    conn = await _raw(session)
    customers = await _customers(conn, channel, conversations)
    dialogs, result.dialogs_created = await _dialogs(conn, channel, conversations, customers)

    cols: dict[str, list] = defaultdict(list)
    by_key: dict[tuple[int, str], tuple[InboundMessage, bool, ConversationHistory]] = {}
    for conv in conversations:
        dialog_id = dialogs[conv.external_chat_id]
        for msg in conv.messages:
            key = (dialog_id, msg.external_id)
            if key in by_key:
                continue  # the same message twice in one fetch (a page boundary moved): keep one
            inbound = msg.direction == Direction.IN
            read = not inbound or _int_id(msg.external_id) <= conv.read_inbox_max_id
            by_key[key] = (msg, read, conv)
            cols["dialog"].append(dialog_id)
            cols["ext"].append(msg.external_id)
            cols["dir"].append(msg.direction.value)
            cols["author"].append((AuthorKind.CUSTOMER if inbound else AuthorKind.MANAGER).value)
            cols["text"].append(msg.text)
            cols["sent"].append(msg.sent_at)
            cols["reply"].append(_cut(msg.reply_to_external_id, 64))
            cols["group"].append(_cut(msg.media_group_id, 64))
            cols["read"].append(read)
    inserted = await conn.fetch(
        """
        INSERT INTO messages (tenant_id, dialog_id, external_id, direction, author_kind, text, sent_at,
                              reply_to_external_id, media_group_id, edit_count, is_imported, is_read, extra)
        SELECT $1, u.dialog_id, u.external_id, u.direction, u.author_kind, u.text, u.sent_at, u.reply, u.grp, 0, true,
               u.is_read, '{}'::jsonb
        FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[],
                    $9::text[], $10::bool[])
             AS u(dialog_id, external_id, direction, author_kind, text, sent_at, reply, grp, is_read)
        ON CONFLICT (dialog_id, external_id) DO NOTHING
        RETURNING id, dialog_id, external_id
        """,
        channel.tenant_id, cols["dialog"], cols["ext"], cols["dir"], cols["author"], cols["text"], cols["sent"],
        cols["reply"], cols["group"], cols["read"],
    )
    result.messages = len(inserted)
    if not inserted:
        return result

    att: dict[str, list] = defaultdict(list)
    touches: list[tuple[int, InboundMessage]] = []
    counters: dict[int, list] = {}
    for row in inserted:
        msg, read, conv = by_key[(row["dialog_id"], row["external_id"])]
        for ordinal, a in enumerate(msg.attachments):
            att["message"].append(row["id"])
            att["ordinal"].append(ordinal)
            att["kind"].append(a.kind.value)
            att["mime"].append(_cut(a.mime, 128))
            att["size"].append(a.size)
            att["name"].append(_cut(a.file_name, 255))
            att["ref"].append(_json(a.external_ref))
            att["width"].append(a.width)
            att["height"].append(a.height)
            att["duration"].append(a.duration)
            att["error"].append(a.error)
        if msg.traffic is not None:
            touches.append((customers[conv.sender.external_user_id], msg))
        # [count, last, last incoming, last outgoing, unread incoming]
        c = counters.setdefault(row["dialog_id"], [0, None, None, None, 0])
        c[0] += 1
        c[1] = _later(c[1], msg.sent_at)
        if msg.direction == Direction.IN:
            c[2] = _later(c[2], msg.sent_at)
            c[4] += not read
        else:
            c[3] = _later(c[3], msg.sent_at)
    if att["message"]:
        await conn.execute(
            """
            INSERT INTO attachments (message_id, ordinal, kind, mime, size, file_name, external_ref, width, height,
                                     duration, error)
            SELECT u.message_id, u.ordinal, u.kind, u.mime, u.size, u.file_name, u.external_ref::jsonb, u.width,
                   u.height, u.duration, u.error
            FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                        $8::int[], $9::int[], $10::int[], $11::text[])
                 AS u(message_id, ordinal, kind, mime, size, file_name, external_ref, width, height, duration, error)
            ON CONFLICT (message_id, ordinal) DO NOTHING
            """,
            att["message"], att["ordinal"], att["kind"], att["mime"], att["size"], att["name"], att["ref"],
            att["width"], att["height"], att["duration"], att["error"],
        )
        result.attachments = len(att["message"])

    ids = list(counters)
    await conn.execute(
        """
        UPDATE dialogs d SET
            message_count = d.message_count + u.n,
            last_message_at = greatest(d.last_message_at, u.last_at),
            last_customer_message_at = greatest(d.last_customer_message_at, u.last_in),
            last_reply_at = greatest(d.last_reply_at, u.last_out),
            unread_count = d.unread_count + u.unread,
            updated_at = now()
        FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[])
             AS u(id, n, last_at, last_in, last_out, unread)
        WHERE d.id = u.id
        """,
        ids, [counters[i][0] for i in ids], [counters[i][1] for i in ids], [counters[i][2] for i in ids],
        [counters[i][3] for i in ids], [counters[i][4] for i in ids],
    )
    result.per_dialog = {i: counters[i][0] for i in ids}

    blocked_customers = [customers[c.sender.external_user_id] for c in conversations if c.blocked]
    if blocked_customers:
        # The customer forbade messages from the business: flagged, their dialog inactive (as message_deny does).
        await conn.execute("UPDATE customers SET blocked = true WHERE id = ANY($1::bigint[])", blocked_customers)
        await conn.execute(
            "UPDATE dialogs SET status = $3 WHERE channel_id = $1 AND customer_id = ANY($2::bigint[]) AND status <> $3",
            channel.id, blocked_customers, DialogStatus.INACTIVE.value,
        )
    if touches:
        await _touches(conn, channel, touches)
    return result


def _int_id(external_id: str) -> int:
    try:
        return int(external_id)
    except ValueError:
        return 0


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


async def _touches(conn, channel: ChannelAccount, touches: list[tuple[int, InboundMessage]]) -> None:
    """Traffic marks found in imported messages. First and last touch are the earliest and latest by time, so the
    order in which history arrives does not matter."""
    await conn.execute(
        """
        INSERT INTO traffic_touches (tenant_id, customer_id, channel_kind, source, medium, campaign, content, term, ref,
                                     raw, touched_at)
        SELECT $1, u.customer_id, $2, u.source, u.medium, u.campaign, u.content, u.term, u.ref, u.raw::jsonb, u.at
        FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                    $11::timestamptz[]) AS u(customer_id, source, medium, campaign, content, term, ref, raw, at)
        """,
        channel.tenant_id, channel.kind.value, [c for c, _ in touches],
        *[[getattr(m.traffic, f) for _, m in touches] for f in ("source", "medium", "campaign", "content", "term", "ref")],
        [_json(m.traffic.raw) for _, m in touches], [m.sent_at for _, m in touches],
    )
    await conn.execute(
        """
        UPDATE customers c SET
            first_touch_id = (SELECT t.id FROM traffic_touches t WHERE t.customer_id = c.id
                              ORDER BY t.touched_at, t.id LIMIT 1),
            last_touch_id = (SELECT t.id FROM traffic_touches t WHERE t.customer_id = c.id
                             ORDER BY t.touched_at DESC, t.id DESC LIMIT 1)
        WHERE c.id = ANY($1::bigint[])
        """,
        sorted({c for c, _ in touches}),
    )
