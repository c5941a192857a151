"""The dialog list at scale: filters, search and keyset paging that stay fast at hundreds of thousands of dialogs.

Order: the dialog's last activity, newest first (`last_message_at DESC, id DESC`); dialogs without messages are not
listed. A page ends with a cursor (`<microseconds since epoch>:<id>` of its last row); the next page continues strictly
after it, so page 100 costs what page 1 costs (indexes of migration 0011: ix_dialogs_recent and its per-status,
per-channel and per-assignee siblings).

Search (`q`) finds dialogs by the customer's name, username or phone (a trigram index over one lower-cased text of
the three, the phone without + - ( ) . and spaces: substrings match, "000-11-22" finds +7 999 000-11-22), and by
message text (Postgres full text with the russian configuration, which stems Russian and English words: "чайник"
finds "чайника"). Both parts are asked separately under the same order and cursor and merged, so the union's page is
exact. Each part picks its way by how many rows the term matches:

- few (under TEXT_PROBE: a surname, a phone, an order number, a product name; for texts, ANALYZE's most common
  elements say so) — every match is read from its index, and the page is cut from those dialogs;
- many (a common first name or word) — the dialogs are walked from the newest in growing batches, each tested on its
  own (its customer; its messages, stopping at the first that holds every stem of the query as a substring), until
  the page is full: a common term fills its page in the first batch instead of reading every row that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, and_, any_, bindparam, exists, func, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import UserError
from ..i18n import t
from ..inbox import home_of
from ..models import Customer, Dialog, DialogStatus, Escalation, EscalationStatus, Message, Outcome
from ..permissions import Field

PAGE = 30
MAX_PAGE = 100
MIN_QUERY = 3  # trigram search needs three characters
TEXT_PROBE = 5000  # matching messages looked at before switching to the batch walk
FIRST_BATCH = 100
MAX_BATCH = 1600
MAX_WALK = 2100  # dialogs tested one by one before the index is read after all
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TS_CONFIG = "russian"

# The customer's searchable text, as the trigram index ix_customers_search holds it (migration 0011).
CUSTOMER_SEARCH = literal_column(
    "lower(coalesce(customers.display_name, '') || ' ' || coalesce(customers.username, '') || ' ' || "
    "coalesce(translate(customers.phone, '+-() .', ''), ''))"
)
# The message's full-text vector, as the GIN index ix_messages_fts holds it.
MESSAGE_TSV = literal_column("to_tsvector('russian'::regconfig, messages.text)")
PHONE_SIGNS = "+-() ."  # left out of the phone in the index: "+7 (999) 000-11-22" is searched as 79990001122
PHONE_LIKE = re.compile(r"[+\d][\d\s()+\-.]{2,}")


class SearchError(UserError):
    def __init__(self, reason: str, **params):
        key = f"miniapp.dialogs.error.{reason}"
        super().__init__(t(key, "en", **params), code=key, **params)


@dataclass(frozen=True)
class Filters:
    status: DialogStatus | None = None
    channel_id: int | None = None
    assignee: int | str | None = None  # a staff id, or "none" for dialogs nobody holds
    outcome: str | None = None  # won | lost | none
    unread: bool = False
    escalated: bool = False  # has a pending escalation
    q: str | None = None
    hidden: frozenset[str] = frozenset()  # fields the searcher may not see: never matched on


@dataclass(frozen=True)
class Cursor:
    at: datetime
    dialog_id: int

    def encode(self) -> str:
        return f"{(self.at - EPOCH) // timedelta(microseconds=1)}:{self.dialog_id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            micros, dialog_id = raw.split(":")
            return cls(EPOCH + timedelta(microseconds=int(micros)), int(dialog_id))
        except (ValueError, OverflowError):
            raise SearchError("bad_cursor") from None


def parse_filters(query) -> Filters:
    """Filters from a request's query string (a Mapping of str → str); bad values are a person-fixable error."""
    def number(name: str) -> int | None:
        raw = query.get(name)
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise SearchError("bad_filter", name=name) from None

    try:
        status = DialogStatus(query["status"]) if query.get("status") else None
    except ValueError:
        raise SearchError("bad_filter", name="status") from None
    outcome = query.get("outcome") or None
    if outcome not in (None, "won", "lost", "none"):
        raise SearchError("bad_filter", name="outcome")
    assignee: int | str | None = query.get("manager") or None
    if assignee is not None and assignee != "none":
        assignee = number("manager")
    q = (query.get("q") or "").strip()[:200] or None
    if q is not None and len(q) < MIN_QUERY:
        raise SearchError("short_query", count=MIN_QUERY)
    truthy = ("1", "true", "yes", "on")
    return Filters(status=status, channel_id=number("channel"), assignee=assignee, outcome=outcome,
                   unread=query.get("unread", "") in truthy, escalated=query.get("escalated", "") in truthy, q=q)


