"""The dashboard read from migration 0015's rollup equals the figures asked of the raw tables (core.services.analytics,
as the status reports ask them), on random shops: every figure, for today, 7 and 30 days, custom days and a period
inside one UTC day, with and without channel / manager / group filters — first as loaded, then after the changes the
rollup must follow (late and backdated messages, a message moved, turned into an import or deleted, reassignments,
drafts decided, a dialog deleted, AI usage written into hours already rolled up). AI spend also equals core.ai.spend's
total (what `salesop spend` prints) to the last decimal."""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from core.ai import spend as ai_spend
from core.models import (
    AIUsage,
    AuthorKind,
    ChannelAccount,
    ChannelKind,
    Customer,
    DashboardActivity,
    DashboardFirstResponse,
    Dialog,
    DialogStatus,
    Direction,
    Escalation,
    Event,
    ManagerGroup,
    Message,
    Outcome,
    StaffMember,
    Suggestion,
    SuggestionState,
    UsagePurpose,
)
from core.services import dashboard
from core.services.analytics import Filters, Period
from core.services.tenants import create_tenant, role_by_code

INTENTS = ["price", "delivery", "availability", "complaint", "other"]
MODELS = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]


async def seed(db, rng: random.Random, timezone: str, now: datetime) -> dict:
    """A shop with `rng`'s dialogs over the last 40 days; last_message_at is every dialog's latest message, as the
    inbox keeps it. One statement per table, but for the messages, which the triggers must see arrive every way: some
    dialogs' one per statement, the others' together in one statement across dialogs and days (as an import writes)."""
    async with db.unit_of_work() as s:
        tenant = await create_tenant(s, slug=f"shop{rng.randrange(10**6)}", name="Shop", timezone=timezone)
        await s.flush()
        channels = [ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id=str(i),
                                   title=f"Channel {i}") for i in range(3)]
        groups = [ManagerGroup(tenant_id=tenant.id, chat_id=-100 - i - rng.randrange(10**6), title=f"Group {i}",
                               is_forum=True) for i in range(2)]
        s.add_all(channels + groups)
        await s.flush()
        role = await role_by_code(s, tenant.id, "manager")
        staff = [StaffMember(tenant_id=tenant.id, role_id=role.id, telegram_user_id=rng.randrange(10**9),
                             name=f"Manager {i}") for i in range(3)]
        s.add_all(staff)
        await s.flush()
        shop = {"tenant": tenant.id, "channels": [c.id for c in channels], "groups": [g.id for g in groups],
                "staff": [m.id for m in staff], "dialogs": []}
        customers = [Customer(tenant_id=tenant.id, display_name=f"Customer {n}") for n in range(45)]
        s.add_all(customers)
        await s.flush()
        # Drawn in the order the shop was once written dialog by dialog (the same shops for the same seeds); rows
        # that need the ids of others are finished once those are written.
        dialogs, histories, one_by_one, drafts, escalations, events = [], [], [], [], [], []
        for n, customer in enumerate(customers):
            created = now - timedelta(minutes=rng.randrange(40 * 24 * 60))
            status = rng.choice(list(DialogStatus))
            dialog = Dialog(tenant_id=tenant.id, customer_id=customer.id, channel_id=rng.choice(shop["channels"]),
                            external_chat_id=f"c{n}", status=status, created_at=created,
                            assignee_id=rng.choice(shop["staff"] + [None]),
                            manager_group_id=rng.choice(shop["groups"] + [None]),
                            unread_count=rng.choice([0, 0, 1, 3]), message_count=0, last_message_at=None,
                            outcome=None, outcome_at=None, outcome_amount=None, outcome_currency=None,
                            outcome_reason=None, closed_at=None, csat=None)
            dialogs.append(dialog)
            imported = rng.random() < 0.1  # a dialog brought in by a history import: its messages are old
            at = created - timedelta(days=rng.randrange(3, 30)) if imported else created
            history = []
            for k in range(rng.choice([0, 1, 2, 3, 5, 8, 13])):
                at = min(now - timedelta(seconds=1), at + timedelta(minutes=rng.choice([0, 1, 5, 30, 300, 2000])))
                direction = Direction.IN if rng.random() < 0.55 else Direction.OUT
                kind = AuthorKind.CUSTOMER if direction == Direction.IN else rng.choice([AuthorKind.AI,
                                                                                         AuthorKind.MANAGER])
                history.append(Message(
                    tenant_id=tenant.id, external_id=f"m{n}-{k}", direction=direction,
                    author_kind=kind, text="…", sent_at=at, is_imported=imported or rng.random() < 0.05,
                    author_staff_id=rng.choice(shop["staff"]) if kind == AuthorKind.MANAGER else None))
            histories.append(history)
            if history:
                one_by_one.append(rng.random() >= 0.5)
                dialog.last_message_at = max(m.sent_at for m in history)
                dialog.message_count = len(history)
                for message in history:
                    if message.direction == Direction.IN and rng.random() < 0.6:
                        drafts.append((message, dict(
                            tenant_id=tenant.id, text="draft", intent=rng.choice(INTENTS),
                            state=rng.choice(list(SuggestionState)), decided_by_id=rng.choice(shop["staff"] + [None]),
                            created_at=message.sent_at + timedelta(seconds=10))))
            else:
                one_by_one.append(False)
            if rng.random() < 0.25:
                escalations.append((dialog, dict(tenant_id=tenant.id, reason="low_confidence",
                                                 created_at=created + timedelta(minutes=rng.randrange(600)))))
            if rng.random() < 0.35:
                outcome_at = created + timedelta(minutes=rng.randrange(3000))
                dialog.outcome = rng.choice([Outcome.WON, Outcome.LOST])
                dialog.outcome_at = outcome_at
                if dialog.outcome == Outcome.WON:
                    dialog.outcome_amount = Decimal(rng.randrange(100, 10_000)) / 100
                    dialog.outcome_currency = rng.choice(["RUB", "RUB", "USD"])
                else:
                    dialog.outcome_reason = rng.choice(["Дорого", " дорого ", "нет в наличии", "", None])
                if rng.random() < 0.9:  # an outcome with no event is left out by both ways
                    events.append((dialog, dict(tenant_id=tenant.id, kind=f"dialog_{dialog.outcome.value}",
                                                actor_staff_id=rng.choice(shop["staff"] + [None]),
                                                created_at=outcome_at)))
            if status == DialogStatus.RESOLVED:
                dialog.closed_at = created + timedelta(minutes=rng.randrange(5000))
                dialog.csat = rng.choice([None, 1, 3, 5])
                events.append((dialog, dict(tenant_id=tenant.id, kind="dialog_closed", actor_staff_id=None,
                                            created_at=dialog.closed_at)))
        s.add_all(dialogs)
        await s.flush()
        shop["dialogs"] = [d.id for d in dialogs]
        for dialog, history in zip(dialogs, histories, strict=True):
            for message in history:
                message.dialog_id = dialog.id
        s.add_all([m for history, alone in zip(histories, one_by_one, strict=True) if not alone for m in history])
        await s.flush()
        for history, alone in zip(histories, one_by_one, strict=True):
            for message in history if alone else ():
                s.add(message)
                await s.flush()
        s.add_all([Suggestion(dialog_id=message.dialog_id, message_id=message.id, **row) for message, row in drafts]
                  + [Escalation(dialog_id=dialog.id, **row) for dialog, row in escalations]
                  + [Event(dialog_id=dialog.id, **row) for dialog, row in events])
        s.add_all([AIUsage(tenant_id=tenant.id, dialog_id=rng.choice(shop["dialogs"] + [None]),
                           purpose=rng.choice(list(UsagePurpose)), provider="openai", model=rng.choice(MODELS),
                           prompt_tokens=rng.randrange(2000), completion_tokens=rng.randrange(300),
                           cost_usd=Decimal(rng.randrange(1, 10**9)) / Decimal(10**12) * rng.randrange(1, 3000),
                           created_at=now - timedelta(minutes=rng.randrange(40 * 24 * 60))) for _ in range(120)])
    return shop


