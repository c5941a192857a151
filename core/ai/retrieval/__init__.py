"""Hybrid retrieval over the tenant's knowledge chunks: pgvector cosine (HNSW) and Postgres full text (russian
configuration), fused by reciprocal rank in one SQL statement, optionally filtered by document type.

The vector leg only looks at chunks embedded by the current embedder (vectors of another model are not comparable);
stale chunks are still found by full text until `reembed_stale` catches up.

The public entry is this package; its parts, one use case each: `hybrid` (the search statement, built once per
shape and cached, and hybrid_search), `query` (the question's full-text side: lexemes, topic words, common lexemes
dropped, the tiers), `lexemes` (the `russian` configuration read in Python), `vector_leg` (HNSW settings, exact or
indexed search per tenant), `connection` (running prebuilt statements, index scans only), `hits` (Hit and
ProductFact), `name_lookup` (products by a word inside their name), `named` (the products a drafted reply names),
`product_match` (how well a question names a product, products ranked) and `sources` (the sources a reply used).
"""

from __future__ import annotations

from .connection import index_scans_only, statement_connection
from .hits import PRODUCT_COLUMNS, Hit, ProductFact, product_fact
from .hybrid import CANDIDATES, RRF_K, hybrid_search
from .lexemes import ENGLISH_STOP, RUSSIAN_STOP, local_lexeme_positions, local_lexemes
from .name_lookup import NAME_LOOKUP_CANDIDATES, product_name_hits
from .named import FIGURE_LEXEMES, NAMED_CANDIDATES, products_named_among, products_named_in_text
from .product_match import ProductMatch, name_match, name_overlap, rank_products
from .query import (
    COMMON_LEXEME_SHARE,
    COMMON_LEXEMES_TTL,
    MAX_QUERY_WORDS,
    TEXT_POOL,
    TIER_LEXEMES,
    TOPIC_WORDS,
    common_lexemes,
    fulltext_query,
    fulltext_tiers,
    kept_lexemes,
    query_lexemes,
    with_topic_words,
)
from .sources import CARD_SOURCES, SOURCE_SENTENCE_SHARE, card_sources, chunk_texts, used_sources
from .vector_leg import EXACT_VECTOR_WORK, HNSW_EF_SEARCH, HNSW_SETTINGS, TENANT_SIZE_TTL, exact_vector_search
from .vector_leg import _tenant_sizes  # noqa: F401  the per-tenant decision's cache, cleared by tests

__all__ = ["CANDIDATES", "CARD_SOURCES", "COMMON_LEXEMES_TTL", "COMMON_LEXEME_SHARE", "ENGLISH_STOP",
           "EXACT_VECTOR_WORK", "FIGURE_LEXEMES", "HNSW_EF_SEARCH", "HNSW_SETTINGS", "MAX_QUERY_WORDS",
           "NAMED_CANDIDATES", "NAME_LOOKUP_CANDIDATES", "PRODUCT_COLUMNS", "RRF_K", "RUSSIAN_STOP",
           "SOURCE_SENTENCE_SHARE", "TENANT_SIZE_TTL", "TEXT_POOL", "TIER_LEXEMES", "TOPIC_WORDS", "Hit",
           "ProductFact", "ProductMatch", "card_sources", "chunk_texts", "common_lexemes", "exact_vector_search",
           "fulltext_query", "fulltext_tiers", "hybrid_search", "index_scans_only", "kept_lexemes",
           "local_lexeme_positions", "local_lexemes", "name_match", "name_overlap", "product_fact",
           "product_name_hits", "products_named_among", "products_named_in_text", "query_lexemes", "rank_products",
           "statement_connection", "used_sources", "with_topic_words"]
