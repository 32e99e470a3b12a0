"""Quizzes end to end on SQLite and PostgreSQL with the real question bank (free text graded by a stub)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.core.practice import (
    AlreadyAnsweredError,
    FreeTextGrade,
    InvalidAnswerError,
    NotInSessionError,
    PracticeConfig,
    PracticeError,
    PracticeService,
    SessionExpiredError,
    SessionNotFoundError,
)
from bot.core.questions import FreeTextItem, McqItem, NumericItem, TrueFalseItem, evaluate_numeric, load_bank
from bot.core.srs import Srs
from bot.storage import tables as t
from bot.storage.practice import SqlLearners, SqlPracticeStore
from tests.answers import right_answer as shared_right_answer
from tests.conftest import KNOWLEDGE

BANK = load_bank([KNOWLEDGE / "questions"])
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def exact_grader(item: FreeTextItem, answer: str) -> FreeTextGrade:
    right = answer.strip() == item.reference.strip()
    return FreeTextGrade("correct" if right else "incorrect", float(right))


def _service(engine, clock: Clock, **config: int) -> PracticeService:  # type: ignore[no-untyped-def]
    return PracticeService(
        bank=BANK,
        store=SqlPracticeStore(engine),
        srs=Srs(),
        grade_free_text=exact_grader,
        clock=clock,
        rng=random.Random(7),
        config=PracticeConfig(**config),  # type: ignore[arg-type]
    )


async def _right(service: PracticeService, session, position: int) -> str:  # type: ignore[no-untyped-def]
    """The correct answer as the learner would type it, from the stored session."""
    record = await service.store.get_session(session.id)
    rec = record.items[position]
    return shared_right_answer(BANK.item(rec.item_id), rec)


async def _wrong(service: PracticeService, session, position: int) -> str:  # type: ignore[no-untyped-def]
    record = await service.store.get_session(session.id)
    rec = record.items[position]
    item = BANK.item(rec.item_id)
    if isinstance(item, McqItem):
        return "ABCD"[(rec.option_order.index(item.answer) + 1) % 4]
    if isinstance(item, TrueFalseItem):
        return "false" if item.answer else "true"
    if isinstance(item, NumericItem):
        return repr(evaluate_numeric(item, rec.params) + 1000 * item.tolerance + 1)
    return "I am not sure."


async def test_learn_quiz_interleaves_the_first_two_concepts_and_shuffles_options(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learner = await SqlLearners(engine).learner_for("cli", "local", clock.now)
    service = _service(engine, clock)
    quiz = await service.start_quiz(learner, "learn", 6)
    concepts = [i.concept for i in quiz.items]
    assert set(concepts) == {"supervised-unsupervised", "linear-logistic-regression"}
    assert all(a != b for a, b in itertools.pairwise(concepts))
    record = await service.store.get_session(quiz.id)
    for delivered, rec in zip(quiz.items, record.items, strict=True):
        item = BANK.item(rec.item_id)
        if isinstance(item, McqItem):
            assert sorted(rec.option_order) == [0, 1, 2, 3]
            assert delivered.options == tuple(item.options[i] for i in rec.option_order)
        if isinstance(item, NumericItem) and item.params:
            assert "{" not in delivered.prompt


async def test_answers_are_graded_scheduled_and_idempotent(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learner = await SqlLearners(engine).learner_for("cli", "local", clock.now)
    service = _service(engine, clock)
    quiz = await service.start_quiz(learner, "learn", 4)
    answer = await _right(service, quiz, 0)
    first = await service.submit_answer(learner, quiz.id, 0, answer, latency_ms=8000, platform="cli")
    assert first.verdict == "correct" and first.correct and not first.duplicate
    assert first.next_review is not None and first.next_review > clock.now
    assert first.source.startswith("knowledge/concepts/classical-ml/")
    again = await service.submit_answer(learner, quiz.id, 0, f"  {answer} ", latency_ms=100, platform="cli")
    assert again.duplicate and again.attempt_id == first.attempt_id and again.verdict == "correct"
    with pytest.raises(AlreadyAnsweredError):
        await service.submit_answer(learner, quiz.id, 0, await _wrong(service, quiz, 0), latency_ms=100, platform="cli")
    wrong = await service.submit_answer(
        learner, quiz.id, 1, await _wrong(service, quiz, 1), latency_ms=5000, platform="cli"
    )
    assert wrong.verdict == "incorrect" and wrong.correct_answer
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.attempts))).scalar_one() == 2
        assert (await conn.execute(select(func.count()).select_from(t.cards))).scalar_one() == 2


async def test_bad_requests_are_rejected_and_record_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learners = SqlLearners(engine)
    alice = await learners.learner_for("telegram", "1", clock.now)
    bob = await learners.learner_for("discord", "2", clock.now)
    assert alice != bob and await learners.learner_for("telegram", "1", clock.now) == alice
    service = _service(engine, clock)
    quiz = await service.start_quiz(alice, "learn", 10)
    with pytest.raises(NotInSessionError):
        await service.submit_answer(alice, quiz.id, 99, "A", latency_ms=1, platform="cli")
    with pytest.raises(SessionNotFoundError):
        await service.submit_answer(bob, quiz.id, 0, "A", latency_ms=1, platform="cli")
    with pytest.raises(SessionNotFoundError):
        await service.submit_answer(alice, "forged-session-id", 0, "A", latency_ms=1, platform="cli")
    record = await service.store.get_session(quiz.id)
    mcq_pos = next(r.position for r in record.items if isinstance(BANK.item(r.item_id), McqItem))
    with pytest.raises(InvalidAnswerError, match="A–D"):
        await service.submit_answer(alice, quiz.id, mcq_pos, "E", latency_ms=1, platform="cli")
    clock.now += timedelta(hours=3)
    with pytest.raises(SessionExpiredError):
        await service.submit_answer(alice, quiz.id, 0, "A", latency_ms=1, platform="cli")
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.attempts))).scalar_one() == 0


async def test_a_restart_loses_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learner = await SqlLearners(engine).learner_for("cli", "local", clock.now)
    quiz = await _service(engine, clock).start_quiz(learner, "learn", 3)
    first = _service(engine, clock)
    await first.submit_answer(learner, quiz.id, 0, await _right(first, quiz, 0), latency_ms=9000, platform="cli")
    restarted = _service(engine, clock)  # a new process: nothing in memory
    reopened = await restarted.open_session(learner, quiz.id)
    assert [i.item_id for i in reopened.items] == [i.item_id for i in quiz.items]
    assert [i.answered for i in reopened.items] == [True, False, False]
    again = await restarted.submit_answer(
        learner, quiz.id, 1, await _right(restarted, quiz, 1), latency_ms=9000, platform="cli"
    )
    assert again.verdict == "correct"


async def test_reviews_come_due_most_overdue_first(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learner = await SqlLearners(engine).learner_for("cli", "local", clock.now)
    service = _service(engine, clock)
    with pytest.raises(PracticeError, match="nothing is due"):
        await service.start_quiz(learner, "review", 5)
    quiz = await service.start_quiz(learner, "learn", 4)
    for pos in range(4):
        answer = await (_right if pos % 2 else _wrong)(service, quiz, pos)
        await service.submit_answer(learner, quiz.id, pos, answer, latency_ms=10_000, platform="cli")
    clock.now += timedelta(days=60)
    review = await service.start_quiz(learner, "review", 10)
    assert {i.item_id for i in review.items} == {i.item_id for i in quiz.items}
    cards = dict(await service.store.cards(learner))
    dues = [cards[i.item_id].due for i in review.items]
    assert dues == sorted(dues)


async def test_daily_caps_and_catch_up(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learner = await SqlLearners(engine).learner_for("cli", "local", clock.now)
    service = _service(engine, clock, daily_new_cap=3, daily_review_cap=1, catch_up_days=1)
    quiz = await service.start_quiz(learner, "learn", 10)
    assert len(quiz.items) == 3
    for pos in range(3):
        await service.submit_answer(
            learner, quiz.id, pos, await _wrong(service, quiz, pos), latency_ms=9000, platform="cli"
        )
    with pytest.raises(PracticeError, match="limit"):
        await service.start_quiz(learner, "learn", 10)
    clock.now += timedelta(days=30)
    review = await service.start_quiz(learner, "review", 10)
    assert len(review.items) == 1 and review.catch_up and review.backlog == 3


async def test_reports_disputes_and_item_statistics(engine) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    learners = SqlLearners(engine)
    service = _service(engine, clock)
    store = SqlPracticeStore(engine)
    attempt_ids = []
    for n in range(4):
        learner = await learners.learner_for("cli", f"l{n}", clock.now)
        quiz = await service.start_quiz(learner, "learn", 2)
        for pos in range(2):
            answer = await (_right if n % 2 == 0 else _wrong)(service, quiz, pos)
            result = await service.submit_answer(learner, quiz.id, pos, answer, latency_ms=9000, platform="cli")
            attempt_ids.append((learner, result.attempt_id, quiz.items[pos].item_id))
    learner, attempt_id, item_id = attempt_ids[-1]
    await service.report_item(learner, item_id, "two options look right")
    await service.dispute_grade(learner, attempt_id, "my answer says the same thing")
    with pytest.raises(PracticeError):
        await service.dispute_grade(learner + 1000, attempt_id, "not mine")
    flags = await store.flags()
    assert {(f.kind, f.item_id) for f in flags} == {("report", item_id), ("dispute", item_id)}
    stats = {s.item_id: s for s in await store.item_stats([item_id])}
    assert stats[item_id].reports == 1 and stats[item_id].disputes == 1
    assert stats[item_id].attempts >= 1 and stats[item_id].difficulty is not None


async def test_a_known_misconception_in_a_free_text_answer_is_named_in_the_feedback(engine) -> None:  # type: ignore[no-untyped-def]
    item = BANK.item("bias-variance.11")
    assert isinstance(item, FreeTextItem) and item.misconceptions
    claim = item.misconceptions[0]

    async def grader(graded: FreeTextItem, answer: str) -> FreeTextGrade:
        stated = tuple(m for m in graded.misconceptions if m in answer)
        return FreeTextGrade("incorrect" if stated else "partial", 0.2, mistakes=stated)

    clock = Clock()
    service = replace(_service(engine, clock), grade_free_text=grader)
    learner = await SqlLearners(engine).learner_for("cli", "m", clock.now)
    session = service.build_session(learner, "learn", [item.id], clock.now, timedelta(hours=1))
    await service.store.create_session(session)
    result = await service.submit_answer(learner, session.id, 0, f"I think {claim}", latency_ms=20_000, platform="cli")
    assert result.verdict == "incorrect" and result.mistakes == (claim,)
    assert "common misconception" in result.feedback and claim in result.feedback
    other = service.build_session(learner, "learn", [item.id], clock.now, timedelta(hours=1))
    await service.store.create_session(other)
    plain = await service.submit_answer(learner, other.id, 0, "Something else.", latency_ms=20_000, platform="cli")
    assert plain.mistakes == () and "misconception" not in plain.feedback
