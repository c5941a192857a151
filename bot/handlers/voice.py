"""Voice in dialog topics (core.services.voice): a manager's voice message is offered for re-voicing in the shop's
voice, `/voice <text>` speaks a text in it, the preview's Send / Redo / Cancel, and a reply to a preview with a new
text. Set up before the topics router, whose catch-all would send a voice or a reply straight to the customer.

The slow part (transcribing, ElevenLabs) is the "voice_synthesize" task, queued after the update's unit of work
commits; "transcribe_voice" (customers' voice messages) runs there too. `task_handlers` gives both to the bot
component."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.ai.speech import build_speech
from core.ai.transcribe import TRANSCRIBE_VOICE, build_transcriber, transcribe_message
from core.i18n import t
from core.media import MediaStore, media_root
from core.services import voice

from ..middlewares import AfterCommit, require_actor
from ..runtime import BotRuntime

log = logging.getLogger(__name__)

QUEUE = "task_queue"  # services key: the task queue the handlers give their jobs to


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def router(services: dict) -> Router:
    """`services`: AppContext.services — the task queue ("task_queue") and the master key box ("secrets")."""
    r = Router(name="voice")
    r.message.filter(F.chat.type == "supergroup")

    def queue_job(after_commit: AfterCommit, job: dict | None) -> None:
        if job is None:
            return
        queue = services.get(QUEUE)
        if queue is None:
            raise voice.VoiceError("unavailable", "voice jobs cannot be queued in this process")
        after_commit.append(lambda: queue.enqueue(voice.SYNTHESIZE, job=job))

    @r.message(Command("voice"))
    async def voice_command(message: Message, command: CommandObject, session: AsyncSession, group, actor,
                            after_commit: AfterCommit) -> None:
        job = await voice.request_text(session, require_actor(group, actor), group, thread_id=_thread(message),
                                       telegram_message_id=message.message_id, text=command.args or "",
                                       secrets=services.get("secrets"))
        queue_job(after_commit, job)

    @r.message(F.is_topic_message, F.voice)
    async def manager_voice(message: Message, session: AsyncSession, group, actor) -> None:
        if group is None or actor is None:
            raise SkipHandler()
        offered = await voice.offer(session, actor, group, thread_id=_thread(message),
                                    telegram_message_id=message.message_id, file_id=message.voice.file_id,
                                    secrets=services.get("secrets"))
        if not offered:
            raise SkipHandler()  # no shop voice: the voice goes to the customer as it is (topics router)

    @r.message(F.is_topic_message, F.text, F.reply_to_message)
    async def reply_to_preview(message: Message, session: AsyncSession, group, actor,
                               after_commit: AfterCommit) -> None:
        if group is None or actor is None or message.text.startswith("/"):
            raise SkipHandler()
        preview_id = await voice.preview_replied(session, group, message.reply_to_message.message_id)
        if preview_id is None:
            raise SkipHandler()
        job = await voice.request_text(session, require_actor(group, actor), group, thread_id=_thread(message),
                                       telegram_message_id=message.message_id, text=message.text,
                                       secrets=services.get("secrets"), replaces=preview_id)
        queue_job(after_commit, job)

    @r.callback_query(F.data.regexp(r"^v[op]:[arsc]:\d+$"))
    async def buttons(query: CallbackQuery, session: AsyncSession, group, actor, after_commit: AfterCommit,
                      runtime: BotRuntime) -> None:
        kind, action, command_id = query.data.split(":")
        actor = require_actor(group, actor)
        if kind == "vo":
            job = await voice.take_offer(session, actor, group, int(command_id), revoice=action == "r")
        else:
            job = await voice.decide_preview(session, actor, group, int(command_id), action,
                                             preview_message_id=query.message.message_id)
        queue_job(after_commit, job)
        toast = {"r": "voice.toast.working", "a": "voice.toast.sending", "s": "voice.toast.sending",
                 "c": "voice.toast.cancelled"}[action]
        after_commit.append(lambda: query.answer(t(toast, runtime.locale)))

    return r


def task_handlers(ctx, wake) -> dict:
    """The voice tasks for the bot component: "voice_synthesize" (a preview from a job) and "transcribe_voice" (a
    customer's voice message). Providers are built from the settings when a task first runs. The handlers queue their
    jobs through the same task queue (services "task_queue"), and read the tenants' keys with the master key."""
    ctx.services.setdefault(QUEUE, ctx.queue)
    ctx.services.setdefault("secrets", ctx.secrets)
    built: dict = {}

    def providers():
        if not built:
            built["speech"] = build_speech(ctx.settings)
            built["transcriber"] = build_transcriber(ctx.settings)
            built["store"] = MediaStore(media_root(ctx.settings.data_dir))
        return built

    async def download(file_id: str) -> bytes:
        bot = ctx.services.get("manager_bot")
        if bot is None:
            raise RuntimeError("the manager bot is not running here")
        return (await bot.download(file_id)).getvalue()

    async def synthesize(job: dict) -> str:
        p = providers()
        done = await voice.Synthesis(ctx.db, p["speech"], p["transcriber"], p["store"], ctx.secrets,
                                     ctx.settings.ai.price_table, download).run(job)
        wake()
        return done

    async def transcribe(message_id: int) -> int:
        p = providers()
        follow_ups = await transcribe_message(ctx.db, p["transcriber"], p["store"], ctx.settings.ai.price_table,
                                              message_id, on_stored=voice.show_transcript)
        wake()
        for name, kwargs in follow_ups:  # after the commit: the draft finds the transcript
            await ctx.queue.enqueue(name, **kwargs)
        return len(follow_ups)

    return {voice.SYNTHESIZE: synthesize, TRANSCRIBE_VOICE: transcribe}
