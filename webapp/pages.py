"""Mini App pages: one registry entry per page, a shell every URL serves, and the page itself rendered for the caller.

A page is opened in two steps, because Telegram hands initData to the page's script (in the URL fragment), never to
the server with the page request:

1. `GET <path>` (e.g. `/dashboard`) serves templates/base.html, the same shell for every page: Telegram's WebApp SDK,
   the stylesheet and static/app.js. It knows nobody yet, so it holds no data and only a loading line.
2. app.js asks `GET /view<path>` with `Authorization: tma <initData>`: the server resolves the staff member
   (webapp.auth.current_member, with the page's permission — 403 otherwise), renders templates/<page>.html with
   t() in the member's language, and answers JSON: the page's HTML, the texts its script needs (`texts`, every key
   under the page's prefixes plus `miniapp.common.`), the navigation the member may open, and the scripts to load.
   app.js puts the HTML in place and calls `MiniApp.pages[<name>](root, ctx)` from static/pages/<name>.js.

Navigation between pages happens in the same document (history.pushState), so initData stays at hand; Telegram's
BackButton goes back. To add a page, see `Page` and `register`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.errors import PermissionDenied
from core.i18n import t
from core.permissions import Permission

from .auth import WEBAPP_CONTEXT, Member, current_member, signed_in, telegram_user

HERE = Path(__file__).resolve().parent
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
TELEGRAM_SDK = "https://telegram.org/js/telegram-web-app.js"
# Chart.js, vendored from the npm package (static/vendor/README.md says how to update it). Kept gzipped (the minified
# text would read as code to the text-key checks) and served by `vendor_script` as it is, compressed.
STATIC_DIR = HERE / "static"
CHART_JS = "/static/vendor/chart.umd.min.js"
CHART_JS_FILE = HERE / "static" / "vendor" / "chart.umd.min.js.gz"
CHART_JS_VERSION = "4.6.1"
CHART_JS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"
TEXT_PREFIX = "miniapp"

PageContext = Callable[[web.Request, AsyncSession, Member], Awaitable[dict[str, Any]]]
TenantOf = Callable[[web.Request, AsyncSession], Awaitable[int | None]]


@dataclass(frozen=True)
class Page:
    """One page of the Mini App.

    name        the page's id: its template is templates/<name>.html, its script static/pages/<name>.js, which
                registers `MiniApp.pages["<name>"] = (root, ctx) => {...}`
    path        the URL, aiohttp syntax ("/dialogs/{dialog_id:\\d+}"); `/view` + path serves its rendering
    title       text key of its title (navigation and header)
    permission  what the role must grant to open it (None: any staff member); checked server-side on every view
    texts       text key prefixes its script reads (besides miniapp.common.)
    nav         listed in the navigation bar (only for members allowed to open it)
    charts      needs the vendored chart.js
    script      has static/pages/<name>.js (False: the server-rendered HTML is all); a string names another page's
                script that registers this page too (one behaviour, two routes)
    shared      helper scripts the page's script uses, static/shared/<name>.js, loaded before it
    context     async (request, session, member) -> extra template variables; raise NotFound/UserError as usual;
                a "data" entry is also handed to the page's script as ctx.data
    tenant      async (request, session) -> the tenant the page belongs to (e.g. the dialog's), checked instead of
                the tenant chosen in the header; None: the chosen one
    """

    name: str
    path: str
    title: str
    permission: Permission | None = None
    texts: tuple[str, ...] = ()
    nav: bool = True
    charts: bool = False
    script: bool | str = True
    shared: tuple[str, ...] = ()
    context: PageContext | None = None
    tenant: TenantOf | None = None
    order: int = 100

    def allowed(self, member: Member) -> bool:
        return self.permission is None or member.can(self.permission)

    def scripts(self) -> list[str]:
        own = self.script if isinstance(self.script, str) else self.name
        return (([CHART_JS] if self.charts else []) + [f"/static/shared/{name}.js" for name in self.shared]
                + ([f"/static/pages/{own}.js"] if self.script else []))


@dataclass
class Registry:
    pages: list[Page] = field(default_factory=list)

    def add(self, page: Page) -> None:
        if any(p.name == page.name for p in self.pages):
            raise ValueError(f"page {page.name!r} is registered twice")
        self.pages.append(page)
        self.pages.sort(key=lambda p: p.order)

    def nav(self, member: Member) -> list[dict]:
        return [{"name": p.name, "path": p.path, "title": member.t(p.title)}
                for p in self.pages if p.nav and p.allowed(member)]


PAGES = web.AppKey("pages", Registry)


@dataclass
class SdkUrl:
    """Where the page loads Telegram's WebApp SDK from; decided when the server starts (webapp.server)."""

    url: str


SDK_URL = web.AppKey("telegram_sdk_url", SdkUrl)
# Shown from `/` to a staff member whose role opens no page at all.
NOTHING = Page(name="nothing", path="/nothing", title="miniapp.nothing.title", nav=False, script=False,
               order=10_000)


def texts_for(locale: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """Every text under the prefixes, formatted for the locale, keyed with dots as in code. Variables stay as
    `{name}` for the script to fill (MiniApp.tr(key, {name: ...})); plurals belong in server-rendered HTML."""
    wanted = tuple(i18n.fluent_id(p) for p in prefixes)
    bundle = i18n.bundle(i18n.normalize(locale))
    fallback = i18n.bundle(i18n.DEFAULT_LOCALE)
    out: dict[str, str] = {}
    for source in (fallback, bundle):  # the member's language over the default
        for mid in source._messages:  # noqa: SLF001 — fluent.runtime keeps no public list of ids
            if not mid.startswith(TEXT_PREFIX) or not mid.startswith(wanted):
                continue
            message = source.get_message(mid)
            if message.value is None:
                continue
            out[mid.replace("-", ".")] = _with_slots(source, message.value)
    return out


def _with_slots(bundle, pattern) -> str:
    """The text with each variable left as `{name}` (Fluent names the missing ones in its errors)."""
    slots: dict[str, str] = {}
    for _ in range(8):
        text, errors = bundle.format_pattern(pattern, slots)
        missing = [str(e).removeprefix("Unknown external: ") for e in errors if str(e).startswith("Unknown external: ")]
        if not missing:
            return text
        slots.update({name: "{" + name + "}" for name in missing})
    return text


def shell_locale(request: web.Request) -> str:
    """Before anyone is known: the browser's language (Telegram's webview sends the app's)."""
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return i18n.normalize(first or None)


async def shell(request: web.Request) -> web.Response:
    locale = shell_locale(request)
    html = TEMPLATES.get_template("base.html").render(
        lang=locale, loading=t("miniapp.common.loading", locale), no_telegram=t("miniapp.common.no_telegram", locale),
        sdk_url=request.app[SDK_URL].url)
    return web.Response(text=html, content_type="text/html")


def view_handler(page: Page):
    async def view(request: web.Request) -> web.Response:
        telegram_user(request)  # 401 before any database work
        async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
            tenant_id = await page.tenant(request, session) if page.tenant else None
            member = await current_member(request, session, page.permission, tenant_id=tenant_id)
            return await render_page(request, session, member, page)

    return view


async def home_view(request: web.Request) -> web.Response:
    """`/`: the first page of the navigation the member may open (the dialog list for managers)."""
    async with signed_in(request) as (session, member):
        registry = request.app[PAGES]
        page = next((p for p in registry.pages if p.nav and p.allowed(member)), None)
        if page is None:
            page = NOTHING
        return await render_page(request, session, member, page)


async def render_page(request: web.Request, session: AsyncSession, member: Member, page: Page) -> web.Response:
    if not page.allowed(member):  # the same check the page's API calls make
        raise PermissionDenied(member.t("miniapp.error.forbidden", role=member.role_name))
    extra = await page.context(request, session, member) if page.context else {}
    _ = member.t
    html = TEMPLATES.get_template(f"{page.name}.html").render(t=_, member=member, page=page, **extra)
    path = page.path if "{" not in page.path else request.path.removeprefix("/view")
    return web.json_response({
        "page": page.name, "path": path, "title": _(page.title), "html": html,
        "scripts": page.scripts(), "texts": texts_for(member.locale, ("miniapp.common.", *page.texts)),
        "nav": request.app[PAGES].nav(member), "member": member.as_dict(),
        "data": json.loads(json.dumps(extra.get("data", {}), default=str)),
    })


async def vendor_script(request: web.Request) -> web.Response:
    """The vendored chart.js: the gzipped file as it is to browsers that take gzip (all do), unpacked otherwise."""
    data = CHART_JS_FILE.read_bytes()
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
    else:
        data = gzip.decompress(data)
    return web.Response(body=data, content_type="application/javascript", headers=headers)


def install(app: web.Application, pages: list[Page]) -> None:
    if PAGES not in app:
        app[PAGES] = Registry()
    for page in pages:
        missing = [src for src in page.scripts()
                   if src != CHART_JS and not (STATIC_DIR / src.removeprefix("/static/")).is_file()]
        if missing:  # a typo in a page's scripts is a start-up error, not a page that silently does nothing
            raise ValueError(f"page {page.name!r}: no such script {', '.join(missing)}")
        app[PAGES].add(page)
        app.router.add_get(page.path, shell)
        app.router.add_get("/view" + page.path, view_handler(page))
