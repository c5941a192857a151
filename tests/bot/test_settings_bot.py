"""/settings through the sandbox Bot API and the real aiogram dispatcher: an owner turns AI autosend on, sets the
working hours by text (a bad text is refused and the prompt waits for the next try), marks the manager group as the
escalation chat and as a report chat, picks the business first when they manage two; a manager is refused and
changes nothing — in Russian and in English. Every change is the same core validation and one audit event."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from core.models import Event, StaffMember, Tenant
from core.services.tenants import create_tenant, role_by_code

from .desk import Desk


# ------------------------------------------------------------------------------------------------ helpers


async def set_locale(desk: Desk, user: dict, locale: str) -> None:
    async with desk.db.unit_of_work() as session:
        await session.execute(update(StaffMember).where(StaffMember.telegram_user_id == user["id"])
                              .values(locale=locale))


async def tenant(desk: Desk, tenant_id: int | None = None) -> Tenant:
    async with desk.db.unit_of_work() as session:
        return await session.get(Tenant, tenant_id or desk.tenant_id)


async def setting_events(desk: Desk) -> list[Event]:
    async with desk.db.unit_of_work() as session:
        return list((await session.execute(
            select(Event).where(Event.kind == "settings_changed").order_by(Event.id))).scalars())


async def staff_id(desk: Desk, user: dict) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(StaffMember.id).where(
            StaffMember.telegram_user_id == user["id"], StaffMember.tenant_id == desk.tenant_id))).scalar_one()


def bot_messages(desk: Desk, chat_id: int) -> list[dict]:
    if chat_id not in desk.sb.chats:
        return []
    return [m for m in desk.sb.chat(chat_id)["messages"] if m["by_bot"] and not m["service"]]


def message(desk: Desk, chat_id: int, message_id: int) -> dict:
    return next(m for m in desk.sb.chat(chat_id)["messages"] if m["message_id"] == message_id)


def buttons(msg: dict) -> dict[str, str]:
    """callback_data → label of a message's inline buttons."""
    rows = (msg["reply_markup"] or {}).get("inline_keyboard", [])
    return {b["callback_data"]: b["text"] for row in rows for b in row}


async def write(desk: Desk, user: dict, chat_id: int, text: str) -> list[dict]:
    """The person writes in a chat; the bot's new messages there."""
    before = {m["message_id"] for m in bot_messages(desk, chat_id)}
    await desk.sb.user_sends(user["id"], chat_id, text)
    await desk.settle()
    return [m for m in bot_messages(desk, chat_id) if m["message_id"] not in before]


async def press(desk: Desk, user: dict, chat_id: int, panel: dict, data: str) -> dict:
    """Press a button of the panel; the panel as it is afterwards, and the button's answer."""
    answers = len(desk.sb.callback_answers)
    await desk.sb.press_button(user["id"], chat_id, panel["message_id"], data)
    await desk.settle()
    [answer] = desk.sb.callback_answers[answers:]
    return {"panel": message(desk, chat_id, panel["message_id"]), "answer": answer}


def cfg(tenant_id: int, action: str, value: str = "") -> str:
    return f"cfg:{tenant_id}:{action}:{value}"


# ---------------------------------------------------------------------------------------------- private chat


@pytest.mark.parametrize("locale, off, on, saved", [
    ("ru", "🤖 ИИ отвечает сам: выкл", "🤖 ИИ отвечает сам: вкл", "✅ Сохранено"),
    ("en", "🤖 AI sends replies on its own: off", "🤖 AI sends replies on its own: on", "✅ Saved"),
])
async def test_owner_turns_autosend_on_and_the_panel_shows_it(desk: Desk, locale, off, on, saved):
    owner = desk.owner
    await set_locale(desk, owner, locale)
    [panel] = await write(desk, owner, owner["id"], "/settings")
    assert off in panel["text"] and ("Магазин" in panel["text"])
    assert buttons(panel)[cfg(desk.tenant_id, "autosend", "on")].startswith("🤖")
    assert cfg(desk.tenant_id, "escalation", "on") not in buttons(panel)  # group-only buttons

    pressed = await press(desk, owner, owner["id"], panel, cfg(desk.tenant_id, "autosend", "on"))

    assert (await tenant(desk)).autosend_allowed is True
    assert on in pressed["panel"]["text"] and pressed["panel"]["edit_date"]  # the same message, edited in place
    assert cfg(desk.tenant_id, "autosend", "off") in buttons(pressed["panel"])
    assert pressed["answer"]["text"] == saved and not pressed["answer"]["show_alert"]
    assert len(bot_messages(desk, owner["id"])) == 1
    [event] = await setting_events(desk)
    assert event.actor_staff_id == await staff_id(desk, owner)
    assert event.payload == {"via": "bot", "changes": {"autosend_allowed": {"old": False, "new": True}}}


