"""People joining a channel or group through a campaign's invite link (made on the Mini App's traffic page).

chat_member: someone joined with an invite link (ChatMemberUpdated.invite_link) — when the link is a campaign's, the
join is recorded and becomes that person's touch (core.services.traffic.record_join). Telegram sends chat_member only
to administrator bots that list it in allowed_updates: this router makes the dispatcher ask for it
(resolve_used_update_types). chat_join_request: someone asked to join through a campaign link that creates join
requests — the request is recorded and approved after the commit; the approval's chat_member update (carrying the
same link) records the join.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import ChatJoinRequest, ChatMemberUpdated, User
from sqlalchemy.ext.asyncio import AsyncSession

from core.services import traffic

from ..middlewares import AfterCommit
from ..runtime import BotRuntime

log = logging.getLogger(__name__)


def _person(user: User) -> traffic.Person:
    return traffic.Person(telegram_user_id=user.id, first_name=user.first_name, last_name=user.last_name,
                          username=user.username, language=user.language_code)


def _at(date: datetime | None) -> datetime:
    return (date or datetime.now(UTC)).astimezone(UTC)


def router() -> Router:
    r = Router(name="campaign_links")

    @r.chat_member(ChatMemberUpdatedFilter(JOIN_TRANSITION))
    async def joined(event: ChatMemberUpdated, session: AsyncSession) -> None:
        if event.invite_link is None:  # added by an admin, joined a public chat by its username, a folder link…
            return
        await traffic.record_join(session, chat_id=event.chat.id, url=event.invite_link.invite_link,
                                  person=_person(event.new_chat_member.user), at=_at(event.date))

    @r.chat_join_request()
    async def asked(request: ChatJoinRequest, session: AsyncSession, bot: Bot, runtime: BotRuntime,
                    after_commit: AfterCommit) -> None:
        url = request.invite_link.invite_link if request.invite_link else None
        link = await traffic.record_join_request(session, chat_id=request.chat.id, url=url,
                                                 person=_person(request.from_user), at=_at(request.date))
        if link is None:  # not a campaign's link: the chat's admins decide it as they always do
            return
        link_id, chat_id, user_id = link.id, request.chat.id, request.from_user.id

        async def approve() -> None:
            try:
                await bot.approve_chat_join_request(chat_id, user_id)
            except (TelegramBadRequest, TelegramForbiddenError) as error:
                # HIDE_REQUESTER_MISSING: an admin decided it first; USER_ALREADY_PARTICIPANT: in already; a lost
                # right: the request waits for a person. Noted on the join, counted as waiting on the page.
                log.info("join request of %s to %s not approved: %s", user_id, chat_id, error.message)
                async with runtime.db.unit_of_work() as again:
                    await traffic.request_failed(again, link_id, user_id)

        after_commit.append(approve)

    return r
