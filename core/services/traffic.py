"""Where customers come from: the traffic report (first or last touch → dialogs, won deals, revenue, conversion) and
campaign links.

What each channel can attribute (core.models.TrafficTouch, written by the channels):
- VK: `ref` / `ref_source` of a vk.me link (`https://vk.me/club<id>?ref=<code>&ref_source=<source>`) and UTM tags
  of links in messages — captured by the VK adapter;
- Telegram accounts: UTM tags of links in the customer's messages (the Telegram adapter); a customer opening the
  bot through a campaign deep link `https://t.me/<bot>?start=<code>` is recorded here (`record_start`), on the
  tenant's Telegram channel, so their later messages to the shop belong to a customer with that first touch.

Campaign links are kept with the tenant (Tenant.extra["campaigns"], no schema of their own): a code (≤64 characters
of A–Z a–z 0–9 _ -, unique across tenants: the bot is shared), a name, source and medium. A touch from a campaign
link has the campaign's name as `campaign` and its code as `ref`, whatever the channel, so a campaign's figures add
up across Telegram and VK.

Telegram channels and groups: a campaign's invite link (createChatInviteLink, made by the bot from the traffic page,
named after the campaign) is the only thing Telegram tells about who came from where: the chat_member update of a
person joining carries the link they used, a join request carries it too (core.models.CampaignInviteLink,
CampaignJoin). A join is kept with the person's Telegram user id; it becomes a touch of every customer of the
tenant with that id on a Telegram channel — at once when they are a customer already, else when they first write
(`first_contact`). Touches made on one Telegram channel (a deep link) are copied the same way to the customer the
person becomes on another Telegram channel of the tenant: the Telegram user id is the same person everywhere.

A campaign code in the first message: a tenant's `campaign_code_pattern` (a regular expression with one group, checked
by core.services.tenant_settings) is searched in the message that opens a dialog; the group is the code — a
campaign's code or name when it is one (its figures then add up), else a campaign of that name.

Report: the dialogs created in the period (with messages), by the first or the last touch of their customer; won,
lost and revenue are those dialogs' outcomes (revenue in the tenant's currency), conversion is won / dialogs.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..errors import NotFound, UserError
from ..models import (
    CampaignInviteLink,
    CampaignJoin,
    ChannelAccount,
    ChannelKind,
    Customer,
    CustomerIdentity,
    Dialog,
    Outcome,
    StaffMember,
    Tenant,
    TrafficTouch,
)
from .analytics import Period

TOUCHES = ("first", "last")
GROUPINGS = ("source", "medium", "campaign", "content", "term", "ref", "channel")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# What create_campaign makes: c<tenant id>_<slug>_<6 hex>. The bot routes /start payloads of this shape here, the
# rest to invitations (a random invitation token of this shape is beyond any practical chance).
CAMPAIGN_CODE = r"^c\d+_[a-z0-9_]*_[0-9a-f]{6}$"
TELEGRAM_KINDS = tuple(k for k in ChannelKind if k.value.startswith("telegram"))


# ------------------------------------------------------------------------------------------------------ report


@dataclass(frozen=True)
class TrafficRow:
    keys: dict[str, str | None]  # grouping → value (None: not known, e.g. a customer who came on their own)
    dialogs: int
    won: int
    lost: int
    revenue: Decimal

    @property
    def conversion(self) -> float | None:
        return round(100 * self.won / self.dialogs, 1) if self.dialogs else None


async def report(session: AsyncSession, tenant_id: int, period: Period, *, touch: str = "first",
                 by: tuple[str, ...] = ("source", "campaign"), currency: str | None = None) -> list[TrafficRow]:
    if touch not in TOUCHES:
        raise UserError(f"touch is first or last, not {touch!r}", code="miniapp.traffic.bad_touch")
    unknown = [b for b in by if b not in GROUPINGS]
    if unknown or not by:
        raise UserError(f"group by some of {', '.join(GROUPINGS)}", code="miniapp.traffic.bad_grouping")
    touch_id = Customer.first_touch_id if touch == "first" else Customer.last_touch_id
    columns = {"source": TrafficTouch.source, "medium": TrafficTouch.medium, "campaign": TrafficTouch.campaign,
               "content": TrafficTouch.content, "term": TrafficTouch.term, "ref": TrafficTouch.ref,
               "channel": TrafficTouch.channel_kind}
    keys = [columns[b].label(b) for b in by]
    won = Dialog.outcome == Outcome.WON
    revenue = func.sum(Dialog.outcome_amount).filter(won)
    if currency:
        revenue = func.sum(Dialog.outcome_amount).filter(won, Dialog.outcome_currency == currency)
    query = (
        select(*keys, func.count(Dialog.id), func.count().filter(won),
               func.count().filter(Dialog.outcome == Outcome.LOST), func.coalesce(revenue, 0))
        .select_from(Dialog)
        .join(Customer, Customer.id == Dialog.customer_id)
        .outerjoin(TrafficTouch, TrafficTouch.id == touch_id)
        .where(Dialog.tenant_id == tenant_id, Dialog.message_count > 0,
               Dialog.created_at >= period.start, Dialog.created_at < period.end)
        .group_by(*keys)
        .order_by(func.count(Dialog.id).desc(), *[k.asc().nulls_last() for k in keys])
    )
    out = []
    for row in (await session.execute(query)).all():
        values = {b: (v.value if hasattr(v, "value") else v) for b, v in zip(by, row[: len(by)])}
        dialogs, won_n, lost_n, money = row[len(by):]
        out.append(TrafficRow(values, dialogs, won_n, lost_n, Decimal(money)))
    return out


# --------------------------------------------------------------------------------------------------- campaigns


@dataclass(frozen=True)
class Campaign:
    code: str
    name: str
    source: str
    medium: str
    created_at: str
    created_by: int | None

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "source": self.source, "medium": self.medium,
                "created_at": self.created_at, "created_by": self.created_by}


def _campaign(data: dict) -> Campaign:
    return Campaign(code=data["code"], name=data.get("name") or data["code"], source=data.get("source") or "",
                    medium=data.get("medium") or "", created_at=data.get("created_at") or "",
                    created_by=data.get("created_by"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:32]


async def campaigns(session: AsyncSession, tenant_id: int) -> list[Campaign]:
    tenant = await session.get(Tenant, tenant_id)
    return [_campaign(c) for c in (tenant.extra or {}).get("campaigns", [])][::-1]  # newest first


async def create_campaign(session: AsyncSession, tenant_id: int, *, name: str, source: str = "", medium: str = "",
                          actor_staff_id: int | None = None, now: datetime | None = None) -> Campaign:
    name, source, medium = name.strip(), source.strip(), medium.strip()
    if not name or len(name) > 100:
        raise UserError("a campaign needs a name of at most 100 characters", code="miniapp.traffic.bad_name")
    if len(source) > 100 or len(medium) > 100:
        raise UserError("source and medium are at most 100 characters", code="miniapp.traffic.too_long")
    tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id).with_for_update())).scalar_one()
    existing = list((tenant.extra or {}).get("campaigns", []))
    if any(c.get("name", "").lower() == name.lower() for c in existing):
        raise UserError(f"a campaign named {name!r} exists already", code="miniapp.traffic.duplicate", name=name)
    code = f"c{tenant_id}_{_slug(name) or 'ad'}_{secrets.token_hex(3)}"[:64]
    campaign = Campaign(code=code, name=name, source=source or "telegram", medium=medium or "bot_link",
                        created_at=(now or datetime.now(UTC)).isoformat(), created_by=actor_staff_id)
    tenant.extra = {**(tenant.extra or {}), "campaigns": [*existing, campaign.as_dict()]}
    events.record(session, "campaign_created", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                        code=code, name=name, source=campaign.source, medium=campaign.medium)
    return campaign


async def campaign_by_code(session: AsyncSession, code: str) -> tuple[int, Campaign] | None:
    """The campaign a deep-link payload names, in whichever tenant made it."""
    if not CODE_RE.match(code or ""):
        return None
    row = (await session.execute(
        select(Tenant.id, Tenant.extra).where(Tenant.extra["campaigns"].contains([{"code": code}]))
    )).first()
    if row is None:
        return None
    tenant_id, extra = row
    found = next(c for c in extra["campaigns"] if c.get("code") == code)
    return tenant_id, _campaign(found)


async def campaign_figures(session: AsyncSession, tenant_id: int, codes: list[str]) -> dict[str, dict]:
    """Per campaign code: customers who came through it (first touch), their dialogs and won deals."""
    if not codes:
        return {}
    rows = (await session.execute(
        select(TrafficTouch.ref, func.count(func.distinct(Customer.id)), func.count(Dialog.id),
               func.count(Dialog.id).filter(Dialog.outcome == Outcome.WON))
        .select_from(TrafficTouch)
        .join(Customer, Customer.first_touch_id == TrafficTouch.id)
        .outerjoin(Dialog, (Dialog.customer_id == Customer.id) & (Dialog.message_count > 0))
        .where(TrafficTouch.tenant_id == tenant_id, TrafficTouch.ref.in_(codes))
        .group_by(TrafficTouch.ref)
    )).all()
    return {ref: {"customers": c, "dialogs": d, "won": w} for ref, c, d, w in rows}


@dataclass(frozen=True)
class StartTouch:
    tenant_id: int
    tenant_name: str
    customer_id: int
    channel_id: int
    channel_title: str
    channel_external_id: str
    campaign: Campaign


async def record_start(session: AsyncSession, code: str, *, telegram_user_id: int, first_name: str | None = None,
                       last_name: str | None = None, username: str | None = None, language: str | None = None,
                       now: datetime | None = None) -> StartTouch | None:
    """A person opened the bot through a campaign deep link (`/start <code>`): a touch for them as a customer of the
    campaign's tenant, on its Telegram channel (the identity their messages to the shop will carry). None when the
    code is no campaign, the tenant has no Telegram channel, or the person is that tenant's staff."""
    found = await campaign_by_code(session, code)
    if found is None:
        return None
    tenant_id, campaign = found
    is_staff = (await session.execute(select(StaffMember.id).where(
        StaffMember.tenant_id == tenant_id, StaffMember.telegram_user_id == telegram_user_id,
        StaffMember.is_active.is_(True)))).first()
    if is_staff:
        return None
    channel = (await session.execute(
        select(ChannelAccount).where(ChannelAccount.tenant_id == tenant_id, ChannelAccount.kind.in_(TELEGRAM_KINDS))
        .order_by(ChannelAccount.id).limit(1))).scalar_one_or_none()
    if channel is None:
        return None
    from ..inbox import Sender, upsert_customer  # (core.inbox calls first_contact: imported when used, no cycle)

    customer_id = await upsert_customer(session, channel, Sender(
        str(telegram_user_id), first_name, last_name, username=username, language=language))
    touch = TrafficTouch(tenant_id=tenant_id, customer_id=customer_id, channel_kind=channel.kind,
                         source=campaign.source, medium=campaign.medium, campaign=campaign.name, ref=campaign.code,
                         raw={"start": campaign.code}, touched_at=now or datetime.now(UTC))
    session.add(touch)
    await session.flush()
    await session.execute(update(Customer).where(Customer.id == customer_id).values(
        first_touch_id=func.coalesce(Customer.first_touch_id, touch.id), last_touch_id=touch.id))
    tenant = await session.get(Tenant, tenant_id)
    return StartTouch(tenant_id=tenant_id, tenant_name=tenant.name, customer_id=customer_id, channel_id=channel.id,
                      channel_title=channel.title, channel_external_id=channel.external_id, campaign=campaign)


