"""Chroma client factory and a thin vector-index wrapper (we always pass our own vectors)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

COLLECTION_PREFIX = "chunks_g"


def collection_name(generation: int) -> str:
    return f"{COLLECTION_PREFIX}{generation}"


def make_client(chroma_url: str | None, chroma_dir: str) -> Any:
    """`HttpClient` for a Chroma server when a URL is set, else an embedded `PersistentClient`."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        parsed = urlparse(chroma_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"MENTOR_CHROMA_URL must look like http://host:8000, got {chroma_url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings)
    return chromadb.PersistentClient(path=chroma_dir, settings=settings)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


@dataclass
class ChromaVectorIndex:
    """One generation's collection. Cosine space; similarity = 1 - distance."""

    collection: Any
    _count: int | None = None

    @classmethod
    def create(cls, client: Any, name: str) -> ChromaVectorIndex:
        collection = client.create_collection(
            name=name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_search": 100}},
        )
        return cls(collection)

    @classmethod
    def open(cls, client: Any, name: str) -> ChromaVectorIndex:
        return cls(client.get_collection(name=name, embedding_function=None))

    def count(self) -> int:
        # A generation's collection only grows through `add` below, so the count can be cached.
        if self._count is None:
            self._count = int(self.collection.count())
        return self._count

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        documents: Sequence[str],
        batch_size: int = 1000,
    ) -> None:
        self._count = None
        for part in _batches(len(ids), batch_size):
            self.collection.add(
                ids=list(ids[part]),
                embeddings=vectors[part],
                metadatas=list(metadatas[part]),
                documents=list(documents[part]),
            )

    def get_vectors(self, ids: Sequence[str], batch_size: int = 1000) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for part in _batches(len(ids), batch_size):
            got = self.collection.get(ids=list(ids[part]), include=["embeddings"])
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True):
                found[cid] = np.asarray(vec, dtype=np.float32)
        return found

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """The `n` nearest chunk ids with their cosine similarity, best first."""
        n = min(n, self.count())
        if n <= 0:
            return []
        result = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]
