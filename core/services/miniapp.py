"""What the Mini App shows, as plain data, checked server-side against the staff member's role — and the few things it
changes that have no other home (notes and tags typed in the app).

Fields the role hides (core.permissions.Field) are never serialised, so no page can leak them: every customer and
dialog dict is built here from the caller's `hidden` set. Actions on a dialog reuse the workspace's functions
(core.services.workspace.controls: set_ai_mode, assign, mark_won/mark_lost, close/reopen) with an Actor made from the Mini
App member (`actor_for`), so the audit events, the pinned card refresh and the permission checks are the same as in
the managers' topics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..ai import reasons
from ..ai.texts import intent_name
from ..errors import NotFound, PermissionDenied, UserError
from ..i18n import t
from ..models import (
    AIUsage,
    Attachment,
    ChannelAccount,
    Customer,
    Dialog,
    Escalation,
    Event,
    Invitation,
    ManagerGroup,
    Message,
    MessageEdit,
    Role,
    StaffMember,
    Suggestion,
    Tenant,
    TrafficTouch,
)
from ..permissions import Field, Permission, can
from . import dialog_search
from . import staff as staff_service
from .workspace import base, topics

HISTORY_PAGE = 100
MAX_TAGS = 20
TAG_LENGTH = 64
NOTE_LENGTH = 2000


class MiniAppError(UserError):
    def __init__(self, reason: str, **params):
        key = f"miniapp.dialog.error.{reason}"
        super().__init__(t(key, "en", **params), code=key, **params)


async def memberships(session: AsyncSession, telegram_user_id: int) -> list[tuple[StaffMember, Role, Tenant]]:
    rows = await session.execute(
        select(StaffMember, Role, Tenant)
        .join(Role, Role.id == StaffMember.role_id)
        .join(Tenant, Tenant.id == StaffMember.tenant_id)
        .where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
        .order_by(Tenant.id)
    )
    return [tuple(r) for r in rows]


async def staff_for(session: AsyncSession, telegram_user_id: int, tenant_id: int,
                    permission: Permission) -> tuple[StaffMember, Role]:
    """The active staff member of that tenant, if the role grants the permission. Removed staff are refused at once."""
    for staff, role, tenant in await memberships(session, telegram_user_id):
        if tenant.id == tenant_id:
            if not can(role.permissions, permission):
                raise PermissionDenied(f"your role «{role.name}» does not allow this")
            return staff, role
    raise PermissionDenied("you are not a staff member of this business")


def actor_for(*, staff_id: int, tenant_id: int, telegram_user_id: int, name: str, role_code: str,
              permissions) -> base.Actor:
    """The workspace Actor of a Mini App member: the same checks and audit trail as acting in a topic."""
    return base.Actor(staff_id, tenant_id, telegram_user_id, name, role_code, frozenset(permissions))


# ------------------------------------------------------------------------------------------------ serialising


def _customer(customer: Customer, hidden: set[str], touch: TrafficTouch | None) -> dict:
    out: dict = {"id": customer.id, "name": customer.display_name, "blocked": customer.blocked}
    optional = {
        Field.USERNAME: customer.username, Field.PHONE: customer.phone, Field.EMAIL: customer.email,
        Field.PROFILE_LINK: customer.profile_url, Field.TAGS: list(customer.tags or []), Field.NOTES: customer.notes,
    }
    for field, value in optional.items():
        if field.value not in hidden and value:
            out[field.value] = value
    if Field.TRAFFIC_SOURCE.value not in hidden and touch is not None:
        out["traffic_source"] = {k: v for k, v in {
            "source": touch.source, "medium": touch.medium, "campaign": touch.campaign, "ref": touch.ref,
        }.items() if v}
    return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dialog_row(dialog: Dialog, customer: dict, channel: ChannelAccount, hidden: set[str],
                assignee: str | None = None) -> dict:
    row = {
        "id": dialog.id, "status": dialog.status.value, "ai_mode": dialog.ai_mode.value,
        "unread": dialog.unread_count, "messages": dialog.message_count,
        "last_message_at": _iso(dialog.last_message_at),
        "channel": {"id": channel.id, "kind": channel.kind.value, "title": channel.title}, "customer": customer,
        "outcome": dialog.outcome.value if dialog.outcome else None,
        "assignee": {"id": dialog.assignee_id, "name": assignee} if dialog.assignee_id else None,
    }
    if Field.DEAL_AMOUNT.value not in hidden and dialog.outcome_amount is not None:
        row["amount"] = str(dialog.outcome_amount)
    return row


# ----------------------------------------------------------------------------------------------- dialog list


async def list_dialogs(session: AsyncSession, *, tenant_id: int, hidden: set[str] | frozenset[str],
                       filters: dialog_search.Filters | None = None, cursor: str | None = None,
                       limit: int = dialog_search.PAGE) -> dict:
    """A page of the tenant's dialogs, freshest first, with the next page's cursor (keyset: core.services.dialog_search)."""
    hidden = set(hidden)
    filters = replace(filters or dialog_search.Filters(), hidden=frozenset(hidden))  # no search by hidden fields
    page = await dialog_search.search(session, tenant_id, filters, cursor=cursor, limit=limit)
    rows: dict[int, dict] = {}
    if page.dialog_ids:
        Assignee = StaffMember.__table__.alias("assignee")
        found = await session.execute(
            select(Dialog, Customer, ChannelAccount, TrafficTouch, Assignee.c.name)
            .join(Customer, Customer.id == Dialog.customer_id)
            .join(ChannelAccount, ChannelAccount.id == Dialog.channel_id)
            .outerjoin(TrafficTouch, TrafficTouch.id == Customer.first_touch_id)
            .outerjoin(Assignee, Assignee.c.id == Dialog.assignee_id)
            .where(Dialog.id.in_(page.dialog_ids))
        )
        for dialog, customer, channel, touch, assignee in found:
            rows[dialog.id] = _dialog_row(dialog, _customer(customer, hidden, touch), channel, hidden, assignee)
    return {"dialogs": [rows[i] for i in page.dialog_ids if i in rows], "next_cursor": page.next_cursor}


async def list_options(session: AsyncSession, tenant_id: int) -> dict:
    """What the list's filters offer: the tenant's channels and active staff."""
    channels = (await session.execute(
        select(ChannelAccount.id, ChannelAccount.kind, ChannelAccount.title)
        .where(ChannelAccount.tenant_id == tenant_id).order_by(ChannelAccount.id)
    )).all()
    people = (await session.execute(
        select(StaffMember.id, StaffMember.name).where(StaffMember.tenant_id == tenant_id,
                                                       StaffMember.is_active.is_(True)).order_by(StaffMember.name)
    )).all()
    return {"channels": [{"id": i, "title": title or kind.value} for i, kind, title in channels],
            "staff": [{"id": i, "name": name} for i, name in people]}


# ------------------------------------------------------------------------------------------------ one dialog


@dataclass(frozen=True)
class HistoryCursor:
    """Older messages than (sent_at, id): `<microseconds since epoch>:<message id>`."""

    sent_at: datetime
    message_id: int

    def encode(self) -> str:
        return f"{(self.sent_at - dialog_search.EPOCH) // timedelta(microseconds=1)}:{self.message_id}"

    @classmethod
    def decode(cls, raw: str | None) -> HistoryCursor | None:
        if not raw:
            return None
        try:
            micros, message_id = raw.split(":")
            return cls(dialog_search.EPOCH + timedelta(microseconds=int(micros)), int(message_id))
        except (ValueError, OverflowError):
            raise MiniAppError("bad_cursor") from None


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict((await session.execute(select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(ids)))).all())


async def dialog_view(session: AsyncSession, *, dialog_id: int, tenant_id: int, hidden: set[str] | frozenset[str],
                      before: str | None = None, limit: int = HISTORY_PAGE, locale: str = "ru") -> dict:
    """A dialog's card and one page of its history (newest page first; `before` pages back), with each message's
    attachments and edits, and each AI draft made for a customer message on the page with what became of it."""
    hidden = set(hidden)
    dialog = await session.get(Dialog, dialog_id)
    if dialog is None or dialog.tenant_id != tenant_id:
        raise NotFound(f"no dialog {dialog_id}", code="miniapp.dialog.error.unknown", id=dialog_id)
    customer = await session.get(Customer, dialog.customer_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    touch = await session.get(TrafficTouch, customer.first_touch_id) if customer.first_touch_id else None
    cursor = HistoryCursor.decode(before)
    limit = max(1, min(limit, 200))
    query = select(Message).where(Message.dialog_id == dialog_id)
    if cursor is not None:
        query = query.where(tuple_(Message.sent_at, Message.id) < tuple_(cursor.sent_at, cursor.message_id))
    messages = list((await session.execute(
        query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1))).scalars())
    more = len(messages) > limit
    messages = list(reversed(messages[:limit]))
    ids = [m.id for m in messages]
    attachments: dict[int, list[dict]] = {}
    edits: dict[int, list[dict]] = {}
    drafts: dict[int, list[Suggestion]] = {}
    escalations: dict[int, Escalation] = {}
    if ids:
        for att in (await session.execute(
            select(Attachment).where(Attachment.message_id.in_(ids)).order_by(Attachment.message_id, Attachment.ordinal)
        )).scalars():
            attachments.setdefault(att.message_id, []).append(
                {"kind": att.kind.value, "name": att.file_name, "mime": att.mime, "size": att.size,
                 "error": att.error})
        for edit in (await session.execute(
            select(MessageEdit).where(MessageEdit.message_id.in_(ids)).order_by(MessageEdit.edited_at)
        )).scalars():
            edits.setdefault(edit.message_id, []).append(
                {"old": edit.old_text, "new": edit.new_text, "at": _iso(edit.edited_at)})
        for suggestion in (await session.execute(
            select(Suggestion).where(Suggestion.message_id.in_(ids)).order_by(Suggestion.created_at, Suggestion.id)
        )).scalars():
            drafts.setdefault(suggestion.message_id, []).append(suggestion)
        draft_ids = [s.id for group in drafts.values() for s in group]
        if draft_ids:
            for escalation in (await session.execute(
                select(Escalation).where(Escalation.suggestion_id.in_(draft_ids))
            )).scalars():
                escalations[escalation.suggestion_id] = escalation
    people = await _names(session, {m.author_staff_id for m in messages}
                          | {s.decided_by_id for group in drafts.values() for s in group}
                          | {e.created_by_id for e in escalations.values()} | {dialog.assignee_id})

    def draft(s: Suggestion) -> dict:
        out = {"id": s.id, "text": s.text, "state": s.state.value, "intent": s.intent,
               "intent_label": intent_name(s.intent, locale),
               "confidence": round(s.confidence, 3), "decision": s.decision.value, "created_at": _iso(s.created_at),
               "by": people.get(s.decided_by_id), "at": _iso(s.decided_at)}
        if s.final_text is not None and s.final_text != s.text:
            out["final_text"] = s.final_text
        if s.reject_reason:
            out["reject_reason"] = s.reject_reason
        if (esc := escalations.get(s.id)) is not None:
            # The AI's reason in the reader's language (stored as a code on the draft); a manager's words as written.
            out["escalation"] = {"reason": reasons.shown(esc.reason, reasons.same_reason_code(esc.reason, s), locale),
                                 "status": esc.status.value,
                                 "by": people.get(esc.created_by_id), "at": _iso(esc.created_at)}
        return out

    row = _dialog_row(dialog, _customer(customer, hidden, touch), channel, hidden, people.get(dialog.assignee_id))
    row.update({"outcome_reason": dialog.outcome_reason, "outcome_at": _iso(dialog.outcome_at),
                "closed_at": _iso(dialog.closed_at), "summary": customer.summary})
    if Field.AI_COST.value not in hidden:
        cost = (await session.execute(
            select(func.coalesce(func.sum(AIUsage.cost_usd), 0)).where(AIUsage.dialog_id == dialog.id)
        )).scalar_one()
        row["ai_cost_usd"] = f"{cost:.4f}"
    open_escalations = (await session.execute(
        select(Escalation).where(Escalation.dialog_id == dialog.id).order_by(Escalation.created_at.desc()).limit(10)
    )).scalars().all()
    escalation_people = await _names(session, {e.created_by_id for e in open_escalations}
                                     | {e.handled_by_id for e in open_escalations})
    their_drafts = {d.id: d for group in drafts.values() for d in group}
    wanted = {e.suggestion_id for e in open_escalations if e.suggestion_id and e.suggestion_id not in their_drafts}
    if wanted:
        their_drafts.update({d.id: d for d in (await session.execute(
            select(Suggestion).where(Suggestion.id.in_(wanted)))).scalars()})
    row["escalations"] = [
        {"id": e.id, "status": e.status.value, "at": _iso(e.created_at),
         "reason": reasons.shown(e.reason, reasons.same_reason_code(e.reason, their_drafts.get(e.suggestion_id)),
                                 locale),
         "by": escalation_people.get(e.created_by_id), "handled_by": escalation_people.get(e.handled_by_id),
         "handled_at": _iso(e.handled_at)}
        for e in open_escalations
    ]
    return {
        "dialog": row,
        "messages": [
            {"id": m.id, "direction": m.direction.value, "author": m.author_kind.value,
             "author_name": people.get(m.author_staff_id), "text": m.text, "sent_at": _iso(m.sent_at),
             "edited": m.edit_count > 0, "edits": edits.get(m.id, []), "deleted": m.deleted_at is not None,
             "deleted_at": _iso(m.deleted_at), "imported": m.is_imported, "error": m.delivery_error,
             "attachments": attachments.get(m.id, []), "drafts": [draft(s) for s in drafts.get(m.id, [])]}
            for m in messages
        ],
        "has_more": more,
        "before": HistoryCursor(messages[0].sent_at, messages[0].id).encode() if more and messages else None,
    }


# ------------------------------------------------------------------------------------------ notes and tags


async def _locked_dialog(session: AsyncSession, actor: base.Actor, dialog_id: int) -> Dialog:
    dialog = (await session.execute(select(Dialog).where(Dialog.id == dialog_id).with_for_update())).scalar_one_or_none()
    if dialog is None or dialog.tenant_id != actor.tenant_id:
        raise MiniAppError("unknown", id=dialog_id)
    return dialog


async def add_note(session: AsyncSession, actor: base.Actor, dialog_id: int, text: str,
                   now: datetime | None = None) -> None:
    """A note on the customer typed in the Mini App: the same line a /note in the topic writes, shown on the card."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    text = (text or "").strip()
    if not text:
        raise MiniAppError("note_empty")
    if len(text) > NOTE_LENGTH:
        raise MiniAppError("note_long", count=NOTE_LENGTH)
    now = now or datetime.now(UTC)
    dialog = await _locked_dialog(session, actor, dialog_id)
    customer = await session.get(Customer, dialog.customer_id)
    line = f"{now:%d.%m %H:%M} {actor.name}: {text}"
    customer.notes = f"{customer.notes}\n{line}" if customer.notes else line
    events.record(session, "note_added", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, text=text, via="miniapp")
    await topics.refresh_pinned_card(session, dialog)


