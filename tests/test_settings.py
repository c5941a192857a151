"""Tenant settings: every key set from text and from typed values and shown back; every kind of bad value refused
with one line naming the key and nothing changed; one audit event per change; the ElevenLabs key stored encrypted
and shown masked; and the CLI as a person runs it — including autosend that starts only after
`salesop settings set … autosend_allowed=true`."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import time

import pytest
from sqlalchemy import select, update

from core.crypto import SecretBox
from core.models import AIMode, Decision, Dialog, Event, StaffMember, Tenant
from core.services import tenant_settings as ts
from core.services.tenants import create_tenant, role_by_code

from tests.ai.conftest import (  # noqa: F401  (fixtures)
    ai_settings,
    customer_says,
    intent_json,
    make_shop,
    online,
    openai_sandbox,
    pipeline,
    reply_json,
)
from tests.clirun import run_cli

API_KEY = "sk_live_0123456789abcdWXYZ"
WEEKDAYS_10_19 = {d: ["10:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}

# key → (text as typed, text as shown back, JSON value, other keys the change needs)
TABLE: dict[str, tuple[str, str, object, dict]] = {
    "language": ("EN", "en", "en", {}),
    "tone": ("formal", "formal", "formal", {}),
    "address_form": ("ty", "ty", "ty", {}),
    "currency": ("usd", "USD", "USD", {}),
    "timezone": ("asia/yekaterinburg", "Asia/Yekaterinburg", "Asia/Yekaterinburg", {}),
    "working_hours": ("пн-пт 10:00–19:00; сб 11:00-16:00, вс выходной",
                      "mon-fri 10:00-19:00, sat 11:00-16:00, sun closed",
                      {**WEEKDAYS_10_19, "sat": ["11:00", "16:00"]}, {}),
    "t_auto": ("0,9", "0.9", 0.9, {}),
    "t_escalate": ("20%", "0.2", 0.2, {}),
    "autosend_allowed": ("да", "true", True, {}),
    "offline_autosend_allowed": ("on", "true", True, {}),
    "intents_autosend": ("price, shipping, price", "price, shipping", ["price", "shipping"], {}),
    "intents_force_handoff": ("complaint", "complaint", ["complaint"], {}),
    "intents_no_learning": ("discount, other", "discount, other", ["discount", "other"], {}),
    "forbidden_topics": ("политика, конкуренты", "политика, конкуренты", ["политика", "конкуренты"], {}),
    "allow_discounts": ("yes", "true", True, {}),
    "max_discount_percent": ("15%", "15", 15, {}),
    "delay_profile": ("SHORT", "short", "short", {}),
    "night_mode": ("delay", "delay", "delay", {}),
    "night_multiplier": ("2.5", "2.5", 2.5, {}),
    "night_auto_reply": ("Мы ответим утром, спасибо!", "Мы ответим утром, спасибо!", "Мы ответим утром, спасибо!",
                         {}),
    "typing_indicator": ("off", "false", False, {}),
    "report_morning_at": ("8:30", "08:30", "08:30", {}),
    "report_evening_at": ("off", "off", None, {}),
    "report_chat_ids": ("-1001, -1002", "-1001, -1002", [-1001, -1002], {}),
    "escalation_chat_id": ("-100777", "-100777", -100777, {}),
    "voice_enabled": ("true", "true", True, {"elevenlabs_api_key": API_KEY, "elevenlabs_voice_id": "voice1"}),
    "elevenlabs_voice_id": ("21m00Tcm4TlvDq8ikWAM", "21m00Tcm4TlvDq8ikWAM", "21m00Tcm4TlvDq8ikWAM", {}),
    "elevenlabs_api_key": (API_KEY, "••••WXYZ", "••••WXYZ", {}),
    "group_routing": ("by_channel", "by_channel", "by_channel", {}),
    "campaign_code_pattern": (r" promo[: ]*(\w+) ", r"promo[: ]*(\w+)", r"promo[: ]*(\w+)", {}),
}

# (key, bad text, what the one line must say besides the key)
BAD = [
    ("language", "de", "one of ru | en"),
    ("tone", "rude", "one of friendly | formal"),
    ("currency", "XYZ", "ISO 4217"),
    ("currency", "рубли", "ISO 4217"),
    ("timezone", "Mars/Olympus", "IANA time zone"),
    ("working_hours", "mon-fri 09:00-25:00", "mon-fri 09:00-21:00"),
    ("working_hours", "someday 09:00-18:00", "mon-fri 09:00-21:00"),
    ("working_hours", "mon 09:00-09:00", "mon-fri 09:00-21:00"),
    ("t_auto", "abc", "a number from 0 to 1"),
    ("t_auto", "1.5", "a number from 0 to 1"),
    ("t_escalate", "-0.1", "a number from 0 to 1"),
    ("t_escalate", "0.9", "0 ≤ t_escalate < t_auto ≤ 1"),  # above the current t_auto 0.85
    ("t_auto", "0.35", "0 ≤ t_escalate < t_auto ≤ 1"),  # equal to the current t_escalate
    ("autosend_allowed", "maybe", "true or false"),
    ("intents_autosend", "greeting, flirting", "intents from: price"),
    ("forbidden_topics", "x" * 201, "at most 200 characters"),
    ("max_discount_percent", "5.5", "a whole number from 0 to 100"),
    ("max_discount_percent", "101", "a whole number from 0 to 100"),
    ("delay_profile", "instant", "one of off | short | medium | long"),
    ("night_multiplier", "0.5", "a number from 1 to 10"),
    ("report_morning_at", "9", "HH:MM"),
    ("report_evening_at", "24:00", "HH:MM"),
    ("report_chat_ids", "-1001, chat", "Telegram chat id"),
    ("escalation_chat_id", "0", "Telegram chat id"),
    ("voice_enabled", "true", "set elevenlabs_api_key and elevenlabs_voice_id first"),
    ("elevenlabs_voice_id", "voice id with spaces", "ElevenLabs voice id"),
    ("elevenlabs_api_key", "short", "API key"),
    ("group_routing", "random", "one of round_robin | by_channel"),
    ("campaign_code_pattern", "promo (\\w+", "is not a regular expression (missing ), unterminated subpattern"),
    ("campaign_code_pattern", "promo \\w+", "exactly one group in parentheses"),
    ("campaign_code_pattern", "(a)-(b)", "has 2"),
    ("campaign_code_pattern", "promo (\\w+)+", "(a+)+"),
    ("no_such_setting", "1", "unknown setting"),
]


@pytest.fixture
def box(settings) -> SecretBox:
    return SecretBox([settings.security.master_key.get_secret_value()])


async def _tenant(db, slug: str = "shop") -> int:
    async with db.unit_of_work() as session:
        return (await create_tenant(session, slug=slug, name="Магазин")).id


async def _show(db, tenant_id: int, box: SecretBox | None = None) -> dict:
    async with db.unit_of_work() as session:
        return ts.show_json(await session.get(Tenant, tenant_id), box)


async def _events(db) -> list[Event]:
    async with db.unit_of_work() as session:
        return list((await session.execute(
            select(Event).where(Event.kind == "settings_changed").order_by(Event.id))).scalars())


# ---------------------------------------------------------------------------------------------- the service


def test_the_table_covers_every_setting():
    assert sorted(TABLE) == sorted(ts.KEYS)
    assert len(ts.KEYS) == 30


@pytest.mark.parametrize("key", list(TABLE))
async def test_every_key_is_set_from_text_and_shown_back(db, box, key):
    typed, shown, value, needs = TABLE[key]
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        changes = await ts.update_from_text(session, tenant_id, {**needs, key: typed}, secrets=box, via="cli")
    assert key in {c.key for c in changes}
    async with db.unit_of_work() as session:
        views = {v.key: v for v in ts.show(await session.get(Tenant, tenant_id), box)}
    assert list(views) == list(ts.KEYS)
    assert views[key].text == shown and views[key].value == value
    json.dumps({k: v.value for k, v in views.items()})  # every value is JSON-friendly
    # What `show` prints is what `set` reads back: setting it again changes nothing.
    async with db.unit_of_work() as session:
        assert await ts.update_from_text(session, tenant_id, {key: views[key].text if key != "elevenlabs_api_key"
                                                              else typed}, secrets=box) == []


@pytest.mark.parametrize("key", list(TABLE))
async def test_every_key_is_set_from_a_typed_value(db, box, key):
    """The Mini App's path: JSON values (the API key is the one value that is not read back as shown)."""
    typed, _, value, needs = TABLE[key]
    tenant_id = await _tenant(db)
    new = typed if key == "elevenlabs_api_key" else value
    async with db.unit_of_work() as session:
        await ts.update(session, tenant_id, {**needs, key: new}, secrets=box, via="miniapp")
    assert (await _show(db, tenant_id, box))[key] == value


