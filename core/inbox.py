"""Events in: every live message, edit, deletion and block from any channel lands here, in one transaction,
idempotently on (channel, chat, external id) — where "channel" is the channel's home (`home_channel`): one Telegram
account connected both as a userbot (Telethon) and as a Telegram Business connection is one world, so its two
channels share customers (keyed by the Telegram user id), dialogs (the account's private chat with the customer) and
messages (Telegram numbers an account's messages once: a business_message carries the same message id the
account's own MTProto session sees). Whichever of the two channels was registered first is the home; the other's
messages, edits, deletions and imports land in the home's dialogs, and a message arriving through both is stored
once. Side effects (mirroring to a topic, drafting a reply) are
follow-ups (core.followups) written in the same transaction as the message; after the commit the caller hands them
to the task queue at once (`Received.follow_ups`), and if it dies first the follow-up relay does.

Bulk history import uses its own batched writer (userbots/importer) with the same keys, so import and realtime
never duplicate each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from . import events, followups
from .channels import CHANNEL_KINDS
from .db import lock_dialog
from .errors import NotFound
from .models import (
    Attachment,
    AttachmentKind,
    AuthorKind,
    CampaignJoin,
    ChannelAccount,
    Customer,
    CustomerIdentity,
    Dialog,
    DialogStatus,
    Direction,
    Message,
    MessageEdit,
    Suggestion,
    SuggestionState,
    Tenant,
    TrafficTouch,
)
from .services.workspace import replies

# Task names the inbox asks for (typed in core.followups); handlers live where the work is (bot/ mirrors, core.ai
# drafts).
MIRROR_MESSAGE = followups.MIRROR_MESSAGE.name
MIRROR_EDIT = followups.MIRROR_EDIT.name
SUGGEST_REPLY = followups.SUGGEST_REPLY.name
REFRESH_CARDS = followups.REFRESH_CARDS.name


@dataclass(frozen=True)
class Sender:
    external_user_id: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    phone: str | None = None
    profile_url: str | None = None
    language: str | None = None

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        return name or (f"@{self.username}" if self.username else f"id{self.external_user_id}")


@dataclass(frozen=True)
class InboundAttachment:
    kind: AttachmentKind
    mime: str | None = None
    size: int | None = None
    file_name: str | None = None
    external_ref: dict = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    error: str | None = None  # e.g. "unknown attachment type: wall" — kept, shown, never dropped
    # set when the userbot already downloaded the file into the media store (core.media); size and mime are then
    # those of the stored bytes
    storage_key: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class TrafficInfo:
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    ref: str | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundMessage:
    channel_id: int
    external_chat_id: str
    external_id: str
    sender: Sender  # the customer (for outgoing messages too: the dialog's counterpart)
    sent_at: datetime
    text: str = ""
    direction: Direction = Direction.IN  # OUT: the business wrote from its own phone / VK interface
    attachments: tuple[InboundAttachment, ...] = ()
    reply_to_external_id: str | None = None
    media_group_id: str | None = None
    traffic: TrafficInfo | None = None


@dataclass
class Received:
    tenant_id: int
    dialog_id: int
    message_id: int | None
    created: bool  # False: a duplicate, nothing changed
    new_dialog: bool = False
    outdated_suggestion_ids: list[int] = field(default_factory=list)
    follow_ups: list[tuple[str, dict]] = field(default_factory=list)  # staged already; enqueue after the commit
    customer_id: int | None = None

    async def ask(self, session: AsyncSession, kind: followups.FollowUpKind, **payload) -> None:
        """Stage a follow-up in this transaction and list it for the caller to enqueue after the commit."""
        await self.ask_all(session, [(kind, payload)])

    async def ask_all(self, session: AsyncSession, asked: list[tuple[followups.FollowUpKind, dict]]) -> None:
        """`ask` for several follow-ups in one statement."""
        await followups.stage_many(session, asked, tenant_id=self.tenant_id)
        self.follow_ups.extend((kind.name, payload) for kind, payload in asked)


# Channel kinds that are one Telegram account seen two ways (external_id: the account's Telegram user id in both).
SHARED_ACCOUNT_KINDS = CHANNEL_KINDS.kinds(where=lambda traits: traits.shares_account)


def home_of(channel_id: int):
    """The id of the channel whose customers and dialogs `channel_id` uses, as a scalar subquery: itself, or — for a
    Telegram account also connected the other way in the same tenant — the first registered of the two (the lowest
    id: it never changes while both exist, so a dialog never moves)."""
    channel, sibling = aliased(ChannelAccount), aliased(ChannelAccount)
    first = (select(func.min(sibling.id))
             .where(sibling.tenant_id == channel.tenant_id, sibling.external_id == channel.external_id,
                    sibling.kind.in_(SHARED_ACCOUNT_KINDS))
             .correlate(channel).scalar_subquery())
    return (select(case((channel.kind.in_(SHARED_ACCOUNT_KINDS), first), else_=channel.id))
            .where(channel.id == channel_id).scalar_subquery())


async def home_channel_id(session: AsyncSession, channel_id: int) -> int:
    home = (await session.execute(select(home_of(channel_id)))).scalar_one_or_none()
    if home is None:
        raise NotFound(f"no channel {channel_id}")
    return home


async def account_channels(session: AsyncSession, channel_id: int) -> list[ChannelAccount]:
    """Every channel of the same Telegram account in the same tenant (the channel itself included), oldest first;
    for other kinds just the channel."""
    channel = await _channel(session, channel_id)
    if channel.kind not in SHARED_ACCOUNT_KINDS:
        return [channel]
    return list((await session.execute(
        select(ChannelAccount).where(ChannelAccount.tenant_id == channel.tenant_id,
                                     ChannelAccount.external_id == channel.external_id,
                                     ChannelAccount.kind.in_(SHARED_ACCOUNT_KINDS))
        .order_by(ChannelAccount.id)
    )).scalars())


async def _channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    channel = await session.get(ChannelAccount, channel_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}")
    return channel


async def upsert_customer(session: AsyncSession, channel: ChannelAccount, sender: Sender, *,
                          found: int | None = None) -> int:
    """The customer behind a channel identity, created on first sight. Concurrent first messages yield one row.
    `found`: the customer the caller already looked up."""
    if found is None:
        found = (
            await session.execute(
                select(CustomerIdentity.customer_id).where(
                    CustomerIdentity.channel_id == channel.id,
                    CustomerIdentity.external_user_id == sender.external_user_id,
                )
            )
        ).scalar_one_or_none()
    if found is not None:
        return found
    customer = Customer(
        tenant_id=channel.tenant_id,
        display_name=sender.display_name[:255],
        first_name=sender.first_name,
        last_name=sender.last_name,
        username=sender.username,
        phone=sender.phone,
        profile_url=sender.profile_url,
        language=sender.language,
    )
    session.add(customer)
    await session.flush()
    won = (
        await session.execute(
            insert(CustomerIdentity)
            .values(customer_id=customer.id, channel_id=channel.id, external_user_id=sender.external_user_id,
                    username=sender.username)
            .on_conflict_do_nothing(index_elements=["channel_id", "external_user_id"])
            .returning(CustomerIdentity.customer_id)
        )
    ).scalar_one_or_none()
    if won is not None:
        return won
    # Another transaction created the identity first: use its customer, drop ours.
    await session.delete(customer)
    return (
        await session.execute(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.channel_id == channel.id,
                CustomerIdentity.external_user_id == sender.external_user_id,
            )
        )
    ).scalar_one()


async def upsert_dialog(session: AsyncSession, channel: ChannelAccount, external_chat_id: str,
                        customer_id: int) -> tuple[int, bool]:
    """The dialog's id and whether this transaction created it; concurrent first messages yield one row. Looked up
    first: almost every message belongs to a dialog that exists (one statement instead of two)."""
    existing = (
        await session.execute(
            select(Dialog.id).where(Dialog.channel_id == channel.id, Dialog.external_chat_id == external_chat_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    created = (
        await session.execute(
            insert(Dialog)
            .values(tenant_id=channel.tenant_id, customer_id=customer_id, channel_id=channel.id,
                    external_chat_id=external_chat_id, manager_group_id=channel.manager_group_id)
            .on_conflict_do_nothing(index_elements=["channel_id", "external_chat_id"])
            .returning(Dialog.id)
        )
    ).scalar_one_or_none()
    if created is not None:
        return created, True
    existing = (
        await session.execute(
            select(Dialog.id).where(Dialog.channel_id == channel.id, Dialog.external_chat_id == external_chat_id)
        )
    ).scalar_one()
    return existing, False


async def _record_touch(session: AsyncSession, channel: ChannelAccount, customer_id: int, traffic: TrafficInfo,
                        at: datetime) -> None:
    touch = TrafficTouch(
        tenant_id=channel.tenant_id, customer_id=customer_id, channel_kind=channel.kind, source=traffic.source,
        medium=traffic.medium, campaign=traffic.campaign, content=traffic.content, term=traffic.term,
        ref=traffic.ref, raw=traffic.raw, touched_at=at,
    )
    session.add(touch)
    await session.flush()
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(first_touch_id=func.coalesce(Customer.first_touch_id, touch.id), last_touch_id=touch.id)
    )


async def receive(session: AsyncSession, msg: InboundMessage) -> Received:
    """Persist one live message. A replay of the same (home channel, chat, external id) changes nothing — nor does
    the same Telegram message arriving through the account's other channel."""
    return (await receive_many(session, [msg]))[0]


