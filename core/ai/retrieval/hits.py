"""What a search returns: a Hit (one knowledge chunk, scored, with the product it describes) and the ProductFact it
carries, read from a product or from the plain product columns of a search's row."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ...models import Product


@dataclass(frozen=True)
class ProductFact:
    id: int
    sku: str
    name: str
    price: Decimal
    currency: str
    stock: int | None
    description: str = ""
    variant_prices: tuple[Decimal, ...] = ()
    delivery: str = ""  # the catalog's delivery note («под заказ, 14–21 день»)
    variants: tuple[tuple[str, Decimal | None], ...] = ()  # (name, price or None), as the catalog lists them

    def as_source(self) -> dict:
        return {"kind": "product", "product_id": self.id, "sku": self.sku, "name": self.name,
                "price": str(self.price), "currency": self.currency, "stock": self.stock}


@dataclass
class Hit:
    chunk_id: int
    text: str
    doc_type: str
    score: float
    title: str = ""
    document_id: int | None = None
    product: ProductFact | None = None
    vector_rank: int | None = None
    text_rank: int | None = None
    meta: dict = field(default_factory=dict)

    def as_source(self) -> dict:
        source = {"kind": "chunk", "chunk_id": self.chunk_id, "doc_type": self.doc_type, "title": self.title,
                  "score": round(self.score, 5), "vector_rank": self.vector_rank, "text_rank": self.text_rank}
        if self.document_id is not None:
            source["document_id"] = self.document_id
        if self.product is not None:
            source["product"] = self.product.as_source()
        return source


def product_fact(p: Product) -> ProductFact:
    return _product_fact(p.id, p.sku, p.name, p.price, p.currency, p.stock, p.description, p.variants, p.delivery)


def _product_fact(id_: int, sku: str, name: str, price: Decimal, currency: str, stock: int | None,
                  description: str | None, variants: list | None, delivery: str | None) -> ProductFact:
    variant_prices = []
    named_variants: list[tuple[str, Decimal | None]] = []
    for variant in variants or []:
        if not isinstance(variant, dict):
            continue
        price_ = None
        if variant.get("price") not in (None, ""):
            try:
                price_ = Decimal(str(variant["price"]))
                variant_prices.append(price_)
            except ArithmeticError:
                price_ = None
        variant_name = str(variant.get("name") or "").strip()
        if variant_name:
            named_variants.append((variant_name, price_))
    return ProductFact(id=id_, sku=sku, name=name, price=price, currency=currency, stock=stock,
                       description=description or "", variant_prices=tuple(variant_prices),
                       delivery=delivery or "", variants=tuple(named_variants))


# The columns of a product a hit carries (ProductFact), read as plain columns: loading ORM objects for a dozen rows
# cost more than PostgreSQL's work on the whole statement.
PRODUCT_COLUMNS = (Product.id, Product.sku, Product.name, Product.price, Product.currency, Product.stock,
                   Product.description, Product.variants, Product.delivery)


def _product_columns():
    return [c.label(f"product_{c.key}") for c in PRODUCT_COLUMNS]


def _product_of_row(row) -> ProductFact | None:
    if row.product_id is None:
        return None
    return _product_fact(row.product_id, row.product_sku, row.product_name, row.product_price, row.product_currency,
                         row.product_stock, row.product_description, row.product_variants, row.product_delivery)
