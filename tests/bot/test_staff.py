"""Joining by invitation (/start <token>), /invite and /staff in the private chat, through real updates: the owner
claims a new business in their language, a manager joins through the owner's /invite link, a removed manager loses
access everywhere at once and is banned from the group."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core.models import CommandState, Dialog, Invitation, OutboxCommand, StaffMember
from core.services import staff
from core.services.workspace import base
from core.services.readiness import Platform
from core.services.tenants import create_tenant

from .desk import Desk
from .staffdesk import (
    LINK,
    bot_messages,
    buttons,
    events,
    invitation,
    last_alert,
    press,
    say,
    staff_member,
)


async def _new_tenant(desk: Desk, slug: str, name: str) -> int:
    async with desk.db.unit_of_work() as session:
        tenant = await create_tenant(session, slug=slug, name=name)
        await session.flush()
        return tenant.id


def _chat_menu(desk: Desk, user: dict) -> dict[str, str]:
    """The commands the bot set for this person's private chat: command → description."""
    listed = desk.sb.commands.get(json.dumps([{"type": "chat", "chat_id": user["id"]}, ""], sort_keys=True))
    return {c["command"]: c["description"] for c in listed or []}


def _with_mini_app(desk: Desk, url: str) -> None:
    """The bot as it runs when SALESOP_WEBAPP_URL is set (bot.commands.start_up fills the runtime's platform)."""
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake, platform=Platform(webapp_url=url))
    desk.dp = build_dispatcher(runtime)


async def _staff_count(desk: Desk) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(func.count(StaffMember.id)))).scalar_one()


async def test_the_owner_claims_a_new_business_in_their_language(desk: Desk):
    for slug, name, language, greeting, step in (
        ("flowers", "Цветы", "ru", "Добро пожаловать в Цветы! Ваша роль: Владелец.", "/connect flowers"),
        ("books", "Books", "en-GB", "Welcome to Books! Your role: Owner.", "/connect books"),
    ):
        tenant_id = await _new_tenant(desk, slug, name)
        token = await invitation(desk, tenant_id, "owner")
        assert LINK.fullmatch(staff.deep_link(desk.sb.bot_user["username"], token))
        assert len(token) <= 64
        person = desk.sb.create_user(f"Owner of {slug}", "Last", username=f"{slug}_owner", language_code=language)
        [answer] = await say(desk, person, f"/start {token}")
        assert greeting in answer["text"] and step in answer["text"]
        assert ("Управление темами" if language == "ru" else "Manage topics") in answer["text"]
        member = await staff_member(desk, tenant_id, person)
        assert (member.role.code, member.is_active, member.locale) == ("owner", True, language[:2])
        # Their own menu is there at once, in their language, before they type anything else.
        own = _chat_menu(desk, person)
        assert {"invite", "staff", "status", "settings", "connect_telegram"} <= set(own)
        assert own["help"] == ("ваши команды" if language == "ru" else "your commands")
        assert (member.name, member.username) == (f"Owner of {slug} Last", f"{slug}_owner")
        async with desk.db.unit_of_work() as session:
            stored = (await session.execute(select(Invitation).where(Invitation.tenant_id == tenant_id))).scalar_one()
        assert stored.used_by_id == member.id and stored.token_hash == staff.token_hash(token) != token
    joined = await events(desk, "staff_joined")
    assert [(e.payload["new_role"], e.payload["reactivated"]) for e in joined] == [("owner", False)] * 2


