"""The media library page in headless Chromium with real clicks: the owner uploads a photo (its preview appears, the
bytes are in the media store), is told clearly why an executable is refused, and creates a quick reply with the photo
attached; a manager is refused the page and every call of its API (403). Screenshot at 390 px:
docs/screenshots/media.png."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from core.media import MediaStore, media_root
from core.models import MediaItem, QuickReply, StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from sandbox.vk import synth

from .browser import miniapp_browser

PHOTO = synth.png(480, 320, 11)


async def _seed(db, tg: TelegramSandbox) -> dict:
    people = {"owner": tg.create_user("Ольга")["id"], "manager": tg.create_user("Иван")["id"]}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Техносфера")
        for role, user_id in people.items():
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                    telegram_user_id=user_id, name=role.title(), locale="ru"))
    return people


async def test_the_owner_uploads_a_file_and_makes_a_quick_reply_and_a_manager_is_kept_out(db, settings):
    tg = TelegramSandbox()
    people = await _seed(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(people["owner"], "/media")
        await page.wait_for_selector("#no-items")
        assert await page.inner_text("#title") == "Медиатека"

        await page.set_input_files("#upload-file", files=[
            {"name": "jackets.png", "mimeType": "image/png", "buffer": PHOTO}])
        assert await page.input_value("#upload-title") == "jackets"  # the file's name is offered
        await page.fill("#upload-title", "Куртки фото")
        await page.fill("#upload-tags", "#куртки #прайс")
        await page.click("#upload-go")
        await page.wait_for_selector(".media-item[data-kind='photo'] .thumb img")  # the preview, fetched with auth
        assert "Куртки фото" in await page.inner_text(".media-item")
        async with db.unit_of_work() as session:
            [item] = (await session.execute(select(MediaItem))).scalars().all()
        assert (item.title, item.kind.value, item.tags, item.size) == ("Куртки фото", "photo", ["куртки", "прайс"],
                                                                       len(PHOTO))
        assert await MediaStore(media_root(settings.data_dir)).read(item.storage_key) == PHOTO

        # A file VK would not take is refused with the reason and what to do.
        await page.set_input_files("#upload-file", files=[
            {"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x90\x00" + b"\x00" * 60}])
        await page.click("#upload-go")
        await page.wait_for_selector("#upload-error:not([hidden])")
        assert "ВКонтакте не принимает документы exe" in await page.inner_text("#upload-error")
        assert await page.locator(".media-item").count() == 1

        await page.click("#new-reply")
        await page.fill("#reply-name", "Прайс")
        await page.fill("#reply-text", "Куртки: M — 5 900 ₽, L — 6 200 ₽.")
        await page.check(f"#reply-media input[value='{item.id}']")
        await page.click("#reply-save")
        await page.wait_for_selector(".reply .files")
        assert "Куртки фото" in await page.inner_text(".reply")
        async with db.unit_of_work() as session:
            [reply] = (await session.execute(select(QuickReply))).scalars().all()
        assert (reply.name, reply.media_item_ids) == ("Прайс", [item.id])
        await page.click("#q")  # back to the top of the page for the picture
        await mb.screenshot(page, "media")
        assert page.js_errors == []

        manager = await mb.open(people["manager"], "/media")
        await manager.wait_for_selector("#error")
        assert await manager.locator("#upload").count() == 0
        assert await manager.locator("#nav a[data-page='media']").count() == 0
        auth = {"Authorization": "tma " + tg.init_data(people["manager"])}
        async with aiohttp.ClientSession() as http:
            for method, path, body in (("GET", "/view/media", None), ("GET", "/api/media", None),
                                       ("POST", "/api/media?title=x", PHOTO),
                                       ("GET", f"/api/media/{item.id}/file", None),
                                       ("GET", "/api/quick", None), ("DELETE", f"/api/quick/{reply.id}", None)):
                async with http.request(method, mb.base + path, headers=auth, data=body) as answer:
                    assert answer.status == 403, (method, path, answer.status)
        async with db.unit_of_work() as session:
            assert len((await session.execute(select(MediaItem))).scalars().all()) == 1
            assert (await session.get(QuickReply, reply.id)) is not None