# What `_known_many` reads for each message: the home channel (`home_of`), and the customer and dialog the message
# belongs to when they exist — for a whole batch in one statement.
_KNOWN_MANY = text(f"""
SELECT v.i, h.home,
       (SELECT ci.customer_id FROM customer_identities ci WHERE ci.channel_id = h.home AND ci.external_user_id = v.u),
       (SELECT d.id FROM dialogs d WHERE d.channel_id = h.home AND d.external_chat_id = v.c)
FROM unnest(CAST(:channels AS bigint[]), CAST(:users AS varchar[]), CAST(:chats AS varchar[]))
     WITH ORDINALITY AS v(ch, u, c, i)
JOIN LATERAL (
    SELECT CASE WHEN ca.kind IN ({", ".join(f"'{k.value}'" for k in SHARED_ACCOUNT_KINDS)})
                THEN (SELECT min(s.id) FROM channel_accounts s
                      WHERE s.tenant_id = ca.tenant_id AND s.external_id = ca.external_id
                        AND s.kind IN ({", ".join(f"'{k.value}'" for k in SHARED_ACCOUNT_KINDS)}))
                ELSE ca.id END AS home
    FROM channel_accounts ca WHERE ca.id = v.ch
) h ON true
""")


async def _known_many(session: AsyncSession, msgs: list[InboundMessage]) -> list[tuple[ChannelAccount, int | None,
                                                                                        int | None]]:
    """`_known` for several messages: two statements whatever their number (the lookup, then the home channels)."""
    rows = (await session.execute(_KNOWN_MANY, {
        "channels": [m.channel_id for m in msgs],
        "users": [m.sender.external_user_id for m in msgs],
        "chats": [m.external_chat_id for m in msgs],
    })).all()
    found = {row[0]: (row[1], row[2], row[3]) for row in rows}
    missing = [m.channel_id for i, m in enumerate(msgs, 1) if i not in found]
    if missing:
        raise NotFound(f"no channel {missing[0]}")
    homes = {home for home, _, _ in found.values()}
    channels = {c.id: c for c in (await session.execute(
        select(ChannelAccount).where(ChannelAccount.id.in_(homes)))).scalars()}
    return [(channels[found[i][0]], found[i][1], found[i][2]) for i in range(1, len(msgs) + 1)]


