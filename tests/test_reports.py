"""Status reports: what they say (the analytics' figures, in Russian and English, only what the chat's audience may
see), when they go out (once per tenant, slot and local date, through taskiq's scheduler and the outbox, with a
time-scaled clock: at 09:00, not again after a restart at 09:00:30, once and marked late after downtime over 09:00,
once with two schedulers), and `salesop report preview` / `salesop spend` as a person runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from taskiq import InMemoryBroker

from core.models import AIUsage, OutboxCommand, ReportKind, ReportRun, Role, Tenant, UsagePurpose
from core.services import analytics, reports
from core.services.analytics import Period
from core.services.tenants import create_tenant
from core.tasks import TaskiqQueue
from salesop import scheduler
from tests.bot.conftest import make_desk  # noqa: F401  (the sandbox desk fixture)
from tests.test_analytics import REPORT_DAY, TZ, YESTERDAY, local, seed_shop
from tests.clirun import run_cli

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- what it says


async def _build(db, shop, kind=ReportKind.MORNING, locale="ru", now=None):
    async with db.unit_of_work() as session:
        tenant = await session.get(Tenant, shop.tenant_id)
        return await reports.build(session, tenant, kind, REPORT_DAY, now=now or local(REPORT_DAY, 9),
                                   locale=locale, scheduled_at=local(REPORT_DAY, 9))


@pytest.fixture
async def shop(db):
    async with db.unit_of_work() as session:
        return await seed_shop(session)


async def test_the_morning_report_says_what_analytics_says(db, shop):
    report = await _build(db, shop)
    period = Period.day(YESTERDAY, TZ)
    async with db.unit_of_work() as session:
        expected = analytics.as_json(await analytics.summary(
            session, shop.tenant_id, period, now=local(REPORT_DAY, 9), currency="RUB", waiting_limit=10,
            escalation_limit=5, top=5))
    assert report.figures["summary"] == expected
    assert report.figures["late"] is False and report.figures["locale"] == "ru"
    html = report.html
    assert html.startswith("<b>☀️ Утренний отчёт · Магазин · 2026-03-10</b>")
    assert "Вчера, 2026-03-09" in html
    assert "Новых диалогов: 5 · активных: 6 · с ответом: 4" in html
    assert "Первый ответ: медиана 5 мин, 90% — не дольше 17 мин" in html  # 300 s and 1020 s
    assert "ИИ: 1 мин · менеджеры: 12 мин" in html
    assert "Сделки: выиграно 1, проиграно 1" in html and "Выручка: 1500 RUB" in html
    assert "Причины проигрыша: дорого 1" in html
    assert "Частые темы: цена 2 · наличие 1 · жалоба 1 · доставка 1" in html
    # Still waiting, oldest first, linked to their topics.
    waiting = html[html.index("Ждут ответа: 4"):]
    assert [name for name in ("Жанна", "Глеб", "Егор", "Зоя") if name in waiting] == ["Жанна", "Глеб", "Егор", "Зоя"]
    assert waiting.index("Жанна") < waiting.index("Глеб") < waiting.index("Егор") < waiting.index("Зоя")
    assert '<a href="https://t.me/c/1234567890/77">Глеб</a>' in html
    assert "Зоя — ждёт с 08:00, 1 сообщение" in html
    assert "Жанна</a> — ждёт с 2026-02-28 10:05, 2 сообщения" in html
    assert "Эскалации ждут решения: 1" in html and '<a href="https://t.me/c/1234567890/78">Егор</a>' in html
    assert "Shop VK: токен отозван или сессия недействительна" in html
    assert "Группа «Менеджеры»: боту не хватает прав администратора: can_pin_messages" in html
    # The team chat's audience is the manager role: it does not see AI costs.
    assert "Расходы на ИИ" not in html and "$" not in html


async def test_english_and_the_audience_that_sees_ai_costs(db, shop):
    async with db.unit_of_work() as session:
        await session.execute(update(Role).where(Role.tenant_id == shop.tenant_id, Role.code == "manager")
                              .values(hidden_fields=["deal_amount"]))
    report = await _build(db, shop, locale="en")
    html = report.html
    assert html.startswith("<b>☀️ Morning report · Магазин · 2026-03-10</b>")
    assert "New dialogs: 5 · active: 6 · answered: 4" in html
    assert "First response: median 5 min, 90% within 17 min" in html
    assert "Waiting for an answer: 4" in html and "waiting since 08:00, 1 message" in html
    assert "Top topics: price 2 · availability 1 · complaint 1 · delivery 1" in html
    # AI spend shown to the cent, and it is analytics' (and `salesop spend`'s) total; the revenue is hidden now.
    assert f"AI spend: ${shop.spend_yesterday.quantize(Decimal('0.01'))} (3 calls)" in html
    assert report.figures["summary"]["spend"]["total_usd"] == str(shop.spend_yesterday)
    assert "Revenue" not in html and "Deals: 1 won, 1 lost" in html


async def test_evening_report_is_today_so_far_and_what_is_left(db, shop):
    report = await _build(db, shop, ReportKind.EVENING, now=local(REPORT_DAY, 20))
    summary = report.figures["summary"]
    assert (datetime.fromisoformat(summary["period"]["start"]), datetime.fromisoformat(summary["period"]["end"])) == (
        local(REPORT_DAY, 0), local(REPORT_DAY, 20))
    assert summary["dialogs"]["new"] == 1 and summary["dialogs"]["answered"] == 1
    assert report.html.startswith("<b>🌙 Вечерний отчёт · Магазин · 2026-03-10</b>")
    assert "Сегодня до 20:00" in report.html and "Осталось без ответа: 4" in report.html
    # Today's activity is at 00:xx and 08:00: two hours with something to draw.
    assert report.chart["bucket"] == "hour" and len(report.chart["points"]) == 20


async def test_a_late_report_says_so_and_a_chart_is_a_png(db, shop):
    report = await _build(db, shop, now=local(REPORT_DAY, 10, 32))
    assert report.figures["late"] is True
    assert "С опозданием: отчёт на 09:00 отправлен в 10:32" in report.html
    png = reports.chart_png(report.chart, "ru")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    # It fits a caption: one photo carries it all.
    assert reports.visible_length(report.html) <= reports.CAPTION_LIMIT
    assert reports.telegram_parts(report.html, report.chart, "ru") == (report.html, [])


def test_telegram_limits():
    chart = {"bucket": "day", "points": []}
    short = "<b>Отчёт</b>\nВсё хорошо &amp; спокойно"
    assert reports.telegram_parts(short, chart, "ru") == (short, [])
    assert reports.telegram_parts(short, None, "ru") == (None, [short])
    long = "\n".join(f'{n}. <a href="https://t.me/c/1/{n}">Клиент {n}</a> — ждёт' for n in range(400))
    caption, parts = reports.telegram_parts(long, chart, "en")
    assert caption == "📊 New and answered dialogs by day" and len(parts) > 1
    assert all(reports.visible_length(p) <= reports.TEXT_LIMIT for p in parts)
    assert "\n".join(parts) == long  # cut between lines, nothing lost


# --------------------------------------------------------------------------------------------- when it goes out


class ScaledClock:
    """The product's clock running `scale` times faster than real time from `start`."""

    def __init__(self, start: datetime, scale: float):
        self.start, self.scale, self.t0 = start, scale, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.scale)


