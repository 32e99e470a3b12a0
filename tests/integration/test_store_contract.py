"""The store contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.core.models import Chunk, IndexState, SourceRecord
from bot.storage.knowledge import SourceWrite, SqlKnowledgeStore, StaleGenerationError
from bot.storage.migrate import alembic_config, head_revision
from bot.storage.questions import SqlQuestionLog
from bot.storage.tables import metadata

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _state(gen: int) -> IndexState:
    return IndexState(gen, f"chunks_g{gen}", "all-MiniLM-L6-v2", 384, 1, T0 + timedelta(minutes=gen))


def _write(source: str, n: int) -> SourceWrite:
    rec = SourceRecord(source, "root", "resource", "", "", source, "h" * 64, n, T0)
    chunks = [Chunk(f"{source}-{i}", source, i, "", "", "T", "resource", f"text {i}") for i in range(n)]
    return SourceWrite(rec, chunks)


async def test_generation_switch_replaces_rows_atomically(engine) -> None:  # type: ignore[no-untyped-def]
    store = SqlKnowledgeStore(engine)
    assert await store.index_state() is None
    await store.switch_generation(_state(1), [_write("a", 2), _write("b", 3)], [], expected_generation=None)
    await store.switch_generation(_state(2), [_write("a", 1)], ["b"], expected_generation=1)
    assert [c.id for c in await store.chunks()] == ["a-0"]
    state = await store.index_state()
    assert state is not None and state.generation == 2
    assert state.updated_at.tzinfo is not None and state.updated_at.utcoffset() == timedelta(0)
    assert state.updated_at == T0 + timedelta(minutes=2)
    with pytest.raises(StaleGenerationError):
        await store.switch_generation(_state(3), [_write("c", 1)], [], expected_generation=1)
    assert [s.source for s in await store.sources()] == ["a"]


async def test_a_failing_switch_changes_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    store = SqlKnowledgeStore(engine)
    await store.switch_generation(_state(1), [_write("a", 2)], [], expected_generation=None)
    duplicate = _write("b", 1)
    clash = SourceWrite(duplicate.record, [Chunk("a-0", "b", 0, "", "", "T", "resource", "dup id")])
    with pytest.raises(sa.exc.IntegrityError):
        await store.switch_generation(_state(2), [clash], [], expected_generation=1)
    assert (await store.index_state()).generation == 1  # type: ignore[union-attr]
    assert sorted(c.id for c in await store.chunks()) == ["a-0", "a-1"]


async def test_question_log_round_trip_feedback_and_retention(engine) -> None:  # type: ignore[no-untyped-def]
    log = SqlQuestionLog(engine)
    plus_two = timezone(timedelta(hours=2))
    old = await log.record(
        asked_at=datetime(2026, 1, 1, 14, tzinfo=plus_two),
        learner_key="cli:local",
        platform="cli",
        question="old one",
        abstained=True,
        top_score=0.2,
        scores=[0.2],
        cited_chunks=[],
        mode="abstain",
    )
    new = await log.record(
        asked_at=T0,
        learner_key="cli:local",
        platform="cli",
        question="what is dropout",
        abstained=False,
        top_score=0.61,
        scores=[0.61, 0.5],
        cited_chunks=["x"],
        mode="extractive",
    )
    assert await log.set_feedback(new, 1, T0)
    assert not await log.set_feedback(99_999, -1, T0)
    rows = await log.list()
    assert [r.id for r in rows] == [new, old]
    assert rows[0].feedback == 1 and rows[0].scores == [0.61, 0.5] and rows[0].cited_chunks == ["x"]
    assert rows[1].asked_at == datetime(2026, 1, 1, 12, tzinfo=UTC) and rows[1].asked_at.tzinfo is not None
    assert [r.id for r in await log.list(abstained_only=True)] == [old]
    assert await log.purge_before(T0 - timedelta(days=30)) == 1
    assert [r.id for r in await log.list()] == [new]


async def test_naive_datetimes_are_rejected(engine) -> None:  # type: ignore[no-untyped-def]
    log = SqlQuestionLog(engine)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await log.record(
            asked_at=datetime(2026, 1, 1),
            learner_key=None,
            platform="cli",
            question="q",
            abstained=False,
            top_score=None,
            scores=[],
            cited_chunks=[],
            mode="extractive",
        )


def test_migrations_match_the_table_definitions(db_url: str) -> None:
    async def diff() -> list:  # type: ignore[type-arg]
        from bot.storage.db import create_engine

        eng = create_engine(db_url)
        async with eng.connect() as conn:
            result = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        await eng.dispose()
        return result  # type: ignore[no-any-return]

    assert asyncio.run(diff()) == []


def test_concurrent_migrations_do_not_race(db_url: str) -> None:
    """Three processes start at once on an empty database (as three bot instances would)."""
    from alembic import command

    command.downgrade(alembic_config(db_url), "base")
    code = "import sys; from bot.storage.migrate import upgrade_database; upgrade_database(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in results]

    async def revision() -> str | None:
        from bot.storage.db import create_engine
        from bot.storage.migrate import current_revision_sync

        eng = create_engine(db_url)
        async with eng.connect() as conn:
            rev = await conn.run_sync(current_revision_sync)
        await eng.dispose()
        return rev

    assert asyncio.run(revision()) == head_revision()
