"""Hybrid retrieval: dense (Chroma, cosine) + BM25, fused by reciprocal rank fusion, de-duplicated."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.models import Chunk, SearchHit
from bot.retrieval.chroma import ChromaVectorIndex
from bot.retrieval.embeddings import SentenceTransformerEmbedder
from bot.retrieval.lexical import BM25Index

RRF_K = 60
# BM25 is a strong second opinion but over-rewards general pages that repeat a question's
# everyday words ("job", "model"); weighting it below the dense ranking fixed that on the eval set.
LEXICAL_WEIGHT = 0.7
CANDIDATES = 50
STAGE_BOOST = 1.25
NEAR_DUPLICATE_JACCARD = 0.6
MAX_PER_SOURCE = 3  # so one long document cannot fill the whole top k
_WORDS = re.compile(r"[a-z0-9]+")


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _near_duplicate(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE_JACCARD


@dataclass
class HybridRetriever:
    """Searches one index generation. Blocking: call it in a worker thread from async code."""

    embedder: SentenceTransformerEmbedder
    vectors: ChromaVectorIndex
    chunks: Sequence[Chunk]
    lexical: BM25Index
    generation: int = 0

    def __post_init__(self) -> None:
        self._row = {c.id: i for i, c in enumerate(self.chunks)}
        stages = sorted({c.stage for c in self.chunks})
        self._stage_masks = {
            s: np.fromiter((c.stage == s for c in self.chunks), dtype=np.float32, count=len(self.chunks))
            for s in stages
        }

    @classmethod
    def build(
        cls,
        embedder: SentenceTransformerEmbedder,
        vectors: ChromaVectorIndex,
        chunks: Sequence[Chunk],
        generation: int = 0,
    ) -> HybridRetriever:
        lexical = BM25Index([f"{c.title}\n{c.text}" for c in chunks])
        return cls(embedder, vectors, list(chunks), lexical, generation)

    def __len__(self) -> int:
        return len(self.chunks)

    def dense(self, query: str, n: int, stage: str | None = None) -> list[SearchHit]:
        """Plain vector search (the baseline): best cosine similarity first."""
        vector = self.embedder.encode_query(query)
        return self._dense_hits(vector, n, stage)

    def _dense_hits(self, vector: np.ndarray, n: int, stage: str | None) -> list[SearchHit]:
        where = {"stage": stage} if stage else None
        hits = []
        for rank, (cid, sim) in enumerate(self.vectors.query(vector, n, where), start=1):
            row = self._row.get(cid)
            if row is not None:
                hits.append(SearchHit(self.chunks[row], sim, dense_similarity=sim, dense_rank=rank))
        return hits

    def search(
        self, query: str, k: int = 5, stage: str | None = None, boost_stage: str | None = None
    ) -> list[SearchHit]:
        """The top `k` distinct chunks for `query`.

        Args:
            query: the learner's text.
            k: hits to return.
            stage: keep only chunks of this stage (filter).
            boost_stage: rank chunks of this stage higher (x1.25 fused score), keeping others.
        """
        query = query.strip()
        if not query or not self.chunks:
            return []
        vector = self.embedder.encode_query(query)
        n = max(CANDIDATES, 4 * k)
        dense = self._dense_hits(vector, n, stage)
        mask = self._stage_masks.get(stage) if stage else None
        if stage and mask is None:
            return []
        lexical = self.lexical.search(query, n, mask)
        fused: dict[str, float] = {}
        evidence: dict[str, dict[str, float | int]] = {}
        for hit in dense:
            cid = hit.chunk.id
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + (hit.dense_rank or 0))
            evidence.setdefault(cid, {}).update(sim=hit.score, drank=hit.dense_rank or 0)
        for rank, (row, score) in enumerate(lexical, start=1):
            cid = self.chunks[row].id
            fused[cid] = fused.get(cid, 0.0) + LEXICAL_WEIGHT / (RRF_K + rank)
            evidence.setdefault(cid, {}).update(lex=score, lrank=rank)
        if boost_stage:
            for cid in fused:
                if self.chunks[self._row[cid]].stage == boost_stage:
                    fused[cid] *= STAGE_BOOST
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        missing_sims = [cid for cid, _ in ranked[: 3 * k] if "sim" not in evidence[cid]]
        if missing_sims:
            found = self.vectors.get_vectors(missing_sims)
            for cid, vec in found.items():
                evidence[cid]["sim"] = float(np.dot(vec, vector))
        return self._distinct(ranked, evidence, k)

    def _distinct(
        self, ranked: list[tuple[str, float]], evidence: dict[str, dict[str, float | int]], k: int
    ) -> list[SearchHit]:
        """Top k without near-duplicates, preferring one slice per section and ≤ 3 hits per document."""
        chosen: list[SearchHit] = []
        shingles: list[set[tuple[str, ...]]] = []
        sections: set[tuple[str, str]] = set()
        per_source: dict[str, int] = {}
        taken: set[str] = set()
        # First pass: diverse hits only. Second pass (when fewer than k remain): allow further
        # slices of a section or document, but still never a near-duplicate.
        for diverse in (True, False):
            for cid, score in ranked:
                if len(chosen) == k:
                    break
                if cid in taken:
                    continue
                chunk = self.chunks[self._row[cid]]
                key = (chunk.source, chunk.title)
                if diverse and (key in sections or per_source.get(chunk.source, 0) >= MAX_PER_SOURCE):
                    continue
                sh = _shingles(chunk.text)
                if any(_near_duplicate(sh, other) for other in shingles):
                    continue
                taken.add(cid)
                chosen.append(self._hit(chunk, score, evidence.get(cid, {})))
                sections.add(key)
                per_source[chunk.source] = per_source.get(chunk.source, 0) + 1
                shingles.append(sh)
        return chosen

    @staticmethod
    def _hit(chunk: Chunk, score: float, ev: dict[str, float | int]) -> SearchHit:
        return SearchHit(
            chunk,
            score,
            dense_similarity=float(ev["sim"]) if "sim" in ev else None,
            lexical_score=float(ev["lex"]) if "lex" in ev else None,
            dense_rank=int(ev["drank"]) if "drank" in ev else None,
            lexical_rank=int(ev["lrank"]) if "lrank" in ev else None,
        )
