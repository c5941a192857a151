"""The local embedder: works with no key, no model download and no network.

Feature hashing of stems, whole words, stem bigrams and character trigrams into 512 dimensions, L2-normalised, so
pgvector's cosine distance ranks texts by shared (inflection-insensitive) vocabulary. It is not semantic the way a
neural model is, which is why retrieval always fuses it with Postgres full text.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np

from ..models import EMBEDDING_DIM
from .textutil import content_words, stem, words

LOCAL_EMBEDDER_NAME = f"local-hash-v2@{EMBEDDING_DIM}"


@lru_cache(maxsize=500_000)
def _slot(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    index = int.from_bytes(digest[:4], "little") % dim
    sign = 1.0 if digest[4] & 1 else -1.0
    return index, sign


def _features(text: str) -> list[tuple[str, float]]:
    # Function words are left out: in short questions they would outweigh the one word that matters.
    tokens = content_words(text)
    stemmed = [stem(t) for t in tokens]
    feats: list[tuple[str, float]] = []
    for token, st in zip(tokens, stemmed):
        feats.append(("s:" + st, 1.0))
        if token != st:
            feats.append(("w:" + token, 0.3))
        # Trigrams carry compounds and typos: «самокат» inside «электросамокат», «кофемашына».
        padded = f"#{st}#"
        feats.extend(("t:" + padded[i : i + 3], 0.4) for i in range(len(padded) - 2))
    feats.extend(("b:" + a + "_" + b, 0.5) for a, b in zip(stemmed, stemmed[1:]))
    return feats


def embed_one(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    vec = np.zeros(dim, dtype=np.float32)
    for feature, weight in _features(text):
        index, sign = _slot(feature, dim)
        vec[index] += sign * weight
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        # An empty or symbol-only text still needs a valid unit vector for cosine distance.
        vec[_slot("empty", dim)[0]] = 1.0
        norm = 1.0
    return (vec / norm).tolist()


class LocalEmbedder:
    """core.ports.Embedder without a provider. Tokens are reported as words, so usage rows stay meaningful."""

    provider = "local"
    model = "local-hash-v2"
    name = LOCAL_EMBEDDER_NAME
    dim = EMBEDDING_DIM

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return [embed_one(t, self.dim) for t in texts], sum(len(words(t)) for t in texts)


def cosine(a: list[float], b: list[float]) -> float:
    num = sum(x * y for x, y in zip(a, b))
    den = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return num / den if den else 0.0
