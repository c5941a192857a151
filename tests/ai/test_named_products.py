"""The self-check's "products the reply names": among the retrieved products, read in Python (no round trip), the
same products the database's phrase lookup finds among them."""

from __future__ import annotations

from core.ai import retrieval
from core.ai.embedding import LOCAL_EMBEDDER_NAME, embed_one

from .conftest import make_shop

QUESTIONS_AND_REPLIES = [
    ("Сколько стоит кофемашина DeLonghi?", "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, в наличии 4 шт."),
    ("Сколько стоит кофемашина DeLonghi?", "Уточню наличие и вернусь с ответом."),
    ("Есть чайник Kitfort?", "Да, чайник Kitfort KT-6140 есть, 3 290 ₽."),
    ("Какой блендер посоветуете?", "Блендер Philips HR3573 — 8 990 ₽, но сейчас его нет в наличии."),
    ("Что есть из кофемолок?", "Кофемолка Bork J700 за 12 490 ₽: жерновая, 17 степеней помола."),
    ("Есть электросамокат?", "Есть самокат, уточню модель."),
    ("Сколько стоит доставка?", "Доставка по Москве — 390 рублей, бесплатно от 5 000 ₽."),
    ("Наушники AirPods есть?", "Наушники Apple AirPods Pro 2 стоят 24 990 ₽."),
    ("Samsung Galaxy A55 сколько стоит?", "Смартфон Samsung Galaxy A55 стоит 38 990 ₽."),  # chunk: «8/256»
    ("Какие смартфоны есть?", "Есть Samsung Galaxy A55 и Xiaomi Redmi Note 13 Pro."),
]


async def test_products_named_among_the_retrieved_match_the_database_lookup(db, offline_providers, settings):
    shop = await make_shop(db, offline_providers, settings)
    naming = 0
    async with db.unit_of_work() as session:
        for question, reply in QUESTIONS_AND_REPLIES:
            hits = await retrieval.hybrid_search(session, shop.tenant_id, question, embed_one(question),
                                                 embedder_name=LOCAL_EMBEDDER_NAME, limit=12)
            hits += await retrieval.product_name_hits(session, shop.tenant_id, question)
            retrieved = {h.product.id for h in hits if h.product is not None}
            in_database = {h.product.id for h in await retrieval.products_named_in_text(
                session, shop.tenant_id, reply) if h.product is not None and h.product.id in retrieved}
            in_python = await retrieval.products_named_among(session, reply, hits)
            assert in_python is not None, reply
            assert {h.product.id for h in in_python} == in_database, (question, reply)
            naming += bool(in_database)
        assert naming >= 6  # most replies name a product: the comparison is not between two empty sets
        # A text the local reader leaves to the database (an e-mail address) says so: the lookup goes there.
        assert await retrieval.products_named_among(session, "Пишите на shop@example.com", hits) is None