async def test_stored_columns_hold_real_types(db, box):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        await ts.update_from_text(session, tenant_id, {k: v[0] for k, v in TABLE.items()}, secrets=box)
    async with db.unit_of_work() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant.report_morning_at == time(8, 30) and tenant.report_evening_at is None
        assert tenant.tone.value == "formal" and tenant.night_mode.value == "delay"
        assert tenant.report_chat_ids == [-1001, -1002] and tenant.max_discount_percent == 15
        assert tenant.working_hours == {**WEEKDAYS_10_19, "sat": ["11:00", "16:00"]}
        assert API_KEY.encode() not in tenant.elevenlabs_api_key_enc
        assert box.decrypt(tenant.elevenlabs_api_key_enc) == API_KEY


@pytest.mark.parametrize("key, bad, says", BAD, ids=[f"{b[0]}={b[1][:12]}" for b in BAD])
async def test_a_bad_value_is_one_line_naming_the_key_and_changes_nothing(db, box, key, bad, says):
    tenant_id = await _tenant(db)
    before = await _show(db, tenant_id, box)
    with pytest.raises(ts.SettingsError) as refused:
        async with db.unit_of_work() as session:
            # A good value in the same change is not written either: all or nothing.
            await ts.update_from_text(session, tenant_id, {"tone": "formal", key: bad}, secrets=box)
    message = str(refused.value)
    assert "\n" not in message and key in message and says in message
    assert key in refused.value.text("ru") and refused.value.text("ru") != message
    assert await _show(db, tenant_id, box) == before
    assert await _events(db) == []


