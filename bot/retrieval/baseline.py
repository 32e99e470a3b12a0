"""Plain dense retrieval through LangChain's Chroma vector store: the evaluation baseline."""

from __future__ import annotations

from typing import Any

from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from bot.core.models import Chunk, SearchHit
from bot.retrieval.embeddings import SentenceTransformerEmbedder


class LangChainEmbeddings(Embeddings):
    """Our embedder behind LangChain's `Embeddings` interface (same model, same vectors)."""

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.encode(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.encode_query(text).tolist()  # type: ignore[no-any-return]


class DenseBaseline:
    """`similarity_search_with_score` on the current generation's collection."""

    def __init__(self, client: Any, collection: str, embedder: SentenceTransformerEmbedder) -> None:
        self.store = Chroma(client=client, collection_name=collection, embedding_function=LangChainEmbeddings(embedder))

    def search(self, query: str, k: int = 5, stage: str | None = None) -> list[SearchHit]:
        results = self.store.similarity_search_with_score(query, k=k, filter={"stage": stage} if stage else None)
        hits = []
        for rank, (doc, distance) in enumerate(results, start=1):
            m = doc.metadata
            chunk = Chunk(
                id=str(doc.id),
                source=str(m.get("source", "")),
                ordinal=0,
                stage=str(m.get("stage", "")),
                concept=str(m.get("concept", "")),
                title=str(m.get("title", "")),
                kind=str(m.get("kind", "")),
                text=doc.page_content,
            )
            sim = 1.0 - float(distance)
            hits.append(SearchHit(chunk, sim, dense_similarity=sim, dense_rank=rank))
        return hits