async def test_used_expired_and_unknown_links_are_answered_and_change_nothing(desk: Desk):
    token = await invitation(desk, desk.tenant_id, "manager")
    first = desk.sb.create_user("Пётр", language_code="ru")
    await say(desk, first, f"/start {token}")
    assert (await staff_member(desk, desk.tenant_id, first)).role.code == "manager"
    expired = await invitation(desk, desk.tenant_id, "manager", now=datetime.now(UTC) - timedelta(days=8))
    count = await _staff_count(desk)

    second = desk.sb.create_user("Second", language_code="en")
    for payload, answer in ((token, "has been used already"), (expired, "has expired"),
                            ("x" * 43, "is not valid"), ("A" * 64, "is not valid")):
        [reply] = await say(desk, second, f"/start {payload}")
        assert answer in reply["text"], reply["text"]
    [reply] = await say(desk, desk.sb.create_user("Третий", language_code="ru"), f"/start {expired}")
    assert "истёк" in reply["text"]

    assert await _staff_count(desk) == count and await staff_member(desk, desk.tenant_id, second) is None
    async with desk.db.unit_of_work() as session:
        used = {i.used_at is not None for i in (await session.execute(select(Invitation))).scalars()}
    assert used == {True, False}  # the expired one stays unused
    assert len(await events(desk, "staff_joined")) == 1

    # Someone who already works there keeps their role; the link stays for someone else.
    fresh = await invitation(desk, desk.tenant_id, "viewer")
    [reply] = await say(desk, desk.manager, f"/start {fresh}")
    assert "уже работаете в Магазин" in reply["text"]
    assert (await staff_member(desk, desk.tenant_id, desk.manager)).role.code == "manager"
    [reply] = await say(desk, second, f"/start {fresh}")
    assert "Your role: Viewer" in reply["text"]


async def test_the_owner_invites_a_manager_who_joins(desk: Desk):
    [choice] = await say(desk, desk.owner, "/invite")
    assert "Кого приглашаете в Магазин" in choice["text"]
    assert {"Владелец", "Администратор", "Менеджер", "Наблюдатель"} <= set(buttons(choice))
    made = await press(desk, desk.owner, choice, "Менеджер")
    bot_username, token = LINK.search(made["text"]).groups()
    assert bot_username == desk.sb.bot_user["username"] and len(token) <= 64
    assert "роль: Менеджер" in made["text"] and made.get("reply_markup") is None
    async with desk.db.unit_of_work() as session:
        owner_id = (await staff_member(desk, desk.tenant_id, desk.owner)).id
        stored = (await session.execute(select(Invitation))).scalar_one()
        assert stored.created_by_id == owner_id and stored.token_hash == staff.token_hash(token)
        assert stored.expires_at - datetime.now(UTC) > timedelta(days=6, hours=23)

    newcomer = desk.sb.create_user("Ivan", "Petrov", username="ivan_new", language_code="en")
    _with_mini_app(desk, "https://app.shop.example")
    assert _chat_menu(desk, newcomer) == {} and newcomer["id"] not in desk.sb.menu_buttons
    [welcome] = await say(desk, newcomer, f"/start {token}")
    assert "Welcome to Магазин! Your role: Manager." in welcome["text"]
    assert "managers' group" in welcome["text"]
    member = await staff_member(desk, desk.tenant_id, newcomer)
    assert (member.role.code, member.locale, member.is_active) == ("manager", "en", True)
    # The join set the newcomer's private chat: a manager's commands in English and the Mini App button.
    assert set(_chat_menu(desk, newcomer)) == {"start", "help", "language"}
    assert desk.sb.menu_buttons[newcomer["id"]] == {
        "type": "web_app", "text": "Dashboard", "web_app": {"url": "https://app.shop.example/"}}
    [invited] = await events(desk, "staff_invited")
    assert (invited.actor_staff_id, invited.payload["role"], invited.payload["via"]) == (owner_id, "manager", "bot")
    [joined] = await events(desk, "staff_joined")
    assert (joined.actor_staff_id, joined.payload["invited_by"]) == (member.id, owner_id)


async def test_someone_without_the_right_cannot_invite_or_manage_staff(desk: Desk):
    [reply] = await say(desk, desk.manager, "/invite")
    assert "только владелец и администраторы" in reply["text"] and not buttons(reply)
    [reply] = await say(desk, desk.viewer, "/staff")
    assert "только владелец и администраторы" in reply["text"] and not buttons(reply)
    [reply] = await say(desk, desk.outsider, "/invite")
    assert "не сотрудник ни одной компании" in reply["text"]
    assert await events(desk, "staff_invited") == []


