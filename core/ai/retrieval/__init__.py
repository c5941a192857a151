"""Hybrid retrieval over the tenant's knowledge chunks: pgvector cosine (HNSW) and Postgres full text (russian
configuration), fused by reciprocal rank in one SQL statement, optionally filtered by document type.

The vector leg only looks at chunks embedded by the current embedder (vectors of another model are not comparable);
stale chunks are still found by full text until `reembed_stale` catches up.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Float, String, bindparam, case, func, literal, literal_column, or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import DocType, KnowledgeChunk, KnowledgeDocument, Product
from .textutil import colloquial, content_words, expanded_stems, sound_key, stem, translit, words

RRF_K = 60  # the usual constant of reciprocal rank fusion: dampens the weight of the very top ranks
CANDIDATES = 40  # per leg, before fusion
MAX_QUERY_WORDS = 24
HNSW_EF_SEARCH = 80
NAME_LOOKUP_CANDIDATES = 500


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


# A lexeme in more than this share of all chunks ("цена", "наличии" in a big catalog) says little about which
# chunk answers, yet makes the full-text leg rank most of the table: it is left out of the OR query.
COMMON_LEXEME_SHARE = 0.05
COMMON_LEXEMES_TTL = 300.0
_common_lexemes: dict[str, tuple[float, frozenset[str]]] = {}


async def common_lexemes(session: AsyncSession) -> frozenset[str]:
    """Lexemes of knowledge_chunks.tsv above COMMON_LEXEME_SHARE, from the planner's statistics (ANALYZE keeps
    most_common_elems for tsvector columns). Cached per database for a few minutes; empty on a small table."""
    key = str(session.bind.url)
    cached = _common_lexemes.get(key)
    if cached and time.monotonic() - cached[0] < COMMON_LEXEMES_TTL:
        return cached[1]
    rows = await session.execute(text(
        "SELECT e.lexeme FROM pg_stats s, "
        "unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS e(lexeme, freq) "
        "WHERE s.schemaname = current_schema() AND s.tablename = 'knowledge_chunks' AND s.attname = 'tsv' "
        "AND e.lexeme IS NOT NULL AND e.freq > :share"
    ), {"share": COMMON_LEXEME_SHARE})
    lexemes = frozenset(r[0] for r in rows)
    _common_lexemes[key] = (time.monotonic(), lexemes)
    return lexemes


# The words a knowledge page on a topic is sure to use, added to the full-text side of a question about it: «Как
# быстро привезёте в Питер?» shares no word with «Доставка … срок 2–7 дней», «Чайник не включается» none with
# «Товар с браком». The vector side sees the question as it is.
TOPIC_WORDS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"привез|привоз|достав|курьер|ехать|идет\s+посылк|посылк|отправ|придет|приедет|самовывоз|забрать|"
                r"как\s+быстро|как\s+скоро|сколько\s+дней|deliver|shipping", re.IGNORECASE), "доставка срок"),
    (re.compile(r"гарант|warrant", re.IGNORECASE), "гарантия"),
    (re.compile(r"царапин|скол[аыо]?\b|трещин|поврежд|брак|неисправ|не\s+работает|не\s+включа|сломал|разбит|вмятин|"
                r"дефект|помят|damaged|broken|defect", re.IGNORECASE), "брак неисправный дефект возврат"),
    (re.compile(r"вернуть|возврат|обмен|не\s+подош|не\s+понрав|return|refund|exchange", re.IGNORECASE), "возврат"),
    (re.compile(r"оплат|оплач|карт[аоуы]|наличн|сбп|рассрочк|кредит|сч[её]т|долями|сплит|pay", re.IGNORECASE), "оплата"),
    (re.compile(r"скидк|скидоч|промокод|акци|дешевле|уступ|discount", re.IGNORECASE), "скидка"),
    (re.compile(r"налич|есть\s+ли|остал|под\s+заказ|когда\s+будет|появится", re.IGNORECASE), "заказ привозим склад"),
]


def with_topic_words(query: str) -> str:
    extra = [words_ for pattern, words_ in TOPIC_WORDS if pattern.search(query)]
    return f"{query} {' '.join(extra)}" if extra else query


# ------------------------------------------------------------------------------------------ local lexemes

# PostgreSQL's `russian` text search configuration, in Python: the default parser's words, hyphenated words and
# numbers; Cyrillic words through the Snowball russian stemmer, Latin ones through Snowball english (porter2), both
# after their stop-word lists (share/tsearch_data/{russian,english}.stop); numbers and words mixing letters and
# digits as they are (the `simple` dictionary). The question's lexemes are then made without a round trip to the
# database, and are the very lexemes to_tsvector('russian', …) stored for the chunks (tests/ai/test_lexemes.py
# compares the two over the demo shops, the evaluation questions and the benchmark's catalog). A text with what
# this reader does not model (an e-mail, a URL, a file path, a decimal or version number, a signed number) gives
# None and the database reads it.
RUSSIAN_STOP = frozenset(
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня "
    "еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь "
    "там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз "
    "тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы "
    "нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти "
    "нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя "
    "такой им более всегда конечно всю между".split())
ENGLISH_STOP = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is are "
    "was were be been being have has had having do does did doing a an the and but if or because as until while "
    "of at by for with about against between into through during before after above below to from up down in out "
    "on off over under again further then once here there when where why how all any both each few more most "
    "other some such no nor not only own same so than too very s t can will just don should now".split())
# Runs of letters and digits joined by single hyphens; anything else separates. Characters the default parser gives
# a meaning of their own (@ : / . between word characters, a sign before a number) send the text to the database.
_LEX_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_LEX_UNSURE = re.compile(r"[^\W_][@/\\.][^\W_]|[^\W\d_]:[^\W_]|[@~]|://|(?:^|[^\w-])[-+]\d|&[a-z#]|<[a-z/!]",
                         re.IGNORECASE)


@lru_cache(maxsize=1)
def _stemmers():
    import snowballstemmer

    return snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english")


@lru_cache(maxsize=100_000)
def _word_lexeme(word: str) -> str | None:
    """One word of the default parser as the `russian` configuration stores it (None: a stop word)."""
    low = word.lower()
    russian, english = _stemmers()
    has_digit = any(ch.isdigit() for ch in low)
    if has_digit:
        return low  # int, numword: the simple dictionary
    if low.isascii():
        return None if low in ENGLISH_STOP else english.stemWord(low)
    return None if low in RUSSIAN_STOP else russian.stemWord(low)


def local_lexeme_positions(text_: str) -> list[tuple[str, int]] | None:
    """(lexeme, position) as to_tsvector('russian', text_) has them — every token the parser makes counts a position,
    a stop word too; a hyphenated word is the compound, then each part — or None when the text has a construct this
    reader leaves to the database."""
    if _LEX_UNSURE.search(text_):
        return None
    out: list[tuple[str, int]] = []
    position = 0

    def add(lexeme: str | None) -> None:
        nonlocal position
        position += 1
        if lexeme:
            out.append((lexeme, position))

    for match in _LEX_TOKEN.finditer(text_):
        token = match.group(0)
        parts = token.split("-")
        if len(parts) == 2 and parts[1].isdigit() and not parts[0].isdigit():
            add(_word_lexeme(parts[0]))  # «TD-002», «Хаб-2»: a word, then a signed integer (simple)
            add("-" + parts[1])
            continue
        if any(p.isdigit() for p in parts[1:]) or len(parts) > 1 and parts[0].isdigit():
            return None  # «2-7», «A-1-B»: signed numbers inside a run
        if len(parts) == 1:
            add(_word_lexeme(token))
            continue
        low = token.lower()
        russian, english = _stemmers()
        if any(ch.isdigit() for ch in low):
            add(low)  # numhword: simple
        elif low.isascii():
            add(english.stemWord(low))  # asciihword: english_stem
        else:
            add(russian.stemWord(low))  # hword: russian_stem
        for part in parts:
            add(_word_lexeme(part))
    return out


def local_lexemes(text_: str) -> list[str] | None:
    """The lexemes of to_tsvector('russian', text_) in order of appearance (with repeats), or None."""
    positions = local_lexeme_positions(text_)
    return None if positions is None else [lexeme for lexeme, _ in positions]


# Per-tenant filtering of the vector leg. HNSW walks one graph for every tenant and, with the tenant filter, keeps
# walking until enough of the tenant's chunks turned up: about 1 / (the tenant's share of the table) times the work of
# an unfiltered search (a 5,000-chunk shop beside a 100,000-chunk one: 26 ms where the big one takes 2). Reading the
# tenant's own vectors costs about 2 µs a chunk (11 ms for 5,000). So a tenant whose chunks × share of the table is
# below EXACT_VECTOR_WORK is searched exactly; the planner already does so for a tenant of a few hundred chunks, and
# a tenant that is most of the table keeps the index.
EXACT_VECTOR_WORK = 1_000
TENANT_SIZE_TTL = 300.0
_tenant_sizes: dict[tuple[str, int], tuple[float, bool]] = {}


async def exact_vector_search(session: AsyncSession, tenant_id: int) -> bool:
    """Whether the tenant's vector leg reads its own vectors rather than the shared HNSW index. Cached per database
    and tenant for a few minutes (the tenant's chunk count by its index, the table's from the planner's statistics)."""
    key = (str(session.bind.url), tenant_id)
    cached = _tenant_sizes.get(key)
    if cached and time.monotonic() - cached[0] < TENANT_SIZE_TTL:
        return cached[1]
    own, total = (await session.execute(text(
        "SELECT (SELECT count(*) FROM knowledge_chunks WHERE tenant_id = :t), "
        "(SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'knowledge_chunks'::regclass)"
    ), {"t": tenant_id})).one()
    total = max(float(total or 0), float(own), 1.0)
    exact = own * (own / total) < EXACT_VECTOR_WORK and own / total < 0.5
    _tenant_sizes[key] = (time.monotonic(), exact)
    return exact


HNSW_SETTINGS = {"hnsw.iterative_scan": "relaxed_order", "hnsw.ef_search": str(HNSW_EF_SEARCH)}
_HNSW_FLAG = "salesop_hnsw_settings"


async def _hnsw_settings(session: AsyncSession, *, force: bool = False) -> None:
    """pgvector's HNSW settings for this connection, set once per connection (not per transaction: a round trip
    less for every search): iterative index scans keep filling the result when the tenant / embedder filter removes
    candidates, and ef_search is the list size that feeds them. The search reads the setting back with its
    results and sets it again when a rolled-back transaction took it away."""
    connection = await session.connection()
    if connection.info.get(_HNSW_FLAG) and not force:
        return
    await session.execute(text(", ".join(
        f"SELECT set_config('{name}', '{value}', false)" if i == 0 else f"set_config('{name}', '{value}', false)"
        for i, (name, value) in enumerate(HNSW_SETTINGS.items()))))
    connection.info[_HNSW_FLAG] = True


async def query_lexemes(session: AsyncSession, query: str) -> list[str]:
    """The question's russian lexemes, as to_tsvector('russian', …) makes them: read locally (local_lexemes), or by
    the database for a text with what the local reader does not model."""
    cleaned = " ".join(words(query)[:MAX_QUERY_WORDS * 2])
    local = local_lexemes(cleaned)
    if local is not None:
        return list(dict.fromkeys(local))
    row = (await session.execute(text("SELECT tsvector_to_array(to_tsvector('russian', :q))"), {"q": cleaned})).one()
    return list(row[0] or [])


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# The full-text leg ranks (ts_rank_cd reads each row's tsvector from the heap) at most TEXT_POOL matching chunks:
# first those holding three of the question's lexemes, then two, then one — each tier straight from the GIN
# index, stopping once the pool is full. A big catalog where «samsung» alone matches thousands of chunks ranks the
# few hundred that also say «galaxy» and «42»; a small one ranks every match, as an unbounded OR would.
TEXT_POOL = 240
TIER_LEXEMES = 8  # the question's first lexemes (common ones dropped) combined into pairs and triples


def fulltext_tiers(lexemes: list[str]) -> list[str]:
    """tsqueries (for the 'simple' configuration: lexemes are already stemmed) from the strictest tier to the
    loosest: at least three lexemes, at least two, any one (the OR query, also the one ranking uses)."""
    from itertools import combinations

    if not lexemes:
        return []
    head = lexemes[:TIER_LEXEMES]
    tiers = []
    for size in (3, 2):
        if len(head) >= size:
            tiers.append(" | ".join("(" + " & ".join(_quoted(x) for x in combo) + ")"
                                    for combo in combinations(head, size)))
    tiers.append(" | ".join(_quoted(x) for x in lexemes))
    return tiers


async def fulltext_query(session: AsyncSession, lexemes: list[str]) -> str | None:
    """A tsquery that ORs the question's russian lexemes: a customer question rarely contains every word of the
    answer, and ranking (ts_rank_cd) still favours chunks that match more of them. Very common lexemes are dropped
    (see COMMON_LEXEME_SHARE)."""
    kept = await kept_lexemes(session, lexemes)
    return " | ".join(_quoted(lx) for lx in kept) if kept else None


async def kept_lexemes(session: AsyncSession, lexemes: list[str]) -> list[str]:
    if not lexemes:
        return []
    common = await common_lexemes(session)
    return [lx for lx in lexemes if lx not in common][:MAX_QUERY_WORDS]


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


async def statement_connection(session: AsyncSession):
    """The session's connection, for a prebuilt statement run without the ORM's per-execution work, after the flush
    session.execute would have made (autoflush): what this unit of work added is found."""
    await session.flush()
    return await session.connection()


@lru_cache(maxsize=None)
def _hybrid_statement(vector: str | None, tiers: int, doc_types: tuple[DocType, ...] | None,
                      index_scans_after: bool):
    """hybrid_search's statement for one shape, built once: building it anew for every question (two legs, the
    tiers, the fusion) and compiling it cost several times PostgreSQL's own work on it. `vector`: None (full text
    only), "index" (the shared HNSW index) or "exact" (the tenant's own vectors); `tiers`: how many full-text tiers.
    Bind parameters: tenant_id, embedder, query_vector, candidates, limit, tsq0…tsq{tiers-1}."""
    chunk = KnowledgeChunk
    legs = []
    tenant_id = bindparam("tenant_id")
    candidates = bindparam("candidates")

    def scoped(q):
        q = q.where(chunk.tenant_id == tenant_id)
        if doc_types:
            q = q.where(chunk.doc_type.in_(doc_types))
        return q

    if vector is not None:
        query_vector = bindparam("query_vector", type_=chunk.embedding.type)
        embedder = bindparam("embedder", type_=String)
        if vector == "exact":
            # A shop with few chunks among many others': reading its own vectors beats walking the shared HNSW
            # graph past everyone else's (the subquery keeps the planner from ordering by the index).
            own = scoped(select(chunk.id.label("id"), chunk.embedding.label("embedding"))) \
                .where(chunk.embedder == embedder).offset(0).subquery("own")
            distance = own.c.embedding.cosine_distance(query_vector)
            nearest = select(own.c.id.label("id"), distance.label("d")).order_by(distance).limit(candidates) \
                .subquery("nearest")
        else:
            distance = chunk.embedding.cosine_distance(query_vector)
            nearest = (
                scoped(select(chunk.id.label("id"), distance.label("d")))
                .where(chunk.embedder == embedder)
                .order_by(distance)
                .limit(candidates)
                .subquery("nearest")
            )
        legs.append(select(
            nearest.c.id,
            func.row_number().over(order_by=nearest.c.d).label("rank"),
            literal("v", String).label("leg"),
        ))

    if tiers:
        def tsq(i: int):
            return func.to_tsquery(literal_column("'simple'::regconfig"), bindparam(f"tsq{i}", type_=String))

        # Each tier holds the chunks matching its query and none stricter; the pool takes them in order and stops
        # once full (the Append under the LIMIT never runs a tier it does not need).
        parts = []
        for i in range(tiers):
            tier = scoped(select(chunk.id.label("id"), chunk.tsv.label("tsv"))).where(chunk.tsv.op("@@")(tsq(i)))
            if i > 0:
                tier = tier.where(~chunk.tsv.op("@@")(tsq(i - 1)))
            parts.append(tier.limit(TEXT_POOL))
        pool = (union_all(*parts).subquery("tiers") if len(parts) > 1 else parts[0].subquery("tiers"))
        pool = select(pool.c.id, pool.c.tsv).limit(TEXT_POOL).subquery("pool")
        rank = func.ts_rank_cd(pool.c.tsv, tsq(tiers - 1))
        matched = (
            select(pool.c.id.label("id"), rank.label("r"))
            .order_by(rank.desc(), pool.c.id)
            .limit(candidates)
            .subquery("matched")
        )
        legs.append(select(
            matched.c.id,
            func.row_number().over(order_by=(matched.c.r.desc(), matched.c.id)).label("rank"),
            literal("t", String).label("leg"),
        ))

    ranked = union_all(*legs).subquery("ranked") if len(legs) > 1 else legs[0].subquery("ranked")
    fused = (
        select(
            ranked.c.id,
            func.sum(literal(1.0, Float) / (RRF_K + ranked.c.rank)).label("score"),
            func.min(ranked.c.rank).filter(ranked.c.leg == "v").label("vector_rank"),
            func.min(ranked.c.rank).filter(ranked.c.leg == "t").label("text_rank"),
        )
        .group_by(ranked.c.id)
        .order_by(literal_column("score").desc(), ranked.c.id)
        .limit(bindparam("limit"))
        .subquery("fused")
    )
    return (
        select(fused, chunk.text, chunk.doc_type, chunk.document_id, chunk.meta, KnowledgeDocument.title,
               *_product_columns(),
               literal_column("current_setting('hnsw.iterative_scan', true)").label("iterative_scan"),
               # Evaluated while this statement runs, after it was planned: only the statements after it see it.
               *([literal_column("set_config('enable_seqscan', 'off', true)").label("seqscan")]
                 if index_scans_after else []))
        .join(chunk, chunk.id == fused.c.id)
        .outerjoin(KnowledgeDocument, KnowledgeDocument.id == chunk.document_id)
        .outerjoin(Product, Product.id == chunk.product_id)
        .order_by(fused.c.score.desc(), fused.c.id)
    )


async def hybrid_search(
    session: AsyncSession,
    tenant_id: int,
    query: str,
    query_vector: list[float] | None,
    *,
    embedder_name: str | None,
    limit: int = 8,
    doc_types: list[DocType] | None = None,
    candidates: int = CANDIDATES,
    index_scans_after: bool = False,
) -> list[Hit]:
    """Top `limit` chunks for `query`. `query_vector=None` (embedding unavailable) searches full text only.
    `index_scans_after`: the statement also switches sequential scans off for the rest of the transaction, as
    index_scans_only does, for the lookups that follow it (product_name_hits) — a round trip less."""
    use_vector = query_vector is not None and bool(embedder_name)
    vector = None
    params: dict = {"tenant_id": tenant_id, "candidates": candidates, "limit": limit}
    if use_vector:
        await _hnsw_settings(session)
        vector = "exact" if await exact_vector_search(session, tenant_id) else "index"
        params.update(query_vector=query_vector, embedder=embedder_name)
    tiers = fulltext_tiers(await kept_lexemes(session, await query_lexemes(session, with_topic_words(query))))
    params.update({f"tsq{i}": tier for i, tier in enumerate(tiers)})
    if vector is None and not tiers:
        return []
    statement = _hybrid_statement(vector, len(tiers), tuple(doc_types) if doc_types else None, index_scans_after)
    connection = await statement_connection(session)
    rows = (await connection.execute(statement, params)).all()
    if use_vector and rows and rows[0].iterative_scan != HNSW_SETTINGS["hnsw.iterative_scan"]:
        # The connection lost its settings (the transaction that set them was rolled back): set them, search again.
        await _hnsw_settings(session, force=True)
        rows = (await connection.execute(statement, params)).all()
    if index_scans_after and rows:  # set_config ran once per row: not at all when nothing was found
        session.info["index_scans_only"] = session.get_transaction()
    hits = []
    for row in rows:
        product = _product_of_row(row)
        hits.append(Hit(
            chunk_id=row.id, text=row.text, doc_type=row.doc_type.value, score=float(row.score),
            title=row.title or (product.name if product else ""), document_id=row.document_id, product=product,
            vector_rank=row.vector_rank, text_rank=row.text_rank, meta=row.meta or {},
        ))
    return hits


@asynccontextmanager
async def index_scans_only(session: AsyncSession) -> AsyncIterator[None]:
    """For lookups the planner misjudges: it estimates an OR of phrases or of ILIKE patterns as matching much of
    the table and picks a sequential scan that tests every row (hundreds of ms at 100k rows), where the GIN
    indexes answer in a few. Sequential scans are off from the first such lookup to the end of the transaction
    (set_config's is_local): switching them on again cost a round trip per lookup, and what a unit of work runs
    after these lookups are key lookups and inserts, which use their indexes either way."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get("index_scans_only") is not transaction:
        await session.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
        session.info["index_scans_only"] = session.get_transaction()
    yield


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


# ------------------------------------------------------------------------------------------ product matching

def _name_words(name: str) -> dict[str, str]:
    """stem → word for each word of a product name."""
    return {stem(w): w for w in words(name) if len(w) >= 2}


def _stems_meet(q: str, n: str, word: str) -> bool:
    """Prefix match on stems («наушники»/«наушников»), a long stem inside a compound word («самокат» in
    «электросамокат»), and a brand written in the other alphabet («делонги» / «DeLonghi», «филипс» / «Philips»)."""
    if q == n:
        return True
    if len(q) >= 4 and n.startswith(q) or len(n) >= 4 and q.startswith(n):
        return True
    if len(q) >= 5 and q in word or len(n) >= 5 and n in q:  # «самокат» in «электросамокат» and back
        return True
    if q[:1].isalpha() and n[:1].isalpha() and _is_cyrillic_word(q) != _is_cyrillic_word(n):
        kq, kn = sound_key(q), sound_key(n)
        return kq == kn or min(len(kq), len(kn)) >= 5 and (kq.startswith(kn) or kn.startswith(kq))
    return False


def _is_cyrillic_word(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def _with_colloquial(query_stems: set[str]) -> set[str]:
    """The question's stems and those of the catalog words its colloquial words stand for («айфон» → iphone)."""
    out = set(query_stems)
    for q in query_stems:
        out.update(stem(alias) for alias in colloquial(q))
    return out


def name_match(query_stems: set[str], name: str) -> tuple[float, float]:
    """(matched, overlap): how many of the product name's words the query names — a number counts half and never
    alone ("15" names no product by itself) — and that as a share of the name."""
    name_words = _name_words(name)
    if not name_words:
        return 0.0, 0.0
    query_stems = _with_colloquial(query_stems)
    words_hit = numbers_hit = 0
    for n, word in name_words.items():
        if any(_stems_meet(q, n, word) for q in query_stems):
            if n.isdigit():
                numbers_hit += 1
            else:
                words_hit += 1
    if not words_hit:
        return 0.0, 0.0
    matched = words_hit + 0.5 * numbers_hit
    return matched, min(1.0, matched / len(name_words))


def name_overlap(query_stems: set[str], name: str) -> float:
    return name_match(query_stems, name)[1]


@dataclass(frozen=True)
class ProductMatch:
    product: ProductFact
    score: float
    matched: float  # name words the question names (numbers count half)
    name_overlap: float


def rank_products(query: str, hits: list[Hit]) -> list[ProductMatch]:
    """Products among the hits, best first: how many of its name's words the question names, then retrieval."""
    query_stems = expanded_stems(" ".join(content_words(query)))
    best: dict[int, ProductMatch] = {}
    top = max((h.score for h in hits), default=1.0) or 1.0
    for hit in hits:
        if hit.product is None:
            continue
        matched, overlap = name_match(query_stems, hit.product.name)
        score = matched + overlap + hit.score / top
        if hit.product.id not in best or best[hit.product.id].score < score:
            best[hit.product.id] = ProductMatch(hit.product, score, matched, overlap)
    return sorted(best.values(), key=lambda m: (-m.score, m.product.id))


# ------------------------------------------------------------------------------------------ sources used

SOURCE_SENTENCE_SHARE = 0.6  # of a knowledge sentence's words the reply must repeat for the sentence to count as used


def _chunk_heading(text_: str, title: str) -> str:
    """«Доставка — По России» for a chunk «Доставка — По России: …», the question of a Q&A chunk, else the title."""
    if text_.startswith("Вопрос:") and "Ответ:" in text_:
        return text_.split("Ответ:", 1)[0].removeprefix("Вопрос:").strip()
    head, sep, _ = text_.partition(": ")
    if sep and len(head) <= 160 and "\n" not in head and not any(ch in head for ch in ".!?"):
        return head
    return title


def _chunk_used(reply_stems: set[str], chunk_text: str) -> bool:
    body = chunk_text.split(": ", 1)[1] if ": " in chunk_text[:160] else chunk_text
    if body.startswith("Вопрос:") or "Ответ:" in body:
        body = body.split("Ответ:", 1)[-1]
    for sentence in re.split(r"(?<=[.!?…])\s+|\n+", body):
        sentence_stems = {stem(w) for w in content_words(sentence) if len(w) >= 3 or w.isdigit()}
        if len(sentence_stems) >= 3 and \
                len(sentence_stems & reply_stems) >= SOURCE_SENTENCE_SHARE * len(sentence_stems):
            return True
    return False


def used_sources(reply: str, sources: list[dict], chunk_texts: dict[int, str] | None = None) -> list[dict]:
    """The sources a reply actually used, each once, in the order retrieval ranked them: products the reply names
    (by SKU or most of the name's words) as {"kind": "product", "sku", "name", "label": "Name (SKU)"}, and
    knowledge chunks one of whose sentences the reply repeats as {"kind": "document", "title", "label": "Title —
    Heading"}. `sources` are Hit.as_source() dicts (what a suggestion stores); `chunk_texts` the chunks' texts by id."""
    chunk_texts = chunk_texts or {}
    low = reply.lower()
    reply_stems = {stem(w) for w in words(reply)}
    out: list[dict] = []
    seen: set[str] = set()
    for source in sources:
        product = source.get("product") if source.get("kind") == "chunk" else (
            source if source.get("kind") == "product" else None)
        if product:
            sku, name = str(product.get("sku") or ""), str(product.get("name") or "")
            named = (sku and sku.lower() in low) or (name and name.lower() in low) or \
                name_match(reply_stems, name)[1] >= 0.75
            label = f"{name} ({sku})" if sku else name
            if named and label not in seen:
                seen.add(label)
                out.append({"kind": "product", "sku": sku, "name": name, "label": label})
            continue
        chunk_id = source.get("chunk_id")
        text_ = chunk_texts.get(chunk_id, "") if chunk_id is not None else ""
        if not text_ or not _chunk_used(reply_stems, text_):
            continue
        title = source.get("title") or ""
        heading = _chunk_heading(text_, title)
        label = heading if heading.startswith(title) or not title else f"{title} — {heading}"
        if label not in seen:
            seen.add(label)
            out.append({"kind": "document", "title": title, "chunk_id": chunk_id, "label": label})
    return out


async def chunk_texts(session: AsyncSession, chunk_ids: list[int]) -> dict[int, str]:
    if not chunk_ids:
        return {}
    rows = await session.execute(select(KnowledgeChunk.id, KnowledgeChunk.text).where(KnowledgeChunk.id.in_(chunk_ids)))
    return {r[0]: r[1] for r in rows}


CARD_SOURCES = 5


async def card_sources(session: AsyncSession, reply: str, sources: list[dict]) -> list[str]:
    """What a suggestion card lists as its sources: the ones the reply used, each once — «Доставка — По России»,
    «Кофемашина DeLonghi Magnifica S (TD-001)»."""
    ids = [s["chunk_id"] for s in sources if s.get("chunk_id") is not None and not s.get("product")]
    used = used_sources(reply or "", sources, await chunk_texts(session, ids))
    return [s["label"] for s in used][:CARD_SOURCES]
