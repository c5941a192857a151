"""Tenant settings (MANAGE_TENANT_SETTINGS), every key of core.services.tenant_settings.SCHEMA in one of the groups
below, changed through `tenant_settings.update` — the validation `salesop settings set` and the bot's /settings use —
with typed values and via="miniapp". A refused value answers 400 with the one-line error and the key it is about,
and nothing changes (the update is all or nothing); a change is one "settings_changed" event with old and new values.

Voice: the ElevenLabs voices of the tenant's stored key, and a sample spoken in a chosen voice (recorded as TTS
spend). Manager groups: where dialogs go, shown with the routing setting that chooses among them.

`GET /api/settings`, `PUT /api/settings {key: value, ...}`, `GET /api/settings/voices`,
`POST /api/settings/voice-sample {voice_id}` → audio/ogg.
"""

from __future__ import annotations

import weakref

from aiohttp import web
from sqlalchemy import func, select

from core.ai.speech import ElevenLabsSpeech, SpeechError, build_speech, characters
from core.ai.spend import Usage, record_usage
from core.errors import UserError
from core.models import ChannelAccount, DialogTopic, ManagerGroup, Tenant, UsagePurpose
from core.permissions import Permission
from core.services import tenant_settings as ts

from ..auth import WEBAPP_CONTEXT, signed_in
from ..pages import Page
from .knowledge import read_json

routes = web.RouteTableDef()

# The page's sections, in order; every key of the schema is in exactly one (tests/webapp/test_settings_pages.py).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shop", ("language", "tone", "address_form", "currency", "forbidden_topics", "allow_discounts",
              "max_discount_percent")),
    ("ai", ("autosend_allowed", "offline_autosend_allowed", "t_auto", "t_escalate", "intents_autosend",
            "intents_force_handoff", "intents_no_learning")),
    ("hours", ("timezone", "working_hours", "night_mode", "night_multiplier", "night_auto_reply")),
    ("delay", ("delay_profile", "typing_indicator")),
    ("escalations", ("escalation_chat_id",)),
    ("reports", ("report_morning_at", "report_evening_at", "report_chat_ids")),
    ("voice", ("voice_enabled", "elevenlabs_api_key", "elevenlabs_voice_id")),
    ("routing", ("group_routing",)),
    ("traffic", ("campaign_code_pattern",)),
)
_SPEECH: "weakref.WeakKeyDictionary[object, ElevenLabsSpeech]" = weakref.WeakKeyDictionary()


def kind_of(setting: ts.Setting) -> str:
    """How the page draws the field."""
    type_ = setting.type
    if isinstance(type_, ts.ListKind):  # the schema's own kinds say how a value is written
        return "intents" if isinstance(type_.item, ts.IntentKind) else "list"
    for cls, kind in ((ts.BoolKind, "bool"), (ts.ChoiceKind, "choice"), (ts.NumberKind, "number"),
                      (ts.HoursKind, "hours"), (ts.TimeKind, "time"), (ts.SecretKind, "secret"),
                      (ts.ChatIdKind, "chat")):
        if isinstance(type_, cls):
            return kind
    if isinstance(type_, ts.TextKind) and type_.max_length > 200:
        return "textarea"
    return "text"


def _secrets(request: web.Request):
    return getattr(request.app[WEBAPP_CONTEXT], "secrets", None)


def fields(tenant: Tenant, member, secrets) -> list[dict]:
    views = {v.key: v for v in ts.show(tenant, secrets)}
    _ = member.t
    out = []
    for group, keys in GROUPS:
        items = []
        for key in keys:
            setting, view = ts.BY_KEY[key], views[key]
            kind = kind_of(setting)
            item = {"key": key, "kind": kind, "label": _(f"miniapp.settings.key.{key}"),
                    "hint": _(f"miniapp.settings.hint.{key}"), "accepts": ts.accepts_text(key, member.locale),
                    "value": view.value, "text": "" if view.text == "-" else view.text,
                    "nullable": setting.type.nullable}
            if kind == "choice":
                item["choices"] = [{"value": c, "label": _(f"miniapp.settings.choice.{key}.{c}")}
                                   for c in setting.type.values]
            if kind == "intents":
                item["choices"] = [{"value": c, "label": _(f"ai.intent.{c}")}
                                   for c in setting.type.item.values]
            if kind == "secret":
                item["text"] = ""
                item["stored"] = view.value is not None
            items.append(item)
        out.append({"id": group, "title": _(f"miniapp.settings.group.{group}"),
                    "about": _(f"miniapp.settings.about.{group}"), "fields": items})
    return out