async def test_the_owner_removes_a_manager_who_loses_access_at_once(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Привет")
    suggestion_id = await desk.suggest(received, "Здравствуйте!")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    await desk.press(desk.manager, topic.pinned_message_id, f"d:assign:{received.dialog_id}:")
    async with desk.db.unit_of_work() as session:
        manager = await staff_member(desk, desk.tenant_id, desk.manager)
        assert (await session.get(Dialog, received.dialog_id)).assignee_id == manager.id

    [listing] = await say(desk, desk.owner, "/staff")
    assert "Магазин: 3 сотрудника" in listing["text"] and "Иван @ivan_manager — Менеджер" in listing["text"]
    person = await press(desk, desk.owner, listing, "Иван")
    assert "Иван @ivan_manager — Менеджер" in person["text"] and "🚫 Уволить" in buttons(person)
    confirm = await press(desk, desk.owner, person, "🚫 Уволить")
    assert "Иван — уволить?" in confirm["text"]
    done = await press(desk, desk.owner, confirm, "Да, уволить")
    assert "Иван уволен(а)" in done["text"] and "1 группе" in done["text"] and "1 открытый диалог" in done["text"]

    manager = await staff_member(desk, desk.tenant_id, desk.manager)
    assert not manager.is_active and manager.removed_at is not None
    members = {m["user"]["id"]: m["status"] for m in desk.group()["members"]}
    assert members[desk.manager["id"]] == "kicked"  # banChatMember
    async with desk.db.unit_of_work() as session:
        assert (await session.get(Dialog, received.dialog_id)).assignee_id is None
    [removed] = await events(desk, "staff_removed")
    owner = await staff_member(desk, desk.tenant_id, desk.owner)
    assert removed.actor_staff_id == owner.id
    expected = {"staff_id": manager.id, "old_role": "manager", "groups": 1, "unassigned": [received.dialog_id],
                "via": "bot"}
    assert {k: removed.payload.get(k) for k in expected} == expected
    card = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == topic.pinned_message_id)
    assert "Ответственный: Иван" not in card["text"]

    # Even let back into the group, their reply does not reach the customer and their buttons are refused.
    desk.sb.set_member(desk.group_chat_id, desk.manager["id"], "member")
    await desk.write(desk.manager, "Я всё ещё тут", thread_id=topic.thread_id)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")
    assert "не сотрудник" in last_alert(desk)["text"]
    assert desk.customer_chat(anna) == []
    # Their private-chat commands know them no more either.
    [reply] = await say(desk, desk.manager, "/invite")
    assert "не сотрудник ни одной компании" in reply["text"]


async def test_roles_change_and_the_last_owner_stays(desk: Desk):
    [listing] = await say(desk, desk.owner, "/staff")
    viewer = await press(desk, desk.owner, listing, "Вера")
    done = await press(desk, desk.owner, viewer, "Администратор")
    assert "Вера теперь: Администратор" in done["text"]
    assert (await staff_member(desk, desk.tenant_id, desk.viewer)).role.code == "admin"
    [changed] = await events(desk, "staff_role_changed")
    assert (changed.payload["old_role"], changed.payload["new_role"]) == ("viewer", "admin")

    # The only owner cannot step down, and has no button to remove themselves.
    [listing] = await say(desk, desk.owner, "/staff")
    own = await press(desk, desk.owner, listing, "Ольга")
    assert "🚫 Уволить" not in buttons(own)
    await press(desk, desk.owner, own, "Менеджер")
    assert last_alert(desk)["show_alert"] and "останется без владельца" in last_alert(desk)["text"]
    assert (await staff_member(desk, desk.tenant_id, desk.owner)).role.code == "owner"

    # An admin may manage staff but not owners: no owner role to give, and an owner cannot be touched.
    [listing] = await say(desk, desk.viewer, "/staff")
    manager = await press(desk, desk.viewer, listing, "Иван")
    assert "Владелец" not in buttons(manager) and "Наблюдатель" in buttons(manager)
    owner = await press(desk, desk.viewer, (await say(desk, desk.viewer, "/staff"))[0], "Ольга")
    confirm = await press(desk, desk.viewer, owner, "🚫 Уволить")
    await press(desk, desk.viewer, confirm, "Да, уволить")
    assert "может только владелец" in last_alert(desk)["text"]
    assert (await staff_member(desk, desk.tenant_id, desk.owner)).is_active
    assert len(await events(desk, "staff_removed")) == 0


