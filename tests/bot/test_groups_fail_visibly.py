"""Manager groups fail visibly, through the sandbox Bot API and the real aiogram bot: a group where the bot lacks
rights keeps what is meant for it waiting (parked, never "failed for good") and fills it in, in order, when the rights
come; a refusal found while sending moves dialogs to a healthy group; the bot removed from a group sends its dialogs
to the other one; the owners/admins who talked to the bot and the group's General topic are told once; the bot-added
event and /connect at once register one group without an error."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import delete, func, select, text

from core.models import CommandState, Dialog, Event, FollowUp, ManagerGroup, OutboxCommand
from core import followups
from core.services.workspace import base, parking, topics

from .desk import RIGHTS, Desk
from .staffdesk import invitation, say

BROKEN_GENERAL = "поэтому у диалогов клиентов здесь не появляются темы"  # groups.general.broken (the bot's language)
FIXED_GENERAL = "Бот снова может здесь работать"  # groups.general.fixed


async def _admin(desk: Desk) -> dict:
    """An admin of the shop who joined through the bot's link (so the bot may write to them), reading English."""
    admin = desk.sb.create_user("Alice", "Admin", username="alice_admin", language_code="en")
    await say(desk, admin, f"/start {await invitation(desk, desk.tenant_id, 'admin')}")
    return admin


def _private(desk: Desk, user: dict, needle: str) -> list[str]:
    if user["id"] not in desk.sb.chats:
        return []
    return [m["text"] for m in desk.sb.chat(user["id"])["messages"]
            if m["by_bot"] and needle in (m["text"] or "")]


def _general(desk: Desk, chat_id: int, needle: str = "") -> list[str]:
    return [m["text"] for m in desk.sb.chat(chat_id)["messages"]
            if m["by_bot"] and m["thread_id"] is None and not m["service"] and needle in (m["text"] or "")]


def _topics(desk: Desk, chat_id: int) -> list[dict]:
    return [t for t in desk.sb.chat(chat_id)["topics"] if t["id"] != 1 and not t["deleted"]]


def _thread_text(desk: Desk, chat_id: int, thread_id: int) -> str:
    return "\n".join(m["text"] or m.get("caption") or "" for m in desk.sb.chat(chat_id)["messages"]
                     if m["thread_id"] == thread_id and m["by_bot"] and not m["service"] and not m["deleted"])


async def _group(desk: Desk, chat_id: int) -> ManagerGroup:
    async with desk.db.unit_of_work() as session:
        return await base.group_by_chat(session, chat_id)


async def _commands(desk: Desk, state: CommandState) -> list[OutboxCommand]:
    async with desk.db.unit_of_work() as session:
        return list((await session.execute(select(OutboxCommand).where(OutboxCommand.state == state))).scalars())


async def _parked(desk: Desk) -> list[OutboxCommand]:
    return [c for c in await _commands(desk, CommandState.QUEUED) if parking.PARKED in (c.result or {})]


async def _topic_of(desk: Desk, dialog_id: int) -> tuple[int, int | None]:
    """(chat id, thread id) of the dialog's topic in the group it lives in."""
    async with desk.db.unit_of_work() as session:
        dialog = await session.get(Dialog, dialog_id)
        topic, group = await topics.topic_for_dialog(session, dialog)
        return group.chat_id, topic.thread_id


async def _second_group(desk: Desk, title: str, rights: dict | None) -> dict:
    chat = desk.sb.create_forum_group(title, owner_id=desk.owner["id"], members=[desk.manager["id"]])
    await desk.sb.add_bot_to_group(chat["id"], rights=rights, by_user_id=desk.owner["id"])
    await desk.settle()
    return chat


