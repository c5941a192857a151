"""What the VK stand-in holds, read straight from its data, and the same facts read from our database — so a test
can say 'the database equals the source exactly'."""

from __future__ import annotations

from sqlalchemy import text

from sandbox.vk import VKSandbox

from .conftest import GROUP


def source_messages(sandbox: VKSandbox, group_id: int = GROUP) -> set[tuple]:
    box = sandbox._communities[group_id].mailbox
    total, peers = box.listing("all", 0, 10**9)
    out = set()
    for peer in peers:
        for c in range(box.history_len(peer)):
            m = box.history_at(peer, c)
            kinds = tuple(a["type"] for a in m.get("attachments") or ())
            out.add((str(peer), str(m["id"]), "out" if m["out"] else "in", m["text"].replace("\x00", ""), kinds))
    return out


VK_KIND = {"photo": "photo", "document": "doc", "voice": "audio_message", "video": "video", "sticker": "sticker"}


async def database_messages(db, channel_id: int) -> set[tuple]:
    async with db.unit_of_work() as session:
        rows = (await session.execute(text(
            """
            SELECT d.external_chat_id, m.external_id, m.direction, m.text,
                   coalesce(array_agg(coalesce(a.external_ref->>'type', a.kind) ORDER BY a.ordinal)
                            FILTER (WHERE a.id IS NOT NULL), '{}')
            FROM messages m JOIN dialogs d ON d.id = m.dialog_id
            LEFT JOIN attachments a ON a.message_id = m.id
            WHERE d.channel_id = :c
            GROUP BY d.external_chat_id, m.external_id, m.direction, m.text
            """), {"c": channel_id})).all()
    return {(chat, ext, direction, body, tuple(kinds)) for chat, ext, direction, body, kinds in rows}


async def consistency_problems(db, channel_id: int) -> list[str]:
    """Counters and rows that must agree whatever order history and live messages arrived in."""
    async with db.unit_of_work() as session:
        problems = []
        bad_counts = (await session.execute(text(
            """SELECT d.external_chat_id, d.message_count, count(m.id) FROM dialogs d
               LEFT JOIN messages m ON m.dialog_id = d.id WHERE d.channel_id = :c
               GROUP BY d.id HAVING d.message_count <> count(m.id) OR count(m.id) = 0"""), {"c": channel_id})).all()
        problems += [f"dialog {chat}: message_count {n} but {real} messages" for chat, n, real in bad_counts]
        orphans = (await session.execute(text(
            """SELECT count(*) FROM customers c WHERE NOT EXISTS
               (SELECT 1 FROM customer_identities i WHERE i.customer_id = c.id)"""))).scalar_one()
        if orphans:
            problems.append(f"{orphans} customers without an identity")
        return problems
