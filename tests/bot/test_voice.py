"""The shop's voice in a dialog topic, end to end through the stand-ins: a manager's voice message (sandbox Bot API)
is transcribed (OpenAI stand-in), spoken in the tenant's voice (ElevenLabs stand-in, the real elevenlabs client), and
previewed in the topic as an OGG/Opus voice note; Send hands those very bytes to the VK customer as an audio message
(the real UserbotGateway and vkbottle against the VK stand-in). ElevenLabs' refusals become a message in the topic."""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core.ai.speech import OUTPUT_FORMAT
from core.media import MediaStore, media_root
from core.models import AIUsage, ChannelKind, UsagePurpose
from core.services import channels as channel_service
from core.services import tenant_settings
from core.services import voice
from sandbox.elevenlabs import PREMADE_VOICES, ElevenLabsSandbox
from sandbox.openai_api import OpenAISandbox
from sandbox.runner import serve
from sandbox.vk import synth
from tests.userbots.conftest import GROUP, serve_vk
from userbots.gateway import UserbotGateway

VOICE_ID = next(iter(PREMADE_VOICES))
XI_KEY = "xi-shop-key-0001"
OPENAI_KEY = "sk-voice-test-0001"
CUSTOMER = 500_000_777


class Jobs:
    """The task queue the voice handlers give their jobs to; the test runs them as a worker would."""

    def __init__(self):
        self.queued: list[tuple[str, dict]] = []

    async def enqueue(self, name: str, **kwargs) -> None:
        self.queued.append((name, kwargs))


@pytest.fixture
async def stands():
    eleven = ElevenLabsSandbox(api_keys={XI_KEY: []})
    eleven_runner, eleven_url = await serve(eleven.app)
    openai_sb = OpenAISandbox(api_key=OPENAI_KEY)
    openai_runner, openai_url = await serve(openai_sb.app)
    vk = await serve_vk(time_scale=20.0)
    yield eleven, eleven_url, openai_sb, openai_url + "/v1", vk
    await vk.runner.cleanup()
    await openai_runner.cleanup()
    await eleven_runner.cleanup()


async def voice_desk(make_desk, stands, *, voice_on: bool = True):
    eleven, eleven_url, openai_sb, openai_url, vk = stands
    desk = await make_desk()
    settings = desk.ctx.settings
    settings.voice.elevenlabs_base_url = eleven_url
    settings.ai.openai_api_key = SecretStr(OPENAI_KEY)
    settings.ai.openai_base_url = openai_url
    settings.ai.ai_max_attempts = 1
    settings.vk.vk_api_url = vk.api_url
    jobs = Jobs()
    desk.ctx.services["task_queue"] = jobs
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake)
    desk.dp = build_dispatcher(runtime, desk.ctx.services)
    store = MediaStore(media_root(settings.data_dir))

    async def from_store(item: dict) -> bytes:
        return await store.read(item["storage_key"]) if item.get("storage_key") else \
            (await desk.ctx.services["manager_bot"].download(item["telegram_file_id"])).getvalue()

    # The shop's VK community is the dialog's channel: sends go through the real gateway.
    async with desk.db.unit_of_work() as session:
        channel_id = await channel_service.add_channel(session, desk.ctx.secrets, tenant_id=desk.tenant_id,
                                                       kind=ChannelKind.VK_COMMUNITY, external_id=str(GROUP),
                                                       title="Магазин VK", credentials=vk.token)
        if voice_on:
            await tenant_settings.update(session, desk.tenant_id, {
                "voice_enabled": True, "elevenlabs_voice_id": VOICE_ID, "elevenlabs_api_key": XI_KEY,
            }, secrets=desk.ctx.secrets)
    gateway = UserbotGateway(desk.db, desk.ctx.secrets, settings, fetch_media=from_store)
    desk.ctx.services["channel_gateway"] = gateway
    desk.channel_id = channel_id
    return desk, jobs, gateway