async def test_a_rightless_group_keeps_dialogs_waiting_and_fills_them_in_when_rights_come(desk: Desk):
    admin = await _admin(desk)
    second = await _second_group(desk, "Менеджеры 2", rights=None)  # the bot is a plain member there
    assert (await _group(desk, second["id"])).missing_rights == list(base.REQUIRED_RIGHTS)
    # The first group loses the bot: only the rights-less one is left to take new dialogs.
    await desk.sb.remove_bot_from_group(desk.group_chat_id, by_user_id=desk.owner["id"])
    await desk.settle()
    assert not (await _group(desk, desk.group_chat_id)).is_active
    assert len(_private(desk, admin, "“Менеджеры”: the bot was removed from it")) == 1

    customers = [desk.customer(name, None) for name in ("Борис", "Вика", "Гоша", "Даша", "Егор")]
    dialogs = []
    for n, customer in enumerate(customers):
        dialogs.append((await desk.customer_writes(customer, f"первое от {n}")).dialog_id)
        await desk.settle()  # the group's refusals happen in between: the later dialogs meet a known broken group
    for n, customer in enumerate(customers):
        await desk.customer_writes(customer, f"второе от {n}")
    await desk.settle()

    # Nothing reached a topic, nothing failed for good: everything waits, parked, and says why.
    assert _topics(desk, second["id"]) == []
    assert await _commands(desk, CommandState.FAILED) == []
    parked = await _parked(desk)
    assert {c.dialog_id for c in parked} == set(dialogs)
    assert {c.destination for c in parked} == {f"tg:group:{second['id']}"}
    assert all("waiting for manager group" in c.last_error for c in parked)
    # Told once: the group's General topic (the bot is still a member there) and the admin, in their language.
    assert len(_general(desk, second["id"], BROKEN_GENERAL)) == 1
    [alert] = _private(desk, admin, "Manager group “Менеджеры 2”")
    assert "the bot lacks an administrator right there: manage topics" in alert and "How to fix" in alert
    # /status shows the group and what waits for it.
    [status] = await say(desk, admin, "/status")
    assert "“Менеджеры 2”: the bot lacks rights" in status["text"] and "messages wait for it" in status["text"]

    # The owner grants the rights: every waiting dialog gets its topic, its messages in the order written.
    await desk.sb.add_bot_to_group(second["id"], rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.settle()
    assert await _parked(desk) == []
    assert await _commands(desk, CommandState.FAILED) == []
    assert sorted(t["name"] for t in _topics(desk, second["id"])) == sorted(f"🆕 {c['first_name']} · TG"
                                                                           for c in customers)
    for n, dialog_id in enumerate(dialogs):
        chat_id, thread_id = await _topic_of(desk, dialog_id)
        assert chat_id == second["id"] and thread_id is not None
        shown = _thread_text(desk, chat_id, thread_id)
        assert shown.index(f"первое от {n}") < shown.index(f"второе от {n}")
    # ... and the same people hear it is fixed, once.
    assert len(_general(desk, second["id"], FIXED_GENERAL)) == 1
    assert len(_general(desk, second["id"], BROKEN_GENERAL)) == 1
    assert len(_private(desk, admin, "“Менеджеры 2” works again")) == 1
    assert len(_private(desk, admin, "Manager group “Менеджеры 2”")) == 2
    # The desk's owner never talked to the bot in private: the bot does not write to them.
    assert _private(desk, desk.owner, "Менеджеры 2") == []


async def test_a_refusal_found_while_sending_moves_the_dialogs_to_a_healthy_group(desk: Desk):
    admin = await _admin(desk)
    second = await _second_group(desk, "Менеджеры 2", rights=RIGHTS)
    # Rights taken away in the second group; the bot has not read that update yet when the next dialogs go out.
    await desk.sb.add_bot_to_group(second["id"], rights=None, by_user_id=desk.owner["id"])
    received = []
    for name in ("Борис", "Вика", "Гоша", "Даша"):
        received.append(await desk.customer_writes(desk.customer(name, None), f"вопрос от {name}"))
    async with desk.db.unit_of_work() as session:
        groups = {(await session.get(Dialog, r.dialog_id)).manager_group_id for r in received}
    assert len(groups) == 2  # round robin spread them over both groups
    await desk.outbox.drain()

    # Telegram refused the topics in the second group: it is marked in the same step, its dialogs went to the first
    # group with their messages, nothing failed, and people were told once.
    group = await _group(desk, second["id"])
    assert group.missing_rights == ["can_manage_topics"]
    assert await _commands(desk, CommandState.FAILED) == [] and await _parked(desk) == []
    assert _topics(desk, second["id"]) == []
    for r, name in zip(received, ("Борис", "Вика", "Гоша", "Даша"), strict=True):
        chat_id, thread_id = await _topic_of(desk, r.dialog_id)
        assert chat_id == desk.group_chat_id
        assert f"вопрос от {name}" in _thread_text(desk, chat_id, thread_id)
    [general] = _general(desk, second["id"], BROKEN_GENERAL)
    assert "перенесены в «Менеджеры»" in general
    assert len(_private(desk, admin, "Manager group “Менеджеры 2”")) == 1

    # The demotion update arrives late: it completes what is missing and tells nobody again.
    await desk.settle()
    assert (await _group(desk, second["id"])).missing_rights == list(base.REQUIRED_RIGHTS)
    assert len(_general(desk, second["id"], BROKEN_GENERAL)) == 1
    assert len(_private(desk, admin, "Manager group “Менеджеры 2”")) == 1
    # A new dialog goes to the healthy group straight away.
    late = await desk.customer_writes(desk.customer("Ефим", None), "здравствуйте")
    await desk.settle()
    assert (await _topic_of(desk, late.dialog_id))[0] == desk.group_chat_id


async def test_the_bot_removed_from_a_group_sends_its_dialogs_to_the_other(desk: Desk):
    admin = await _admin(desk)
    second = await _second_group(desk, "Менеджеры 2", rights=RIGHTS)
    first_customer, second_customer = desk.customer("Борис", None), desk.customer("Вика", None)
    stays = (await desk.customer_writes(first_customer, "добрый день")).dialog_id
    moves = (await desk.customer_writes(second_customer, "есть ли доставка?")).dialog_id
    await desk.settle()
    assert (await _topic_of(desk, moves))[0] == second["id"]

    # The bot is removed from the second group; its customer writes again before the bot reads that update.
    await desk.sb.remove_bot_from_group(second["id"], by_user_id=desk.owner["id"])
    await desk.customer_writes(second_customer, "а самовывоз?")
    await desk.outbox.drain()
    await desk.settle()  # now the update too: nothing more to do, nobody told twice

    group = await _group(desk, second["id"])
    assert not group.is_active
    chat_id, thread_id = await _topic_of(desk, moves)
    assert chat_id == desk.group_chat_id
    shown = _thread_text(desk, chat_id, thread_id)
    assert shown.index("есть ли доставка?") < shown.index("а самовывоз?")  # its recent messages came along
    assert (await _topic_of(desk, stays))[0] == desk.group_chat_id
    assert await _commands(desk, CommandState.FAILED) == [] and await _parked(desk) == []
    assert len(_private(desk, admin, "“Менеджеры 2”: the bot was removed from it")) == 1
    # New dialogs go to the group the bot is still in.
    new = (await desk.customer_writes(desk.customer("Гоша", None), "привет")).dialog_id
    await desk.settle()
    assert (await _topic_of(desk, new))[0] == desk.group_chat_id
    async with desk.db.unit_of_work() as session:
        moved = (await session.execute(select(Event).where(Event.kind == "dialog_moved"))).scalars().all()
    first = await _group(desk, desk.group_chat_id)
    assert [(e.dialog_id, e.payload["group_id"]) for e in moved] == [(moves, first.id)]


async def _waiting_inserts(desk: Desk) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE 'INSERT INTO manager_groups%'"
        ))).scalar_one()


