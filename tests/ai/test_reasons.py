"""Reasons are stored as codes with arguments and put into words in the reader's language: the topic card (reply and
escalation cards), `salesop ask --json` (reasons in SALESOP_LANGUAGE, reason_codes beside them); a row stored before
codes shows its text as it is."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from bot import render
from core.ai import decision as engine
from core.ai import handoff, reasons, texts
from core.models import AIMode, Dialog, Escalation, Suggestion
from core.services import miniapp
from core.services.workspace import views

from .conftest import customer_says, make_shop, pipeline
from .test_offline_answers import OPEN, env, run  # noqa: F401  (env is a fixture)


def _inputs(**changes) -> engine.DecisionInputs:
    base = dict(intent="price", confidence=0.62, t_auto=0.85, t_escalate=0.3, global_autosend=True,
                tenant_autosend=True, dialog_mode="auto", intents_autosend=["price"],
                intents_force_handoff=["complaint"], offline=False, offline_autosend_allowed=False,
                within_hours=True, night_mode="delay")
    return engine.DecisionInputs(**{**base, **changes})


def test_a_decision_is_made_of_codes_that_read_in_either_language():
    failures = [texts.check_failure("price", figure="20 000 ₽"), texts.check_failure("discount_over", percent="15",
                                                                                      limit=10)]
    decided = engine.decide(_inputs(check_failures=failures, intent="complaint",
                                    handoff_reasons=[handoff.reason(handoff.detect("Позовите менеджера")[0])]))
    assert decided.decision.value == "escalate"
    stored = json.loads(json.dumps(reasons.codes(decided.reasons)))  # as the suggestion's JSON keeps them
    assert stored[0] == {"code": "ai.reason.force_handoff",
                         "args": {"intent": {"code": "ai.intent.complaint", "args": {}, "fallback": "complaint"}}}
    assert [s["code"] for s in stored] == ["ai.reason.force_handoff", "safety.handoff.human",
                                           "ai.reason.check_failed", "ai.reason.intent_not_allowed",
                                           "ai.reason.below_t_auto"]
    # Made in the default locale (Russian): the text a row keeps beside its codes.
    assert decided.reason == "Тема «жалоба» всегда передаётся человеку"
    english = [reasons.render(s, "en") for s in stored]
    assert english[0] == "The topic “complaint” always goes to a person"
    assert english[1].startswith("The customer asks for a person: “Позовите менеджера”")
    # The self-check's findings inside "self-check failed" are put into English too, each of them.
    assert english[2].startswith("Self-check failed: ") and "20 000 ₽" in english[2] and "15" in english[2]
    assert not any(ch in english[2].split(": ", 1)[1] for ch in "абвгдежзийклмнопрстуфхцчшщыэюя")
    assert english[3] == "The topic “complaint” is not on the automatic replies list"
    assert english[4] == "Confidence 0.62 is below the automatic sending threshold 0.85"
    assert [reasons.render(s, "ru") for s in stored] == list(decided.reasons)


def test_a_tenant_intent_without_a_name_in_the_locale_is_called_by_its_own_name():
    decided = engine.decide(_inputs(intent="trade_in", intents_autosend=[]))
    code = reasons.codes(decided.reasons)[0]
    assert reasons.render(code, "en") == "The topic “trade_in” is not on the automatic replies list"


def test_legacy_text_and_unknown_codes_are_shown_as_they_are():
    assert reasons.shown("Самопроверка не пройдена: старое", None, "en") == "Самопроверка не пройдена: старое"
    assert reasons.render("a text stored before codes", "ru") == "a text stored before codes"
    assert reasons.shown("текст", {"code": "ai.reason.no_such_reason", "args": {}}, "en") == "текст"


def _card(reason_code, locale, **extra):
    data = {"suggestion_id": 1, "dialog_id": 1, "text": "Черновик", "intent": "price", "confidence": 0.62,
            "decision": "need_approval", "decision_reason": "Уверенность 0.62 ниже порога автоотправки 0.85",
            "reason_code": reason_code, "sources": [], "state": "pending", "final_text": None,
            "reject_reason": None, "decided_by": None, "decided_at": None, "delivery": None, "timezone": None,
            **extra}
    return render.reply_card(data, locale).text


def test_the_reply_card_shows_the_reason_in_the_readers_language():
    code = reasons.codes([texts.reason("below_t_auto", confidence=0.62, t_auto=0.85)])[0]
    assert "Confidence 0.62 is below the automatic sending threshold 0.85" in _card(code, "en")
    assert "Уверенность 0.62 ниже порога автоотправки 0.85" in _card(code, "ru")
    # A draft stored before reasons had codes: its text as it is.
    assert "Уверенность 0.62 ниже порога автоотправки 0.85" in _card(None, "en")


async def test_a_stored_draft_and_its_escalation_carry_codes_to_their_cards(db, settings, offline_providers):
    shop = await make_shop(db, offline_providers, settings, **OPEN)
    message_id = await customer_says(db, shop, "Позовите менеджера, хочу пожаловаться")
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))
    result = await pipeline(db, offline_providers, settings).run(message_id)
    async with db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
        escalation = (await session.execute(select(Escalation))).scalar_one()
        card = await views.reply_card(session, suggestion)
        escalation_card = await views.escalation_card(session, escalation)
    assert suggestion.decision.value == "escalate"
    assert suggestion.inputs["reason_codes"][0]["code"] in ("ai.reason.force_handoff", "safety.handoff.human")
    assert card["reason_code"] == suggestion.inputs["reason_codes"][0]
    english = render.reply_card(card, "en").text
    assert reasons.render(card["reason_code"], "en") in english and suggestion.decision_reason not in english
    assert suggestion.decision_reason in render.reply_card(card, "ru").text
    assert escalation_card["reason_code"] == card["reason_code"]
    shown = render.escalation(escalation_card, "en").text
    assert suggestion.decision_reason not in shown and reasons.render(card["reason_code"], "en") in shown
    # The Mini App's dialog page: the draft's escalation and the dialog's escalations, in the reader's language.
    async with db.unit_of_work() as session:
        page = await miniapp.dialog_view(session, dialog_id=suggestion.dialog_id, tenant_id=shop.tenant_id,
                                         hidden=set(), locale="en")
    english_reason = reasons.render(card["reason_code"], "en")
    draft = next(d for m in page["messages"] for d in m.get("drafts", []) if d["id"] == suggestion.id)
    assert draft["escalation"]["reason"] == english_reason
    assert [e["reason"] for e in page["dialog"]["escalations"]] == [english_reason]


async def test_salesop_ask_reasons_follow_salesop_language(db, settings, offline_providers, env):
    await make_shop(db, offline_providers, settings, **OPEN)
    question = "Сколько стоит кофемашина DeLonghi Magnifica S? Скидку 30% дадите?"
    answers = {}
    for language in ("en", "ru"):
        result = await run("ask", "--tenant", "shop", "--json", question, env={**env, "SALESOP_LANGUAGE": language})
        assert result.returncode == 0, result.stderr
        answers[language] = json.loads(result.stdout)
    en, ru = answers["en"], answers["ru"]
    assert en["reason_codes"] == ru["reason_codes"] and en["reason_codes"]
    assert all(isinstance(c, dict) and c["code"].count(".") >= 2 for c in en["reason_codes"])
    assert en["reasons"] == [reasons.render(c, "en") for c in en["reason_codes"]]
    assert ru["reasons"] == [reasons.render(c, "ru") for c in ru["reason_codes"]]
    assert en["reasons"] != ru["reasons"]


def test_the_self_checks_claim_findings_read_in_the_cards_language():
    """A price, term or address finding is a code too, not Russian words fixed when the check ran: a manager reading
    in English sees it in English inside "self-check failed"."""
    from decimal import Decimal

    from core.ai.retrieval import ProductFact
    from core.ai.selfcheck import CheckFacts, check_reply

    coffee = ProductFact(1, "TD-001", "Кофемашина DeLonghi Magnifica S", Decimal("45990"), "RUB", 4)
    report = check_reply(
        "Кофемашина DeLonghi Magnifica S стоит двадцать тысяч рублей. Доставим в Москву за 10 дней, "
        "заберите на улице Ленина, 5.",
        CheckFacts(products=[coffee], knowledge_texts=["Доставка по Москве: 1–2 дня, 390 рублей."],
                   allow_discounts=False, max_discount_percent=0, forbidden_topics=[],
                   customer_text="Сколько стоит кофемашина и доставка в Москву?", customer_language="ru"))
    found = {name: check["problems"] for name, check in report.checks.items() if not check["ok"]}
    assert set(found) >= {"prices", "terms", "addresses"}
    stored = json.loads(json.dumps(reasons.codes(
        engine.decide(_inputs(check_failures=report.failures)).reasons)))
    check_failed = next(s for s in stored if s["code"] == "ai.reason.check_failed")
    assert {d["code"] for d in check_failed["args"]["details"]} >= {
        "safety.check.price-product", "safety.check.term-differs", "safety.check.address"}
    english = reasons.render(check_failed, "en").split(": ", 1)[1]
    # Only what the reply and the knowledge base said stays as written.
    assert english.replace("\u00a0", " ") == (
        "the price “двадцать тысяч рублей” (20 000) does not match the catalog: “Кофемашина DeLonghi Magnifica S” "
        "costs 45 990 ₽; delivery time in the reply is “10 дней”, the knowledge base says “1–2 дня”; the address "
        "“улице Ленина, 5” is not in the knowledge base articles found")
    made = next(r for r in engine.decide(_inputs(check_failures=report.failures)).reasons
                if r.code == "ai.reason.check_failed")
    assert reasons.render(check_failed, "ru") == made  # the default locale's words, as the row keeps them
