"""People talking to the bot in their private chats on a desk (tests/bot/desk.py): /start <token>, /invite, /staff
and the buttons under the bot's answers — real updates through the sandbox Bot API."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from core.models import Event, StaffMember
from core.services import staff

from .desk import Desk

LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")


async def say(desk: Desk, user: dict, text: str) -> list[dict]:
    """The person writes to the bot; returns what the bot answered in that chat (after everything settled)."""
    before = len(bot_messages(desk, user))
    await desk.sb.user_sends(user["id"], user["id"], text)
    await desk.settle()
    return bot_messages(desk, user)[before:]


def bot_messages(desk: Desk, user: dict) -> list[dict]:
    if user["id"] not in desk.sb.chats:
        return []
    return [m for m in desk.sb.chat(user["id"])["messages"] if m["by_bot"] and not m["deleted"]]


def message(desk: Desk, user: dict, message_id: int) -> dict:
    return next(m for m in bot_messages(desk, user) if m["message_id"] == message_id)


def buttons(msg: dict) -> dict[str, str]:
    """Button text → callback data of a message's inline keyboard."""
    return {b["text"]: b["callback_data"] for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row if "callback_data" in b}


async def press(desk: Desk, user: dict, msg: dict, text: str) -> dict:
    """The person presses the button labelled `text` (or starting with it) under a message in their private chat;
    returns that message as it is afterwards."""
    found = buttons(message(desk, user, msg["message_id"]))
    label = text if text in found else next(k for k in found if k.startswith(text))
    await desk.sb.press_button(user["id"], user["id"], msg["message_id"], found[label])
    await desk.settle()
    return message(desk, user, msg["message_id"])


def last_alert(desk: Desk) -> dict:
    return desk.sb.callback_answers[-1]


async def invitation(desk: Desk, tenant_id: int, role: str, *, now: datetime | None = None, **kw) -> str:
    """A token made as `salesop staff invite` makes it."""
    async with desk.db.unit_of_work() as session:
        made = await staff.create_invitation(session, tenant_id, role, actor=None, via="cli", now=now, **kw)
    return made.token


async def staff_member(desk: Desk, tenant_id: int, user: dict) -> StaffMember | None:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(StaffMember).where(
            StaffMember.tenant_id == tenant_id, StaffMember.telegram_user_id == user["id"]))).scalar_one_or_none()


async def events(desk: Desk, kind: str) -> list[Event]:
    async with desk.db.unit_of_work() as session:
        return list((await session.execute(select(Event).where(Event.kind == kind).order_by(Event.id))).scalars())
