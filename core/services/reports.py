"""Morning and evening status reports in the team's chats.

What a report says comes from core.services.analytics (the same figures as the dashboard), rendered by jinja2
templates (core/reports/templates) whose every word is a text of core/locales/*/reports.ftl. A team chat is read by
the team, so a report shows what the workspace's audience role may see (core.services.workspace.base.AUDIENCE_ROLE): the
revenue only when that role sees deal amounts, the AI spend only when it sees AI costs.

- morning: yesterday's new, active and answered dialogs, first-response time, won / lost and revenue, the AI's
  drafts, AI spend, top intents; who is still waiting (oldest first, linked to their topics); pending escalations;
  channel and group problems; a chart of the last seven days;
- evening: the same for today so far, what is left unanswered, and a chart by hour.

Scheduling (exactly once). The scheduler (salesop/scheduler.py, taskiq) asks every few seconds for `post_due`: a
tenant's slot (Tenant.report_morning_at / report_evening_at, in its time zone) is due once its time of the day has
come. Each (tenant, slot, local date) gets one ReportRun: the check and the insert run under a transaction-scoped
advisory lock on (tenant, slot), so a restart, a redeploy or a second scheduler finds the run and posts nothing; the
run and its outbox commands (one per chat of Tenant.report_chat_ids) are written in one transaction. A slot missed
while the product was down is due when it comes back the same day: it is posted then, once, marked late. Yesterday's
missed slots are not posted.

Posting goes through the outbox like every message (kind POST_REPORT, executed through the ManagerSurface): the chart
as a photo with the report as its caption when the report fits Telegram's 1024 characters, else the photo with its
title and the report as the following message(s) of at most 4096 characters. Without a chart worth showing, the
text alone.
"""

from __future__ import annotations

import asyncio
import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import NotRequired, TypedDict
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..commands import Call, CommandKind, Destination, Lane
from ..errors import UserError
from ..i18n import normalize, t
from ..models import (
    ManagerGroup,
    OutboxCommand,
    ReportKind,
    ReportRun,
    ReportStatus,
    StaffMember,
    Tenant,
)
from ..permissions import Field
from . import analytics
from .analytics import Period
from .workspace.views import audience_hidden_fields

POST_REPORT = "post_report"  # {run_id, chat_id, thread_id?} or, asked for with /report, {chat_id, thread_id,
#                              reply_to, html, chart, locale}; destination: the chat
LATE_AFTER = timedelta(minutes=5)  # a run made later than this after its time says it is late
CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
WAITING_SHOWN = 10
ESCALATIONS_SHOWN = 5
TOP = 5
CHART_DAYS = 7
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "reports" / "templates"
KINDS = {"morning": ReportKind.MORNING, "evening": ReportKind.EVENING}


class ReportError(UserError):
    pass


# --------------------------------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class Slot:
    kind: ReportKind
    day: date  # the local date the report is for (a morning report covers the day before)
    at: datetime  # when it is due (aware)


def slot_time(tenant: Tenant, kind: ReportKind) -> time | None:
    return tenant.report_morning_at if kind == ReportKind.MORNING else tenant.report_evening_at


def local_today(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tenant.timezone)).date()


def slot(tenant: Tenant, kind: ReportKind, day: date) -> Slot | None:
    at = slot_time(tenant, kind)
    if at is None:
        return None
    return Slot(kind, day, datetime.combine(day, at.replace(tzinfo=None), tzinfo=ZoneInfo(tenant.timezone)))


def due_slots(tenant: Tenant, now: datetime) -> list[Slot]:
    """Today's slots (local date) whose time has come."""
    today = local_today(tenant, now)
    return [s for kind in ReportKind if (s := slot(tenant, kind, today)) is not None and s.at <= now]


def report_period(tenant: Tenant, kind: ReportKind, day: date, *, until: datetime) -> Period:
    """Morning: the whole day before. Evening: the day from midnight until `until`."""
    if kind == ReportKind.MORNING:
        return Period.day(day - timedelta(days=1), tenant.timezone)
    end = min(until, Period.midnight(day + timedelta(days=1), tenant.timezone))
    return Period.day_until(day, end, tenant.timezone)


