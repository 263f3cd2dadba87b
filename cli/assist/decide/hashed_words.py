"""Words as numbers: a token's feature is its blake2b hash modulo the feature count, so a model made of
these keeps no word (a dictionary could tell which words had weight, not what any text said).

Words are found by a pattern without backtracking and only the first `limit` of a text are read, so no
input can make this slow. A text's vector is log(1 + count) per hashed token, scaled to unit length.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

WORD = re.compile(r"[\w$']+")


def words(text: str, limit: int = 1500) -> list[str]:
    """The first `limit` words of a text, lower-cased."""
    return [w.lower() for w in WORD.findall(text)[:limit]]


def with_pairs(found: list[str]) -> list[str]:
    """The words and each pair of neighbouring words ("add eggs" as well as "add" and "eggs")."""
    return found + [f"{a} {b}" for a, b in itertools.pairwise(found)]


def char_grams(found: list[str], n: int = 4, longest: int = 30) -> list[str]:
    """Each word's runs of `n` characters, the word marked at both ends ("<free>" gives "<fre", "free",
    "ree>"); a word shorter than that is one token. They let a model tie "fr3e", "freee" and "free".
    Only a word's first `longest` characters are read: a word can be as long as the text."""
    out: list[str] = []
    for word in found:
        marked = f"<{word[:longest]}>"
        out += [marked] if len(marked) <= n else [marked[i:i + n] for i in range(len(marked) - n + 1)]
    return out


def index(token: str, n_features: int) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8", "replace"), digest_size=4).digest(), "big") \
        % n_features


def vector(tokens: Iterable[str], n_features: int) -> tuple[Any, Any]:
    """(indices, values) of one text's tokens: log(1 + count) per hashed token, scaled to unit length."""
    import numpy as np

    counts = Counter(index(t, n_features) for t in tokens)
    if not counts:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    idx = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
    val = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    return idx, val / np.linalg.norm(val)


def matrix(vectors: list[tuple[Any, Any]], n_features: int) -> Any:
    """A sparse matrix (scipy CSR), one row per (indices, values)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    indptr = np.cumsum([0] + [len(i) for i, _ in vectors])
    indices = np.concatenate([i for i, _ in vectors]) if vectors else np.zeros(0, dtype=np.int32)
    values = np.concatenate([v for _, v in vectors]) if vectors else np.zeros(0, dtype=np.float32)
    return csr_matrix((values, indices, indptr), shape=(len(vectors), n_features))
