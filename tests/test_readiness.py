"""The readiness checklist of a tenant (core.services.readiness): every item reflects the database as it is, and each
item that is not OK names what to do next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core import i18n
from core.models import (
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    CommandState,
    ImportRun,
    ImportStatus,
    KnowledgeDocument,
    ManagerGroup,
    OutboxCommand,
    Product,
    StaffMember,
)
from core.services import readiness
from core.services.readiness import Fix, Level, Platform
from core.services.tenants import create_tenant, role_by_code

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _tenant(session, slug: str = "shop", **fields) -> int:
    tenant = await create_tenant(session, slug=slug, name="Магазин", **fields)
    await session.flush()
    return tenant.id


async def _staff(session, tenant_id: int, role: str, user_id: int) -> None:
    session.add(StaffMember(tenant_id=tenant_id, role_id=(await role_by_code(session, tenant_id, role)).id,
                            telegram_user_id=user_id, name=f"u{user_id}"))


async def test_a_new_tenant_is_told_each_step(db):
    async with db.unit_of_work() as session:
        tenant_id = await _tenant(session)
        await _staff(session, tenant_id, "owner", 1)
    async with db.unit_of_work() as session:
        state = await readiness.check(session, tenant_id, Platform(), now=NOW)
    assert state.groups == [] and state.channels == []
    assert state.no_group == readiness.Item(Level.TODO, Fix.ADD_GROUP)
    assert state.no_channel == readiness.Item(Level.TODO, Fix.ADD_CHANNEL)
    assert state.knowledge == readiness.Item(Level.WARN, Fix.LOAD_KNOWLEDGE)
    assert state.catalog == readiness.Item(Level.WARN, Fix.LOAD_CATALOG)
    assert state.staff == readiness.Item(Level.WARN, Fix.INVITE_STAFF)  # only the owner: nobody answers customers
    assert state.staff_by_role == {"owner": 1}
    assert state.ai == readiness.Item(Level.WARN, Fix.SET_OPENAI_KEY) and not state.openai
    assert state.autosend == readiness.Item(Level.INFO, Fix.ENABLE_AUTOSEND) and not state.autosend_on
    assert state.miniapp == readiness.Item(Level.WARN, Fix.SET_WEBAPP_URL)
    assert state.failures.level is Level.OK and state.failed_commands == 0
    assert state.todo == 2 and not state.ready


async def test_groups_channels_imports_counts_and_failures(db):
    async with db.unit_of_work() as session:
        tenant_id = await _tenant(session, autosend_allowed=True)
        other_id = await _tenant(session, slug="other")
        for role, user in (("owner", 1), ("manager", 2), ("manager", 3), ("viewer", 4)):
            await _staff(session, tenant_id, role, user)
        session.add_all([
            ManagerGroup(tenant_id=tenant_id, chat_id=-1001, title="Готова", is_forum=True, missing_rights=[]),
            ManagerGroup(tenant_id=tenant_id, chat_id=-1002, title="Без прав", is_forum=True,
                         missing_rights=["can_pin_messages", "can_restrict_members"]),
            ManagerGroup(tenant_id=tenant_id, chat_id=-1003, title="Без тем", is_forum=False,
                         missing_rights=["topics"]),
            ManagerGroup(tenant_id=tenant_id, chat_id=-1004, title="Ушёл", is_forum=True, missing_rights=[],
                         is_active=False),
            ManagerGroup(tenant_id=other_id, chat_id=-1005, title="Чужая", is_forum=True, missing_rights=[]),
        ])
        active = ChannelAccount(tenant_id=tenant_id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK",
                                status=ChannelStatus.ACTIVE)
        revoked = ChannelAccount(tenant_id=tenant_id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="2",
                                 title="TG", status=ChannelStatus.REVOKED)
        paused = ChannelAccount(tenant_id=tenant_id, kind=ChannelKind.VK_USER, external_id="3", title="Я",
                                status=ChannelStatus.ACTIVE)
        flood = ChannelAccount(tenant_id=tenant_id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="4",
                               title="F", status=ChannelStatus.FLOOD_WAIT, flood_until=NOW + timedelta(minutes=5))
        session.add_all([active, revoked, paused, flood])
        await session.flush()
        session.add_all([
            ImportRun(channel_id=active.id, status=ImportStatus.DONE, conversations_total=10, conversations_done=10),
            ImportRun(channel_id=active.id, status=ImportStatus.RUNNING, conversations_total=200,
                      conversations_done=50, messages_done=900),  # the latest run counts
            ImportRun(channel_id=paused.id, status=ImportStatus.PAUSED, conversations_done=7),
        ])
        session.add_all([
            KnowledgeDocument(tenant_id=tenant_id, title=f"d{i}", body="текст", content_hash=f"h{i}") for i in range(3)
        ] + [
            Product(tenant_id=tenant_id, sku="A", name="a", price=Decimal("1")),
            Product(tenant_id=tenant_id, sku="B", name="b", price=Decimal("1"), is_active=False),
            Product(tenant_id=other_id, sku="C", name="c", price=Decimal("1")),
        ])
        for key, state, age in (("new", CommandState.FAILED, timedelta(hours=1)),
                                ("old", CommandState.FAILED, timedelta(days=2)),
                                ("done", CommandState.DONE, timedelta(hours=1))):
            session.add(OutboxCommand(tenant_id=tenant_id, kind="notice", destination="tg:chat:1",
                                      idempotency_key=key, state=state, last_error=f"error {key}",
                                      updated_at=NOW - age))
        ids = {"active": active.id, "revoked": revoked.id, "paused": paused.id, "flood": flood.id}

    platform = Platform(openai_key=True, chat_model="gpt-4o-mini", global_autosend=True,
                        webapp_url="https://app.example")
    async with db.unit_of_work() as session:
        state = await readiness.check(session, tenant_id, platform, now=NOW)

    groups = {g.title: g for g in state.groups}
    assert set(groups) == {"Готова", "Без прав", "Без тем", "Ушёл"}
    assert (groups["Готова"].level, groups["Готова"].fix) == (Level.OK, None)
    assert (groups["Без прав"].level, groups["Без прав"].fix) == (Level.TODO, Fix.GRANT_RIGHTS)
    assert groups["Без прав"].missing_rights == ("can_pin_messages", "can_restrict_members")
    assert (groups["Без тем"].fix, groups["Без тем"].is_forum, groups["Без тем"].missing_rights) == (
        Fix.ENABLE_TOPICS, False, ())
    assert (groups["Ушёл"].level, groups["Ушёл"].fix) == (Level.TODO, Fix.READD_BOT)
    assert state.no_group.level is Level.OK

    channels = {c.id: c for c in state.channels}
    running = channels[ids["active"]]
    assert (running.level, running.import_status, running.import_percent) == (Level.OK, ImportStatus.RUNNING, 25)
    assert (running.conversations_done, running.conversations_total, running.messages_imported) == (50, 200, 900)
    assert (channels[ids["revoked"]].level, channels[ids["revoked"]].fix) == (Level.TODO, Fix.CHANNEL_RECONNECT)
    paused_check = channels[ids["paused"]]
    assert (paused_check.level, paused_check.fix, paused_check.import_percent) == (Level.WARN, Fix.IMPORT_RESUME,
                                                                                   None)
    assert channels[ids["flood"]].fix is Fix.CHANNEL_WAIT and channels[ids["flood"]].flood_until is not None

    assert (state.knowledge_documents, state.products) == (3, 1)
    assert state.knowledge.level is Level.OK and state.catalog.level is Level.OK
    assert state.staff_by_role == {"owner": 1, "manager": 2, "viewer": 1} and state.staff.level is Level.OK
    assert state.ai.level is Level.OK and state.miniapp.level is Level.OK
    assert state.autosend.level is Level.OK and state.autosend_on
    assert (state.failed_commands, state.last_failure) == (1, "error new")
    assert state.failures == readiness.Item(Level.WARN, Fix.CHECK_FAILURES)
    assert state.todo == 4  # three groups and the revoked channel


async def test_autosend_states(db):
    async with db.unit_of_work() as session:
        tenant_id = await _tenant(session, autosend_allowed=True)
    async with db.unit_of_work() as session:
        offline = await readiness.check(session, tenant_id, Platform(openai_key=False), now=NOW)
        switched_off = await readiness.check(session, tenant_id, Platform(openai_key=True, global_autosend=False),
                                             now=NOW)
    assert offline.autosend == readiness.Item(Level.INFO, Fix.OFFLINE_AUTOSEND) and not offline.autosend_on
    assert switched_off.autosend == readiness.Item(Level.INFO, Fix.GLOBAL_AUTOSEND) and not switched_off.autosend_on


def test_every_fix_and_state_has_words_in_both_languages():
    from core.models import ChannelKind as Kinds
    from core.services.workspace.base import REQUIRED_RIGHTS

    keys = [f"status.fix.{fix.value}" for fix in Fix]
    keys += [f"status.channel.state.{s.value}" for s in ChannelStatus]
    keys += [f"status.import.{s.value}" for s in ImportStatus]
    keys += [f"status.kind.{k.value}" for k in Kinds]
    keys += [f"status.right.{r}" for r in REQUIRED_RIGHTS]
    missing = [(key, loc) for key in keys for loc in i18n.LOCALES if not i18n.has(key, loc)]
    assert missing == []
