"""The full-text side of a question: its lexemes (topic words added, very common lexemes dropped) and the tiers of
tsqueries the full-text leg runs, strictest first."""

from __future__ import annotations

import re
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..textutil import words
from .lexemes import local_lexemes

MAX_QUERY_WORDS = 24


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