# -------------------------------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    day: date
    locale: str
    figures: dict  # JSON: everything the report was made from (analytics.as_json of the summary, chart, audience)
    html: str  # Telegram HTML
    chart: dict | None  # what chart_png draws, or None when a chart would say nothing the numbers do not


async def team_locale(session: AsyncSession, tenant: Tenant) -> str:
    """The language most of the tenant's active staff read (ties and no staff: the tenant's language)."""
    rows = (await session.execute(
        select(StaffMember.locale, func.count()).where(StaffMember.tenant_id == tenant.id,
                                                       StaffMember.is_active.is_(True))
        .group_by(StaffMember.locale)
    )).all()
    counts: dict[str, int] = {}
    for locale, count in rows:
        counts[normalize(locale)] = counts.get(normalize(locale), 0) + count
    fallback = normalize(tenant.language)
    if not counts:
        return fallback
    best = max(counts.values())
    leaders = [loc for loc, n in counts.items() if n == best]
    return fallback if fallback in leaders else sorted(leaders)[0]


async def build(session: AsyncSession, tenant: Tenant, kind: ReportKind, day: date, *, now: datetime, locale: str,
                scheduled_at: datetime | None = None, until: datetime | None = None) -> Report:
    """The report of `kind` for the local date `day`, as of `now`."""
    period = report_period(tenant, kind, day, until=until or now)
    summary = await analytics.summary(session, tenant.id, period, now=now, currency=tenant.currency,
                                      waiting_limit=WAITING_SHOWN, escalation_limit=ESCALATIONS_SHOWN, top=TOP)
    if kind == ReportKind.MORNING:
        chart_period = Period.days(day - timedelta(days=CHART_DAYS), day - timedelta(days=1), tenant.timezone)
        points = await analytics.activity(session, tenant.id, chart_period, bucket="day")
        bucket = "day"
    else:
        points = await analytics.activity(session, tenant.id, period, bucket="hour")
        bucket = "hour"
    chart = {"bucket": bucket, "points": [{"start": p.start.isoformat(), "new": p.new, "answered": p.answered}
                                          for p in points]}
    if sum(1 for p in points if p.new or p.answered) < 2:
        chart = None  # one bar or none: the numbers say it all
    hidden = await audience_hidden_fields(session, tenant.id)
    late = scheduled_at is not None and now - scheduled_at > LATE_AFTER
    figures = {
        "kind": kind.value, "date": day.isoformat(), "tenant": tenant.name, "timezone": tenant.timezone,
        "currency": tenant.currency, "locale": locale, "made_at": now.isoformat(),
        "scheduled_at": scheduled_at.isoformat() if scheduled_at else None, "late": late,
        "visible": {"revenue": Field.DEAL_AMOUNT.value not in hidden, "spend": Field.AI_COST.value not in hidden},
        "summary": analytics.as_json(summary), "chart": chart,
    }
    return Report(kind, day, locale, figures, render_html(figures), chart)


# ------------------------------------------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES_DIR), undefined=StrictUndefined, autoescape=True,
                       trim_blocks=True, lstrip_blocks=True)


def topic_link(chat_id: int | None, thread_id: int | None) -> str | None:
    """t.me link to a topic of a supergroup (-100XXXXXXXXXX → https://t.me/c/XXXXXXXXXX/<thread>)."""
    raw = str(chat_id or "")
    if not raw.startswith("-100") or not thread_id:
        return None
    return f"https://t.me/c/{raw[4:]}/{thread_id}"


