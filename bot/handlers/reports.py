"""Status reports on the bot's side: `/report` in a chat asks for one (posted through the outbox like the scheduled
ones), and the manager surface learns to post a report (the chart as a photo, the text as its caption or after it).

Who may ask: active staff of a business this chat belongs to — its manager group, or a chat receiving its reports —
whose role may read dialogs or analytics. What the report shows follows the chat's audience (core.services.reports).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import normalize, t
from core.models import Tenant
from core.permissions import Permission
from core.ports import Delivery
from core.services import reports
from core.services import staff
from core.services.workspace import topics

from ..surface import GENERAL_THREAD, TelegramManagerSurface, _Sent


class ReportSurface(TelegramManagerSurface):
    """The Telegram manager surface with the report post (core.services.reports.POST_REPORT): {chat_id, thread_id,
    reply_to, photo (PNG bytes or None), caption, texts}. Errors map to DeliveryError like every surface call."""

    def calls(self) -> dict:
        return {**super().calls(), reports.POST_REPORT: self._do_post_report}

    async def _do_post_report(self, p: dict) -> Delivery:
        chat_id = p["chat_id"]
        thread_id = p.get("thread_id")
        if thread_id == GENERAL_THREAD:
            thread_id = None
        reply_to = p.get("reply_to")
        sent = _Sent()
        if p.get("photo"):
            message = await self.bot.send_photo(
                chat_id=chat_id, message_thread_id=thread_id, photo=BufferedInputFile(p["photo"], "report.png"),
                caption=p.get("caption"), parse_mode="HTML", reply_parameters=self._reply(reply_to))
            sent.add(message)
            reply_to = None
        for text in p.get("texts") or []:
            await self._send_text(chat_id, thread_id, text, sent, reply_to=reply_to)
            reply_to = None
        return Delivery(external_id=str(sent.ids[0]) if sent.ids else None,
                        extra={"message_ids": sent.ids, "api_calls": sent.calls})


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def router() -> Router:
    r = Router(name="reports")
    r.message.filter(F.chat.type.in_({"group", "supergroup"}))

    @r.message(Command("report"))
    async def report(message: Message, command: CommandObject, session: AsyncSession) -> None:
        chat_id = message.chat.id
        tenant_ids = await reports.chat_tenants(session, chat_id)
        if not tenant_ids:
            return  # not a chat of any business: nothing to say here
        members = [m for m in await staff.memberships(session, message.from_user.id) if m.tenant_id in tenant_ids]
        member = next((m for m in members if m.can(Permission.VIEW_CONVERSATIONS)
                       or m.can(Permission.VIEW_ANALYTICS)), None)
        locale = normalize(members[0].locale if members else message.from_user.language_code)
        if member is None:
            await topics.notice_chat(session, chat_id, key="refusal", params={"text": t("report.refused", locale)},
                                 reply_to=message.message_id)
            return
        now = datetime.now(UTC)
        tenant = await session.get(Tenant, member.tenant_id)
        try:
            kind = reports.parse_kind(command.args, tenant, now)
        except reports.ReportError as error:
            await topics.notice_chat(session, chat_id, key="refusal", params={"text": error.text(member.locale)},
                                 reply_to=message.message_id)
            return
        await reports.request(session, member.tenant_id, kind=kind, chat_id=chat_id, thread_id=_thread(message),
                              reply_to=message.message_id, locale=member.locale, now=now,
                              key=f"report:ask:{chat_id}:{message.message_id}")

    return r
