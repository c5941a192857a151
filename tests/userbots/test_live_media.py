"""Customers' files arrive with their messages: the userbot that receives a live message downloads each attachment
into the media store before recording it (VK over HTTP from the stand-in's media URLs, Telegram accounts through
real Telethon's upload.getFile against the MTProto stand-in), so the mirror finds the file at once. A failed,
oversized or replayed download never loses or duplicates the message."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from core import inbox
from core.media import MediaStore, UnsafeStorageKey, media_root
from core.models import Attachment, AttachmentKind, ChannelAccount, Message
from core.services.workspace.views import mirror_messages
from sandbox.runner import serve
from sandbox.vk import synth
from sandbox.vk.synth import png
from salesop.context import app_context
from userbots import component
from userbots.live import MediaDownloads, MediaSource
from userbots.telegram.client import TelegramAccount, TelethonClientFactory
from userbots.vk.parse import attachment as vk_attachment
from userbots.vk.realtime import VKChannelRealtime

from .conftest import GROUP, make_vk_channel
from .test_telegram_mtproto import connected, until_stored, wait_for  # noqa: F401 (connected: a fixture)
from .test_vk_realtime import eventually, messages_of, wait_until_listening

CUSTOMER = 500_000_901


def store_of(settings) -> MediaStore:
    return MediaStore(media_root(settings.data_dir))


def stored_files(store: MediaStore) -> list:
    return sorted(p for p in store.root.rglob("*") if p.is_file()) if store.root.exists() else []


async def attachments_of(db, message_id: int) -> list[Attachment]:
    async with db.unit_of_work() as session:
        return list((await session.execute(
            select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.ordinal))).scalars())


async def served(url: str) -> bytes:
    """What the VK stand-in serves at a media URL, fetched independently of the product."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.read()


class VKRun:
    def __init__(self, realtime: VKChannelRealtime, stop: asyncio.Event, task: asyncio.Task):
        self.realtime, self.stop, self.task = realtime, stop, task
        self.fetched: list[str] = []
        # every file the product asks for is noted, then fetched as it would be
        product = realtime.fetcher.source

        async def noting(att, max_bytes):
            self.fetched.append(att.external_ref.get("url"))
            return await product.fetch(att, max_bytes)

        realtime.fetcher.source = MediaSource(noting, product.place)

    async def close(self):
        self.stop.set()
        await self.task


async def start_vk(db, tasks, vk_settings, shop, vk, media: MediaDownloads) -> VKRun:
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    realtime = VKChannelRealtime(db, tasks.queue, vk_settings, channel, vk.token, media)
    stop = asyncio.Event()
    run = VKRun(realtime, stop, asyncio.create_task(realtime.run(stop)))
    await wait_until_listening(vk)
    return run


async def one_message(db, peer: int, count: int = 1) -> list[Message]:
    async def arrived():
        return len(await messages_of(db, peer)) >= count
    await eventually(arrived)
    return await messages_of(db, peer)


# ------------------------------------------------------------------------------------------------------------- VK


async def test_vk_receipt_photo_and_pdf_are_stored_byte_exact_before_the_message_is_mirrored(db, vk, vk_settings,
                                                                                             shop, tasks):
    store = store_of(vk_settings)
    run = await start_vk(db, tasks, vk_settings, shop, vk, MediaDownloads(store))
    try:
        await vk.sandbox.user_writes(GROUP, CUSTOMER, "Оплатила, вот чек и квитанция",
                                     attachments=[{"type": "photo"}, {"type": "doc"}])
        (message,) = await one_message(db, CUSTOMER)
        # the mirror task is asked for only after the row (and so the file) is there
        await wait_for(lambda: tasks.calls[inbox.MIRROR_MESSAGE])
        photo, pdf = await attachments_of(db, message.id)

        assert (photo.kind, pdf.kind) == (AttachmentKind.PHOTO, AttachmentKind.DOCUMENT)
        for att in (photo, pdf):
            original = await served(att.external_ref["url"])
            assert att.storage_key.startswith(f"inbox/{shop.channel_id}/") and att.error is None
            assert store.path_of(att.storage_key).read_bytes() == original
            assert att.size == len(original) and att.sha256 == hashlib.sha256(original).hexdigest()
        assert photo.mime == "image/png" and photo.storage_key.endswith(".png")  # what the bytes are
        assert pdf.mime == "application/pdf" and pdf.storage_key.endswith(".pdf") and pdf.file_name.endswith(".pdf")
        assert [c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]] == [message.id]
        async with db.unit_of_work() as session:
            (mirrored,) = await mirror_messages(session, [message.id], store.root)
        assert [a["path"] for a in mirrored["attachments"]] == [str(store.path_of(photo.storage_key)),
                                                                str(store.path_of(pdf.storage_key))]
        assert len(run.fetched) == 2

        # a gap fill re-reads the same conversation: nothing is downloaded again, nothing is recorded twice
        await run.realtime.fill_gap(since=0)
        assert len(run.fetched) == 2
        assert len(await messages_of(db, CUSTOMER)) == 1 and len(stored_files(store)) == 2
    finally:
        await run.close()