_PARAMS: dict[str, object] = {}


def _param(name: str, column) -> object:
    """One bound parameter per name (typed as its column), shared by the prebuilt statements below."""
    if name not in _PARAMS:
        # (prefixed: a parameter named like a column of an UPDATE in the statement would be taken as a new value)
        _PARAMS[name] = bindparam(f"in_{name}", type_=column.type)
    return _PARAMS[name]


_INBOUND_STATEMENT = None


def _inbound_statement():
    """The customer's message, its dialog's counters and the drafts it outdates, in one statement (a newer customer
    message makes pending drafts stale: they can no longer be sent as they are); a replay inserts nothing and so
    changes nothing. Built once: constructing a statement with CTEs costs more CPU than running it."""
    global _INBOUND_STATEMENT
    if _INBOUND_STATEMENT is not None:
        return _INBOUND_STATEMENT
    m = Message.__table__.c
    dialog_id, sent_at = _param("dialog_id", m.dialog_id), _param("sent_at", m.sent_at)
    new = (insert(Message)
           .values(tenant_id=_param("tenant_id", m.tenant_id), dialog_id=dialog_id,
                   external_id=_param("external_id", m.external_id), direction=Direction.IN,
                   author_kind=AuthorKind.CUSTOMER, text=_param("text", m.text), sent_at=sent_at,
                   reply_to_external_id=_param("reply_to_external_id", m.reply_to_external_id),
                   media_group_id=_param("media_group_id", m.media_group_id), is_read=False,
                   edit_count=0, is_imported=False, extra={})  # (column defaults do not apply inside a WITH)
           .on_conflict_do_nothing(index_elements=["dialog_id", "external_id"])
           .returning(Message.id)).cte("inserted")
    happened = select(new.c.id).exists()
    touched = update(Dialog).where(Dialog.id == dialog_id, happened).values(
        message_count=Dialog.message_count + 1,
        last_message_at=func.greatest(func.coalesce(Dialog.last_message_at, sent_at), sent_at),
        unread_count=Dialog.unread_count + 1,
        last_customer_message_at=sent_at,
        # A customer writing again reopens a resolved, waiting or inactive dialog; an escalation stays escalated.
        status=case(
            (Dialog.status.in_([DialogStatus.RESOLVED, DialogStatus.WAITING, DialogStatus.INACTIVE]),
             DialogStatus.ACTIVE),
            else_=Dialog.status,
        ),
    ).returning(Dialog.id).cte("touched")
    stale = (update(Suggestion)
             .where(Suggestion.dialog_id == dialog_id, Suggestion.state == SuggestionState.PENDING, happened)
             .values(state=SuggestionState.OUTDATED).returning(Suggestion.id).cte("stale"))
    _INBOUND_STATEMENT = (select(select(new.c.id).scalar_subquery(),
                                 select(func.array_agg(stale.c.id)).scalar_subquery())
                          .add_cte(touched))
    return _INBOUND_STATEMENT


