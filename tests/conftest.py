"""Shared fixtures: settings in temp dirs, the real embedding model, SQLite and PostgreSQL URLs."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = REPO / "knowledge"
PG_URL = os.environ.get("MENTOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def make_settings(data_dir: Path, **overrides: object):  # type: ignore[no-untyped-def]
    from bot.config import Settings

    return Settings(
        _env_file=None, data_dir=data_dir, knowledge_dir=overrides.pop("knowledge_dir", KNOWLEDGE), **overrides
    )  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real bundled all-MiniLM-L6-v2, loaded once per session."""
    from bot.retrieval.embeddings import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    model.encode(["warm up"])
    return model


async def _pg_admin(sql: str) -> None:
    import asyncpg

    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _postgres_available() -> str | None:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except Exception as exc:  # any connection failure means: not available
        return f"PostgreSQL at {PG_URL} is not reachable ({exc.__class__.__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped at the end)."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("MENTOR_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem + " and MENTOR_REQUIRE_POSTGRES=1")
        pytest.skip(problem)
    name = f"mentor_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind (PostgreSQL tables are emptied between tests)."""
    from bot.storage.migrate import upgrade_database

    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'mentor.db'}"
        upgrade_database(url)
        yield url
        return
    url = request.getfixturevalue("pg_database")
    upgrade_database(url)
    asyncio.run(_truncate(url))
    yield url


async def _truncate(url: str) -> None:
    from sqlalchemy import text

    from bot.storage.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE chunks, sources, index_state, question_log, learners, identities, cards, quiz_sessions, quiz_items, attempts, item_flags, assessments, awards, milestones, deliveries, link_codes, audit_log RESTART IDENTITY CASCADE"
            )
        )
    await engine.dispose()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[object]:
    from bot.storage.db import create_engine

    eng = create_engine(db_url)
    yield eng
    await eng.dispose()
