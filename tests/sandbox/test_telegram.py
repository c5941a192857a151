"""The Telegram Bot API stand-in driven by the real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberOwner,
    ForumTopic,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MenuButtonWebApp,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
    WebAppInfo,
)
from aiohttp import web

from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from sandbox.telegram.markup import ParseError, parse
from tests.waiting import wait_for

RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@dataclass
class World:
    sb: TelegramSandbox
    bot: Bot
    base: str


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sb = TelegramSandbox()
    runner, base = await serve(sb.app)
    bot = Bot(sb.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    yield World(sb, bot, base)
    await bot.session.close()
    await runner.cleanup()


async def _bad(call, description: str, error: type[Exception] = TelegramBadRequest) -> None:
    with pytest.raises(error) as info:
        await call
    assert info.value.message == description  # type: ignore[attr-defined]


async def test_get_me_unknown_method_and_token(world: World) -> None:
    me = await world.bot.get_me()
    assert (me.id, me.is_bot, me.can_read_all_group_messages) == (world.sb.bot_user_id, True, False)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{world.base}/bot{world.sb.bot_token}/fooBar") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        # GET with a query string and a JSON body work too; method names are case-insensitive.
        async with http.get(f"{world.base}/bot{world.sb.bot_token}/GETME") as response:
            assert (await response.json())["result"]["id"] == world.sb.bot_user_id
    stranger = Bot("42:nope", session=AiohttpSession(api=TelegramAPIServer.from_base(world.base)))
    await _bad(stranger.get_me(), "Unauthorized", TelegramUnauthorizedError)
    await stranger.session.close()


async def test_forum_topics(world: World) -> None:
    sb, bot = world.sb, world.bot
    group = sb.create_forum_group("Managers", bot_rights=RIGHTS)["id"]
    topic = await bot.create_forum_topic(group, "Иван · Telegram", icon_color=16766590)
    assert isinstance(topic, ForumTopic) and topic.icon_color == 16766590
    thread = topic.message_thread_id
    await _bad(bot.create_forum_topic(group, "x", icon_color=123), "Bad Request: invalid icon color specified")
    long_name = await bot.create_forum_topic(group, "n" * 200)
    assert len(long_name.name) == 128  # Telegram cuts names to 128 characters

    sent = await bot.send_message(group, "card", message_thread_id=thread)
    assert sent.message_thread_id == thread and sent.is_topic_message
    assert sent.reply_to_message is not None and sent.reply_to_message.forum_topic_created is not None

    icons = await bot.get_forum_topic_icon_stickers()
    assert icons and all(sticker.custom_emoji_id for sticker in icons)
    emoji = icons[0].custom_emoji_id
    assert await bot.edit_forum_topic(group, thread, name="Иван · ждёт ответа", icon_custom_emoji_id=emoji)
    await _bad(bot.edit_forum_topic(group, thread, name="Иван · ждёт ответа"), "Bad Request: TOPIC_NOT_MODIFIED")
    topics = {t["id"]: t for t in sb.chat(group)["topics"]}
    assert topics[thread]["name"] == "Иван · ждёт ответа" and topics[thread]["icon_custom_emoji_id"] == emoji

    assert await bot.close_forum_topic(group, thread)
    await _bad(bot.send_message(group, "late", message_thread_id=thread), "Bad Request: TOPIC_CLOSED")
    await _bad(bot.close_forum_topic(group, thread), "Bad Request: TOPIC_NOT_MODIFIED")
    assert await bot.reopen_forum_topic(group, thread)
    assert (await bot.send_message(group, "again", message_thread_id=thread)).message_thread_id == thread

    # General: omit message_thread_id; message_thread_id=1 is refused like the real Bot API does.
    general = await bot.send_message(group, "to General")
    assert general.message_thread_id is None
    await _bad(bot.send_message(group, "x", message_thread_id=1), "Bad Request: message thread not found")

    assert await bot.delete_forum_topic(group, thread)
    await _bad(bot.send_message(group, "gone", message_thread_id=thread), "Bad Request: message thread not found")
    await _bad(bot.edit_forum_topic(group, thread, name="x"), "Bad Request: TOPIC_DELETED")
    await _bad(bot.edit_forum_topic(group, 999_999, name="x"), "Bad Request: TOPIC_ID_INVALID")
    assert all(m["deleted"] for m in sb.chat(group)["topics"][1]["messages"])

    no_rights = sb.create_forum_group("No rights")["id"]
    await _bad(bot.create_forum_topic(no_rights, "x"), "Bad Request: not enough rights to create a topic")
    plain = sb.create_forum_group("Plain", bot_rights=RIGHTS, is_forum=False)["id"]
    await _bad(bot.create_forum_topic(plain, "x"), "Bad Request: the chat is not a forum")
    # A topic a person deleted behaves the same for the bot.
    other = await bot.create_forum_topic(group, "Мария")
    sb.delete_topic(group, other.message_thread_id)
    await _bad(bot.send_message(group, "x", message_thread_id=other.message_thread_id), "Bad Request: message thread not found")


async def test_send_edit_delete_copy(world: World) -> None:
    sb, bot = world.sb, world.bot
    user = sb.create_user("Анна", username="anna")["id"]
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Ок", callback_data="ok")]])
    sent = await bot.send_message(user, "<b>Черновик</b> ответа", parse_mode="HTML", reply_markup=keyboard)
    assert sent.text == "Черновик ответа" and sent.entities[0].type == "bold" and sent.entities[0].length == 8

    edited = await bot.edit_message_text("Финал", chat_id=user, message_id=sent.message_id, reply_markup=keyboard)
    assert isinstance(edited, Message) and edited.text == "Финал" and edited.edit_date
    await _bad(
        bot.edit_message_text("Финал", chat_id=user, message_id=sent.message_id, reply_markup=keyboard),
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
        "as a current content and reply markup of the message",
    )
    await bot.edit_message_reply_markup(chat_id=user, message_id=sent.message_id, reply_markup=None)
    view = sb.chat(user)["messages"][-1]
    assert view["reply_markup"] is None and [e["text"] for e in view["edits"]] == ["Черновик ответа", "Финал"]

    copied = await bot.copy_message(user, user, sent.message_id)
    ids = await bot.copy_messages(user, user, [sent.message_id, copied.message_id])
    assert len(ids) == 2
    await _bad(bot.copy_messages(user, user, [copied.message_id, sent.message_id]),
               "Bad Request: message identifiers must be in a strictly increasing order")  # fmt: skip
    forwarded = await bot.forward_message(user, user, sent.message_id)
    assert forwarded.forward_origin is not None and forwarded.text == "Финал"

    assert await bot.delete_message(user, sent.message_id)
    await _bad(bot.delete_message(user, sent.message_id), "Bad Request: message to delete not found")
    await _bad(bot.edit_message_text("x", chat_id=user, message_id=sent.message_id), "Bad Request: message to edit not found")
    await _bad(bot.copy_message(user, user, sent.message_id), "Bad Request: message to copy not found")

    reply = await bot.send_message(user, "re", reply_parameters=ReplyParameters(message_id=copied.message_id))
    assert reply.reply_to_message.message_id == copied.message_id
    await _bad(bot.send_message(user, "re", reply_parameters=ReplyParameters(message_id=10**6)),
               "Bad Request: message to be replied not found")  # fmt: skip
    await _bad(bot.send_message(user, " \n "), "Bad Request: message text is empty")
    await _bad(bot.send_message(user, "я" * 4097), "Bad Request: message is too long")
    assert (await bot.send_message(user, "я" * 4096)).text == "я" * 4096
    await _bad(bot.send_message(-100123, "x"), "Bad Request: chat not found")
    big_data = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
    await _bad(bot.send_message(user, "x", reply_markup=big_data), "Bad Request: BUTTON_DATA_INVALID")
    assert [m["text"] for m in sb.sent_messages(user)][0] == "Финал"
    assert sb.stats["messages_per_chat"][user] == len(sb.sent_messages(user))


async def test_markup_errors_and_escaping(world: World) -> None:
    sb, bot = world.sb, world.bot
    user = sb.create_user("Олег")["id"]
    await _bad(bot.send_message(user, "<b>bold", parse_mode="HTML"),
               "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"")  # fmt: skip
    await _bad(bot.send_message(user, "1 <x> 2", parse_mode="HTML"),
               "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 2")  # fmt: skip
    await _bad(bot.send_message(user, "<b>a</i>", parse_mode="HTML"),
               "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"")  # fmt: skip
    await _bad(bot.send_message(user, "Цена 1.5", parse_mode="MarkdownV2"),
               "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'")  # fmt: skip
    await _bad(bot.send_message(user, "x", parse_mode="bbcode"), "Bad Request: unsupported parse_mode")
    # Untrusted customer text escaped for HTML arrives verbatim; offsets are UTF-16 units.
    customer = "<script>alert(1)</script> & 🙂 <b>"
    sent = await bot.send_message(user, f"🙂 <b>Клиент:</b> {html.escape(customer)}", parse_mode="HTML")
    assert sent.text == f"🙂 Клиент: {customer}"
    assert (sent.entities[0].offset, sent.entities[0].length) == (3, 7)
    md = await bot.send_message(user, "*жирный* и \\.", parse_mode="MarkdownV2")
    assert md.text == "жирный и ." and md.entities[0].type == "bold"


async def test_media_upload_and_download(world: World) -> None:
    sb, bot = world.sb, world.bot
    user = sb.create_user("Фото")["id"]
    image = _png(3, 2)
    photo = await bot.send_photo(user, BufferedInputFile(image, "p.png"), caption="<i>чек</i>", parse_mode="HTML")
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 2) and photo.caption == "чек"
    file = await bot.get_file(photo.photo[-1].file_id)
    assert file.file_path and file.file_size == len(image)
    assert (await bot.download(file)).read() == image  # type: ignore[union-attr]

    again = await bot.send_photo(user, photo.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    doc = await bot.send_document(user, BufferedInputFile(b"%PDF-1.4 price", "price.pdf"))
    assert doc.document.file_name == "price.pdf" and doc.document.mime_type == "application/pdf"
    voice = await bot.send_voice(user, BufferedInputFile(b"OggS....", "v.ogg"), duration=3)
    assert voice.voice.duration == 3
    await _bad(bot.send_document(user, photo.photo[-1].file_id), "Bad Request: can't use file of type Photo as Document")
    await _bad(bot.send_document(user, "nope"), "Bad Request: wrong file identifier/HTTP URL specified")
    await _bad(bot.send_photo(user, photo.photo[-1].file_id, caption="c" * 1025), "Bad Request: message caption is too long")

    album = await bot.send_media_group(user, [
        InputMediaPhoto(media=BufferedInputFile(_png(1, 1), "a.png"), caption="first"),
        InputMediaPhoto(media=photo.photo[-1].file_id),
    ])  # fmt: skip
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id and album[0].caption == "first"
    await _bad(bot.send_media_group(user, [InputMediaPhoto(media=photo.photo[-1].file_id)]),
               "Bad Request: wrong number of media in the album: must include 2-10 items")  # fmt: skip
    # A person's photo reaches the bot as an update and can be downloaded the same way.
    await sb.user_sends(user, user, photo=image, caption="мой чек")
    update = (await bot.get_updates(timeout=0))[-1]
    assert update.message.caption == "мой чек"
    assert (await bot.download(update.message.photo[-1].file_id)).read() == image  # type: ignore[union-attr]


async def test_callback_round_trip(world: World) -> None:
    sb, bot = world.sb, world.bot
    manager = sb.create_user("Менеджер")["id"]
    group = sb.create_forum_group("Team", bot_rights=RIGHTS, members=[manager])["id"]
    thread = (await bot.create_forum_topic(group, "Dialog")).message_thread_id
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="✅ Отправить", callback_data="approve:17"),
        InlineKeyboardButton(text="✏️", switch_inline_query_current_chat="draft 17"),
    ]])  # fmt: skip
    card = await bot.send_message(group, "Черновик", message_thread_id=thread, reply_markup=keyboard)
    with pytest.raises(ValueError):
        await sb.press_button(manager, group, card.message_id, "missing")
    await sb.press_button(manager, group, card.message_id, "approve:17")
    updates = await bot.get_updates(timeout=1)
    query = updates[-1].callback_query
    assert query is not None and query.data == "approve:17" and query.from_user.id == manager
    assert query.message.message_id == card.message_id and query.message.message_thread_id == thread
    assert await bot.answer_callback_query(query.id, text="Отправлено")
    await _bad(bot.answer_callback_query(query.id),
               "Bad Request: query is too old and response timeout expired or query ID is invalid")  # fmt: skip
    assert sb.callback_answers[-1]["text"] == "Отправлено"
    # The offset confirms updates: they are not returned again.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []


async def test_long_polling_with_dispatcher(world: World) -> None:
    sb, bot = world.sb, world.bot
    customer = sb.create_user("Клиент")["id"]
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"Вы написали: {message.text}")

    polling = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False))
    try:
        await wait_for(lambda: sb.stats["requests"].get("getUpdates"), "the first getUpdates, now waiting")
        await sb.user_sends(customer, customer, "Сколько стоит?")
        await wait_for(lambda: sb.sent_messages(customer), "the echo")
        assert [m["text"] for m in sb.sent_messages(customer)] == ["Вы написали: Сколько стоит?"]
    finally:
        await dp.stop_polling()
        await polling


async def test_webhook_delivery(world: World) -> None:
    sb, bot = world.sb, world.bot
    customer = sb.create_user("Вебхук")["id"]
    received: list[tuple[dict, str | None]] = []
    failures = [1]

    async def receive(request: web.Request) -> web.Response:
        if failures:  # the first delivery fails; Telegram retries it
            failures.pop()
            return web.Response(status=500)
        update = await request.json()
        received.append((update, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        # Answering with a method call makes Telegram execute it ("reply in webhook response").
        return web.json_response({"method": "sendMessage", "chat_id": update["message"]["chat"]["id"], "text": "ack"})

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner, base = await serve(receiver)
    try:
        assert await bot.set_webhook(f"{base}/hook", secret_token="s3cret-token")
        await _bad(bot.get_updates(),
                   "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                   TelegramConflictError)  # fmt: skip
        await sb.user_sends(customer, customer, "привет")
        await wait_for(lambda: received and sb.sent_messages(customer), "the webhook's answer executed")
        assert [m["text"] for m in sb.sent_messages(customer)] == ["ack"]
        update, secret = received[0]
        assert secret == "s3cret-token" and update["message"]["text"] == "привет"
        info = await bot.get_webhook_info()
        assert info.url == f"{base}/hook" and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == []
    finally:
        await runner.cleanup()


async def test_rate_limits(world: World) -> None:
    sb, bot = world.sb, world.bot
    customer, other = sb.create_user("A")["id"], sb.create_user("B")["id"]
    group = sb.create_forum_group("Busy", bot_rights=RIGHTS)["id"]
    sb.set_limits("strict")
    await bot.send_message(customer, "1")
    with pytest.raises(TelegramRetryAfter) as info:  # ~1 message per second per private chat
        await bot.send_message(customer, "2")
    assert info.value.retry_after == 1 and "Original description: Too Many Requests: retry after 1" in info.value.message
    await bot.send_message(other, "another chat has its own budget")
    for i in range(20):  # 20 messages per minute into a group
        await bot.send_message(group, f"g{i}")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(group, "21st")
    assert info.value.retry_after == 3  # one message every 3 s refills the group bucket
    assert sb.stats["too_many_requests"] == 2

    fast = TelegramSandbox(limits="strict", time_scale=20)  # retry_after is in emulated seconds
    runner, base = await serve(fast.app)
    fast_bot = Bot(fast.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    try:
        user = fast.create_user("C")["id"]
        await fast_bot.send_message(user, "1")
        with pytest.raises(TelegramRetryAfter) as info:
            await fast_bot.send_message(user, "2")
        await asyncio.sleep(info.value.retry_after / fast.time_scale)
        await fast_bot.send_message(user, "2")
    finally:
        await fast_bot.session.close()
        await runner.cleanup()
    sb.set_limits("off")
    await bot.send_message(group, "limits off")


async def test_blocked_user_and_membership_updates(world: World) -> None:
    sb, bot = world.sb, world.bot
    customer = sb.create_user("Blocker")["id"]
    await bot.send_message(customer, "hi")
    sb.block_bot(customer)
    await _bad(bot.send_message(customer, "are you there?"), "Forbidden: bot was blocked by the user", TelegramForbiddenError)
    group = sb.create_forum_group("Later")["id"]
    await sb.add_bot_to_group(group, rights=RIGHTS)
    await sb.remove_bot_from_group(group)
    await _bad(bot.send_message(group, "x"), "Forbidden: bot was kicked from the supergroup chat", TelegramForbiddenError)
    await sb.user_sends(customer, customer, "/start")  # writing again unblocks the bot
    updates = await bot.get_updates(timeout=0)
    kinds = [u.event_type for u in updates]
    assert kinds == ["my_chat_member", "my_chat_member", "my_chat_member", "my_chat_member", "message"]
    assert updates[0].my_chat_member.new_chat_member.status == "kicked"
    assert isinstance(updates[1].my_chat_member.new_chat_member, ChatMemberAdministrator)
    assert updates[-1].message.entities[0].type == "bot_command"
    assert (await bot.send_message(customer, "welcome back")).text == "welcome back"


async def test_init_data_is_signed(world: World) -> None:
    sb = world.sb
    user = sb.create_user("Owner", "Иванов", username="owner")["id"]
    fields = dict(parse_qsl(sb.init_data(user, auth_date=1_700_000_000), strict_parsing=True))
    received_hash = fields.pop("hash")
    check_string = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", sb.bot_token.encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest(), received_hash)
    assert json.loads(fields["user"])["id"] == user and fields["auth_date"] == "1700000000"
    assert set(fields) == {"query_id", "user", "auth_date"}


async def test_chat_admin_methods(world: World) -> None:
    sb, bot = world.sb, world.bot
    owner, manager = sb.create_user("Owner")["id"], sb.create_user("Manager")["id"]
    group = sb.create_forum_group("Shard 1", bot_rights={**RIGHTS, "can_invite_users": True, "can_restrict_members": True},
                                  members=[manager], owner_id=owner)["id"]  # fmt: skip
    me = await bot.get_chat_member(group, sb.bot_user_id)
    assert isinstance(me, ChatMemberAdministrator) and me.can_manage_topics and not me.can_promote_members
    admins = await bot.get_chat_administrators(group)
    assert {type(a) for a in admins} == {ChatMemberOwner, ChatMemberAdministrator}
    assert (await bot.get_chat_member(group, manager)).status == "member"
    full = await bot.get_chat(group)
    assert full.is_forum and full.title == "Shard 1"
    link = await bot.create_chat_invite_link(group, name="managers")
    assert link.invite_link.startswith("https://t.me/+") and link.name == "managers"
    assert await bot.ban_chat_member(group, manager)
    assert (await bot.get_chat_member(group, manager)).status == "kicked"
    assert await bot.unban_chat_member(group, manager, only_if_banned=True)
    assert (await bot.get_chat_member(group, manager)).status == "left"

    msg = await bot.send_message(group, "pin me")
    assert await bot.pin_chat_message(group, msg.message_id, disable_notification=True)
    assert await bot.set_message_reaction(group, msg.message_id, [ReactionTypeEmoji(emoji="👍")])
    await _bad(bot.set_message_reaction(group, msg.message_id, [ReactionTypeEmoji(emoji="🦖")]), "Bad Request: REACTION_INVALID")
    assert await bot.send_chat_action(group, "typing")
    view = next(m for m in sb.chat(group)["messages"] if m["message_id"] == msg.message_id)
    assert view["pinned"] and view["reactions"] == [{"type": "emoji", "emoji": "👍"}]
    assert (await bot.get_chat(group)).pinned_message.message_id == msg.message_id
    assert await bot.unpin_chat_message(group)

    assert await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.delete_my_commands() and await bot.get_my_commands() == []
    await _bad(bot.set_my_commands([BotCommand(command="Bad-Cmd", description="x")]), "Bad Request: BOT_COMMAND_INVALID")
    button = MenuButtonWebApp(text="Панель", web_app=WebAppInfo(url="https://example.com/app"))
    assert await bot.set_chat_menu_button(menu_button=button)
    assert (await bot.get_chat_menu_button()).text == "Панель"
    web_app = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="app", web_app=WebAppInfo(url="https://e.com"))]])
    await _bad(bot.send_message(group, "x", reply_markup=web_app), "Bad Request: BUTTON_TYPE_INVALID")
    assert (await bot.send_message(owner, "x", reply_markup=web_app)).reply_markup is not None


async def test_control_api_and_viewer(world: World) -> None:
    sb, base = world.sb, world.base
    async with aiohttp.ClientSession() as http:

        async def post(path: str, **body: object) -> dict:
            async with http.post(f"{base}/_sandbox{path}", json=body) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        user = await post("/users", first_name="<img src=x onerror=alert(1)>", username="xss")
        manager = await post("/users", first_name="Manager")
        chat = await post("/chats", title="Team <b>", bot_rights=RIGHTS, members=[manager["id"]])
        topic = await post(f"/chats/{chat['id']}/topics", name="Topic & co", by_user_id=manager["id"])
        form = aiohttp.FormData()
        form.add_field("user_id", str(user["id"]))
        form.add_field("caption", "скрин")
        form.add_field("photo", _png(2, 2), filename="s.png", content_type="image/png")
        async with http.post(f"{base}/_sandbox/chats/{user['id']}/messages", data=form) as response:
            photo_message = await response.json()
        assert photo_message["caption"] == "скрин" and photo_message["photo"][0]["width"] == 2
        sent = await post(f"/chats/{chat['id']}/messages", user_id=manager["id"], text="в топик", thread_id=topic["message_thread_id"])
        assert sent["message_thread_id"] == topic["message_thread_id"]
        async with http.post(f"{base}/_sandbox/chats/{chat['id']}/messages", json={"user_id": user["id"]}) as response:
            assert response.status == 400 and "not a member" in (await response.json())["error"]
        assert (await post("/limits", limits="realistic"))["limits"] == "realistic"
        async with http.get(f"{base}/_sandbox/users/{user['id']}/init_data") as response:
            assert "hash=" in (await response.json())["init_data"]
        async with http.get(f"{base}/_sandbox/chats/{chat['id']}") as response:
            read_back = await response.json()
        assert [t["name"] for t in read_back["topics"]] == ["General", "Topic & co"]

        bot_message = await world.bot.send_message(
            chat["id"], "<b>card</b>", parse_mode="HTML", message_thread_id=topic["message_thread_id"],
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Go <now>", callback_data="go")]]),
        )  # fmt: skip
        async with http.get(f"{base}/_viewer/") as response:
            page = await response.text()
        assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
        assert "Team &lt;b&gt;" in page
        async with http.get(f"{base}/_viewer/chat/{chat['id']}?thread={topic['message_thread_id']}") as response:
            page = await response.text()
        assert "Go &lt;now&gt;" in page and "<b>card</b>" in page and "Topic &amp; co" in page
        press = {"user_id": str(manager["id"]), "message_id": str(bot_message.message_id), "data": "go", "thread_id": ""}
        async with http.post(f"{base}/_viewer/chat/{chat['id']}/press", data=press, allow_redirects=False) as response:
            assert response.status == 302
        compose = {"user_id": str(manager["id"]), "text": "<i>from browser</i>", "thread_id": str(topic["message_thread_id"])}
        async with http.post(f"{base}/_viewer/chat/{chat['id']}/send", data=compose) as response:
            assert response.status == 200 and "&lt;i&gt;from browser&lt;/i&gt;" in await response.text()
    updates = await world.bot.get_updates(timeout=0)
    assert updates[-2].callback_query.data == "go" and updates[-1].message.text == "<i>from browser</i>"
    await _bad(world.bot.get_file("nope"), "Bad Request: invalid file id")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/file/bot{sb.bot_token}/documents/none") as response:
            assert response.status == 404 and (await response.json())["description"] == "Not Found"


@pytest.mark.parametrize(
    ("mode", "text", "error"),
    [  # vectors from TDLib's test/message_entities.cpp, which the Bot API server runs
        ("HTML", "🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("HTML", "🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ("HTML", "🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        ("HTML", "<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("MarkdownV2", "🏟 🏟_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
        ("MarkdownV2", "🏟 🏟```a ", "Can't find end of PreCode entity at byte offset 9"),
        ("MarkdownV2", "[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16"),
        ("MarkdownV2", ">asd\n>q||e||w__\n||asdad", "Can't find end of Underline entity at byte offset 13"),
        ("Markdown", "a *b", "Can't find end of the entity starting at byte offset 2"),
    ],
)
def test_markup_errors_match_tdlib(mode: str, text: str, error: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text, mode)
    assert str(info.value) == error


def test_markup_entities_match_tdlib() -> None:
    text, entities = parse("🏟 🏟&lt;<pre><code class=\"language-fift\">🏟 🏟&lt;</></>", "HTML")
    assert (text, entities) == ("🏟 🏟<🏟 🏟<", [{"type": "pre", "offset": 6, "length": 6, "language": "fift"}])
    text, entities = parse(">asd\n>q||e||w||\nasdad", "MarkdownV2")
    assert text == "asd\nqew\nasdad"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [("expandable_blockquote", 0, 8), ("spoiler", 5, 1)]
    text, entities = parse("[telegram\\.org](https://telegram.dog?)", "MarkdownV2")
    assert entities == [{"type": "text_link", "offset": 0, "length": 12, "url": "https://telegram.dog/?"}]