def periods(timezone: str, now: datetime, rng: random.Random) -> list[Period]:
    today = now.astimezone(Period(now, now, timezone).zone).date()
    start = now - timedelta(hours=rng.randrange(30, 200))
    return [
        dashboard.period_of("today", now=now, timezone=timezone),
        dashboard.period_of("7", now=now, timezone=timezone),
        dashboard.period_of("30", now=now, timezone=timezone),
        Period.days(today - timedelta(days=20), today - timedelta(days=3), timezone),
        Period(start, start + timedelta(hours=2), timezone),  # inside one UTC day or two: the straddle probe
        Period(now - timedelta(days=45), now + timedelta(hours=1), timezone),
    ]


async def compare(db, shop: dict, timezone: str, now: datetime, rng: random.Random) -> int:
    checked = 0
    filters = [Filters(), Filters(channel_id=shop["channels"][0]), Filters(manager_id=shop["staff"][1]),
               Filters(manager_group_id=shop["groups"][0]),
               Filters(channel_id=shop["channels"][1], manager_id=shop["staff"][0])]
    for period in periods(timezone, now, rng):
        for flt in filters:
            async with db.unit_of_work() as s:
                fast = await dashboard.figures(s, shop["tenant"], period, flt, currency="RUB", with_spend=True)
            async with db.unit_of_work() as s:
                raw = await dashboard.figures(s, shop["tenant"], period, flt, currency="RUB", with_spend=True,
                                              rollup=False)
                total = await ai_spend.spend_total(s, shop["tenant"], since=period.start, until=period.end)
            for f in fields(fast):
                assert getattr(fast, f.name) == getattr(raw, f.name), (f.name, period, flt)
            assert fast.spend.total_usd == total.cost_usd and fast.spend.calls == total.calls
            checked += 1
    return checked


