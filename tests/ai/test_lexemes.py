"""The question's lexemes read locally (core.ai.retrieval.local_lexemes) are the ones PostgreSQL's `russian`
configuration stores for the chunks: both halves of hybrid search must see the same words. Compared word for word and
position for position with to_tsvector over the demo shop, the bicycle shop, the evaluation questions and a slice of
the benchmark's catalog."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import text

from core.ai.retrieval import local_lexeme_positions, local_lexemes, query_lexemes

ROOT = Path(__file__).resolve().parents[2]


def _corpus() -> list[str]:
    texts: list[str] = []
    files = sorted((ROOT / "core/ai/demo_data").iterdir()) + sorted((ROOT / "tests/data/shops").rglob("*.*"))
    for path in files:
        texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += [q["q"] for q in json.loads((ROOT / "bench/data/eval_questions.json").read_text(encoding="utf-8"))]
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_retrieval

    texts += bench_retrieval.questions(300) + [t for _, t, _ in bench_retrieval.synthetic_chunks(600)]
    texts += ["Роутер Wi-Fi и TD-002 в Ростов-на-Дону, 45 990 ₽ — ёлка её", "Наушники Sony WH-1000XM5, кейс USB-C",
              "Zigbee-хаб по-русски, Хаб-2 и 55UR78006LK", "Don't worry: it's 9:00, the shop's open"]
    return texts


async def test_local_lexemes_and_positions_are_postgres_russian_ones(db):
    texts = _corpus()
    async with db.unit_of_work() as session:
        rows = (await session.execute(text(
            "SELECT x.i, t.lexeme, p.pos FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS x(txt, i), "
            "unnest(to_tsvector('russian', x.txt)) AS t, unnest(t.positions) AS p(pos)"), {"texts": texts})).all()
    expected: dict[int, set] = {}
    for i, lexeme, position in rows:
        expected.setdefault(i - 1, set()).add((lexeme, position))
    read = 0
    for i, text_ in enumerate(texts):
        mine = local_lexeme_positions(text_)
        if mine is None:
            continue
        read += 1
        assert set(mine) == expected.get(i, set()), text_
    assert read >= len(texts) - 10  # nearly everything is read locally


async def test_what_the_local_reader_does_not_model_is_left_to_the_database(db):
    for odd in ("пишите на shop@example.com", "скидка -5 на модель 2-7", "версия 1.5.2", "https://example.com/a"):
        assert local_lexemes(odd) is None
    async with db.unit_of_work() as session:
        lexemes = await query_lexemes(session, "пишите на shop@example.com про доставку")
        pg = (await session.execute(text("SELECT tsvector_to_array(to_tsvector('russian', :q))"),
                                    {"q": "пишите на shop example com про доставку"})).scalar_one()
    assert sorted(lexemes) == sorted(pg) and "доставк" in lexemes
