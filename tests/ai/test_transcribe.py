"""A customer's voice message: transcribed through the OpenAI stand-in's /v1/audio/transcriptions (the real openai
client), shown in the topic under the voice, and what the AI drafts from; VK's own transcript is used as it is;
without a provider the topic says so and no draft pretends to have heard it. Spend is recorded per second."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot import component
from core.ai.pipeline import SuggestionPipeline
from core.ai.providers import build_providers
from core.ai.transcribe import TRANSCRIBE_VOICE
from core.media import MediaStore, media_root
from core.models import AIUsage, Message, Suggestion
from sandbox.openai_api import OpenAISandbox
from sandbox.runner import serve
from sandbox.vk import synth
from tests.bot.conftest import make_desk  # noqa: F401  (the desk fixture)
from tests.bot.desk import attachment

KEY = "sk-transcribe-test-0001"
QUESTION = "Здравствуйте, а куртка размера M есть в наличии?"
ANSWER = "Да, куртка M есть в наличии, можем отправить сегодня."


class Jobs:
    def __init__(self):
        self.queued: list[tuple[str, dict]] = []

    async def enqueue(self, name: str, **kwargs) -> None:
        self.queued.append((name, kwargs))


@pytest.fixture
async def openai_sb():
    sandbox = OpenAISandbox(api_key=KEY)
    runner, base = await serve(sandbox.app)
    sandbox.base_url = base + "/v1"
    yield sandbox
    await runner.cleanup()


async def voice_desk(make_desk, openai_sb, *, provider: bool = True):
    desk = await make_desk()
    if provider:
        ai = desk.ctx.settings.ai
        ai.openai_api_key, ai.openai_base_url, ai.ai_max_attempts = SecretStr(KEY), openai_sb.base_url, 1
    desk.ctx.queue = Jobs()  # what the transcription task queues after its commit
    pipeline = SuggestionPipeline(desk.db, build_providers(desk.ctx.settings), desk.ctx.settings, desk.ctx.clock)
    return desk, pipeline


async def customer_voice(desk, audio: bytes, *, transcript: str | None = None, text: str = "", user=None):
    store = MediaStore(media_root(desk.ctx.settings.data_dir))
    stored = await store.save(audio, namespace=f"inbox/{desk.channel_id}", mime="audio/ogg")
    ref = {"type": "audio_message", **({"transcript": transcript} if transcript else {})}
    user = user or desk.customer()
    voice = attachment("voice", mime="audio/ogg", size=stored.size, storage_key=stored.storage_key,
                       sha256=stored.sha256, duration=synth.ogg_duration(audio), external_ref=ref)
    received = await desk.customer_writes(user, text, attachments=(voice,))
    await desk.settle()
    return received


async def draft(desk, pipeline, message_id: int):
    """The "suggest_reply" task, then what it asked for (the transcription first, the draft again after it)."""
    result = await pipeline.run(message_id)
    for name, kwargs in result.follow_ups:
        if name == TRANSCRIBE_VOICE:
            await desk.tasks[TRANSCRIBE_VOICE](**kwargs)
            await desk.settle()
            queued, desk.ctx.queue.queued = desk.ctx.queue.queued, []
            for again, args in queued:
                assert again == "suggest_reply"
                result = await pipeline.run(**args)
        elif name in desk.tasks:
            await desk.tasks[name](**kwargs)
    for name, kwargs in result.follow_ups:
        if name == component.POST_SUGGESTION_CARD:
            await desk.tasks[name](**kwargs)
    await desk.settle()
    return result


def bot_texts(desk, thread_id: int) -> list[dict]:
    return [m for m in desk.thread(thread_id) if m["by_bot"] and m["text"]]


async def test_a_customers_voice_is_transcribed_shown_under_it_and_answered(make_desk, openai_sb):
    desk, pipeline = await voice_desk(make_desk, openai_sb)
    audio = synth.ogg_opus(4, 11)
    openai_sb.register_transcript(audio, QUESTION)
    openai_sb.add_rule("куртка размера M", {"reply": ANSWER, "confidence": 0.9, "needs_human": False,
                                           "reason": "есть в прайсе"})
    received = await customer_voice(desk, audio)
    result = await draft(desk, pipeline, received.message_id)

    topic = await desk.topic(received.dialog_id)
    [voice_post] = [m for m in desk.thread(topic.thread_id) if (m["media"] or {}).get("type") == "voice"]
    [shown] = [m for m in bot_texts(desk, topic.thread_id) if QUESTION in m["text"]]
    assert shown["reply_to_message_id"] == voice_post["message_id"]
    async with desk.db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
        message = await session.get(Message, received.message_id)
        usage = list((await session.execute(select(AIUsage).where(AIUsage.model == "whisper-1"))).scalars())
    assert suggestion.text == ANSWER and suggestion.inputs["customer_text"] == QUESTION
    assert message.text == "" and message.extra["transcript"] == {"status": "done", "text": QUESTION,
                                                                  "source": "openai", "seconds": 4}
    # Seconds heard, in their own column (none of it counted as characters), priced per second.
    assert [(u.seconds, u.characters, u.cost_usd) for u in usage] == \
        [(4, 0, Decimal(4) * Decimal(100) / Decimal(1_000_000))]
    assert any(ANSWER in m["text"] for m in bot_texts(desk, topic.thread_id))  # the card

    # The task again changes nothing: no second call, no second post.
    calls = len([r for r in openai_sb.requests if r.get("path") == "/v1/audio/transcriptions"])
    await desk.tasks[TRANSCRIBE_VOICE](message_id=received.message_id)
    await desk.settle()
    assert len([r for r in openai_sb.requests if r.get("path") == "/v1/audio/transcriptions"]) == calls == 1
    assert len([m for m in bot_texts(desk, topic.thread_id) if QUESTION in m["text"]]) == 1


async def test_vks_own_transcript_is_used_without_asking_a_provider(make_desk, openai_sb):
    desk, pipeline = await voice_desk(make_desk, openai_sb)
    received = await customer_voice(desk, synth.ogg_opus(2, 12), transcript=QUESTION)
    await draft(desk, pipeline, received.message_id)
    topic = await desk.topic(received.dialog_id)
    assert any(QUESTION in m["text"] for m in bot_texts(desk, topic.thread_id))
    assert not [r for r in openai_sb.requests if r.get("path") == "/v1/audio/transcriptions"]
    async with desk.db.unit_of_work() as session:
        suggestion = (await session.execute(select(Suggestion))).scalar_one()
    assert suggestion.inputs["customer_text"] == QUESTION


async def test_without_a_provider_the_topic_says_so_and_nothing_is_drafted(make_desk, openai_sb):
    desk, pipeline = await voice_desk(make_desk, openai_sb, provider=False)
    user = desk.customer("Борис", None)
    await desk.customer_writes(user, "Добрый день")  # an earlier text of the same burst must not be re-answered
    received = await customer_voice(desk, synth.ogg_opus(3, 13), user=user)
    result = await draft(desk, pipeline, received.message_id)
    assert result.suggestion_id is None and "could not be transcribed" in result.skipped
    topic = await desk.topic(received.dialog_id)
    assert any("недоступна" in m["text"] for m in bot_texts(desk, topic.thread_id))
    async with desk.db.unit_of_work() as session:
        assert (await session.execute(select(Suggestion))).first() is None
