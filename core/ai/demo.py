"""The demo shop the offline demo loads: a Russian catalog of ~30 products and knowledge-base pages on delivery,
returns, warranty and payment (core/ai/demo_data/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from ..ports import Embedder
from ..services import catalog, knowledge
from .indexing import Indexer
from .spend import PriceTable

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_CATALOG = DEMO_DATA / "catalog.csv"


@dataclass(frozen=True)
class DemoShopReport:
    products: catalog.ImportReport
    knowledge: knowledge.KBImportReport


async def load_demo_shop(session: AsyncSession, tenant_id: int, embedder: Embedder,
                         price_table: PriceTable | None = None) -> DemoShopReport:
    """Import the demo catalog and knowledge base into a tenant. Safe to run again: it updates, never duplicates."""
    indexer = Indexer(embedder, price_table or {})
    products = await catalog.import_products_csv(session, tenant_id, DEMO_CATALOG.read_bytes(), indexer=indexer)
    docs = knowledge.KBImportReport()
    for page in sorted(DEMO_DATA.glob("*.md")):
        await knowledge.import_file(session, tenant_id, page, indexer=indexer, report=docs)
    return DemoShopReport(products, docs)