async def test_both_thresholds_at_once_are_checked_as_a_pair(db, box):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:  # each alone would cross the current other one
        await ts.update_from_text(session, tenant_id, {"t_escalate": "0.9", "t_auto": "0.95"}, secrets=box)
    shown = await _show(db, tenant_id)
    assert (shown["t_escalate"], shown["t_auto"]) == (0.9, 0.95)
    with pytest.raises(ts.SettingsError, match="^t_escalate, t_auto: 0 ≤ t_escalate < t_auto ≤ 1"):
        async with db.unit_of_work() as session:
            await ts.update_from_text(session, tenant_id, {"t_escalate": "0.5", "t_auto": "0.5"}, secrets=box)


@pytest.mark.parametrize("value", [1, "yes please", None, [True]])
async def test_typed_values_of_the_wrong_type_are_refused(db, box, value):
    tenant_id = await _tenant(db)
    with pytest.raises(ts.SettingsError, match="^autosend_allowed: expected true or false"):
        async with db.unit_of_work() as session:
            await ts.update(session, tenant_id, {"autosend_allowed": value}, secrets=box)


async def test_each_change_is_one_audit_event_with_old_and_new_and_the_key_masked(db, box):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        owner = StaffMember(tenant_id=tenant_id, role_id=(await role_by_code(session, tenant_id, "owner")).id,
                            telegram_user_id=42, name="Ольга")
        session.add(owner)
        await session.flush()
        owner_id = owner.id
    async with db.unit_of_work() as session:
        await ts.update_from_text(session, tenant_id, ["t_auto=0.9", f"elevenlabs_api_key={API_KEY}",
                                                       "intents_autosend=price"], secrets=box, via="cli")
    async with db.unit_of_work() as session:
        await ts.update(session, tenant_id, {"autosend_allowed": True, "t_auto": 0.9}, secrets=box,
                        actor_staff_id=owner_id, via="bot")
    async with db.unit_of_work() as session:  # nothing new: no event
        assert await ts.update(session, tenant_id, {"autosend_allowed": True}, secrets=box, via="bot") == []
    cli, bot = await _events(db)
    assert cli.tenant_id == tenant_id and cli.actor_staff_id is None
    assert cli.payload == {"via": "cli", "changes": {
        "t_auto": {"old": 0.85, "new": 0.9},
        "elevenlabs_api_key": {"old": None, "new": "••••WXYZ"},
        "intents_autosend": {"old": ["greeting", "shipping"], "new": ["price"]},
    }}
    assert API_KEY not in json.dumps(cli.payload)
    assert bot.actor_staff_id == owner_id
    assert bot.payload == {"via": "bot", "changes": {"autosend_allowed": {"old": False, "new": True}}}