async def run_jobs(desk, jobs: Jobs) -> list:
    done = []
    while jobs.queued:
        name, kwargs = jobs.queued.pop(0)
        done.append(await desk.tasks[name](**kwargs))
    await desk.settle()
    return done


def voice_notes(desk, thread_id: int) -> list[dict]:
    return [m for m in desk.thread(thread_id) if m["by_bot"] and (m["media"] or {}).get("type") == "voice"]


def shown(desk, thread_id: int, message_id: int) -> dict:
    """The topic message as it is now (after any edits)."""
    return next(m for m in desk.thread(thread_id) if m["message_id"] == message_id)


async def tap(desk, message: dict, *callback_data: str) -> None:
    """Presses on a message's buttons, all reaching the bot before it handles the first (a double tap, or a keyboard
    the client still shows after another press); then the updates are handled and the outbox drained."""
    for data in callback_data:
        await desk.sb.press_button(desk.manager["id"], desk.group_chat_id, message["message_id"], data)
    await desk.settle()


async def tap_at_once(desk, message: dict, *callback_data: str) -> None:
    """Presses handled at the same time, as by two bot processes (or two managers): each update in its own unit of
    work, concurrently."""
    for data in callback_data:
        await desk.sb.press_button(desk.manager["id"], desk.group_chat_id, message["message_id"], data)
    updates = await desk.bot.get_updates(offset=desk.offset, timeout=0)
    assert len(updates) == len(callback_data)
    desk.offset = updates[-1].update_id + 1
    await asyncio.gather(*(desk.dp.feed_update(desk.bot, update) for update in updates))
    await desk.settle()


def answers(desk, message: dict) -> list[dict]:
    return [a for a in desk.sb.callback_answers if a["message_id"] == message["message_id"]]


def buttons(message: dict) -> dict[str, str]:
    return {b["callback_data"][:4]: b["callback_data"]
            for row in (message["reply_markup"] or {}).get("inline_keyboard", []) for b in row}


async def open_topic(desk, text: str = "Здравствуйте, куртка M есть?"):
    customer = {"id": CUSTOMER, "first_name": "Анна", "last_name": "VK"}
    received = await desk.customer_writes(customer, text)
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    return received, topic


