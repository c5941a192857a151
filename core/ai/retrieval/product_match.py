"""How well a question names a product: its words against the product name's (stems, compounds, the other
alphabet, colloquial names), and the products among a search's hits ranked by that, then by retrieval."""

from __future__ import annotations

from dataclasses import dataclass

from ..textutil import colloquial, content_words, expanded_stems, sound_key, stem, words
from .hits import Hit, ProductFact


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