async def test_the_api_key_is_shown_masked_decrypts_back_and_can_be_removed(db, box):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        await ts.update_from_text(session, tenant_id, {"elevenlabs_api_key": API_KEY}, secrets=box)
    assert (await _show(db, tenant_id, box))["elevenlabs_api_key"] == "••••WXYZ"
    assert (await _show(db, tenant_id))["elevenlabs_api_key"] == "••••"  # without the master key: only "set"
    async with db.unit_of_work() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert box.decrypt(tenant.elevenlabs_api_key_enc) == API_KEY
        assert ts.current(tenant, box)["elevenlabs_api_key"] == API_KEY
    async with db.unit_of_work() as session:
        [change] = await ts.update_from_text(session, tenant_id, {"elevenlabs_api_key": ""}, secrets=box)
    assert (change.old, change.new) == ("••••WXYZ", None)
    assert (await _show(db, tenant_id, box))["elevenlabs_api_key"] is None


def test_working_hours_text_round_trips():
    cases = {
        "mon-fri 09:00-21:00, sat 10:00-18:00, sun closed": "mon-fri 09:00-21:00, sat 10:00-18:00, sun closed",
        "09:00-21:00": "daily 09:00-21:00",
        "daily 09:00-21:00, sun closed": "mon-sat 09:00-21:00, sun closed",
        "sat sun 11:00-16:00": "mon-fri closed, sat-sun 11:00-16:00",
        "fri-mon 18:00-02:00": "mon 18:00-02:00, tue-thu closed, fri-sun 18:00-02:00",
        "ежедневно выходной": "daily closed",
    }
    for text, canonical in cases.items():
        hours = ts.parse_hours(text)
        assert ts.format_hours(hours) == canonical
        assert ts.parse_hours(canonical) == hours
    assert ts.format_hours(ts.parse_hours(cases["mon-fri 09:00-21:00, sat 10:00-18:00, sun closed"]), "ru") == \
        "пн-пт 09:00-21:00, сб 10:00-18:00, вс выходной"


# ------------------------------------------------------------------------------------------------- the CLI


def run(env, *args, check=True) -> subprocess.CompletedProcess:
    done = run_cli(env, *args)  # salesop.cli.main in this process (tests/clirun.py)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def env(settings, db_url):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(settings.data_dir), "SALESOP_DATABASE_URL": db_url,
            "SALESOP_MASTER_KEY": settings.security.master_key.get_secret_value(), "SALESOP_LANGUAGE": "en"}