async def manager_groups(session, tenant_id: int) -> list[dict]:
    groups = list((await session.execute(select(ManagerGroup).where(ManagerGroup.tenant_id == tenant_id)
                                         .order_by(ManagerGroup.id))).scalars())
    topics = dict((await session.execute(
        select(DialogTopic.manager_group_id, func.count()).where(
            DialogTopic.manager_group_id.in_([g.id for g in groups])).group_by(DialogTopic.manager_group_id)
    )).all()) if groups else {}
    channels = (await session.execute(select(ChannelAccount.manager_group_id, ChannelAccount.title,
                                             ChannelAccount.kind)
                                      .where(ChannelAccount.tenant_id == tenant_id)
                                      .order_by(ChannelAccount.id))).all()
    return [{"id": g.id, "title": g.title, "chat_id": g.chat_id, "team": g.team, "active": g.is_active,
             "forum": g.is_forum, "missing_rights": list(g.missing_rights or []), "rotated": g.rotated_to_id is not None,
             "topics": topics.get(g.id, 0), "messages": g.message_count,
             "channels": [c.title or c.kind.value for c in channels if c.manager_group_id == g.id]}
            for g in groups]


async def _state(request: web.Request, session, member) -> dict:
    tenant = await session.get(Tenant, member.tenant_id)
    return {"groups": fields(tenant, member, _secrets(request)),
            "manager_groups": await manager_groups(session, member.tenant_id)}


async def _context(request, session, member) -> dict:
    return {"data": await _state(request, session, member)}


PAGES = [
    Page(name="settings", path="/settings", title="miniapp.settings.title",
         permission=Permission.MANAGE_TENANT_SETTINGS, texts=("miniapp.settings.",), context=_context, order=70),
]


@routes.get("/api/settings")
async def api_settings(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_TENANT_SETTINGS) as (session, member):
        return web.json_response(await _state(request, session, member))


@routes.put("/api/settings")
async def api_update(request: web.Request) -> web.Response:
    changes = await read_json(request)
    try:
        async with signed_in(request, Permission.MANAGE_TENANT_SETTINGS) as (session, member):
            changed = await ts.update(session, member.tenant_id, changes, text=False, secrets=_secrets(request),
                                      actor_staff_id=member.staff_id, via="miniapp")
    except ts.SettingsError as exc:  # the unit of work rolled back: nothing changed
        return web.json_response({"error": exc.text(member.locale), "key": exc.key}, status=400)
    async with signed_in(request, Permission.MANAGE_TENANT_SETTINGS) as (session, member):
        state = await _state(request, session, member)
    return web.json_response({"changed": [{"key": c.key, "old": c.old_text, "new": c.new_text} for c in changed],
                              **state})


# ---------------------------------------------------------------------------------------------------- voice


def speech(request: web.Request) -> ElevenLabsSpeech:
    ctx = request.app[WEBAPP_CONTEXT]
    if ctx not in _SPEECH:
        _SPEECH[ctx] = build_speech(ctx.settings)
    return _SPEECH[ctx]


async def _stored_key(request: web.Request, session, member) -> str:
    tenant = await session.get(Tenant, member.tenant_id)
    key = ts.current(tenant, _secrets(request))["elevenlabs_api_key"]
    if not key:
        raise UserError("save the ElevenLabs API key first", code="miniapp.settings.voice.no_key")
    return key


def _speech_error(exc: SpeechError) -> UserError:
    """ElevenLabs' refusal in the words the bot uses for it (voice.error.<code>)."""
    return UserError(f"ElevenLabs: {exc.code} {exc.detail}".strip(), code=f"voice.error.{exc.code}",
                     detail=exc.detail)


@routes.get("/api/settings/voices")
async def api_voices(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_TENANT_SETTINGS) as (session, member):
        key = await _stored_key(request, session, member)
    try:
        voices = await speech(request).voices(key)
    except SpeechError as exc:
        raise _speech_error(exc) from None
    return web.json_response({"voices": [{"voice_id": v.voice_id, "name": v.name, "category": v.category}
                                         for v in voices]})


@routes.post("/api/settings/voice-sample")
async def api_sample(request: web.Request) -> web.Response:
    body = await read_json(request)
    async with signed_in(request, Permission.MANAGE_TENANT_SETTINGS) as (session, member):
        key = await _stored_key(request, session, member)
        tenant = await session.get(Tenant, member.tenant_id)
        voice_id = str(body.get("voice_id") or tenant.elevenlabs_voice_id or "")
        ts.parse({"elevenlabs_voice_id": voice_id}, text=True)  # the same check as saving it
        language = (tenant.language or "ru")[:2]
    spoken = speech(request)
    try:
        audio, text = await spoken.sample(key, voice_id, language)
    except SpeechError as exc:
        raise _speech_error(exc) from None
    async with signed_in(request, Permission.MANAGE_TENANT_SETTINGS) as (session, member):
        await record_usage(session, request.app[WEBAPP_CONTEXT].settings.ai.price_table,
                           Usage(UsagePurpose.TTS, spoken.provider, spoken.model, characters=characters(text)),
                           tenant_id=member.tenant_id)
    return web.Response(body=audio, content_type="audio/ogg", headers={"Cache-Control": "no-store"})