# ---------------------------------------------------------------------------------------- invite links of chats

INVITE_NAME_MAX = 32  # ChatInviteLink.name: "Invite link name; 0-32 characters" (createChatInviteLink)
JOIN_MEDIUM = "invite_link"
CODE_MEDIUM = "message_code"


def invite_link_name(campaign: Campaign) -> str:
    """The link's name in Telegram (admins see it in the chat's link list; chat_member updates carry it)."""
    return campaign.name[:INVITE_NAME_MAX]


async def campaign_of(session: AsyncSession, tenant_id: int, code: str) -> Campaign:
    found = next((c for c in await campaigns(session, tenant_id) if c.code == code), None)
    if found is None:
        raise NotFound(f"no campaign {code!r}", code="miniapp.traffic.no_campaign")
    return found


async def add_invite_link(session: AsyncSession, tenant_id: int, *, campaign: Campaign, chat: dict, link: dict,
                          actor_staff_id: int | None = None) -> CampaignInviteLink:
    """Keep a link the bot created (`link`: the Bot API's ChatInviteLink, `chat`: its Chat) for the campaign."""
    row = CampaignInviteLink(
        tenant_id=tenant_id, campaign_code=campaign.code, chat_id=int(chat["id"]),
        chat_title=(chat.get("title") or chat.get("username") or "")[:255] or None, chat_type=chat.get("type", ""),
        url=link["invite_link"], name=link.get("name"), creates_join_request=bool(link.get("creates_join_request")),
        is_revoked=bool(link.get("is_revoked")), created_by_staff_id=actor_staff_id)
    session.add(row)
    await session.flush()
    events.record(session, "campaign_invite_link_created", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                  code=campaign.code, chat_id=row.chat_id, url=row.url, creates_join_request=row.creates_join_request)
    return row


