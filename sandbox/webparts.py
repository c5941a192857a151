"""What the stand-ins' own web pages share (never part of an emulated protocol): JSON control routes with their
error mapping, and the viewer's HTML page that reloads when the emulated world changes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

Route = Callable[[web.Request], Awaitable[Any]]


class NotFound(Exception):
    """An unknown id in a control request: 404."""


class Forbidden(Exception):
    """A control request the emulated world refuses (e.g. writing to someone who blocked you): 403."""


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def json_routes(app: web.Application, prefix: str) -> Callable[..., Callable[[Route], Route]]:
    """A decorator `route(method, path, name=None)` registering a handler under `prefix`: what it returns goes out
    as JSON; bad input answers {"ok": false, "error": ...} with 400, unknown ids 404, refusals 403 — never a 500."""

    def route(method: str, path: str, name: str | None = None) -> Callable[[Route], Route]:
        def register(handler: Route) -> Route:
            async def wrapped(request: web.Request) -> web.StreamResponse:
                try:
                    result = await handler(request)
                except NotFound as exc:
                    return json_response({"ok": False, "error": str(exc)}, 404)
                except Forbidden as exc:
                    return json_response({"ok": False, "error": str(exc)}, 403)
                except KeyError as exc:
                    return json_response({"ok": False, "error": f"{exc.args[0]} is required"}, 400)
                except (ValueError, TypeError) as exc:
                    return json_response({"ok": False, "error": str(exc)}, 400)
                return result if isinstance(result, web.StreamResponse) else json_response(result)

            app.router.add_route(method, prefix + path, wrapped, name=name)
            return handler

        return register

    return route


# Reload when the world changes, but never under a person who is typing.
_RELOAD = """<script>
const seen={version};
setInterval(async()=>{{const a=document.activeElement;
if(a&&['TEXTAREA','INPUT','SELECT'].includes(a.tagName))return;
if([...document.querySelectorAll('textarea')].some(t=>t.value))return;
try{{const r=await fetch({url});const j=await r.json();if(j.version!==seen)location.reload();}}catch(e){{}}
}},1500);
{extra}</script>"""


def html_page(title: str, css: str, header: str, body: str, *, version: int, version_url: str,
              script: str = "") -> web.Response:
    """A viewer page: `header` is trusted HTML, `title` is escaped here; the page polls `version_url`."""
    reload = _RELOAD.format(version=version, url=json.dumps(version_url), extra=script)
    html = (f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title><style>{css}</style>"
            f"</head><body><header>{header}</header>{body}{reload}</body></html>")
    return web.Response(text=html, content_type="text/html")


def redirect(base: str, path: str, **query: Any) -> web.HTTPFound:
    """Back to a viewer page after a form post; empty query values are left out."""
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return web.HTTPFound(base + path + (("?" + urlencode(query)) if query else ""))