async def test_a_managers_voice_becomes_the_shops_voice_and_the_vk_customer_gets_those_bytes(make_desk, stands):
    eleven, _, openai_sb, _, vk = stands
    desk, jobs, gateway = await voice_desk(make_desk, stands)
    try:
        received, topic = await open_topic(desk)
        spoken = "Да, куртка M есть, доставим завтра."
        recording = synth.ogg_opus(3, 42)
        openai_sb.register_transcript(recording, spoken)

        said = await desk.write(desk.manager, thread_id=topic.thread_id, voice=recording)
        assert vk.sandbox.sent == []  # held: the bot offers to re-voice it
        offer = next(m for m in desk.thread(topic.thread_id) if m["by_bot"] and "vo:r:" in str(m["reply_markup"]))
        assert offer["reply_to_message_id"] == said["message_id"]
        await desk.press(desk.manager, offer["message_id"], buttons(offer)["vo:r"])
        assert [name for name, _ in jobs.queued] == [voice.SYNTHESIZE]
        assert await run_jobs(desk, jobs) == ["preview"]
        offer_now = shown(desk, topic.thread_id, offer["message_id"])  # taken: it says so, its buttons are gone
        assert "Переозвучиваю" in offer_now["text"] and buttons(offer_now) == {}

        [preview] = voice_notes(desk, topic.thread_id)
        audio = desk.sb.files[preview["media"]["file_id"]].data
        assert audio[:4] == b"OggS" and b"OpusHead" in audio[:200]
        assert spoken in preview["caption"]
        tts = [r for r in eleven.requests if r["path"].startswith("/v1/text-to-speech/")]
        assert tts[-1]["query"]["output_format"] == OUTPUT_FORMAT and tts[-1]["json"]["text"] == spoken

        # Send pressed twice, both presses handled at once (a double tap): one send, the other press answered.
        await tap_at_once(desk, preview, buttons(preview)["vp:s"], buttons(preview)["vp:s"])
        [sent] = vk.sandbox.sent
        assert sent["peer_id"] == CUSTOMER and sent["attachment"].startswith("audio_message")
        owner, media_id = sent["attachment"].removeprefix("audio_message").split("_")[:2]
        data, mime = vk.sandbox._blobs[("audio_message", int(owner), int(media_id))]
        assert hashlib.sha256(data).digest() == hashlib.sha256(audio).digest() and mime == "audio/ogg"

        first, second = sorted(answers(desk, preview), key=lambda a: a["show_alert"])
        assert (first["text"], first["show_alert"]) == ("Отправляю клиенту…", False)
        assert second["show_alert"] and "уже отправлено клиенту" in second["text"]
        # The preview now says it was sent, with the same text, and has no buttons left to press.
        sent_preview = shown(desk, topic.thread_id, preview["message_id"])
        assert "Отправлено клиенту" in sent_preview["caption"] and spoken in sent_preview["caption"]
        assert buttons(sent_preview) == {} and sent_preview["media"] == preview["media"]
        await desk.settle()
        assert len(vk.sandbox.sent) == 1
        # The spend holds the characters spoken exactly, and the seconds heard in their own column.
        async with desk.db.unit_of_work() as session:
            usage = list((await session.execute(select(AIUsage).order_by(AIUsage.id))).scalars())
        tts_rows = [u for u in usage if u.purpose == UsagePurpose.TTS]
        assert [(u.provider, u.characters) for u in tts_rows] == [("elevenlabs", len(spoken))]
        assert tts_rows[0].cost_usd == Decimal(len(spoken)) * Decimal("180") / Decimal(1_000_000)
        heard = [u for u in usage if u.model == "whisper-1"]
        assert [(u.seconds, u.characters, u.cost_usd) for u in heard] == \
            [(3, 0, Decimal(3) * Decimal(100) / Decimal(1_000_000))]
    finally:
        await gateway.close()


async def test_voice_command_reply_to_redo_and_cancel(make_desk, stands):
    eleven, _, _, _, vk = stands
    desk, jobs, gateway = await voice_desk(make_desk, stands)
    try:
        _, topic = await open_topic(desk)
        await desk.write(desk.manager, "/voice Добрый день! Куртка есть.", thread_id=topic.thread_id)
        await run_jobs(desk, jobs)
        [first] = voice_notes(desk, topic.thread_id)
        # A reply to the preview with a new text makes a new preview of that text; the old one is replaced. Send on
        # the old one, pressed while its buttons were still shown, is answered and sends nothing.
        await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id,
                                 "Добрый день! Куртка M есть, размер в наличии.", thread_id=topic.thread_id,
                                 reply_to_message_id=first["message_id"])
        await tap(desk, first, buttons(first)["vp:s"])
        await run_jobs(desk, jobs)
        second = voice_notes(desk, topic.thread_id)[-1]
        assert second["message_id"] != first["message_id"] and "размер в наличии" in second["caption"]
        assert vk.sandbox.sent == []
        [refused] = answers(desk, first)
        assert refused["show_alert"] and "уже сделан новый текст" in refused["text"]
        first_now = shown(desk, topic.thread_id, first["message_id"])
        assert "Заменено новым вариантом" in first_now["caption"] and "Куртка есть." in first_now["caption"]
        assert buttons(first_now) == {}
        assert "Заменено" not in shown(desk, topic.thread_id, second["message_id"])["caption"]

        # Redo speaks the same text again: a third preview; the second says it was replaced.
        await tap(desk, second, buttons(second)["vp:r"])
        await run_jobs(desk, jobs)
        third = voice_notes(desk, topic.thread_id)[-1]
        assert third["message_id"] not in (first["message_id"], second["message_id"])
        assert "размер в наличии" in third["caption"] and set(buttons(third)) == {"vp:s", "vp:r", "vp:c"}
        second_now = shown(desk, topic.thread_id, second["message_id"])
        assert "Заменено новым вариантом" in second_now["caption"] and buttons(second_now) == {}

        # Cancel, then Send before the bot has taken the buttons away: cancelled, nothing sent, Send answered.
        await tap(desk, third, buttons(third)["vp:c"], buttons(third)["vp:s"])
        assert vk.sandbox.sent == []
        cancelled, late_send = answers(desk, third)
        assert cancelled["text"] == "Отменено." and not cancelled["show_alert"]
        assert late_send["show_alert"] and late_send["text"] == "Это голосовое отменено."
        third_now = shown(desk, topic.thread_id, third["message_id"])
        assert third_now["caption"].startswith("✖️ Отменено") and buttons(third_now) == {}
        assert len(voice_notes(desk, topic.thread_id)) == 3  # every take stays, each saying what became of it
    finally:
        await gateway.close()