# Customers' messages into dialogs that exist, all in one statement: the messages (in the order given: ids follow
# it), each dialog's counters once for all its new messages, and the pending drafts they outdate. Replays (a
# (dialog, external id) already there, or twice in the batch) insert nothing and so change nothing.
_INBOUND_MANY = text(f"""
WITH v AS (
    SELECT * FROM unnest(CAST(:tenants AS bigint[]), CAST(:dialogs AS bigint[]), CAST(:external_ids AS varchar[]),
                         CAST(:texts AS varchar[]), CAST(:sent AS timestamptz[]), CAST(:replies AS varchar[]),
                         CAST(:groups AS varchar[]))
                  WITH ORDINALITY AS v(tenant_id, dialog_id, external_id, text, sent_at, reply_to, media_group_id, i)
), inserted AS (
    INSERT INTO messages (tenant_id, dialog_id, external_id, direction, author_kind, text, sent_at,
                          reply_to_external_id, media_group_id, is_read, edit_count, is_imported, extra)
    SELECT tenant_id, dialog_id, external_id, '{Direction.IN.value}', '{AuthorKind.CUSTOMER.value}', text, sent_at,
           reply_to, media_group_id, false, 0, false, '{{}}'::jsonb
    FROM v ORDER BY i
    ON CONFLICT (dialog_id, external_id) DO NOTHING
    RETURNING id, dialog_id, external_id, sent_at
), per_dialog AS (
    SELECT dialog_id, count(*) AS n, max(sent_at) AS last FROM inserted GROUP BY dialog_id
), touched AS (
    UPDATE dialogs d SET message_count = d.message_count + p.n, unread_count = d.unread_count + p.n,
        last_message_at = greatest(coalesce(d.last_message_at, p.last), p.last),
        last_customer_message_at = p.last,
        status = CASE WHEN d.status IN ('{DialogStatus.RESOLVED.value}', '{DialogStatus.WAITING.value}',
                                        '{DialogStatus.INACTIVE.value}')
                      THEN '{DialogStatus.ACTIVE.value}' ELSE d.status END,
        updated_at = now()
    FROM per_dialog p WHERE d.id = p.dialog_id
    RETURNING d.id
), stale AS (
    UPDATE suggestions s SET state = '{SuggestionState.OUTDATED.value}'
    FROM per_dialog p WHERE s.dialog_id = p.dialog_id AND s.state = '{SuggestionState.PENDING.value}'
    RETURNING s.id, s.dialog_id
)
SELECT i.id, i.dialog_id, i.external_id,
       (SELECT array_agg(st.id ORDER BY st.id) FROM stale st WHERE st.dialog_id = i.dialog_id),
       (SELECT count(*) FROM touched)
FROM inserted i ORDER BY i.id
""")


async def _receive_known(session: AsyncSession, batch: list[tuple[InboundMessage, ChannelAccount, int, int]],
                         created_dialogs: frozenset[int] = frozenset(),
                         ) -> list[tuple[Received, list[tuple[followups.FollowUpKind, dict]]]]:
    """Customers' messages into dialogs and from customers that exist (msg, home channel, customer, dialog): one
    statement for all (`_INBOUND_MANY`), then what only some of them need (attachments, traffic). The first new
    message of a dialog in `created_dialogs` (made by this transaction) is the one that opened it."""
    rows = (await session.execute(_INBOUND_MANY, {
        "tenants": [c.tenant_id for _, c, _, _ in batch], "dialogs": [d for _, _, _, d in batch],
        "external_ids": [m.external_id for m, _, _, _ in batch], "texts": [m.text for m, _, _, _ in batch],
        "sent": [m.sent_at for m, _, _, _ in batch], "replies": [m.reply_to_external_id for m, _, _, _ in batch],
        "groups": [m.media_group_id for m, _, _, _ in batch],
    })).all()
    ids = {(row[1], row[2]): row[0] for row in rows}
    stale = {row[1]: sorted(row[3] or []) for row in rows}
    opening: set[int] = set()
    out = []
    for msg, channel, customer_id, dialog_id in batch:
        message_id = ids.pop((dialog_id, msg.external_id), None)  # a second copy in the batch: a replay
        if message_id is None:
            out.append((Received(channel.tenant_id, dialog_id, None, created=False), []))
            continue
        outdated = stale.pop(dialog_id, [])  # the drafts go with the dialog's first new message
        for ordinal, att in enumerate(msg.attachments):
            session.add(_attachment(message_id, ordinal, att))
        if msg.traffic is not None:
            await _record_touch(session, channel, customer_id, msg.traffic, msg.sent_at)
        opened = dialog_id in created_dialogs and dialog_id not in opening
        if opened:
            opening.add(dialog_id)
        out.append(_received(channel, dialog_id, message_id, customer_id, outdated, new_dialog=opened, inbound=True))
    return out


def _attachment(message_id: int, ordinal: int, att: InboundAttachment) -> Attachment:
    return Attachment(
        message_id=message_id, ordinal=ordinal, kind=att.kind, mime=att.mime, size=att.size,
        file_name=att.file_name, external_ref=att.external_ref, width=att.width, height=att.height,
        duration=att.duration, error=att.error, storage_key=att.storage_key, sha256=att.sha256,
    )


