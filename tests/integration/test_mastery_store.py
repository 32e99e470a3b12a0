"""The MasteryStore contract on SQLite, PostgreSQL and the in-memory store alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.core.practice import NewAttempt, SessionItemRecord, SessionRecord
from bot.core.records import FORGOTTEN_REASON, AssessmentRecord, LearnerProfile
from bot.core.srs import CardState
from bot.memory_store import MemoryStore

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALL_TABLES = (
    "audit_log, link_codes, deliveries, milestones, awards, assessments, question_log, learners, identities, "
    "cards, quiz_sessions, quiz_items, attempts, item_flags"
)


@dataclass
class Backend:
    """One store under test, with the helpers the tests need around it."""

    kind: str
    store: Any  # MasteryStore (SqlMasteryStore or MemoryStore)
    practice: Any  # PracticeStore (SqlPracticeStore or MemoryStore)
    learner_for: Callable[..., Awaitable[int]]
    log_question: Callable[[datetime, str, str], Awaitable[None]]


async def _truncate(url: str) -> None:
    from sqlalchemy import text

    from bot.storage.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {ALL_TABLES} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL of each kind, or "memory" for the in-process store."""
    from bot.storage.migrate import upgrade_database

    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'mentor.db'}"
        upgrade_database(url)
        return url
    url = request.getfixturevalue("pg_database")
    upgrade_database(url)
    asyncio.run(_truncate(url))
    return str(url)


@pytest.fixture
async def backend(store_url: str) -> AsyncIterator[Backend]:
    if store_url == "memory":
        memory = MemoryStore()

        async def remember(at: datetime, key: str, question: str) -> None:
            memory.log_question(at, key, question, abstained=False)

        yield Backend("memory", memory, memory, memory.learner_for, remember)
        return
    from bot.storage.db import create_engine
    from bot.storage.mastery import SqlMasteryStore
    from bot.storage.practice import SqlLearners, SqlPracticeStore
    from bot.storage.questions import SqlQuestionLog

    url = store_url
    engine = create_engine(url)
    log = SqlQuestionLog(engine)

    async def record(at: datetime, key: str, question: str) -> None:
        await log.record(
            asked_at=at,
            learner_key=key,
            platform="cli",
            question=question,
            abstained=False,
            top_score=None,
            scores=[],
            cited_chunks=[],
            mode="extractive",
        )

    try:
        yield Backend(
            engine.dialect.name,
            SqlMasteryStore(engine),
            SqlPracticeStore(engine),
            SqlLearners(engine).learner_for,
            record,
        )
    finally:
        await engine.dispose()


def _session(session_id: str, learner_id: int, at: datetime, items: tuple[str, ...]) -> SessionRecord:
    return SessionRecord(
        id=session_id,
        learner_id=learner_id,
        kind="learn",
        created_at=at,
        expires_at=at + timedelta(hours=2),
        seed=1,
        status="open",
        items=tuple(SessionItemRecord(n, item, {}, (), None) for n, item in enumerate(items)),
    )


def _attempt(learner_id: int, item_id: str, at: datetime, **kw: Any) -> NewAttempt:
    values: dict[str, Any] = {
        "learner_id": learner_id,
        "item_id": item_id,
        "concept": "c1",
        "session_id": None,
        "position": None,
        "kind": "learn",
        "answer": "my answer",
        "verdict": "correct",
        "score": 1.0,
        "rating": 3,
        "latency_ms": 1000,
        "first_try": True,
        "counts": True,
        "platform": "cli",
        "created_at": at,
    }
    values.update(kw)
    return NewAttempt(**values)


def _card(card_id: int, due: datetime) -> CardState:
    return CardState(card_id=card_id, state=2, step=None, stability=3.0, difficulty=5.0, due=due, last_review=T0)


def _utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


