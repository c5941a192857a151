"""CSV downloads for Telegram's WebApp.downloadFile (webapp/api/downloads.py) are kept where every Mini App process
sees them: the client's GET may reach another replica than the page's POST. On Redis (with a TTL) when one is
configured, else in the shared data directory."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from core.models import StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from webapp.api import downloads
from webapp.server import build_app

CSV = "Откуда,Диалогов\nvk_ads,12\n"
NAME = "traffic_first_2025-03-01.csv"


class Ctx:
    """The slice of AppContext the web app uses."""

    def __init__(self, settings, db):
        self.settings, self.db, self.embedded = settings, db, False


@pytest.fixture
async def replicas(db, settings):
    """Two Mini App processes of one deployment (same settings: database, data directory, Redis when set)."""
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    owner = tg.create_user("Ольга")["id"]
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, "owner")).id,
                                telegram_user_id=owner, name="Ольга"))
    clients: list[TestClient] = []

    async def start() -> list[TestClient]:
        for _ in range(2):
            client = TestClient(TestServer(build_app(Ctx(settings, db))))
            await client.start_server()
            clients.append(client)
        return clients

    yield {"start": start, "auth": {"Authorization": "tma " + tg.init_data(owner)}, "settings": settings}
    for client in clients:
        await client.close()


async def _made_on_one_served_by_the_other(replicas) -> str:
    first, second = await replicas["start"]()
    made = await first.post("/api/downloads", json={"file_name": NAME, "text": CSV}, headers=replicas["auth"])
    assert made.status == 201, await made.text()
    answer = await made.json()
    assert answer["expires_in"] == downloads.DOWNLOAD_TTL and answer["url"].endswith("/" + quote(NAME))
    # Telegram's client downloads the URL without the page's headers, and here through the other replica.
    got = await second.get(answer["url"])
    assert got.status == 200, await got.text()
    assert await got.text() == CSV
    assert got.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert got.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{quote(NAME)}"
    assert (await first.get(answer["url"])).status == 200  # and again through the first: until it expires
    token = answer["url"].split("/")[2]
    other = token[:-1] + ("y" if token.endswith("x") else "x")
    assert (await second.get(f"/downloads/{other}/{NAME}")).status == 404  # the token is the only key
    assert (await second.get(f"/downloads/..%2F..%2Fsecrets/{NAME}")).status == 404
    assert (await first.post("/api/downloads", json={"file_name": NAME, "text": CSV})).status == 401
    return token


async def test_a_download_made_on_one_replica_is_served_by_another_from_the_data_dir(replicas):
    assert not replicas["settings"].redis.redis_url
    token = await _made_on_one_served_by_the_other(replicas)
    assert (replicas["settings"].data_dir / "downloads" / token).is_file()


async def test_a_download_made_on_one_replica_is_served_by_another_through_redis(replicas, redis_url):
    replicas["settings"].redis.redis_url = redis_url
    token = await _made_on_one_served_by_the_other(replicas)
    assert not (replicas["settings"].data_dir / "downloads").exists()  # nothing kept on a replica's disk
    client = aioredis.Redis.from_url(redis_url)
    try:
        ttl = await client.ttl(downloads.REDIS_KEY.format(token=token))
    finally:
        await client.aclose()
    assert 0 < ttl <= downloads.DOWNLOAD_TTL  # Redis forgets it by itself


async def test_the_data_dir_store_forgets_expired_files(tmp_path):
    now = [1_000_000.0]
    store = downloads.FileDownloads(tmp_path / "downloads", ttl=600, clock=lambda: now[0])
    other = downloads.FileDownloads(tmp_path / "downloads", ttl=600, clock=lambda: now[0])  # another process
    item = downloads.Download(data=CSV.encode(), name=NAME, type="text/csv", staff_id=1)
    await store.put("a" * 32, item)
    now[0] += 599
    assert await other.get("a" * 32) == item
    now[0] += 2
    assert await other.get("a" * 32) is None
    assert not (tmp_path / "downloads" / ("a" * 32)).exists()
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == []  # no temporary file left either


async def test_the_oldest_downloads_are_dropped_past_the_cap(tmp_path, redis_url):
    now = [1_000_000.0]
    item = downloads.Download(data=b"x", name=NAME, type="text/csv", staff_id=1)
    stores = [downloads.FileDownloads(tmp_path / "downloads", clock=lambda: now[0], max_kept=2),
              downloads.RedisDownloads(redis_url, max_kept=2)]
    try:
        for store in stores:
            for token in ("a" * 32, "b" * 32, "c" * 32):
                await store.put(token, item)
                now[0] += 1
            assert [await store.get(t) for t in ("a" * 32, "b" * 32, "c" * 32)] == [None, item, item]
    finally:
        await stores[1].close()