def _base(tenant_id: int, filters: Filters, cursor: Cursor | None):
    """The listed dialogs' ids and sort key under the filters, after the cursor (no search, no order yet)."""
    conditions = [Dialog.tenant_id == tenant_id, Dialog.message_count > 0, Dialog.last_message_at.is_not(None)]
    if filters.status is not None:
        conditions.append(Dialog.status == filters.status)
    if filters.channel_id is not None:
        # A Telegram account connected both ways keeps its dialogs under its home channel (core.inbox.home_of):
        # filtering by either of its channels lists them.
        conditions.append(Dialog.channel_id == home_of(filters.channel_id))
    if filters.assignee == "none":
        conditions.append(Dialog.assignee_id.is_(None))
    elif filters.assignee is not None:
        conditions.append(Dialog.assignee_id == filters.assignee)
    if filters.outcome == "none":
        conditions.append(Dialog.outcome.is_(None))
    elif filters.outcome is not None:
        conditions.append(Dialog.outcome == Outcome(filters.outcome))
    if filters.unread:
        conditions.append(Dialog.unread_count > 0)
    if filters.escalated:
        conditions.append(exists().where(Escalation.dialog_id == Dialog.id,
                                         Escalation.status == EscalationStatus.PENDING))
    if cursor is not None:
        conditions.append(tuple_(Dialog.last_message_at, Dialog.id) < tuple_(cursor.at, cursor.dialog_id))
    return select(Dialog.id, Dialog.last_message_at).where(and_(*conditions))


def _ids(ids: list[int]):
    """Ids as one array parameter: a list of thousands (a common name's customers) is one bound value, so the
    statement is parsed and planned as often as any other, not once per length with thousands of placeholders."""
    return bindparam("ids", ids, type_=ARRAY(BigInteger))


def _ordered(query, limit: int):
    return query.order_by(Dialog.last_message_at.desc(), Dialog.id.desc()).limit(limit)


def _customer_pattern(q: str) -> str:
    if PHONE_LIKE.fullmatch(q) and sum(c.isdigit() for c in q) >= MIN_QUERY:
        q = re.sub(r"\D", "", q)
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _by_customer(session: AsyncSession, tenant_id: int, filters: Filters, cursor: Cursor | None,
                       limit: int) -> list[tuple[int, datetime]]:
    pattern = _customer_pattern(filters.q)
    matching = select(Customer.id).where(Customer.tenant_id == tenant_id, CUSTOMER_SEARCH.like(pattern))
    if {Field.PHONE.value, Field.USERNAME.value} & filters.hidden:
        # The index finds candidates; the match is then made again on the fields this person may see only, so a
        # hidden phone or username cannot be found out by searching for it.
        parts = [func.coalesce(Customer.display_name, "")]
        if Field.USERNAME.value not in filters.hidden:
            parts.append(func.coalesce(Customer.username, ""))
        if Field.PHONE.value not in filters.hidden:
            parts.append(func.coalesce(func.translate(Customer.phone, PHONE_SIGNS, ""), ""))
        matching = matching.where(func.lower(func.concat_ws(" ", *parts)).like(pattern))
    # Few matching customers (a surname, a phone): take them all from the trigram index, then their dialogs. Many (a
    # common first name): walk the dialogs from the newest and test each one's customer instead.
    ids = list((await session.execute(matching.limit(TEXT_PROBE))).scalars())
    if len(ids) < TEXT_PROBE:
        if not ids:
            return []
        query = _base(tenant_id, filters, cursor).where(Dialog.customer_id == any_(_ids(ids)))
    else:
        query = _base(tenant_id, filters, cursor).where(Dialog.customer_id.in_(matching))
    return [tuple(r) for r in (await session.execute(_ordered(query, limit))).all()]


