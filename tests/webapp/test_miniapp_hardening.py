"""The Mini App API under abuse: validly signed but malformed initData is a 401 (never a 500), and each Telegram user
has a request budget (429 with Retry-After past it), per process or shared through Redis."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from core import initdata
from core.models import StaffMember
from core.ratelimit import Budget
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from webapp.server import build_app


class Ctx:
    """The slice of AppContext the web app uses."""

    def __init__(self, settings, db):
        self.settings, self.db, self.embedded = settings, db, False


@pytest.fixture
async def shop(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    people = {name: tg.create_user(name)["id"] for name in ("owner", "manager")}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        for name in people:
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, name)).id,
                                    telegram_user_id=people[name], name=name))
    clients: list[TestClient] = []

    async def client(**options) -> TestClient:
        started = TestClient(TestServer(build_app(Ctx(settings, db), **options)))
        await started.start_server()
        clients.append(started)
        return started

    yield {"tg": tg, "people": people, "client": client, "settings": settings}
    for started in clients:
        await started.close()


def signed(token: str, **fields: str) -> str:
    """initData with these fields, signed with the bot's token exactly as Telegram signs it."""
    fields = {"auth_date": str(int(time.time())), **fields}
    return urlencode({**fields, "hash": initdata.sign(fields, token)}, quote_via=quote)


MALFORMED = {
    "no user": {},
    "user not JSON": {"user": "{id: 1"},
    "user is a list": {"user": json.dumps([{"id": 1}])},
    "user is a number": {"user": "42"},
    "user without id": {"user": json.dumps({"first_name": "Анна"})},
    "id is a string": {"user": json.dumps({"id": "abc", "first_name": "Анна"})},
    "id is null": {"user": json.dumps({"id": None})},
    "id is a boolean": {"user": json.dumps({"id": True})},
    "id is a float": {"user": json.dumps({"id": 1.5})},
    "id is an object": {"user": json.dumps({"id": {"x": 1}})},
    "deeply nested user": {"user": "[" * 1200 + "]" * 1200},  # past the JSON parser's recursion limit
    "auth_date not a number": {"user": json.dumps({"id": 1}), "auth_date": "yesterday"},
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_validly_signed_but_malformed_init_data_is_401(shop, case):
    client = await shop["client"]()
    data = signed(shop["tg"].bot_token, **MALFORMED[case])
    for path in ("/api/me", "/api/dialogs?tenant=1", "/api/dialogs/1"):
        resp = await client.get(path, headers={"Authorization": f"tma {data}"})
        assert resp.status == 401, (case, path, await resp.text())
        assert "error" in await resp.json()


async def test_a_well_formed_signed_user_still_gets_in(shop):
    client = await shop["client"]()
    user = json.dumps({"id": shop["people"]["owner"], "first_name": 5, "username": ["x"]})
    resp = await client.get("/api/me", headers={"Authorization": f"tma {signed(shop['tg'].bot_token, user=user)}"})
    assert resp.status == 200
    assert (await resp.json())["user"] == {"id": shop["people"]["owner"], "name": ""}


def _auth(shop, who: str) -> dict:
    return {"Authorization": "tma " + shop["tg"].init_data(shop["people"][who])}


async def test_each_user_has_a_request_budget(shop):
    client = await shop["client"](rate_budget=Budget(3, 600.0, burst=3))
    statuses = [(await client.get("/api/me", headers=_auth(shop, "owner"))).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await client.get("/api/me", headers=_auth(shop, "owner"))
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1 and (await refused.json())["retry_after"] >= 1
    # Someone else is not slowed down by it; pages and unauthenticated calls are not counted.
    assert (await client.get("/api/me", headers=_auth(shop, "manager"))).status == 200
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/me")).status == 401


async def test_the_budget_is_shared_by_mini_app_processes_through_redis(shop, redis_url):
    shop["settings"].redis.redis_url = redis_url
    budget = Budget(2, 600.0, burst=2)
    first, second = await shop["client"](rate_budget=budget), await shop["client"](rate_budget=budget)
    assert (await first.get("/api/me", headers=_auth(shop, "owner"))).status == 200
    assert (await second.get("/api/me", headers=_auth(shop, "owner"))).status == 200
    assert (await first.get("/api/me", headers=_auth(shop, "owner"))).status == 429
    assert (await second.get("/api/me", headers=_auth(shop, "owner"))).status == 429
