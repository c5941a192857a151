"""The product catalog: CSV import (UTF-8 or cp1251, comma or semicolon, Russian or English headers), listing,
and the product chunks retrieval searches.

A bad row never stops an import: it is reported with its line number and reason, good rows are kept, and a
re-import updates products by SKU instead of duplicating them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..ai.indexing import Indexer
from ..ai.textutil import AMOUNT, parse_amount
from ..errors import UserError
from ..i18n import t
from ..models import Product

# Every text of this area a person reads (CLI output, Mini App import report).

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "артикул", "код товара", "код", "article", "арт"),
    "name": ("наименование", "название", "name", "товар", "title", "product"),
    "price": ("цена", "price", "стоимость", "cost"),
    "stock": ("остаток", "наличие", "stock", "количество", "кол-во", "qty", "quantity", "в наличии"),
    "description": ("описание", "description", "desc"),
    "currency": ("валюта", "currency"),
    "delivery": ("доставка", "delivery"),
    "variants": ("варианты", "variants"),
}
REQUIRED = ("sku", "name", "price")

_IN_STOCK_WORDS = {"да", "есть", "в наличии", "yes", "in stock", "много"}
_OUT_OF_STOCK_WORDS = {"нет", "no", "нет в наличии", "out of stock", "под заказ"}


class RowProblem(ValueError):
    """What is wrong with one row: `code` names the text (`catalog.problem.*`), the message is it in Russian."""

    def __init__(self, code: str, **params):
        super().__init__(t(code, **params))
        self.code = code
        self.params = params


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str  # in Russian, the default language (JSON output, logs)
    code: str | None = None  # the text's key, so a reader gets it in their language (None: a CSV parser message)
    params: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return t("catalog.problem.row", line=self.line, reason=self.reason)

    def text(self, locale: str | None = None) -> str:
        return t(self.code, locale, **self.params) if self.code else self.reason


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
                "ignored_columns": self.ignored_columns, "encoding": self.encoding, "delimiter": self.delimiter}


@dataclass(frozen=True)
class ParsedProduct:
    line: int
    sku: str
    name: str
    price: Decimal
    stock: int | None
    description: str
    currency: str | None
    delivery: str | None
    variants: list[dict]


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first: valid UTF-8 Cyrillic is never valid-looking cp1251 by accident."""
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UserError("the file is neither UTF-8 nor cp1251", code="catalog.error.bad_encoding")


def detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ";"))


def _normalize_header(raw: str) -> str:
    text_ = raw.strip().strip("\ufeff").lower().replace("ё", "е")
    text_ = re.sub(r"\(.*?\)", "", text_)  # «Цена (руб.)»
    text_ = text_.split(",")[0]  # «Цена, руб»
    return " ".join(text_.strip(" .:*").split())