async def test_the_bot_added_and_connect_at_once_register_one_group(desk: Desk):
    chat = desk.sb.create_forum_group("Менеджеры 3", owner_id=desk.owner["id"])
    await desk.sb.add_bot_to_group(chat["id"], rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.sb.user_sends(desk.owner["id"], chat["id"], "/connect")
    updates = await desk.bot.get_updates(offset=desk.offset, timeout=0)
    assert len(updates) == 2
    desk.offset = updates[-1].update_id + 1
    # Both updates are handled at once and both reach the registration before either commits: the table is held
    # until both wait on it.
    async with desk.db.engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(text("LOCK TABLE manager_groups IN SHARE ROW EXCLUSIVE MODE"))
        handled = [asyncio.create_task(desk.dp.feed_update(desk.bot, update)) for update in updates]
        deadline = time.monotonic() + 30
        while await _waiting_inserts(desk) < 2:
            assert time.monotonic() < deadline, "the two registrations did not meet"
            assert not any(task.done() for task in handled), [task.result() for task in handled if task.done()]
            await asyncio.sleep(0.02)
        await transaction.commit()
    results = await asyncio.gather(*handled, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        rows = (await session.execute(
            select(func.count(ManagerGroup.id)).where(ManagerGroup.chat_id == chat["id"]))).scalar_one()
        group = await base.group_by_chat(session, chat["id"])
    assert rows == 1 and group.missing_rights == [] and group.is_active
    assert not [t for t in _general(desk, chat["id"]) if "⛔" in t]  # nobody was told the update failed
    assert _general(desk, chat["id"], "Группа подключена")


async def _workers_done(desk: Desk) -> None:
    """The desk runs the inbox's follow-ups in place (Desk.receive); a worker would have deleted their rows."""
    async with desk.db.unit_of_work() as session:
        await session.execute(delete(FollowUp))


async def _relay(desk: Desk) -> list[dict]:
    """What the follow-up relay does with mirror rows nobody ran: hand them to their task (here, run in place)."""
    due = [(name, payload) for name, payload in await followups.due(desk.db, followups.Timings(), everything=True)
           if name == followups.MIRROR_MESSAGE.name]
    for name, payload in due:
        await desk.tasks[name](**payload)
    return [payload for _, payload in due]


async def test_dialogs_that_reached_no_group_are_filled_in_when_the_bot_comes_back(desk: Desk):
    admin = await _admin(desk)
    known = desk.customer("Борис", None)
    old = (await desk.customer_writes(known, "добрый день")).dialog_id
    await desk.settle()
    # The tenant's only group loses the bot: what customers write now reaches no topic anywhere — it waits.
    await desk.sb.remove_bot_from_group(desk.group_chat_id, by_user_id=desk.owner["id"])
    await desk.settle()
    await desk.customer_writes(known, "вы тут?")
    newcomer = desk.customer("Вика", None)
    new = (await desk.customer_writes(newcomer, "первое")).dialog_id
    await desk.customer_writes(newcomer, "второе")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        assert (await session.get(Dialog, new)).manager_group_id is None
    assert len(_private(desk, admin, "Manager group “Менеджеры”: the bot was removed from it")) == 1
    await _workers_done(desk)

    # The owner adds the bot back: both dialogs are filled in, in order, and the admin hears it is fixed.
    await desk.sb.add_bot_to_group(desk.group_chat_id, rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.settle()
    assert len(await _relay(desk)) == 2  # a mirror follow-up for each dialog that reached no topic
    await desk.settle()
    chat_id, thread_id = await _topic_of(desk, new)
    assert chat_id == desk.group_chat_id
    shown = _thread_text(desk, chat_id, thread_id)
    assert shown.index("первое") < shown.index("второе")
    chat_id, thread_id = await _topic_of(desk, old)
    shown = _thread_text(desk, chat_id, thread_id)
    lines = shown.split("\n")  # its topic existed before: only what it did not show yet is posted
    assert lines.count("добрый день") == 1 and lines.count("вы тут?") == 1
    assert lines.index("добрый день") < lines.index("вы тут?")
    assert len(_private(desk, admin, "“Менеджеры” works again. The 2 dialogs")) == 1
    assert await _commands(desk, CommandState.FAILED) == []
