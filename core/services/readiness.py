"""Is a tenant ready to take customers? One read of everything an owner must set up, each item with its state and,
when it is not OK, what to do next: manager groups and the bot's rights there, channels and their imports, the
knowledge base and the catalog, the staff, the AI provider, automatic sending and the outbox's recent failures.

Core never reads settings or the network: what only the running process knows (whether an OpenAI key is configured,
the global autosend switch, the Mini App URL) comes in as a `Platform`, built by the entrypoint from its settings.
The caller renders the result in the reader's language; nothing here is text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .. import followups, outbox
from ..errors import NotFound
from ..models import (
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    CommandState,
    ImportStatus,
    KnowledgeDocument,
    ManagerGroup,
    OutboxCommand,
    Product,
    Role,
    StaffMember,
    Tenant,
)
from ..permissions import BUILTIN_ROLES
from ..settings import Settings
from .workspace import parking
from .channels import list_channels

FAILED_WINDOW = timedelta(days=1)


class Level(str, enum.Enum):
    OK = "ok"
    INFO = "info"  # a choice, not a problem (automatic sending off)
    WARN = "warn"  # works, but worth attention (offline responder, an import paused, a flood wait)
    TODO = "todo"  # blocks customers' dialogs from reaching managers or replies from reaching customers


class Fix(str, enum.Enum):
    """What to do next, one value per distinct instruction (the caller words it)."""

    ADD_GROUP = "add_group"  # no manager group yet
    READD_BOT = "readd_bot"  # the bot was removed from the group
    ENABLE_TOPICS = "enable_topics"  # the group is not a forum
    GRANT_RIGHTS = "grant_rights"  # the bot lacks administrator rights there
    ADD_CHANNEL = "add_channel"
    CHANNEL_WAIT = "channel_wait"  # connecting / flood wait: it resumes by itself
    CHANNEL_CAPTCHA = "channel_captcha"
    CHANNEL_RECONNECT = "channel_reconnect"  # token revoked, session gone, or a persistent error
    CHANNEL_ENABLE = "channel_enable"
    IMPORT_RESUME = "import_resume"  # an import paused or failed: `salesop import <id>` continues it
    LOAD_KNOWLEDGE = "load_knowledge"
    LOAD_CATALOG = "load_catalog"
    INVITE_STAFF = "invite_staff"
    SET_OPENAI_KEY = "set_openai_key"
    ENABLE_AUTOSEND = "enable_autosend"  # the tenant's setting
    GLOBAL_AUTOSEND = "global_autosend"  # the platform's switch (SALESOP_GLOBAL_AUTOSEND)
    OFFLINE_AUTOSEND = "offline_autosend"  # no key: autosend needs the tenant's consent to the offline responder
    CHECK_FAILURES = "check_failures"
    SET_WEBAPP_URL = "set_webapp_url"


@dataclass(frozen=True)
class Platform:
    """What the running process knows from its settings."""

    openai_key: bool = False
    chat_model: str | None = None
    global_autosend: bool = True
    webapp_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        return cls(openai_key=settings.ai.openai_api_key is not None, chat_model=settings.ai.chat_model,
                   global_autosend=settings.ai.global_autosend,
                   webapp_url=settings.webapp.webapp_url.rstrip("/") if settings.webapp.webapp_url else None)


class History(str, enum.Enum):
    """Where a Telegram Business channel's history comes from: Telegram gives a business bot none."""

    NONE = "none"  # only what customers write after the connection
    USERBOT = "userbot"  # the same account is also connected as a userbot, whose import fills the shared dialogs


@dataclass(frozen=True)
class BusinessWays:
    """A Telegram Business channel and the other way its account is connected, if any."""

    business_id: int
    userbot_id: int | None  # the Telegram-account (userbot) channel of the same account in the same tenant
    enabled: bool
    can_reply: bool

    @property
    def history(self) -> History:
        return History.USERBOT if self.userbot_id is not None else History.NONE


