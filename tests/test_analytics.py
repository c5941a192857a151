"""core.services.analytics on a shop with a known day: every figure checked against what the seeded rows say it must
be, in the tenant's time zone, with filters; spend equal to core.ai.spend's sums to the last decimal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from core.ai import spend as ai_spend
from core.models import (
    AIUsage,
    AuthorKind,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Customer,
    Decision,
    Dialog,
    DialogStatus,
    DialogTopic,
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
from core.services import analytics
from core.services.analytics import Filters, Period
from core.services.tenants import create_tenant, role_by_code

TZ = "Europe/Moscow"  # UTC+3 all year
REPORT_DAY = date(2026, 3, 10)  # the morning report of this day covers YESTERDAY
YESTERDAY = REPORT_DAY - timedelta(days=1)
GROUP_CHAT = -1001234567890


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


@dataclass
class Shop:
    tenant_id: int
    tg: int
    vk: int
    group_id: int
    ivan: int
    maria: int
    dialogs: dict[str, int] = field(default_factory=dict)
    spend_yesterday: Decimal = Decimal(0)


async def seed_shop(session, *, slug: str = "shop", report_chat_ids: list[int] | None = None,
                    group_chat: int = GROUP_CHAT) -> Shop:
    """A shop with a known YESTERDAY (see the expectations in test_figures_of_yesterday)."""
    tenant = await create_tenant(session, slug=slug, name="Магазин", timezone=TZ,
                                 report_chat_ids=report_chat_ids or [])
    await session.flush()
    tg = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="1", title="Shop TG",
                        status=ChannelStatus.ACTIVE)
    vk = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="2", title="Shop VK",
                        status=ChannelStatus.REVOKED)
    group = ManagerGroup(tenant_id=tenant.id, chat_id=group_chat, title="Менеджеры", is_forum=True,
                         missing_rights=["can_pin_messages"])
    session.add_all([tg, vk, group])
    await session.flush()
    role = await role_by_code(session, tenant.id, "manager")
    ivan = StaffMember(tenant_id=tenant.id, role_id=role.id, telegram_user_id=101, name="Иван")
    maria = StaffMember(tenant_id=tenant.id, role_id=role.id, telegram_user_id=102, name="Мария")
    session.add_all([ivan, maria])
    await session.flush()
    shop = Shop(tenant.id, tg.id, vk.id, group.id, ivan.id, maria.id)
    y, d = YESTERDAY, REPORT_DAY

    async def dialog(key: str, name: str, created: datetime, *, channel: int = tg.id, status=DialogStatus.ACTIVE,
                     unread: int = 0, thread: int | None = None, messages=(), **fields) -> Dialog:
        customer = Customer(tenant_id=tenant.id, display_name=name)
        session.add(customer)
        await session.flush()
        row = Dialog(tenant_id=tenant.id, customer_id=customer.id, channel_id=channel, external_chat_id=key,
                     status=status, unread_count=unread, manager_group_id=group.id, created_at=created, **fields)
        session.add(row)
        await session.flush()
        last = None
        for n, (direction, at, *rest) in enumerate(messages):
            author = rest[0] if rest else (AuthorKind.CUSTOMER if direction == Direction.IN else AuthorKind.MANAGER)
            staff = rest[1] if len(rest) > 1 else None
            imported = rest[2] if len(rest) > 2 else False
            session.add(Message(tenant_id=tenant.id, dialog_id=row.id, external_id=f"{key}-{n}", direction=direction,
                                author_kind=author, author_staff_id=staff, text="…", sent_at=at,
                                is_imported=imported))
            last = max(last or at, at)
        row.last_message_at = last
        row.last_customer_message_at = max((at for direction, at, *_ in messages if direction == Direction.IN),
                                           default=None)
        if thread is not None:
            session.add(DialogTopic(dialog_id=row.id, manager_group_id=group.id, thread_id=thread, title=name))
        await session.flush()
        shop.dialogs[key] = row.id
        return row

    IN, OUT = Direction.IN, Direction.OUT
    d1 = await dialog("d1", "Анна", local(y, 10), status=DialogStatus.WAITING,
                      messages=[(IN, local(y, 10)), (OUT, local(y, 10, 1), AuthorKind.AI)],
                      outcome=Outcome.WON, outcome_amount=Decimal("1500.00"), outcome_currency="RUB",
                      outcome_at=local(y, 18))
    d2 = await dialog("d2", "Борис", local(y, 11), status=DialogStatus.WAITING,
                      messages=[(IN, local(y, 11)), (OUT, local(y, 11, 5), AuthorKind.MANAGER, ivan.id)],
                      outcome=Outcome.LOST, outcome_reason="  Дорого ", outcome_at=local(y, 19))
    d3 = await dialog("d3", "Вера", local(y, 12), status=DialogStatus.RESOLVED, closed_at=local(y, 20),
                      messages=[(IN, local(y, 12)), (OUT, local(y, 12, 20), AuthorKind.MANAGER, maria.id)])
    await dialog("d4", "Глеб", local(y, 13), unread=1, thread=77, messages=[(IN, local(y, 13))])
    await dialog("d5", "Дина", local(y - timedelta(days=1), 9), channel=vk.id, status=DialogStatus.WAITING,
                 messages=[(IN, local(y - timedelta(days=1), 9)), (OUT, local(y - timedelta(days=1), 9, 3)),
                           (IN, local(y, 9)), (OUT, local(y, 23, 30), AuthorKind.MANAGER, ivan.id)])
    await dialog("d6", "Импорт", local(y, 15),  # a history import: old messages only
                 messages=[(IN, local(y - timedelta(days=30), 9), AuthorKind.CUSTOMER, None, True),
                           (OUT, local(y - timedelta(days=30), 10), AuthorKind.MANAGER, None, True)])
    d7 = await dialog("d7", "Егор", local(y, 16), status=DialogStatus.ESCALATED, unread=1, thread=78,
                      messages=[(IN, local(y, 16))])
    await dialog("d8", "Жанна", local(y - timedelta(days=9), 10), unread=2, thread=79,
                 messages=[(IN, local(y - timedelta(days=9), 10)), (IN, local(y - timedelta(days=9), 10, 5))])
    await dialog("d9", "Зоя", local(d, 8), unread=1, messages=[(IN, local(d, 8))])
    # 00:30 local of the report day is still the day before in UTC: it belongs to the report day.
    await dialog("d10", "Игорь", local(y - timedelta(days=1), 12), status=DialogStatus.WAITING,
                 messages=[(IN, local(y - timedelta(days=1), 12)), (OUT, local(y - timedelta(days=1), 12, 1)),
                           (IN, local(d, 0, 30)), (OUT, local(d, 0, 40), AuthorKind.MANAGER, maria.id)])

    session.add(Escalation(tenant_id=tenant.id, dialog_id=d7.id, reason="complaint", created_at=local(y, 16, 5)))
    for key, dlg, state, intent, decided in (
        ("auto", d1, SuggestionState.SENT, "price", None), ("approved", d2, SuggestionState.SENT, "price", ivan.id),
        ("edited", d3, SuggestionState.EDITED, "shipping", maria.id),
        ("pending", await _id(session, shop, "d4"), SuggestionState.PENDING, "availability", None),
        ("escalated", d7, SuggestionState.ESCALATED, "complaint", None),
    ):
        dialog_id = dlg if isinstance(dlg, int) else dlg.id
        message_id = (await session.execute(text(
            "SELECT id FROM messages WHERE dialog_id = :d ORDER BY sent_at LIMIT 1"), {"d": dialog_id})).scalar_one()
        created = (await session.execute(text("SELECT created_at FROM dialogs WHERE id = :d"),
                                         {"d": dialog_id})).scalar_one() + timedelta(seconds=30)
        session.add(Suggestion(tenant_id=tenant.id, dialog_id=dialog_id, message_id=message_id, text=key,
                               intent=intent, state=state, decided_by_id=decided, created_at=created,
                               decision=Decision.AUTO_SEND if key == "auto" else Decision.NEED_APPROVAL))
    # A draft of the day before yesterday: not counted.
    d5_first = (await session.execute(text("SELECT id FROM messages WHERE dialog_id = :d ORDER BY sent_at LIMIT 1"),
                                      {"d": shop.dialogs["d5"]})).scalar_one()
    session.add(Suggestion(tenant_id=tenant.id, dialog_id=shop.dialogs["d5"], message_id=d5_first, text="old",
                           intent="price", state=SuggestionState.SENT, created_at=local(y - timedelta(days=1), 9, 1)))
    # The event log as the workspace writes it (won, lost, closed), at the moment of the change.
    session.add_all([
        Event(tenant_id=tenant.id, kind="dialog_won", dialog_id=d1.id, actor_staff_id=ivan.id,
              payload={"amount": "1500.00"}, created_at=local(y, 18)),
        Event(tenant_id=tenant.id, kind="dialog_lost", dialog_id=d2.id, actor_staff_id=maria.id,
              payload={"reason": "Дорого"}, created_at=local(y, 19)),
        Event(tenant_id=tenant.id, kind="dialog_closed", dialog_id=d3.id, actor_staff_id=maria.id,
              created_at=local(y, 20)),
    ])
    costs = [(local(y, 0, 0, 1), "gpt-4o-mini", UsagePurpose.SUGGEST, Decimal("0.001234567891")),
             (local(y, 23, 59, 59), "gpt-4o-mini", UsagePurpose.INTENT, Decimal("0.000300000009")),
             (local(y, 12), "text-embedding-3-small", UsagePurpose.EMBED, Decimal("0.000020000000")),
             (local(y, 0) - timedelta(seconds=1), "gpt-4o-mini", UsagePurpose.SUGGEST, Decimal("5")),  # before
             (local(d, 0), "gpt-4o-mini", UsagePurpose.SUGGEST, Decimal("7"))]  # the report day
    for at, model, purpose, cost in costs:
        session.add(AIUsage(tenant_id=tenant.id, purpose=purpose, provider="openai", model=model, cost_usd=cost,
                            prompt_tokens=100, created_at=at))
    shop.spend_yesterday = sum((c for at, *_, c in costs if local(y, 0) <= at < local(d, 0)), Decimal(0))
    await session.flush()
    return shop


async def _id(session, shop: Shop, key: str) -> int:
    return shop.dialogs[key]


@pytest.fixture
async def shop(db) -> Shop:
    async with db.unit_of_work() as session:
        return await seed_shop(session)


async def test_figures_of_yesterday(db, shop):
    period = Period.day(YESTERDAY, TZ)
    async with db.unit_of_work() as session:
        counts = await analytics.dialog_counts(session, shop.tenant_id, period)
        assert (counts.new, counts.active, counts.answered, counts.escalated, counts.resolved) == (5, 6, 4, 1, 1)
        assert counts.status == analytics.StatusCounts(active=4, waiting=4, escalated=1, resolved=1, inactive=0)

        waiting = await analytics.waiting(session, shop.tenant_id)
        assert waiting.total == 4
        assert [w.name for w in waiting.oldest] == ["Жанна", "Глеб", "Егор", "Зоя"]
        assert (waiting.oldest[1].chat_id, waiting.oldest[1].thread_id) == (GROUP_CHAT, 77)
        assert waiting.oldest[3].chat_id is None and waiting.oldest[3].thread_id is None
        assert len((await analytics.waiting(session, shop.tenant_id, limit=2)).oldest) == 2

        fr = await analytics.first_response(session, shop.tenant_id, period)
        assert fr.overall == analytics.ResponseStats(3, 300.0, 1020.0)
        assert fr.ai == analytics.ResponseStats(1, 60.0, 60.0)
        assert fr.managers == analytics.ResponseStats(2, 750.0, 1110.0)
        assert [(m.name, m.stats.median_seconds) for m in fr.by_manager] == [("Иван", 300.0), ("Мария", 1200.0)]
        assert fr.unanswered == 2

        outcomes = await analytics.outcomes(session, shop.tenant_id, period, currency="RUB")
        assert (outcomes.won, outcomes.lost, outcomes.revenue, outcomes.currency) == (1, 1, Decimal("1500.00"), "RUB")
        assert [(r.name, r.won, r.lost, r.revenue) for r in outcomes.by_channel] == [("Shop TG", 1, 1, Decimal("1500"))]
        assert [(r.name, r.won, r.lost, r.revenue) for r in outcomes.by_manager] == [
            ("Иван", 1, 0, Decimal("1500")), ("Мария", 0, 1, Decimal("0"))]
        assert await analytics.lost_reasons(session, shop.tenant_id, period) == [analytics.ReasonCount("дорого", 1)]

        share = await analytics.ai_share(session, shop.tenant_id, period)
        assert share == analytics.AIShare(drafts=5, auto_sent=1, approved=1, edited=1, rejected=0, escalated=1,
                                          pending=1, outdated=0, failed=0)
        assert share.sent == 3
        assert [(i.intent, i.count) for i in await analytics.intents(session, shop.tenant_id, period)] == [
            ("price", 2), ("availability", 1), ("complaint", 1), ("shipping", 1)]

        escalations = await analytics.pending_escalations(session, shop.tenant_id)
        assert escalations.total == 1 and escalations.oldest[0].name == "Егор"
        assert escalations.oldest[0].thread_id == 78

        problems = await analytics.channel_problems(session, shop.tenant_id, now=local(REPORT_DAY, 9))
        assert [(c.title, c.status, c.fix) for c in problems.channels] == [("Shop VK", "revoked", "channel_reconnect")]
        assert [(g.title, g.missing_rights, g.fix) for g in problems.groups] == [
            ("Менеджеры", ["can_pin_messages"], "grant_rights")]


async def test_spend_is_core_spend_to_the_last_decimal(db, shop):
    period = Period.day(YESTERDAY, TZ)
    async with db.unit_of_work() as session:
        spent = await analytics.spend(session, shop.tenant_id, period)
        total = await ai_spend.spend_total(session, shop.tenant_id, since=period.start, until=period.end)
    assert spent.total_usd == total.cost_usd == shop.spend_yesterday == Decimal("0.001554567900")
    assert spent.calls == 3 and spent.total_cents == Decimal("0.00")
    assert sum(line.cost_usd for line in spent.by_day) == spent.total_usd
    assert [line.key for line in spent.by_day] == [YESTERDAY.isoformat()]
    assert sum(line.cost_usd for line in spent.by_model) == sum(line.cost_usd for line in spent.by_purpose)
    assert {line.key for line in spent.by_purpose} == {"suggest", "intent", "embed"}


async def test_the_local_day_decides_not_utc(db, shop):
    """d10's messages at 00:30 and 00:40 Moscow time are the report day's, though UTC still says yesterday."""
    async with db.unit_of_work() as session:
        today = await analytics.dialog_counts(session, shop.tenant_id, Period.day(REPORT_DAY, TZ))
        utc_yesterday = await analytics.dialog_counts(session, shop.tenant_id, Period(
            datetime.combine(YESTERDAY, datetime.min.time(), UTC),
            datetime.combine(REPORT_DAY, datetime.min.time(), UTC), "UTC"))
    assert (today.new, today.active, today.answered) == (1, 2, 1)  # d9 new; d9 and d10 active; d10 answered
    assert utc_yesterday.answered == 5  # UTC's yesterday gains d10's reply (21:40 UTC)


async def test_filters_narrow_every_figure(db, shop):
    period = Period.day(YESTERDAY, TZ)
    async with db.unit_of_work() as session:
        vk = await analytics.dialog_counts(session, shop.tenant_id, period, Filters(channel_id=shop.vk))
        assert (vk.new, vk.active, vk.answered, vk.status.total) == (0, 1, 1, 1)
        tg_out = await analytics.outcomes(session, shop.tenant_id, period, Filters(channel_id=shop.vk))
        assert (tg_out.won, tg_out.lost) == (0, 0)
        async with session.begin_nested():
            await session.execute(text("UPDATE dialogs SET assignee_id = :s WHERE id IN (:a, :b)"),
                                  {"s": shop.ivan, "a": shop.dialogs["d1"], "b": shop.dialogs["d4"]})
        mine = Filters(manager_id=shop.ivan)
        counts = await analytics.dialog_counts(session, shop.tenant_id, period, mine)
        assert (counts.new, counts.answered) == (2, 1)
        assert (await analytics.waiting(session, shop.tenant_id, mine)).total == 1
        assert (await analytics.ai_share(session, shop.tenant_id, period, mine)).drafts == 2
        assert (await analytics.first_response(session, shop.tenant_id, period, mine)).overall.count == 1
        other_group = await analytics.dialog_counts(session, shop.tenant_id, period,
                                                    Filters(manager_group_id=shop.group_id + 1000))
        assert (other_group.new, other_group.active, other_group.status.total) == (0, 0, 0)


async def test_activity_buckets_in_local_time(db, shop):
    async with db.unit_of_work() as session:
        days = await analytics.activity(session, shop.tenant_id,
                                        Period.days(YESTERDAY - timedelta(days=2), REPORT_DAY, TZ))
        hours = await analytics.activity(session, shop.tenant_id, Period.day(YESTERDAY, TZ), bucket="hour")
    assert [(p.start.date(), p.new, p.answered) for p in days] == [
        (YESTERDAY - timedelta(days=2), 0, 0), (YESTERDAY - timedelta(days=1), 2, 2), (YESTERDAY, 5, 4),
        (REPORT_DAY, 1, 1)]
    assert len(hours) == 24 and hours[0].start == datetime(2026, 3, 9, tzinfo=ZoneInfo(TZ))
    assert {p.start.hour: p.new for p in hours if p.new} == {10: 1, 11: 1, 12: 1, 13: 1, 16: 1}
    assert {p.start.hour: p.answered for p in hours if p.answered} == {10: 1, 11: 1, 12: 1, 23: 1}


async def test_summary_as_json_is_plain_data(db, shop):
    import json

    async with db.unit_of_work() as session:
        summary = await analytics.summary(session, shop.tenant_id, Period.day(YESTERDAY, TZ),
                                          now=local(REPORT_DAY, 9), currency="RUB")
    data = analytics.as_json(summary)
    assert json.loads(json.dumps(data)) == data
    assert data["spend"]["total_usd"] == "0.001554567900"
    assert data["dialogs"]["status"]["total"] == 10
    assert data["ai_share"]["sent"] == 3
    assert data["outcomes"]["revenue"] == "1500.00"


def test_periods():
    day = Period.day(YESTERDAY, TZ)
    assert day.start == datetime(2026, 3, 8, 21, tzinfo=UTC) and day.end - day.start == timedelta(days=1)
    assert Period.day_until(REPORT_DAY, local(REPORT_DAY, 9), TZ).end == local(REPORT_DAY, 9)
    with pytest.raises(ValueError):
        Period(datetime(2026, 1, 2), datetime(2026, 1, 3), TZ)
    with pytest.raises(Exception):
        Period.day(YESTERDAY, "Mars/Olympus")