async def test_vk_download_failures_keep_the_message_with_the_reason(db, vk, vk_settings, shop, tasks):
    store = store_of(vk_settings)
    run = await start_vk(db, tasks, vk_settings, shop, vk, MediaDownloads(store))
    gone = {"type": "photo", "photo": {"id": 1, "owner_id": CUSTOMER, "sizes": [], "orig_photo": {
        "url": f"{synth.BASE}/_sandbox/media/expired/{CUSTOMER}_1.jpg", "width": 800, "height": 600}}}
    page = {"type": "doc", "doc": {"id": 2, "owner_id": CUSTOMER, "title": "чек", "ext": "pdf", "size": 1000,
                                   "url": f"{synth.BASE}/_sandbox/media/video/{CUSTOMER}_2.html"}}
    try:
        await vk.sandbox.user_writes(GROUP, CUSTOMER, "Чек не открывается?", attachments=[gone, page, {"type": "doc"}])
        (message,) = await one_message(db, CUSTOMER)
    finally:
        await run.close()
    assert message.text == "Чек не открывается?"
    missing, web_page, fine = await attachments_of(db, message.id)
    assert missing.error == "файл не скачался (сервер ответил 404) — откройте его во VK"
    assert web_page.error == "файл не скачался (вместо файла пришла веб-страница) — откройте его во VK"
    assert missing.storage_key is None and web_page.storage_key is None
    assert fine.error is None and fine.storage_key  # one bad file does not cost the others theirs
    assert [c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]] == [message.id]
    async with db.unit_of_work() as session:
        (mirrored,) = await mirror_messages(session, [message.id], store.root)
    assert [a["path"] is None for a in mirrored["attachments"]] == [True, True, False]
    assert len(stored_files(store)) == 1


async def test_a_vk_download_that_hangs_is_given_up_after_the_timeout(db, vk, vk_settings, shop, tasks):
    answered = asyncio.Event()

    async def never_answers(request):
        await answered.wait()  # a CDN that accepted the connection and went silent
        return web.Response(body=b"late")

    app = web.Application()
    app.router.add_get("/slow.jpg", never_answers)
    cdn, cdn_url = await serve(app)
    run = await start_vk(db, tasks, vk_settings, shop, vk, MediaDownloads(store_of(vk_settings), timeout=0.3))
    slow = {"type": "photo", "photo": {"id": 7, "owner_id": CUSTOMER, "sizes": [],
                                       "orig_photo": {"url": f"{cdn_url}/slow.jpg", "width": 10, "height": 10}}}
    try:
        await vk.sandbox.user_writes(GROUP, CUSTOMER, "Чек", attachments=[slow])
        (message,) = await one_message(db, CUSTOMER)
    finally:
        answered.set()
        await run.close()
        await cdn.cleanup()
    (photo,) = await attachments_of(db, message.id)
    assert photo.error == "файл не скачался (нет ответа за 0.3 с) — откройте его во VK" and photo.storage_key is None