async def business_ways(session: AsyncSession, tenant_id: int) -> dict[int, BusinessWays]:
    """Each Telegram Business channel of the tenant, with the userbot channel of the same account (core.inbox's
    shared account: the two share customers and dialogs, so the userbot's history import is this channel's too)."""
    business, userbot = aliased(ChannelAccount), aliased(ChannelAccount)
    rows = await session.execute(
        select(business.id, func.min(userbot.id), business.status, business.settings)
        .outerjoin(userbot, and_(userbot.tenant_id == business.tenant_id, userbot.external_id == business.external_id,
                                 userbot.kind == ChannelKind.TELEGRAM_ACCOUNT))
        .where(business.tenant_id == tenant_id, business.kind == ChannelKind.TELEGRAM_BUSINESS)
        .group_by(business.id)
    )
    return {
        channel_id: BusinessWays(channel_id, userbot_id, status != ChannelStatus.DISABLED,
                                 bool(((settings or {}).get("rights") or {}).get("can_reply")))
        for channel_id, userbot_id, status, settings in rows
    }


@dataclass(frozen=True)
class GroupCheck:
    chat_id: int
    title: str
    is_active: bool
    is_forum: bool
    missing_rights: tuple[str, ...]  # the bot's rights it lacks (without "topics", which is_forum says)
    rotated: bool  # full: new dialogs go to a newer group
    level: Level
    fix: Fix | None
    parked: int = 0  # outbox commands waiting for this group to be fixed (core.services.workspace.parking)


@dataclass(frozen=True)
class ChannelCheck:
    id: int
    kind: str
    title: str
    status: ChannelStatus
    detail: str | None
    flood_until: datetime | None
    import_status: ImportStatus | None
    import_percent: int | None  # of conversations, when the total is known
    conversations_done: int | None
    conversations_total: int | None
    messages_imported: int | None
    level: Level
    fix: Fix | None
    # Telegram Business channels only: where their history comes from, and the userbot channel that imports it
    history: History | None = None
    history_channel: int | None = None


@dataclass(frozen=True)
class Item:
    """One line of the checklist that is not about a single group or channel."""

    level: Level
    fix: Fix | None = None


@dataclass(frozen=True)
class Readiness:
    tenant_id: int
    slug: str
    name: str
    timezone: str
    groups: list[GroupCheck]
    channels: list[ChannelCheck]
    knowledge_documents: int
    products: int  # active ones
    staff_by_role: dict[str, int]  # role code → active staff, built-in roles in their usual order
    openai: bool
    chat_model: str | None
    tenant_autosend: bool
    offline_autosend: bool
    global_autosend: bool
    webapp_url: str | None
    failed_commands: int  # outbox commands that failed for good in the last day
    last_failure: str | None  # the newest one's error
    no_group: Item = field(default_factory=lambda: Item(Level.OK))
    no_channel: Item = field(default_factory=lambda: Item(Level.OK))
    knowledge: Item = field(default_factory=lambda: Item(Level.OK))
    catalog: Item = field(default_factory=lambda: Item(Level.OK))
    staff: Item = field(default_factory=lambda: Item(Level.OK))
    ai: Item = field(default_factory=lambda: Item(Level.OK))
    autosend: Item = field(default_factory=lambda: Item(Level.OK))
    failures: Item = field(default_factory=lambda: Item(Level.OK))
    miniapp: Item = field(default_factory=lambda: Item(Level.OK))
    # follow-up work (mirror, draft, memory, ...) that failed every attempt (core.followups): never dropped, shown
    failed_follow_ups: int = 0
    follow_up_kinds: tuple[str, ...] = ()
    last_follow_up_failure: str | None = None
    follow_ups: Item = field(default_factory=lambda: Item(Level.OK))
    # sends made again in the last day although the first may have arrived (its process died between the call and
    # its record, core.dispatcher): possible duplicates, e.g. a customer message posted twice in its topic
    unconfirmed_sends: int = 0

    @property
    def ready(self) -> bool:
        """Nothing blocks customers' dialogs from being answered."""
        return self.todo == 0

    @property
    def todo(self) -> int:
        levels = [g.level for g in self.groups] + [c.level for c in self.channels] + [
            i.level for i in (self.no_group, self.no_channel, self.knowledge, self.catalog, self.staff, self.ai,
                              self.autosend, self.failures, self.miniapp, self.follow_ups)]
        return sum(1 for level in levels if level is Level.TODO)

    @property
    def autosend_on(self) -> bool:
        return self.global_autosend and self.tenant_autosend and (self.openai or self.offline_autosend)


