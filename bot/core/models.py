"""Domain values shared by retrieval, ingestion and the mentor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Kind = Literal["concept", "roadmap", "resource", "career", "faq", "tip"]
KINDS: tuple[str, ...] = ("concept", "roadmap", "resource", "career", "faq", "tip")


@dataclass(frozen=True)
class Chunk:
    """One indexed passage. `title` is the heading path ("A > B > C")."""

    id: str
    source: str
    ordinal: int
    stage: str
    concept: str
    title: str
    kind: str
    text: str


@dataclass(frozen=True)
class SearchHit:
    """A retrieved chunk with its fused score and the per-retriever evidence.

    `score` is the reciprocal-rank-fusion score (higher is better); `dense_similarity`
    is the cosine similarity (-1..1) of the query and chunk vectors, when known.
    """

    chunk: Chunk
    score: float
    dense_similarity: float | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None

    def as_json(self) -> dict[str, object]:
        c = self.chunk
        return {
            "id": c.id,
            "score": round(self.score, 6),
            "stage": c.stage,
            "concept": c.concept,
            "source": c.source,
            "title": c.title,
            "kind": c.kind,
            "text": c.text,
        }


@dataclass(frozen=True)
class IndexState:
    """Which vector-index generation answers queries, and how it was built."""

    generation: int
    collection: str
    embedding_model: str
    embedding_dim: int
    chunker_version: int
    updated_at: datetime


@dataclass(frozen=True)
class SourceRecord:
    """An ingested document."""

    source: str
    root: str
    kind: str
    stage: str
    concept: str
    title: str
    content_hash: str
    chunk_count: int
    ingested_at: datetime


@dataclass(frozen=True)
class Citation:
    """A numbered reference from an answer to the chunk it used."""

    n: int
    chunk_id: str
    source: str
    title: str
    stage: str
    concept: str

    def as_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "stage": self.stage,
            "concept": self.concept,
        }


@dataclass(frozen=True)
class Answer:
    """What the mentor says: text with [n] markers, the citations they map to, and evidence."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    mode: str
    top_score: float | None
    scores: tuple[float, ...] = ()
    note: str | None = None
    closest_topics: tuple[str, ...] = ()
    question_id: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.as_json() for c in self.citations],
        }
