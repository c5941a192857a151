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

Report: the dialogs created in the period (with messages), by the first or the last touch of their customer; won,
lost and revenue are those dialogs' outcomes (revenue in the tenant's currency), conversion is won / dialogs.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..errors import UserError
from ..inbox import Sender, upsert_customer
from ..models import ChannelAccount, ChannelKind, Customer, Dialog, Outcome, StaffMember, Tenant, TrafficTouch
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
