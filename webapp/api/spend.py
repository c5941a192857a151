"""AI spend (VIEW_SPEND): what the AI cost in a period, by day, model, purpose and dialog.

The figures are core.ai.spend's sums over the same rows and interval as `salesop spend --days N` ("7" and "30" are
the last N × 24 hours up to now), so the total agrees with the CLI to the last decimal; `total_usd` is that exact
sum, `total_cents` it rounded to the cent. A role that hides the AI cost field (Field.AI_COST) is refused.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from aiohttp import web

from core.errors import PermissionDenied
from core.permissions import Field, Permission
from core.services import analytics
from core.services import dashboard as figures

from ..auth import signed_in
from ..pages import Page
from .dashboard import chart, period_from, period_json

routes = web.RouteTableDef()

PAGES = [
    Page(name="spend", path="/spend", title="miniapp.spend.title", permission=Permission.VIEW_SPEND,
         texts=("miniapp.spend.", "miniapp.period."), charts=True, order=30),
]

CENT = Decimal("0.01")


def usd(value: Decimal) -> str:
    """Exact cost as stored (12 decimals) trimmed of trailing zeros for reading; sums stay exact."""
    return str(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


@routes.get("/api/spend")
async def api_spend(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.VIEW_SPEND) as (session, member):
        if not member.sees(Field.AI_COST):
            raise PermissionDenied(member.t("miniapp.spend.hidden", role=member.role_name))
        period = period_from(request, member)
        spend = await analytics.spend(session, member.tenant_id, period)
        dialogs = await figures.spend_by_dialog(session, member.tenant_id, period)
    _ = member.t
    cost = ("cost_usd", _("miniapp.spend.col.cost"), True)
    calls = ("calls", _("miniapp.spend.col.calls"), True)

    def lines(key: str, rows) -> list[dict]:
        return [{key: r.key, "cost_usd": usd(r.cost_usd), "calls": r.calls} for r in rows]

    purposes = {p: _(f"miniapp.spend.purpose.{p}") for p in ("suggest", "intent", "embed", "summary", "tts", "other")}
    charts = [
        chart("by_day", _("miniapp.spend.chart.by_day"), "bar", "day", ["cost_usd"],
              [("day", _("miniapp.spend.col.day"), False), cost, calls], lines("day", spend.by_day)),
        chart("by_model", _("miniapp.spend.chart.by_model"), "doughnut", "model", ["cost_usd"],
              [("model", _("miniapp.spend.col.model"), False), cost, calls,
               ("characters", _("miniapp.spend.col.characters"), True),
               ("seconds", _("miniapp.spend.col.seconds"), True)],
              [{**line, "characters": r.characters, "seconds": r.seconds}
               for line, r in zip(lines("model", spend.by_model), spend.by_model)]),
        chart("by_purpose", _("miniapp.spend.chart.by_purpose"), "bar", "purpose", ["cost_usd"],
              [("purpose", _("miniapp.spend.col.purpose"), False), cost, calls],
              [{"purpose": purposes.get(r.key, r.key), "cost_usd": usd(r.cost_usd), "calls": r.calls}
               for r in spend.by_purpose]),
        chart("by_dialog", _("miniapp.spend.chart.by_dialog"), "bar", "dialog", ["cost_usd"],
              [("dialog", _("miniapp.spend.col.dialog"), False), cost, calls],
              [{"dialog": (f"#{d.dialog_id} {d.customer or ''}".strip() if d.dialog_id is not None
                           else _("miniapp.spend.no_dialog")),
                "dialog_id": d.dialog_id, "cost_usd": usd(d.cost_usd), "calls": d.calls} for d in dialogs]),
    ]
    return web.json_response({
        "period": period_json(request, period),
        "total_usd": str(spend.total_usd),
        "total_cents": str(spend.total_usd.quantize(CENT, rounding=ROUND_HALF_UP)),
        "calls": spend.calls,
        "characters": spend.characters,  # spoken by speech synthesis, priced per character
        "seconds": spend.seconds,  # of audio transcribed, priced per second
        "charts": charts,
    })
