"""Changing a tenant's settings, all or nothing: "key=value" assignments as the CLI and the bot receive them, each
value checked, then the resulting combination, then written under a lock on the tenant, with one "settings_changed"
event saying who changed what."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events
from ...crypto import SecretBox
from ...errors import ConfigError, UserError
from ...models import Tenant
from .base import SettingsError, number_text, quoted
from .domain_kinds import check_tenant_intents
from .reading import current
from .schema import BY_KEY, setting_of

EVENT_KIND = "settings_changed"


@dataclass(frozen=True)
class Change:
    key: str
    old: Any  # JSON-friendly, secrets masked
    new: Any
    old_text: str
    new_text: str


def parse_assignments(args: Iterable[str]) -> dict[str, str]:
    """["t_auto=0.9", "intents_autosend=greeting, price"] → {"t_auto": "0.9", ...}; a key given twice is refused."""
    out: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise SettingsError(quoted(arg), "assignment")
        if key in out:
            raise SettingsError(key, "twice")
        out[key] = value
    return out


def parse(changes: Mapping[str, Any], *, text: bool) -> dict[str, Any]:
    """Validate each value on its own: text values when `text`, typed values (JSON) otherwise."""
    parsed: dict[str, Any] = {}
    for raw_key, value in changes.items():
        key = str(raw_key).strip().lower().replace("-", "_")
        setting = setting_of(key)
        if key in parsed:
            raise SettingsError(key, "twice")
        if text:
            if not isinstance(value, str):
                raise setting.type.bad(key, value)
            parsed[key] = setting.type.from_text(key, value)
        else:
            parsed[key] = setting.type.from_value(key, value)
    return parsed


def check_combination(values: Mapping[str, Any], changed: Iterable[str]) -> None:
    """Rules across keys, on the values as they would be after the change."""
    changed = list(changed)
    t_auto, t_escalate = values["t_auto"], values["t_escalate"]
    if not (0 <= t_escalate < t_auto <= 1):
        named = [k for k in ("t_escalate", "t_auto") if k in changed] or ["t_escalate", "t_auto"]
        raise SettingsError(", ".join(named), "thresholds", t_escalate=number_text(t_escalate), t_auto=number_text(t_auto))
    if values["voice_enabled"] and (values["elevenlabs_api_key"] is None or not values["elevenlabs_voice_id"]):
        raise SettingsError("voice_enabled", "voice")


async def _locked_tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update().execution_options(populate_existing=True)
    )).scalar_one_or_none()
    if tenant is None:
        raise UserError(f"no tenant {tenant_id}")
    return tenant


async def update(session: AsyncSession, tenant_id: int, changes: Mapping[str, Any], *, text: bool = False,
                 secrets: SecretBox | None = None, actor_staff_id: int | None = None, via: str = "cli"
                 ) -> list[Change]:
    """Change settings, all or nothing: every value is validated, then the resulting combination, then written, and
    one "settings_changed" event records who changed what (old and new, the API key masked). Returns what changed
    (nothing when every value was already so: then no event is recorded). Never commits."""
    if not changes:
        raise SettingsError("-", "nothing")
    parsed = parse(changes, text=text)
    tenant = await _locked_tenant(session, tenant_id)
    check_tenant_intents(tenant, parsed)
    needs_secret = "elevenlabs_api_key" in parsed and parsed["elevenlabs_api_key"] is not None
    if needs_secret and secrets is None:
        raise ConfigError("storing elevenlabs_api_key needs the master key")
    before = current(tenant, secrets)
    after = {**before, **parsed}
    check_combination(after, parsed)

    changed: list[Change] = []
    for key, new in parsed.items():
        setting = BY_KEY[key]
        old = before[key]
        same = (old == new) if setting.secret else (setting.type.to_json(old) == setting.type.to_json(new))
        if same:
            continue
        changed.append(Change(key, setting.type.to_json(old), setting.type.to_json(new),
                              setting.type.to_text(old), setting.type.to_text(new)))
        if setting.secret:
            tenant.elevenlabs_api_key_enc = secrets.encrypt(new) if new is not None else None
        else:
            setattr(tenant, setting.column, new)
    if not changed:
        return []
    await session.flush()
    events.record(session, EVENT_KIND, tenant_id=tenant.id, actor_staff_id=actor_staff_id, via=via,
                  changes={c.key: {"old": c.old, "new": c.new} for c in changed})
    return changed


async def update_from_text(session: AsyncSession, tenant_id: int, assignments: Mapping[str, str] | Iterable[str],
                           **kw) -> list[Change]:
    """`update` with text values: a mapping key → text, or "key=value" strings as the CLI receives them."""
    if not isinstance(assignments, Mapping):
        assignments = parse_assignments(assignments)
    return await update(session, tenant_id, assignments, text=True, **kw)
