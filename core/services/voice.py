"""Voice replies in the shop's own voice, and transcripts of customers' voice messages, in the dialog's topic.

A manager records a voice message in a topic of a tenant whose voice is set (Tenant.voice_enabled, an ElevenLabs key
and voice id): instead of going to the customer at once, the bot offers "re-voice in the shop's voice" or "send as
it is". Re-voicing — or `/voice <text>` — is a job for the "voice_synthesize" task: the manager's voice is transcribed,
the text spoken in the tenant's voice (core.ai.speech), the OGG/Opus bytes kept in the media store, and a preview
posted in the topic: that very file as a voice note, its text, and Send / Redo / Cancel. Replying to the preview with
another text makes a new preview of that text. Send hands the same stored bytes to the customer's channel as a voice
message (core.services.workspace.replies.manager_reply: the outbox, the channel gateway), so the customer hears exactly what
the manager heard.

Every post is an outbox command of kind VOICE_POST into the dialog's topic ({topic_id, view, data, reply_to |
reply_to_message}: the topic and, for a transcript, the post of the customer's message it belongs to are looked up when
it is executed). What happened to an offer or a preview is an event ("voice_offer_taken", "voice_preview_decided"),
read under the dialog lock, so a button pressed twice acts once: a press on a button already dealt with (a double tap,
a keyboard the client still shows) is answered with what became of it and does nothing else. Once dealt with, the
offer or preview is edited (VOICE_DONE, an outbox command like every card edit) to say so — sent, cancelled, replaced
by a new take — and loses its buttons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..ai.speech import SpeechError, characters
from ..ai.transcribe import DONE, FAILED, UNAVAILABLE, TranscriptionError
from ..commands import Call
from ..crypto import SecretBox
from ..db import Database, lock_dialog
from ..dispatcher import notify
from ..errors import ConfigError
from ..media import MediaStore
from ..models import Dialog, DialogTopic, Event, ManagerGroup, Message, OutboxCommand, Tenant, UsagePurpose
from ..permissions import Permission
from .workspace import base, controls, mirror, replies, topics
from .workspace.group_commands import CountedKind, TopicPost

log = logging.getLogger(__name__)

VOICE_POST = "voice_post"  # a post of this area into a dialog's topic (outbox command kind)
VOICE_DONE = "voice_done"  # an offer or preview dealt with: its text says what became of it, its buttons go (kind)
SYNTHESIZE = "voice_synthesize"  # task: {job}
MAX_TEXT = 2500  # characters one voice reply may have (about three minutes of speech)
PREVIEW_TEXT_SHOWN = 700  # of it, shown in the preview's caption (Telegram: 1024 with the rest of the caption)
OFFER_TAKEN = "voice_offer_taken"
PREVIEW_DECIDED = "voice_preview_decided"
# A decision on a preview → what its message then says it became (Redo and a reply with a new text both replace it).
SHOWN_DECISION = {"sent": "sent", "cancelled": "cancelled", "redone": "replaced", "replaced": "replaced"}

VOICE_MEDIA = {"kind": "voice", "file_name": "voice.ogg", "mime": "audio/ogg"}


class VoicePost(TopicPost):
    """VOICE_POST: a preview, an offer or a transcript in the dialog's topic (registered by bot/component.py)."""

    name = VOICE_POST


class VoiceDonePayload(TypedDict):
    topic_id: int
    post_id: int  # the VOICE_POST command whose message is edited
    key: str  # what became of it (voice.decided.*, voice.offer_taken.*), with the post's own params


class VoiceDone(CountedKind):
    """VOICE_DONE: an offer or a preview dealt with, edited to say what became of it, with no buttons left (a
    preview's text is its voice note's caption; registered by bot/component.py). Nothing to do when the post never
    reached the topic."""

    name = VOICE_DONE
    payload = VoiceDonePayload
    repeatable = True  # an edit made twice leaves the message as once

    async def prepare(self, session, commands):
        p = commands[0].payload
        posted = await session.get(OutboxCommand, p["post_id"])
        message_ids = ((posted.result or {}).get("message_ids") or []) if posted is not None else []
        if not message_ids:
            return None
        _, group = await self._topic(session, commands[0])
        params = ((posted.payload or {}).get("data") or {}).get("params") or {}
        return Call("surface", "edit", {"chat_id": group.chat_id, "message_id": int(message_ids[0]),
                                        "view": posted.payload["view"],
                                        "data": {"key": p["key"], "params": params, "buttons": []}})