async def unassign(session: AsyncSession, actor: base.Actor, dialog_id: int) -> None:
    """The dialog left without an assignee (the Mini App's "nobody"): anyone may take it again; the card shows it."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _locked_dialog(session, actor, dialog_id)
    if dialog.assignee_id is None:
        return
    previous, dialog.assignee_id = dialog.assignee_id, None
    events.record(session, "dialog_unassigned", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, previous_assignee_id=previous, via="miniapp")
    await topics.refresh_pinned_card(session, dialog)


def clean_tags(raw) -> list[str]:
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, (list, tuple)):
        raise MiniAppError("bad_tags", count=MAX_TAGS, length=TAG_LENGTH)
    tags: list[str] = []
    for tag in raw:
        if not isinstance(tag, str):
            raise MiniAppError("bad_tags", count=MAX_TAGS, length=TAG_LENGTH)
        tag = " ".join(tag.split()).lstrip("#")
        if not tag:
            continue
        if len(tag) > TAG_LENGTH:
            raise MiniAppError("bad_tags", count=MAX_TAGS, length=TAG_LENGTH)
        if tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise MiniAppError("bad_tags", count=MAX_TAGS, length=TAG_LENGTH)
    return tags


async def set_tags(session: AsyncSession, actor: base.Actor, dialog_id: int, raw, *,
                   hidden: set[str] | frozenset[str]) -> list[str]:
    """Replace the customer's tags (MANAGE_CUSTOMERS; a role that does not see tags cannot edit them)."""
    actor.require(Permission.MANAGE_CUSTOMERS)
    if Field.TAGS.value in hidden:
        raise MiniAppError("tags_hidden")
    tags = clean_tags(raw)
    dialog = await _locked_dialog(session, actor, dialog_id)
    customer = await session.get(Customer, dialog.customer_id)
    old = list(customer.tags or [])
    if old != tags:
        customer.tags = tags
        events.record(session, "customer_tags_changed", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, customer_id=customer.id, old=old, new=tags, via="miniapp")
        await topics.refresh_pinned_card(session, dialog)
    return tags


