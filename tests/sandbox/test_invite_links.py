"""Invite links and join requests of the Telegram stand-in, driven by the real aiogram Bot over HTTP: links made,
edited and revoked with the Bot API's own errors, people joining through the control API, chat_member updates that
carry the link (whole for its creator), join requests approved and declined."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox

from .test_telegram import World, _bad

ADMIN = {"can_invite_users": True, "can_post_messages": True}
ALLOWED = ["message", "chat_member", "chat_join_request", "my_chat_member"]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sb = TelegramSandbox()
    runner, base = await serve(sb.app)
    bot = Bot(sb.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    yield World(sb, bot, base)
    await bot.session.close()
    await runner.cleanup()


async def _join(world: World, user_id: int, link: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{world.base}/_sandbox/users/{user_id}/join", json={"invite_link": link}) as response:
            return response.status, await response.json()


async def _updates(bot: Bot, offset: int = 0) -> list:
    return await bot.get_updates(offset=offset, timeout=0, allowed_updates=ALLOWED)


async def test_links_need_the_right_and_keep_the_api_limits(world: World) -> None:
    sb, bot = world.sb, world.bot
    owner = sb.create_user("Owner")["id"]
    channel = sb.create_channel("Новости магазина", bot_rights=ADMIN, owner_id=owner)["id"]
    no_rights = sb.create_channel("Чужой", bot_rights={"can_post_messages": True})["id"]
    outside = sb.create_channel("Без бота")["id"]
    group = sb.create_forum_group("Клуб", bot_rights={"can_invite_users": True}, is_forum=False)["id"]

    await _bad(bot.create_chat_invite_link(no_rights, name="x"), "Bad Request: not enough rights to manage chat invite link")
    await _bad(bot.create_chat_invite_link(outside), "Forbidden: bot is not a member of the channel chat",
               TelegramForbiddenError)
    await _bad(bot.create_chat_invite_link(owner), "Bad Request: can't invite members to a private chat")
    await _bad(bot.create_chat_invite_link(channel, member_limit=5, creates_join_request=True),
               "Bad Request: member limit can't be specified for links requiring administrator approval")
    await _bad(bot.create_chat_invite_link(channel, expire_date=int(time.time()) - 10), "Bad Request: EXPIRE_DATE_INVALID")
    await _bad(bot.create_chat_invite_link(channel, member_limit=100000), "Bad Request: USAGE_LIMIT_INVALID")

    link = await bot.create_chat_invite_link(channel, name="Весенняя распродажа в канале магазина", member_limit=2)
    assert link.invite_link.startswith("https://t.me/+") and len(link.invite_link) == len("https://t.me/+") + 16
    assert link.name == "Весенняя распродажа в канале мага"[:32] and len(link.name) == 32
    assert (link.member_limit, link.creates_join_request, link.is_primary, link.is_revoked) == (2, False, False, False)
    assert link.creator.id == sb.bot_user_id
    assert (await bot.create_chat_invite_link(group, name="клуб")).name == "клуб"

    # An edit sets every field: what it leaves out goes back to its default.
    edited = await bot.edit_chat_invite_link(channel, link.invite_link, name="Весна", creates_join_request=True)
    assert (edited.name, edited.member_limit, edited.creates_join_request) == ("Весна", None, True)
    await _bad(bot.edit_chat_invite_link(channel, "https://t.me/+nope"), "Bad Request: INVITE_HASH_EXPIRED")
    revoked = await bot.revoke_chat_invite_link(channel, link.invite_link)
    assert revoked.is_revoked and revoked.invite_link == link.invite_link
    await _bad(bot.edit_chat_invite_link(channel, link.invite_link, name="снова"), "Bad Request: INVITE_REVOKED_MISSING")
    reader = sb.create_user("Читатель")["id"]
    assert await _join(world, reader, link.invite_link) == (410, {"ok": False, "error": "INVITE_HASH_EXPIRED"})


async def test_joining_through_a_link_reaches_the_bot_with_the_link(world: World) -> None:
    sb, bot = world.sb, world.bot
    channel = sb.create_channel("Новости", bot_rights=ADMIN)["id"]
    group = sb.create_forum_group("Клуб", bot_rights={"can_invite_users": True}, is_forum=False)["id"]
    assert await _updates(bot) == []  # allowed_updates set: chat_member is not sent by default
    link = (await bot.create_chat_invite_link(channel, name="Весна", member_limit=1)).invite_link
    club = (await bot.create_chat_invite_link(group, name="клуб")).invite_link
    anna, boris = sb.create_user("Анна")["id"], sb.create_user("Борис")["id"]

    assert await _join(world, anna, link) == (200, {"chat_id": channel, "outcome": "joined"})
    assert await _join(world, anna, link) == (409, {"ok": False, "error": "USER_ALREADY_PARTICIPANT"})
    assert await _join(world, boris, link) == (410, {"ok": False, "error": "USERS_TOO_MUCH"})  # member_limit 1
    assert (await _join(world, boris, "https://t.me/+unknown"))[0] == 404
    [update] = await _updates(bot)
    member = update.chat_member
    assert (member.chat.id, member.chat.type, member.from_user.id) == (channel, "channel", anna)
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("left", "member")
    assert (member.invite_link.invite_link, member.invite_link.name) == (link, "Весна")
    assert (await bot.get_chat_member(channel, anna)).status == "member"

    # Leaving frees the place on the link.
    sb.set_member(channel, anna, "left")
    assert await _join(world, boris, link) == (200, {"chat_id": channel, "outcome": "joined"})

    # In a group the join is also a service message everyone sees.
    assert (await _join(world, anna, club))[1]["outcome"] == "joined"
    updates = await _updates(bot, update.update_id + 1)
    kinds = [u.event_type for u in updates]
    assert kinds.count("chat_member") == 3 and "message" in kinds
    joined = next(u.message for u in updates if u.message is not None)
    assert [u.id for u in joined.new_chat_members] == [anna]


async def test_a_link_made_by_someone_else_is_shown_cut(world: World) -> None:
    sb, bot = world.sb, world.bot
    owner = sb.create_user("Owner")["id"]
    channel = sb.create_channel("Новости", bot_rights=ADMIN, owner_id=owner)
    chat = sb.chats[channel["id"]]
    from sandbox.telegram.state import InviteLink

    theirs = InviteLink(url="https://t.me/+ABCDEFGHabcdefgh", creator_id=owner, name="их ссылка")
    chat.invite_links.append(theirs)
    await _updates(bot)
    reader = sb.create_user("Читатель")["id"]
    assert (await _join(world, reader, theirs.url))[0] == 200
    [update] = await _updates(bot)
    assert update.chat_member.invite_link.invite_link == "https://t.me/+ABCDEFGH..."
    await _bad(bot.revoke_chat_invite_link(channel["id"], theirs.url), "Bad Request: CHAT_ADMIN_REQUIRED")


async def test_join_requests_are_approved_or_declined(world: World) -> None:
    sb, bot = world.sb, world.bot
    channel = sb.create_channel("Закрытый клуб", bot_rights=ADMIN)["id"]
    link = (await bot.create_chat_invite_link(channel, name="Заявки", creates_join_request=True)).invite_link
    anna, boris = sb.create_user("Анна")["id"], sb.create_user("Борис")["id"]
    await _updates(bot)

    assert await _join(world, anna, link) == (200, {"chat_id": channel, "outcome": "join_request_sent"})
    assert await _join(world, anna, link) == (409, {"ok": False, "error": "INVITE_REQUEST_SENT"})
    assert (await bot.get_chat_member(channel, anna)).status == "left"
    [update] = await _updates(bot)
    request = update.chat_join_request
    assert (request.chat.id, request.from_user.id, request.user_chat_id) == (channel, anna, anna)
    assert request.invite_link.invite_link == link and request.invite_link.pending_join_request_count == 1
    assert sb.chat(channel)["join_requests"][0]["user_id"] == anna

    await _bad(bot.approve_chat_join_request(channel, boris), "Bad Request: HIDE_REQUESTER_MISSING")
    await _bad(bot.approve_chat_join_request(channel, 0), "Bad Request: invalid user_id specified")
    assert await bot.approve_chat_join_request(channel, anna)
    await _bad(bot.approve_chat_join_request(channel, anna), "Bad Request: USER_ALREADY_PARTICIPANT")
    [joined] = await _updates(bot, update.update_id + 1)
    member = joined.chat_member
    assert member.from_user.id == sb.bot_user_id and member.new_chat_member.user.id == anna
    assert member.invite_link.invite_link == link and member.via_join_request is None

    assert (await _join(world, boris, link))[1]["outcome"] == "join_request_sent"
    assert await bot.decline_chat_join_request(channel, boris)
    assert (await bot.get_chat_member(channel, boris)).status == "left"
    await _bad(bot.decline_chat_join_request(channel, boris), "Bad Request: HIDE_REQUESTER_MISSING")
    # A bot without can_invite_users neither gets requests nor decides them.
    sb.chats[channel].members[sb.bot_user_id].rights["can_invite_users"] = False
    await _bad(bot.approve_chat_join_request(channel, boris), "Bad Request: not enough rights to manage chat join requests")
    with pytest.raises(TelegramBadRequest):
        await bot.create_chat_invite_link(channel)


async def test_the_viewer_makes_channels_and_people_join_through_links(world: World) -> None:
    sb, bot = world.sb, world.bot
    owner = sb.create_user("Ольга", username="olga_v")["id"]
    reader = sb.create_user("Читатель")["id"]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{world.base}/_viewer/channels", data={"title": "Новости", "owner_id": str(owner),
                                                                      "bot_admin": "on"}) as response:
            assert response.status == 200  # redirected to the channel's page
        [channel] = [c for c in sb.chats.values() if c.type == "channel"]
        link = await bot.create_chat_invite_link(channel.id, name="Весна")
        await _updates(bot)
        join = {"user_id": str(reader), "invite_link": link.invite_link}
        async with http.post(f"{world.base}/_viewer/join", data=join) as response:
            assert response.status == 200
        async with http.post(f"{world.base}/_viewer/join", data=join) as response:
            assert response.status == 400 and "USER_ALREADY_PARTICIPANT" in await response.text()
        async with http.get(f"{world.base}/_viewer/") as response:
            page = await response.text()
        assert link.invite_link in page and "joined 1" in page
    [update] = await _updates(bot)
    assert update.chat_member.invite_link.name == "Весна" and update.chat_member.new_chat_member.user.id == reader
