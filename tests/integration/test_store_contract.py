"""The store contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.core.models import Chunk, IndexState, SourceRecord
from bot.core.practice import (
    AlreadyAnsweredError,
    AttemptRecord,
    DailyCounts,
    FreeTextGrade,
    NewAttempt,
    PracticeService,
    SessionItemRecord,
    SessionRecord,
)
from bot.core.questions import FreeTextItem, load_bank
from bot.core.srs import CardState, Srs
from bot.storage.knowledge import SourceWrite, SqlKnowledgeStore, StaleGenerationError
from bot.storage.migrate import alembic_config, head_revision
from bot.storage.questions import SqlQuestionLog
from bot.storage.tables import metadata
from tests.answers import right_answer as shared_right_answer
from tests.conftest import KNOWLEDGE
from tests.integration import test_mastery_store as mastery_contract
from tests.integration.test_mastery_store import Backend

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


# --- the PracticeStore contract, also on the in-memory store ------------------------------------

BANK = load_bank([KNOWLEDGE / "questions"])
# The same parametrised stores (SQLite, PostgreSQL, MemoryStore) as the MasteryStore contract.
store_url = mastery_contract.store_url
backend = mastery_contract.backend


def _practice_session(session_id: str, learner_id: int, at: datetime, items: tuple[str, ...]) -> SessionRecord:
    return SessionRecord(
        session_id,
        learner_id,
        "learn",
        at,
        at + timedelta(hours=2),
        5,
        "open",
        tuple(SessionItemRecord(n, item, {"x": n}, (2, 0, 1, 3), None) for n, item in enumerate(items)),
    )


def _new_attempt(learner_id: int, item_id: str, at: datetime, **kw: object) -> NewAttempt:
    values: dict[str, object] = {
        "learner_id": learner_id,
        "item_id": item_id,
        "concept": "c1",
        "session_id": None,
        "position": None,
        "kind": "learn",
        "answer": "B",
        "verdict": "correct",
        "score": 1.0,
        "rating": 3,
        "latency_ms": 900,
        "first_try": True,
        "counts": True,
        "platform": "cli",
        "created_at": at,
    }
    values.update(kw)
    return NewAttempt(**values)  # type: ignore[arg-type]


async def test_practice_sessions_round_trip_and_close(backend: Backend) -> None:
    store = backend.practice
    alice = await backend.learner_for("cli", "a", T0)
    session = _practice_session("s1", alice, T0, ("i1", "i2"))
    await store.create_session(session)
    await store.create_session(_practice_session("s2", alice, T0 + timedelta(minutes=5), ("i3",)))
    await store.create_session(_practice_session("s-old", alice, T0 - timedelta(hours=3), ("i4",)))
    assert await store.get_session("s1") == session
    assert await store.get_session("missing") is None
    assert await store.open_sessions(alice, T0 + timedelta(minutes=10)) == ["s2", "s1"]
    await store.close_session("s2", "expired")
    assert (await store.get_session("s2")).status == "expired"  # type: ignore[union-attr]
    assert await store.open_sessions(alice, T0 + timedelta(minutes=10)) == ["s1"]
    assert await store.open_sessions(alice, T0 + timedelta(hours=2)) == []


async def test_practice_record_answer_is_atomic_and_counted(backend: Backend) -> None:
    store = backend.practice
    alice = await backend.learner_for("cli", "a", T0)
    await store.create_session(_practice_session("s1", alice, T0, ("i1", "i2")))
    card = CardState(
        card_id=7, state=1, step=0, stability=None, difficulty=None, due=T0 + timedelta(minutes=10), last_review=None
    )
    first = await store.record_answer(_new_attempt(alice, "i1", T0, session_id="s1", position=0), card, "c1")
    with pytest.raises(AlreadyAnsweredError):
        await store.record_answer(_new_attempt(alice, "i1", T0, session_id="s1", position=0, answer="C"), card, "c1")
    review = await store.record_answer(
        _new_attempt(alice, "i9", T0 + timedelta(hours=1), first_try=False, verdict="incorrect", score=0.0), None, "c1"
    )
    assert review > first
    stored = await store.get_session("s1")
    assert [i.attempt_id for i in stored.items] == [first, None]  # type: ignore[union-attr]
    assert await store.card(alice, "i1") == card and await store.card(alice, "i9") is None
    assert await store.cards(alice) == [("i1", card)]
    assert await store.has_attempt(alice, "i9") and not await store.has_attempt(alice, "i2")
    assert await store.seen_items(alice) == {"i1", "i9"}
    assert await store.daily_counts(alice, T0) == DailyCounts(reviews=1, new=1)
    assert await store.daily_counts(alice, T0 + timedelta(minutes=30)) == DailyCounts(reviews=1, new=0)
    assert await store.daily_counts(alice + 1000, T0) == DailyCounts(0, 0)
    got = await store.attempt(first)
    assert got == AttemptRecord(first, alice, "i1", "B", "correct", 1.0, T0, True)
    assert got.created_at.utcoffset() == timedelta(0)  # type: ignore[union-attr]
    assert await store.attempt(review + 1000) is None


async def test_practice_flags_and_item_statistics(backend: Backend) -> None:
    store = backend.practice
    attempt_ids = []
    for n in range(4):
        learner = await backend.learner_for("cli", f"l{n}", T0)
        score = 1.0 if n % 2 == 0 else 0.0
        attempt_ids.append(await store.record_answer(_new_attempt(learner, "i1", T0, score=score), None, "c1"))
        await store.record_answer(_new_attempt(learner, "i2", T0, score=score), None, "c1")
    await store.add_flag("i1", learner, None, "report", "two options look right", T0)
    await store.add_flag("i1", learner, attempt_ids[-1], "dispute", "mine was right", T0 + timedelta(minutes=1))
    flags = await store.flags()
    assert [(f.kind, f.item_id, f.attempt_id) for f in flags] == [
        ("report", "i1", None),
        ("dispute", "i1", attempt_ids[-1]),
    ]
    (stats,) = await store.item_stats(["i1"])
    assert (stats.attempts, stats.difficulty, stats.reports, stats.disputes) == (4, 0.5, 1, 1)
    assert stats.discrimination == pytest.approx(1.0)


async def test_an_upheld_dispute_counts_as_correct_and_a_flag_is_resolved_once(backend: Backend) -> None:
    store = backend.practice
    learner = await backend.learner_for("cli", "disputer", T0)
    other = await backend.learner_for("cli", "other", T0)
    partial = await store.record_answer(
        _new_attempt(learner, "i1", T0, verdict="partial", score=0.4, answer="my own words"), None, "c1"
    )
    wrong = await store.record_answer(
        _new_attempt(learner, "i2", T0 + timedelta(seconds=1), verdict="incorrect", score=0.0), None, "c1"
    )
    await store.record_answer(_new_attempt(other, "i1", T0, verdict="incorrect", score=0.0), None, "c1")
    upheld_id = await store.add_flag("i1", learner, partial, "dispute", "it says the same", T0)
    rejected_id = await store.add_flag("i2", learner, wrong, "dispute", "mine was right", T0)
    report_id = await store.add_flag("i2", learner, None, "report", "typo", T0)

    resolved = await store.resolve_flag(upheld_id, "upheld", "cli:admin", "a fair paraphrase", T0 + timedelta(days=1))
    assert resolved is not None
    assert (resolved.status, resolved.resolved_by, resolved.note, resolved.learner_id) == (
        "upheld",
        "cli:admin",
        "a fair paraphrase",
        learner,
    )
    assert resolved.resolved_at == T0 + timedelta(days=1)
    assert await store.resolve_flag(upheld_id, "rejected", "cli:other", "", T0) is None  # once only
    assert (await store.flag(upheld_id)).status == "upheld"  # type: ignore[union-attr]
    assert await store.resolve_flag(rejected_id, "rejected", "cli:admin", "", T0) is not None
    assert await store.resolve_flag(report_id, "upheld", "cli:admin", "fixed", T0) is not None
    assert await store.flag(10_000) is None
    assert await store.resolve_flag(10_000, "upheld", "cli:admin", "", T0) is None

    # Wherever verdicts are read, the upheld answer is correct; the rejected one and the attempt
    # log's own record are unchanged.
    verdicts = {a.id: a.verdict for a in await backend.store.attempts(learner)}
    assert verdicts == {partial: "correct", wrong: "incorrect"}
    assert [a.verdict for a in await backend.store.attempts(learner, concepts=["c1"])] == ["correct", "incorrect"]
    assert (await store.attempt(partial)).verdict == "partial"  # type: ignore[union-attr]
    (stats,) = await store.item_stats(["i1"])
    assert (stats.attempts, stats.difficulty, stats.disputes) == (2, 0.5, 1)
    assert [f.id for f in await store.flags()] == []
    assert [f.status for f in await store.flags(None)] == ["upheld", "rejected", "upheld"]
    assert [f.id for f in await store.flags("rejected")] == [rejected_id]


async def test_retired_items_are_kept_until_restored(backend: Backend) -> None:
    store = backend.practice
    assert await store.retired_items() == {}
    assert await store.retire_item("i1", "cli:admin", "the key is wrong", T0)
    assert not await store.retire_item("i1", "cli:other", "again", T0 + timedelta(hours=1))
    assert await store.retire_item("i2", "cli:admin", "ambiguous", T0)
    retired = await store.retired_items()
    assert sorted(retired) == ["i1", "i2"]
    assert (retired["i1"].retired_by, retired["i1"].reason, retired["i1"].retired_at) == (
        "cli:admin",
        "the key is wrong",
        T0,
    )
    assert retired["i1"].retired_at.tzinfo is not None
    assert await store.restore_item("i1")
    assert not await store.restore_item("i1")
    assert list(await store.retired_items()) == ["i2"]


def _right_answer(record: SessionRecord, position: int) -> str:
    rec = record.items[position]
    return shared_right_answer(BANK.item(rec.item_id), rec)


async def _exact_grader(item: FreeTextItem, answer: str) -> FreeTextGrade:
    right = answer.strip() == item.reference.strip()
    return FreeTextGrade("correct" if right else "incorrect", float(right))


async def test_practice_service_runs_on_every_store(backend: Backend) -> None:
    """Quiz, answer, duplicate, restart and due reviews through PracticeService itself."""
    now = [T0]

    def service() -> PracticeService:
        return PracticeService(BANK, backend.practice, Srs(), _exact_grader, lambda: now[0], random.Random(7))

    learner = await backend.learner_for("cli", "local", T0)
    quiz = await service().start_quiz(learner, "learn", 3)
    record = await backend.practice.get_session(quiz.id)
    first = await service().submit_answer(
        learner, quiz.id, 0, _right_answer(record, 0), latency_ms=9000, platform="cli"
    )
    assert first.correct and not first.duplicate
    again = await service().submit_answer(learner, quiz.id, 0, _right_answer(record, 0), latency_ms=10, platform="cli")
    assert again.duplicate and again.attempt_id == first.attempt_id
    with pytest.raises(AlreadyAnsweredError):
        await service().submit_answer(learner, quiz.id, 0, "not the answer", latency_ms=10, platform="cli")
    reopened = await service().open_session(learner, quiz.id)
    assert [i.answered for i in reopened.items] == [True, False, False]
    now[0] = T0 + timedelta(days=60)
    review = await service().start_quiz(learner, "review", 5)
    assert [i.item_id for i in review.items] == [quiz.items[0].item_id]
