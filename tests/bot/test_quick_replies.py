"""The media library and quick replies in the bot, end to end through the stand-ins: `/q <words>` in a dialog's topic
(sandbox Bot API, the real aiogram dispatcher) posts a preview; its Send hands the text and a real photo from the
media store to the customer through the real UserbotGateway — a VK community (vkbottle against the VK stand-in:
photos.getMessagesUploadServer, saveMessagesPhoto, messages.send with the attachment, uploaded once and reused) and a
Telegram account (Telethon against the MTProto stand-in: messages.sendMedia). `/save <name>` with a file in private
chat stores an item; a too large or wrong-format file is refused with a clear message."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core import inbox
from core.media import MediaStore, media_root
from core.models import ChannelKind, MediaChannelRef, MediaItem, Message
from core.services import channels as channel_service
from core.services import media_library, quick_replies
from sandbox.mtproto import MTProtoSandbox
from sandbox.vk import synth
from tests.userbots.conftest import GROUP, RecordingQueue, mtproto_settings, serve_vk
from tests.userbots.test_telegram_mtproto import connect_with_code, running, until_stored
from userbots.gateway import UserbotGateway
from userbots.telegram.client import TelegramAccounts

CUSTOMER = 500_000_888
PHOTO = synth.png(640, 480, 7)
PRICE_TEXT = "Прайс на куртки: M — 5 900 ₽, L — 6 200 ₽. Доставка завтра."


def with_services(desk) -> None:
    """The dispatcher with the app's services, as bot.component builds it: the media handlers find the store."""
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake)
    desk.dp = build_dispatcher(runtime, desk.ctx.services)


def store_of(desk) -> MediaStore:
    return MediaStore(media_root(desk.ctx.settings.data_dir))


def fetcher(desk):
    store = store_of(desk)

    async def fetch(item: dict) -> bytes:
        return await store.read(item["storage_key"])

    return fetch


async def library(desk, *, photo: bytes = PHOTO) -> tuple[int, int]:
    """A photo in the media library and a quick reply «Прайс» sending it with a text."""
    async with desk.db.unit_of_work() as session:
        item = await media_library.add_item(session, store_of(desk), desk.tenant_id, photo, title="Куртки фото",
                                            file_name="jackets.png", mime="image/png", tags="#куртки")
        reply = await quick_replies.save_reply(session, desk.tenant_id, name="Прайс", text=PRICE_TEXT,
                                               media_item_ids=[item.id])
        return item.id, reply.id


def buttons(message: dict) -> list[str]:
    return [b["callback_data"] for row in (message["reply_markup"] or {}).get("inline_keyboard", []) for b in row]


def bot_posts(desk, thread_id: int, marker: str) -> list[dict]:
    return [m for m in desk.thread(thread_id) if m["by_bot"] and any(d.startswith(marker) for d in buttons(m))]


async def insert_and_send(desk, thread_id: int, words: str) -> dict:
    """A manager types `/q <words>` in the topic and presses Send on the preview."""
    before = len(bot_posts(desk, thread_id, "qr:s:"))
    await desk.write(desk.manager, f"/q {words}", thread_id=thread_id)
    previews = bot_posts(desk, thread_id, "qr:s:")
    assert len(previews) == before + 1, [m.get("text") for m in desk.thread(thread_id)]
    preview = previews[-1]
    send = next(d for d in buttons(preview) if d.startswith("qr:s:"))
    await desk.press(desk.manager, preview["message_id"], send)
    return preview


@pytest.fixture
async def vk_env():
    env = await serve_vk(time_scale=20.0)
    yield env
    await env.runner.cleanup()


