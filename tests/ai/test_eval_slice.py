"""A slice of the answer evaluation (bench/eval_answers.py) as a test: every third question of both shops through
the offline pipeline, held to the evaluation's goals — accuracy ≥ 85 %, no wrong answer the engine would send on
its own, every handoff case handed off."""

from __future__ import annotations

from bench.eval_answers import GOALS, evaluate, load_cases, render, setup_shops



async def test_the_offline_responder_meets_the_goals_on_a_slice(db, settings, offline_providers):
    cases = load_cases()
    assert len(cases) >= 120 and {c.shop for c in cases} == {"demo", "velo"}
    # Every third question, and every handoff case: handoff recall is all or nothing.
    chosen = [c for i, c in enumerate(cases) if i % 3 == 0 or c.kind == "handoff"]
    tenants = await setup_shops(db, offline_providers.embedder, settings.ai.price_table)
    report = await evaluate(db, offline_providers, settings, tenants, chosen)
    summary = report.summary()
    assert summary["questions"] == len(chosen)
    assert report.accuracy >= GOALS["accuracy"], render(report)
    assert report.wrong_confident == [], render(report)
    assert report.handoffs and report.handoff_recall == 1.0, render(report)
    assert report.top3 >= 0.9, render(report)
