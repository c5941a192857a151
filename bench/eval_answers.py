"""How well the AI answers: a question set for two shops through the same pipeline a live customer message takes
(`salesop ask`), judged by the facts each answer must hold.

    .venv/bin/python bench/eval_answers.py [--only demo|velo] [--verbose] [--out FILE]

Shops: the demo shop (core/ai/demo_data: electronics, Moscow, Markdown pages) and «ВелоГрад» (tests/data/shops/velo:
bicycles in Saint Petersburg, a comma-separated catalog with variants and «под заказ», warranty per kind, a
question-and-answer CSV). Questions: bench/data/eval_questions.json — each with the shop, the question, what kind
of answer is right and the facts it must (and must not) contain:

  answer   every `expect` fragment is in the reply, no `forbid` fragment is
  hold     as `answer`, and the reply must not leave on its own (a discount beyond the limit, a manipulation)
  manager  nothing in the catalog or the knowledge base answers it: «уточню у менеджера», never sent on its own
  handoff  a person must take over: the decision is "escalate"

Tenants are set up so that only the content can stop a reply — autosend allowed, the offline responder allowed,
every intent allowed, the dialog in "auto" mode, inside working hours; only a request for a person and a complaint
are forced to a human — so "would autosend" means the engine itself judged the reply safe and sure.

Reported: accuracy (the answer is right), wrong-yet-confident (a wrong answer the engine would send on its own),
handoff recall (handoff cases escalated), and whether the product asked about is among the top-3 products
retrieval ranked. The offline responder always runs; an LLM too when SALESOP_OPENAI_API_KEY is set (with
SALESOP_OPENAI_BASE_URL and SALESOP_CHAT_MODEL as the product reads them).

    .venv/bin/python bench/eval_answers.py --stand-in

runs the LLM mode against the scripted OpenAI stand-in (sandbox/openai_api.py, served here on 127.0.0.1) instead:
for each question the stand-in answers the intent call with the offline responder's intent and the reply call with
the offline responder's draft, so the LLM path — the real openai client, the prompt, the tools offered, the JSON
schema, the self-check against retrieval and tool results, the decision — runs end to end on all the questions.
Its figures measure that path, not the quality of any language model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUESTIONS = ROOT / "bench" / "data" / "eval_questions.json"
VELO_DATA = ROOT / "tests" / "data" / "shops" / "velo"
# A Wednesday noon in Moscow and Saint Petersburg: inside working hours.
NOON = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
KINDS = ("answer", "hold", "manager", "handoff")
MANAGER_WORDS = ("менеджер", "manager")
GOALS = {"accuracy": 0.85, "wrong_confident": 0.0, "handoff_recall": 1.0}

SHOP_SETTINGS = {
    "common": dict(autosend_allowed=True, offline_autosend_allowed=True, t_auto=0.85, t_escalate=0.35,
                   intents_force_handoff=["human_request", "complaint"]),
    "demo": dict(allow_discounts=False, max_discount_percent=0),
    "velo": dict(allow_discounts=True, max_discount_percent=10, forbidden_topics=["политика"]),
}


@dataclass(frozen=True)
class Case:
    shop: str
    q: str
    kind: str
    cat: str
    expect: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    sku: str | None = None


@dataclass
class Outcome:
    case: Case
    reply: str
    intent: str
    confidence: float
    decision: str
    correct: bool
    autosent: bool
    top3: bool | None
    why: str = ""


@dataclass
class Report:
    provider: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def _share(self, hits: int, total: int) -> float:
        return hits / total if total else 1.0

    @property
    def accuracy(self) -> float:
        return self._share(sum(o.correct for o in self.outcomes), len(self.outcomes))

    @property
    def wrong_confident(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.autosent and not o.correct]

    @property
    def wrong_confident_rate(self) -> float:
        return self._share(len(self.wrong_confident), len(self.outcomes))

    @property
    def handoffs(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.kind == "handoff"]

    @property
    def handoff_recall(self) -> float:
        return self._share(sum(o.decision == "escalate" for o in self.handoffs), len(self.handoffs))

    @property
    def top3_cases(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.top3 is not None]

    @property
    def top3(self) -> float:
        return self._share(sum(bool(o.top3) for o in self.top3_cases), len(self.top3_cases))

    @property
    def autosent_share(self) -> float:
        return self._share(sum(o.autosent for o in self.outcomes), len(self.outcomes))

    def by_category(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for o in self.outcomes:
            right, total = out.get(o.case.cat, (0, 0))
            out[o.case.cat] = (right + o.correct, total + 1)
        return dict(sorted(out.items()))

    def meets_goals(self) -> bool:
        return (self.accuracy >= GOALS["accuracy"] and not self.wrong_confident
                and self.handoff_recall >= GOALS["handoff_recall"])

    def summary(self) -> dict:
        return {
            "provider": self.provider, "questions": len(self.outcomes), "accuracy": round(self.accuracy, 4),
            "wrong_yet_confident": len(self.wrong_confident),
            "wrong_yet_confident_rate": round(self.wrong_confident_rate, 4),
            "handoff_recall": round(self.handoff_recall, 4), "handoff_cases": len(self.handoffs),
            "top3_product": round(self.top3, 4), "top3_cases": len(self.top3_cases),
            "autosent_share": round(self.autosent_share, 4), "seconds": round(self.seconds, 1),
        }


def load_cases(path: Path = QUESTIONS, *, shops: tuple[str, ...] | None = None) -> list[Case]:
    cases = []
    for raw in json.loads(path.read_text(encoding="utf-8")):
        case = Case(shop=raw["shop"], q=raw["q"], kind=raw["kind"], cat=raw["cat"],
                    expect=tuple(raw.get("expect", ())), forbid=tuple(raw.get("forbid", ())), sku=raw.get("sku"))
        if case.kind not in KINDS:
            raise ValueError(f"unknown kind {case.kind!r} for {case.q!r}")
        if shops is None or case.shop in shops:
            cases.append(case)
    return cases


def _norm(text_: str) -> str:
    return " ".join(text_.lower().replace("ё", "е").replace("\u00a0", " ").replace("\u202f", " ").split())


def judge(case: Case, reply: str, decision: str, ranked_skus: list[str]) -> tuple[bool, str]:
    """Whether the answer is right for its case, and if not, why."""
    low = _norm(reply)
    missing = [f for f in case.expect if _norm(f) not in low]
    present = [f for f in case.forbid if _norm(f) in low]
    autosent = decision == "auto_send"
    if case.kind == "handoff":
        if decision != "escalate":
            return False, f"not handed off ({decision})"
        return (not present), (f"says {present}" if present else "")
    if case.kind == "manager":
        if autosent:
            return False, "sent on its own"
        if not any(w in low for w in MANAGER_WORDS):
            return False, "does not leave it to a manager"
        return (not present), (f"says {present}" if present else "")
    if missing:
        return False, f"missing {missing}"
    if present:
        return False, f"says {present}"
    if case.kind == "hold" and autosent:
        return False, "sent on its own"
    return True, ""


async def setup_shops(db, embedder, price_table, shops: tuple[str, ...] = ("demo", "velo"), *,
                      suffix: str = "") -> dict[str, int]:
    """Creates a tenant per shop with its catalog and knowledge base; returns shop → tenant id."""
    from core.ai.demo import load_demo_shop
    from core.ai.indexing import Indexer
    from core.models import Intent
    from core.services import catalog, knowledge
    from core.services.tenants import create_tenant

    out = {}
    async with db.unit_of_work() as session:
        for shop in shops:
            values = {**SHOP_SETTINGS["common"], **SHOP_SETTINGS[shop],
                      "intents_autosend": [i.value for i in Intent]}
            name = "Техносфера" if shop == "demo" else "ВелоГрад"
            tenant = await create_tenant(session, slug=f"eval-{shop}{suffix}", name=name)
            for key, value in values.items():
                setattr(tenant, key, value)
            if shop == "demo":
                await load_demo_shop(session, tenant.id, embedder, price_table)
            else:
                indexer = Indexer(embedder, price_table)
                await catalog.import_products_csv(session, tenant.id, (VELO_DATA / "catalog.csv").read_bytes(),
                                                  indexer=indexer)
                await knowledge.import_path(session, tenant.id, VELO_DATA / "kb", indexer=indexer)
            await session.flush()
            out[shop] = tenant.id
    return out


async def evaluate(db, providers, settings, tenants: dict[str, int], cases: list[Case], *,
                   provider: str = "offline", before_case=None) -> Report:
    from salesop.commands.ask import ask

    report = Report(provider)
    started = time.perf_counter()
    for n, case in enumerate(cases):
        if before_case is not None:
            before_case(n, case)
        answer = await ask(db, providers, settings, tenants[case.shop], case.q, now=NOON)
        ranked = answer.products
        correct, why = judge(case, answer.reply, answer.decision, ranked)
        report.outcomes.append(Outcome(
            case=case, reply=answer.reply, intent=answer.intent, confidence=answer.confidence,
            decision=answer.decision, correct=correct, autosent=answer.decision == "auto_send",
            top3=(case.sku in ranked[:3]) if case.sku else None, why=why,
        ))
    report.seconds = time.perf_counter() - started
    return report


def render(report: Report, *, verbose: bool = False) -> str:
    s = report.summary()
    lines = [
        f"## {report.provider}",
        "",
        f"- questions: {s['questions']}",
        f"- accuracy (every expected fact present): {s['accuracy']:.1%}",
        f"- wrong yet confident (would autosend a wrong answer): {s['wrong_yet_confident']} "
        f"({s['wrong_yet_confident_rate']:.1%})",
        f"- handoff recall: {s['handoff_recall']:.1%} of {s['handoff_cases']}",
        f"- right product in the top-3 sources: {s['top3_product']:.1%} of {s['top3_cases']}",
        f"- would autosend: {s['autosent_share']:.1%} of the questions",
        f"- time: {s['seconds']:.1f} s",
        "",
        "| category | right | of |",
        "|---|---|---|",
    ]
    lines += [f"| {cat} | {right} | {total} |" for cat, (right, total) in report.by_category().items()]
    wrong = [o for o in report.outcomes if not o.correct or verbose]
    if wrong:
        lines += ["", "Wrong answers:" if not verbose else "Answers:", ""]
        for o in wrong:
            mark = "ok" if o.correct else "WRONG"
            lines.append(f"- [{mark}] ({o.case.shop}/{o.case.cat}) «{o.case.q}» → {o.intent} {o.confidence:.2f} "
                         f"{o.decision}: «{o.reply}» {o.why}")
    return "\n".join(lines)


STAND_IN_KEY = "sk-eval-stand-in"
# Words of the two system prompts (core/ai/prompts): the intent classifier's and the reply's.
INTENT_PROMPT, REPLY_PROMPT = r"классифицируешь", r"продавец-консультант"


async def _stand_in():
    """The OpenAI stand-in on a free local port: (sandbox, runner, base URL)."""
    from aiohttp import web

    from sandbox.openai_api import OpenAISandbox

    sandbox = OpenAISandbox(api_key=STAND_IN_KEY)
    runner = web.AppRunner(sandbox.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return sandbox, runner, f"http://{host}:{port}/v1"


def _replaying(sandbox, offline: Report, served: list[int]):
    """Before each question: the stand-in will answer this question's intent call and reply call as the offline
    responder did (its intent, its draft and confidence). `served` counts the requests it answered."""
    def before_case(n: int, case: Case) -> None:
        done = offline.outcomes[n]
        assert done.case == case
        served[0] += len(sandbox.requests)
        sandbox.reset()
        sandbox.add_rule(INTENT_PROMPT, {"intent": done.intent, "confidence": 0.9}, times=1)
        sandbox.add_rule(REPLY_PROMPT, {"reply": done.reply, "confidence": done.confidence, "needs_human": False,
                                        "reason": "stand-in replays the offline draft"}, times=1)
    return before_case


async def run(args) -> list[Report]:
    from pydantic import SecretStr

    from bench.common import BenchDatabase
    from core.ai.embedding import LocalEmbedder
    from core.ai.providers import AIProviders, build_providers
    from core.db import Database
    from core.settings import Settings

    bench_db = BenchDatabase()
    url = await bench_db.start()
    tmp = tempfile.TemporaryDirectory(prefix="salesop-eval-")
    reports: list[Report] = []
    stand_in = None
    try:
        db = Database(url, pool_size=4)
        settings = Settings.load(data_dir=Path(tmp.name) / "var", db={"database_url": url})
        shops = tuple(args.only) if args.only else ("demo", "velo")
        cases = load_cases(shops=shops)
        offline = AIProviders(llm=None, embedder=LocalEmbedder())
        tenants = await setup_shops(db, offline.embedder, settings.ai.price_table, shops)
        reports.append(await evaluate(db, offline, settings, tenants, cases, provider="offline"))
        if args.stand_in:
            sandbox, runner, base_url = stand_in = await _stand_in()
            llm_settings = settings.model_copy(update={"ai": settings.ai.model_copy(update={
                "openai_api_key": SecretStr(STAND_IN_KEY), "openai_base_url": base_url})})
            online = build_providers(llm_settings)
            online_tenants = await setup_shops(db, online.embedder, settings.ai.price_table, shops,
                                               suffix="-stand-in")
            served = [0]
            report = await evaluate(
                db, online, llm_settings, online_tenants, cases, before_case=_replaying(sandbox, reports[0], served),
                provider="OpenAI stand-in replaying the offline drafts (the LLM path end to end, not LLM quality)")
            served[0] += len(sandbox.requests)
            report.provider += f"; the stand-in answered {served[0]} API requests (chat and embeddings)"
            reports.append(report)
        elif settings.ai.openai_api_key is not None:  # SALESOP_OPENAI_API_KEY (or the .env file) names one
            online = build_providers(settings)
            online_tenants = await setup_shops(db, online.embedder, settings.ai.price_table, shops, suffix="-llm")
            reports.append(await evaluate(db, online, settings, online_tenants, cases,
                                          provider=f"llm ({settings.ai.chat_model})"))
        await db.dispose()
    finally:
        if stand_in is not None:
            await stand_in[1].cleanup()
        bench_db.stop()
        tmp.cleanup()
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=["demo", "velo"], help="one shop (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print every answer, not only the wrong ones")
    parser.add_argument("--out", type=Path, help="also write the results (Markdown) to this file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--stand-in", action="store_true",
                        help="run the LLM mode against the scripted OpenAI stand-in (path check, not LLM quality)")
    args = parser.parse_args()
    reports = asyncio.run(run(args))
    text_ = "\n\n".join(render(r, verbose=args.verbose) for r in reports)
    print(json.dumps([r.summary() for r in reports], ensure_ascii=False, indent=2) if args.json else text_)
    if args.out:
        args.out.write_text(f"# Answer evaluation (bench/eval_answers.py)\n\n{text_}\n", encoding="utf-8")
    return 0 if all(r.meets_goals() for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