async def test_vk_files_over_the_limit_are_not_downloaded(db, vk, vk_settings, shop, tasks):
    store = store_of(vk_settings)
    # a small limit stands in for the bot's 50 MB: the stand-in's receipt photo is 1.6 KB
    run = await start_vk(db, tasks, vk_settings, shop, vk, MediaDownloads(store, limit=1024))
    declared = {"type": "doc", "doc": {"id": 3, "owner_id": CUSTOMER, "title": "scan.pdf", "ext": "pdf",
                                       "size": 5000, "url": f"{synth.BASE}/_sandbox/media/doc/{CUSTOMER}_3.pdf"}}
    huge = {"type": "doc", "doc": {"id": 4, "owner_id": CUSTOMER, "title": "video.mp4", "ext": "mp4",
                                   "size": 60 * 1024 * 1024,
                                   "url": f"{synth.BASE}/_sandbox/media/doc/{CUSTOMER}_4.mp4"}}
    try:
        await vk.sandbox.user_writes(GROUP, CUSTOMER, "Большие файлы", attachments=[{"type": "photo"}, declared, huge])
        (message,) = await one_message(db, CUSTOMER)
    finally:
        await run.close()
    photo, scan, video = await attachments_of(db, message.id)
    assert photo.error == "файл больше лимита Telegram (0 МБ) — откройте его во VK"  # 1024 bytes: 0 MB
    assert scan.error == photo.error
    assert video.error == "файл 60 МБ больше лимита Telegram (50 МБ) — откройте его во VK"
    assert all(a.storage_key is None for a in (photo, scan, video))
    # only the photo, whose size VK does not declare, was asked for — and refused by the size the server announced
    assert run.fetched == [photo.external_ref["url"]]
    assert stored_files(store) == []


async def test_salesop_run_downloads_what_customers_send(vk, vk_settings, secrets, db):
    """The userbots component gives every channel it starts the downloader, writing where the bot reads."""
    await make_vk_channel(db, secrets, vk.token)
    async with app_context(vk_settings) as ctx:
        component.install(ctx)
        await ctx.queue.startup()
        stop = asyncio.Event()
        running = asyncio.create_task(component.run(ctx, stop))
        try:
            await wait_until_listening(vk)
            await vk.sandbox.user_writes(GROUP, CUSTOMER, "Чек", attachments=[{"type": "photo"}])
            (message,) = await one_message(db, CUSTOMER)
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
            await ctx.queue.shutdown()
    (photo,) = await attachments_of(db, message.id)
    assert store_of(vk_settings).path_of(photo.storage_key).read_bytes() == await served(photo.external_ref["url"])


def test_a_vk_video_with_files_is_fetched_from_its_mp4_not_its_player_page():
    with_files = vk_attachment({"type": "video", "video": {
        "id": 5, "owner_id": 1, "player": "https://vk.com/video_ext.php?oid=1&id=5",
        "files": {"mp4_240": "https://vk.example/240.mp4", "mp4_720": "https://vk.example/720.mp4",
                  "hls": "https://vk.example/index.m3u8"}}})
    assert with_files.external_ref["file_url"] == "https://vk.example/720.mp4"
    player_only = vk_attachment({"type": "video", "video": {"id": 6, "owner_id": 1,
                                                            "player": "https://vk.com/video_ext.php?oid=1&id=6"}})
    assert "file_url" not in player_only.external_ref


# ------------------------------------------------------------------------------------------------ Telegram accounts


async def start_account(db, queue, settings, secrets, channel_id: int, media: MediaDownloads):
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, channel_id)
    account = TelegramAccount(db, queue, channel, TelethonClientFactory(settings, db, secrets), media)
    stop = asyncio.Event()
    task = asyncio.create_task(account.run(stop))
    assert await wait_for(account.connected.is_set, 60), "the account did not connect"
    return stop, task


