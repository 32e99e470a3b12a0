"""A session-wide index of the bundled knowledge, built once with the real model and real Chroma."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KNOWLEDGE, make_settings


@dataclass
class Bundled:
    settings: Any
    client: Any
    report: Any
    retriever: Any
    embedder: Any


async def _ingest(settings: Any, client: Any, embedder: Any, targets: list[str] | None = None, **kw: Any) -> Any:
    from bot.storage.db import create_engine
    from bot.storage.knowledge import SqlKnowledgeStore
    from ingest.pipeline import Ingestor

    engine = create_engine(settings.effective_database_url)
    try:
        return await Ingestor(SqlKnowledgeStore(engine), client, embedder, settings.knowledge_dir).run(targets, **kw)
    finally:
        await engine.dispose()


async def _retriever(settings: Any, client: Any, embedder: Any) -> Any:
    from bot.retrieval.index import KnowledgeIndex
    from bot.storage.db import create_engine
    from bot.storage.knowledge import SqlKnowledgeStore

    engine = create_engine(settings.effective_database_url)
    try:
        index = KnowledgeIndex(SqlKnowledgeStore(engine), client, embedder)
        return await index.retriever()
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Bundled:
    from bot.app import prepare_database
    from bot.retrieval.chroma import make_client

    settings = make_settings(tmp_path_factory.mktemp("bundled"))
    prepare_database(settings)
    client = make_client(None, str(settings.chroma_dir))
    report = asyncio.run(_ingest(settings, client, embedder))
    retriever = asyncio.run(_retriever(settings, client, embedder))
    return Bundled(settings, client, report, retriever, embedder)


@pytest.fixture
def fresh(tmp_path: Path, embedder: Any) -> Bundled:
    """An empty data dir with its own database and Chroma, for tests that change the index."""
    from bot.app import prepare_database
    from bot.retrieval.chroma import make_client

    settings = make_settings(tmp_path / "data", knowledge_dir=tmp_path / "knowledge")
    (tmp_path / "knowledge").mkdir()
    prepare_database(settings)
    return Bundled(settings, make_client(None, str(settings.chroma_dir)), None, None, embedder)


__all__ = ["KNOWLEDGE", "Bundled", "_ingest", "_retriever"]
