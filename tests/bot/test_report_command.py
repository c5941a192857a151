"""/report in a chat, through the sandbox Bot API and the real aiogram bot: the report is posted there through the
outbox (the chart as a photo, the report as its caption, linked to the waiting customer's topic), in the asking
staff member's language; people who are not staff are refused; a word that names no report is explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from core.models import AuthorKind, Customer, Dialog, DialogStatus, Direction, Message, StaffMember


def bot_posts(desk) -> list[dict]:
    return [m for m in desk.group()["messages"] if m["by_bot"] and not m["service"] and not m["deleted"]]


def posts_with(desk, words: str) -> list[dict]:
    return [m for m in bot_posts(desk) if words in (m["text"] or m["caption"] or "")]


async def _past_activity(desk) -> None:
    """Two earlier days with a customer who wrote and got an answer: the week's chart has something to show."""
    now = datetime.now(UTC)
    async with desk.db.unit_of_work() as session:
        for days in (2, 3):
            customer = Customer(tenant_id=desk.tenant_id, display_name=f"Покупатель {days}")
            session.add(customer)
            await session.flush()
            at = now - timedelta(days=days)
            dialog = Dialog(tenant_id=desk.tenant_id, customer_id=customer.id, channel_id=desk.channel_id,
                            external_chat_id=f"past-{days}", status=DialogStatus.WAITING, created_at=at,
                            last_message_at=at + timedelta(minutes=3), last_customer_message_at=at)
            session.add(dialog)
            await session.flush()
            session.add_all([
                Message(tenant_id=desk.tenant_id, dialog_id=dialog.id, external_id="1", direction=Direction.IN,
                        author_kind=AuthorKind.CUSTOMER, text="Есть в наличии?", sent_at=at),
                Message(tenant_id=desk.tenant_id, dialog_id=dialog.id, external_id="2", direction=Direction.OUT,
                        author_kind=AuthorKind.MANAGER, text="Да", sent_at=at + timedelta(minutes=3)),
            ])


async def test_report_in_the_group_posts_it_there(desk):
    anna = desk.customer("Анна", "Петрова")
    received = await desk.customer_writes(anna, "Сколько стоит самокат?")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    await _past_activity(desk)

    asked = await desk.write(desk.manager, "/report morning")
    [post] = posts_with(desk, "Утренний отчёт")
    assert post["thread_id"] is None  # the General topic, where it was asked
    assert post["media"]["type"] == "photo"
    caption = post["caption"]
    assert caption.startswith("☀️ Утренний отчёт · Магазин · ")
    assert "Ждут ответа: 1" in caption and "Анна Петрова — ждёт с" in caption
    link = next(e for e in post["caption_entities"] if e["type"] == "text_link")
    assert link["url"] == f"https://t.me/c/{str(desk.group_chat_id)[4:]}/{topic.thread_id}"
    photo = await desk.bot.download(post["media"]["file_id"])
    assert photo.read().startswith(b"\x89PNG\r\n\x1a\n")
    assert asked["message_id"] < post["message_id"]

    # The same desk in English for a manager who reads English; the evening report is today so far.
    async with desk.db.unit_of_work() as session:
        await session.execute(update(StaffMember).where(StaffMember.telegram_user_id == desk.manager["id"])
                              .values(locale="en"))
    await desk.write(desk.manager, "/report evening")
    [evening] = posts_with(desk, "Evening report")
    body = evening["text"] or evening["caption"]
    assert "Left unanswered: 1" in body and "Anna" not in body and "Анна Петрова" in body
    assert "New dialogs: 1" in body


async def test_who_may_ask_and_what(desk):
    await desk.write(desk.outsider, "/report")
    assert posts_with(desk, "Отчёт могут запросить сотрудники этого бизнеса.")
    assert not posts_with(desk, "отчёт ·")

    await desk.write(desk.viewer, "/report sometime")
    assert posts_with(desk, "Какой отчёт? /report morning (за вчера) или /report evening (за сегодня).")

    await desk.write(desk.viewer, "/report")  # the viewer reads dialogs: allowed; no word: the slot of the hour
    assert len(posts_with(desk, "отчёт · Магазин")) == 1
