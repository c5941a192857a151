"""A topic per dialog: created once (even under races), never for imported history, recreated when an admin deletes
it, reopened when closed; customer edits, deletions, long texts, media and albums mirrored faithfully."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.models import Attachment, DialogTopic, Message, OutboxCommand
from core.services.workspace import base
from core.services.workspace import mirror as ws_mirror

from .desk import Desk, attachment


async def test_topic_deleted_by_an_admin_is_recreated_with_the_next_message(desk: Desk):
    anna = desk.customer()
    first = await desk.customer_writes(anna, "Привет")
    await desk.settle()
    old = (await desk.topic(first.dialog_id)).thread_id
    desk.sb.delete_topic(desk.group_chat_id, old)

    await desk.customer_writes(anna, "Вы здесь?")
    await desk.settle()
    topic = await desk.topic(first.dialog_id)
    assert topic.thread_id != old
    [live] = desk.live_topics()
    assert live["id"] == topic.thread_id and "Анна Петрова" in live["name"]
    texts = [m["text"] for m in desk.thread(topic.thread_id)]
    assert "Вы здесь?" in texts  # resent into the new topic
    pinned = [m for m in desk.thread(topic.thread_id) if m["pinned"]]
    assert len(pinned) == 1 and pinned[0]["message_id"] == topic.pinned_message_id  # a new pinned card


async def test_closed_topic_is_reopened_for_the_next_message(desk: Desk):
    anna = desk.customer()
    first = await desk.customer_writes(anna, "Привет")
    await desk.settle()
    thread_id = (await desk.topic(first.dialog_id)).thread_id
    desk.sb.close_topic(desk.group_chat_id, thread_id)
    await desk.customer_writes(anna, "Ау")
    await desk.settle()
    [live] = desk.live_topics()
    assert live["id"] == thread_id and not live["closed"]
    assert desk.thread(thread_id)[-1]["text"] == "Ау"


async def test_two_concurrent_first_messages_make_one_topic(desk: Desk):
    anna = desk.customer()
    results = await asyncio.gather(desk.customer_writes(anna, "Первое"), desk.customer_writes(anna, "Второе"))
    assert results[0].dialog_id == results[1].dialog_id
    await desk.settle()
    [live] = desk.live_topics()
    async with desk.db.unit_of_work() as session:
        assert (await session.execute(select(func.count()).select_from(DialogTopic))).scalar_one() == 1
        creates = (await session.execute(
            select(func.count()).select_from(OutboxCommand).where(OutboxCommand.kind == base.Kind.CREATE_TOPIC)
        )).scalar_one()
    assert creates == 1
    text = "\n".join(m["text"] or "" for m in desk.thread(live["id"]))
    assert "Первое" in text and "Второе" in text


async def test_imported_history_is_never_mirrored(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Старое сообщение")
    async with desk.db.unit_of_work() as session:
        old = Message(tenant_id=received.tenant_id, dialog_id=received.dialog_id, external_id="imported-1",
                      direction="in", author_kind="customer", text="Из истории", sent_at=received_time(),
                      is_imported=True)
        session.add(old)
        await session.flush()
        assert await ws_mirror.mirror_message(session, old.id) == 0
    await desk.settle()
    texts = [m["text"] for t in desk.live_topics() for m in desk.thread(t["id"])]
    assert "Старое сообщение" in texts and "Из истории" not in texts


def received_time():
    from datetime import UTC, datetime

    return datetime(2024, 1, 1, tzinfo=UTC)


async def test_no_topic_for_a_dialog_with_only_imported_history(desk: Desk):
    anna = desk.customer()
    async with desk.db.unit_of_work() as session:
        from core import inbox

        received = await inbox.receive(session, desk.inbound(anna, "Из истории"))
        message = await session.get(Message, received.message_id)
        message.is_imported = True
    await desk.follow_up(received)
    await desk.settle()
    assert desk.live_topics() == []


async def test_a_backlog_becomes_one_post_in_order(desk: Desk):
    anna = desk.customer()
    for n in range(1, 6):
        await desk.customer_writes(anna, f"Сообщение {n}")
    await desk.settle()
    [live] = desk.live_topics()
    posts = [m["text"] for m in desk.thread(live["id"]) if not m["pinned"]]
    assert posts == ["Сообщение 1\n\nСообщение 2\n\nСообщение 3\n\nСообщение 4\n\nСообщение 5"]


async def test_edit_and_deletion_become_notes_on_the_mirror(desk: Desk):
    from datetime import UTC, datetime

    from core import inbox

    anna = desk.customer()
    received = await desk.customer_writes(anna, "Хочу синий", external_id="m1")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        edited = await inbox.record_edit(session, desk.channel_id, str(anna["id"]), "m1", "Хочу красный",
                                         datetime.now(UTC))
    await desk.follow_up(edited)
    async with desk.db.unit_of_work() as session:
        deleted = await inbox.record_deletion(session, desk.channel_id, str(anna["id"]), "m1", datetime.now(UTC))
    await desk.follow_up(deleted)
    await desk.settle()
    thread_id = (await desk.topic(received.dialog_id)).thread_id
    mirror = next(m for m in desk.thread(thread_id) if m["text"] == "Хочу синий")
    edit_note, delete_note = desk.thread(thread_id)[-2:]
    assert edit_note["reply_to_message_id"] == mirror["message_id"]
    assert edit_note["text"] == "✏️ Клиент изменил сообщение:\nХочу синий\nХочу красный"
    assert delete_note["text"].startswith("🗑 Клиент удалил сообщение")


async def test_long_text_is_split_and_arrives_whole(desk: Desk):
    anna = desk.customer()
    paragraph = "Очень подробный вопрос про доставку & оплату <без тегов>. " * 40
    text = "\n\n".join([paragraph.strip()] * 4)  # ≈ 9 000 characters
    received = await desk.customer_writes(anna, text)
    await desk.settle()
    thread_id = (await desk.topic(received.dialog_id)).thread_id
    parts = [m["text"] for m in desk.thread(thread_id) if not m["pinned"]]
    assert len(parts) == 4 and all(len(p) <= 4096 for p in parts)  # cut at paragraph breaks
    assert "\n\n".join(parts) == text


async def test_receipt_photo_and_album_are_mirrored_as_media(desk: Desk, tmp_path):
    media_root = desk.ctx.settings.data_dir / "media"
    media_root.mkdir(parents=True, exist_ok=True)
    for name in ("receipt.jpg", "a.jpg", "b.jpg"):
        (media_root / name).write_bytes(b"\xff\xd8\xff\xe0" + name.encode() * 50)
    anna = desk.customer()
    receipt = await desk.customer_writes(anna, "Оплатила, вот чек", attachments=(attachment("photo", mime="image/jpeg"),))
    async with desk.db.unit_of_work() as session:
        # The userbot's downloader stores the file and names it on the attachment; the post reads it when it goes.
        row = (await session.execute(select(Attachment).where(Attachment.message_id == receipt.message_id))).scalar_one()
        row.storage_key = "receipt.jpg"
    await desk.settle()
    thread_id = (await desk.topic(receipt.dialog_id)).thread_id
    photo = next(m for m in desk.thread(thread_id) if m["media"])
    assert photo["media"]["type"] == "photo" and photo["caption"] == "Оплатила, вот чек"
    async with desk.db.unit_of_work() as session:
        cached = (await session.execute(select(Attachment.telegram_file_id))).scalar_one()
    assert cached == photo["media"]["file_id"]  # re-sent later without uploading again

    album = [await desk.customer_writes(anna, "", media_group_id="album-1", attachments=(
        attachment("photo", mime="image/jpeg"),)) for _ in range(2)]
    async with desk.db.unit_of_work() as session:
        rows = (await session.execute(select(Attachment).where(Attachment.message_id.in_(
            [r.message_id for r in album])))).scalars()
        for row, name in zip(rows, ("a.jpg", "b.jpg")):
            row.storage_key = name
    await desk.settle()
    group_posts = [m for m in desk.thread(thread_id) if m["media_group_id"]]
    assert len(group_posts) == 2 and len({m["media_group_id"] for m in group_posts}) == 1


async def test_documents_voice_and_missing_files(desk: Desk):
    media_root = desk.ctx.settings.data_dir / "media"
    media_root.mkdir(parents=True, exist_ok=True)
    (media_root / "check.pdf").write_bytes(b"%PDF-1.4 receipt")
    (media_root / "hello.ogg").write_bytes(b"OggS" + b"\0" * 60)
    anna = desk.customer()
    receipt = await desk.customer_writes(anna, "Чек об оплате", attachments=(
        attachment("document", mime="application/pdf", file_name="check.pdf"),))
    voice = await desk.customer_writes(anna, "", attachments=(attachment("voice", mime="audio/ogg", duration=3),))
    lost = await desk.customer_writes(anna, "А это видео", attachments=(
        attachment("video", mime="video/mp4", error="больше 20 МБ"),))
    async with desk.db.unit_of_work() as session:
        for received, key in ((receipt, "check.pdf"), (voice, "hello.ogg")):
            row = (await session.execute(select(Attachment).where(Attachment.message_id == received.message_id))).scalar_one()
            row.storage_key = key
    await desk.settle()
    thread_id = (await desk.topic(lost.dialog_id)).thread_id
    posts = [m for m in desk.thread(thread_id) if not m["pinned"]]
    document, voice_post, missing = posts
    assert document["media"]["type"] == "document" and document["media"]["file_name"] == "check.pdf"
    assert document["caption"] == "Чек об оплате"
    assert voice_post["media"]["type"] == "voice"
    assert missing["text"] == "А это видео\n📎 Видео — файл недоступен: больше 20 МБ"  # shown, never dropped


async def test_channel_echo_of_our_own_send_in_flight_is_not_mirrored_or_counted_twice(desk: Desk):
    """A VK long-poll echo of a reply can arrive before the dispatcher records the delivery."""
    from core import outbox
    from core.models import CommandState, Dialog, Direction

    anna = desk.customer()
    first = await desk.customer_writes(anna, "Сколько стоит?")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        command = await outbox.enqueue(
            session, kind=base.Kind.SEND_CUSTOMER, destination=outbox.channel_dest(desk.channel_id),
            payload={"dialog_id": first.dialog_id, "text": "45 990 ₽"}, idempotency_key="echo-test",
            tenant_id=first.tenant_id, dialog_id=first.dialog_id, state=CommandState.IN_FLIGHT)
        command_id = command.id
    echo = await desk.receive(desk.inbound(anna, "45 990 ₽", direction=Direction.OUT, external_id="echo-1"))
    async with desk.db.unit_of_work() as session:
        assert await ws_mirror.mirror_message(session, echo.message_id) == 0
    texts = [m["text"] for m in desk.thread((await desk.topic(first.dialog_id)).thread_id)]
    assert "45 990 ₽" not in " ".join(t or "" for t in texts)
    # The dispatcher now records the same delivery: one row, counted once.
    from core.ports import Delivery
    from core.services.workspace.customer_commands import SendCustomerMessage

    async with desk.db.unit_of_work() as session:
        before = (await session.get(Dialog, first.dialog_id)).message_count
        command = await session.get(OutboxCommand, command_id)
        await SendCustomerMessage(desk.ctx.settings.data_dir / "media").record(
            session, [command], Delivery(external_id="echo-1"), command.created_at)
    async with desk.db.unit_of_work() as session:
        assert (await session.get(Dialog, first.dialog_id)).message_count == before
        rows = (await session.execute(select(func.count()).select_from(Message).where(
            Message.dialog_id == first.dialog_id, Message.external_id == "echo-1"))).scalar_one()
        assert rows == 1


async def test_channel_echo_of_the_second_part_of_a_long_reply_is_not_mirrored(desk: Desk):
    """A reply longer than one message went out in parts; the channel reports each part back as a new message."""
    from core import outbox
    from core.models import CommandState, Direction

    anna = desk.customer()
    first = await desk.customer_writes(anna, "Расскажите подробно про доставку")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        command = await outbox.enqueue(
            session, kind=base.Kind.SEND_CUSTOMER, destination=outbox.channel_dest(desk.channel_id),
            payload={"dialog_id": first.dialog_id, "text": "часть 1 … часть 2"}, idempotency_key="parts-test",
            tenant_id=first.tenant_id, dialog_id=first.dialog_id, state=CommandState.DONE)
        command.result = {"external_id": "part-1", "message_ids": ["part-1", "part-2"]}
    await desk.receive(desk.inbound(anna, "часть 2", direction=Direction.OUT, external_id="part-2"))
    await desk.receive(desk.inbound(anna, "написано с телефона", direction=Direction.OUT, external_id="phone-1"))
    await desk.settle()
    texts = " ".join(m["text"] or "" for m in desk.thread((await desk.topic(first.dialog_id)).thread_id))
    assert "часть 2" not in texts
    assert "написано с телефона" in texts  # the owner's own reply from the phone is still shown
