"""The Mini App's remaining admin actions in headless Chromium with real clicks: withdrawing a pending invitation,
creating and deleting a role, unassigning a dialog, making and revoking a campaign's invite link to a channel, and a
CSV export handed to Telegram's WebApp.downloadFile (a plain browser saves it directly)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Event, Invitation, Role, StaffMember
from core.services import staff
from sandbox.telegram import TelegramSandbox

from .browser import miniapp_browser
from .test_staff_dialogs_browser import _shop


async def test_owner_withdraws_an_invitation_and_makes_and_deletes_a_role(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(shop["users"]["Ольга"]["id"], "/staff")
        page.on("dialog", lambda d: d.accept())  # Telegram's confirmation popup: the person says yes
        await page.select_option("#invite-role", "manager")
        await page.click("#invite-create")
        await page.wait_for_selector(".invitation button.revoke-invitation")
        token = (await page.inner_text("#invite-link")).rsplit("start=", 1)[1]
        await page.click(".invitation button.revoke-invitation")
        await page.wait_for_selector("#status:has-text('отозвано')")
        await page.wait_for_selector("#invitations:has-text('Неиспользованных приглашений нет')")
        stranger = tg.create_user("Случайный")
        async with db.unit_of_work() as session:
            with pytest.raises(staff.StaffError, match="expired"):
                await staff.claim_invitation(session, token, telegram_user_id=stranger["id"], first_name="Случайный")

        # A new role: its name, what it may do, what it sees.
        page = await mb.open(shop["users"]["Ольга"]["id"], "/roles", page=page)
        await page.wait_for_selector("#role-chips button#new-role")
        await page.click("#role-chips button#new-role")
        await page.fill("#new-name", "Маркетолог")
        await page.check("#permissions input[data-code=view_traffic]")
        await page.check("#permissions input[data-code=view_analytics]")
        await page.uncheck("#fields input[data-code=phone]")
        await page.click("#save")
        await page.wait_for_selector("#status:has-text('создана')")
        await page.wait_for_selector("#role-chips button.on:has-text('Маркетолог')")
        assert "Маркетолог" in await page.inner_text("#matrix thead")
        async with db.unit_of_work() as session:
            role = (await session.execute(select(Role).where(Role.name == "Маркетолог"))).scalar_one()
        assert (set(role.permissions), role.hidden_fields) == ({"view_traffic", "view_analytics"}, ["phone"])
        # The same name again is refused.
        await page.click("#role-chips button#new-role")
        await page.fill("#new-name", "маркетолог")
        await page.click("#save")
        await page.wait_for_selector("#status.error:has-text('уже есть')")
        # Built-in roles have no Delete; a role someone holds cannot go.
        await page.click("#role-chips button[data-role=manager]")
        assert await page.is_hidden("#delete")
        async with db.unit_of_work() as session:
            petr_id = await staff.staff_id_of(session, shop["tenant"], shop["users"]["Пётр"]["id"])
            await staff.change_role(session, shop["tenant"], petr_id, role.code, actor=None, via="cli")
        await page.reload()
        await page.wait_for_selector(f"#role-chips button[data-role={role.code}]")
        await page.click(f"#role-chips button[data-role={role.code}]")
        await page.click("#delete")
        await page.wait_for_selector("#status.error:has-text('другую роль')")
        async with db.unit_of_work() as session:
            await staff.change_role(session, shop["tenant"], petr_id, "manager", actor=None, via="cli")
            # Пётр held it once: removed or not, the role keeps a record of him — it is in use until no row names it.
            assert (await session.get(StaffMember, petr_id)).role_id != role.id
        await page.click("#delete")
        await page.wait_for_selector("#status:has-text('удалена')")
        assert await page.locator(f"#role-chips button[data-role={role.code}]").count() == 0
        async with db.unit_of_work() as session:
            assert (await session.execute(select(Role).where(Role.name == "Маркетолог"))).scalar_one_or_none() is None
            kinds = {e.kind for e in (await session.execute(select(Event))).scalars()}
            assert (await session.execute(select(Invitation).where(Invitation.used_at.is_(None)))).scalars().all()
        assert {"invitation_revoked", "role_created", "role_deleted"} <= kinds
        assert page.js_errors == []


async def test_a_manager_unassigns_a_dialog(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(shop["users"]["Иван"]["id"], f"/dialogs/{shop['dialogs']['Борис']}")
        await page.wait_for_selector("#assign-me")
        assert await page.is_hidden("#unassign")
        await page.click("#assign-me")
        await page.wait_for_selector("#customer [data-field=assignee]:has-text('Иван')")
        await page.click("#unassign")
        await page.wait_for_selector("#customer [data-field=assignee]:has-text('никто')")
        assert await page.is_hidden("#unassign")
        # "nobody" in the list does the same.
        await page.click("#assign-me")
        await page.wait_for_selector("#customer [data-field=assignee]:has-text('Иван')")
        await page.select_option("#assignee", "")
        await page.wait_for_selector("#customer [data-field=assignee]:has-text('никто')")
        async with db.unit_of_work() as session:
            events = (await session.execute(select(Event).where(Event.kind == "dialog_unassigned"))).scalars().all()
        assert len(events) == 2 and events[0].dialog_id == shop["dialogs"]["Борис"]
        assert page.js_errors == []


async def test_campaign_invite_links_and_csv_downloads_on_the_traffic_page(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    olga = shop["users"]["Ольга"]["id"]
    channel = tg.create_channel("Новости лавки", bot_rights={"can_invite_users": True}, owner_id=olga)["id"]
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(olga, "/traffic")
        page.on("dialog", lambda d: d.accept())
        await page.fill("#new-campaign input[name=name]", "Осенний чай")
        await page.click("#new-campaign button[type=submit]")
        card = page.locator(".campaign", has_text="Осенний чай")
        await card.wait_for()
        await card.locator("details.invites summary").click()
        await card.locator(".invite-form input[name=chat]").fill(str(channel))
        await card.locator(".invite-form input[name=creates_join_request]").check()
        await card.locator(".invite-form button[type=submit]").click()
        await page.wait_for_selector(".invite-link:has-text('Новости лавки')")
        url = await page.inner_text(".invite-link code.link")
        [made] = tg.chat(channel)["invite_links"]
        assert (made["invite_link"], made["name"], made["creates_join_request"]) == (url, "Осенний чай", True)
        assert "вступили: 0" in await page.inner_text(".invite-link")
        # A chat the owner does not administer is refused in words.
        other = tg.create_channel("Чужой", bot_rights={"can_invite_users": True})["id"]
        await card.locator(".invite-form input[name=chat]").fill(str(other))
        await card.locator(".invite-form button[type=submit]").click()
        await page.wait_for_selector("#campaign-status:has-text('администратор')")
        await mb.screenshot(page, "traffic")
        await page.click(".invite-link button.revoke")
        await page.wait_for_selector(".invite-link.revoked")
        assert tg.chat(channel)["invite_links"][0]["is_revoked"] is True

        # CSV inside Telegram: the file goes to the server once, the client downloads its URL (no page headers).
        async with page.expect_download() as got:
            await page.click("#charts button.csv")
        download = await got.value
        [asked] = await mb.events(page, "download_file")
        assert asked["url"].startswith(mb.base + "/downloads/") and asked["file_name"].startswith("traffic_first_")
        assert download.suggested_filename == asked["file_name"]
        text = open(await download.path(), encoding="utf-8-sig").read()
        assert text.splitlines()[0].startswith("Откуда,")
        # The person declines Telegram's popup: nothing is downloaded, the page is told so.
        await page.evaluate("Telegram.WebApp.__sandbox.declineDownloads = true")
        await page.click("#charts button.csv")
        await page.wait_for_function("Telegram.WebApp.__sandbox.events.filter(e => e.kind === 'haptic'"
                                     " && e.style === 'warning').length === 1")
        # A client older than 8.0 (or a plain browser): the page saves the file itself.
        old = await mb.new_page()
        await old.goto(mb.url(olga, "/traffic").replace("tgWebAppVersion=8.0", "tgWebAppVersion=7.10"))
        await old.wait_for_selector("#charts button.csv")
        async with old.expect_download() as got:
            await old.click("#charts button.csv")
        assert (await got.value).suggested_filename.startswith("traffic_first_")
        assert await mb.events(old, "download_file") == []
        assert page.js_errors == [] and old.js_errors == []