async def test_telegram_photo_and_voice_note_are_stored_byte_exact(db, tg_secrets, tg_settings, mtproto, connected,
                                                                  tasks):
    owner, customer, channel_id = connected
    store = store_of(tg_settings)
    receipt = png(120, 160, 11)
    voice = synth.ogg_opus(2, 77)
    stop, task = await start_account(db, tasks.queue, tg_settings, tg_secrets, channel_id, MediaDownloads(store))
    try:
        await mtproto.customer_writes(owner, customer, "Вот чек", media={"kind": "photo", "data": receipt})
        await mtproto.customer_writes(owner, customer, media={"kind": "voice", "data": voice, "duration": 2})
        rows = await until_stored(db, channel_id, 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    (photo,) = await attachments_of(db, rows[0].id)
    (note,) = await attachments_of(db, rows[1].id)
    assert photo.kind == AttachmentKind.PHOTO and note.kind == AttachmentKind.VOICE
    assert store.path_of(photo.storage_key).read_bytes() == receipt
    assert photo.storage_key.startswith(f"inbox/{channel_id}/") and photo.storage_key.endswith(".png")
    assert (photo.size, photo.mime, photo.error) == (len(receipt), "image/png", None)  # Telegram said image/jpeg
    assert store.path_of(note.storage_key).read_bytes() == voice
    assert note.storage_key.endswith(".ogg") and note.mime == "audio/ogg"
    assert mtproto.calls["GetFileRequest"] >= 2


async def test_telegram_failed_and_oversized_downloads_keep_the_message(db, tg_secrets, tg_settings, mtproto,
                                                                       connected, tasks):
    owner, customer, channel_id = connected
    store = store_of(tg_settings)
    media = MediaDownloads(store, limit=4096)
    stop, task = await start_account(db, tasks.queue, tg_settings, tg_secrets, channel_id, media)
    try:
        await mtproto.customer_writes(owner, customer, "Скан договора", media={
            "kind": "document", "data": b"%PDF-1.4 " + bytes(8000), "file_name": "contract.pdf",
            "mime": "application/pdf"})
        await until_stored(db, channel_id, 1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert "GetFileRequest" not in mtproto.calls  # its declared size was over the limit: never asked for

    # Written while the account was offline, and its file gone from Telegram by the time we catch up.
    message = await mtproto.customer_writes(owner, customer, "Чек пропал?", media={"kind": "photo",
                                                                                   "data": png(40, 40, 1)})
    del mtproto.world.media[message.media.id]
    stop, task = await start_account(db, tasks.queue, tg_settings, tg_secrets, channel_id, media)
    try:
        rows = await until_stored(db, channel_id, 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    (contract,) = await attachments_of(db, rows[0].id)
    (lost,) = await attachments_of(db, rows[1].id)
    assert contract.error == "файл больше лимита бота (0 МБ) — откройте его в Telegram-аккаунте"
    assert lost.error == "файл не скачался (ошибка LocationInvalidError) — откройте его в Telegram-аккаунте"
    assert rows[1].text == "Чек пропал?" and contract.storage_key is None and lost.storage_key is None
    assert stored_files(store) == []


# ----------------------------------------------------------------------------------------------------- the store


@pytest.mark.parametrize("key", ["", "../secrets.key", "/etc/passwd", "inbox/../../x", "inbox/./a", ".hidden",
                                 "inbox\\..\\x", "inbox//a", "inbox/a b", "x" * 256])
def test_the_store_refuses_keys_that_are_not_plain_relative_paths(tmp_path, key):
    with pytest.raises(UnsafeStorageKey):
        MediaStore(tmp_path / "media").path_of(key)


def test_the_store_refuses_a_symlink_out_of_it(tmp_path):
    store = MediaStore(tmp_path / "media")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "out").symlink_to(tmp_path)
    with pytest.raises(UnsafeStorageKey):
        store.path_of("out/secrets.key")


def test_the_same_bytes_are_stored_once_and_whole(tmp_path):
    store = MediaStore(tmp_path / "media")
    first = store.put(b"%PDF-1.7 receipt", namespace="inbox/3", mime="application/octet-stream", file_name="чек")
    again = store.put(b"%PDF-1.7 receipt", namespace="inbox/3", mime=None)
    assert first == again and first.mime == "application/pdf" and first.storage_key.endswith(".pdf")
    assert stored_files(store) == [store.path_of(first.storage_key)]  # no second copy, no temporary file left
    docx = store.put(b"PK\x03\x04 word", namespace="inbox/3", mime="application/msword", file_name="Счёт.DOCX")
    assert docx.storage_key.endswith(".docx") and docx.mime == "application/msword"