# The query's stems, ANALYZE's most common elements of ix_messages_fts with their frequencies, and how many messages
# there are: what the text part decides its way by, in one round trip.
_TEXT_PLAN = text(
    "SELECT ARRAY(SELECT unnest(tsvector_to_array(to_tsvector('russian'::regconfig, :q)))), "
    "s.most_common_elems::text::text[], s.most_common_elem_freqs, "
    "(SELECT reltuples FROM pg_class WHERE relname = 'messages') "
    "FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT most_common_elems, most_common_elem_freqs FROM pg_stats "
    "WHERE tablename = 'ix_messages_fts' LIMIT 1) s ON true")


def _frequency(elements: list[str] | None, frequencies: list[float] | None, stems: list[str]) -> float:
    """How often a message holds every stem at most, from ANALYZE's most common elements of ix_messages_fts: a stem
    that is not among them is rare (0.0). Reading the statistics costs nothing; a wrong guess costs one capped probe
    or one bounded walk, never a full read."""
    if elements is None or frequencies is None:
        return 0.0
    known = dict(zip(elements, frequencies))
    return min(known.get(stem, 0.0) for stem in stems)


async def _by_text(session: AsyncSession, tenant_id: int, filters: Filters, cursor: Cursor | None,
                   limit: int) -> list[tuple[int, datetime]]:
    tsquery = func.websearch_to_tsquery(literal_column(f"'{TS_CONFIG}'::regconfig"), filters.q)
    stems, elements, frequencies, messages = (await session.execute(_TEXT_PLAN, {"q": filters.q})).one()
    stems = list(stems or [])
    if not stems:
        return []  # only stop words: the text part finds nothing
    match = MESSAGE_TSV.op("@@")(tsquery)

    async def from_index(cap: int | None) -> list[tuple[int, datetime]] | None:
        query = select(Message.dialog_id).where(Message.tenant_id == tenant_id, match)
        probe = list((await session.execute(query.limit(cap) if cap else query)).scalars())
        if cap and len(probe) >= cap:
            return None  # too many to read them all
        if not probe:  # every matching message is known: cut the page from their dialogs
            return []
        query = _base(tenant_id, filters, cursor).where(Dialog.id == any_(_ids(sorted(set(probe)))))
        return [tuple(r) for r in (await session.execute(_ordered(query, limit))).all()]

    if _frequency(elements, frequencies, stems) * max(messages or 0, 0) < TEXT_PROBE:
        rows = await from_index(TEXT_PROBE)
        if rows is not None:
            return rows
    # A common term: walk the dialogs from the newest; for each, stop at its first message holding every stem (a
    # substring test, far cheaper per message than building its text vector, and the same words: the stems).
    holds = and_(*(Message.text.ilike("%" + _escape(stem) + "%") for stem in stems))
    found: list[tuple[int, datetime]] = []
    batch, after, walked = FIRST_BATCH, cursor, 0
    while len(found) < limit:
        rows = (await session.execute(_ordered(_base(tenant_id, filters, after), batch))).all()
        if not rows:
            break
        ids = [r[0] for r in rows]
        hits = set((await session.execute(
            select(Dialog.id).where(Dialog.id.in_(ids), exists().where(Message.dialog_id == Dialog.id, holds))
        )).scalars())
        found.extend(tuple(r) for r in rows if r[0] in hits)
        if len(rows) < batch:
            break
        after = Cursor(rows[-1][1], rows[-1][0])
        walked += len(rows)
        if walked >= MAX_WALK:
            # Not that common after all among the newest dialogs: read the matches from the index after all.
            return await from_index(None)
        batch = min(batch * 4, MAX_BATCH)
    return found[:limit]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Page:
    dialog_ids: list[int]
    next_cursor: str | None


async def search(session: AsyncSession, tenant_id: int, filters: Filters, *, cursor: str | None = None,
                 limit: int = PAGE) -> Page:
    """One page of dialog ids in list order, and the cursor of the next page (None on the last one)."""
    limit = max(1, min(limit, MAX_PAGE))
    after = Cursor.decode(cursor)
    if filters.q is None:
        rows = [tuple(r) for r in (await session.execute(
            _ordered(_base(tenant_id, filters, after), limit + 1))).all()]
    else:
        merged = {r[0]: r for r in await _by_customer(session, tenant_id, filters, after, limit + 1)}
        for r in await _by_text(session, tenant_id, filters, after, limit + 1):
            merged.setdefault(r[0], r)
        rows = sorted(merged.values(), key=lambda r: (r[1], r[0]), reverse=True)[:limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([r[0] for r in rows], Cursor(rows[-1][1], rows[-1][0]).encode() if more and rows else None)