@pytest.mark.parametrize("failure, words", [("key", "401"), ("quota", "лимит"), ("voice", "нет выбранного голоса")])
async def test_elevenlabs_refusals_are_told_in_the_topic(make_desk, stands, failure, words):
    eleven, _, _, _, vk = stands
    desk, jobs, gateway = await voice_desk(make_desk, stands)
    try:
        _, topic = await open_topic(desk)
        changes = {"key": {"elevenlabs_api_key": "xi-wrong"}, "voice": {"elevenlabs_voice_id": "NoSuchVoice"},
                   "quota": {}}[failure]
        if failure == "quota":
            eleven.character_limit = 5
        if changes:
            async with desk.db.unit_of_work() as session:
                await tenant_settings.update(session, desk.tenant_id, changes, secrets=desk.ctx.secrets)
        await desk.write(desk.manager, "/voice Добрый день! Куртка есть.", thread_id=topic.thread_id)
        await run_jobs(desk, jobs)
        assert voice_notes(desk, topic.thread_id) == []
        told = [m["text"] for m in desk.thread(topic.thread_id) if m["by_bot"] and m["text"]]
        assert any(words in text for text in told), told
        assert vk.sandbox.sent == []
    finally:
        await gateway.close()


async def test_without_the_shops_voice_a_managers_voice_goes_as_it_is(make_desk, stands):
    _, _, _, _, vk = stands
    desk, jobs, gateway = await voice_desk(make_desk, stands, voice_on=False)
    try:
        _, topic = await open_topic(desk)
        await desk.write(desk.manager, thread_id=topic.thread_id, voice=synth.ogg_opus(2, 7))
        assert jobs.queued == []
        [sent] = vk.sandbox.sent
        assert sent["attachment"].startswith("audio_message")
    finally:
        await gateway.close()


async def test_send_as_it_is_once_and_the_offer_says_so(make_desk, stands):
    _, _, _, _, vk = stands
    desk, jobs, gateway = await voice_desk(make_desk, stands)
    try:
        _, topic = await open_topic(desk)
        await desk.write(desk.manager, thread_id=topic.thread_id, voice=synth.ogg_opus(2, 9))
        offer = next(m for m in desk.thread(topic.thread_id) if m["by_bot"] and "vo:a:" in str(m["reply_markup"]))
        await tap(desk, offer, buttons(offer)["vo:a"], buttons(offer)["vo:r"])  # "as is", then a stale "re-voice"
        [sent] = vk.sandbox.sent
        assert sent["attachment"].startswith("audio_message") and jobs.queued == []
        sending, refused = answers(desk, offer)
        assert not sending["show_alert"] and refused["show_alert"] and "уже" in refused["text"]
        offer_now = shown(desk, topic.thread_id, offer["message_id"])
        assert "как есть" in offer_now["text"] and buttons(offer_now) == {}
    finally:
        await gateway.close()
