"""The constraints that make ingest idempotent really reject duplicates; pgvector and russian full text work."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from core.models import (
    EMBEDDING_DIM,
    ChannelAccount,
    ChannelKind,
    Customer,
    CustomerIdentity,
    Dialog,
    Direction,
    AuthorKind,
    DocType,
    KnowledgeChunk,
    Message,
    OutboxCommand,
    ProcessedUpdate,
    Product,
    Role,
)
from core.services.tenants import create_tenant


async def _dialog(session):
    tenant = await create_tenant(session, slug="shop", name="Shop")
    channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1001")
    session.add(channel)
    await session.flush()
    customer = Customer(tenant_id=tenant.id, display_name="Анна")
    session.add(customer)
    await session.flush()
    dialog = Dialog(tenant_id=tenant.id, customer_id=customer.id, channel_id=channel.id, external_chat_id="42")
    session.add(dialog)
    await session.flush()
    return tenant, channel, customer, dialog


async def _rejects(db, build):
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await build(session)


async def test_tenant_gets_builtin_roles(db):
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        codes = set((await session.execute(select(Role.code).where(Role.tenant_id == tenant.id))).scalars())
    assert {"owner", "admin", "manager", "analyst", "finance", "viewer"} <= codes


async def test_duplicate_message_external_id_rejected(db):
    async with db.unit_of_work() as session:
        tenant, _, _, dialog = await _dialog(session)
        ids = (tenant.id, dialog.id)

    def msg(ext):
        return Message(tenant_id=ids[0], dialog_id=ids[1], external_id=ext, direction=Direction.IN,
                       author_kind=AuthorKind.CUSTOMER, text="hi", sent_at=datetime.now(UTC))

    async with db.unit_of_work() as session:
        session.add(msg("7"))

    async def dup(session):
        session.add(msg("7"))

    await _rejects(db, dup)
    async with db.unit_of_work() as session:  # outgoing messages not yet delivered have no external id: many allowed
        session.add_all([msg(None), msg(None)])
    async with db.unit_of_work() as session:
        assert (await session.execute(select(func.count(Message.id)))).scalar_one() == 3


async def test_duplicate_dialog_identity_product_command_update_rejected(db):
    async with db.unit_of_work() as session:
        tenant, channel, customer, _ = await _dialog(session)
        session.add(CustomerIdentity(customer_id=customer.id, channel_id=channel.id, external_user_id="42"))
        session.add(Product(tenant_id=tenant.id, sku="A-1", name="x", price=Decimal("1")))
        session.add(OutboxCommand(kind="x", destination="d", idempotency_key="k1"))
        session.add(ProcessedUpdate(source="tg", update_key="1"))
        t, c, cu = tenant.id, channel.id, customer.id

    async def dialog(s):
        s.add(Dialog(tenant_id=t, customer_id=cu, channel_id=c, external_chat_id="42"))

    async def identity(s):
        s.add(CustomerIdentity(customer_id=cu, channel_id=c, external_user_id="42"))

    async def product(s):
        s.add(Product(tenant_id=t, sku="A-1", name="y", price=Decimal("2")))

    async def command(s):
        s.add(OutboxCommand(kind="x", destination="d", idempotency_key="k1"))

    async def update(s):
        s.add(ProcessedUpdate(source="tg", update_key="1"))

    async def tenant_slug(s):
        s.add(type(tenant)(slug="shop", name="Other"))

    async def channel_dup(s):
        s.add(ChannelAccount(tenant_id=t, kind=ChannelKind.VK_COMMUNITY, external_id="1001"))

    for build in (dialog, identity, product, command, update, tenant_slug, channel_dup):
        await _rejects(db, build)


async def test_check_constraints_reject_bad_values(db):
    async with db.unit_of_work() as session:
        tenant, *_ = await _dialog(session)
        tid = tenant.id
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await session.execute(text("UPDATE tenants SET t_auto = 0.2, t_escalate = 0.5 WHERE id = :id"), {"id": tid})
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await session.execute(text("UPDATE dialogs SET status = 'bogus'"))


async def test_vector_and_russian_full_text(db):
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        a = [1.0] + [0.0] * (EMBEDDING_DIM - 1)
        b = [0.0, 1.0] + [0.0] * (EMBEDDING_DIM - 2)
        session.add_all([
            KnowledgeChunk(tenant_id=tenant.id, doc_type=DocType.DELIVERY, text="Доставка курьером по Москве", embedding=a),
            KnowledgeChunk(tenant_id=tenant.id, doc_type=DocType.RETURNS, text="Возврат товара в течение 14 дней", embedding=b),
        ])
    async with db.unit_of_work() as session:
        nearest = (await session.execute(
            select(KnowledgeChunk.text).order_by(KnowledgeChunk.embedding.cosine_distance(a)).limit(1)
        )).scalar_one()
        assert nearest.startswith("Доставка")
        # Russian stemming: «доставки» finds «Доставка».
        found = (await session.execute(
            select(KnowledgeChunk.text).where(KnowledgeChunk.tsv.op("@@")(func.plainto_tsquery("russian", "доставки")))
        )).scalars().all()
        assert found == ["Доставка курьером по Москве"]