async def invite_link(session: AsyncSession, tenant_id: int, link_id: int) -> CampaignInviteLink:
    row = await session.get(CampaignInviteLink, link_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no invite link {link_id}", code="miniapp.traffic.no_link")
    return row


async def revoked(session: AsyncSession, row: CampaignInviteLink, *, actor_staff_id: int | None = None) -> None:
    """The link was revoked in Telegram (revokeChatInviteLink): nobody joins through it any more; its joins stay."""
    row.is_revoked = True
    events.record(session, "campaign_invite_link_revoked", tenant_id=row.tenant_id, actor_staff_id=actor_staff_id,
                  code=row.campaign_code, chat_id=row.chat_id, url=row.url)


async def known_chats(session: AsyncSession, tenant_id: int) -> list[dict]:
    """Chats the tenant made links in before (the page offers them again)."""
    rows = (await session.execute(
        select(CampaignInviteLink.chat_id, func.max(CampaignInviteLink.chat_title),
               func.max(CampaignInviteLink.chat_type))
        .where(CampaignInviteLink.tenant_id == tenant_id).group_by(CampaignInviteLink.chat_id)
        .order_by(func.max(CampaignInviteLink.id).desc())
    )).all()
    return [{"id": chat_id, "title": title, "type": kind} for chat_id, title, kind in rows]


async def invite_links(session: AsyncSession, tenant_id: int) -> dict[str, list[dict]]:
    """Per campaign code: its invite links, newest first, each with the people who joined and who wait for approval."""
    joined = func.count(CampaignJoin.id).filter(CampaignJoin.state == "joined")
    waiting = func.count(CampaignJoin.id).filter(CampaignJoin.state == "requested")
    rows = (await session.execute(
        select(CampaignInviteLink, joined, waiting)
        .outerjoin(CampaignJoin, CampaignJoin.link_id == CampaignInviteLink.id)
        .where(CampaignInviteLink.tenant_id == tenant_id)
        .group_by(CampaignInviteLink.id).order_by(CampaignInviteLink.id.desc())
    )).all()
    out: dict[str, list[dict]] = {}
    for link, joins, requests in rows:
        out.setdefault(link.campaign_code, []).append({
            "id": link.id, "url": link.url, "name": link.name, "chat_id": link.chat_id, "chat_title": link.chat_title,
            "chat_type": link.chat_type, "creates_join_request": link.creates_join_request,
            "is_revoked": link.is_revoked, "joins": joins, "requests": requests,
            "created_at": link.created_at.isoformat() if link.created_at else None})
    return out


@dataclass(frozen=True)
class Person:
    """Who joined or asked to join (the Telegram User of the update)."""

    telegram_user_id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Joined:
    link_id: int
    tenant_id: int
    campaign_code: str
    touches: int  # customers who got the touch now (0: the person is no customer yet; they get it when they write)


async def _link_by_url(session: AsyncSession, chat_id: int, url: str | None) -> CampaignInviteLink | None:
    if not url:
        return None
    return (await session.execute(select(CampaignInviteLink).where(
        CampaignInviteLink.url == url, CampaignInviteLink.chat_id == chat_id))).scalar_one_or_none()


def _join_values(link: CampaignInviteLink, person: Person) -> dict:
    return dict(tenant_id=link.tenant_id, link_id=link.id, telegram_user_id=person.telegram_user_id,
                first_name=person.first_name, last_name=person.last_name, username=(person.username or None),
                language=(person.language or "")[:8] or None)


async def _is_staff(session: AsyncSession, tenant_id: int, telegram_user_id: int) -> bool:
    """The business's own people trying a link are not traffic (as with deep links, `record_start`)."""
    return (await session.execute(select(StaffMember.id).where(
        StaffMember.tenant_id == tenant_id, StaffMember.telegram_user_id == telegram_user_id,
        StaffMember.is_active.is_(True)))).first() is not None


async def record_join_request(session: AsyncSession, *, chat_id: int, url: str | None, person: Person,
                              at: datetime) -> CampaignInviteLink | None:
    """A chat_join_request through one of our campaign links: kept as waiting (the page counts them); the link is
    returned for the bot to approve the request. None when the link is not a campaign's."""
    link = await _link_by_url(session, chat_id, url)
    if link is None:
        return None
    if await _is_staff(session, link.tenant_id, person.telegram_user_id):
        return link  # approved like anyone's, counted for nobody
    await session.execute(insert(CampaignJoin).values(**_join_values(link, person), state="requested",
                                                      requested_at=at, attempts=0)
                          .on_conflict_do_nothing(index_elements=["link_id", "telegram_user_id"]))
    return link


async def request_failed(session: AsyncSession, link_id: int, telegram_user_id: int) -> None:
    """approveChatJoinRequest was refused (the request was handled by a person first, or expired)."""
    await session.execute(update(CampaignJoin).where(
        CampaignJoin.link_id == link_id, CampaignJoin.telegram_user_id == telegram_user_id,
        CampaignJoin.state == "requested").values(attempts=CampaignJoin.attempts + 1))


async def record_join(session: AsyncSession, *, chat_id: int, url: str | None, person: Person,
                      at: datetime) -> Joined | None:
    """A chat_member update of a person joining through a campaign link: the join is kept (once per person and link,
    whatever redelivery or re-joining follows), and it becomes a touch of each customer of the tenant this Telegram
    user already is. None when the link is not a campaign's."""
    link = await _link_by_url(session, chat_id, url)
    if link is None:
        return None
    if await _is_staff(session, link.tenant_id, person.telegram_user_id):
        return Joined(link.id, link.tenant_id, link.campaign_code, 0)
    join_id = (await session.execute(
        insert(CampaignJoin).values(**_join_values(link, person), state="joined", joined_at=at, attempts=0)
        .on_conflict_do_update(index_elements=["link_id", "telegram_user_id"],
                               set_={"state": "joined", "joined_at": at},
                               where=CampaignJoin.state != "joined")
        .returning(CampaignJoin.id)
    )).scalar_one_or_none()
    if join_id is None:  # joined through this link before: counted once, touched once
        return Joined(link.id, link.tenant_id, link.campaign_code, 0)
    campaign = next((c for c in await campaigns(session, link.tenant_id) if c.code == link.campaign_code), None)
    customers = (await session.execute(
        select(func.distinct(CustomerIdentity.customer_id)).join(
            ChannelAccount, ChannelAccount.id == CustomerIdentity.channel_id)
        .where(ChannelAccount.tenant_id == link.tenant_id, ChannelAccount.kind.in_(TELEGRAM_KINDS),
               CustomerIdentity.external_user_id == str(person.telegram_user_id))
    )).scalars().all()
    kinds = dict((await session.execute(
        select(CustomerIdentity.customer_id, ChannelAccount.kind)
        .join(ChannelAccount, ChannelAccount.id == CustomerIdentity.channel_id)
        .where(CustomerIdentity.customer_id.in_(customers)))).all()) if customers else {}
    for customer_id in customers:
        session.add(_join_touch(link, campaign, join_id, customer_id, kinds[customer_id], at))
    if customers:
        await session.flush()
        await _first_and_last(session, list(customers))
    return Joined(link.id, link.tenant_id, link.campaign_code, len(customers))


def _join_touch(link: CampaignInviteLink, campaign: Campaign | None, join_id: int, customer_id: int,
                kind: ChannelKind, at: datetime) -> TrafficTouch:
    return TrafficTouch(
        tenant_id=link.tenant_id, customer_id=customer_id, channel_kind=kind,
        source=campaign.source if campaign else "telegram", medium=JOIN_MEDIUM,
        campaign=campaign.name if campaign else link.name, ref=link.campaign_code,
        raw={"join": join_id, "invite_link": link.url, "chat_id": link.chat_id}, touched_at=at)


async def _first_and_last(session: AsyncSession, customer_ids: list[int]) -> None:
    """First and last touch by time (a join may be older than a touch recorded since)."""
    first = (select(TrafficTouch.id).where(TrafficTouch.customer_id == Customer.id)
             .order_by(TrafficTouch.touched_at, TrafficTouch.id).limit(1).scalar_subquery())
    last = (select(TrafficTouch.id).where(TrafficTouch.customer_id == Customer.id)
            .order_by(TrafficTouch.touched_at.desc(), TrafficTouch.id.desc()).limit(1).scalar_subquery())
    await session.execute(update(Customer).where(Customer.id.in_(customer_ids))
                          .values(first_touch_id=first, last_touch_id=last))


# ------------------------------------------------------------------------------------- when a customer first writes


async def first_contact(session: AsyncSession, channel: ChannelAccount, customer_id: int, *, external_user_id: str,
                        text: str | None, at: datetime, new_customer: bool, new_dialog: bool) -> None:
    """Called by core.inbox.receive for a customer's inbound message that makes a new customer or opens a dialog:
    - a new customer on a Telegram channel gets the touches this Telegram user already has in the tenant — joins
      through campaign invite links, and touches of the customer they are on another Telegram channel;
    - the message opening a dialog is searched for the tenant's campaign code pattern."""
    touched = False
    if new_customer and channel.kind in TELEGRAM_KINDS:
        touched = await _earlier_touches(session, channel, customer_id, external_user_id)
    if new_dialog and text:
        touched = await _code_in_message(session, channel, customer_id, text, at) or touched
    if touched:
        await _first_and_last(session, [customer_id])


async def _earlier_touches(session: AsyncSession, channel: ChannelAccount, customer_id: int,
                           external_user_id: str) -> bool:
    try:
        user_id = int(external_user_id)
    except ValueError:
        return False
    have = (await session.execute(select(TrafficTouch.raw).where(TrafficTouch.customer_id == customer_id))).scalars()
    seen_joins = {r.get("join") for r in have if isinstance(r, dict)}
    joins = (await session.execute(
        select(CampaignJoin, CampaignInviteLink).join(CampaignInviteLink, CampaignInviteLink.id == CampaignJoin.link_id)
        .where(CampaignJoin.tenant_id == channel.tenant_id, CampaignJoin.telegram_user_id == user_id,
               CampaignJoin.state == "joined")
    )).all()
    by_code = {c.code: c for c in await campaigns(session, channel.tenant_id)} if joins else {}
    added = 0
    for join, link in joins:
        if join.id in seen_joins:
            continue
        session.add(_join_touch(link, by_code.get(link.campaign_code), join.id, customer_id, channel.kind,
                                join.joined_at or join.requested_at or datetime.now(UTC)))
        added += 1
    # The same person as a customer of another Telegram channel of the tenant: their touches (a deep link, UTM tags)
    # are theirs here too. Joins are copied above from their own rows, so they are left out here.
    others = (await session.execute(
        select(TrafficTouch).join(CustomerIdentity, CustomerIdentity.customer_id == TrafficTouch.customer_id)
        .join(ChannelAccount, ChannelAccount.id == CustomerIdentity.channel_id)
        .where(ChannelAccount.tenant_id == channel.tenant_id, ChannelAccount.kind.in_(TELEGRAM_KINDS),
               CustomerIdentity.external_user_id == external_user_id, TrafficTouch.customer_id != customer_id)
    )).scalars().all()
    copied = set()
    for touch in others:
        raw = touch.raw or {}
        if touch.id in copied or raw.get("join") is not None or raw.get("copied_from") is not None:
            continue
        copied.add(touch.id)
        session.add(TrafficTouch(
            tenant_id=touch.tenant_id, customer_id=customer_id, channel_kind=touch.channel_kind, source=touch.source,
            medium=touch.medium, campaign=touch.campaign, content=touch.content, term=touch.term, ref=touch.ref,
            raw={**(touch.raw or {}), "copied_from": touch.id}, touched_at=touch.touched_at))
        added += 1
    if added:
        await session.flush()
    return bool(added)


CODE_TEXT_LIMIT = 300  # the code is looked for at the start of the message: a pasted essay is not scanned whole


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


def code_in(pattern: str | None, text: str) -> str | None:
    """The campaign code the pattern finds in a message (its one group), or None."""
    if not pattern or not text:
        return None
    found = _compiled(pattern).search(text[:CODE_TEXT_LIMIT])
    if found is None:
        return None
    code = (found.group(1) or "").strip()
    return code[:64] or None


async def _code_in_message(session: AsyncSession, channel: ChannelAccount, customer_id: int, text: str,
                           at: datetime) -> bool:
    pattern = (await session.execute(
        select(Tenant.campaign_code_pattern).where(Tenant.id == channel.tenant_id))).scalar_one_or_none()
    code = code_in(pattern, text)
    if code is None:
        return False
    campaign = next((c for c in await campaigns(session, channel.tenant_id)
                     if code.lower() in (c.code.lower(), c.name.lower())), None)
    session.add(TrafficTouch(
        tenant_id=channel.tenant_id, customer_id=customer_id, channel_kind=channel.kind,
        source=campaign.source if campaign else None, medium=CODE_MEDIUM,
        campaign=campaign.name if campaign else code, ref=campaign.code if campaign else code,
        raw={"code_in_message": code}, touched_at=at))
    await session.flush()
    return True
