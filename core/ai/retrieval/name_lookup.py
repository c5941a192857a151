"""Products whose name holds a word of the question: an ILIKE lookup on the trigram index of product names that
catches what full text and hashed vectors miss (compounds, brand spellings, colloquial names), its statement built
once per number of stems."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import String, bindparam, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import KnowledgeChunk, Product
from ..textutil import colloquial, content_words, stem, translit
from .connection import index_scans_only, statement_connection
from .hits import Hit, _product_columns, _product_of_row
from .product_match import _is_cyrillic_word

NAME_LOOKUP_CANDIDATES = 500


@lru_cache(maxsize=None)
def _name_lookup(count: int):
    """product_name_hits' statement for `count` stems, built once: building the OR and the sum of CASEs anew for
    every question cost more than PostgreSQL's own work on it (~2 of ~9 ms). The stems are bind parameters
    name0…name{count-1}, with tenant_id and limit."""
    patterns = [bindparam(f"name{i}", type_=String) for i in range(count)]
    # A word every tenth product carries ("смартфон") would make this score the whole catalog; the other legs
    # cover such words, so only the first NAME_LOOKUP_CANDIDATES matches are scored.
    candidates = (
        select(Product.id, func.lower(Product.name).label("lowered"))
        # The tenant as an expression, not the bare column: the planner otherwise walks the tenant's (tenant_id,
        # sku) index testing every name against the patterns until 500 match — 3,300 rows and 16 ms for
        # «смартфон samsung galaxy», the whole catalog for a rare word — where the trigram index's bitmap is bounded.
        .where(Product.tenant_id + 0 == bindparam("tenant_id"), Product.is_active,
               or_(*(Product.name.ilike(p) for p in patterns)))
        .limit(NAME_LOOKUP_CANDIDATES)
        .subquery("candidates")
    )
    # Scored on the name lowered once per candidate, with LIKE (the patterns are lower case): ILIKE lowers the
    # name again for every pattern, which cost ~5 of ~8 ms over 500 candidates and six stems.
    matched = sum((case((candidates.c.lowered.like(p), 1), else_=0) for p in patterns), literal(0))
    best = (
        select(candidates.c.id, matched.label("matched"))
        .order_by(matched.desc(), candidates.c.id)
        .limit(bindparam("limit"))
        .subquery("best")
    )
    return (
        select(KnowledgeChunk.id, KnowledgeChunk.text, KnowledgeChunk.doc_type, KnowledgeChunk.meta,
               *_product_columns())
        .join(best, best.c.id == KnowledgeChunk.product_id)
        .join(Product, Product.id == best.c.id)
        .where(KnowledgeChunk.tenant_id == bindparam("tenant_id"))
        .order_by(best.c.matched.desc(), Product.id)
    )


def _name_lookup_stems(question: str) -> list[str]:
    """The stems product_name_hits looks for inside product names: content words, their colloquial aliases and
    transliterations, longest first."""
    said = [w for w in content_words(question) if not w.isdigit()]
    said += [alias for w in said for alias in colloquial(w)]  # «айфон» finds «iPhone»
    said += [translit(w) for w in said if len(w) >= 5 and _is_cyrillic_word(w)]  # «гармин» finds «Garmin»
    return sorted({s for s in (stem(w) for w in said) if len(s) >= 4 or s.isascii() and len(s) >= 2
                   and s in {a for w in said for a in colloquial(w)}}, key=len, reverse=True)[:8]


async def product_name_hits(session: AsyncSession, tenant_id: int, question: str, *, limit: int = 6) -> list[Hit]:
    """Products whose name contains a content word of the question (its stem), most words first: a lexical lookup
    that catches what full text and hashed vectors miss — compounds («самокат» in «Электросамокат») and brand
    spellings. ILIKE on the trigram index of product names."""
    stems_ = _name_lookup_stems(question)
    if not stems_:
        return []
    params = {"tenant_id": tenant_id, "limit": limit,
              **{f"name{i}": f"%{s.lower()}%" for i, s in enumerate(stems_)}}
    async with index_scans_only(session):
        rows = (await (await statement_connection(session)).execute(_name_lookup(len(stems_)), params)).all()
    hits = []
    for r in rows:
        product = _product_of_row(r)
        hits.append(Hit(chunk_id=r.id, text=r.text, doc_type=r.doc_type.value, score=0.0, title=product.name,
                        product=product, meta=r.meta or {}))
    return hits