def _received(channel: ChannelAccount, dialog_id: int, message_id: int, customer_id: int, outdated: list[int], *,
              new_dialog: bool, inbound: bool) -> tuple[Received, list[tuple[followups.FollowUpKind, dict]]]:
    """A recorded message's Received and the follow-ups it asks for (listed on it; staged by the caller)."""
    received = Received(channel.tenant_id, dialog_id, message_id, created=True, new_dialog=new_dialog,
                        outdated_suggestion_ids=outdated, customer_id=customer_id)
    asked: list[tuple[followups.FollowUpKind, dict]] = [(followups.MIRROR_MESSAGE, {"message_id": message_id})]
    if outdated:
        asked.append((followups.REFRESH_CARDS, {"suggestion_ids": outdated}))
    if inbound:
        asked.append((followups.SUGGEST_REPLY, {"message_id": message_id}))
    received.follow_ups.extend((kind.name, payload) for kind, payload in asked)
    return received, asked


async def receive_many(session: AsyncSession, msgs: list[InboundMessage]) -> list[Received]:
    """`receive` for several live messages in the caller's transaction (what arrived together, core's live ingest
    batches it): one lookup for all, one statement for every customer's message (`_INBOUND_MANY`), one for every
    follow-up they ask for; the customers and dialogs that customers' first messages need are made for all of them
    at once before it (`_open_many`: a statement each for customers, identities and dialogs). Messages written from
    the shop's own account, and customers' first messages carrying traffic tags, take the one-by-one path. Each
    message's Received lists its follow-ups (staged already) for the caller to enqueue after the commit.

    Order: a chat's messages are recorded in the order given (message ids follow it). Lock order (core.db): new
    identities and dialogs are inserted in key order (a concurrent transaction making the same ones waits at the first
    it shares); the bulk statement's rows go in ascending dialog id (several dialogs' rows are locked in ascending id,
    as the mirror batches do), a stable sort; the one-by-one messages follow — into known dialogs in ascending id,
    then those opening a dialog in arrival order (nobody else can hold a row this transaction creates, and a second
    message into a new dialog comes after the one that creates it)."""
    if not msgs:
        return []
    known = await _known_many(session, msgs)
    out: list[Received | None] = [None] * len(msgs)
    staged: dict[int, list[tuple[followups.FollowUpKind, dict]]] = {}
    # A chat all of whose messages here are a customer's, into a dialog and from a customer that exist (nearly
    # every message): the bulk statement. A chat of customer's messages without traffic tags that opens a dialog
    # or comes from a new customer (a first message): its customer and dialog made for the batch at once
    # (`_open_many`), then the same bulk statement. Any other chat's messages go one by one, in the order they came.
    chats: dict[tuple[int, str], str] = {}
    for msg, (channel, customer, dialog) in zip(msgs, known, strict=True):
        key = (channel.id, msg.external_chat_id)
        if msg.direction != Direction.IN:
            path = "one"
        elif customer is None or dialog is None:
            path = "new" if msg.traffic is None else "one"
        else:
            path = "bulk"
        before = chats.get(key, path)
        chats[key] = path if before == path else "new" if {before, path} == {"bulk", "new"} else "one"
    # A sender who also writes in a chat taken one by one: all their chats one by one (a customer made there is
    # then seen by the next), as before.
    alone = {(known[i][0].id, m.sender.external_user_id) for i, m in enumerate(msgs)
             if chats[(known[i][0].id, m.external_chat_id)] == "one"}
    for i, msg in enumerate(msgs):
        key = (known[i][0].id, msg.external_chat_id)
        if chats[key] == "new" and (known[i][0].id, msg.sender.external_user_id) in alone:
            chats[key] = "one"
    opening = [i for i in range(len(msgs)) if chats[(known[i][0].id, msgs[i].external_chat_id)] == "new"]
    created_dialogs: frozenset[int] = frozenset()
    contacts: list[tuple[int, bool, bool]] = []
    if opening:
        known, created_dialogs, contacts = await _open_many(session, msgs, known, opening)
    bulk = sorted((i for i, (msg, (channel, _, _)) in enumerate(zip(msgs, known, strict=True))
                   if chats[(channel.id, msg.external_chat_id)] != "one"), key=lambda i: (known[i][2], i))
    if bulk:
        done = await _receive_known(session, [(msgs[i], known[i][0], known[i][1], known[i][2]) for i in bulk],
                                    created_dialogs)
        for i, (received, asked) in zip(bulk, done, strict=True):
            out[i] = received
            staged.setdefault(received.tenant_id, []).extend(asked)
    if contacts:
        # Campaign touches made before the first message, and a campaign code in the message opening a dialog —
        # after the message, as the one-by-one path has them (imported here: core.services.traffic uses this module).
        from .services import traffic

        for i, new_customer, new_dialog in contacts:
            if out[i] is not None and out[i].created:
                await traffic.first_contact(session, known[i][0], out[i].customer_id,
                                            external_user_id=msgs[i].sender.external_user_id, text=msgs[i].text,
                                            at=msgs[i].sent_at, new_customer=new_customer, new_dialog=new_dialog)
    rest = [i for i in range(len(msgs)) if out[i] is None]
    order = sorted(rest, key=lambda i: (known[i][2] is None, known[i][2] or 0, i))
    customers: dict[tuple[int, str], int] = {}  # created by an earlier message of this batch
    dialogs: dict[tuple[int, str], int] = {}
    for i in order:
        msg = msgs[i]
        channel, known_customer, known_dialog = known[i]
        known_customer = known_customer or customers.get((channel.id, msg.sender.external_user_id))
        known_dialog = known_dialog or dialogs.get((channel.id, msg.external_chat_id))
        received, asked = await _receive_one(session, msg, channel, known_customer, known_dialog)
        out[i] = received
        if received.created:
            customers[(channel.id, msg.sender.external_user_id)] = received.customer_id
            dialogs[(channel.id, msg.external_chat_id)] = received.dialog_id
            staged.setdefault(received.tenant_id, []).extend(asked)
    for tenant_id, asked in staged.items():  # one statement per tenant (almost always one)
        await followups.stage_many(session, asked, tenant_id=tenant_id)
    return out  # type: ignore[return-value]