async def test_thresholds_and_night_mode_presets(desk: Desk):
    owner = desk.owner
    [panel] = await write(desk, owner, owner["id"], "/settings")
    assert buttons(panel)[cfg(desk.tenant_id, "thresholds", "balanced")] == "✓ 0.85 / 0.35"
    pressed = await press(desk, owner, owner["id"], panel, cfg(desk.tenant_id, "thresholds", "careful"))
    current = await tenant(desk)
    assert (current.t_auto, current.t_escalate) == (0.9, 0.5)
    assert buttons(pressed["panel"])[cfg(desk.tenant_id, "thresholds", "careful")] == "✓ 0.9 / 0.5"
    assert "от уверенности 0.9, передаёт диалог человеку ниже 0.5" in pressed["panel"]["text"]
    pressed = await press(desk, owner, owner["id"], pressed["panel"], cfg(desk.tenant_id, "night", "disable"))
    assert (await tenant(desk)).night_mode.value == "disable"
    assert "🌙 В нерабочее время: без автоматических ответов" in pressed["panel"]["text"]
    assert len(await setting_events(desk)) == 2


@pytest.mark.parametrize("locale, bad_reply, good, saved", [
    ("ru", "working_hours: допустимо: дни и часы", "пн-пт 10:00-19:00, сб 11:00-16:00",
     "✅ Часы работы: пн-пт 10:00-19:00, сб 11:00-16:00, вс выходной"),
    ("en", "working_hours: expected days and hours", "mon-fri 10:00-19:00, sat 11:00-16:00",
     "✅ Working hours: mon-fri 10:00-19:00, sat 11:00-16:00, sun closed"),
])
async def test_owner_sets_working_hours_by_text(desk: Desk, locale, bad_reply, good, saved):
    owner = desk.owner
    await set_locale(desk, owner, locale)
    [panel] = await write(desk, owner, owner["id"], "/settings")
    pressed = await press(desk, owner, owner["id"], panel, cfg(desk.tenant_id, "hours_text"))
    prompt = pressed["panel"]
    assert prompt["message_id"] == panel["message_id"] and "Europe/Moscow" in prompt["text"]
    assert list(buttons(prompt)) == [cfg(desk.tenant_id, "cancel")]

    [refusal] = await write(desk, owner, owner["id"], "mon-fri 9 to 6")
    assert refusal["text"].startswith(bad_reply) and "«mon-fri 9 to 6»" in refusal["text"]
    assert "\n" not in refusal["text"]
    assert (await tenant(desk)).working_hours == {d: ["09:00", "21:00"] for d in
                                                 ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert await setting_events(desk) == []

    [answer] = await write(desk, owner, owner["id"], good)  # the prompt still waits: the next message is read
    assert answer["text"] == saved
    weekdays = {d: ["10:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert (await tenant(desk)).working_hours == {**weekdays, "sat": ["11:00", "16:00"]}
    panel = message(desk, owner["id"], panel["message_id"])
    assert saved.removeprefix("✅ ").split(": ", 1)[1] in panel["text"]
    assert cfg(desk.tenant_id, "autosend", "on") in buttons(panel)  # the panel is back
    # The prompt is over: the next text is not read as hours.
    await write(desk, owner, owner["id"], "daily 08:00-09:00")
    assert (await tenant(desk)).working_hours == {**weekdays, "sat": ["11:00", "16:00"]}
    [event] = await setting_events(desk)
    assert event.payload["changes"]["working_hours"]["new"] == {**weekdays, "sat": ["11:00", "16:00"]}


async def test_hours_presets_and_cancelling_the_prompt(desk: Desk):
    owner = desk.owner
    [panel] = await write(desk, owner, owner["id"], "/settings")
    assert buttons(panel)[cfg(desk.tenant_id, "hours", "daily")] == "✓ 09–21 ежедневно"
    pressed = await press(desk, owner, owner["id"], panel, cfg(desk.tenant_id, "hours", "weekdays"))
    assert "пн-пт 09:00-18:00, сб-вс выходной" in pressed["panel"]["text"]
    pressed = await press(desk, owner, owner["id"], pressed["panel"], cfg(desk.tenant_id, "hours_text"))
    pressed = await press(desk, owner, owner["id"], pressed["panel"], cfg(desk.tenant_id, "cancel"))
    assert cfg(desk.tenant_id, "autosend", "on") in buttons(pressed["panel"])
    await write(desk, owner, owner["id"], "daily 08:00-09:00")
    assert (await tenant(desk)).working_hours == {d: ["09:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


async def test_an_owner_of_two_businesses_picks_one_first(desk: Desk):
    owner = desk.owner
    async with desk.db.unit_of_work() as session:
        other = await create_tenant(session, slug="flowers", name="Цветы")
        await session.flush()
        session.add(StaffMember(tenant_id=other.id, role_id=(await role_by_code(session, other.id, "admin")).id,
                                telegram_user_id=owner["id"], name=owner["first_name"]))
        other_id = other.id
    [choice] = await write(desk, owner, owner["id"], "/settings")
    assert choice["text"] == "Настройки какой компании?"
    assert buttons(choice) == {cfg(desk.tenant_id, "open"): "Магазин", cfg(other_id, "open"): "Цветы"}
    pressed = await press(desk, owner, owner["id"], choice, cfg(other_id, "open"))
    assert "⚙️ Настройки · Цветы" in pressed["panel"]["text"]
    await press(desk, owner, owner["id"], pressed["panel"], cfg(other_id, "autosend", "on"))
    assert (await tenant(desk, other_id)).autosend_allowed is True
    assert (await tenant(desk)).autosend_allowed is False


@pytest.mark.parametrize("locale, refused", [
    ("ru", "Настройки меняют только владелец и администраторы."),
    ("en", "Only owners and administrators change the settings."),
])
async def test_a_manager_is_refused_in_private(desk: Desk, locale, refused):
    await set_locale(desk, desk.manager, locale)
    [answer] = await write(desk, desk.manager, desk.manager["id"], "/settings")
    assert answer["text"] == refused and not answer["reply_markup"]
    stranger = desk.sb.create_user("Пётр")
    [answer] = await write(desk, stranger, stranger["id"], "/settings")
    assert answer["text"] == "Вы не сотрудник компании здесь."


# ----------------------------------------------------------------------------------------------------- group


@pytest.mark.parametrize("locale, here, reports_on", [
    ("ru", "🆘 Эскалации приходят в этот чат", "📊 Утренние и вечерние отчёты в этом чате: вкл"),
    ("en", "🆘 Escalations come to this chat", "📊 Morning and evening reports in this chat: on"),
])
async def test_owner_marks_the_group_for_escalations_and_reports(desk: Desk, locale, here, reports_on):
    owner, chat_id = desk.owner, desk.group_chat_id
    await set_locale(desk, owner, locale)
    [panel] = await write(desk, owner, chat_id, "/settings")
    assert panel["thread_id"] is None and here not in panel["text"]  # escalations go to the owner's private chat
    assert cfg(desk.tenant_id, "escalation", "on") in buttons(panel)

    pressed = await press(desk, owner, chat_id, panel, cfg(desk.tenant_id, "escalation", "on"))
    assert (await tenant(desk)).escalation_chat_id == chat_id
    assert here in pressed["panel"]["text"]
    assert cfg(desk.tenant_id, "escalation", "off") in buttons(pressed["panel"])

    pressed = await press(desk, owner, chat_id, pressed["panel"], cfg(desk.tenant_id, "reports", "on"))
    assert (await tenant(desk)).report_chat_ids == [chat_id]
    assert reports_on in pressed["panel"]["text"]

    pressed = await press(desk, owner, chat_id, pressed["panel"], cfg(desk.tenant_id, "reports", "off"))
    assert (await tenant(desk)).report_chat_ids == []
    pressed = await press(desk, owner, chat_id, pressed["panel"], cfg(desk.tenant_id, "escalation", "off"))
    assert (await tenant(desk)).escalation_chat_id is None
    assert [list(e.payload["changes"]) for e in await setting_events(desk)] == [
        ["escalation_chat_id"], ["report_chat_ids"], ["report_chat_ids"], ["escalation_chat_id"]]
    assert len([m for m in bot_messages(desk, chat_id) if "⚙️" in (m["text"] or "")]) == 1


@pytest.mark.parametrize("locale, refused", [
    ("ru", "Настройки меняют только владелец и администраторы."),
    ("en", "Only owners and administrators change the settings."),
])
async def test_a_manager_is_refused_in_the_group_and_changes_nothing(desk: Desk, locale, refused):
    owner, manager, chat_id = desk.owner, desk.manager, desk.group_chat_id
    await set_locale(desk, manager, locale)
    [notice] = await write(desk, manager, chat_id, "/settings")
    assert refused in notice["text"] and not notice["reply_markup"]

    [panel] = await write(desk, owner, chat_id, "/settings")
    before = await tenant(desk)
    for data in (cfg(desk.tenant_id, "autosend", "on"), cfg(desk.tenant_id, "escalation", "on"),
                 cfg(desk.tenant_id, "hours_text")):
        pressed = await press(desk, manager, chat_id, panel, data)
        assert pressed["answer"]["show_alert"] and pressed["answer"]["text"] == refused
        assert pressed["panel"]["text"] == panel["text"] and not pressed["panel"]["edit_date"]
    after = await tenant(desk)
    assert (after.autosend_allowed, after.escalation_chat_id) == (before.autosend_allowed, before.escalation_chat_id)
    assert await setting_events(desk) == []
    # The manager's next message is an ordinary one, not read as hours.
    await write(desk, manager, chat_id, "daily 08:00-09:00")
    assert after.working_hours == (await tenant(desk)).working_hours


async def test_hours_by_text_in_the_group(desk: Desk):
    owner, chat_id = desk.owner, desk.group_chat_id
    [panel] = await write(desk, owner, chat_id, "/settings")
    await press(desk, owner, chat_id, panel, cfg(desk.tenant_id, "hours_text"))
    [refusal] = await write(desk, owner, chat_id, "someday 09:00-18:00")
    assert "working_hours:" in refusal["text"]
    await write(desk, owner, chat_id, "пн-сб 10:00-20:00")
    assert (await tenant(desk)).working_hours == {d: ["10:00", "20:00"] for d in
                                                 ("mon", "tue", "wed", "thu", "fri", "sat")}
    panel = message(desk, chat_id, panel["message_id"])
    assert "пн-сб 10:00-20:00, вс выходной" in panel["text"]
    sent = [m for m in desk.sb.chat(chat_id)["messages"] if m["text"] == "пн-сб 10:00-20:00"]
    assert sent[0]["reactions"]  # acknowledged with a reaction, not another message


async def test_a_reply_in_a_customer_topic_while_the_prompt_waits_goes_to_the_customer(desk: Desk):
    owner, chat_id = desk.owner, desk.group_chat_id
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Здравствуйте! Вы работаете в субботу?")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    [panel] = await write(desk, owner, chat_id, "/settings")
    await press(desk, owner, chat_id, panel, cfg(desk.tenant_id, "hours_text"))

    await desk.write(owner, "пн-сб 10:00-20:00", thread_id=topic.thread_id)  # answering the customer meanwhile

    assert [m["text"] for m in desk.customer_chat(anna)] == ["пн-сб 10:00-20:00"]
    assert (await tenant(desk)).working_hours["sun"] == ["09:00", "21:00"]
    await write(desk, owner, chat_id, "пн-сб 10:00-20:00")  # in General, where the prompt is: read as hours
    assert "sun" not in (await tenant(desk)).working_hours
