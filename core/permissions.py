"""Roles, permissions and per-role field visibility.

The built-in roles are seeded into every tenant (rows in `roles`), so an owner can later tune a role's permissions
and hidden fields without a deploy. Checks happen server-side: bot handlers and the Mini App API both call `can()`.
"""

from __future__ import annotations

import enum


class Permission(str, enum.Enum):
    VIEW_CONVERSATIONS = "view_conversations"
    MANAGE_CONVERSATIONS = "manage_conversations"  # reply, approve/edit/reject suggestions, assign, won/lost
    VIEW_CUSTOMERS = "view_customers"
    MANAGE_CUSTOMERS = "manage_customers"
    DELETE_CUSTOMER_DATA = "delete_customer_data"
    VIEW_ANALYTICS = "view_analytics"
    VIEW_TRAFFIC = "view_traffic"  # UTM / traffic-source report
    VIEW_SPEND = "view_spend"  # AI spend
    MANAGE_PRODUCTS = "manage_products"
    MANAGE_KNOWLEDGE_BASE = "manage_knowledge_base"
    MANAGE_AUTOSEND = "manage_autosend"  # per-dialog AI mode, thresholds
    MANAGE_POLICIES = "manage_policies"
    MANAGE_TRAINING = "manage_training"
    EXPORT_TRAINING_DATA = "export_training_data"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_TENANT_SETTINGS = "manage_tenant_settings"
    MANAGE_USERS = "manage_users"
    MANAGE_MEDIA = "manage_media"
    VIEW_AUDIT_LOGS = "view_audit_logs"


class Field(str, enum.Enum):
    """Customer/dialog fields whose visibility depends on the role."""

    PHONE = "phone"
    EMAIL = "email"
    PROFILE_LINK = "profile_link"
    USERNAME = "username"
    TRAFFIC_SOURCE = "traffic_source"
    TAGS = "tags"
    NOTES = "notes"
    DEAL_AMOUNT = "deal_amount"
    AI_COST = "ai_cost"


P = Permission
ALL = frozenset(P)

BUILTIN_ROLES: dict[str, dict] = {
    "owner": {"name": "Владелец", "permissions": ALL, "hidden": frozenset()},
    "admin": {"name": "Администратор", "permissions": ALL - {P.DELETE_CUSTOMER_DATA}, "hidden": frozenset()},
    "manager": {
        "name": "Менеджер",
        "permissions": frozenset(
            {P.VIEW_CONVERSATIONS, P.MANAGE_CONVERSATIONS, P.VIEW_CUSTOMERS, P.MANAGE_CUSTOMERS, P.MANAGE_AUTOSEND}
        ),
        # The owner's review: managers see tags, not the profile link and not where the customer came from.
        "hidden": frozenset({Field.PROFILE_LINK, Field.TRAFFIC_SOURCE, Field.AI_COST, Field.EMAIL}),
    },
    "analyst": {
        "name": "Трафик-аналитик",
        "permissions": frozenset({P.VIEW_ANALYTICS, P.VIEW_TRAFFIC}),
        "hidden": frozenset({Field.PHONE, Field.EMAIL, Field.PROFILE_LINK, Field.USERNAME, Field.NOTES}),
    },
    "finance": {
        "name": "Финансы",
        "permissions": frozenset({P.VIEW_ANALYTICS, P.VIEW_SPEND}),
        "hidden": frozenset({Field.PHONE, Field.EMAIL, Field.PROFILE_LINK, Field.USERNAME, Field.NOTES}),
    },
    "tech": {
        "name": "Техспециалист",
        "permissions": frozenset({P.MANAGE_CHANNELS, P.MANAGE_KNOWLEDGE_BASE, P.MANAGE_PRODUCTS, P.MANAGE_MEDIA}),
        "hidden": frozenset({Field.PHONE, Field.EMAIL, Field.PROFILE_LINK, Field.DEAL_AMOUNT}),
    },
    "viewer": {
        "name": "Наблюдатель",
        "permissions": frozenset({P.VIEW_CONVERSATIONS, P.VIEW_ANALYTICS}),
        "hidden": frozenset({Field.PHONE, Field.EMAIL, Field.PROFILE_LINK, Field.TRAFFIC_SOURCE, Field.AI_COST}),
    },
}


def can(granted: list[str] | frozenset, permission: Permission) -> bool:
    return permission.value in {str(p.value if isinstance(p, Permission) else p) for p in granted}


def visible(hidden_fields: list[str], field: Field) -> bool:
    return field.value not in hidden_fields
