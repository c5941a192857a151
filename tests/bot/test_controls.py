"""Connecting manager groups, per-dialog controls on the pinned card and by commands, role-based visibility on the
card, and a removed employee losing access at once."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from core.models import (
    AIMode,
    Customer,
    Dialog,
    DialogStatus,
    ManagerGroup,
    Outcome,
    Role,
    StaffMember,
    TrafficTouch,
    TrainingSample,
)
from core.services import staff
from core.services.workspace import base, topics

from .desk import RIGHTS, Desk


async def _dialog(desk: Desk, dialog_id: int) -> Dialog:
    async with desk.db.unit_of_work() as session:
        return await session.get(Dialog, dialog_id)


def _general(desk: Desk, chat_id: int) -> list[str]:
    return [m["text"] for m in desk.sb.chat(chat_id)["messages"] if m["by_bot"] and m["thread_id"] is None]


async def test_the_bot_says_exactly_what_a_group_lacks(desk: Desk):
    chat = desk.sb.create_forum_group("Без тем", is_forum=False, owner_id=desk.owner["id"])
    await desk.sb.add_bot_to_group(chat["id"], rights={"can_pin_messages": True}, by_user_id=desk.owner["id"])
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        group = await base.group_by_chat(session, chat["id"])
    assert group.missing_rights == ["topics", "can_manage_topics", "can_delete_messages", "can_restrict_members"]
    [notice] = _general(desk, chat["id"])
    assert "включите темы" in notice and "«Управление темами»" in notice and "«Закреплять сообщения»" not in notice

    # Fixed by the owner: promoting the bot re-checks and the group is ready.
    await desk.sb.add_bot_to_group(chat["id"], rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        group = await base.group_by_chat(session, chat["id"])
    assert group.missing_rights == ["topics"]  # the forum mode is still off


async def test_only_an_owner_or_admin_can_connect_a_group(desk: Desk):
    chat = desk.sb.create_forum_group("Чужая", owner_id=desk.manager["id"])
    await desk.sb.add_bot_to_group(chat["id"], rights=RIGHTS, by_user_id=desk.manager["id"])
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        assert await base.group_by_chat(session, chat["id"]) is None
    assert "владелец или администратор" in _general(desk, chat["id"])[0]
    # The owner joins and connects it explicitly.
    desk.sb.set_member(chat["id"], desk.owner["id"], "administrator")
    await desk.sb.user_sends(desk.owner["id"], chat["id"], "/connect shop")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        group = await base.group_by_chat(session, chat["id"])
    assert group is not None and group.missing_rights == []


async def test_pinned_card_controls_and_commands(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Беру!")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    card_id = topic.pinned_message_id
    dialog_id = received.dialog_id

    await desk.press(desk.manager, card_id, f"d:ai:{dialog_id}:auto")
    await desk.press(desk.manager, card_id, f"d:assign:{dialog_id}:")
    dialog = await _dialog(desk, dialog_id)
    assert dialog.ai_mode == AIMode.AUTO and dialog.assignee_id is not None
    card = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card_id)
    assert "ИИ: автомат" in card["text"] and "Ответственный: Иван" in card["text"]

    async with desk.db.unit_of_work() as session:
        session.add(TrainingSample(tenant_id=desk.tenant_id, dialog_id=dialog_id, customer_message="Беру!",
                                   draft="Отлично!", final="Отлично!", intent="purchase", action="sent"))
    await desk.write(desk.manager, "/won 15 000,50", thread_id=topic.thread_id)
    dialog = await _dialog(desk, dialog_id)
    assert (dialog.outcome, dialog.outcome_amount, dialog.outcome_currency) == (Outcome.WON, Decimal("15000.50"), "RUB")
    async with desk.db.unit_of_work() as session:
        sample = (await session.execute(select(TrainingSample))).scalar_one()
    assert sample.few_shot and sample.outcome == Outcome.WON  # a won dialog teaches the assistant
    assert desk.live_topics()[0]["name"].startswith("🏆")

    await desk.write(desk.manager, "/lost дорого", thread_id=topic.thread_id)
    dialog = await _dialog(desk, dialog_id)
    assert (dialog.outcome, dialog.outcome_reason) == (Outcome.LOST, "дорого")
    await desk.press(desk.manager, card_id, f"d:reopen:{dialog_id}:")
    await desk.write(desk.manager, "/close", thread_id=topic.thread_id)
    dialog = await _dialog(desk, dialog_id)
    assert dialog.status == DialogStatus.RESOLVED and dialog.outcome is None
    assert desk.live_topics()[0]["name"].startswith("💤")
    await desk.write(desk.manager, "/ai semi", thread_id=topic.thread_id)
    assert (await _dialog(desk, dialog_id)).ai_mode == AIMode.SEMI_AUTO
    assert desk.customer_chat(anna) == []  # none of this reached the customer

    await desk.press(desk.viewer, card_id, f"d:ai:{dialog_id}:off")
    assert "роли это недоступно" in desk.sb.callback_answers[-1]["text"]
    assert (await _dialog(desk, dialog_id)).ai_mode == AIMode.SEMI_AUTO


async def test_card_fields_follow_the_audience_role(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Здравствуйте")
    async with desk.db.unit_of_work() as session:
        customer = (await session.execute(select(Customer))).scalar_one()
        touch = TrafficTouch(tenant_id=desk.tenant_id, customer_id=customer.id, channel_kind="telegram_account",
                             source="vk_ads", campaign="spring")
        session.add(touch)
        await session.flush()
        customer.first_touch_id = touch.id
        customer.profile_url, customer.phone, customer.tags = "https://t.me/anna_p", "+79990001122", ["опт"]
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    card = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == topic.pinned_message_id)
    assert "+79990001122" in card["text"] and "опт" in card["text"]
    assert "t.me/anna_p" not in card["text"] and "vk_ads" not in card["text"]  # hidden from managers

    async with desk.db.unit_of_work() as session:  # the owner lets managers see everything
        await session.execute(update(Role).where(Role.tenant_id == desk.tenant_id, Role.code == "manager")
                              .values(hidden_fields=[]))
        await topics.refresh_pinned_card(session, await session.get(Dialog, received.dialog_id))
    await desk.settle()
    card = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == topic.pinned_message_id)
    assert "t.me/anna_p" in card["text"] and "vk_ads / spring" in card["text"]


async def test_removed_staff_lose_access_and_leave_the_groups(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Привет")
    suggestion_id = await desk.suggest(received, "Здравствуйте!")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        owner = await base.load_actor(session, desk.tenant_id, desk.owner["id"])
        manager = (await session.execute(
            select(StaffMember).where(StaffMember.telegram_user_id == desk.manager["id"]))).scalar_one()
        removal = await staff.remove_staff(session, desk.tenant_id, manager.id, actor=owner)
        assert removal.groups == 1
    await desk.settle()
    members = {m["user"]["id"]: m["status"] for m in desk.group()["members"]}
    assert members[desk.manager["id"]] == "kicked"
    card = desk.card_of((await desk.topic(received.dialog_id)).thread_id, suggestion_id)
    desk.sb.set_member(desk.group_chat_id, desk.manager["id"], "member")  # even if someone lets them back in
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")
    assert "не сотрудник" in desk.sb.callback_answers[-1]["text"]
    assert desk.customer_chat(anna) == []
    async with desk.db.unit_of_work() as session:
        assert (await session.execute(select(ManagerGroup.is_active))).scalar_one()


async def test_new_dialogs_are_spread_over_the_tenants_groups(desk: Desk):
    from core.models import ChannelAccount

    second = desk.sb.create_forum_group("Менеджеры 2", owner_id=desk.owner["id"])
    await desk.sb.add_bot_to_group(second["id"], rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.settle()
    groups_of = []
    for name in ("Борис", "Вика", "Гоша"):
        received = await desk.customer_writes(desk.customer(name, None), "Здравствуйте")
        groups_of.append((await _dialog(desk, received.dialog_id)).manager_group_id)
    assert groups_of[0] != groups_of[1] and groups_of[2] == groups_of[0]  # round robin by load
    async with desk.db.unit_of_work() as session:
        target = await base.group_by_chat(session, second["id"])
        await session.execute(update(ChannelAccount).values(manager_group_id=target.id))
    received = await desk.customer_writes(desk.customer("Даша", None), "Добрый вечер")
    assert (await _dialog(desk, received.dialog_id)).manager_group_id == target.id  # the channel's own group
    await desk.settle()
    titles = [t["name"] for t in desk.sb.chat(second["id"])["topics"] if t["id"] != 1]
    assert sorted(titles) == ["🆕 Вика · TG", "🆕 Даша · TG"]


async def test_a_full_group_rotates_to_a_fresh_one(desk: Desk):
    async with desk.db.unit_of_work() as session:
        await session.execute(update(ManagerGroup).values(message_count=base.ROTATE_AFTER))
    fresh = desk.sb.create_forum_group("Менеджеры (новая)", owner_id=desk.owner["id"])
    await desk.sb.add_bot_to_group(fresh["id"], rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        old = await base.group_by_chat(session, desk.group_chat_id)
        new = await base.group_by_chat(session, fresh["id"])
    assert old.rotated_to_id == new.id
    received = await desk.customer_writes(desk.customer("Ева", None), "Здравствуйте")
    assert (await _dialog(desk, received.dialog_id)).manager_group_id == new.id