async def change(db, shop: dict, rng: random.Random, now: datetime) -> None:
    """What happens to a shop after its days are rolled up."""
    dialogs = shop["dialogs"]
    async with db.unit_of_work() as s:
        for dialog_id in rng.sample(dialogs, 8):  # late messages into old days (a channel catching up)
            dialog = await s.get(Dialog, dialog_id)
            at = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
            direction = rng.choice(list(Direction))
            s.add(Message(tenant_id=shop["tenant"], dialog_id=dialog_id, external_id=f"late{rng.randrange(10**9)}",
                          direction=direction, text="late", sent_at=at,
                          author_kind=AuthorKind.CUSTOMER if direction == Direction.IN else AuthorKind.MANAGER,
                          author_staff_id=None if direction == Direction.IN else rng.choice(shop["staff"])))
            dialog.last_message_at = max(dialog.last_message_at or at, at)
            dialog.message_count += 1
        messages = list((await s.execute(select(Message).where(Message.tenant_id == shop["tenant"]))).scalars())
        for message in rng.sample(messages, min(6, len(messages))):  # moved in time, turned around, imported
            what = rng.randrange(3)
            if what == 0:
                message.sent_at = message.sent_at - timedelta(hours=rng.randrange(1, 60))
            elif what == 1:
                message.direction = Direction.OUT if message.direction == Direction.IN else Direction.IN
            else:
                message.is_imported = not message.is_imported
        await s.flush()
        doomed = rng.sample(messages, min(5, len(messages)))
        await s.execute(delete(Message).where(Message.id.in_([m.id for m in doomed])))
        await s.execute(update(Message).where(Message.tenant_id == shop["tenant"]).values(is_read=True))
        for dialog_id in rng.sample(dialogs, 10):  # reassigned, moved to another group
            await s.execute(update(Dialog).where(Dialog.id == dialog_id).values(
                assignee_id=rng.choice(shop["staff"] + [None]), manager_group_id=rng.choice(shop["groups"] + [None])))
        for dialog_id in rng.sample(dialogs, 3):  # a dialog's start corrected
            await s.execute(update(Dialog).where(Dialog.id == dialog_id).values(
                created_at=now - timedelta(minutes=rng.randrange(40 * 24 * 60))))
        for dialog_id in rng.sample(dialogs, 10):  # answered, written to again, escalated, closed
            await s.execute(update(Dialog).where(Dialog.id == dialog_id).values(
                unread_count=rng.choice([0, 2]), status=rng.choice(list(DialogStatus))))
        async with db.unit_of_work() as other:  # a new dialog in a transaction of its own
            customer = Customer(tenant_id=shop["tenant"], display_name="New")
            other.add(customer)
            await other.flush()
            other.add(Dialog(tenant_id=shop["tenant"], customer_id=customer.id, channel_id=shop["channels"][0],
                             external_chat_id="new", unread_count=1, assignee_id=shop["staff"][0]))
        await s.execute(update(Suggestion).where(Suggestion.tenant_id == shop["tenant"],
                                                 Suggestion.id % 3 == 0).values(state=SuggestionState.SENT,
                                                                                 decided_by_id=None))
        gone = rng.choice(dialogs)
        await s.execute(delete(Dialog).where(Dialog.id == gone))
        dialogs.remove(gone)
        # usage written into hours the rollup already holds, and usage of now
        s.add_all([AIUsage(tenant_id=shop["tenant"], purpose=UsagePurpose.SUGGEST, provider="openai", model="gpt-4o",
                           cost_usd=Decimal("0.000123456789"),
                           created_at=now - timedelta(hours=rng.randrange(1, 24 * 20))) for _ in range(5)])
        s.add(AIUsage(tenant_id=shop["tenant"], purpose=UsagePurpose.EMBED, provider="openai",
                      model="text-embedding-3-small", cost_usd=Decimal("0.000000000001")))


