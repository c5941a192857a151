"""The Mini App's frame: pages rendered for the signed-in member in their language and refused server-side without
the page's permission, the texts handed to scripts, the tenant choice, the SDK's source and the vendored chart.js."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from core.models import StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from webapp import pages
from webapp.server import TELEGRAM_BOT_API, build_app, sdk_url_for

from .browser import Ctx


@pytest.fixture
async def two_shops(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    people = {name: tg.create_user(name)["id"] for name in ("olga", "ivan", "anna")}
    async with db.unit_of_work() as session:
        shop = await create_tenant(session, slug="shop", name="Shop")
        cafe = await create_tenant(session, slug="cafe", name="Cafe")
        for tenant, name, role, locale in ((shop, "olga", "owner", "en"), (cafe, "olga", "manager", "en"),
                                           (shop, "ivan", "manager", "ru"), (shop, "anna", "tech", "ru")):
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                    telegram_user_id=people[name], name=name, locale=locale))
    client = TestClient(TestServer(build_app(Ctx(settings, db), telegram_sdk=pages.TELEGRAM_SDK)))
    await client.start_server()
    yield {"tg": tg, "people": people, "client": client, "shop": shop.id, "cafe": cafe.id}
    await client.close()


def auth(world, who) -> dict:
    return {"Authorization": "tma " + world["tg"].init_data(world["people"][who])}


async def test_a_page_is_rendered_for_the_member_in_their_language(two_shops):
    client = two_shops["client"]
    shell = await client.get("/dialogs", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert shell.status == 200
    html = await shell.text()
    assert "Loading…" in html and pages.TELEGRAM_SDK in html and "/static/app.js" in html
    assert (await client.get("/view/dialogs")).status == 401  # the page itself needs initData

    view = await (await client.get("/view/dialogs", headers=auth(two_shops, "ivan"))).json()
    assert view["page"] == "dialogs" and view["title"] == "Диалоги" and "Эскалации" in view["html"]
    assert view["texts"]["miniapp.dialogs.none"] == "Диалогов нет"
    assert view["texts"]["miniapp.dialogs.messages"] == "{count} сообщ."  # variables stay for the script
    assert all(k.startswith(("miniapp.common.", "miniapp.dialogs.")) for k in view["texts"])
    assert [n["name"] for n in view["nav"]] == ["dialogs", "escalations", "help"]
    assert view["member"]["hidden_fields"] == ["ai_cost", "email", "profile_link", "traffic_source"]

    english = await (await client.get("/view/dialogs", headers=auth(two_shops, "olga"))).json()
    assert english["title"] == "Dialogs" and english["texts"]["miniapp.dialogs.none"] == "No dialogs"


async def test_pages_are_refused_server_side_and_home_is_the_first_page_one_may_open(two_shops):
    client = two_shops["client"]
    refused = await client.get("/view/dialogs", headers=auth(two_shops, "anna"))  # tech: no conversations
    assert refused.status == 403 and "Техспециалист" in (await refused.json())["error"]
    home = await (await client.get("/view/", headers=auth(two_shops, "anna"))).json()
    # tech: the knowledge base first, the media library (MANAGE_MEDIA); help is open to every staff member
    assert home["page"] == "knowledge" and [n["name"] for n in home["nav"]] == ["knowledge", "catalog", "media", "help"]
    assert (await (await client.get("/view/", headers=auth(two_shops, "ivan"))).json())["page"] == "dialogs"


async def test_a_person_in_several_businesses_chooses_one(two_shops):
    client, shop, cafe = two_shops["client"], two_shops["shop"], two_shops["cafe"]
    first = await (await client.get("/view/dialogs", headers=auth(two_shops, "olga"))).json()
    assert first["member"]["tenant"]["id"] == shop and first["member"]["role"]["code"] == "owner"
    assert [t["id"] for t in first["member"]["tenants"]] == [shop, cafe]
    chosen = await (await client.get(f"/view/dialogs?tenant={cafe}", headers=auth(two_shops, "olga"))).json()
    assert chosen["member"]["tenant"]["id"] == cafe and chosen["member"]["role"]["code"] == "manager"
    by_header = await client.get("/view/dialogs", headers={**auth(two_shops, "olga"), "X-Tenant": str(cafe)})
    assert (await by_header.json())["member"]["tenant"]["id"] == cafe
    stranger = await client.get(f"/view/dialogs?tenant={cafe}", headers=auth(two_shops, "ivan"))
    assert stranger.status == 403


def test_every_miniapp_text_file_reaches_the_scripts(tmp_path, monkeypatch):
    """Another area's miniapp_<area>.ftl is picked up like ours: every key under the page's prefixes."""
    from core import i18n

    for locale in i18n.LOCALES:
        folder = tmp_path / locale
        folder.mkdir()
        for path in i18n.resource_files(locale):
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        (folder / "miniapp_staff.ftl").write_text("miniapp-staff-title = Staff { $name }\n", encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.bundle.cache_clear()
    try:
        texts = pages.texts_for("en", ("miniapp.staff.",))
        assert texts == {"miniapp.staff.title": "Staff {name}"}
    finally:
        i18n.bundle.cache_clear()


async def test_the_sdk_comes_from_telegram_or_from_the_sandbox_that_is_running():
    assert await sdk_url_for(TELEGRAM_BOT_API) == pages.TELEGRAM_SDK
    tg = TelegramSandbox()
    runner, url = await serve(tg.app)
    try:
        assert await sdk_url_for(url + "/") == url + "/js/telegram-web-app.js"
    finally:
        await runner.cleanup()
    assert await sdk_url_for(url) == pages.TELEGRAM_SDK  # a Bot API server that is not the sandbox (or is down)


async def test_chart_js_is_vendored_pinned_with_its_licence(two_shops):
    vendor = pages.HERE / "static" / "vendor"
    data = gzip.decompress(pages.CHART_JS_FILE.read_bytes())
    assert hashlib.sha256(data).hexdigest() == pages.CHART_JS_SHA256
    assert f"Chart.js v{pages.CHART_JS_VERSION}".encode() in data[:200]
    assert "MIT" in (vendor / "chart.js-LICENSE.md").read_text() or "Permission is hereby granted" in (
        vendor / "chart.js-LICENSE.md").read_text()
    assert pages.CHART_JS_VERSION in (vendor / "README.md").read_text()
    client = two_shops["client"]
    served = await client.get(pages.CHART_JS)  # the test client accepts gzip and unpacks it
    assert served.status == 200 and served.content_type == "application/javascript"
    assert await served.read() == data
    plain = await client.get(pages.CHART_JS, headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    assert await plain.read() == data


def test_a_page_naming_a_script_that_does_not_exist_is_a_start_up_error():
    from aiohttp import web

    pages.install(web.Application(), [pages.Page(name="help_page", path="/h/{x}", title="t", script="help",
                                                 shared=("editing",))])
    for bad in (pages.Page(name="nope", path="/nope", title="t"),
                pages.Page(name="catalog", path="/c", title="t", shared=("no-such-helper",))):
        with pytest.raises(ValueError, match="no such script"):
            pages.install(web.Application(), [bad])
