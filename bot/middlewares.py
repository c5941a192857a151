"""Middlewares: each update is one unit of work, deduplicated by update_id; the acting person is resolved to a staff
member of the group's tenant before any handler runs; refusals are answered the same way everywhere."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import retry_transaction
from core.dispatcher import notify
from core.errors import UserError
from core.i18n import t
from core.models import ProcessedUpdate
from core.services.workspace import base, topics

from .render import error_text
from .runtime import BotRuntime

log = logging.getLogger(__name__)

AfterCommit = list[Callable[[], Awaitable[Any]]]


async def claim_update(session: AsyncSession, source: str, update_id: int) -> bool:
    """True the first time an update is seen; a redelivered update (webhook retry, restart) is a no-op."""
    inserted = (await session.execute(
        insert(ProcessedUpdate).values(source=source, update_key=str(update_id))
        .on_conflict_do_nothing().returning(ProcessedUpdate.update_key)
    )).scalar_one_or_none()
    return inserted is not None


_SEEN = object()  # the update was handled before (a redelivery)


class UnitOfWorkMiddleware(BaseMiddleware):
    """Outer middleware on updates: one transaction per update, committed when the handler returns. Answers that
    must follow the commit (callback query toasts) run after it; so does waking the dispatcher for the commands the
    handler queued.

    The update is one unit of work: when PostgreSQL aborts it as a deadlock victim or for a serialization failure,
    the whole update is handled again (core.db.retry_transaction). It returns only after the commit, so the polling
    loop (bot.component) confirms it to Telegram, and a webhook answers 200, only then. Any other failure is shown
    to the person where they acted, never only logged."""

    def __init__(self, runtime: BotRuntime):
        self.runtime = runtime

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        after: AfterCommit = []
        data["after_commit"] = after
        data["runtime"] = self.runtime

        async def attempt() -> Any:
            after.clear()  # a retried attempt starts from scratch
            async with self.runtime.db.unit_of_work() as session:
                if not await claim_update(session, self.runtime.update_source, event.update_id):
                    return _SEEN
                data["session"] = session
                handled = await handler(event, data)
                await notify(session)  # whatever the handler queued: dispatchers in other processes wake at commit
            return handled

        try:
            result = await retry_transaction(attempt, what=f"update {event.update_id}")
        except UserError as error:
            await self._refuse(event, error, data["bot"])
            return None
        except Exception as exc:
            await self._failed(event, exc, data["bot"])
            raise
        if result is _SEEN:
            return None
        for action in after:
            try:
                await action()
            except Exception:  # a late toast must not undo committed work
                log.warning("after-commit action failed for update %s", event.update_id, exc_info=True)
        self.runtime.wake_dispatcher()
        return result

    async def _failed(self, update: Update, exc: Exception, bot: Bot) -> None:
        """The update could not be handled (a bug, the database gone, retries used up): nothing of it was kept. The
        person is told so where they acted — a manager's reply that never reached the customer must not look sent —
        and the update is marked seen, so a later redelivery does not act on it behind their back."""
        text = t("reliability.update.failed", self.runtime.locale, error=type(exc).__name__)
        try:
            if update.callback_query is not None:
                await bot.answer_callback_query(update.callback_query.id, text=text[:200], show_alert=True)

                async def claim(session: AsyncSession) -> None:
                    await claim_update(session, self.runtime.update_source, update.update_id)

                await self.runtime.db.run(claim, what=f"update {update.update_id}")
                return

            async def tell(session: AsyncSession) -> None:
                if await claim_update(session, self.runtime.update_source, update.update_id):
                    await self._tell(session, update, text)
                    await notify(session)

            await self.runtime.db.run(tell, what=f"telling about update {update.update_id}")
            self.runtime.wake_dispatcher()
        except Exception:
            log.warning("could not tell anyone that update %s failed", update.update_id, exc_info=True)

    async def _refuse(self, update: Update, error: UserError, bot: Bot) -> None:
        """Nothing the handler did is kept; the person is told why, in the language of the bot."""
        code = getattr(error, "code", "generic")
        text = error_text(code, getattr(error, "params", {}), str(error), self.runtime.locale)
        if update.callback_query is not None:
            try:
                await bot.answer_callback_query(update.callback_query.id, text=text[:200], show_alert=True)
            except Exception:
                log.warning("could not answer callback query %s", update.callback_query.id, exc_info=True)
            async with self.runtime.db.unit_of_work() as session:
                await claim_update(session, self.runtime.update_source, update.update_id)
            return
        async with self.runtime.db.unit_of_work() as session:
            if await claim_update(session, self.runtime.update_source, update.update_id):
                await self._tell(session, update, text)
                await notify(session)
        self.runtime.wake_dispatcher()

    @staticmethod
    async def _tell(session: AsyncSession, update: Update, text: str) -> None:
        """Post the refusal where the person acted, through the outbox like every post."""
        if update.my_chat_member is not None:
            if update.my_chat_member.chat.type != "private":  # added the bot but may not connect the group
                await topics.notice_chat(session, update.my_chat_member.chat.id, key="refusal", params={"text": text})
            return
        message = update.message or update.edited_message  # an edit refused (e.g. of a reply that never left)
        if message is None:
            return
        group = await base.group_by_chat(session, message.chat.id)
        if group is not None:
            topic = await topics.topic_by_thread(session, group, message.message_thread_id)
            await topics.notice(session, group, key="refusal", params={"text": text}, topic=topic,
                            thread_id=None if topic else _thread(message), reply_to=message.message_id)
        elif message.text and message.text.startswith("/connect"):
            await topics.notice_chat(session, message.chat.id, key="refusal", params={"text": text},
                                 reply_to=message.message_id)


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


class ActorMiddleware(BaseMiddleware):
    """Outer middleware on messages and callback queries: data["group"] is the manager group of the chat (or None),
    data["actor"] the active staff member of its tenant who acts (or None)."""

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        session: AsyncSession = data["session"]
        if isinstance(event, CallbackQuery):
            chat = event.message.chat if event.message else None
        elif isinstance(event, Message):
            chat = event.chat
        else:
            chat = None
        user = getattr(event, "from_user", None)
        group = await base.group_by_chat(session, chat.id) if chat is not None and chat.type != "private" else None
        data["group"] = group
        data["actor"] = await base.load_actor(session, group.tenant_id, user.id) if group and user else None
        return await handler(event, data)


def require_actor(group, actor) -> base.Actor:
    if group is None:
        raise base.WorkspaceError("unknown_group", "this group is not connected")
    if actor is None:
        raise base.WorkspaceError("not_staff", "you are not staff of this business")
    return actor