@pytest.mark.parametrize("seed_value,timezone", [(1, "Europe/Moscow"), (2, "America/New_York"), (3, "Asia/Kolkata")])
async def test_rollup_equals_raw_figures(db, seed_value, timezone):
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    shop = await seed(db, rng, timezone, now)
    assert await compare(db, shop, timezone, now, rng) == 30
    await change(db, shop, rng, now)
    now = datetime.now(UTC)
    assert await compare(db, shop, timezone, now, rng) == 30


async def test_rollup_rows_follow_the_messages(db):
    """The triggers' rows are what a rebuild from the messages gives, after inserts, updates and deletes."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    shop = await seed(db, rng, "Europe/Moscow", now)
    await change(db, shop, rng, now)
    async with db.unit_of_work() as s:
        kept = sorted((await s.execute(select(
            DashboardActivity.dialog_id, DashboardActivity.day, DashboardActivity.first_in, DashboardActivity.last_in,
            DashboardActivity.first_out, DashboardActivity.last_out))).all())
        day = func.date(func.timezone("UTC", Message.sent_at))
        rebuilt = sorted((await s.execute(
            select(Message.dialog_id, day,
                   func.min(Message.sent_at).filter(Message.direction == Direction.IN),
                   func.max(Message.sent_at).filter(Message.direction == Direction.IN),
                   func.min(Message.sent_at).filter(Message.direction == Direction.OUT),
                   func.max(Message.sent_at).filter(Message.direction == Direction.OUT))
            .where(Message.is_imported.is_(False)).group_by(Message.dialog_id, day))).all())
        assert kept == rebuilt and kept
        responses = (await s.execute(select(func.count()).select_from(DashboardFirstResponse).where(
            DashboardFirstResponse.dialog_id.not_in(select(Dialog.id))))).scalar_one()
        assert responses == 0