async def test_cli_set_and_show(db, box, env):
    tenant_id = await _tenant(db)
    done = run(env, "settings", "set", "--tenant", "shop", "t_escalate=0.4", "t_auto=0.9",
               "working_hours=mon-fri 09:00-18:00", f"elevenlabs_api_key={API_KEY}")
    assert done.stdout.splitlines() == [
        "t_escalate: 0.35 → 0.4", "t_auto: 0.85 → 0.9",
        "working_hours: daily 09:00-21:00 → mon-fri 09:00-18:00, sat-sun closed",
        "elevenlabs_api_key: - → ••••WXYZ",
    ]
    assert API_KEY not in done.stdout + done.stderr
    shown = json.loads(run(env, "settings", "show", "--tenant", "shop", "--json").stdout)
    assert shown == await _show(db, tenant_id, box)
    assert list(shown) == list(ts.KEYS)
    assert (shown["t_auto"], shown["t_escalate"], shown["elevenlabs_api_key"]) == (0.9, 0.4, "••••WXYZ")
    assert shown["working_hours"] == {d: ["09:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    text = run(env, "settings", "show", "--tenant", "shop").stdout.splitlines()
    assert len(text) == len(ts.KEYS) and text[0].split() == ["language", "ru"]
    assert "working_hours             mon-fri 09:00-18:00, sat-sun closed" in text
    again = run(env, "settings", "set", "--tenant", "shop", "t_auto=0.9")
    assert again.stdout.strip() == "nothing changed: the settings already have these values"
    [event] = await _events(db)
    assert event.payload["via"] == "cli" and event.actor_staff_id is None


@pytest.mark.parametrize("args, line", [
    (["t_auto=abc"], "salesop: t_auto: expected a number from 0 to 1, not «abc»"),
    (["tone=formal", "intents_autosend=price, flirting"],
     "salesop: intents_autosend: expected intents from: price, availability, shipping, delivery_time, warranty, "
     "return, payment, discount, order_status, complaint, purchase, human_request, greeting, other, not «flirting»"),
    (["t_escalate=0.9"], "salesop: t_escalate: 0 ≤ t_escalate < t_auto ≤ 1 is needed, the result would be "
                         "t_escalate=0.9, t_auto=0.85"),
    (["timezone"], "salesop: «timezone» is not key=value"),
    (["colour=red"], "salesop: unknown setting «colour»; the settings are: " + ", ".join(ts.KEYS)),
])
async def test_cli_bad_value_is_one_line_exit_1_and_nothing_changes(db, box, env, args, line):
    tenant_id = await _tenant(db)
    before = await _show(db, tenant_id, box)
    done = run(env, "settings", "set", "--tenant", "shop", *args, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [line] and done.stdout == ""
    assert await _show(db, tenant_id, box) == before
    assert await _events(db) == []


async def test_cli_speaks_russian_by_default(db, env):
    await _tenant(db)
    done = run({k: v for k, v in env.items() if k != "SALESOP_LANGUAGE"}, "settings", "set", "--tenant", "shop",
               "currency=рубли", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == ("salesop: currency: допустимо: трёхбуквенный код валюты ISO 4217, например RUB "
                                   "или USD; получено «рубли»")
    done = run({**env, "SALESOP_LANGUAGE": "ru"}, "settings", "set", "--tenant", "shop", "currency=usd")
    assert done.stdout.strip() == "currency: RUB → USD"


def test_cli_unknown_tenant_is_one_line(env):
    done = run(env, "settings", "show", "--tenant", "nope", check=False)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1 and "nope" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------- autosend follows the setting

GOOD_REPLY = "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, в наличии 4 шт. Оформить заказ?"


async def _suggest(db, ai_settings, online, openai_sandbox, shop, user: str):
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?", user=user)
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.95))
    return await pipeline(db, online, ai_settings).run(message_id)


async def test_autosend_starts_only_after_the_cli_allows_it(db, ai_settings, online, openai_sandbox, env):
    shop = await make_shop(db, online, ai_settings, intents_autosend=["price", "shipping"])
    before = await _suggest(db, ai_settings, online, openai_sandbox, shop, user="501")
    assert before.decision == Decision.NEED_APPROVAL

    run(env, "settings", "set", "--tenant", "shop", "autosend_allowed=true")

    after = await _suggest(db, ai_settings, online, openai_sandbox, shop, user="502")
    assert after.decision == Decision.AUTO_SEND
