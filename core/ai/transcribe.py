"""Voice to text: customers' voice messages (and managers' own, to re-voice them) through any OpenAI-compatible
`/v1/audio/transcriptions` endpoint (the official openai client), or the transcript VK already made.

A customer's voice message is transcribed by the "transcribe_voice" task, follow-up work of the inbox: the AI
pipeline, asked to draft a reply to a voice it cannot read yet, queues it instead of drafting, and the task queues the
draft again once the transcript is kept (core.ai.pipeline). The task is idempotent: a transcript is made once and kept
on the message (Message.extra["transcript"]: text, status, source); running it again only re-queues what follows.

Without a provider (no SALESOP_OPENAI_API_KEY) and without VK's transcript, the status says "unavailable": the topic
says so, and the AI does not draft an answer to what it has not heard. Spend is recorded per second of audio.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sqlalchemy import select

from ..db import Database, lock_dialog
from ..media import MediaStore, UnsafeStorageKey
from ..models import Attachment, AttachmentKind, Direction, Message, UsagePurpose
from .spend import PriceTable, Usage, record_usage

log = logging.getLogger(__name__)

TRANSCRIBE_VOICE = "transcribe_voice"  # task {"message_id"}
SUGGEST_REPLY = "suggest_reply"  # core.inbox.SUGGEST_REPLY (not imported: core.inbox imports nothing of core.ai)
TRANSCRIPTION_MODEL = "whisper-1"
VOICE_KINDS = (AttachmentKind.VOICE,)
# Message.extra["transcript"]["status"]
DONE, UNAVAILABLE, FAILED = "done", "unavailable", "failed"


@dataclass(frozen=True)
class Transcript:
    text: str
    seconds: int  # billed seconds of audio
    model: str


class TranscriptionError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OpenAITranscriber:
    provider = "openai"

    def __init__(self, client, model: str = TRANSCRIPTION_MODEL, attempts=None):
        self.client = client
        self.model = model
        self.attempts = attempts

    async def transcribe(self, data: bytes, *, file_name: str = "voice.ogg", mime: str = "audio/ogg",
                         language: str | None = None, duration: int | None = None) -> Transcript:
        from .providers import AIUnavailable

        async def call():
            kwargs = {"language": language} if language else {}
            return await self.client.audio.transcriptions.create(
                model=self.model, file=(file_name, data, mime), response_format="json", **kwargs)

        try:
            answer = await (self.attempts("transcription", call) if self.attempts else call())
        except AIUnavailable as exc:
            raise TranscriptionError(exc.reason) from None
        except Exception as exc:  # the openai client's own errors when no Attempts wraps it
            raise TranscriptionError(f"{type(exc).__name__}: {exc}"[:300]) from None
        usage = getattr(answer, "usage", None)
        seconds = getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
        if seconds is None:
            seconds = duration or 0
        return Transcript(text=(answer.text or "").strip(), seconds=int(math.ceil(seconds)), model=self.model)


def build_transcriber(settings) -> OpenAITranscriber | None:
    """None without an OpenAI-compatible key: transcription is then unavailable."""
    ai = settings.ai
    if ai.openai_api_key is None:
        return None
    from .openai_provider import Attempts, build_client

    client = build_client(api_key=ai.openai_api_key.get_secret_value(), base_url=ai.openai_base_url,
                          timeout=ai.ai_timeout, attempts=ai.ai_max_attempts)
    return OpenAITranscriber(client, TRANSCRIPTION_MODEL, Attempts())


# ------------------------------------------------------------------------------------------- on messages


def transcript_of(message: Message) -> dict | None:
    return (message.extra or {}).get("transcript")


def heard_text(message: Message) -> str:
    """What the customer said: the text they wrote, or the transcript of their voice message."""
    text = (message.text or "").strip()
    if text:
        return text
    transcript = transcript_of(message) or {}
    return (transcript.get("text") or "").strip() if transcript.get("status") == DONE else ""


def unheard(message: Message) -> bool:
    """A voice message nobody could transcribe (no provider, or it failed) and with no text of its own."""
    transcript = transcript_of(message)
    return transcript is not None and not heard_text(message)


async def voice_attachment(session, message_id: int) -> Attachment | None:
    return (await session.execute(
        select(Attachment).where(Attachment.message_id == message_id, Attachment.kind.in_(VOICE_KINDS))
        .order_by(Attachment.ordinal).limit(1)
    )).scalar_one_or_none()


async def awaiting_transcript(session, message: Message) -> bool:
    """A live customer voice message whose transcript is not made yet: drafting waits for it."""
    if message.direction != Direction.IN or transcript_of(message) is not None:
        return False
    return await voice_attachment(session, message.id) is not None


async def transcribe_message(db: Database, transcriber: OpenAITranscriber | None, store: MediaStore,
                             price_table: PriceTable, message_id: int, *, on_stored=None) -> list[tuple[str, dict]]:
    """The "transcribe_voice" task. Returns the follow-up tasks to queue after the commit (the draft).
    `on_stored(session, message, transcript)` runs in the unit of work that keeps the transcript (the topic post)."""
    async with db.unit_of_work() as session:
        message = await session.get(Message, message_id)
        if message is None or message.is_imported:
            return []
        attachment = await voice_attachment(session, message_id)
        if attachment is None:
            return []
        if transcript_of(message) is not None:
            return [(SUGGEST_REPLY, {"message_id": message_id})] if message.direction == Direction.IN else []
        vk_transcript = (attachment.external_ref or {}).get("transcript")
        storage_key, duration = attachment.storage_key, attachment.duration
        mime, file_name = attachment.mime or "audio/ogg", attachment.file_name or "voice.ogg"

    made: Transcript | None = None
    if isinstance(vk_transcript, str) and vk_transcript.strip():
        record = {"status": DONE, "text": vk_transcript.strip(), "source": "vk"}
    elif transcriber is None:
        record = {"status": UNAVAILABLE, "text": "", "source": None}
    elif storage_key is None:
        record = {"status": FAILED, "text": "", "source": transcriber.provider, "reason": "no_file"}
    else:
        try:
            data = await store.read(storage_key)
            made = await transcriber.transcribe(data, file_name=file_name, mime=mime, duration=duration)
            record = {"status": DONE if made.text else FAILED, "text": made.text, "source": transcriber.provider,
                      "seconds": made.seconds, **({} if made.text else {"reason": "empty"})}
        except (OSError, UnsafeStorageKey) as exc:
            log.warning("message %s: the voice file cannot be read: %s", message_id, exc)
            record = {"status": FAILED, "text": "", "source": transcriber.provider, "reason": "no_file"}
        except TranscriptionError as exc:
            log.warning("message %s: transcription failed: %s", message_id, exc.reason)
            record = {"status": FAILED, "text": "", "source": transcriber.provider, "reason": exc.reason[:200]}

    async with db.unit_of_work() as session:
        dialog_id = (await session.execute(select(Message.dialog_id).where(Message.id == message_id))).scalar_one()
        await lock_dialog(session, dialog_id)  # the lock order (core.db): the dialog row first
        message = (await session.execute(
            select(Message).where(Message.id == message_id).with_for_update())).scalar_one()
        if transcript_of(message) is None:  # a task running twice at once keeps the first transcript
            message.extra = {**(message.extra or {}), "transcript": record}
            if made is not None:
                await record_usage(session, price_table, Usage(
                    UsagePurpose.OTHER, transcriber.provider, made.model, seconds=made.seconds,
                ), tenant_id=message.tenant_id, dialog_id=message.dialog_id)
            if on_stored is not None:
                await on_stored(session, message, record)
    return [(SUGGEST_REPLY, {"message_id": message_id})] if message.direction == Direction.IN else []
