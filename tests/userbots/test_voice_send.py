"""A preview in the shop's voice reaches the customer as a real voice message, with the very bytes the manager heard:
spoken by the ElevenLabs stand-in through core.ai.speech (OGG/Opus), kept in the media store, and sent through the
real gateway — a VK community (docs.getMessagesUploadServer type=audio_message, docs.save, messages.send with the
attachment) and a Telegram account (Telethon, a voice note: messages.sendMedia with DocumentAttributeAudio voice)."""

from __future__ import annotations

import hashlib

import pytest

from core.ai.speech import ElevenLabsSpeech, SpeechError
from core.media import MediaStore, media_root
from sandbox.elevenlabs import PREMADE_VOICES, ElevenLabsSandbox
from sandbox.runner import serve
from userbots.gateway import UserbotGateway
from userbots.telegram.client import TelegramAccounts

from .conftest import GROUP
from .test_telegram_mtproto import connected, running, until_stored  # noqa: F401  (fixtures and helpers)

XI_KEY = "xi-send-test-0001"
VOICE_ID = next(iter(PREMADE_VOICES))
CUSTOMER = 500_000_321
TEXT = "Здравствуйте! Куртка M есть, отправим сегодня."


@pytest.fixture
async def eleven():
    sandbox = ElevenLabsSandbox(api_keys={XI_KEY: []}, character_limit=200)
    runner, base = await serve(sandbox.app)
    yield ElevenLabsSpeech(base, "eleven_multilingual_v2", timeout=5.0), sandbox
    await runner.cleanup()


async def preview(speech: ElevenLabsSpeech, settings) -> tuple[bytes, str]:
    audio = await speech.synthesize(TEXT, voice_id=VOICE_ID, api_key=XI_KEY)
    stored = await MediaStore(media_root(settings.data_dir)).save(audio, namespace="voice/1", mime="audio/ogg")
    return audio, stored.storage_key


def store_fetcher(settings):
    store = MediaStore(media_root(settings.data_dir))

    async def fetch(item: dict) -> bytes:
        return await store.read(item["storage_key"])

    return fetch


async def test_vk_customer_gets_an_audio_message_with_the_previews_bytes(eleven, db, secrets, vk, vk_settings, shop):
    speech, _ = eleven
    audio, key = await preview(speech, vk_settings)
    assert audio[:4] == b"OggS" and b"OpusHead" in audio[:100]
    gateway = UserbotGateway(db, secrets, vk_settings, fetch_media=store_fetcher(vk_settings))
    try:
        payload = {"text": "", "media": [{"kind": "voice", "storage_key": key, "file_name": "voice.ogg",
                                          "mime": "audio/ogg"}]}
        delivery = await gateway.send(shop.channel_id, str(CUSTOMER), payload, idempotency_key="tg:-1:5:reply")
    finally:
        await gateway.close()
    [sent] = vk.sandbox.sent
    assert sent["message"] == "" and sent["attachment"].startswith("audio_message")
    owner, media_id = (int(x) for x in sent["attachment"].removeprefix("audio_message").split("_")[:2])
    data, mime = vk.sandbox._blobs[("audio_message", owner, media_id)]
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(audio).hexdigest() and mime == "audio/ogg"
    stored = vk.sandbox._communities[GROUP].mailbox.by_id[int(delivery.external_id)]
    assert [a["type"] for a in stored["attachments"]] == ["audio_message"]


async def test_telegram_account_customer_gets_a_voice_note(eleven, db, tg_secrets, tg_settings, mtproto, connected,
                                                           tasks):
    speech, _ = eleven
    owner, customer, channel_id = connected
    audio, key = await preview(speech, tg_settings)
    accounts = TelegramAccounts(db)
    gateway = UserbotGateway(db, tg_secrets, tg_settings, fetch_media=store_fetcher(tg_settings), telegram=accounts)
    async with running(db, tasks.queue, tg_settings, tg_secrets, channel_id) as account:
        accounts.add(account)
        await mtproto.customer_writes(owner, customer, "Пришлите голосовое, пожалуйста")
        await until_stored(db, channel_id, 1)
        payload = {"text": "", "media": [{"kind": "voice", "storage_key": key, "file_name": "voice.ogg",
                                          "mime": "audio/ogg"}]}
        await gateway.send(channel_id, str(customer), payload, idempotency_key="tg:-1:6:reply")
        [voice] = [m for m in mtproto.messages(owner, customer) if m["out"]]
    assert voice["media"]["kind"] == "voice" and voice["media"]["mime"] == "audio/ogg"
    assert voice["media"]["size"] == len(audio) and voice["text"] == ""


async def test_elevenlabs_refusals_are_speech_errors_with_their_code(eleven):
    speech, sandbox = eleven
    with pytest.raises(SpeechError) as wrong_key:
        await speech.synthesize(TEXT, voice_id=VOICE_ID, api_key="xi-wrong")
    with pytest.raises(SpeechError) as no_voice:
        await speech.synthesize(TEXT, voice_id="NoSuchVoice", api_key=XI_KEY)
    with pytest.raises(SpeechError) as quota:
        await speech.synthesize("слово " * 60, voice_id=VOICE_ID, api_key=XI_KEY)  # 360 characters > 200
    assert (wrong_key.value.code, no_voice.value.code, quota.value.code) == \
        ("unauthorized", "voice_not_found", "quota_exceeded")
    voices = await speech.voices(XI_KEY)
    assert {v.voice_id for v in voices} == set(PREMADE_VOICES)
    sample, said = await speech.sample(XI_KEY, VOICE_ID, "en")
    assert sample[:4] == b"OggS" and said.startswith("Hello")