async def test_profiles_and_identities(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("telegram", "1", T0, "Alice")
    await backend.learner_for("discord", "9", T0)
    profile = await store.profile(alice)
    assert profile == LearnerProfile(id=alice, created_at=T0, display_name="Alice")
    assert await store.profile(alice + 1000) is None
    plus_two = timezone(timedelta(hours=2))
    changed = replace(
        profile,
        time_zone="Europe/Berlin",
        goal="ml-engineer",
        hours_per_week=4.5,
        nudge_time="19:30",
        track_start=datetime(2026, 11, 24, 14, tzinfo=plus_two),
    )
    await store.save_profile(changed)
    again = await store.profile(alice)
    assert again == replace(changed, track_start=T0)
    assert _utc(again.track_start) and _utc(again.created_at)
    with pytest.raises(KeyError):
        await store.save_profile(replace(changed, id=alice + 1000))
    assert await store.identities(alice) == [("telegram", "1")]
    assert await store.learner_by_identity("telegram", "1") == alice
    assert await store.learner_by_identity("telegram", "2") is None


async def test_attempts_oldest_first_since_and_shown_items(backend: Backend) -> None:
    store, practice = backend.store, backend.practice
    alice = await backend.learner_for("cli", "a", T0)
    bob = await backend.learner_for("cli", "b", T0)
    await practice.create_session(_session("s-old", alice, T0, ("i1", "i2")))
    await practice.create_session(_session("s-new", alice, T0 + timedelta(days=2), ("i3",)))
    await practice.create_session(_session("s-bob", bob, T0 + timedelta(days=2), ("i9",)))
    late = await practice.record_answer(_attempt(alice, "i2", T0 + timedelta(hours=5)), None, "c1")
    early = await practice.record_answer(
        _attempt(alice, "i1", T0 + timedelta(hours=1), session_id="s-old", position=0, first_try=False), None, "c1"
    )
    same_time = await practice.record_answer(_attempt(alice, "i3", T0 + timedelta(hours=5), answer="x"), None, "c1")
    await practice.record_answer(_attempt(bob, "i9", T0), None, "c1")
    views = await store.attempts(alice)
    assert [v.id for v in views] == [early, late, same_time]
    first = views[0]
    assert (first.learner_id, first.item_id, first.session_id, first.first_try, first.answer) == (
        alice,
        "i1",
        "s-old",
        False,
        "my answer",
    )
    assert all(_utc(v.created_at) for v in views)
    assert [v.id for v in await store.attempts(alice, since=T0 + timedelta(hours=5))] == [late, same_time]
    assert await store.shown_since(alice, T0) == {"i1", "i2", "i3"}
    assert await store.shown_since(alice, T0 + timedelta(days=1)) == {"i3"}
    assert await store.shown_since(alice, T0 + timedelta(days=3)) == set()


async def test_attempts_filter_by_concepts_and_since(backend: Backend) -> None:
    store, practice = backend.store, backend.practice
    alice = await backend.learner_for("cli", "a", T0)
    bob = await backend.learner_for("cli", "b", T0)

    async def record(learner: int, item: str, concept: str, hours: int) -> int:
        return int(
            await practice.record_answer(
                _attempt(learner, item, T0 + timedelta(hours=hours), concept=concept), None, concept
            )
        )

    # Recorded out of time order; c2 and c3 share a time (then id order decides).
    late_c1 = await record(alice, "c1.02", "c1", 3)
    early_c1 = await record(alice, "c1.01", "c1", 1)
    c2 = await record(alice, "c2.01", "c2", 2)
    c3 = await record(alice, "c3.01", "c3", 2)
    bobs = await record(bob, "c1.01", "c1", 0)

    async def ids(learner: int = alice, **kw: Any) -> list[int]:
        return [v.id for v in await store.attempts(learner, **kw)]

    assert await ids() == [early_c1, c2, c3, late_c1]
    assert await ids(concepts=["c1"]) == [early_c1, late_c1]
    assert await ids(concepts=("c1", "c2")) == [early_c1, c2, late_c1]
    assert await ids(concepts={"c3", "c2"}) == [c2, c3]
    assert await ids(concepts=frozenset({"c1", "c3"})) == [early_c1, c3, late_c1]
    assert await ids(concepts=["c1", "c1"]) == [early_c1, late_c1]
    assert await ids(concepts=[]) == []
    assert await ids(concepts=["nope"]) == []
    assert await ids(bob, concepts=["c1"]) == [bobs]
    assert await ids(bob, concepts=["c2"]) == []
    plus_two = timezone(timedelta(hours=2))
    at_two = (T0 + timedelta(hours=2)).astimezone(plus_two)  # the same instant in another zone; inclusive
    assert await ids(since=at_two) == [c2, c3, late_c1]
    assert await ids(since=at_two, concepts=["c1", "c3"]) == [c3, late_c1]
    assert await ids(since=at_two, concepts=["c1"]) == [late_c1]
    assert await ids(since=T0 + timedelta(hours=3, seconds=1), concepts=["c1", "c2", "c3"]) == []
    views = await store.attempts(alice, since=T0, concepts=["c2"])
    assert [(v.concept, v.item_id, v.learner_id) for v in views] == [("c2", "c2.01", alice)]
    assert all(_utc(v.created_at) for v in views)


async def test_replace_cards_replaces_all_of_the_learners_cards(backend: Backend) -> None:
    store, practice = backend.store, backend.practice
    alice = await backend.learner_for("cli", "a", T0)
    bob = await backend.learner_for("cli", "b", T0)
    await practice.record_answer(_attempt(alice, "old", T0), _card(1, T0), "c1")
    await practice.record_answer(_attempt(bob, "keep", T0), _card(2, T0), "c1")
    await store.replace_cards(alice, [("i1", "c1", _card(3, T0 + timedelta(days=1))), ("i2", "c2", _card(4, T0))])
    cards = dict(await practice.cards(alice))
    assert set(cards) == {"i1", "i2"} and cards["i1"] == _card(3, T0 + timedelta(days=1))
    assert _utc(cards["i1"].due) and _utc(cards["i1"].last_review)
    assert [i for i, _ in await practice.cards(bob)] == ["keep"]
    await store.replace_cards(alice, [])
    assert await practice.cards(alice) == []


async def test_assessments_open_and_finish_once(backend: Backend) -> None:
    store, practice = backend.store, backend.practice
    alice = await backend.learner_for("cli", "a", T0)
    session = _session("chk-1", alice, T0, ("i1", "i2"))
    record = AssessmentRecord("chk-1", alice, "checkpoint", "foundations", T0, T0 + timedelta(minutes=30))
    await store.create_assessment(session, record)
    later = replace(record, id="chk-2", kind="recheck", started_at=T0 + timedelta(days=1))
    await store.create_assessment(replace(session, id="chk-2", created_at=T0 + timedelta(days=1)), later)
    assert await store.assessments(alice) == [record, later]
    stored = await practice.get_session("chk-1")
    assert stored is not None and [i.item_id for i in stored.items] == ["i1", "i2"] and stored.status == "open"
    assert await store.finish_assessment("chk-1", "passed", 2, 2, T0 + timedelta(minutes=5))
    assert not await store.finish_assessment("chk-1", "failed", 0, 2, T0 + timedelta(minutes=6))
    assert not await store.finish_assessment("nope", "failed", 0, 2, T0)
    done = (await store.assessments(alice))[0]
    assert (done.status, done.right, done.total, done.finished_at) == ("passed", 2, 2, T0 + timedelta(minutes=5))
    assert _utc(done.finished_at) and _utc(done.deadline)
    assert (await practice.get_session("chk-1")).status != "open"
    assert await store.assessments(alice + 1000) == []


async def test_awards_are_unique_revocable_and_reactivated(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("cli", "a", T0)
    bob = await backend.learner_for("cli", "b", T0)
    first = await store.save_award(alice, "foundations", T0, "evidence", [3, 1, 2], None, "")
    assert first is not None
    assert await store.save_award(alice, "foundations", T0 + timedelta(hours=1), "admin", [], "root", "again") is None
    other = await store.save_award(bob, "foundations", T0, "admin", [], "root", "granted")
    (award,) = await store.awards(alice)
    assert (award.id, award.stage, award.evidence, award.source, award.active) == (
        first,
        "foundations",
        (3, 1, 2),
        "evidence",
        True,
    )
    assert _utc(award.awarded_at)
    assert [a.id for a in await store.awards()] == [first, other]
    assert await store.revoke_award(alice, "foundations", "root", "copied answers", T0 + timedelta(days=1))
    assert not await store.revoke_award(alice, "foundations", "root", "twice", T0 + timedelta(days=2))
    assert not await store.revoke_award(alice, "classical-ml", "root", "none", T0)
    (revoked,) = await store.awards(alice)
    assert not revoked.active and revoked.revoked_by == "root" and revoked.revoke_reason == "copied answers"
    assert _utc(revoked.revoked_at)
    again = await store.save_award(alice, "foundations", T0 + timedelta(days=3), "admin", [7], "root", "appeal")
    assert again == first
    (back,) = await store.awards(alice)
    assert back.active and back.awarded_at == T0 + timedelta(days=3) and back.evidence == (7,)
    assert (back.source, back.granted_by, back.reason, back.revoked_by, back.revoke_reason) == (
        "admin",
        "root",
        "appeal",
        None,
        "",
    )


async def test_concurrent_save_award_creates_one(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("cli", "a", T0)
    results = await asyncio.gather(
        *(store.save_award(alice, "foundations", T0, "evidence", [n], None, "") for n in range(5))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and results.count(None) == 4
    assert [a.id for a in await store.awards(alice)] == winners
    await store.revoke_award(alice, "foundations", "root", "test", T0)
    again = await asyncio.gather(*(store.save_award(alice, "foundations", T0, "admin", [], "r", "") for _ in range(5)))
    assert [r for r in again if r is not None] == winners


async def test_milestones_are_reviewed_only_while_pending(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("cli", "a", T0)
    bob = await backend.learner_for("cli", "b", T0)
    m1 = await store.add_milestone(alice, "foundations", "https://example.org/a", "my write-up", T0)
    m2 = await store.add_milestone(bob, "foundations", "https://example.org/b", "bob's", T0)
    assert m2 > m1
    assert [m.id for m in await store.milestones("pending")] == [m1, m2]
    assert [m.id for m in await store.milestones(learner_id=bob)] == [m2]
    reviewed = await store.review_milestone(m1, True, "root", "nice", T0 + timedelta(hours=1))
    assert reviewed is not None and reviewed.status == "approved" and reviewed.reviewer == "root"
    assert reviewed.review_note == "nice" and _utc(reviewed.reviewed_at)
    assert await store.review_milestone(m1, False, "other", "no", T0) is None
    assert await store.review_milestone(9999, True, "root", "", T0) is None
    assert await store.milestone(m1) == reviewed
    assert await store.milestone(9999) is None
    rejected = await store.review_milestone(m2, False, "root", "link is broken", T0)
    assert rejected is not None and rejected.status == "rejected"
    assert await store.milestones("pending") == []
    assert [m.id for m in await store.milestones("approved", alice)] == [m1]
    assert _utc((await store.milestone(m2)).submitted_at)


async def test_deliveries_dedupe_and_status_transitions(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("discord", "42", T0)
    payload = {"role": "Foundations", "nested": [1, 2]}
    d1 = await store.queue_delivery(alice, "discord", "42", "role", payload, "award:1:discord", T0)
    assert await store.queue_delivery(alice, "discord", "42", "role", {"x": 1}, "award:1:discord", T0) == d1
    d2 = await store.queue_delivery(alice, "telegram", "7", "badge", {}, "award:1:telegram", T0)
    assert [d.id for d in await store.deliveries()] == [d1, d2]
    assert [d.id for d in await store.deliveries(platform="telegram")] == [d2]
    assert [d.id for d in await store.deliveries(learner_id=alice + 1000)] == []
    (first, _) = await store.deliveries()
    assert first.payload == payload and first.dedupe_key == "award:1:discord" and _utc(first.created_at)
    await store.mark_delivery(d1, "pending", T0, "429 slow down")
    await store.mark_delivery(d1, "pending", T0, "500")
    pending = (await store.deliveries())[0]
    assert (pending.status, pending.attempts, pending.last_error) == ("pending", 2, "500")
    await store.mark_delivery(d1, "delivered", T0 + timedelta(minutes=1))
    await store.mark_delivery(d2, "unreachable", T0, "403 forbidden")
    (delivered,) = await store.deliveries("delivered")
    assert delivered.id == d1 and delivered.delivered_at == T0 + timedelta(minutes=1) and delivered.attempts == 2
    (unreachable,) = await store.deliveries("unreachable")
    assert unreachable.id == d2 and unreachable.attempts == 1 and unreachable.last_error == "403 forbidden"
    assert await store.deliveries() == []
    with pytest.raises(ValueError, match="status"):
        await store.mark_delivery(d1, "lost", T0)


async def test_link_codes_are_single_use_and_expire(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("cli", "a", T0)
    await store.add_link_code("h1", alice, T0 + timedelta(minutes=15), T0)
    await store.add_link_code("h2", alice, T0 + timedelta(minutes=15), T0)
    assert await store.use_link_code("unknown", T0) is None
    assert await store.use_link_code("h1", T0 + timedelta(minutes=1)) == alice
    assert await store.use_link_code("h1", T0 + timedelta(minutes=2)) is None
    assert await store.use_link_code("h2", T0 + timedelta(minutes=15)) is None  # expired at expires_at
    await store.add_link_code("h3", alice, T0 + timedelta(minutes=15), T0)
    results = await asyncio.gather(*(store.use_link_code("h3", T0) for _ in range(5)))
    assert results.count(alice) == 1 and results.count(None) == 4


async def test_merge_moves_everything_and_keeps_the_earlier_award(backend: Backend) -> None:
    store, practice = backend.store, backend.practice
    keep = await backend.learner_for("telegram", "1", T0)
    drop = await backend.learner_for("discord", "2", T0, "Dee")
    await store.save_profile(replace(await store.profile(drop), goal="mlops-engineer", nudge_time="08:00"))
    await practice.record_answer(_attempt(keep, "i1", T0 + timedelta(hours=2)), _card(1, T0), "c1")
    await practice.create_session(_session("s-drop", drop, T0, ("i2",)))
    a_drop = await practice.record_answer(
        _attempt(drop, "i2", T0 + timedelta(hours=1), session_id="s-drop", position=0), _card(2, T0), "c1"
    )
    await store.create_assessment(
        _session("chk-drop", drop, T0, ("i3",)),
        AssessmentRecord("chk-drop", drop, "checkpoint", "foundations", T0, T0 + timedelta(minutes=30)),
    )
    await practice.add_flag("i2", drop, a_drop, "dispute", "mine was right", T0)
    later_keep = await store.save_award(keep, "foundations", T0 + timedelta(days=2), "evidence", [], None, "")
    earlier_drop = await store.save_award(drop, "foundations", T0 + timedelta(days=1), "evidence", [a_drop], None, "")
    kept_keep = await store.save_award(keep, "classical-ml", T0 + timedelta(days=3), "evidence", [], None, "")
    await store.save_award(drop, "classical-ml", T0 + timedelta(days=1), "admin", [], "root", "")
    await store.revoke_award(drop, "classical-ml", "root", "mistake", T0 + timedelta(days=1))
    only_drop = await store.save_award(drop, "deep-learning", T0, "admin", [], "root", "")
    milestone = await store.add_milestone(drop, "foundations", "https://x", "w", T0)
    delivery = await store.queue_delivery(drop, "discord", "2", "role", {}, "k1", T0)
    await store.add_link_code("code", drop, T0 + timedelta(minutes=15), T0)
    await store.add_audit(T0, "root", "grant", drop, "deep-learning", "because")

    await store.merge_learners(keep, drop)

    assert await store.profile(drop) is None
    merged = await store.profile(keep)
    assert (merged.goal, merged.nudge_time, merged.display_name) == ("mlops-engineer", "08:00", "Dee")
    assert await store.identities(keep) == [("discord", "2"), ("telegram", "1")]
    assert await store.learner_by_identity("discord", "2") == keep
    assert [(v.item_id, v.learner_id) for v in await store.attempts(keep)] == [("i2", keep), ("i1", keep)]
    assert await practice.has_attempt(keep, "i2") and await practice.seen_items(keep) == {"i1", "i2"}
    assert [i for i, _ in await practice.cards(keep)] == ["i1"]  # the caller rebuilds cards
    assert await store.shown_since(keep, T0) == {"i2", "i3"}
    assert [a.id for a in await store.assessments(keep)] == ["chk-drop"]
    assert (await practice.get_session("s-drop")).learner_id == keep
    awards = {a.stage: a for a in await store.awards(keep)}
    assert awards["foundations"].id == earlier_drop and awards["foundations"].evidence == (a_drop,)
    assert awards["classical-ml"].id == kept_keep and awards["classical-ml"].active
    assert awards["deep-learning"].id == only_drop
    assert later_keep not in {a.id for a in await store.awards()}
    assert len(await store.awards()) == 3
    assert [m.id for m in await store.milestones(learner_id=keep)] == [milestone]
    assert [d.id for d in await store.deliveries(learner_id=keep)] == [delivery]
    assert await store.use_link_code("code", T0) == keep
    assert [e.learner_id for e in await store.audit_log()] == [keep]
    assert await store.save_award(keep, "foundations", T0, "admin", [], "root", "") is None
    with pytest.raises(ValueError, match="itself"):
        await store.merge_learners(keep, keep)


async def test_forget_deletes_personal_data_and_anonymises_attempts(backend: Backend) -> None:
    store, practice = backend.store, backend.practice
    alice = await backend.learner_for("telegram", "1", T0, "Alice")
    bob = await backend.learner_for("telegram", "2", T0, "Bob")
    await practice.create_session(_session("s1", alice, T0, ("i1", "i2")))
    a1 = await practice.record_answer(
        _attempt(alice, "i1", T0 + timedelta(minutes=1), session_id="s1", position=0, answer="secret"),
        _card(1, T0),
        "c1",
    )
    await practice.record_answer(_attempt(alice, "i2", T0 + timedelta(minutes=2), answer="also"), _card(2, T0), "c1")
    await practice.record_answer(_attempt(bob, "i1", T0, answer="bob's"), None, "c1")
    await store.create_assessment(
        _session("chk", alice, T0, ("i3",)),
        AssessmentRecord("chk", alice, "checkpoint", "foundations", T0, T0 + timedelta(minutes=30)),
    )
    await store.save_award(alice, "foundations", T0, "evidence", [a1], None, "")
    await store.add_milestone(alice, "foundations", "https://me", "about me", T0)
    await store.queue_delivery(alice, "telegram", "1", "badge", {}, "badge:alice", T0)
    await store.add_link_code("code", alice, T0 + timedelta(minutes=15), T0)
    await practice.add_flag("i1", alice, a1, "dispute", "I was right", T0)
    await store.add_audit(T0, "root", "grant", alice, "foundations", "manual")
    await store.add_audit(T0, "root", "grant", bob, "foundations", "manual")
    await backend.log_question(T0, "telegram:1", "what is my data?")
    await backend.log_question(T0, "telegram:2", "bob asks")
    assert [q["question"] for q in await store.questions_asked(["telegram:1"])] == ["what is my data?"]
    assert _utc((await store.questions_asked(["telegram:1"]))[0]["asked_at"])

    counts = await store.forget_learner(alice, ["telegram:1"])

    assert counts == {
        "attempts_anonymised": 2,
        "assessments": 1,
        "sessions": 2,
        "cards": 2,
        "awards": 1,
        "milestones": 1,
        "deliveries": 1,
        "link_codes": 1,
        "identities": 1,
        "flags_unlinked": 1,
        "audit_unlinked": 1,
        "questions": 1,
        "profile": 1,
    }
    assert await store.profile(alice) is None and await store.identities(alice) == []
    assert await store.learner_by_identity("telegram", "1") is None
    assert await store.attempts(alice) == [] and await practice.cards(alice) == []
    assert await store.awards(alice) == [] and await store.milestones(learner_id=alice) == []
    assert await store.deliveries() == [] and await store.use_link_code("code", T0) is None
    assert await practice.get_session("s1") is None and await store.assessments(alice) == []
    assert await store.questions_asked(["telegram:1"]) == []
    assert [q["question"] for q in await store.questions_asked(["telegram:2"])] == ["bob asks"]
    kept = await practice.attempt(a1)
    assert kept is not None and kept.answer == "" and kept.learner_id not in (alice, bob)
    anonymous = await store.profile(kept.learner_id)
    assert anonymous is not None and anonymous.display_name is None
    assert await store.identities(kept.learner_id) == []
    assert [v.answer for v in await store.attempts(kept.learner_id)] == ["", ""]
    assert [v.answer for v in await store.attempts(bob)] == ["bob's"]
    assert sorted(e.learner_id or 0 for e in await store.audit_log()) == [0, bob]
    assert [(f.kind, f.item_id, f.learner_id, f.reason) for f in await practice.flags()] == [
        ("dispute", "i1", None, FORGOTTEN_REASON)
    ]
    nothing = await store.forget_learner(alice, [])
    assert set(nothing.values()) == {0}


async def test_audit_log_is_newest_first(backend: Backend) -> None:
    store = backend.store
    alice = await backend.learner_for("cli", "a", T0)
    old = await store.add_audit(T0, "root", "grant", alice, "foundations", "first", {"evidence": [1, 2]})
    new = await store.add_audit(T0 + timedelta(hours=1), "mod", "revoke", alice, "foundations", "second")
    same = await store.add_audit(T0 + timedelta(hours=1), "mod", "note", None, None, "global")
    entries = await store.audit_log()
    assert [e.id for e in entries] == [same, new, old]
    assert entries[2].details == {"evidence": [1, 2]} and entries[1].details == {}
    assert all(_utc(e.at) for e in entries)
    assert [e.id for e in await store.audit_log(alice)] == [new, old]
    assert [e.id for e in await store.audit_log(limit=1)] == [same]
