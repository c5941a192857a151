"""The whole way of a payment receipt: a VK customer sends a photo of the receipt and a PDF through the VK stand-in's
long poll; the userbot downloads both into the media store as it records the message, the mirror task runs from the
task queue, and the manager topic in the Bot API stand-in shows a real photo and a real document — the same bytes.
A file that could not be fetched shows as a note with the reason."""

from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import select

from core.media import MediaStore, media_root
from core.models import Attachment, ChannelAccount, ChannelKind
from core.services import channels as channel_service
from sandbox.runner import serve
from sandbox.vk import VKSandbox, synth
from userbots.live import MediaDownloads
from userbots.vk.realtime import VKChannelRealtime

from .desk import Desk

GROUP = 77_000_002
CUSTOMER = 500_000_902
VK_TIME_SCALE = 20.0


async def until(check, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {check.__name__}")
        await asyncio.sleep(0.05)
    return result


async def test_a_vk_receipt_reaches_the_manager_topic_as_a_photo_and_a_document(desk: Desk):
    vk = VKSandbox(time_scale=VK_TIME_SCALE)
    runner, base = await serve(vk.app)
    token = vk.add_community(GROUP, "Магазин во VK")
    settings = desk.ctx.settings.model_copy(update={
        "time_scale": VK_TIME_SCALE,
        "vk": desk.ctx.settings.vk.model_copy(update={"vk_api_url": f"{base}/method/"})})
    async with desk.db.unit_of_work() as session:
        channel_id = await channel_service.add_channel(session, desk.ctx.secrets, tenant_id=desk.tenant_id,
                                                       kind=ChannelKind.VK_COMMUNITY, external_id=str(GROUP),
                                                       title="Магазин во VK", credentials=token)
        channel = await session.get(ChannelAccount, channel_id)
    store = MediaStore(media_root(desk.ctx.settings.data_dir))  # where the bot's mirror reads files from
    # the desk's own task queue: the mirror task runs as `salesop run` runs it
    realtime = VKChannelRealtime(desk.db, desk.ctx.queue, settings, channel, token, MediaDownloads(store))
    stop = asyncio.Event()
    task = asyncio.create_task(realtime.run(stop))
    try:
        await until(lambda: _async(vk.stats["longpoll_requests"] > 0))
        sent = await vk.user_writes(GROUP, CUSTOMER, "Оплатила заказ, вот чек",
                                    attachments=[{"type": "photo"}, {"type": "doc"}])
        expired = {"type": "photo", "photo": {"id": 9, "owner_id": CUSTOMER, "sizes": [], "orig_photo": {
            "url": f"{synth.BASE}/_sandbox/media/expired/{CUSTOMER}_9.jpg", "width": 10, "height": 10}}}
        await vk.user_writes(GROUP, CUSTOMER, "И ещё один", attachments=[expired])

        async def mirrored():
            await desk.settle()
            topics = desk.live_topics()
            posts = [m for m in desk.thread(topics[0]["id"]) if not m["pinned"]] if topics else []
            return posts if len(posts) >= 3 else None

        photo_post, document_post, note = await until(mirrored)
        # what the customer sent, as the VK stand-in serves it to anyone
        urls = [sent["attachments"][0]["photo"]["orig_photo"]["url"], sent["attachments"][1]["doc"]["url"]]
        async with aiohttp.ClientSession() as http:
            originals = [await (await http.get(url.replace(synth.BASE, base))).read() for url in urls]
    finally:
        stop.set()
        await task
        await runner.cleanup()

    assert photo_post["media"]["type"] == "photo" and photo_post["caption"] == "Оплатила заказ, вот чек"
    assert document_post["media"]["type"] == "document"
    assert document_post["media"]["file_name"].endswith(".pdf")
    # what the manager opens is what the customer sent, byte for byte
    assert desk.sb.files[photo_post["media"]["file_id"]].data == originals[0]
    assert desk.sb.files[document_post["media"]["file_id"]].data == originals[1]
    assert note["text"] == ("И ещё один\n📎 Фото — файл недоступен: файл не скачался (сервер ответил 404) — "
                            "откройте его во VK")
    async with desk.db.unit_of_work() as session:
        keys = list((await session.execute(select(Attachment.storage_key).order_by(Attachment.id))).scalars())
    assert keys[0] and keys[1] and keys[2] is None


async def _async(value):
    return value