class VoiceError(base.WorkspaceError):
    """A refusal shown to the manager; `code` is a full key (voice.refusal.*)."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(f"voice.refusal.{code}", message, **params)


@dataclass(frozen=True)
class TenantVoice:
    api_key: str
    voice_id: str


def tenant_voice(tenant: Tenant, secrets: SecretBox | None) -> TenantVoice | None:
    """The tenant's ElevenLabs key (decrypted) and voice, when the voice is switched on and both are set."""
    if not tenant.voice_enabled or not tenant.elevenlabs_voice_id or tenant.elevenlabs_api_key_enc is None:
        return None
    if secrets is None:
        return None
    try:
        return TenantVoice(secrets.decrypt(tenant.elevenlabs_api_key_enc), tenant.elevenlabs_voice_id)
    except ConfigError:
        log.warning("tenant %s: the ElevenLabs key cannot be decrypted with the master key", tenant.id)
        return None


# -------------------------------------------------------------------------------------------------- posts


async def post(session: AsyncSession, topic: DialogTopic, group: ManagerGroup, *, view: str, data: dict, key: str,
               reply_to: int | None = None, reply_to_message: int | None = None) -> OutboxCommand:
    """A post in the dialog's topic. view "keyed": a text {key, params} with optional buttons; view "voice": the
    stored file data.storage_key as a voice note with that text as its caption."""
    return await outbox.enqueue(
        session, kind=VOICE_POST, destination=outbox.tg_group(group.chat_id), idempotency_key=key,
        tenant_id=group.tenant_id, dialog_id=topic.dialog_id,
        payload={"topic_id": topic.id, "view": view, "data": data, "reply_to": reply_to,
                 "reply_to_message": reply_to_message},
    )


def _keyed(key: str, buttons: list[list[dict]] | None = None, **params) -> dict:
    return {"key": key, "params": params, "buttons": buttons or []}


async def _mark_done(session: AsyncSession, posted: OutboxCommand, key: str) -> None:
    """The offer or preview `posted` is dealt with: edit it to say `key` and take its buttons away."""
    await outbox.enqueue(session, kind=VOICE_DONE, destination=posted.destination,
                         idempotency_key=f"voice-done:{posted.id}", tenant_id=posted.tenant_id,
                         dialog_id=posted.dialog_id,
                         payload={"topic_id": posted.payload["topic_id"], "post_id": posted.id, "key": key})


async def _dialog_topic(session: AsyncSession, dialog_id: int) -> tuple[Dialog, DialogTopic, ManagerGroup] | None:
    dialog = await session.get(Dialog, dialog_id)
    found = await topics.topic_for_dialog(session, dialog) if dialog is not None else None
    if found is None:
        return None
    return dialog, found[0], found[1]


async def notice(session: AsyncSession, dialog_id: int, key: str, *, reply_to: int | None, unique: str,
                 **params) -> None:
    """A short text of this area in the dialog's topic (e.g. why a voice could not be made)."""
    found = await _dialog_topic(session, dialog_id)
    if found is None:
        return
    _, topic, group = found
    await post(session, topic, group, view="keyed", data=_keyed(key, **params), key=f"voice-note:{unique}",
               reply_to=reply_to)


# ------------------------------------------------------------------------------------------ manager side


async def _topic_dialog(session: AsyncSession, actor: base.Actor, group: ManagerGroup,
                        thread_id: int | None) -> tuple[DialogTopic, Dialog]:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await controls.dialog_in_group(session, actor, group, thread_id)
    topic = await topics.topic_by_thread(session, group, thread_id)
    return topic, dialog


