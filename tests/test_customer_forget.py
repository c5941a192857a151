"""`salesop customer forget`: a customer's texts, files, identities, memory and training samples go; anonymous counts
stay; another customer's data (even a file with the same content) is untouched; an audit event records it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core import inbox
from core.db import Database
from core.inbox import InboundAttachment, InboundMessage, Sender
from core.media import MediaStore, media_root
from core.models import (
    Attachment,
    AttachmentKind,
    ChannelAccount,
    ChannelKind,
    Customer,
    CustomerIdentity,
    Decision,
    Dialog,
    Event,
    Message,
    Suggestion,
    TrainingAction,
    TrainingSample,
)
from core.services.tenants import create_tenant
from tests.clirun import run_cli_async

PHOTO = b"\x89PNG\r\n\x1a\n" + b"the same picture" * 10


@pytest.fixture
def env(settings):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(settings.data_dir),
            "SALESOP_DATABASE_URL": settings.db.database_url.get_secret_value(),
            "SALESOP_MASTER_KEY": settings.security.master_key.get_secret_value(), "SALESOP_LANGUAGE": "en"}


async def _customer_writes(db, channel_id, user_id: str, name: str, texts: list[str], photo=None):
    """Live messages as a userbot records them; the first carries `photo` (already in the media store)."""
    received = []
    async with db.unit_of_work() as session:
        for n, text in enumerate(texts):
            attachments = []
            if photo is not None and n == 0:
                attachments.append(InboundAttachment(AttachmentKind.PHOTO, mime="image/png", size=photo.size,
                                                     storage_key=photo.storage_key, sha256=photo.sha256))
            received.append(await inbox.receive(session, InboundMessage(
                channel_id=channel_id, external_chat_id=user_id, external_id=f"{user_id}-{n}",
                sender=Sender(user_id, name, "Петрова", phone="+79990001122", username=f"u{user_id}",
                              profile_url=f"https://vk.com/id{user_id}"),
                sent_at=datetime.now(UTC), text=text, attachments=attachments)))
    return received


async def test_forget_a_customer(env, settings, db_url):
    shared = MediaStore(media_root(settings.data_dir)).put(PHOTO, namespace="vk", mime="image/png")
    own = MediaStore(media_root(settings.data_dir)).put(PHOTO + b"only hers", namespace="vk", mime="image/png")
    db = Database(db_url, pool_size=2)
    try:
        async with db.unit_of_work() as session:
            tenant = await create_tenant(session, slug="shop", name="Shop")
            await session.flush()
            channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1")
            session.add(channel)
            await session.flush()
            tenant_id, channel_id = tenant.id, channel.id
        anna = await _customer_writes(db, channel_id, "501", "Анна", ["Мой адрес: Ленина 5", "Телефон 8-999"],
                                      photo=shared)
        boris = await _customer_writes(db, channel_id, "502", "Борис", ["Привет"], photo=shared)
        async with db.unit_of_work() as session:
            # Her second photo is hers alone; her memory, a draft and a training sample from her dialog.
            session.add(Attachment(message_id=anna[1].message_id, kind=AttachmentKind.PHOTO,
                                   storage_key=own.storage_key, sha256=own.sha256))
            dialog = await session.get(Dialog, anna[0].dialog_id)
            customer = await session.get(Customer, dialog.customer_id)
            customer.summary, customer.memory, customer.notes = "Живёт на Ленина", {"preferences": ["розы"]}, "VIP"
            suggestion = Suggestion(tenant_id=tenant_id, dialog_id=dialog.id, message_id=anna[1].message_id,
                                    text="Доставим на Ленина 5", intent="delivery", confidence=0.9,
                                    decision=Decision.NEED_APPROVAL, inputs={"customer_text": "Ленина 5"})
            session.add(suggestion)
            await session.flush()
            session.add(TrainingSample(tenant_id=tenant_id, dialog_id=dialog.id, suggestion_id=suggestion.id,
                                       customer_message="Мой адрес: Ленина 5", draft="Доставим", final="Доставим!",
                                       intent="delivery", action=TrainingAction.EDITED))
            anna_id, anna_dialog = customer.id, dialog.id

        result = await run_cli_async(env, "customer", "forget", "--tenant", "shop", "--customer", str(anna_id),
                                     "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report == {"customer_id": anna_id, "dialogs": 1, "messages": 2, "attachments": 2, "identities": 1,
                          "training_samples": 1, "cancelled_commands": 0, "files": 1}

        async with db.unit_of_work() as session:
            messages = list((await session.execute(
                select(Message).where(Message.dialog_id == anna_dialog).order_by(Message.id))).scalars())
            assert [m.text for m in messages] == ["", ""]  # the rows stay: counts and times for analytics
            dialog = await session.get(Dialog, anna_dialog)
            assert dialog.message_count == 2 and dialog.external_chat_id == f"forgotten:{anna_dialog}"
            customer = await session.get(Customer, anna_id)
            assert (customer.first_name, customer.phone, customer.username, customer.profile_url, customer.summary,
                    customer.notes, customer.memory) == (None, None, None, None, None, None, {})
            assert customer.display_name == f"#{anna_id}"
            assert not (await session.execute(
                select(CustomerIdentity).where(CustomerIdentity.customer_id == anna_id))).first()
            assert not (await session.execute(
                select(TrainingSample).where(TrainingSample.dialog_id == anna_dialog))).first()
            assert not (await session.execute(
                select(Attachment).join(Message).where(Message.dialog_id == anna_dialog))).first()
            draft = (await session.execute(select(Suggestion).where(Suggestion.dialog_id == anna_dialog))).scalar_one()
            assert draft.text == "" and draft.inputs == {}
            [event] = (await session.execute(select(Event).where(Event.kind == "customer_forgotten"))).scalars()
            assert event.tenant_id == tenant_id and event.payload["customer_id"] == anna_id
            # Boris is untouched, and the picture he sent too (the same content, one file in the store).
            assert (await session.execute(select(Message.text).where(
                Message.dialog_id == boris[0].dialog_id))).scalars().all() == ["Привет"]
            assert (await session.execute(select(func.count()).select_from(CustomerIdentity))).scalar_one() == 1
        store = MediaStore(media_root(settings.data_dir))
        assert store.path_of(shared.storage_key).exists()
        assert not store.path_of(own.storage_key).exists()
        # Forgetting twice is harmless; an unknown customer is one line.
        again = await run_cli_async(env, "customer", "forget", "--tenant", "shop", "--customer", str(anna_id))
        assert again.returncode == 0 and "deleted" in again.stdout
        unknown = await run_cli_async(env, "customer", "forget", "--tenant", "shop", "--customer", "999999")
        assert unknown.returncode == 1 and unknown.stderr.splitlines() == [
            "salesop: There is no customer 999999 in this business."]
    finally:
        await db.dispose()
