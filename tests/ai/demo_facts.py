"""The demo shop's catalog and knowledge base as the self-check sees them, without a database: products from
core/ai/demo_data/catalog.csv, knowledge chunks cut from its pages the way the indexer cuts them."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from core.ai.demo import DEMO_CATALOG, DEMO_DATA
from core.ai.indexing import chunk_document
from core.ai.retrieval import ProductFact
from core.ai.selfcheck import CheckFacts, CheckReport, check_reply
from core.services.knowledge import parse_front_matter


def demo_products() -> list[ProductFact]:
    rows = csv.DictReader(io.StringIO(DEMO_CATALOG.read_text(encoding="utf-8")), delimiter=";")
    return [ProductFact(i, r["Артикул"], r["Наименование"], Decimal(r["Цена"].replace(" ", "")), "RUB",
                        int(r["Остаток"]), r["Описание"]) for i, r in enumerate(rows, 1)]


def demo_knowledge() -> list[str]:
    chunks: list[str] = []
    for page in sorted(DEMO_DATA.glob("*.md")):
        _, body = parse_front_matter(page.read_text(encoding="utf-8"))
        heading = re.search(r"^#\s+(.+)$", body, re.MULTILINE)
        title = heading.group(1).strip()
        chunks += chunk_document(title, body[:heading.start()] + body[heading.end():])
    return chunks


PRODUCTS = demo_products()
KNOWLEDGE = demo_knowledge()


def demo_facts(customer_text: str, **overrides) -> CheckFacts:
    """A tenant that allows discounts up to 10 % and forbids two topics, as in the autosend trial."""
    values = dict(products=PRODUCTS, knowledge_texts=KNOWLEDGE, allow_discounts=True, max_discount_percent=10,
                  forbidden_topics=["политика", "кредит"], customer_text=customer_text, customer_language="ru")
    values.update(overrides)
    return CheckFacts(**values)


def check(reply: str, customer_text: str, **overrides) -> CheckReport:
    return check_reply(reply, demo_facts(customer_text, **overrides))


def failed(reply: str, customer_text: str, **overrides) -> dict[str, list[str]]:
    report = check(reply, customer_text, **overrides)
    return {name: c["problems"] for name, c in report.checks.items() if not c["ok"]}