async def offer(session: AsyncSession, actor: base.Actor, group: ManagerGroup, *, thread_id: int | None,
                telegram_message_id: int, file_id: str, secrets: SecretBox | None) -> bool:
    """A manager's voice message in a topic: when the tenant's voice is set, offer to re-voice it (or send it as it
    is) and return True; otherwise False — the caller sends it to the customer as it is."""
    topic, dialog = await _topic_dialog(session, actor, group, thread_id)
    tenant = await session.get(Tenant, dialog.tenant_id)
    if tenant_voice(tenant, secrets) is None:
        return False
    command = await post(session, topic, group, view="keyed", data=_keyed("voice.offer"),
                         key=f"voice-offer:{group.chat_id}:{telegram_message_id}", reply_to=telegram_message_id)
    buttons = [[{"key": "voice.button.revoice", "data": f"vo:r:{command.id}"}],
               [{"key": "voice.button.as_is", "data": f"vo:a:{command.id}"}]]
    command.payload = {**command.payload, "data": _keyed("voice.offer", buttons),
                       "voice": {"file_id": file_id, "message_id": telegram_message_id, "staff_id": actor.staff_id,
                                 "thread_id": thread_id}}
    events.record(session, "voice_offered", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, command_id=command.id)
    return True


async def _decided(session: AsyncSession, kind: str, command_id: int) -> Event | None:
    return (await session.execute(
        select(Event).where(Event.kind == kind, Event.command_id == command_id).limit(1)
    )).scalar_one_or_none()


async def _own_post(session: AsyncSession, actor: base.Actor, group: ManagerGroup, command_id: int,
                    what: str) -> tuple[OutboxCommand, Dialog]:
    command = await session.get(OutboxCommand, command_id)
    if command is None or command.kind != VOICE_POST or command.tenant_id != actor.tenant_id \
            or command.destination != outbox.tg_group(group.chat_id) or what not in (command.payload or {}):
        raise VoiceError("unknown", "this voice message is not known")
    dialog = await lock_dialog(session, command.dialog_id)  # the lock order (core.db): the dialog row first
    return command, dialog


async def take_offer(session: AsyncSession, actor: base.Actor, group: ManagerGroup, offer_id: int, *,
                     revoice: bool) -> dict | None:
    """A button of an offer: re-voice (returns the job for the "voice_synthesize" task) or send as it is."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    command, dialog = await _own_post(session, actor, group, offer_id, "voice")
    if await _decided(session, OFFER_TAKEN, offer_id) is not None:
        raise VoiceError("offer_used", "this voice message was already dealt with")
    voice = command.payload["voice"]
    events.record(session, OFFER_TAKEN, tenant_id=dialog.tenant_id, dialog_id=dialog.id, command_id=offer_id,
                  actor_staff_id=actor.staff_id, revoice=revoice)
    await _mark_done(session, command, "voice.offer_taken.revoice" if revoice else "voice.offer_taken.as_is")
    if not revoice:
        await replies.manager_reply(session, actor, group, thread_id=voice["thread_id"],
                               telegram_message_id=voice["message_id"], text="",
                               media=[{"kind": "voice", "telegram_file_id": voice["file_id"]}])
        return None
    return {"job": f"offer-{offer_id}", "dialog_id": dialog.id, "staff_id": actor.staff_id,
            "file_id": voice["file_id"], "reply_to": voice["message_id"]}


async def request_text(session: AsyncSession, actor: base.Actor, group: ManagerGroup, *, thread_id: int | None,
                       telegram_message_id: int, text: str, secrets: SecretBox | None,
                       replaces: int | None = None) -> dict:
    """`/voice <text>` (or a reply to a preview with a new text): the job that speaks it in the shop's voice."""
    topic, dialog = await _topic_dialog(session, actor, group, thread_id)
    text = (text or "").strip()
    if not text:
        raise VoiceError("empty", "/voice needs a text")
    if len(text) > MAX_TEXT:
        raise VoiceError("too_long", "the text is too long for one voice message", limit=MAX_TEXT)
    if tenant_voice(await session.get(Tenant, dialog.tenant_id), secrets) is None:
        raise VoiceError("not_configured", "the shop's voice is not set up")
    if replaces is not None:
        await _decide(session, actor, group, replaces, "replaced")
    events.record(session, "voice_requested", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, characters=characters(text))
    return {"job": f"text-{group.chat_id}-{telegram_message_id}", "dialog_id": dialog.id, "staff_id": actor.staff_id,
            "text": text, "reply_to": telegram_message_id}


