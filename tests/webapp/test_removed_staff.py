"""A removed staff member loses the Mini App at once — with initData that is still valid — and a new invitation
brings them back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind
from core.services import staff
from core.services.tenants import create_tenant
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
    owner, manager = tg.create_user("Olga"), tg.create_user("Ivan", language_code="en")
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        await session.flush()
        for user, role in ((owner, "owner"), (manager, "manager")):
            made = await staff.create_invitation(session, tenant.id, role, actor=None, via="cli")
            await staff.claim_invitation(session, made.token, telegram_user_id=user["id"],
                                         first_name=user["first_name"], language_code=user["language_code"])
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1")
        session.add(channel)
        await session.flush()
        got = await inbox.receive(session, InboundMessage(
            channel_id=channel.id, external_chat_id="501", external_id="1", sent_at=datetime.now(UTC),
            text="Цена?", sender=Sender("501", "Анна")))
    client = TestClient(TestServer(build_app(Ctx(settings, db))))
    await client.start_server()
    yield {"tg": tg, "client": client, "db": db, "tenant": tenant.id, "dialog": got.dialog_id, "owner": owner,
           "manager": manager}
    await client.close()


async def _statuses(shop, user) -> list[int]:
    headers = {"Authorization": "tma " + shop["tg"].init_data(user["id"])}
    client = shop["client"]
    return [(await client.get(path, headers=headers)).status
            for path in ("/api/me", f"/api/dialogs?tenant={shop['tenant']}", f"/api/dialogs/{shop['dialog']}")]


async def test_a_removed_manager_is_refused_at_once_and_an_invitation_brings_them_back(shop):
    db, manager = shop["db"], shop["manager"]
    assert await _statuses(shop, manager) == [200, 200, 200]
    headers = {"Authorization": "tma " + shop["tg"].init_data(manager["id"])}  # signed before the removal

    async with db.unit_of_work() as session:
        [owner] = await staff.memberships(session, shop["owner"]["id"])
        staff_id = await staff.staff_id_of(session, shop["tenant"], manager["id"])
        await staff.remove_staff(session, shop["tenant"], staff_id, actor=owner)

    assert await _statuses(shop, manager) == [403, 403, 403]
    response = await shop["client"].get(f"/api/dialogs/{shop['dialog']}", headers=headers)
    assert response.status == 403 and "history" not in await response.text()
    assert (await shop["client"].get("/api/me")).status == 401  # and nobody gets in without initData
    assert await _statuses(shop, shop["owner"]) == [200, 200, 200]

    async with db.unit_of_work() as session:
        made = await staff.create_invitation(session, shop["tenant"], "viewer", actor=owner)
        joined = await staff.claim_invitation(session, made.token, telegram_user_id=manager["id"],
                                              first_name="Ivan", language_code="en")
    assert (joined.staff_id, joined.role_code, joined.reactivated) == (staff_id, "viewer", True)
    assert await _statuses(shop, manager) == [200, 200, 200]  # a viewer reads conversations