async def test_staff_of_several_businesses_choose_one_first(desk: Desk):
    other = await _new_tenant(desk, "second", "Второй магазин")
    token = await invitation(desk, other, "admin")
    await say(desk, desk.owner, f"/start {token}")
    [choice] = await say(desk, desk.owner, "/invite")
    assert "В какую компанию" in choice["text"] and set(buttons(choice)) == {"Магазин", "Второй магазин"}
    roles = await press(desk, desk.owner, choice, "Второй магазин")
    assert "Кого приглашаете в Второй магазин" in roles["text"]
    assert "Владелец" not in buttons(roles)  # an admin there
    made = await press(desk, desk.owner, roles, "Менеджер")
    assert LINK.search(made["text"])
    async with desk.db.unit_of_work() as session:
        stored = (await session.execute(select(Invitation).where(Invitation.tenant_id == other)
                                        .order_by(Invitation.id.desc()).limit(1))).scalar_one()
    assert stored.used_at is None
    assert len(bot_messages(desk, desk.owner)) == 2


def _group_status(desk: Desk, user: dict) -> str:
    return {m["user"]["id"]: m["status"] for m in desk.group()["members"]}.get(user["id"], "left")


async def test_a_removed_person_invited_again_is_unbanned_in_the_managers_group(desk: Desk):
    manager = await staff_member(desk, desk.tenant_id, desk.manager)
    async with desk.db.unit_of_work() as session:
        await staff.remove_staff(session, desk.tenant_id, manager.id, actor=None, via="cli")
    await desk.settle()
    assert _group_status(desk, desk.manager) == "kicked"

    # Invited again: the ban is lifted — they are not put back into the group, but may join it again.
    [welcome] = await say(desk, desk.manager, f"/start {await invitation(desk, desk.tenant_id, 'manager')}")
    assert "С возвращением в Магазин" in welcome["text"]
    assert _group_status(desk, desk.manager) == "left"
    async with desk.db.unit_of_work() as session:
        [unban] = (await session.execute(select(OutboxCommand).where(OutboxCommand.kind == base.Kind.UNBAN))).scalars()
    assert unban.state == CommandState.DONE and unban.payload["only_if_banned"] is True

    # Removed again, then let back into the group by an admin before they claim a new link: the unban (only if
    # banned) leaves them in the group, where a plain unbanChatMember would have removed them.
    async with desk.db.unit_of_work() as session:
        await staff.remove_staff(session, desk.tenant_id, manager.id, actor=None, via="cli",
                                 now=datetime.now(UTC) + timedelta(seconds=5))
    await desk.settle()
    assert _group_status(desk, desk.manager) == "kicked"
    desk.sb.set_member(desk.group_chat_id, desk.manager["id"], "member")
    await say(desk, desk.manager, f"/start {await invitation(desk, desk.tenant_id, 'manager')}")
    assert (await staff_member(desk, desk.tenant_id, desk.manager)).is_active
    assert _group_status(desk, desk.manager) == "member"
    async with desk.db.unit_of_work() as session:
        states = (await session.execute(select(OutboxCommand.state).where(OutboxCommand.kind == base.Kind.UNBAN)
                                        .order_by(OutboxCommand.id))).scalars().all()
    assert states == [CommandState.DONE, CommandState.DONE]