async def preview_replied(session: AsyncSession, group: ManagerGroup, telegram_message_id: int) -> int | None:
    """The preview a topic message is, by its Telegram id (what a manager's reply points at)."""
    return (await session.execute(
        select(OutboxCommand.id).where(
            OutboxCommand.kind == VOICE_POST, OutboxCommand.destination == outbox.tg_group(group.chat_id),
            OutboxCommand.payload["view"].astext == "voice",
            OutboxCommand.result["message_ids"].contains([telegram_message_id]),
        ).order_by(OutboxCommand.id.desc()).limit(1)
    )).scalar_one_or_none()


async def _decide(session: AsyncSession, actor: base.Actor, group: ManagerGroup, preview_id: int,
                  decision: str) -> tuple[OutboxCommand, Dialog]:
    command, dialog = await _own_post(session, actor, group, preview_id, "preview")
    done = await _decided(session, PREVIEW_DECIDED, preview_id)
    if done is not None:
        raise VoiceError(f"preview_{done.payload.get('decision', 'sent')}", "this preview was already dealt with")
    events.record(session, PREVIEW_DECIDED, tenant_id=dialog.tenant_id, dialog_id=dialog.id, command_id=preview_id,
                  actor_staff_id=actor.staff_id, decision=decision)
    await _mark_done(session, command, f"voice.decided.{SHOWN_DECISION[decision]}")
    return command, dialog