def at_local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZoneInfo(TZ))


async def wait_for(condition, desk, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        await desk.outbox.drain(timeout=10)
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Scheduler:
    """One scheduler process: its own broker and task registry on the desk's database, bot and outbox."""

    def __init__(self, desk, clock):
        self.ctx = desk.ctx
        self.clock = clock
        self.stop = asyncio.Event()
        self.task = None

    async def start(self):
        ctx = self.ctx
        ctx.clock = self.clock
        ctx.queue = TaskiqQueue(InMemoryBroker())
        ctx.services["periodic"] = []
        ctx.services["report_ticks"] = 0
        scheduler.install(ctx)
        await ctx.queue.startup()
        self.task = asyncio.create_task(scheduler.run(ctx, self.stop))
        return self

    @property
    def ticks(self) -> int:
        return self.ctx.services.get("report_ticks", 0)

    async def close(self):
        self.stop.set()
        await self.task
        await self.ctx.queue.shutdown()


async def _report_desk(make_desk, *, evening=None):
    desk = await make_desk()
    async with desk.db.unit_of_work() as session:
        await session.execute(update(Tenant).where(Tenant.id == desk.tenant_id).values(
            timezone=TZ, report_chat_ids=[desk.group_chat_id], report_evening_at=evening))
    return desk


def bot_posts(desk) -> list[dict]:
    return [m for m in desk.group()["messages"] if m["by_bot"] and not m["service"] and not m["deleted"]]


def report_posts(desk, title: str = "Утренний отчёт") -> list[dict]:
    return [m for m in bot_posts(desk) if title in (m["text"] or m["caption"] or "")]


async def runs(desk) -> list[ReportRun]:
    async with desk.db.unit_of_work() as session:
        return list((await session.execute(select(ReportRun).order_by(ReportRun.id))).scalars())


async def test_posted_once_at_nine_and_not_again_after_a_restart(make_desk):
    desk = await _report_desk(make_desk)
    day = date.today()
    first = await Scheduler(desk, ScaledClock(at_local(day, 8, 59), scale=10)).start()
    try:
        # Before 09:00 the scheduler runs and posts nothing.
        await wait_for(lambda: _true(first.ticks >= 1), desk, what="a first tick")
        assert first.clock.now() < at_local(day, 9) and report_posts(desk) == []
        await wait_for(lambda: _true(len(report_posts(desk)) == 1), desk, what="the morning report")
        ticks = first.ticks
        await wait_for(lambda: _true(first.ticks >= ticks + 3), desk, what="more ticks")
    finally:
        await first.close()
    [run] = await runs(desk)
    assert run.kind == ReportKind.MORNING and run.scheduled_for == at_local(day, 9)
    made = datetime.fromisoformat(run.figures["made_at"])
    assert at_local(day, 9) <= made and run.figures["late"] is False and run.status.value == "sent"
    assert datetime.fromisoformat(run.figures["summary"]["period"]["start"]) == Period.day(day - timedelta(days=1),
                                                                                          TZ).start
    # The figures are the analytics' for the same period (nothing changed since).
    async with desk.db.unit_of_work() as session:
        expected = analytics.as_json(await analytics.summary(
            session, desk.tenant_id, Period.day(day - timedelta(days=1), TZ), now=made, currency="RUB"))
    assert run.figures["summary"] == expected

    # A restart at 09:00:30: the run is there, nothing is posted again.
    second = await Scheduler(desk, ScaledClock(at_local(day, 9, 0, 30), scale=10)).start()
    try:
        await wait_for(lambda: _true(second.ticks >= 3), desk, what="ticks after the restart")
    finally:
        await second.close()
    assert len(report_posts(desk)) == 1 and len(await runs(desk)) == 1


async def test_downtime_over_nine_posts_it_once_on_start_marked_late(make_desk):
    desk = await _report_desk(make_desk)
    day = date.today()
    back = await Scheduler(desk, ScaledClock(at_local(day, 10, 30), scale=10)).start()
    try:
        await wait_for(lambda: _true(len(report_posts(desk)) == 1), desk, what="the late report")
        ticks = back.ticks
        await wait_for(lambda: _true(back.ticks >= ticks + 3), desk, what="more ticks")
    finally:
        await back.close()
    [post] = report_posts(desk)
    assert "С опозданием: отчёт на 09:00 отправлен в 10:30" in (post["text"] or post["caption"])
    [run] = await runs(desk)
    assert run.figures["late"] is True and run.scheduled_for == at_local(day, 9)


async def test_two_schedulers_post_it_once(make_desk):
    desk = await _report_desk(make_desk, evening=None)
    day = date.today()
    clock = ScaledClock(at_local(day, 9, 0, 5), scale=10)
    a = await Scheduler(desk, clock).start()
    # A second process: its own context (queue, services) on the same database, bot and outbox.
    import dataclasses

    other = dataclasses.replace(desk.ctx, services=dict(desk.ctx.services))
    b = Scheduler(desk, clock)
    b.ctx = other
    await b.start()
    try:
        await wait_for(lambda: _true(a.ticks >= 3 and b.ticks >= 3 and len(report_posts(desk)) == 1), desk,
                       what="both schedulers ticking")
    finally:
        await a.close()
        await b.close()
    assert len(report_posts(desk)) == 1 and len(await runs(desk)) == 1
    async with desk.db.unit_of_work() as session:
        commands = (await session.execute(select(OutboxCommand).where(OutboxCommand.kind == reports.POST_REPORT))
                    ).scalars().all()
    assert len(commands) == 1


async def test_no_report_chat_no_run_and_yesterdays_missed_slot_is_not_posted(db):
    async with db.unit_of_work() as session:
        quiet = await create_tenant(session, slug="quiet", name="Тихий", timezone=TZ)
        loud = await create_tenant(session, slug="loud", name="Громкий", timezone=TZ, report_chat_ids=[-1001],
                                   report_evening_at=None)
        await session.flush()
        ids = (quiet.id, loud.id)
    async with db.unit_of_work() as session:
        assert await reports.tenants_with_reports(session) == [ids[1]]
        assert await reports.post_due(session, ids[0], now=local(REPORT_DAY, 12)) == []
        assert await reports.post_due(session, ids[1], now=local(REPORT_DAY, 8, 59)) == []
    # 00:10 the next day: yesterday's morning slot was never made, and it stays that way.
    async with db.unit_of_work() as session:
        assert await reports.post_due(session, ids[1], now=local(REPORT_DAY + timedelta(days=1), 0, 10)) == []
    async with db.unit_of_work() as session:
        [run] = await reports.post_due(session, ids[1], now=local(REPORT_DAY, 9, 1))
        assert run.figures["late"] is False and run.chat_ids == [-1001]
    async with db.unit_of_work() as session:
        # The owner moves the morning report to 08:00 after it went out: still one per local date.
        await session.execute(update(Tenant).where(Tenant.id == ids[1]).values(
            report_morning_at=datetime(2000, 1, 1, 8).time()))
    async with db.unit_of_work() as session:
        assert await reports.post_due(session, ids[1], now=local(REPORT_DAY, 9, 30)) == []


async def _true(value: bool) -> bool:
    return value


# ------------------------------------------------------------------------------------------------------ the CLI


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return run_cli(env, *args)  # salesop.cli.main in this process (tests/clirun.py)


@pytest.fixture
def cli_env(tmp_path, db_url) -> dict:
    from cryptography.fernet import Fernet

    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_DATABASE_URL": db_url,
            "SALESOP_MASTER_KEY": Fernet.generate_key().decode()}