def map_headers(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    mapping: dict[str, int] = {}
    ignored: list[str] = []
    for index, raw in enumerate(headers):
        norm = _normalize_header(raw)
        field_ = next((f for f, aliases in HEADER_ALIASES.items() if f not in mapping and norm in aliases), None)
        if field_ is None:
            field_ = next((f for f, aliases in HEADER_ALIASES.items()
                           if f not in mapping and any(norm.startswith(a + " ") for a in aliases)), None)
        if field_ is None:
            if raw.strip():
                ignored.append(raw.strip())
            continue
        mapping[field_] = index
    return mapping, ignored


def parse_stock(raw: str) -> int | None:
    value = raw.strip().lower()
    if not value or value in _IN_STOCK_WORDS:
        return None  # present but not counted
    if value in _OUT_OF_STOCK_WORDS:
        return 0
    if re.fullmatch(r"[-−]\s*\d+.*", value):
        raise RowProblem("catalog.problem.stock_negative")
    amount = parse_amount(value)
    if amount is None or not re.fullmatch(r"[\d\s\u00a0.,]+(шт\.?|pcs)?", value):
        raise RowProblem("catalog.problem.stock_bad", value=raw.strip())
    return int(amount)


def parse_price(raw: str) -> Decimal:
    value = raw.strip()
    if not value:
        raise RowProblem("catalog.problem.price_missing")
    if value.startswith("-"):
        raise RowProblem("catalog.problem.price_negative")
    cleaned = re.sub(r"(₽|руб\.?|р\.|rub|usd|\$|€|eur)", "", value, flags=re.IGNORECASE).strip()
    amount = parse_amount(cleaned)
    if amount is None or not re.fullmatch(AMOUNT, cleaned):
        raise RowProblem("catalog.problem.price_bad", value=value)
    return amount


def _variants(raw: str) -> list[dict]:
    raw = raw.strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            parsed = json.loads(raw)
            return [v if isinstance(v, dict) else {"name": str(v)} for v in parsed]
        except json.JSONDecodeError:
            pass
    return [{"name": part.strip()} for part in re.split(r"[|/]", raw) if part.strip()]


def parse_csv(data: bytes) -> tuple[list[ParsedProduct], ImportReport]:
    text_, encoding = decode(data)
    lines = text_.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise UserError("the file has no product rows", code="catalog.error.no_rows")
    delimiter = detect_delimiter(first)
    report = ImportReport(encoding=encoding, delimiter=delimiter)
    reader = csv.reader(io.StringIO(text_, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    mapping: dict[str, int] = {}
    parsed: list[ParsedProduct] = []
    seen: dict[str, int] = {}
    line_no = 0
    while True:
        start_line = reader.line_num + 1  # a quoted field may span lines: report where the row starts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append(RowError(start_line, str(exc)))
            continue
        line_no = start_line
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = row
            mapping, report.ignored_columns = map_headers(row)
            missing = [f for f in REQUIRED if f not in mapping]
            if missing:
                raise UserError(f"required columns not found: {', '.join(missing)} (headers: артикул/sku, "
                                "наименование/name, цена/price)", code="catalog.error.no_header",
                                missing=", ".join(missing))
            continue

        def cell(name: str) -> str:
            index = mapping.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        try:
            if len(row) < max(mapping.values()) + 1:
                raise RowProblem("catalog.problem.columns", count=len(row), expected=len(header))
            sku = cell("sku")
            if not sku:
                raise RowProblem("catalog.problem.sku_missing")
            if len(sku) > 64:
                raise RowProblem("catalog.problem.sku_too_long")
            name = cell("name")
            if not name:
                raise RowProblem("catalog.problem.name_missing")
            price = parse_price(cell("price"))
            stock = parse_stock(cell("stock")) if "stock" in mapping else None
            currency = cell("currency").upper() or None
            if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
                currency = {"РУБ": "RUB", "Р": "RUB", "₽": "RUB", "$": "USD", "€": "EUR"}.get(currency)
                if currency is None:
                    raise RowProblem("catalog.problem.currency_bad", value=cell("currency"))
            if sku in seen:
                raise RowProblem("catalog.problem.duplicate", sku=sku, line=seen[sku])
        except ValueError as exc:  # a RowProblem, or whatever a parser of a cell refused
            report.errors.append(RowError(line_no, str(exc), getattr(exc, "code", None), getattr(exc, "params", {})))
            continue
        seen[sku] = line_no
        parsed.append(ParsedProduct(
            line=line_no, sku=sku, name=name[:255], price=price, stock=stock, description=cell("description"),
            currency=currency, delivery=cell("delivery") or None, variants=_variants(cell("variants")),
        ))
    if header is None:
        raise UserError("the file has no product rows", code="catalog.error.no_rows")
    return parsed, report


async def import_products_csv(session: AsyncSession, tenant_id: int, data: bytes, *, indexer: Indexer,
                              default_currency: str = "RUB") -> ImportReport:
    """Parse, upsert by SKU, and re-index the products that changed. Returns what happened, bad rows included."""
    rows, report = parse_csv(data)
    changed: list[int] = []
    for row in rows:
        values = dict(name=row.name, price=row.price, stock=row.stock, description=row.description,
                      currency=row.currency or default_currency, delivery=row.delivery, variants=row.variants,
                      is_active=True)
        existing = (await session.execute(
            select(Product).where(Product.tenant_id == tenant_id, Product.sku == row.sku)
        )).scalar_one_or_none()
        if existing is not None and all(getattr(existing, k) == v for k, v in values.items()):
            report.unchanged += 1
            continue
        statement = (
            insert(Product).values(tenant_id=tenant_id, sku=row.sku, **values)
            .on_conflict_do_update(index_elements=["tenant_id", "sku"], set_={**values, "updated_at": func.now()})
            .returning(Product.id, literal_column("xmax = 0").label("inserted"))
        )
        product_id, inserted = (await session.execute(statement)).one()
        if inserted:
            report.created += 1
        else:
            report.updated += 1
        changed.append(product_id)
    await indexer.index_products(session, tenant_id, changed)
    return report


async def list_products(session: AsyncSession, tenant_id: int, *, active_only: bool = True) -> list[Product]:
    query = select(Product).where(Product.tenant_id == tenant_id).order_by(Product.sku)
    if active_only:
        query = query.where(Product.is_active)
    return list((await session.execute(query)).scalars())


def product_row(p: Product) -> dict:
    return {"sku": p.sku, "name": p.name, "price": str(p.price), "currency": p.currency, "stock": p.stock,
            "description": p.description, "delivery": p.delivery, "variants": p.variants, "active": p.is_active}