async def decide_preview(session: AsyncSession, actor: base.Actor, group: ManagerGroup, preview_id: int, action: str,
                         *, preview_message_id: int) -> dict | None:
    """Send / Redo / Cancel on a preview. Send: the stored bytes go to the customer as a voice message (the preview
    message is what the send replies to in the topic: it gets 👍 when delivered, /delete as a reply takes it back).
    Redo: returns the job that speaks the same text again. Cancel: nothing leaves. Whichever it is, the preview is
    edited to say so and loses its buttons."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    decision = {"s": "sent", "r": "redone", "c": "cancelled"}.get(action)
    if decision is None:
        raise VoiceError("unknown", "unknown voice action")
    command, dialog = await _decide(session, actor, group, preview_id, decision)
    preview = command.payload["preview"]
    topic = await session.get(DialogTopic, command.payload["topic_id"])
    if decision == "sent":
        await replies.manager_reply(session, actor, group, thread_id=topic.thread_id, telegram_message_id=preview_message_id,
                               text="", media=[{**VOICE_MEDIA, "storage_key": command.payload["data"]["storage_key"]}])
        return None
    if decision == "cancelled":
        return None  # the preview itself now says it was cancelled
    return {"job": f"redo-{preview_id}", "dialog_id": dialog.id, "staff_id": actor.staff_id,
            "text": preview["text"], "reply_to": preview_message_id}


# ------------------------------------------------------------------------------------------- the task


class Synthesis:
    """The "voice_synthesize" task: a job from the handlers → a preview in the topic (or a clear message why not).
    Talks to the providers with no transaction open; writes spend and posts in one unit of work at the end."""

    def __init__(self, db: Database, speech, transcriber, store: MediaStore, secrets: SecretBox | None,
                 price_table: dict, download=None):
        self.db = db
        self.speech = speech
        self.transcriber = transcriber
        self.store = store
        self.secrets = secrets
        self.price_table = price_table
        self.download = download  # file id → bytes of a manager's voice (the bot's getFile)

    async def run(self, job: dict) -> str:
        from ..ai.spend import Usage, record_usage

        key = f"voice-preview:{job['job']}"
        dialog_id, reply_to = job["dialog_id"], job.get("reply_to")
        async with self.db.unit_of_work() as session:
            if (await session.execute(select(OutboxCommand.id).where(OutboxCommand.idempotency_key == key))).first():
                return "done before"
            dialog = await session.get(Dialog, dialog_id)
            tenant = await session.get(Tenant, dialog.tenant_id)
            voice = tenant_voice(tenant, self.secrets)
            tenant_id = tenant.id
        usages: list[Usage] = []

        async def fail(code: str, **params) -> str:
            async with self.db.unit_of_work() as session:
                for usage in usages:  # money spent is recorded, whatever went wrong after
                    await record_usage(session, self.price_table, usage, tenant_id=tenant_id, dialog_id=dialog_id)
                await notice(session, dialog_id, f"voice.error.{code}", reply_to=reply_to, unique=job["job"], **params)
                await notify(session)
            return code

        if voice is None:
            return await fail("not_configured")
        text = job.get("text")
        if text is None:
            if self.transcriber is None:
                return await fail("no_transcriber")
            try:
                data = await self.download(job["file_id"])
                heard = await self.transcriber.transcribe(data)
            except TranscriptionError as exc:
                return await fail("transcription", detail=exc.reason[:200])
            except Exception as exc:  # the file could not be fetched from Telegram
                log.warning("voice job %s: the manager's voice could not be read: %s", job["job"], exc)
                return await fail("transcription", detail=type(exc).__name__)
            usages.append(Usage(UsagePurpose.OTHER, self.transcriber.provider, heard.model, seconds=heard.seconds))
            text = heard.text
            if not text:
                return await fail("nothing_heard")
            text = text[:MAX_TEXT]
        try:
            audio = await self.speech.synthesize(text, voice_id=voice.voice_id, api_key=voice.api_key)
        except SpeechError as exc:
            return await fail(exc.code, detail=exc.detail[:200])
        usages.append(Usage(UsagePurpose.TTS, self.speech.provider, self.speech.model, characters=characters(text)))
        stored = await self.store.save(audio, namespace=f"voice/{tenant_id}", mime="audio/ogg")
        async with self.db.unit_of_work() as session:
            for usage in usages:
                await record_usage(session, self.price_table, usage, tenant_id=tenant_id, dialog_id=dialog_id)
            found = await _dialog_topic(session, dialog_id)
            if found is None:
                return "no topic"
            _, topic, group = found
            shown = text if len(text) <= PREVIEW_TEXT_SHOWN else text[:PREVIEW_TEXT_SHOWN] + "…"
            command = await post(session, topic, group, view="voice", key=key, reply_to=reply_to,
                                 data={"storage_key": stored.storage_key, **_keyed("voice.preview", text=shown)})
            buttons = [[{"key": "voice.button.send", "data": f"vp:s:{command.id}"}],
                       [{"key": "voice.button.redo", "data": f"vp:r:{command.id}"},
                        {"key": "voice.button.cancel", "data": f"vp:c:{command.id}"}]]
            command.payload = {**command.payload,
                               "data": {"storage_key": stored.storage_key,
                                        **_keyed("voice.preview", buttons, text=shown)},
                               "preview": {"text": text, "staff_id": job.get("staff_id"), "sha256": stored.sha256,
                                           "characters": characters(text)}}
            events.record(session, "voice_preview_made", tenant_id=tenant_id, dialog_id=dialog_id,
                          actor_staff_id=job.get("staff_id"), command_id=command.id, characters=characters(text))
            await notify(session)
        return "preview"


# ------------------------------------------------------------------------------------ customers' voice


async def show_transcript(session: AsyncSession, message: Message, record: dict) -> None:
    """The transcript of a customer's voice message in the topic, replying to the voice's post there (core.ai.
    transcribe.transcribe_message calls it in the unit of work that keeps the transcript)."""
    if message.direction.value != "in":
        return
    await mirror.mirror_message(session, message.id)  # the voice is posted first, whichever task ran first
    found = await _dialog_topic(session, message.dialog_id)
    if found is None:
        return
    _, topic, group = found
    status = record.get("status")
    if status == DONE:
        data = _keyed("voice.transcript", text=record["text"][:3500])
    elif status == UNAVAILABLE:
        data = _keyed("voice.transcript_unavailable")
    else:
        data = _keyed("voice.transcript_failed")
    await post(session, topic, group, view="keyed", data=data, key=f"voice-transcript:{message.id}",
               reply_to_message=message.id)
    await notify(session)


__all__ = ["FAILED", "Synthesis", "VoiceDone", "VoiceError", "decide_preview", "offer", "preview_replied", "request_text",
           "show_transcript", "take_offer", "tenant_voice"]