async def test_preview_prints_the_report_in_the_cli_language(db, shop, cli_env, tmp_path):
    ru = cli(cli_env, "report", "preview", "--tenant", "shop", "--slot", "morning", "--date", "2026-03-10",
             "--chart", str(tmp_path / "chart.png"))
    assert ru.returncode == 0, ru.stderr
    assert ru.stdout.startswith("☀️ Утренний отчёт · Магазин · 2026-03-10\n")
    assert "Новых диалогов: 5 · активных: 6 · с ответом: 4" in ru.stdout
    assert "Глеб (https://t.me/c/1234567890/77) — ждёт с" in ru.stdout
    assert "<b>" not in ru.stdout
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
    en = cli({**cli_env, "SALESOP_LANGUAGE": "en"}, "report", "preview", "--tenant", "shop", "--slot", "evening",
             "--date", "2026-03-09")
    assert en.returncode == 0, en.stderr
    assert en.stdout.startswith("🌙 Evening report · Магазин · 2026-03-09\n")
    assert "Today until 20:00" in en.stdout  # a past evening: as of its slot's time
    assert "New dialogs: 5 · active: 6 · answered: 4" not in en.stdout  # 20:00, not the whole day: d5's 23:30 later
    assert "New dialogs: 5 · active: 6 · answered: 3" in en.stdout
    bad = cli({**cli_env, "SALESOP_LANGUAGE": "en"}, "report", "preview", "--tenant", "shop", "--slot", "morning",
              "--date", "10.03.2026")
    assert bad.returncode == 1 and bad.stderr.strip() == "salesop: the date must be YYYY-MM-DD: 10.03.2026"
    unknown = cli(cli_env, "report", "preview", "--tenant", "nope", "--slot", "morning")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr


async def test_report_spend_equals_salesop_spend_to_the_cent(db, cli_env):
    """Usage of the tenant's yesterday only: the morning report's spend and `salesop spend` add up the same rows."""
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="spender", name="Траты", timezone=TZ)
        await session.flush()
        today = datetime.now(UTC).astimezone(ZoneInfo(TZ)).date()
        yesterday = Period.day(today - timedelta(days=1), TZ)
        for n, cost in enumerate(("0.004999999999", "0.000000000001", "1.234567890123", "0.010000000000")):
            session.add(AIUsage(tenant_id=tenant.id, purpose=UsagePurpose.SUGGEST, provider="openai",
                                model="gpt-4o-mini", cost_usd=Decimal(cost),
                                created_at=yesterday.start + timedelta(hours=2 + n)))
    preview = cli(cli_env, "report", "preview", "--tenant", "spender", "--slot", "morning", "--json")
    assert preview.returncode == 0, preview.stderr
    figures = json.loads(preview.stdout)
    spent = cli(cli_env, "spend", "--tenant", "spender", "--days", "3", "--json")
    assert spent.returncode == 0, spent.stderr
    total = json.loads(spent.stdout)["total"]["cost_usd"]
    assert Decimal(figures["summary"]["spend"]["total_usd"]) == Decimal(total) == Decimal("1.249567890123")
    assert figures["summary"]["spend"]["calls"] == 4
