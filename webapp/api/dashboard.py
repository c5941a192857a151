"""The dashboard (VIEW_ANALYTICS): a tenant's figures for a period with channel / manager / manager-group filters,
read from core.services.analytics (the same numbers the status reports show) and core.services.dashboard.

`GET /api/dashboard?period=today|7|30|custom[&from=&to=][&channel=&manager=&group=]` answers tiles and charts; each
chart carries its columns and rows, which the page draws, shows as a table and exports as CSV. Money the role may not
see (Field.DEAL_AMOUNT, Field.AI_COST) is left out of the answer entirely.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web

from core.errors import UserError
from core.permissions import Field, Permission
from core.services import analytics
from core.services import dashboard as figures

from ..auth import Member, signed_in
from ..pages import Page

routes = web.RouteTableDef()

PAGES = [
    Page(name="dashboard", path="/dashboard", title="miniapp.dashboard.title", permission=Permission.VIEW_ANALYTICS,
         texts=("miniapp.dashboard.", "miniapp.period."), charts=True, order=20),
]


# --------------------------------------------------------------------------------------- shared by the report pages


def now() -> datetime:
    return datetime.now(UTC)


def period_from(request: web.Request, member: Member) -> analytics.Period:
    return figures.period_of(request.query.get("period", "7"), now=now(), timezone=member.timezone,
                             first=request.query.get("from"), last=request.query.get("to"))


def period_json(request: web.Request, period: analytics.Period) -> dict:
    return {"choice": request.query.get("period", "7"), "start": period.start.isoformat(),
            "end": period.end.isoformat(), "from": period.local_start.date().isoformat(),
            "to": period.local_end.date().isoformat()}


def _id(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"{name} must be a number") from None


def filters_from(request: web.Request) -> analytics.Filters:
    return analytics.Filters(channel_id=_id(request, "channel"), manager_id=_id(request, "manager"),
                             manager_group_id=_id(request, "group"))


def chart(id_: str, title: str, type_: str, x: str, series: list[str], columns: list[tuple[str, str, bool]],
          rows: list[dict], *, stacked: bool = False) -> dict:
    """A chart for MiniApp.chart: `columns` are (key, label, numeric); `series` the numeric keys drawn."""
    return {"id": id_, "title": title, "type": type_, "x": x, "series": series, "stacked": stacked,
            "columns": [{"key": k, "label": label, "num": num} for k, label, num in columns], "rows": rows}


def money(value: Decimal | None, places: str = "0.01") -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal(places)))


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


# ------------------------------------------------------------------------------------------------------ the API


@routes.get("/api/dashboard")
async def api_dashboard(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.VIEW_ANALYTICS) as (session, member):
        period, filters = period_from(request, member), filters_from(request)
        await figures.check_filters(session, member.tenant_id, filters)
        shows_spend = member.can(Permission.VIEW_SPEND) and member.sees(Field.AI_COST)
        got = await figures.figures(session, member.tenant_id, period, filters, currency=member.currency,
                                    with_spend=shows_spend)
    counts, waiting, response, outcomes = got.counts, got.waiting, got.response, got.outcomes
    reasons, share, intents, by_day, rated, spend, choices = (got.reasons, got.share, got.intents, got.by_day,
                                                              got.rated, got.spend, got.choices)
    _ = member.t
    shows_money = member.sees(Field.DEAL_AMOUNT)
    decided = outcomes.won + outcomes.lost

    tiles = [
        {"id": "new", "label": _("miniapp.dashboard.tile.new"), "value": counts.new},
        {"id": "active", "label": _("miniapp.dashboard.tile.active"), "value": counts.active},
        {"id": "waiting", "label": _("miniapp.dashboard.tile.waiting"), "value": waiting.total},
        {"id": "escalated", "label": _("miniapp.dashboard.tile.escalated"), "value": counts.escalated},
        {"id": "resolved", "label": _("miniapp.dashboard.tile.resolved"), "value": counts.resolved},
        {"id": "inactive", "label": _("miniapp.dashboard.tile.inactive"), "value": counts.status.inactive},
        {"id": "frt", "label": _("miniapp.dashboard.tile.frt"), "value": minutes(response.overall.median_seconds)},
        {"id": "won", "label": _("miniapp.dashboard.tile.won"), "value": outcomes.won},
        {"id": "lost", "label": _("miniapp.dashboard.tile.lost"), "value": outcomes.lost},
        {"id": "conversion", "label": _("miniapp.dashboard.tile.conversion"),
         "value": round(100 * outcomes.won / decided, 1) if decided else None},
    ]
    if shows_money:
        tiles.append({"id": "revenue", "label": _("miniapp.dashboard.tile.revenue", currency=member.currency),
                      "value": money(outcomes.revenue)})
    tiles.append({"id": "csat", "label": _("miniapp.dashboard.tile.csat"), "value": rated.average})
    if spend is not None:
        tiles.append({"id": "spend", "label": _("miniapp.dashboard.tile.spend"), "value": money(spend.total_usd),
                      "link": "/spend"})

    metric = ("metric", _("miniapp.dashboard.col.metric"), False)
    count = ("count", _("miniapp.dashboard.col.count"), True)
    status_label = {s: _(f"miniapp.dialogs.status.{s}") for s in ("active", "waiting", "escalated", "resolved",
                                                                   "inactive")}
    charts = [
        chart("dialogs", _("miniapp.dashboard.chart.dialogs"), "bar", "metric", ["count"], [metric, count], [
            {"metric": _("miniapp.dashboard.tile.new"), "count": counts.new},
            {"metric": _("miniapp.dashboard.tile.active"), "count": counts.active},
            {"metric": _("miniapp.dashboard.metric.answered"), "count": counts.answered},
            {"metric": _("miniapp.dashboard.tile.escalated"), "count": counts.escalated},
            {"metric": _("miniapp.dashboard.tile.resolved"), "count": counts.resolved},
        ]),
        chart("new_by_day", _("miniapp.dashboard.chart.new_by_day"), "line", "day", ["new"],
              [("day", _("miniapp.dashboard.col.day"), False), ("new", _("miniapp.dashboard.tile.new"), True)],
              [{"day": d.day.isoformat(), "new": d.new} for d in by_day]),
        chart("status", _("miniapp.dashboard.chart.status"), "doughnut", "metric", ["count"], [metric, count],
              [{"metric": status_label[k], "count": getattr(counts.status, k)} for k in status_label]),
        chart("first_response", _("miniapp.dashboard.chart.first_response"), "bar", "who", ["median", "p90"], [
            ("who", _("miniapp.dashboard.col.who"), False), ("answered", _("miniapp.dashboard.col.answered"), True),
            ("median", _("miniapp.dashboard.col.median"), True), ("p90", _("miniapp.dashboard.col.p90"), True),
        ], [
            {"who": who, "answered": s.count, "median": minutes(s.median_seconds), "p90": minutes(s.p90_seconds)}
            for who, s in ((_("miniapp.dashboard.who.ai"), response.ai),
                           (_("miniapp.dashboard.who.managers"), response.managers),
                           *((m.name or _("miniapp.dashboard.who.outside"), m.stats) for m in response.by_manager))
        ]),
    ]
    for key, title, rows in (("outcomes_channel", _("miniapp.dashboard.chart.outcomes_channel"), outcomes.by_channel),
                             ("outcomes_manager", _("miniapp.dashboard.chart.outcomes_manager"), outcomes.by_manager)):
        columns = [("name", _("miniapp.dashboard.col.name"), False), ("won", _("miniapp.dashboard.tile.won"), True),
                   ("lost", _("miniapp.dashboard.tile.lost"), True),
                   ("conversion", _("miniapp.dashboard.col.conversion"), True)]
        if shows_money:
            columns.append(("revenue", _("miniapp.dashboard.tile.revenue", currency=member.currency), True))
        data = []
        for r in rows:
            row = {"name": r.name or _("miniapp.dashboard.who.nobody"), "won": r.won, "lost": r.lost,
                   "conversion": round(100 * r.won / (r.won + r.lost), 1) if r.won + r.lost else None}
            if shows_money:
                row["revenue"] = money(r.revenue)
            data.append(row)
        charts.append(chart(key, title, "bar", "name", ["won", "lost"], columns, data, stacked=True))
    share_rows = [(_("miniapp.dashboard.ai.auto_sent"), share.auto_sent), (_("miniapp.dashboard.ai.approved"), share.approved),
                  (_("miniapp.dashboard.ai.edited"), share.edited), (_("miniapp.dashboard.ai.rejected"), share.rejected),
                  (_("miniapp.dashboard.ai.escalated"), share.escalated), (_("miniapp.dashboard.ai.pending"), share.pending),
                  (_("miniapp.dashboard.ai.outdated"), share.outdated), (_("miniapp.dashboard.ai.failed"), share.failed)]
    charts += [
        chart("ai_share", _("miniapp.dashboard.chart.ai_share", drafts=share.drafts), "doughnut", "metric", ["count"],
              [metric, count], [{"metric": label, "count": n} for label, n in share_rows if n]),
        chart("intents", _("miniapp.dashboard.chart.intents"), "bar", "intent", ["count"],
              [("intent", _("miniapp.dashboard.col.intent"), False), count],
              [{"intent": i.intent, "count": i.count} for i in intents]),
        chart("lost_reasons", _("miniapp.dashboard.chart.lost_reasons"), "bar", "reason", ["count"],
              [("reason", _("miniapp.dashboard.col.reason"), False), count],
              [{"reason": r.reason or _("miniapp.dashboard.no_reason"), "count": r.count} for r in reasons]),
        chart("csat", _("miniapp.dashboard.chart.csat", rated=rated.rated), "bar", "score", ["count"],
              [("score", _("miniapp.dashboard.col.score"), False), count],
              [{"score": str(s), "count": n} for s, n in rated.by_score.items()] if rated.rated else []),
    ]
    return web.json_response({
        "period": period_json(request, period),
        "filters": {"channel": filters.channel_id, "manager": filters.manager_id, "group": filters.manager_group_id},
        "choices": analytics.as_json(choices),
        "tiles": tiles,
        "charts": charts,
    })
