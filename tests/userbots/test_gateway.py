"""Replies to customers through VK with the real vkbottle client: never twice, long texts split, media uploaded,
and every VK refusal turned into what the dispatcher needs to decide."""

from __future__ import annotations

import pytest

from core.models import ChannelAccount, ChannelStatus
from core.ports import DeliveryError
from sandbox.vk import synth
from userbots.gateway import UserbotGateway, random_id, split_text

from .conftest import GROUP, TIME_SCALE

CUSTOMER = 500_000_123


@pytest.fixture
async def gateway(db, secrets, vk_settings, shop):
    async def fetch_media(item: dict) -> bytes:
        # what the bot would download from Telegram by file id
        return {"photo": synth.png(40, 30, 7), "document": synth.pdf_bytes(1, 2),
                "voice": synth.ogg_opus(2, 5)}[item["kind"]]

    gw = UserbotGateway(db, secrets, vk_settings, fetch_media=fetch_media)
    yield gw
    await gw.close()


async def test_a_retried_command_reaches_the_customer_once(gateway, vk, shop):
    payload = {"text": "Здравствуйте! Куртка M есть в наличии."}
    first = await gateway.send(shop.channel_id, str(CUSTOMER), payload, idempotency_key="suggestion:1:send")
    again = await gateway.send(shop.channel_id, str(CUSTOMER), payload, idempotency_key="suggestion:1:send")
    other = await gateway.send(shop.channel_id, str(CUSTOMER), payload, idempotency_key="suggestion:2:send")
    assert first.external_id == again.external_id != other.external_id
    assert [s["message"] for s in vk.sandbox.sent] == [payload["text"]] * 2
    assert vk.sandbox.sent[0]["random_id"] == random_id("suggestion:1:send")


async def test_long_text_is_split_and_media_is_uploaded(gateway, vk, shop):
    text = ("Абзац про доставку. " * 150 + "\n\n") * 2  # ~6,000 characters: over VK's 4,096
    media = [{"kind": "photo", "telegram_file_id": "AgAD1"}, {"kind": "document", "telegram_file_id": "BQAD2",
                                                                "file_name": "Счёт.pdf"},
             {"kind": "voice", "telegram_file_id": "AwAD3"}]
    delivery = await gateway.send(shop.channel_id, str(CUSTOMER), {"text": text, "media": media},
                                  idempotency_key="tg:-100:77:reply")
    sent = vk.sandbox.sent
    assert len(sent) == 2 and len(delivery.extra["message_ids"]) == 2
    assert all(len(s["message"]) <= 4096 for s in sent)
    assert " ".join(s["message"] for s in sent).split() == text.split()
    kinds = [a.split("-")[0].rstrip("0123456789_") for a in sent[0]["attachment"].split(",")]
    assert kinds == ["photo", "doc", "audio_message"] and sent[1]["attachment"] == ""
    box = vk.sandbox._communities[GROUP].mailbox
    stored = box.by_id[int(delivery.external_id)]
    assert [a["type"] for a in stored["attachments"]] == ["photo", "doc", "audio_message"]


async def test_customer_who_forbade_messages_is_a_permanent_blocked_failure(gateway, vk, shop):
    await vk.sandbox.user_denies(GROUP, CUSTOMER)
    with pytest.raises(DeliveryError) as caught:
        await gateway.send(shop.channel_id, str(CUSTOMER), {"text": "Добрый день"}, idempotency_key="k1")
    assert caught.value.permanent and caught.value.code == "blocked"
    assert vk.sandbox.sent == []


@pytest.mark.parametrize("code, emulated", [(9, 60.0), (29, 600.0)])
async def test_flood_answers_carry_retry_after(gateway, vk, shop, code, emulated):
    vk.sandbox.inject_error("messages.send", code)
    with pytest.raises(DeliveryError) as caught:
        await gateway.send(shop.channel_id, str(CUSTOMER), {"text": "Добрый день"}, idempotency_key="k2")
    assert not caught.value.permanent and caught.value.retry_after == pytest.approx(emulated / TIME_SCALE)
    delivery = await gateway.send(shop.channel_id, str(CUSTOMER), {"text": "Добрый день"}, idempotency_key="k2")
    assert delivery.external_id and len(vk.sandbox.sent) == 1


async def test_too_many_requests_is_absorbed_by_the_pacer(gateway, vk, shop):
    vk.sandbox.inject_error("messages.send", 6, times=2)
    delivery = await gateway.send(shop.channel_id, str(CUSTOMER), {"text": "Добрый день"}, idempotency_key="k3")
    assert delivery.external_id and len(vk.sandbox.sent) == 1


async def test_revoked_token_fails_permanently_and_marks_the_channel(gateway, vk, shop, db):
    vk.sandbox.revoke_token(vk.token)
    with pytest.raises(DeliveryError) as caught:
        await gateway.send(shop.channel_id, str(CUSTOMER), {"text": "Добрый день"}, idempotency_key="k4")
    assert caught.value.permanent and caught.value.code == "revoked"
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    assert channel.status == ChannelStatus.REVOKED and "токен" in channel.status_detail


def test_split_text_keeps_every_word_and_respects_the_limit():
    text = "слово " * 2000
    parts = split_text(text, 4096)
    assert all(0 < len(p) <= 4096 for p in parts) and " ".join(parts).split() == text.split()
    assert split_text("коротко", 4096) == ["коротко"]
    assert split_text("x" * 9000, 4096) == ["x" * 4096, "x" * 4096, "x" * 808]