async def _open_many(session: AsyncSession, msgs: list[InboundMessage], known: list[tuple], opening: list[int]
                     ) -> tuple[list[tuple], frozenset[int], list[tuple[int, bool, bool]]]:
    """The customers and dialogs the `opening` messages (customers' first messages, no traffic tags) need, made at
    once as `upsert_customer` / `upsert_dialog` make each: one insert of the new customers, one of their identities,
    one of the new dialogs (each in key order, so two transactions making the same ones wait instead of
    deadlocking); a concurrent first message that made the same identity or dialog first wins, ours is dropped.
    Returns `known` with them filled in, the dialogs this transaction created, and the messages that may need
    traffic.first_contact: (index, new customer, new dialog) — only those where it can find something (a campaign
    join or another channel's touches of the Telegram user, the tenant's code pattern matching the text)."""
    known = list(known)
    senders: dict[tuple[int, str], int] = {}  # (home channel, user) → the first message from them needing a customer
    chats: dict[tuple[int, str], int] = {}  # (home channel, chat) → the first message needing the dialog
    for i in opening:
        channel, customer, dialog = known[i]
        if customer is None:
            senders.setdefault((channel.id, msgs[i].sender.external_user_id), i)
        if dialog is None:
            chats.setdefault((channel.id, msgs[i].external_chat_id), i)
    customers: dict[tuple[int, str], int] = {}
    if senders:
        keys = sorted(senders)
        ids = (await session.execute(
            insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
            [_customer_row(known[senders[k]][0], msgs[senders[k]].sender) for k in keys],
        )).scalars().all()
        ours = dict(zip(keys, ids, strict=True))
        identities = CustomerIdentity.__table__
        won = {(row[0], row[1]): row[2] for row in (await session.execute(
            insert(identities).on_conflict_do_nothing(index_elements=["channel_id", "external_user_id"])
            .returning(identities.c.channel_id, identities.c.external_user_id, identities.c.customer_id),
            [dict(customer_id=ours[k], channel_id=k[0], external_user_id=k[1],
                  username=msgs[senders[k]].sender.username) for k in keys],
        )).all()}
        customers.update(won)
        lost = [k for k in keys if k not in won]
        if lost:  # another transaction created these identities first: use its customers, drop ours
            await session.execute(delete(Customer).where(Customer.id.in_([ours[k] for k in lost])))
            for k in lost:
                customers[k] = (await session.execute(
                    select(CustomerIdentity.customer_id).where(CustomerIdentity.channel_id == k[0],
                                                               CustomerIdentity.external_user_id == k[1])
                )).scalar_one()
    for i in opening:
        channel, customer, dialog = known[i]
        if customer is None:
            known[i] = (channel, customers[(channel.id, msgs[i].sender.external_user_id)], dialog)
    created: dict[tuple[int, str], int] = {}
    dialogs: dict[tuple[int, str], int] = {}
    if chats:
        keys = sorted(chats)
        table = Dialog.__table__
        created = {(row[0], row[1]): row[2] for row in (await session.execute(
            insert(table).on_conflict_do_nothing(index_elements=["channel_id", "external_chat_id"])
            .returning(table.c.channel_id, table.c.external_chat_id, table.c.id),
            [dict(tenant_id=known[chats[k]][0].tenant_id, customer_id=known[chats[k]][1], channel_id=k[0],
                  external_chat_id=k[1], manager_group_id=known[chats[k]][0].manager_group_id) for k in keys],
        )).all()}
        dialogs.update(created)
        for k in keys:
            if k not in created:  # made meanwhile by a concurrent first message
                dialogs[k] = (await session.execute(
                    select(Dialog.id).where(Dialog.channel_id == k[0], Dialog.external_chat_id == k[1])
                )).scalar_one()
    for i in opening:
        channel, customer, dialog = known[i]
        if dialog is None:
            known[i] = (channel, customer, dialogs[(channel.id, msgs[i].external_chat_id)])
    # traffic.first_contact, as the one-by-one path calls it: for the message that made the customer (or would have,
    # had it not lost the race) or the dialog.
    asks = [(i, senders.get((known[i][0].id, msgs[i].sender.external_user_id)) == i,
             chats.get((known[i][0].id, msgs[i].external_chat_id)) == i and
             (known[i][0].id, msgs[i].external_chat_id) in created) for i in opening]
    asks = [(i, new_customer, new_dialog) for i, new_customer, new_dialog in asks if new_customer or new_dialog]
    return known, frozenset(created.values()), await _may_touch(session, msgs, known, asks)


