"""The decision engine: AUTO_SEND only when every lock is open, NEED_APPROVAL otherwise, ESCALATE when a human
must take over. A pure function of its inputs, which are stored with the suggestion so the card can say why.

Locks, all of which must be open for AUTO_SEND: the global flag, the tenant's autosend setting, the dialog's AI
mode (auto), the intent allow-list, the offline responder's own switch, working hours / night mode, the self-check,
and confidence ≥ t_auto. Force-handoff intents, the handoff detector (a customer asking for a person, naming a court,
demanding money back — whatever the intent classifier said), a model asking for a human, or confidence <
t_escalate escalate.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..models import AIMode, Decision, DelayProfile, NightMode, Tenant
from . import texts

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DecisionInputs:
    intent: str
    confidence: float
    t_auto: float
    t_escalate: float
    global_autosend: bool
    tenant_autosend: bool
    dialog_mode: str
    intents_autosend: list[str]
    intents_force_handoff: list[str]
    offline: bool
    offline_autosend_allowed: bool
    within_hours: bool
    night_mode: str
    check_failures: list[str] = field(default_factory=list)
    needs_human: bool = False
    needs_human_reason: str = ""
    ai_error: str | None = None
    # Why the deterministic handoff detector (core/ai/handoff.py) holds the reply, beside the intent classifier.
    handoff_reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    reason: str  # the first reason: what the card headlines (a core.ai.reasons.Reason: a text with its code)
    reasons: list[str]  # every reason, so the card can list each closed lock
    locks: dict[str, bool]  # lock name → open


def decide(i: DecisionInputs) -> DecisionResult:
    if i.ai_error is not None:
        text_ = texts.reason("ai_unavailable", error=i.ai_error)
        return DecisionResult(Decision.NEED_APPROVAL, text_, [text_], {})

    # The findings stay reasons of their own inside this one, so each is put into the reader's words too.
    check_reasons = [texts.reason("check_failed", details=list(i.check_failures))] if i.check_failures else []

    escalations = []
    if i.intent in i.intents_force_handoff:
        escalations.append(texts.reason("force_handoff", intent=texts.intent_label(i.intent)))
    escalations.extend(i.handoff_reasons)
    if i.needs_human:
        escalations.append(texts.reason("model_needs_human", why=i.needs_human_reason or "—"))
    if i.confidence < i.t_escalate:
        escalations.append(texts.reason("low_confidence_escalate", confidence=i.confidence, t_escalate=i.t_escalate))

    locks = {
        "self_check": not i.check_failures,
        "global": i.global_autosend,
        "tenant": i.tenant_autosend,
        "dialog_mode": i.dialog_mode == AIMode.AUTO.value,
        "intent_allowed": i.intent in i.intents_autosend,
        "offline": (not i.offline) or i.offline_autosend_allowed,
        "confidence": i.confidence >= i.t_auto,
        "hours": i.within_hours or i.night_mode != NightMode.DISABLE.value,
        "handoff": not escalations,
    }
    blockers = list(check_reasons)
    if not locks["global"]:
        blockers.append(texts.reason("global_off"))
    if not locks["tenant"]:
        blockers.append(texts.reason("tenant_off"))
    if not locks["dialog_mode"]:
        blockers.append(texts.reason("dialog_mode", mode=texts.mode_label(i.dialog_mode)))
    if not locks["intent_allowed"]:
        blockers.append(texts.reason("intent_not_allowed", intent=texts.intent_label(i.intent)))
    if not locks["offline"]:
        blockers.append(texts.reason("offline_not_allowed"))
    if not locks["confidence"]:
        blockers.append(texts.reason("below_t_auto", confidence=i.confidence, t_auto=i.t_auto))
    if not locks["hours"]:
        blockers.append(texts.reason("night_disabled"))

    if escalations:
        return DecisionResult(Decision.ESCALATE, escalations[0], escalations + blockers, locks)
    if blockers:
        return DecisionResult(Decision.NEED_APPROVAL, blockers[0], blockers, locks)
    if i.within_hours:
        text_ = texts.reason("auto_send", confidence=i.confidence, t_auto=i.t_auto)
    else:
        text_ = texts.reason("auto_send_night", night_mode=i.night_mode)
    return DecisionResult(Decision.AUTO_SEND, text_, [text_], locks)


# ------------------------------------------------------------------------------------------ working hours

def _parse_hhmm(value: str) -> time:
    hours, minutes = value.strip().split(":")
    return time(int(hours) % 24, int(minutes))


def local_now(tenant: Tenant, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(tenant.timezone))


def within_working_hours(tenant: Tenant, now: datetime) -> bool:
    """tenant.working_hours: {"mon": ["09:00", "21:00"], ...}; a missing day is closed; an end before the start
    runs past midnight (["18:00", "02:00"] covers 01:00 of the next day)."""
    local = local_now(tenant, now)
    hours = tenant.working_hours or {}
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    current = local.time()
    span = hours.get(today)
    if span and len(span) == 2:
        start, end = _parse_hhmm(span[0]), _parse_hhmm(span[1])
        if start <= end and start <= current < end:
            return True
        if start > end and current >= start:
            return True
    prev = hours.get(yesterday)
    if prev and len(prev) == 2:
        start, end = _parse_hhmm(prev[0]), _parse_hhmm(prev[1])
        if start > end and current < end:
            return True
    return False


def off_hours_key(tenant: Tenant, now: datetime) -> str:
    """Names the current closed period (the date it began at noon boundaries), so one night gets one auto-reply."""
    local = local_now(tenant, now)
    day = local.date() if local.hour >= 12 else local.date() - timedelta(days=1)
    return day.isoformat()


# ------------------------------------------------------------------------------------------- human delay

# (minimum, maximum) seconds before the first character, and the typing-time cap, per profile.
DELAY_PROFILES = {
    DelayProfile.OFF: (0.0, 0.0, 0.0),
    DelayProfile.SHORT: (2.0, 6.0, 6.0),
    DelayProfile.MEDIUM: (8.0, 20.0, 15.0),
    DelayProfile.LONG: (25.0, 60.0, 30.0),
}
TYPING_CHARS_PER_SECOND = 15.0


def human_delay(profile: DelayProfile, text_: str, *, seed: int, night: bool = False,
                night_multiplier: float = 1.0) -> float:
    """Seconds an automatic reply waits: a reading pause plus typing time, deterministic per suggestion (seed), so
    a retried task computes the same moment. Outside hours in DELAY mode it is multiplied."""
    low, high, typing_cap = DELAY_PROFILES[profile]
    if high == 0:
        return 0.0
    rng = random.Random(seed)
    seconds = rng.uniform(low, high) + min(len(text_) / TYPING_CHARS_PER_SECOND, typing_cap)
    if night:
        seconds *= max(1.0, night_multiplier)
    return round(seconds, 1)
