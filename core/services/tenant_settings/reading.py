"""A tenant's settings as they stand: every key's Python value (current), and as display text and JSON (show,
show_json), the API key masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...crypto import SecretBox
from ...errors import ConfigError
from ...models import Tenant
from .hours import WEEKDAYS
from .schema import SCHEMA

@dataclass(frozen=True)
class SettingView:
    key: str
    text: str  # as `set` accepts it back (the API key masked)
    value: Any  # JSON-friendly


def _secret_of(tenant: Tenant, secrets: SecretBox | None) -> str | None:
    """The stored API key, decrypted when the master key is at hand; otherwise a stand-in that masks the same."""
    if tenant.elevenlabs_api_key_enc is None:
        return None
    if secrets is None:
        return ""
    try:
        return secrets.decrypt(tenant.elevenlabs_api_key_enc)
    except ConfigError:
        return ""


def current(tenant: Tenant, secrets: SecretBox | None = None) -> dict[str, Any]:
    """Every setting's current Python value (the API key decrypted when `secrets` is given)."""
    values = {s.key: getattr(tenant, s.column) for s in SCHEMA if not s.secret}
    values["elevenlabs_api_key"] = _secret_of(tenant, secrets)
    values["working_hours"] = {d: list(v) for d, v in (tenant.working_hours or {}).items() if d in WEEKDAYS and v}
    for key in ("intents_autosend", "intents_force_handoff", "intents_no_learning", "forbidden_topics",
                "report_chat_ids"):
        values[key] = list(values[key] or [])
    return values


def show(tenant: Tenant, secrets: SecretBox | None = None) -> list[SettingView]:
    """Every key with its current value, as display text and as a JSON-friendly value (the API key masked)."""
    values = current(tenant, secrets)
    return [SettingView(s.key, s.type.to_text(values[s.key]), s.type.to_json(values[s.key])) for s in SCHEMA]


def show_json(tenant: Tenant, secrets: SecretBox | None = None) -> dict[str, Any]:
    return {view.key: view.value for view in show(tenant, secrets)}