async def test_a_quick_reply_with_a_photo_reaches_a_vk_customer_and_the_upload_is_reused(make_desk, vk_env):
    desk = await make_desk()
    settings = desk.ctx.settings
    settings.vk.vk_api_url = vk_env.api_url
    async with desk.db.unit_of_work() as session:
        channel_id = await channel_service.add_channel(session, desk.ctx.secrets, tenant_id=desk.tenant_id,
                                                       kind=ChannelKind.VK_COMMUNITY, external_id=str(GROUP),
                                                       title="Магазин VK", credentials=vk_env.token)
    gateway = UserbotGateway(desk.db, desk.ctx.secrets, settings, fetch_media=fetcher(desk))
    desk.ctx.services["channel_gateway"] = gateway
    desk.channel_id = channel_id
    with_services(desk)
    try:
        item_id, _ = await library(desk)
        received = await desk.customer_writes({"id": CUSTOMER, "first_name": "Анна", "last_name": "VK"},
                                              "Сколько стоят куртки?", external_id="900001")  # VK's ids are small
        await desk.settle()
        topic = await desk.topic(received.dialog_id)

        preview = await insert_and_send(desk, topic.thread_id, "прайс")
        assert PRICE_TEXT in preview["text"] and "Куртки фото" in preview["text"]
        [sent] = vk_env.sandbox.sent
        assert sent["peer_id"] == CUSTOMER and sent["message"] == PRICE_TEXT
        assert sent["attachment"].startswith("photo-")
        owner, media_id = (int(x) for x in sent["attachment"].removeprefix("photo").split("_")[:2])
        data, _ = vk_env.sandbox._blobs[("photo", owner, media_id)]
        assert hashlib.sha256(data).digest() == hashlib.sha256(PHOTO).digest()
        async with desk.db.unit_of_work() as session:
            ref = await session.get(MediaChannelRef, (item_id, channel_id))
            assert ref is not None and ref.ref == sent["attachment"]
            stored = (await session.execute(select(Message).where(Message.dialog_id == received.dialog_id,
                                                                  Message.text == PRICE_TEXT))).scalar_one()
            assert stored.author_staff_id is not None  # a manager's answer, recorded as delivered

        # Sent again: the attachment VK gave the first upload goes out, nothing is uploaded twice.
        photos_before = sum(1 for key in vk_env.sandbox._blobs if key[0] == "photo")
        await insert_and_send(desk, topic.thread_id, "Прайс")
        assert len(vk_env.sandbox.sent) == 2
        assert vk_env.sandbox.sent[1]["attachment"] == sent["attachment"]
        assert sum(1 for key in vk_env.sandbox._blobs if key[0] == "photo") == photos_before

        # Pressing Send on a preview already sent sends nothing more.
        first = bot_posts(desk, topic.thread_id, "qr:s:")[0]
        await desk.press(desk.manager, first["message_id"], next(d for d in buttons(first) if d.startswith("qr:s:")))
        assert len(vk_env.sandbox.sent) == 2
    finally:
        await gateway.close()


async def test_a_quick_reply_with_a_photo_reaches_a_telegram_account_customer(make_desk):
    desk = await make_desk()
    mtproto = MTProtoSandbox()
    await mtproto.start()
    queue = RecordingQueue()
    await queue.queue.startup()
    tg_settings = mtproto_settings(desk.ctx.settings, mtproto)
    accounts = TelegramAccounts(desk.db)
    gateway = UserbotGateway(desk.db, desk.ctx.secrets, tg_settings, fetch_media=fetcher(desk), telegram=accounts)
    try:
        owner = mtproto.create_account("+79990003344", "Ольга", "Магазин")
        customer = mtproto.create_customer("Анна", "Петрова", username="anna_quick")
        channel_id = await connect_with_code(desk.db, desk.ctx.secrets, tg_settings, mtproto, desk.tenant_id,
                                             phone="+79990003344")
        desk.ctx.services["channel_gateway"] = gateway
        with_services(desk)
        await library(desk)
        async with running(desk.db, queue.queue, tg_settings, desk.ctx.secrets, channel_id) as account:
            accounts.add(account)
            await mtproto.customer_writes(owner.user.id, customer.id, "Пришлите прайс, пожалуйста")
            [message] = await until_stored(desk.db, channel_id, 1)
            await desk.tasks[inbox.MIRROR_MESSAGE](message_id=message.id)
            await desk.settle()
            topic = await desk.topic(message.dialog_id)
            assert topic is not None and topic.thread_id is not None

            await insert_and_send(desk, topic.thread_id, "прайс")
            sent = [m for m in mtproto.messages(owner.user.id, customer.id) if m["out"]]
        assert [m["text"] for m in sent] == ["", PRICE_TEXT]
        photo = sent[0]["media"]
        assert photo["kind"] == "photo"
        data = mtproto.account(owner.user.id).messages[sent[0]["id"]].media.data
        assert hashlib.sha256(data).digest() == hashlib.sha256(PHOTO).digest()
    finally:
        await gateway.close()
        await queue.queue.shutdown()
        await mtproto.stop()


async def test_several_matches_offer_buttons_and_cancel_sends_nothing(make_desk):
    desk = await make_desk()
    with_services(desk)
    async with desk.db.unit_of_work() as session:
        for name, text in (("Доставка Москва", "Курьер по Москве — 300 ₽."),
                           ("Доставка регионы", "СДЭК по России — от 450 ₽."), ("Оплата", "Картой или СБП.")):
            await quick_replies.save_reply(session, desk.tenant_id, name=name, text=text)
    customer = desk.customer()
    received = await desk.customer_writes(customer, "Как доставляете?")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)

    await desk.write(desk.manager, "/q доставка", thread_id=topic.thread_id)
    [choice] = bot_posts(desk, topic.thread_id, "qr:p:")
    assert "1. Доставка Москва" in choice["text"] and "2. Доставка регионы" in choice["text"]
    assert "Оплата" not in choice["text"] and len(buttons(choice)) == 2
    await desk.press(desk.manager, choice["message_id"], buttons(choice)[1])
    [preview] = bot_posts(desk, topic.thread_id, "qr:s:")
    assert "СДЭК по России" in preview["text"] and preview["reply_to_message_id"] == choice["message_id"]
    cancel = next(d for d in buttons(preview) if d.startswith("qr:c:"))
    await desk.press(desk.manager, preview["message_id"], cancel)
    assert desk.customer_chat(customer) == []
    # Send after Cancel is refused: nothing leaves.
    await desk.press(desk.manager, preview["message_id"], next(d for d in buttons(preview) if d.startswith("qr:s:")))
    assert desk.customer_chat(customer) == []

    await desk.write(desk.manager, "/q самовывоз", thread_id=topic.thread_id)
    assert any("Ни один быстрый ответ не подходит к «самовывоз»" in (m.get("text") or "")
               for m in desk.thread(topic.thread_id))


