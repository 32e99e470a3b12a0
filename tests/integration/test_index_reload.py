"""A running bot's index picks up a finished ingest (another process's) within 10 s."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.retrieval.index import IndexUnavailableError, KnowledgeIndex
from bot.storage.db import create_engine
from bot.storage.knowledge import SqlKnowledgeStore
from tests.integration.conftest import Bundled, _ingest


async def test_watch_swaps_to_the_new_generation(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Momentum\n\nMomentum averages past gradients to smooth SGD updates.")
    first = await _ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)])
    engine = create_engine(fresh.settings.effective_database_url)
    try:
        index = KnowledgeIndex(SqlKnowledgeStore(engine), fresh.client, fresh.embedder)
        await index.refresh()
        assert index.generation == first.generation
        watcher = asyncio.create_task(index.watch(0.2))
        (docs / "b.md").write_text("# Adam\n\nAdam keeps running averages of gradients and squared gradients.")
        second = await _ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)])
        for _ in range(100):
            if index.generation == second.generation:
                break
            await asyncio.sleep(0.1)
        watcher.cancel()
        assert index.generation == second.generation
        hits = await index.search("adam optimizer squared gradients", k=1)
        assert hits[0].chunk.source == str(docs / "b.md")
    finally:
        await engine.dispose()


async def test_an_empty_index_says_to_ingest(fresh: Bundled) -> None:
    engine = create_engine(fresh.settings.effective_database_url)
    try:
        index = KnowledgeIndex(SqlKnowledgeStore(engine), fresh.client, fresh.embedder)
        with pytest.raises(IndexUnavailableError, match="mentor ingest"):
            await index.refresh()
    finally:
        await engine.dispose()
