"""The live knowledge index: the retriever of the current generation, reloaded when it changes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.core.models import SearchHit
from bot.retrieval.chroma import ChromaVectorIndex
from bot.retrieval.embeddings import SentenceTransformerEmbedder
from bot.retrieval.hybrid import HybridRetriever
from bot.storage.knowledge import SqlKnowledgeStore

log = logging.getLogger(__name__)


class IndexUnavailableError(RuntimeError):
    """No usable index: never ingested, or built with another embedding model."""


class KnowledgeIndex:
    """Holds a `HybridRetriever` and swaps it when another run switches the generation."""

    def __init__(self, store: SqlKnowledgeStore, client: Any, embedder: SentenceTransformerEmbedder) -> None:
        self.store = store
        self.client = client
        self.embedder = embedder
        self._retriever: HybridRetriever | None = None
        self._lock = asyncio.Lock()

    @property
    def generation(self) -> int | None:
        return self._retriever.generation if self._retriever else None

    async def refresh(self) -> bool:
        """Load the current generation if it differs from the one held. True when it changed."""
        async with self._lock:
            state = await self.store.index_state()
            if state is None:
                raise IndexUnavailableError("the knowledge index is empty: run `mentor ingest` first")
            if state.embedding_model != self.embedder.model_name:
                raise IndexUnavailableError(
                    f"the index was built with {state.embedding_model!r}, but the configured model is "
                    f"{self.embedder.model_name!r}: run `mentor ingest --rebuild`"
                )
            if self._retriever is not None and self._retriever.generation == state.generation:
                return False
            chunks = await self.store.chunks()
            retriever = await asyncio.to_thread(self._build, state.collection, chunks, state.generation)
            self._retriever = retriever
            log.info("knowledge index generation %s loaded (%s chunks)", state.generation, len(chunks))
            return True

    def _build(self, collection: str, chunks: list[Any], generation: int) -> HybridRetriever:
        vectors = ChromaVectorIndex.open(self.client, collection)
        return HybridRetriever.build(self.embedder, vectors, chunks, generation)

    async def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            await self.refresh()
        assert self._retriever is not None
        return self._retriever

    async def search(
        self, query: str, k: int = 5, stage: str | None = None, boost_stage: str | None = None
    ) -> list[SearchHit]:
        retriever = await self.retriever()
        return await asyncio.to_thread(retriever.search, query, k, stage, boost_stage)

    async def watch(self, interval: float) -> None:
        """Poll for a new generation every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # a transient database or Chroma error must not kill the bot
                log.exception("index refresh failed; keeping generation %s", self.generation)
