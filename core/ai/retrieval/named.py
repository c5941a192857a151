"""The products a text (a drafted reply) names: product chunks holding two of its words side by side, tiered by how
much the pair singles a product out — in the database over the tenant's catalog, or in Python among the products
a search already retrieved."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import bindparam, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import DocType, KnowledgeChunk, Product
from ..textutil import content_words
from .connection import index_scans_only
from .hits import Hit, product_fact
from .lexemes import local_lexeme_positions
from .name_lookup import _name_lookup_stems, product_name_hits
from .query import MAX_QUERY_WORDS, common_lexemes


# Lexemes next to which a number is a price, a count or a unit, never a model number: pairs with them are not names.
FIGURE_LEXEMES = frozenset({"цен", "сто", "стоимост", "руб", "рубл", "р", "шт", "штук", "налич", "скидк", "процент",
                            "rub", "usd", "eur", "гб", "тб", "мп", "вт", "дюйм", "мм", "см", "кг", "л", "мач",
                            "дн", "ден", "месяц", "год", "лет", "час", "минут", "недел"})
NAMED_CANDIDATES = 300


def _name_pairs(rows: list[tuple[str, int]], common: frozenset[str]) -> dict[str, list[tuple[str, str]]]:
    """Adjacent lexeme pairs of a text, by how much they single a product out: "model" (a word and a model number:
    «galaxy <-> 42»), "word" (a rare word: «sennheis <-> momentum»), "generic" (two common words: «смартфон <->
    samsung»). Pairs that could be a price, a count or a unit («45 <-> 990», «сто <-> 45», «4 <-> шт») are never
    used: a product must not be found by the very figure under test."""
    at = {pos: lexeme for lexeme, pos in rows}
    kinds: dict[str, list[tuple[str, str]]] = {"model": [], "word": [], "generic": []}
    for pos in sorted(at):
        if pos + 1 not in at:
            continue
        a, b = at[pos], at[pos + 1]
        if a.isdigit() and b.isdigit() or a in FIGURE_LEXEMES or b in FIGURE_LEXEMES:
            continue
        # A model number is a token mixing letters and digits («1000xm5», «g30p»), or a number after a rare word
        # («galaxy <-> 42»); a number after a common word («гарантия <-> 12») is anyone's.
        mixed = any(any(ch.isdigit() for ch in t) and any(ch.isalpha() for ch in t) for t in (a, b))
        number_after_rare = (a.isdigit() and b not in common) or (b.isdigit() and a not in common)
        if mixed or number_after_rare:
            kind = "model"
        elif a not in common and not a.isdigit() or b not in common and not b.isdigit():
            kind = "word"
        else:
            kind = "generic"
        kinds[kind].append((a, b))
    return {k: list(dict.fromkeys(v))[:MAX_QUERY_WORDS] for k, v in kinds.items()}


async def _phrase_hits(session: AsyncSession, tenant_id: int, pairs: list[tuple[str, str]], limit: int,
                       candidates: int | None) -> list[Hit]:
    quoted = " | ".join(f"'{a.replace(chr(39), chr(39) * 2)}' <-> '{b.replace(chr(39), chr(39) * 2)}'"
                        for a, b in pairs)
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("pairs", quoted))
    matching = (
        select(KnowledgeChunk.id, KnowledgeChunk.tsv)
        .where(KnowledgeChunk.tenant_id == tenant_id, KnowledgeChunk.doc_type == DocType.PRODUCT,
               KnowledgeChunk.tsv.op("@@")(tsquery))
    )
    if candidates is not None:
        matching = matching.limit(candidates)
    matching = matching.subquery("matching")
    rank = func.ts_rank_cd(matching.c.tsv, tsquery)
    best = select(matching.c.id, rank.label("rank")).order_by(rank.desc(), matching.c.id).limit(limit).subquery()
    rows = (await session.execute(
        select(KnowledgeChunk.id, KnowledgeChunk.text, KnowledgeChunk.doc_type, KnowledgeChunk.meta, Product)
        .join(best, best.c.id == KnowledgeChunk.id)
        .join(Product, Product.id == KnowledgeChunk.product_id)
        .order_by(best.c.rank.desc(), KnowledgeChunk.id)
    )).all()
    return [Hit(chunk_id=r.id, text=r.text, doc_type=r.doc_type.value, score=0.0, title=r.Product.name,
                product=product_fact(r.Product), meta=r.meta or {}) for r in rows]


async def products_named_in_text(session: AsyncSession, tenant_id: int, text_: str, *, limit: int = 8) -> list[Hit]:
    """Products a text (a drafted reply) names: product chunks containing two of its words side by side — names
    are runs of words («sony <-> wh», «galaxy <-> 42»); pairs of two common words only if nothing else names a
    product, since in a big catalog «смартфон <-> samsung» matches thousands. Last, the lookup by a word inside
    a name (compounds: «электросамокат»)."""
    rows = local_lexeme_positions(text_)
    if rows is None:  # what the local reader leaves to the database
        rows = [(r[0], r[1]) for r in (await session.execute(
            text("SELECT t.lexeme, p.pos FROM unnest(to_tsvector('russian', :q)) AS t, unnest(t.positions) AS p(pos) "
                 "ORDER BY p.pos"),
            {"q": text_},
        )).all()]
    pairs = _name_pairs(rows, await common_lexemes(session))
    hits: list[Hit] = []
    async with index_scans_only(session):
        # Model numbers are selective enough to rank every match; word pairs may match a whole product line, so
        # only a bounded number of their matches is ranked.
        if pairs["model"]:
            hits = await _phrase_hits(session, tenant_id, pairs["model"], limit, None)
        if pairs["word"]:
            seen = {h.chunk_id for h in hits}
            hits += [h for h in await _phrase_hits(session, tenant_id, pairs["word"], limit, NAMED_CANDIDATES)
                     if h.chunk_id not in seen]
        if not hits and pairs["generic"]:
            hits = await _phrase_hits(session, tenant_id, pairs["generic"], limit, NAMED_CANDIDATES)
        if not hits:  # no two words side by side name a product: maybe a compound word does («электросамокат»)
            words_only = " ".join(w for w in content_words(text_) if not w.isdigit())
            hits = await product_name_hits(session, tenant_id, words_only, limit=limit)
    return hits


def _adjacent(rows: list[tuple[str, int]]) -> frozenset[tuple[str, str]]:
    at = {pos: lexeme for lexeme, pos in rows}
    return frozenset((at[pos], at[pos + 1]) for pos in at if pos + 1 in at)


@lru_cache(maxsize=4096)
def _adjacent_lexeme_pairs(text_: str) -> frozenset[tuple[str, str]] | None:
    """Every pair of lexemes at adjacent positions of to_tsvector('russian', text_) — what `'a' <-> 'b'` matches —
    or None when the local reader leaves the text to the database."""
    rows = local_lexeme_positions(text_)
    return None if rows is None else _adjacent(rows)


async def products_named_among(session: AsyncSession, text_: str, hits: list[Hit], *,
                               limit: int = 8) -> list[Hit] | None:
    """products_named_in_text restricted to products already retrieved, read in Python: the same tiers (a model
    number pair, a rare word pair, two common words only if nothing else, then a word inside a name) tested against
    the retrieved product chunks' own lexemes. A chunk the local reader leaves to the database («8/256 ГБ») has its
    stored lexemes read, all such chunks in one statement. None when the text itself needs the database's reading."""
    rows = local_lexeme_positions(text_)
    if rows is None:
        return None
    candidates: dict[int, Hit] = {}
    for hit in hits:
        if hit.product is not None and hit.doc_type == DocType.PRODUCT.value:
            candidates.setdefault(hit.product.id, hit)
    if not candidates:
        return []
    chunk_pairs = {product_id: _adjacent_lexeme_pairs(hit.text) for product_id, hit in candidates.items()}
    unread = {hit.chunk_id: product_id for product_id, hit in candidates.items() if chunk_pairs[product_id] is None}
    if unread:
        stored: dict[int, list[tuple[str, int]]] = {chunk_id: [] for chunk_id in unread}
        for chunk_id, lexeme, pos in (await session.execute(text(
            "SELECT c.id, t.lexeme, p.pos FROM knowledge_chunks c, unnest(c.tsv) AS t, unnest(t.positions) AS p(pos) "
            "WHERE c.id = ANY(:ids)"), {"ids": list(unread)})).all():
            stored[chunk_id].append((lexeme, pos))
        for chunk_id, product_id in unread.items():
            chunk_pairs[product_id] = _adjacent(stored[chunk_id])
    pairs = _name_pairs(rows, await common_lexemes(session))

    def having(wanted: list[tuple[str, str]]) -> list[Hit]:
        wanted_ = set(wanted)
        return [hit for product_id, hit in candidates.items() if wanted_ & chunk_pairs[product_id]]

    named = having(pairs["model"]) if pairs["model"] else []
    if pairs["word"]:
        named += [h for h in having(pairs["word"]) if h not in named]
    if not named and pairs["generic"]:
        named = having(pairs["generic"])
    if not named:  # a word inside a name (compounds: «электросамокат»), as product_name_hits' ILIKE finds it
        stems_ = _name_lookup_stems(" ".join(w for w in content_words(text_) if not w.isdigit()))
        scored = [(sum(s in hit.product.name.lower() for s in stems_), hit) for hit in candidates.values()]
        named = [hit for score, hit in sorted(scored, key=lambda x: (-x[0], x[1].product.id)) if score]
    return named[:limit]