def _group(group: ManagerGroup, parked: int = 0) -> GroupCheck:
    rights = tuple(r for r in group.missing_rights if r != "topics")
    forum = group.is_forum and "topics" not in group.missing_rights
    if not group.is_active:
        level, fix = Level.TODO, Fix.READD_BOT
    elif not forum:
        level, fix = Level.TODO, Fix.ENABLE_TOPICS
    elif rights:
        level, fix = Level.TODO, Fix.GRANT_RIGHTS
    else:
        level, fix = Level.OK, None
    return GroupCheck(chat_id=group.chat_id, title=group.title, is_active=group.is_active, is_forum=forum,
                      missing_rights=rights, rotated=group.rotated_to_id is not None, level=level, fix=fix,
                      parked=parked)


CHANNEL_LEVELS = {
    ChannelStatus.ACTIVE: (Level.OK, None),
    ChannelStatus.NEW: (Level.WARN, Fix.CHANNEL_WAIT),
    ChannelStatus.CONNECTING: (Level.WARN, Fix.CHANNEL_WAIT),
    ChannelStatus.FLOOD_WAIT: (Level.WARN, Fix.CHANNEL_WAIT),
    ChannelStatus.CAPTCHA: (Level.TODO, Fix.CHANNEL_CAPTCHA),
    ChannelStatus.ERROR: (Level.TODO, Fix.CHANNEL_RECONNECT),
    ChannelStatus.REVOKED: (Level.TODO, Fix.CHANNEL_RECONNECT),
    ChannelStatus.DISABLED: (Level.WARN, Fix.CHANNEL_ENABLE),
}


