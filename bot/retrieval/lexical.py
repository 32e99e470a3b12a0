"""BM25 lexical index (bm25s sparse matrices), built from chunk texts held in the database."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

from bot.core.text import STOPWORDS

_WORD = re.compile(r"[a-z0-9]+")


class LexicalTokenizer:
    """Lowercase, split on non-alphanumerics, drop stop words, Snowball-stem (English)."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._stem = lru_cache(maxsize=200_000)(self._stemmer.stemWord)

    def __call__(self, text: str) -> list[str]:
        return [self._stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25Index:
    """Scores every chunk for a query with BM25 (k1=1.5, b=0.75); no Python loop over chunks."""

    def __init__(self, texts: Sequence[str], tokenizer: LexicalTokenizer | None = None) -> None:
        self._tokenize = tokenizer or LexicalTokenizer()
        self.size = len(texts)
        self._model = bm25s.BM25(k1=1.5, b=0.75)
        if self.size:
            corpus_tokens = [self._tokenize(t) or ["__empty__"] for t in texts]
            self._model.index(corpus_tokens, show_progress=False)

    def search(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The `n` best (row, score) pairs with score > 0; `mask` (0/1 per row) filters rows."""
        if not self.size or n <= 0:
            return []
        vocab = self._model.vocab_dict
        tokens = [t for t in self._tokenize(query) if t in vocab]
        if not tokens:
            return []
        scores = self._model.get_scores(tokens)
        if mask is not None:
            scores = scores * mask
        n = min(n, self.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