async def _may_touch(session: AsyncSession, msgs: list[InboundMessage], known: list[tuple],
                     asks: list[tuple[int, bool, bool]]) -> list[tuple[int, bool, bool]]:
    """Of the first contacts asked for, those where traffic.first_contact can find anything, looked up for all of
    them at once (it would spend three or four statements on each to find nothing)."""
    from .services import traffic

    if not asks:
        return []
    tenants = {known[i][0].tenant_id for i, _, _ in asks}
    patterns: dict[int, str | None] = {}
    if any(new_dialog and msgs[i].text for i, _, new_dialog in asks):
        patterns = dict((await session.execute(
            select(Tenant.id, Tenant.campaign_code_pattern).where(Tenant.id.in_(tenants)))).all())
    telegram = {(known[i][0].tenant_id, msgs[i].sender.external_user_id) for i, new_customer, _ in asks
                if new_customer and known[i][0].kind in traffic.TELEGRAM_KINDS
                and _telegram_user(msgs[i].sender.external_user_id) is not None}
    earlier: set[tuple[int, str]] = set()
    if telegram:
        users = sorted({u for _, u in telegram})
        by_number = {_telegram_user(u): u for u in users}
        earlier = {(t, by_number[u]) for t, u in (await session.execute(
            select(CampaignJoin.tenant_id, CampaignJoin.telegram_user_id)
            .where(CampaignJoin.tenant_id.in_(tenants), CampaignJoin.state == "joined",
                   CampaignJoin.telegram_user_id.in_([_telegram_user(u) for u in users]))
        )).all()}
        earlier |= set((await session.execute(
            select(ChannelAccount.tenant_id, CustomerIdentity.external_user_id)
            .join(CustomerIdentity, CustomerIdentity.channel_id == ChannelAccount.id)
            .join(TrafficTouch, TrafficTouch.customer_id == CustomerIdentity.customer_id)
            .where(ChannelAccount.tenant_id.in_(tenants), ChannelAccount.kind.in_(traffic.TELEGRAM_KINDS),
                   CustomerIdentity.external_user_id.in_(users))
        )).all())
    out = []
    for i, new_customer, new_dialog in asks:
        key = (known[i][0].tenant_id, msgs[i].sender.external_user_id)
        if (new_customer and key in telegram and key in earlier) or \
                (new_dialog and traffic.code_in(patterns.get(key[0]), msgs[i].text) is not None):
            out.append((i, new_customer, new_dialog))
    return out


def _telegram_user(external_user_id: str) -> int | None:
    """The Telegram user id traffic's `_earlier_touches` looks for (None: it looks for nothing)."""
    try:
        return int(external_user_id)
    except ValueError:
        return None


def _customer_row(channel: ChannelAccount, sender: Sender) -> dict:
    """A new customer's row, as `upsert_customer` makes it."""
    return dict(tenant_id=channel.tenant_id, display_name=sender.display_name[:255], first_name=sender.first_name,
                last_name=sender.last_name, username=sender.username, phone=sender.phone,
                profile_url=sender.profile_url, language=sender.language)