# ----------------------------------------------------------------------------------------- staff overview


async def staff_overview(session: AsyncSession, tenant_id: int, *, actor, now: datetime | None = None) -> dict:
    """The staff page: everyone (active first) with role, manager groups and last activity; the roles one may hand
    out; and the invitations still waiting to be used. Authorised by core.services.staff (MANAGE_USERS)."""
    rows = await staff_service.list_staff(session, tenant_id, actor=actor)
    now = now or datetime.now(UTC)
    roles = {r.code: r for r in (await session.execute(
        select(Role).where(Role.tenant_id == tenant_id).order_by(Role.id))).scalars()}
    teams = dict((await session.execute(
        select(StaffMember.id, StaffMember.team).where(StaffMember.tenant_id == tenant_id))).all())
    groups = (await session.execute(
        select(ManagerGroup.id, ManagerGroup.title, ManagerGroup.team)
        .where(ManagerGroup.tenant_id == tenant_id, ManagerGroup.is_active.is_(True)).order_by(ManagerGroup.id)
    )).all()
    ids = [r.staff_id for r in rows]
    last: dict[int, datetime] = {}
    if ids:
        # One index probe per person (ix_events_staff_activity): what they last did, of anything recorded.
        latest = (select(Event.created_at).where(Event.actor_staff_id == StaffMember.id)
                  .order_by(Event.actor_staff_id, Event.created_at.desc()).limit(1).scalar_subquery())
        last = {i: at for i, at in (await session.execute(
            select(StaffMember.id, latest).where(StaffMember.id.in_(ids)))).all() if at}
    people = []
    for r in rows:
        team = teams.get(r.staff_id)
        mine = [{"id": g_id, "title": title} for g_id, title, g_team in groups
                if not team or not g_team or g_team == team] if r.active else []
        people.append({
            "id": r.staff_id, "name": r.name, "username": r.username, "telegram_user_id": r.telegram_user_id,
            "role": r.role_code, "role_name": roles[r.role_code].name if r.role_code in roles else r.role_code,
            "active": r.active, "team": team, "groups": mine, "last_active_at": _iso(last.get(r.staff_id)),
            "is_me": r.staff_id == getattr(actor, "staff_id", None),
        })
    invitations = (await session.execute(
        select(Invitation, Role.code, Role.name).join(Role, Role.id == Invitation.role_id)
        .where(Invitation.tenant_id == tenant_id, Invitation.used_at.is_(None), Invitation.expires_at > now)
        .order_by(Invitation.expires_at)
    )).all()
    creators = await _names(session, {inv.created_by_id for inv, _, _ in invitations})
    return {
        "staff": people,
        "roles": [{"code": r.code, "name": r.name} for r in roles.values()],
        "invitations": [{"id": inv.id, "role": code, "role_name": name, "expires_at": _iso(inv.expires_at),
                         "created_by": creators.get(inv.created_by_id)} for inv, code, name in invitations],
    }