def duration(seconds: float | None, locale: str) -> str | None:
    if seconds is None:
        return None
    whole = int(round(seconds))
    if whole < 60:
        return t("report.duration.seconds", locale, count=whole)
    if whole < 3600:
        return t("report.duration.minutes", locale, count=int(round(whole / 60)))
    return t("report.duration.hours", locale, hours=whole // 3600, minutes=(whole % 3600) // 60)


def money(value: str | Decimal) -> str:
    amount = Decimal(value)
    return str(amount.quantize(Decimal(1))) if amount == amount.to_integral_value() else \
        str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def cents(value: str | Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _when(iso: str | None, zone: ZoneInfo, today: date) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso).astimezone(zone)
    return moment.strftime("%H:%M") if moment.date() == today else moment.strftime("%Y-%m-%d %H:%M")


def context(figures: dict) -> dict:
    """What the templates show, from the stored figures: formatted values, links, and only what the audience sees."""
    locale = figures["locale"]
    zone = ZoneInfo(figures["timezone"])
    s = figures["summary"]
    made = datetime.fromisoformat(figures["made_at"]).astimezone(zone)
    period_end = datetime.fromisoformat(s["period"]["end"]).astimezone(zone)
    period_start = datetime.fromisoformat(s["period"]["start"]).astimezone(zone)
    kind = figures["kind"]

    def tr(key: str, **params) -> str:
        return t(key, locale, **params)

    fr = s["first_response"]
    first = None
    if fr["overall"]["count"]:
        first = {"median": duration(fr["overall"]["median_seconds"], locale),
                 "p90": duration(fr["overall"]["p90_seconds"], locale),
                 "ai": duration(fr["ai"]["median_seconds"], locale),
                 "managers": duration(fr["managers"]["median_seconds"], locale)}
    outcomes = s["outcomes"]
    revenue = None
    if figures["visible"]["revenue"]:
        revenue = {"amount": money(outcomes["revenue"]), "currency": outcomes["currency"] or figures["currency"]}
    spend = None
    if figures["visible"]["spend"]:
        spend = {"cost": cents(s["spend"]["total_usd"]), "calls": s["spend"]["calls"]}
    share = s["ai_share"] if s["ai_share"]["drafts"] else None
    intents = " · ".join(f"{_intent(i['intent'], locale)} {i['count']}" for i in s["intents"]) or None
    reasons = " · ".join(f"{r['reason'] or tr('report.no_reason')} {r['count']}" for r in s["lost_reasons"]) or None

    today = made.date()
    waiting = s["waiting"]
    waiting_view = {
        "count": waiting["total"], "more": max(0, waiting["total"] - len(waiting["oldest"])),
        "rows": [{"n": n, "name": w["name"] or f"#{w['dialog_id']}", "link": topic_link(w["chat_id"], w["thread_id"]),
                   "since": _when(w["since"], zone, today), "unread": w["unread"]}
                  for n, w in enumerate(waiting["oldest"], 1)],
    }
    esc = s["escalations"]
    escalations = None
    if esc["total"]:
        escalations = {"count": esc["total"], "more": max(0, esc["total"] - len(esc["oldest"])),
                       "rows": [{"n": n, "name": e["name"] or f"#{e['dialog_id']}",
                                  "link": topic_link(e["chat_id"], e["thread_id"]),
                                  "since": _when(e["created_at"], zone, today)}
                                 for n, e in enumerate(esc["oldest"], 1)]}
    p = s["problems"]
    problems = None
    if p["channels"] or p["groups"]:
        problems = {
            "channel_rows": [{"title": c["title"] or f"#{c['channel_id']}", "fix": _fix(c["fix"], [], locale)}
                         for c in p["channels"]],
            "group_rows": [{"title": g["title"] or str(g["chat_id"]), "fix": _fix(g["fix"], g["missing_rights"], locale)}
                       for g in p["groups"]],
        }
    late = None
    if figures.get("late") and figures.get("scheduled_at"):
        late = {"scheduled": datetime.fromisoformat(figures["scheduled_at"]).astimezone(zone).strftime("%H:%M"),
                "posted": made.strftime("%H:%M")}
    return {
        "kind": kind, "tenant": figures["tenant"], "date": figures["date"], "late": late,
        "period_label": period_start.date().isoformat() if kind == "morning" else period_end.strftime("%H:%M"),
        "dialogs": s["dialogs"], "first_response": first,
        "first_response_unanswered": fr["unanswered"], "outcomes": outcomes, "revenue": revenue,
        "lost_reasons": reasons, "ai_share": share, "spend": spend, "intents": intents, "waiting": waiting_view,
        "escalations": escalations, "problems": problems,
    }


def _intent(name: str, locale: str) -> str:
    from ..ai.texts import intent_name  # one name per intent, on cards, in reports and in the Mini App

    return intent_name(name, locale)


def _fix(fix: str | None, rights: list[str], locale: str) -> str:
    from ..i18n import has

    key = f"report.fix.{fix}"
    if fix and has(key, locale):
        return t(key, locale, rights=", ".join(rights))
    return t("report.fix.other", locale)


def render_html(figures: dict) -> str:
    """The report as Telegram HTML (its template per kind, every text through t() in the report's locale)."""
    locale = figures["locale"]

    def tr(key: str, **params) -> Markup:
        return Markup(escape(t(key, locale, **params)))

    text = environment().get_template(f"{figures['kind']}.j2").render(t=tr, **context(figures))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def visible_length(markup: str) -> int:
    """Characters Telegram counts for a message or caption: the text after its HTML is parsed."""
    return len(html.unescape(re.sub(r"<[^>]+>", "", markup)))


def plain_text(markup: str) -> str:
    """The report for a terminal: tags dropped, links kept after their text."""
    with_links = re.sub(r'<a href="([^"]+)">(.*?)</a>', lambda m: f"{m.group(2)} ({html.unescape(m.group(1))})",
                        markup)
    return html.unescape(re.sub(r"<[^>]+>", "", with_links))


def split_text(markup: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Messages of at most `limit` visible characters, cut between lines (each line's tags are closed on it)."""
    parts: list[str] = []
    current: list[str] = []
    for line in markup.split("\n"):
        if visible_length(line) > limit:
            line = html.escape(html.unescape(re.sub(r"<[^>]+>", "", line))[: limit - 1]) + "…"
        if current and visible_length("\n".join([*current, line])) > limit:
            parts.append("\n".join(current).strip())
            current = []
        current.append(line)
    if current and "\n".join(current).strip():
        parts.append("\n".join(current).strip())
    return parts


def telegram_parts(markup: str, chart: dict | None, locale: str) -> tuple[str | None, list[str]]:
    """(photo caption, text messages): the report as the chart's caption when it fits, else the chart's title as
    caption and the report after it."""
    if chart is None:
        return None, split_text(markup)
    if visible_length(markup) <= CAPTION_LIMIT:
        return markup, []
    title = t("report.chart.day" if chart["bucket"] == "day" else "report.chart.hour", locale)
    return str(escape(title)), split_text(markup)


def chart_png(chart: dict, locale: str) -> bytes:
    """New and answered dialogs per day or hour as bars (matplotlib, Agg backend, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = chart["points"]
    starts = [datetime.fromisoformat(p["start"]) for p in points]
    labels = [s.strftime("%d.%m") if chart["bucket"] == "day" else s.strftime("%H") for s in starts]
    figure = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    xs = range(len(points))
    width = 0.4
    axes.bar([x - width / 2 for x in xs], [p["new"] for p in points], width,
             label=t("report.chart.new", locale), color="#2f80ed")
    axes.bar([x + width / 2 for x in xs], [p["answered"] for p in points], width,
             label=t("report.chart.answered", locale), color="#27ae60")
    axes.set_xticks(list(xs))
    axes.set_xticklabels(labels, fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False, fontsize=9)
    title = t("report.chart.day" if chart["bucket"] == "day" else "report.chart.hour", locale)
    axes.set_title(re.sub(r"[^\u0000-\uffff]", "", title).strip(), fontsize=11)  # no emoji in the chart's font
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ scheduling


async def tenants_with_reports(session: AsyncSession) -> list[int]:
    return list((await session.execute(
        select(Tenant.id).where(func.cardinality(Tenant.report_chat_ids) > 0, Tenant.restricted.is_(False))
        .order_by(Tenant.id)
    )).scalars())


def _destination(chat_id: int) -> str:
    return outbox.tg_group(chat_id) if chat_id < 0 else outbox.tg_chat(chat_id)


async def existing_run(session: AsyncSession, tenant: Tenant, kind: ReportKind, day: date) -> ReportRun | None:
    """The run of (tenant, slot, local date), whatever time of the day it was scheduled for."""
    day_period = Period.day(day, tenant.timezone)
    return (await session.execute(
        select(ReportRun).where(ReportRun.tenant_id == tenant.id, ReportRun.kind == kind,
                                ReportRun.scheduled_for >= day_period.start, ReportRun.scheduled_for < day_period.end)
        .order_by(ReportRun.id).limit(1)
    )).scalar_one_or_none()


async def post_due(session: AsyncSession, tenant_id: int, *, now: datetime) -> list[ReportRun]:
    """Make the runs of the tenant's slots that are due today and not made yet, each with one outbox command per
    report chat. Safe to call any number of times, from any number of processes at once."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None or not tenant.report_chat_ids or tenant.restricted:
        return []
    made = []
    for due in due_slots(tenant, now):
        # One maker per (tenant, slot) at a time: whoever comes second waits here, then sees the first one's run.
        await session.execute(select(func.pg_advisory_xact_lock(
            func.hashtextextended(f"salesop:report:{tenant.id}:{due.kind.value}", 0))))
        if await existing_run(session, tenant, due.kind, due.day) is not None:
            continue
        run = await _make_run(session, tenant, due, now=now)
        if run is not None:
            made.append(run)
    return made


async def _make_run(session: AsyncSession, tenant: Tenant, due: Slot, *, now: datetime) -> ReportRun | None:
    locale = await team_locale(session, tenant)
    report = await build(session, tenant, due.kind, due.day, now=now, locale=locale, scheduled_at=due.at)
    period = report_period(tenant, due.kind, due.day, until=now)
    chats = list(dict.fromkeys(tenant.report_chat_ids))
    run_id = (await session.execute(
        insert(ReportRun).values(
            tenant_id=tenant.id, kind=due.kind, scheduled_for=due.at, period_start=period.start,
            period_end=period.end, status=ReportStatus.PENDING, chat_ids=chats, body=report.html,
            figures=report.figures,
        ).on_conflict_do_nothing(index_elements=["tenant_id", "kind", "scheduled_for"]).returning(ReportRun.id)
    )).scalar_one_or_none()
    if run_id is None:
        return None
    for chat_id in chats:
        await outbox.enqueue(session, kind=POST_REPORT, destination=_destination(chat_id), tenant_id=tenant.id,
                             idempotency_key=f"report:{run_id}:{chat_id}",
                             payload={"run_id": run_id, "chat_id": chat_id, "thread_id": None})
    events.record(session, "report_queued", tenant_id=tenant.id, report_run_id=run_id, slot=due.kind.value,
                  date=due.day.isoformat(), late=report.figures["late"], chats=chats)
    return await session.get(ReportRun, run_id)


# -------------------------------------------------------------------------------------------------- on demand


def parse_kind(raw: str | None, tenant: Tenant, now: datetime) -> ReportKind:
    """`/report morning|evening`; without a word: the morning report until the morning slot's time, then the
    evening one (today so far)."""
    word = (raw or "").strip().lower()
    if word in KINDS:
        return KINDS[word]
    if word:
        raise ReportError("unknown report", code="report.bad_slot")
    morning = slot(tenant, ReportKind.MORNING, local_today(tenant, now))
    return ReportKind.MORNING if morning is not None and now < morning.at else ReportKind.EVENING


async def chat_tenants(session: AsyncSession, chat_id: int) -> list[int]:
    """Tenants a chat belongs to: the manager group's, and those sending their reports there."""
    ids = list((await session.execute(
        select(Tenant.id).where(Tenant.report_chat_ids.any(chat_id)).order_by(Tenant.id))).scalars())
    group = (await session.execute(select(ManagerGroup.tenant_id).where(ManagerGroup.chat_id == chat_id)
                                   )).scalar_one_or_none()
    return ([group] if group is not None and group not in ids else []) + ids


async def request(session: AsyncSession, tenant_id: int, *, kind: ReportKind, chat_id: int, thread_id: int | None,
                  reply_to: int | None, locale: str, now: datetime, key: str) -> OutboxCommand:
    """A report asked for in a chat (/report): made now, posted through the outbox. `key` makes a repeated request
    (the same Telegram update again) one post."""
    tenant = await session.get(Tenant, tenant_id)
    report = await build(session, tenant, kind, local_today(tenant, now), now=now, locale=normalize(locale))
    command = await outbox.enqueue(
        session, kind=POST_REPORT, destination=_destination(chat_id), tenant_id=tenant_id, idempotency_key=key,
        payload={"chat_id": chat_id, "thread_id": thread_id, "reply_to": reply_to, "html": report.html,
                 "chart": report.chart, "locale": report.locale, "kind": kind.value},
    )
    events.record(session, "report_requested", tenant_id=tenant_id, slot=kind.value, chat_id=chat_id)
    return command


async def preview(session: AsyncSession, tenant: Tenant, kind: ReportKind, day: date, *, now: datetime,
                  locale: str) -> Report:
    """What the report of `day` says (`salesop report preview`): a past evening as of its slot's time, today's as
    of now."""
    until = now
    evening = slot(tenant, ReportKind.EVENING, day)
    if kind == ReportKind.EVENING and day < local_today(tenant, now):
        until = evening.at if evening is not None else Period.midnight(day + timedelta(days=1), tenant.timezone)
    return await build(session, tenant, kind, day, now=now, locale=normalize(locale), until=until)


# ------------------------------------------------------------------------------------------- the outbox kind


class ReportPayload(TypedDict):
    chat_id: int
    run_id: NotRequired[int]  # a scheduled run's report; else the report itself, asked for with /report:
    thread_id: NotRequired[int | None]
    reply_to: NotRequired[int | None]
    html: NotRequired[str]
    chart: NotRequired[dict | None]
    locale: NotRequired[str | None]
    kind: NotRequired[str]


class ReportCommand(CommandKind):
    """The POST_REPORT outbox kind: prepare renders the chart and cuts the text to Telegram's limits; record marks the
    run sent once every chat has it; a failure for good marks it failed."""

    name = POST_REPORT
    payload = ReportPayload
    destination = Destination.CHAT
    lane = Lane.NONE

    async def prepare(self, session: AsyncSession, commands: list[OutboxCommand]) -> Call | None:
        p = commands[0].payload
        if p.get("run_id") is not None:
            run = await session.get(ReportRun, p["run_id"])
            if run is None:
                return None
            markup, chart, locale = run.body, (run.figures or {}).get("chart"), (run.figures or {}).get("locale")
        else:
            markup, chart, locale = p["html"], p.get("chart"), p.get("locale")
        png = await asyncio.to_thread(chart_png, chart, locale) if chart else None
        caption, texts = telegram_parts(markup, chart if png else None, locale)
        return Call("surface", POST_REPORT, {"chat_id": p["chat_id"], "thread_id": p.get("thread_id"),
                                             "reply_to": p.get("reply_to"), "photo": png, "caption": caption,
                                             "texts": texts})

    async def record(self, session: AsyncSession, commands: list[OutboxCommand], delivery, now: datetime) -> None:
        p = commands[0].payload
        if p.get("run_id") is None:
            return
        run = (await session.execute(select(ReportRun).where(ReportRun.id == p["run_id"]).with_for_update())
               ).scalar_one_or_none()
        if run is None:
            return
        delivered = sorted(set((run.figures or {}).get("delivered", [])) | {p["chat_id"]})
        run.figures = {**(run.figures or {}), "delivered": delivered}
        if set(run.chat_ids) <= set(delivered) and run.status == ReportStatus.PENDING:
            run.status = ReportStatus.SENT
            events.record(session, "report_sent", tenant_id=run.tenant_id, report_run_id=run.id,
                          slot=run.kind.value, chats=delivered)

    async def record_failure(self, session: AsyncSession, commands: list[OutboxCommand], error, *,
                             retrying: bool) -> None:
        p = commands[0].payload
        if retrying or p.get("run_id") is None:
            return
        run = (await session.execute(select(ReportRun).where(ReportRun.id == p["run_id"]).with_for_update())
               ).scalar_one_or_none()
        if run is None:
            return
        failed = {**(run.figures or {}).get("failed", {}), str(p["chat_id"]): error.code or "error"}
        run.figures = {**(run.figures or {}), "failed": failed}
        run.status = ReportStatus.FAILED
        events.record(session, "report_failed", tenant_id=run.tenant_id, report_run_id=run.id, chat_id=p["chat_id"],
                      reason=error.reason[:200])