def _percent(done: int | None, total: int | None) -> int | None:
    if not total or done is None:
        return None
    return max(0, min(100, done * 100 // total))


async def check(session: AsyncSession, tenant_id: int, platform: Platform, *, now: datetime) -> Readiness:
    """The checklist of one tenant, read in the caller's unit of work (nothing is written)."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")

    parked = dict((await session.execute(
        select(OutboxCommand.destination, func.count(OutboxCommand.id)).where(
            OutboxCommand.tenant_id == tenant_id, OutboxCommand.state.in_(outbox.RUNNABLE),
            OutboxCommand.result.has_key(parking.PARKED))
        .group_by(OutboxCommand.destination)
    )).all())
    groups = [_group(g, parked.get(outbox.tg_group(g.chat_id), 0)) for g in (await session.execute(
        select(ManagerGroup).where(ManagerGroup.tenant_id == tenant_id).order_by(ManagerGroup.id)
    )).scalars()]

    channels = []
    ways = await business_ways(session, tenant_id)
    for view in await list_channels(session, tenant_id):
        status = ChannelStatus(view.status)
        level, fix = CHANNEL_LEVELS[status]
        import_status = ImportStatus(view.import_status) if view.import_status else None
        if import_status in (ImportStatus.PAUSED, ImportStatus.FAILED) and level is Level.OK:
            level, fix = (Level.WARN, Fix.IMPORT_RESUME)
        channels.append(ChannelCheck(
            id=view.id, kind=view.kind, title=view.title, status=status, detail=view.status_detail,
            flood_until=view.flood_until, import_status=import_status,
            import_percent=_percent(view.conversations_done, view.conversations_total),
            conversations_done=view.conversations_done, conversations_total=view.conversations_total,
            messages_imported=view.messages_imported, level=level, fix=fix,
            history=ways[view.id].history if view.id in ways else None,
            history_channel=ways[view.id].userbot_id if view.id in ways else None,
        ))

    documents = (await session.execute(
        select(func.count(KnowledgeDocument.id)).where(KnowledgeDocument.tenant_id == tenant_id))).scalar_one()
    products = (await session.execute(
        select(func.count(Product.id)).where(Product.tenant_id == tenant_id, Product.is_active.is_(True))
    )).scalar_one()

    counted = dict((await session.execute(
        select(Role.code, func.count(StaffMember.id)).join(StaffMember, StaffMember.role_id == Role.id)
        .where(StaffMember.tenant_id == tenant_id, StaffMember.is_active.is_(True)).group_by(Role.code)
    )).all())
    order = list(BUILTIN_ROLES) + sorted(set(counted) - set(BUILTIN_ROLES))
    staff_by_role = {code: counted[code] for code in order if counted.get(code)}

    failed = (await session.execute(
        select(func.count(OutboxCommand.id)).where(
            OutboxCommand.tenant_id == tenant_id, OutboxCommand.state == CommandState.FAILED,
            OutboxCommand.updated_at >= now - FAILED_WINDOW)
    )).scalar_one()
    last_failure = None
    if failed:
        last_failure = (await session.execute(
            select(OutboxCommand.last_error).where(
                OutboxCommand.tenant_id == tenant_id, OutboxCommand.state == CommandState.FAILED,
                OutboxCommand.updated_at >= now - FAILED_WINDOW)
            .order_by(OutboxCommand.updated_at.desc(), OutboxCommand.id.desc()).limit(1)
        )).scalar_one_or_none()

    dead = await followups.dead(session, tenant_id)
    unconfirmed = (await session.execute(
        select(func.coalesce(func.sum(OutboxCommand.unconfirmed_sends), 0)).where(
            OutboxCommand.tenant_id == tenant_id, OutboxCommand.unconfirmed_sends > 0,
            OutboxCommand.updated_at >= now - FAILED_WINDOW)
    )).scalar_one()

    answering_staff = sum(n for code, n in staff_by_role.items() if code not in ("owner",))
    if not platform.global_autosend:
        autosend = Item(Level.INFO, Fix.GLOBAL_AUTOSEND) if tenant.autosend_allowed else Item(
            Level.INFO, Fix.ENABLE_AUTOSEND)
    elif not tenant.autosend_allowed:
        autosend = Item(Level.INFO, Fix.ENABLE_AUTOSEND)
    elif not platform.openai_key and not tenant.offline_autosend_allowed:
        autosend = Item(Level.INFO, Fix.OFFLINE_AUTOSEND)
    else:
        autosend = Item(Level.OK)

    return Readiness(
        tenant_id=tenant.id, slug=tenant.slug, name=tenant.name, timezone=tenant.timezone, groups=groups,
        channels=channels,
        knowledge_documents=documents, products=products, staff_by_role=staff_by_role,
        openai=platform.openai_key, chat_model=platform.chat_model, tenant_autosend=tenant.autosend_allowed,
        offline_autosend=tenant.offline_autosend_allowed, global_autosend=platform.global_autosend,
        webapp_url=platform.webapp_url, failed_commands=failed, last_failure=last_failure,
        no_group=Item(Level.OK) if groups else Item(Level.TODO, Fix.ADD_GROUP),  # a removed one says so itself
        no_channel=Item(Level.OK) if channels else Item(Level.TODO, Fix.ADD_CHANNEL),
        knowledge=Item(Level.OK) if documents else Item(Level.WARN, Fix.LOAD_KNOWLEDGE),
        catalog=Item(Level.OK) if products else Item(Level.WARN, Fix.LOAD_CATALOG),
        staff=Item(Level.OK) if answering_staff else Item(Level.WARN, Fix.INVITE_STAFF),
        ai=Item(Level.OK) if platform.openai_key else Item(Level.WARN, Fix.SET_OPENAI_KEY),
        autosend=autosend,
        failures=Item(Level.OK) if not failed else Item(Level.WARN, Fix.CHECK_FAILURES),
        miniapp=Item(Level.OK) if platform.webapp_url else Item(Level.WARN, Fix.SET_WEBAPP_URL),
        failed_follow_ups=dead.count, follow_up_kinds=dead.kinds, last_follow_up_failure=dead.last_error,
        follow_ups=Item(Level.WARN) if dead.count else Item(Level.OK),
        unconfirmed_sends=unconfirmed,
    )