async def _receive_one(session: AsyncSession, msg: InboundMessage, channel: ChannelAccount,
                       known_customer: int | None, known_dialog: int | None
                       ) -> tuple[Received, list[tuple[followups.FollowUpKind, dict]]]:
    """One message of `receive_many`: everything but staging its follow-ups (returned, with the Received listing
    them)."""
    customer_id = await upsert_customer(session, channel, msg.sender, found=known_customer)
    if known_dialog is not None:
        dialog_id, new_dialog = known_dialog, False
    else:
        dialog_id, new_dialog = await upsert_dialog(session, channel, msg.external_chat_id, customer_id)
    inbound = msg.direction == Direction.IN
    outdated: list[int] = []
    if inbound:
        row = (await session.execute(_inbound_statement(), {
            "in_tenant_id": channel.tenant_id, "in_dialog_id": dialog_id, "in_external_id": msg.external_id,
            "in_text": msg.text, "in_sent_at": msg.sent_at, "in_reply_to_external_id": msg.reply_to_external_id,
            "in_media_group_id": msg.media_group_id,
        })).one()
        message_id, outdated = row[0], sorted(row[1] or [])
    else:
        # The shop's own message may be a person's answer that cancels automatic replies and outdates cards (below):
        # the lock order (core.db) wants the dialog row before its messages, commands and suggestions.
        await lock_dialog(session, dialog_id)
        message_id = (await session.execute(
            insert(Message)
            .values(
                tenant_id=channel.tenant_id, dialog_id=dialog_id, external_id=msg.external_id,
                direction=msg.direction, author_kind=AuthorKind.MANAGER, text=msg.text, sent_at=msg.sent_at,
                reply_to_external_id=msg.reply_to_external_id, media_group_id=msg.media_group_id, is_read=True,
                edit_count=0, is_imported=False, extra={},
            )
            .on_conflict_do_nothing(index_elements=["dialog_id", "external_id"])
            .returning(Message.id)
        )).scalar_one_or_none()
    if message_id is None:
        return Received(channel.tenant_id, dialog_id, None, created=False), []

    for ordinal, att in enumerate(msg.attachments):
        session.add(_attachment(message_id, ordinal, att))

    if not inbound:
        await session.execute(update(Dialog).where(Dialog.id == dialog_id).values(
            message_count=Dialog.message_count + 1,
            last_message_at=func.greatest(func.coalesce(Dialog.last_message_at, msg.sent_at), msg.sent_at),
            unread_count=0, last_reply_at=msg.sent_at,
        ))

    if inbound and (known_customer is None or new_dialog):
        # Campaign touches made before the first message (a channel joined through a campaign's invite link, a deep
        # link on another Telegram channel) and a campaign code in the message opening a dialog. (Imported here:
        # core.services.traffic uses this module.)
        from .services import traffic

        await traffic.first_contact(session, channel, customer_id, external_user_id=msg.sender.external_user_id,
                                    text=msg.text, at=msg.sent_at, new_customer=known_customer is None,
                                    new_dialog=new_dialog)

    if msg.traffic is not None:
        await _record_touch(session, channel, customer_id, msg.traffic, msg.sent_at)

    if not inbound:
        # Written from the shop's own account (VK's interface, the Telegram app), not sent by us: the same as a
        # manager's answer in the topic — waiting automatic replies are cancelled, pending cards become outdated.
        await replies.answered_from_own_account(session, message_id)

    return _received(channel, dialog_id, message_id, customer_id, outdated, new_dialog=new_dialog, inbound=inbound)


async def _message_by_external(session: AsyncSession, channel_id: int, chat_id: str, external_id: str) -> Message | None:
    channel_id = await home_channel_id(session, channel_id)
    return (
        await session.execute(
            select(Message)
            .join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.channel_id == channel_id, Dialog.external_chat_id == chat_id,
                   Message.external_id == external_id)
        )
    ).scalar_one_or_none()


async def record_edit(session: AsyncSession, channel_id: int, chat_id: str, external_id: str, new_text: str,
                      edited_at: datetime) -> Received | None:
    """Keep the old text in message_edits; an edit that changes nothing (a replay) is a no-op."""
    message = await _message_by_external(session, channel_id, chat_id, external_id)
    if message is None or message.text == new_text:
        return None
    session.add(MessageEdit(message_id=message.id, old_text=message.text, new_text=new_text, edited_at=edited_at))
    message.text = new_text
    message.edited_at = edited_at
    message.edit_count += 1
    received = Received(message.tenant_id, message.dialog_id, message.id, created=True)
    await received.ask(session, followups.MIRROR_EDIT, message_id=message.id)
    return received


async def record_deletion(session: AsyncSession, channel_id: int, chat_id: str, external_id: str,
                          deleted_at: datetime) -> Received | None:
    message = await _message_by_external(session, channel_id, chat_id, external_id)
    if message is None or message.deleted_at is not None:
        return None
    message.deleted_at = deleted_at
    received = Received(message.tenant_id, message.dialog_id, message.id, created=True)
    await received.ask(session, followups.MIRROR_EDIT, message_id=message.id)
    return received


async def set_blocked(session: AsyncSession, channel_id: int, external_user_id: str, blocked: bool) -> list[int]:
    """The customer blocked (or unblocked) the business: the customer is flagged, their dialogs go inactive (or
    active again). Returns the affected dialog ids."""
    channel = await _channel(session, await home_channel_id(session, channel_id))
    channel_id = channel.id
    customer_id = (
        await session.execute(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.channel_id == channel_id, CustomerIdentity.external_user_id == external_user_id
            )
        )
    ).scalar_one_or_none()
    if customer_id is None:
        return []
    await session.execute(update(Customer).where(Customer.id == customer_id).values(blocked=blocked))
    dialog_ids = list((await session.execute(
        update(Dialog)
        .where(Dialog.customer_id == customer_id, Dialog.channel_id == channel_id,
               (Dialog.status != DialogStatus.INACTIVE) if blocked else (Dialog.status == DialogStatus.INACTIVE))
        .values(status=DialogStatus.INACTIVE if blocked else DialogStatus.ACTIVE)
        .returning(Dialog.id)
    )).scalars())
    for dialog_id in dialog_ids:
        events.record(session, "customer_blocked" if blocked else "customer_unblocked",
                      tenant_id=channel.tenant_id, dialog_id=dialog_id)
    return dialog_ids
