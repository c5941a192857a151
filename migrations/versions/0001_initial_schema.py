"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 05:19:45.920648
"""

from collections.abc import Sequence

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table('processed_updates',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('update_key', sa.String(length=128), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('source', 'update_key', name=op.f('pk_processed_updates'))
    )
    op.create_table('tenants',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('tone', sa.Enum('friendly', 'formal', name='tone', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('address_form', sa.Enum('vy', 'ty', name='address_form', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('working_hours', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('t_auto', sa.Float(), nullable=False),
    sa.Column('t_escalate', sa.Float(), nullable=False),
    sa.Column('autosend_allowed', sa.Boolean(), nullable=False),
    sa.Column('offline_autosend_allowed', sa.Boolean(), nullable=False),
    sa.Column('intents_autosend', postgresql.ARRAY(sa.String(length=24)), nullable=False),
    sa.Column('intents_force_handoff', postgresql.ARRAY(sa.String(length=24)), nullable=False),
    sa.Column('intents_no_learning', postgresql.ARRAY(sa.String(length=24)), nullable=False),
    sa.Column('forbidden_topics', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('allow_discounts', sa.Boolean(), nullable=False),
    sa.Column('max_discount_percent', sa.Integer(), nullable=False),
    sa.Column('delay_profile', sa.Enum('off', 'short', 'medium', 'long', name='delay_profile', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('night_mode', sa.Enum('auto_reply', 'delay', 'disable', name='night_mode', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('night_multiplier', sa.Float(), nullable=False),
    sa.Column('night_auto_reply', sa.Text(), nullable=True),
    sa.Column('typing_indicator', sa.Boolean(), nullable=False),
    sa.Column('report_morning_at', sa.Time(), nullable=True),
    sa.Column('report_evening_at', sa.Time(), nullable=True),
    sa.Column('report_chat_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.Column('escalation_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('voice_enabled', sa.Boolean(), nullable=False),
    sa.Column('elevenlabs_voice_id', sa.String(length=64), nullable=True),
    sa.Column('elevenlabs_api_key_enc', sa.LargeBinary(), nullable=True),
    sa.Column('group_routing', sa.String(length=24), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('max_discount_percent BETWEEN 0 AND 100', name=op.f('ck_tenants_max_discount')),
    sa.CheckConstraint('t_escalate >= 0 AND t_escalate <= t_auto AND t_auto <= 1', name=op.f('ck_tenants_thresholds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenants_slug'))
    )
    op.create_table('customers',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=255), nullable=True),
    sa.Column('last_name', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('profile_url', sa.String(length=255), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('memory', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('summary_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.Column('first_touch_id', sa.BigInteger(), nullable=True),
    sa.Column('last_touch_id', sa.BigInteger(), nullable=True),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_customers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    op.create_index(op.f('ix_customers_tenant_id'), 'customers', ['tenant_id'], unique=False)
    op.create_table('knowledge_documents',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('doc_type', sa.Enum('policy', 'faq', 'delivery', 'returns', 'payment', 'script', 'objection', 'product', 'other', name='doc_type', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_knowledge_documents_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_documents'))
    )
    op.create_index(op.f('ix_knowledge_documents_tenant_id'), 'knowledge_documents', ['tenant_id'], unique=False)
    op.create_table('manager_groups',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('is_forum', sa.Boolean(), nullable=False),
    sa.Column('missing_rights', postgresql.ARRAY(sa.String(length=48)), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('message_count', sa.BigInteger(), nullable=False),
    sa.Column('rotated_to_id', sa.BigInteger(), nullable=True),
    sa.Column('general_card_message_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['rotated_to_id'], ['manager_groups.id'], name=op.f('fk_manager_groups_rotated_to_id_manager_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_manager_groups_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manager_groups')),
    sa.UniqueConstraint('chat_id', name=op.f('uq_manager_groups_chat_id'))
    )
    op.create_index(op.f('ix_manager_groups_tenant_id'), 'manager_groups', ['tenant_id'], unique=False)
    op.create_table('products',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('variants', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('delivery', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_products_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('tenant_id', 'sku', name=op.f('uq_products_tenant_id_sku'))
    )
    op.create_table('report_runs',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('morning', 'evening', name='report_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', name='report_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('chat_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('figures', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_report_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs')),
    sa.UniqueConstraint('tenant_id', 'kind', 'scheduled_for', name=op.f('uq_report_runs_tenant_id_kind_scheduled_for'))
    )
    op.create_table('roles',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('permissions', postgresql.ARRAY(sa.String(length=48)), nullable=False),
    sa.Column('hidden_fields', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_roles_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roles')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_roles_tenant_id_code'))
    )
    op.create_table('channel_accounts',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('telegram_account', 'vk_community', 'vk_user', name='channel_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('credentials_enc', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.Enum('new', 'connecting', 'active', 'flood_wait', 'captcha', 'error', 'revoked', 'disabled', name='channel_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('status_detail', sa.Text(), nullable=True),
    sa.Column('flood_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('update_state', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('manager_group_id', sa.BigInteger(), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['manager_group_id'], ['manager_groups.id'], name=op.f('fk_channel_accounts_manager_group_id_manager_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_channel_accounts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_accounts')),
    sa.UniqueConstraint('tenant_id', 'kind', 'external_id', name=op.f('uq_channel_accounts_tenant_id_kind_external_id'))
    )
    op.create_index(op.f('ix_channel_accounts_tenant_id'), 'channel_accounts', ['tenant_id'], unique=False)
    op.create_table('knowledge_chunks',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('document_id', sa.BigInteger(), nullable=True),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('doc_type', sa.Enum('policy', 'faq', 'delivery', 'returns', 'payment', 'script', 'objection', 'product', 'other', name='chunk_doc_type', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('embedding', pgvector.sqlalchemy.vector.VECTOR(dim=512), nullable=True),
    sa.Column('embedder', sa.String(length=100), nullable=True),
    sa.Column('tsv', postgresql.TSVECTOR(), sa.Computed("to_tsvector('russian', text)", persisted=True), nullable=False),
    sa.Column('meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['knowledge_documents.id'], name=op.f('fk_knowledge_chunks_document_id_knowledge_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_knowledge_chunks_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_knowledge_chunks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_chunks'))
    )
    op.create_index(op.f('ix_knowledge_chunks_document_id'), 'knowledge_chunks', ['document_id'], unique=False)
    op.create_index('ix_knowledge_chunks_embedding_hnsw', 'knowledge_chunks', ['embedding'], unique=False, postgresql_using='hnsw', postgresql_with={'m': 16, 'ef_construction': 64}, postgresql_ops={'embedding': 'vector_cosine_ops'})
    op.create_index(op.f('ix_knowledge_chunks_product_id'), 'knowledge_chunks', ['product_id'], unique=False)
    op.create_index('ix_knowledge_chunks_tenant_type', 'knowledge_chunks', ['tenant_id', 'doc_type'], unique=False)
    op.create_index('ix_knowledge_chunks_tsv', 'knowledge_chunks', ['tsv'], unique=False, postgresql_using='gin')
    op.create_table('staff_members',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('role_id', sa.BigInteger(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_staff_members_role_id_roles')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_staff_members_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_members')),
    sa.UniqueConstraint('tenant_id', 'telegram_user_id', name=op.f('uq_staff_members_tenant_id_telegram_user_id'))
    )
    op.create_index(op.f('ix_staff_members_telegram_user_id'), 'staff_members', ['telegram_user_id'], unique=False)
    op.create_index(op.f('ix_staff_members_tenant_id'), 'staff_members', ['tenant_id'], unique=False)
    op.create_table('traffic_touches',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('channel_kind', sa.Enum('telegram_account', 'vk_community', 'vk_user', name='touch_channel_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.Column('medium', sa.String(length=255), nullable=True),
    sa.Column('campaign', sa.String(length=255), nullable=True),
    sa.Column('content', sa.String(length=255), nullable=True),
    sa.Column('term', sa.String(length=255), nullable=True),
    sa.Column('ref', sa.String(length=255), nullable=True),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('touched_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_traffic_touches_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_traffic_touches_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_traffic_touches'))
    )
    op.create_index(op.f('ix_traffic_touches_customer_id'), 'traffic_touches', ['customer_id'], unique=False)
    op.create_index(op.f('ix_traffic_touches_tenant_id'), 'traffic_touches', ['tenant_id'], unique=False)
    # customers ↔ traffic_touches reference each other: these two keys can only be added once both tables exist.
    op.create_foreign_key(op.f('fk_customers_first_touch_id_traffic_touches'), 'customers', 'traffic_touches', ['first_touch_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key(op.f('fk_customers_last_touch_id_traffic_touches'), 'customers', 'traffic_touches', ['last_touch_id'], ['id'], ondelete='SET NULL')
    op.create_table('customer_identities',
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('channel_id', sa.BigInteger(), nullable=False),
    sa.Column('external_user_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channel_accounts.id'], name=op.f('fk_customer_identities_channel_id_channel_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_identities_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_identities')),
    sa.UniqueConstraint('channel_id', 'external_user_id', name=op.f('uq_customer_identities_channel_id_external_user_id'))
    )
    op.create_index(op.f('ix_customer_identities_customer_id'), 'customer_identities', ['customer_id'], unique=False)
    op.create_table('dialogs',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('channel_id', sa.BigInteger(), nullable=False),
    sa.Column('external_chat_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('active', 'waiting', 'escalated', 'resolved', 'inactive', name='dialog_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('ai_mode', sa.Enum('off', 'learning', 'semi_auto', 'auto', name='ai_mode', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('assignee_id', sa.BigInteger(), nullable=True),
    sa.Column('manager_group_id', sa.BigInteger(), nullable=True),
    sa.Column('unread_count', sa.Integer(), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_customer_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_reply_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_seconds', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('won', 'lost', name='outcome', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('outcome_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('outcome_currency', sa.String(length=3), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('csat', sa.SmallInteger(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff_members.id'], name=op.f('fk_dialogs_assignee_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['channel_id'], ['channel_accounts.id'], name=op.f('fk_dialogs_channel_id_channel_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_dialogs_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_group_id'], ['manager_groups.id'], name=op.f('fk_dialogs_manager_group_id_manager_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_dialogs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dialogs')),
    sa.UniqueConstraint('channel_id', 'external_chat_id', name=op.f('uq_dialogs_channel_id_external_chat_id'))
    )
    op.create_index(op.f('ix_dialogs_customer_id'), 'dialogs', ['customer_id'], unique=False)
    op.create_index('ix_dialogs_list', 'dialogs', ['tenant_id', 'status', sa.literal_column('last_message_at DESC NULLS LAST')], unique=False)
    op.create_index('ix_dialogs_unanswered', 'dialogs', ['tenant_id', 'last_customer_message_at'], unique=False, postgresql_where=sa.text('unread_count > 0'))
    op.create_table('import_runs',
    sa.Column('channel_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('idle', 'running', 'paused', 'done', 'failed', name='import_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('cursor', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('conversations_total', sa.Integer(), nullable=True),
    sa.Column('conversations_done', sa.Integer(), nullable=False),
    sa.Column('messages_done', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channel_accounts.id'], name=op.f('fk_import_runs_channel_id_channel_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_runs'))
    )
    op.create_index(op.f('ix_import_runs_channel_id'), 'import_runs', ['channel_id'], unique=False)
    op.create_table('invitations',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('role_id', sa.BigInteger(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_by_id', sa.BigInteger(), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_members.id'], name=op.f('fk_invitations_created_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_invitations_role_id_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_invitations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_id'], ['staff_members.id'], name=op.f('fk_invitations_used_by_id_staff_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    op.create_table('media_items',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.Enum('photo', 'document', 'voice', 'audio', 'video', 'video_note', 'sticker', 'other', name='media_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('mime', sa.String(length=128), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('storage_key', sa.String(length=255), nullable=False),
    sa.Column('telegram_file_id', sa.String(length=255), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_members.id'], name=op.f('fk_media_items_created_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_media_items_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_items'))
    )
    op.create_index(op.f('ix_media_items_tenant_id'), 'media_items', ['tenant_id'], unique=False)
    op.create_table('ai_usage',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('dialog_id', sa.BigInteger(), nullable=True),
    sa.Column('purpose', sa.Enum('suggest', 'intent', 'embed', 'summary', 'tts', 'other', name='usage_purpose', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cached_tokens', sa.Integer(), nullable=False),
    sa.Column('characters', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=14, scale=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_ai_usage_dialog_id_dialogs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ai_usage_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_usage'))
    )
    op.create_index(op.f('ix_ai_usage_dialog_id'), 'ai_usage', ['dialog_id'], unique=False)
    op.create_index('ix_ai_usage_tenant_day', 'ai_usage', ['tenant_id', 'created_at'], unique=False)
    op.create_table('dialog_topics',
    sa.Column('dialog_id', sa.BigInteger(), nullable=False),
    sa.Column('manager_group_id', sa.BigInteger(), nullable=False),
    sa.Column('thread_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('status_marker', sa.String(length=24), nullable=False),
    sa.Column('pinned_message_id', sa.BigInteger(), nullable=True),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_dialog_topics_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_group_id'], ['manager_groups.id'], name=op.f('fk_dialog_topics_manager_group_id_manager_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dialog_topics')),
    sa.UniqueConstraint('dialog_id', 'manager_group_id', name=op.f('uq_dialog_topics_dialog_id_manager_group_id')),
    sa.UniqueConstraint('manager_group_id', 'thread_id', name=op.f('uq_dialog_topics_manager_group_id_thread_id'))
    )
    op.create_table('messages',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('dialog_id', sa.BigInteger(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('direction', sa.Enum('in', 'out', name='direction', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('author_kind', sa.Enum('customer', 'manager', 'ai', 'system', name='author_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('author_staff_id', sa.BigInteger(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reply_to_external_id', sa.String(length=64), nullable=True),
    sa.Column('media_group_id', sa.String(length=64), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('edit_count', sa.Integer(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_imported', sa.Boolean(), nullable=False),
    sa.Column('is_read', sa.Boolean(), nullable=False),
    sa.Column('delivery_error', sa.Text(), nullable=True),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['author_staff_id'], ['staff_members.id'], name=op.f('fk_messages_author_staff_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_messages_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_messages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('dialog_id', 'external_id', name=op.f('uq_messages_dialog_id_external_id'))
    )
    op.create_index('ix_messages_history', 'messages', ['dialog_id', 'sent_at'], unique=False)
    op.create_index(op.f('ix_messages_tenant_id'), 'messages', ['tenant_id'], unique=False)
    op.create_table('attachments',
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('ordinal', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.Enum('photo', 'document', 'voice', 'audio', 'video', 'video_note', 'sticker', 'other', name='attachment_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('mime', sa.String(length=128), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('storage_key', sa.String(length=255), nullable=True),
    sa.Column('external_ref', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('telegram_file_id', sa.String(length=255), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_attachments_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    sa.UniqueConstraint('message_id', 'ordinal', name=op.f('uq_attachments_message_id_ordinal'))
    )
    op.create_index(op.f('ix_attachments_sha256'), 'attachments', ['sha256'], unique=False)
    op.create_table('message_edits',
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('old_text', sa.Text(), nullable=False),
    sa.Column('new_text', sa.Text(), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_edits_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_edits'))
    )
    op.create_index(op.f('ix_message_edits_message_id'), 'message_edits', ['message_id'], unique=False)
    op.create_table('suggestions',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('dialog_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('intent', sa.String(length=24), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('decision', sa.Enum('auto_send', 'need_approval', 'escalate', name='decision', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('checks', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('inputs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('sources', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('state', sa.Enum('pending', 'sent', 'edited', 'rejected', 'escalated', 'outdated', 'failed', name='suggestion_state', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('final_text', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_members.id'], name=op.f('fk_suggestions_decided_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_suggestions_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_suggestions_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_suggestions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions'))
    )
    op.create_index('ix_suggestions_dialog', 'suggestions', ['dialog_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_suggestions_tenant_id'), 'suggestions', ['tenant_id'], unique=False)
    op.create_table('escalations',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('dialog_id', sa.BigInteger(), nullable=False),
    sa.Column('suggestion_id', sa.BigInteger(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('proposed_answer', sa.Text(), nullable=True),
    sa.Column('to_clarify', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'handled', 'dismissed', name='escalation_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('created_by_id', sa.BigInteger(), nullable=True),
    sa.Column('handled_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_members.id'], name=op.f('fk_escalations_created_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_escalations_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['handled_by_id'], ['staff_members.id'], name=op.f('fk_escalations_handled_by_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], name=op.f('fk_escalations_suggestion_id_suggestions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_escalations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations'))
    )
    op.create_index(op.f('ix_escalations_dialog_id'), 'escalations', ['dialog_id'], unique=False)
    op.create_index('ix_escalations_tenant_status', 'escalations', ['tenant_id', 'status'], unique=False)
    op.create_table('outbox_commands',
    sa.Column('tenant_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('destination', sa.String(length=96), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('state', sa.Enum('pending_approval', 'approved', 'queued', 'in_flight', 'done', 'failed', 'cancelled', name='command_state', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('origin', sa.Enum('ai', 'manager', 'system', name='command_origin', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('intent', sa.String(length=24), nullable=True),
    sa.Column('dialog_id', sa.BigInteger(), nullable=True),
    sa.Column('suggestion_id', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_outbox_commands_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], name=op.f('fk_outbox_commands_suggestion_id_suggestions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_outbox_commands_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_commands')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_commands_idempotency_key'))
    )
    op.create_index(op.f('ix_outbox_commands_dialog_id'), 'outbox_commands', ['dialog_id'], unique=False)
    op.create_index(op.f('ix_outbox_commands_tenant_id'), 'outbox_commands', ['tenant_id'], unique=False)
    op.create_index('ix_outbox_destination', 'outbox_commands', ['destination', 'id'], unique=False)
    op.create_index('ix_outbox_runnable', 'outbox_commands', ['not_before', 'id'], unique=False, postgresql_where=sa.text("state IN ('approved', 'queued')"))
    op.create_table('topic_messages',
    sa.Column('dialog_topic_id', sa.BigInteger(), nullable=False),
    sa.Column('telegram_message_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('suggestion_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.Enum('mirror', 'pinned_card', 'reply_card', 'manager', 'note', 'system', name='topic_message_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['dialog_topic_id'], ['dialog_topics.id'], name=op.f('fk_topic_messages_dialog_topic_id_dialog_topics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_topic_messages_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], name=op.f('fk_topic_messages_suggestion_id_suggestions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_messages')),
    sa.UniqueConstraint('dialog_topic_id', 'telegram_message_id', name=op.f('uq_topic_messages_dialog_topic_id_telegram_message_id'))
    )
    op.create_index(op.f('ix_topic_messages_message_id'), 'topic_messages', ['message_id'], unique=False)
    op.create_index(op.f('ix_topic_messages_suggestion_id'), 'topic_messages', ['suggestion_id'], unique=False)
    op.create_table('training_samples',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('dialog_id', sa.BigInteger(), nullable=False),
    sa.Column('suggestion_id', sa.BigInteger(), nullable=True),
    sa.Column('customer_message', sa.Text(), nullable=False),
    sa.Column('draft', sa.Text(), nullable=True),
    sa.Column('final', sa.Text(), nullable=True),
    sa.Column('intent', sa.String(length=24), nullable=False),
    sa.Column('action', sa.Enum('sent', 'edited', 'rejected', 'escalated', name='training_action', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('outcome', sa.Enum('won', 'lost', name='training_outcome', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('few_shot', sa.Boolean(), nullable=False),
    sa.Column('embedding', pgvector.sqlalchemy.vector.VECTOR(dim=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_training_samples_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], name=op.f('fk_training_samples_suggestion_id_suggestions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_training_samples_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_samples'))
    )
    op.create_index('ix_training_fewshot', 'training_samples', ['tenant_id', 'intent'], unique=False, postgresql_where=sa.text('few_shot'))
    op.create_index(op.f('ix_training_samples_dialog_id'), 'training_samples', ['dialog_id'], unique=False)
    op.create_table('events',
    sa.Column('tenant_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('dialog_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_staff_id', sa.BigInteger(), nullable=True),
    sa.Column('command_id', sa.BigInteger(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['actor_staff_id'], ['staff_members.id'], name=op.f('fk_events_actor_staff_id_staff_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['command_id'], ['outbox_commands.id'], name=op.f('fk_events_command_id_outbox_commands'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], name=op.f('fk_events_dialog_id_dialogs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index(op.f('ix_events_dialog_id'), 'events', ['dialog_id'], unique=False)
    op.create_index('ix_events_tenant_time', 'events', ['tenant_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_constraint(op.f('fk_customers_first_touch_id_traffic_touches'), 'customers', type_='foreignkey')
    op.drop_constraint(op.f('fk_customers_last_touch_id_traffic_touches'), 'customers', type_='foreignkey')
    op.drop_index('ix_events_tenant_time', table_name='events')
    op.drop_index(op.f('ix_events_dialog_id'), table_name='events')
    op.drop_table('events')
    op.drop_index(op.f('ix_training_samples_dialog_id'), table_name='training_samples')
    op.drop_index('ix_training_fewshot', table_name='training_samples', postgresql_where=sa.text('few_shot'))
    op.drop_table('training_samples')
    op.drop_index(op.f('ix_topic_messages_suggestion_id'), table_name='topic_messages')
    op.drop_index(op.f('ix_topic_messages_message_id'), table_name='topic_messages')
    op.drop_table('topic_messages')
    op.drop_index('ix_outbox_runnable', table_name='outbox_commands', postgresql_where=sa.text("state IN ('approved', 'queued')"))
    op.drop_index('ix_outbox_destination', table_name='outbox_commands')
    op.drop_index(op.f('ix_outbox_commands_tenant_id'), table_name='outbox_commands')
    op.drop_index(op.f('ix_outbox_commands_dialog_id'), table_name='outbox_commands')
    op.drop_table('outbox_commands')
    op.drop_index('ix_escalations_tenant_status', table_name='escalations')
    op.drop_index(op.f('ix_escalations_dialog_id'), table_name='escalations')
    op.drop_table('escalations')
    op.drop_index(op.f('ix_suggestions_tenant_id'), table_name='suggestions')
    op.drop_index('ix_suggestions_dialog', table_name='suggestions')
    op.drop_table('suggestions')
    op.drop_index(op.f('ix_message_edits_message_id'), table_name='message_edits')
    op.drop_table('message_edits')
    op.drop_index(op.f('ix_attachments_sha256'), table_name='attachments')
    op.drop_table('attachments')
    op.drop_index(op.f('ix_messages_tenant_id'), table_name='messages')
    op.drop_index('ix_messages_history', table_name='messages')
    op.drop_table('messages')
    op.drop_table('dialog_topics')
    op.drop_index('ix_ai_usage_tenant_day', table_name='ai_usage')
    op.drop_index(op.f('ix_ai_usage_dialog_id'), table_name='ai_usage')
    op.drop_table('ai_usage')
    op.drop_index(op.f('ix_media_items_tenant_id'), table_name='media_items')
    op.drop_table('media_items')
    op.drop_table('invitations')
    op.drop_index(op.f('ix_import_runs_channel_id'), table_name='import_runs')
    op.drop_table('import_runs')
    op.drop_index('ix_dialogs_unanswered', table_name='dialogs', postgresql_where=sa.text('unread_count > 0'))
    op.drop_index('ix_dialogs_list', table_name='dialogs')
    op.drop_index(op.f('ix_dialogs_customer_id'), table_name='dialogs')
    op.drop_table('dialogs')
    op.drop_index(op.f('ix_customer_identities_customer_id'), table_name='customer_identities')
    op.drop_table('customer_identities')
    op.drop_index(op.f('ix_traffic_touches_tenant_id'), table_name='traffic_touches')
    op.drop_index(op.f('ix_traffic_touches_customer_id'), table_name='traffic_touches')
    op.drop_table('traffic_touches')
    op.drop_index(op.f('ix_staff_members_tenant_id'), table_name='staff_members')
    op.drop_index(op.f('ix_staff_members_telegram_user_id'), table_name='staff_members')
    op.drop_table('staff_members')
    op.drop_index('ix_knowledge_chunks_tsv', table_name='knowledge_chunks', postgresql_using='gin')
    op.drop_index('ix_knowledge_chunks_tenant_type', table_name='knowledge_chunks')
    op.drop_index(op.f('ix_knowledge_chunks_product_id'), table_name='knowledge_chunks')
    op.drop_index('ix_knowledge_chunks_embedding_hnsw', table_name='knowledge_chunks', postgresql_using='hnsw', postgresql_with={'m': 16, 'ef_construction': 64}, postgresql_ops={'embedding': 'vector_cosine_ops'})
    op.drop_index(op.f('ix_knowledge_chunks_document_id'), table_name='knowledge_chunks')
    op.drop_table('knowledge_chunks')
    op.drop_index(op.f('ix_channel_accounts_tenant_id'), table_name='channel_accounts')
    op.drop_table('channel_accounts')
    op.drop_table('roles')
    op.drop_table('report_runs')
    op.drop_table('products')
    op.drop_index(op.f('ix_manager_groups_tenant_id'), table_name='manager_groups')
    op.drop_table('manager_groups')
    op.drop_index(op.f('ix_knowledge_documents_tenant_id'), table_name='knowledge_documents')
    op.drop_table('knowledge_documents')
    op.drop_index(op.f('ix_customers_tenant_id'), table_name='customers')
    op.drop_table('customers')
    op.drop_table('tenants')
    op.drop_table('processed_updates')
