"""Learning from dialogs that sold: approved and edited replies of a won dialog become few-shot examples in the
next prompt for that intent (asserted on what the OpenAI stand-in received); lost dialogs teach nothing; a
learning queue ranks dialogs to review; samples export as chat fine-tuning JSONL."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal

from cryptography.fernet import Fernet
from sqlalchemy import select

from core import inbox
from core.ai.learning import learning_queue, on_dialog_outcome, record_sample
from core.ai.spend import spend_total
from core.inbox import InboundMessage, Sender
from core.models import Dialog, Direction, Escalation, Outcome, Suggestion, TrainingAction, TrainingSample
from tests.clirun import run_cli_async

from .conftest import NOON, customer_says, intent_json, make_shop, pipeline, reply_json

EDITED = "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽. Привезём завтра, оплата при получении 🙂"
LOST_REPLY = "Фен Dyson Supersonic HD07 стоит 49 990 ₽."
MANAGER_OWN = "Есть кофемолка Bork J700 за 12 490 ₽ — возьмёте вместе?"


def _reply_prompt(sandbox) -> str:
    request = [r for r in sandbox.requests
               if (r.get("response_format") or {}).get("json_schema", {}).get("name") == "sales_reply"][-1]
    return request["messages"][0]["content"]


async def _draft(db, settings, providers, sandbox, shop, text_, intent, reply, user):
    message_id = await customer_says(db, shop, text_, user=user)
    sandbox.script_reply(json=intent_json(intent))
    sandbox.script_reply(json=reply_json(reply, 0.9))
    result = await pipeline(db, providers, settings).run(message_id)
    async with db.unit_of_work() as session:
        return await session.get(Suggestion, result.suggestion_id)


async def _outcome(db, dialog_id, outcome) -> int:
    async with db.unit_of_work() as session:
        dialog = await session.get(Dialog, dialog_id)
        dialog.outcome = outcome
        return await on_dialog_outcome(session, dialog_id)


async def _business_writes(db, shop, user, text_, seconds):
    async with db.unit_of_work() as session:
        await inbox.receive(session, InboundMessage(
            channel_id=shop.channel_id, external_chat_id=user, external_id=f"out-{user}-{seconds}",
            sender=Sender(external_user_id=user), sent_at=NOON + timedelta(seconds=seconds), text=text_,
            direction=Direction.OUT))


async def test_won_dialogs_teach_the_next_prompt_of_the_same_intent(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings)

    # A dialog that ends in a sale: the manager edited the draft before sending it, and wrote one reply himself.
    won = await _draft(db, ai_settings, online, openai_sandbox, shop, "Сколько стоит кофемашина?", "price",
                       "Кофемашина стоит 45 990 ₽.", "501")
    async with db.unit_of_work() as session:
        sample = await record_sample(session, await session.get(Suggestion, won.id), TrainingAction.EDITED, EDITED)
        assert sample.few_shot is False and 0 < sample.similarity < 1
    await _business_writes(db, shop, "501", EDITED, 10)  # the edited reply, as delivered
    await customer_says(db, shop, "А кофемолка у вас есть?", user="501", at=NOON + timedelta(seconds=20))
    await _business_writes(db, shop, "501", MANAGER_OWN, 30)
    assert await _outcome(db, won.dialog_id, Outcome.WON) == 2

    # A dialog that was lost: its approved reply is kept for analysis, never an example.
    lost = await _draft(db, ai_settings, online, openai_sandbox, shop, "Сколько стоит фен?", "price", LOST_REPLY,
                        "502")
    async with db.unit_of_work() as session:
        await record_sample(session, await session.get(Suggestion, lost.id), TrainingAction.SENT, LOST_REPLY)
    assert await _outcome(db, lost.dialog_id, Outcome.LOST) == 0

    # The next price question gets the won dialog's edited reply as an example; the lost one does not appear.
    nxt = await _draft(db, ai_settings, online, openai_sandbox, shop, "Почём у вас кофемашина?", "price",
                       "Кофемашина DeLonghi Magnifica S — 45 990 ₽.", "503")
    prompt = _reply_prompt(openai_sandbox)
    assert "Примеры удачных ответов из диалогов, закончившихся покупкой" in prompt
    assert f"Клиент: Сколько стоит кофемашина?\nОтвет: {EDITED}" in prompt
    assert LOST_REPLY not in prompt
    async with db.unit_of_work() as session:
        few_shot = (await session.execute(select(TrainingSample).where(TrainingSample.few_shot)
                                          .order_by(TrainingSample.id))).scalars().all()
    assert [(s.final, s.outcome) for s in few_shot] == [(EDITED, Outcome.WON), (MANAGER_OWN, Outcome.WON)]
    assert nxt.inputs["few_shot_ids"][0] == few_shot[0].id

    # Another intent gets no examples from it.
    await _draft(db, ai_settings, online, openai_sandbox, shop, "Сколько стоит доставка по Москве?", "shipping",
                 "Доставка по Москве — 390 рублей.", "504")
    assert "Примеры удачных ответов" not in _reply_prompt(openai_sandbox)

    # Un-marking the sale takes the examples back.
    assert await _outcome(db, won.dialog_id, None) == 0
    async with db.unit_of_work() as session:
        assert (await session.execute(select(TrainingSample).where(TrainingSample.few_shot))).scalars().all() == []


async def test_learning_queue_and_jsonl_export(db, db_url, ai_settings, online, openai_sandbox, tmp_path):
    shop = await make_shop(db, online, ai_settings)
    rejected = await _draft(db, ai_settings, online, openai_sandbox, shop, "Сколько стоит фен?", "price",
                            "Фен стоит 1 ₽.", "601")
    edited = await _draft(db, ai_settings, online, openai_sandbox, shop, "Сколько стоит кофемашина?", "price",
                          "Кофемашина стоит 45 990 ₽.", "602")
    sent = await _draft(db, ai_settings, online, openai_sandbox, shop, "Доставка по Москве?", "shipping",
                        "Курьер по Москве — 390 рублей.", "603")
    async with db.unit_of_work() as session:
        await record_sample(session, await session.get(Suggestion, rejected.id), TrainingAction.REJECTED, None)
        await record_sample(session, await session.get(Suggestion, edited.id), TrainingAction.EDITED, EDITED)
        await record_sample(session, await session.get(Suggestion, sent.id), TrainingAction.SENT, sent.text)
        session.add(Escalation(tenant_id=shop.tenant_id, dialog_id=rejected.dialog_id, reason="клиент злится"))
    async with db.unit_of_work() as session:
        queue = await learning_queue(session, shop.tenant_id)
    by_dialog = {item.dialog_id: item for item in queue}
    assert [item.dialog_id for item in queue][:2] == [rejected.dialog_id, edited.dialog_id]
    assert (by_dialog[rejected.dialog_id].rejections, by_dialog[rejected.dialog_id].escalations) == (1, 1)
    assert by_dialog[edited.dialog_id].edits == 1 and by_dialog[edited.dialog_id].low_similarity == 1
    assert sent.dialog_id not in by_dialog  # sent as drafted: nothing to learn from a review

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")},
           "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_DATABASE_URL": db_url,
           "SALESOP_MASTER_KEY": Fernet.generate_key().decode()}
    out = tmp_path / "train.jsonl"
    result = await run_cli_async(env, "training", "export", "--tenant", "shop", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"выгружено примеров: 2 → {out}"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [[m["role"] for m in line["messages"]] for line in lines] == [["system", "user", "assistant"]] * 2
    assert [(line["messages"][1]["content"], line["messages"][2]["content"]) for line in lines] == [
        ("Сколько стоит кофемашина?", EDITED), ("Доставка по Москве?", "Курьер по Москве — 390 рублей.")]
    assert "ТехноДом" in lines[0]["messages"][0]["content"]

    # What the drafting cost, as finance reads it from the command line: the same exact total as the service.
    spent = await run_cli_async(env, "spend", "--tenant", "shop", "--by", "purpose", "--json")
    assert spent.returncode == 0, spent.stderr
    report = json.loads(spent.stdout)
    async with db.unit_of_work() as session:
        total = await spend_total(session, shop.tenant_id)
    assert report["total"]["cost_usd"] == str(total.cost_usd) and total.cost_usd > 0
    assert {r["purpose"] for r in report["rows"]} == {"embed", "intent", "suggest"}
    assert sum(Decimal(r["cost_usd"]) for r in report["rows"]) == total.cost_usd


async def test_few_shot_candidates_stored_without_a_vector_still_count(db, ai_settings, online, openai_sandbox):
    """Samples written by another code path (e.g. the workspace's own Send handler) carry no embedding."""
    shop = await make_shop(db, online, ai_settings)
    won = await _draft(db, ai_settings, online, openai_sandbox, shop, "Сколько стоит кофемашина?", "price",
                       "Кофемашина стоит 45 990 ₽.", "801")
    async with db.unit_of_work() as session:
        session.add(TrainingSample(tenant_id=shop.tenant_id, dialog_id=won.dialog_id, suggestion_id=won.id,
                                   customer_message="Сколько стоит кофемашина?", draft=won.text, final=EDITED,
                                   intent="price", action=TrainingAction.EDITED, outcome=Outcome.WON, few_shot=True))
    await _draft(db, ai_settings, online, openai_sandbox, shop, "Почём кофемашина?", "price", "45 990 ₽", "802")
    assert f"Ответ: {EDITED}" in _reply_prompt(openai_sandbox)