async def _private_answers(desk, user: dict) -> list[str]:
    return [m.get("text") or "" for m in desk.sb.chat(user["id"])["messages"] if m["by_bot"]]


async def test_save_in_private_chat_stores_an_item_and_refuses_what_channels_would_not_take(make_desk):
    desk = await make_desk()
    with_services(desk)
    owner = desk.owner

    # A photo with the caption /save: stored with its name and tags, in the media store, by the bot's file id.
    await desk.sb.user_sends(owner["id"], owner["id"], photo=PHOTO, caption="/save Витрина магазина #фасад")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        [item] = (await session.execute(select(MediaItem))).scalars().all()
    assert (item.title, item.kind.value, item.tags) == ("Витрина магазина", "photo", ["фасад"])
    assert item.telegram_file_id and item.size == len(PHOTO)
    assert await store_of(desk).read(item.storage_key) == PHOTO
    assert "Витрина магазина" in (await _private_answers(desk, owner))[-1]

    # /save in reply to a document sent before.
    sent = await desk.sb.user_sends(owner["id"], owner["id"], document=("price.pdf", b"%PDF-1.4\n% price\n"))
    await desk.sb.user_sends(owner["id"], owner["id"], "/save Прайс PDF", reply_to_message_id=sent["message_id"])
    await desk.settle()

    # Over the 20 MB a bot may download: refused before any download, pointing to the Mini App.
    big = b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024)
    await desk.sb.user_sends(owner["id"], owner["id"], document=("catalog.pdf", big), caption="/save Каталог")
    await desk.settle()
    assert "боты скачивают из Telegram файлы до 20 МБ" in (await _private_answers(desk, owner))[-1]

    # An executable is no document VK accepts.
    await desk.sb.user_sends(owner["id"], owner["id"], document=("setup.exe", b"MZ\x90\x00" + b"\x00" * 64),
                             caption="/save Установщик")
    await desk.settle()
    assert "ВКонтакте не принимает документы exe" in (await _private_answers(desk, owner))[-1]

    # A manager's role does not manage the library.
    await desk.sb.user_sends(desk.manager["id"], desk.manager["id"], photo=PHOTO, caption="/save Моё фото")
    await desk.settle()
    assert "Сохранять файлы могут только" in (await _private_answers(desk, desk.manager))[-1]

    async with desk.db.unit_of_work() as session:
        titles = (await session.execute(select(MediaItem.title).order_by(MediaItem.id))).scalars().all()
        assert titles == ["Витрина магазина", "Прайс PDF"]
        assert (await session.execute(select(func.count()).select_from(MediaItem))).scalar_one() == 2


@pytest.mark.parametrize(("data", "name", "mime", "kind", "reason"), [
    (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "a.webp", "image/webp", None, "photo_format"),
    (synth.png(9000, 2000, 1), "wide.png", "image/png", None, "photo_sides"),
    (synth.png(2100, 100, 2), "strip.png", "image/png", None, "photo_ratio"),
    (b"ID3\x03\x00" + b"\x00" * 64, "song.mp3", "audio/mpeg", None, "audio_format"),
    (b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 64, "clip.mov", "video/quicktime", None, "video_format"),
    (b"not a voice", "v.ogg", "audio/ogg", "voice", "voice_format"),
    (b"x" * (50 * 1024 * 1024 + 1), "huge.pdf", "application/pdf", None, "too_big"),
])
def test_what_channels_would_not_take_is_refused_with_its_reason(data, name, mime, kind, reason):
    with pytest.raises(media_library.MediaError) as refused:
        media_library.check_file(data, mime=mime, file_name=name, kind=kind)
    assert refused.value.reason == reason
    assert "media.error." in refused.value.code and refused.value.text("en") != str(refused.value)


def test_what_every_channel_takes_is_accepted():
    assert media_library.check_file(PHOTO, mime="image/png", file_name="a.png").kind.value == "photo"
    assert media_library.check_file(synth.ogg_opus(2, 1), mime="audio/ogg", file_name="v.ogg").kind.value == "voice"
    assert media_library.check_file(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64, mime="video/mp4",
                                    file_name="c.mp4").kind.value == "video"
    document = media_library.check_file(b"PK\x03\x04zip", mime="application/zip", file_name="a.zip")
    assert (document.kind.value, document.mime) == ("document", "application/zip")
