"""Catalog and knowledge base: CSV imports people actually have, re-imports, chunking, re-embedding."""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from core.ai.embedding import LOCAL_EMBEDDER_NAME, LocalEmbedder
from core.ai.indexing import Indexer, chunk_document, stale_chunk_count
from core.ai.retrieval import hybrid_search
from core.models import AIUsage, DocType, KnowledgeChunk, KnowledgeDocument, Product
from core.services import catalog, knowledge
from core.services.tenants import create_tenant
from tests.clirun import run_cli

BROKEN_CP1251 = (
    "Артикул;Наименование;Цена, руб;Остаток;Описание\r\n"
    "A-1;Кофемашина Saeco;45 000,00;3;Зерновая\r\n"
    "A-2;Чайник;abc;5;Цена не число\r\n"
    "A-3;Тостер Bork;4990.00 руб.;нет;\r\n"
    ";Без артикула;100;1;\r\n"
    "A-5;Миксер;1 290;-2;\r\n"
    "A-6;Блендер;\"2 490,50\";12;\"Описание; с точкой с запятой\"\r\n"
).encode("cp1251")


def indexer() -> Indexer:
    return Indexer(LocalEmbedder(), {})


async def _tenant(db, slug="shop") -> int:
    async with db.unit_of_work() as session:
        return (await create_tenant(session, slug=slug, name="Shop")).id


async def test_cp1251_semicolon_csv_keeps_good_rows_and_names_bad_lines(db):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        report = await catalog.import_products_csv(session, tenant_id, BROKEN_CP1251, indexer=indexer())
    assert (report.encoding, report.delimiter) == ("cp1251", ";")
    assert (report.created, report.updated) == (3, 0)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "цена «abc» не похожа на число"),
        (5, "нет артикула"),
        (6, "остаток меньше нуля"),
    ]
    async with db.unit_of_work() as session:
        products = {p.sku: p for p in await catalog.list_products(session, tenant_id)}
        chunks = (await session.execute(select(func.count(KnowledgeChunk.id)).where(
            KnowledgeChunk.doc_type == DocType.PRODUCT))).scalar_one()
    assert sorted(products) == ["A-1", "A-3", "A-6"]
    assert products["A-1"].price == Decimal("45000.00") and products["A-1"].stock == 3
    assert products["A-3"].price == Decimal("4990.00") and products["A-3"].stock == 0
    assert products["A-6"].price == Decimal("2490.50") and products["A-6"].description == "Описание; с точкой с запятой"
    assert chunks == 3


async def test_reimport_updates_by_sku_and_reindexes_only_changes(db):
    tenant_id = await _tenant(db)
    first = "sku,name,price,stock\nX1,Кресло,10000,2\nX2,Стол,5000,1\n".encode()
    second = "SKU,Name,Price,Stock,Description\nX1,Кресло офисное,12 500.00 ₽,2,\nX2,Стол,5000,1,\nX3,Лампа,990,,\n".encode()
    async with db.unit_of_work() as session:
        await catalog.import_products_csv(session, tenant_id, first, indexer=indexer())
    async with db.unit_of_work() as session:
        report = await catalog.import_products_csv(session, tenant_id, second, indexer=indexer())
    assert (report.created, report.updated, report.unchanged, report.errors) == (1, 1, 1, [])
    async with db.unit_of_work() as session:
        products = {p.sku: p for p in await catalog.list_products(session, tenant_id)}
        chunk_texts = list((await session.execute(
            select(KnowledgeChunk.text).where(KnowledgeChunk.tenant_id == tenant_id).order_by(KnowledgeChunk.id)
        )).scalars())
        count = (await session.execute(select(func.count(Product.id)))).scalar_one()
    assert count == 3
    assert products["X1"].name == "Кресло офисное" and products["X1"].price == Decimal("12500.00")
    assert products["X3"].stock is None
    # One chunk per product, rebuilt from the new values (no stale "10 000" left behind).
    assert len(chunk_texts) == 3
    assert any("Кресло офисное" in t and "12\u00a0500" in t for t in chunk_texts)
    assert not any("10\u00a0000" in t for t in chunk_texts)


@pytest.mark.parametrize("header", [
    "Код товара;Название;Стоимость (руб.);Наличие",
    "article;title;price;quantity",
])
async def test_header_variants(db, header):
    tenant_id = await _tenant(db)
    data = f"{header}\nK-1;Товар;1 000;5\n".encode()
    async with db.unit_of_work() as session:
        report = await catalog.import_products_csv(session, tenant_id, data, indexer=indexer())
        product = (await session.execute(select(Product))).scalar_one()
    assert report.created == 1 and (product.sku, product.price, product.stock) == ("K-1", Decimal("1000"), 5)


async def test_missing_required_column_is_a_user_error(db):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        with pytest.raises(catalog.UserError, match="цена"):
            await catalog.import_products_csv(session, tenant_id, b"sku,name\n1,x\n", indexer=indexer())


def test_chunking_follows_headings_and_bounds():
    body = "## Сроки\n" + "Первый абзац про сроки. " * 10 + "\n\n## Стоимость\nДоставка стоит 300 рублей."
    chunks = chunk_document("Доставка", body, limit=200)
    assert all(len(c) <= 200 + len("Доставка — Стоимость: ") for c in chunks)
    assert chunks[0].startswith("Доставка — Сроки: ")
    assert chunks[-1] == "Доставка — Стоимость: Доставка стоит 300 рублей."


