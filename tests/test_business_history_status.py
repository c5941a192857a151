"""A Telegram Business channel gets no history from Telegram; when the same account is also connected as a userbot, the
userbot's import fills the dialogs both share (core.inbox.home_of). `channel list` and /status say which it is
(core.services.readiness.business_ways / ChannelCheck.history)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.handlers.private import status_lines
from core.i18n import t
from core.models import ChannelAccount, ChannelKind, ChannelStatus
from core.services import readiness
from core.services.readiness import History, Platform
from core.services.tenants import create_tenant
from tests.clirun import run_cli_async

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RIGHTS = {"can_reply": True, "can_read_messages": True}


def _business(tenant_id: int, account: int, *, rights=RIGHTS, enabled: bool = True) -> ChannelAccount:
    return ChannelAccount(
        tenant_id=tenant_id, kind=ChannelKind.TELEGRAM_BUSINESS, external_id=str(account), title=f"biz {account}",
        status=ChannelStatus.ACTIVE if enabled else ChannelStatus.DISABLED,
        status_detail=t("business.channel.detail_no_history"),  # as stored at connection time (default language)
        settings={"connection_id": f"c{account}", "rights": rights})


def _userbot(tenant_id: int, account: int) -> ChannelAccount:
    return ChannelAccount(tenant_id=tenant_id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id=str(account),
                          title=f"tg {account}", status=ChannelStatus.ACTIVE)


@pytest.fixture
async def shop(db):
    """A shop with: account 111 through Business alone; account 222 both ways (the userbot connected first); account
    333 both ways but the bot may not reply; account 444 both ways, disconnected; and in another shop, a userbot of
    account 111 (another tenant's channel is no way of this one's)."""
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        other = await create_tenant(session, slug="other", name="Другой")
        await session.flush()
        session.add(_userbot(tenant.id, 222))
        await session.flush()
        rows = {"alone": _business(tenant.id, 111), "both": _business(tenant.id, 222),
                "no_reply": _business(tenant.id, 333, rights={"can_read_messages": True}),
                "off": _business(tenant.id, 444, enabled=False)}
        session.add_all(rows.values())
        session.add_all([_userbot(tenant.id, 333), _userbot(tenant.id, 444), _userbot(other.id, 111)])
        await session.flush()
        ids = {name: row.id for name, row in rows.items()}
        userbots = dict((await session.execute(
            select(ChannelAccount.external_id, ChannelAccount.id).where(
                ChannelAccount.tenant_id == tenant.id, ChannelAccount.kind == ChannelKind.TELEGRAM_ACCOUNT))).all())
        return tenant.id, ids, {int(k): v for k, v in userbots.items()}


async def test_readiness_names_where_business_history_comes_from(db, shop):
    tenant_id, ids, userbots = shop
    async with db.unit_of_work() as session:
        ways = await readiness.business_ways(session, tenant_id)
        state = await readiness.check(session, tenant_id, Platform(), now=NOW)
    assert set(ways) == set(ids.values())
    assert ways[ids["alone"]].userbot_id is None and ways[ids["alone"]].history is History.NONE
    assert ways[ids["both"]].userbot_id == userbots[222] and ways[ids["both"]].history is History.USERBOT
    assert not ways[ids["no_reply"]].can_reply and ways[ids["no_reply"]].userbot_id == userbots[333]
    assert not ways[ids["off"]].enabled

    checks = {c.id: c for c in state.channels}
    assert (checks[ids["alone"]].history, checks[ids["alone"]].history_channel) == (History.NONE, None)
    assert (checks[ids["both"]].history, checks[ids["both"]].history_channel) == (History.USERBOT, userbots[222])
    assert all(checks[u].history is None for u in userbots.values())  # userbots have their own history

    for locale in ("ru", "en"):
        lines = status_lines(state, locale)
        alone = next(x for x in lines if "biz 111" in x)
        assert t("status.channel.history.none", locale) in alone
        both = next(x for x in lines if "biz 222" in x)
        assert t("status.channel.history.userbot", locale, channel=userbots[222]) in both
        assert t("status.channel.history.none", locale) not in both
        assert not any(t("status.channel.history.none", locale) in x for x in lines if "tg 222" in x)


async def test_channel_list_says_the_history_comes_from_the_userbot(db_url, shop, tmp_path):
    tenant_id, ids, userbots = shop
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    env = {**clean, "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_DATABASE_URL": db_url,
           "SALESOP_MASTER_KEY": Fernet.generate_key().decode()}
    for locale in ("en", "ru"):
        out = (await run_cli_async({**env, "SALESOP_LANGUAGE": locale}, "channel", "list", "--tenant", "shop")).stdout
        blocks = {}
        for line in out.splitlines():
            if line.startswith(" " * 7):
                blocks[current] = line.strip()
            else:
                current = int(line.split()[0])
        assert blocks[ids["alone"]] == t("business.channel.detail_no_history", locale)
        assert blocks[ids["both"]] == t("business.channel.detail_history_userbot", locale, channel=userbots[222])
        assert blocks[ids["no_reply"]] == t("business.channel.detail_no_reply_userbot", locale,
                                            channel=userbots[333])
        assert blocks[ids["off"]] == t("business.channel.detail_disabled", locale)

    rows = {r["id"]: r for r in json.loads((await run_cli_async(
        env, "channel", "list", "--tenant", "shop", "--json")).stdout)}
    assert rows[ids["both"]]["history"] == {"from": "userbot", "channel": userbots[222]}
    assert rows[ids["alone"]]["history"] == {"from": "none", "channel": None}
    assert "history" not in rows[userbots[222]]