async def test_kb_import_markdown_and_qa_csv_then_hybrid_search_by_type(db, tmp_path):
    tenant_id = await _tenant(db)
    (tmp_path / "dostavka.md").write_text("# Доставка\n\nКурьер по Москве — 390 рублей, на следующий день.\n")
    (tmp_path / "faq.csv").write_bytes("Вопрос;Ответ\nМожно ли оплатить картой?;Да, картой онлайн и курьеру.\n"
                                       "Есть ли гарантия?;\n".encode("cp1251"))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    async with db.unit_of_work() as session:
        report = await knowledge.import_path(session, tenant_id, tmp_path, indexer=indexer())
    assert (report.created, report.updated) == (2, 0)
    assert report.errors == ["faq.csv, строка 3: нет ответа"]  # the .pdf is not even looked at in a folder
    async with db.unit_of_work() as session:
        docs = {d.source: d for d in await knowledge.list_documents(session, tenant_id)}
        assert docs["dostavka.md"].doc_type == DocType.DELIVERY and docs["dostavka.md"].title == "Доставка"
        assert docs["faq.csv"].doc_type == DocType.FAQ
        vector = (await LocalEmbedder().embed(["сколько стоит курьер"]))[0][0]
        hits = await hybrid_search(session, tenant_id, "сколько стоит курьер", vector,
                                   embedder_name=LOCAL_EMBEDDER_NAME)
        assert hits[0].doc_type == "delivery" and "390 рублей" in hits[0].text
        assert hits[0].vector_rank == 1 and hits[0].text_rank == 1
        only_faq = await hybrid_search(session, tenant_id, "сколько стоит курьер", vector,
                                       embedder_name=LOCAL_EMBEDDER_NAME, doc_types=[DocType.FAQ])
        assert only_faq and {h.doc_type for h in only_faq} == {"faq"}
    # The same folder again: nothing duplicated, nothing re-embedded.
    async with db.unit_of_work() as session:
        again = await knowledge.import_path(session, tenant_id, tmp_path, indexer=indexer())
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        assert (await session.execute(select(func.count(KnowledgeDocument.id)))).scalar_one() == 2


async def test_changing_the_embedder_reembeds_stale_chunks_and_records_spend(db, ai_settings, online):
    tenant_id = await _tenant(db)
    async with db.unit_of_work() as session:
        await catalog.import_products_csv(session, tenant_id, "sku,name,price\n1,Чайник,990\n2,Тостер,1990\n".encode(),
                                          indexer=indexer())
    remote = Indexer(online.embedder, ai_settings.ai.price_table)
    async with db.unit_of_work() as session:
        assert await stale_chunk_count(session, tenant_id, online.embedder.name) == 2
        assert await remote.reembed_stale(session, tenant_id) == 2
    async with db.unit_of_work() as session:
        assert await stale_chunk_count(session, tenant_id, online.embedder.name) == 0
        names = set((await session.execute(select(KnowledgeChunk.embedder))).scalars())
        usage = (await session.execute(select(AIUsage))).scalar_one()
    assert names == {"openai:text-embedding-3-small@512"}
    assert usage.purpose.value == "embed" and usage.prompt_tokens > 0
    assert usage.cost_usd == Decimal(usage.prompt_tokens) * Decimal("0.02") / 1_000_000


# ------------------------------------------------------------------------------------------- the CLI itself

def run(*args, env) -> subprocess.CompletedProcess:
    return run_cli(env, *args, timeout=120)  # salesop.cli.main in this process (tests/clirun.py)


@pytest.fixture
def env(tmp_path, db_url):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_DATABASE_URL": db_url,
            "SALESOP_MASTER_KEY": Fernet.generate_key().decode()}


async def test_cli_products_import_and_list(db, env, tmp_path):
    await _tenant(db)
    path = tmp_path / "price.csv"
    path.write_bytes(BROKEN_CP1251)
    result = run("products", "import", "--tenant", "shop", str(path), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "товары: создано 3, обновлено 0, без изменений 0; ошибок: 3"
    assert "  строка 3: цена «abc» не похожа на число" in lines
    assert "  строка 5: нет артикула" in lines
    listed = json.loads(run("products", "list", "--tenant", "shop", "--json", env=env).stdout)
    assert [(p["sku"], p["price"], p["stock"]) for p in listed] == [
        ("A-1", "45000.00", 3), ("A-3", "4990.00", 0), ("A-6", "2490.50", 12)]
    missing = run("products", "import", "--tenant", "nope", str(path), env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "salesop: нет компании с кодом «nope»"


async def test_cli_kb_import_and_demo(db, env, tmp_path):
    await _tenant(db)
    (tmp_path / "vozvrat.md").write_text("# Возврат\n\nВернуть товар можно в течение 14 дней.\n")
    out = json.loads(run("kb", "import", "--tenant", "shop", str(tmp_path / "vozvrat.md"), "--json", env=env).stdout)
    assert out == {"created": 1, "updated": 0, "unchanged": 0, "chunks": 1, "errors": []}
    demo = run("kb", "load-demo", "--tenant", "shop", env=env)
    assert demo.returncode == 0 and demo.stdout.strip() == "демо-магазин загружен: товаров 30, документов 4"
    docs = json.loads(run("kb", "list", "--tenant", "shop", "--json", env=env).stdout)
    assert {d["type"] for d in docs} == {"returns", "delivery", "payment", "policy"}
