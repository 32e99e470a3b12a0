"""MasteryService on the in-memory store: assessments, awards, milestones, settings, progress, linking, data rights.

The helpers at the top (`make_harness`, `practise`, `take`) drive a learner through the real
PracticeService and MasteryService with the bundled question bank and a fake clock; the integration
tests in tests/integration/test_mastery_service.py reuse them on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.assessments import assessable
from bot.core.content import STAGE_CONCEPTS, load_roadmap
from bot.core.practice import FreeTextGrade, PracticeError, PracticeService, SessionRecord
from bot.core.progress import LINK_ALPHABET, LINK_CODE_TTL, MasteryService, Outcome
from bot.core.questions import FlashcardItem, FreeTextItem, McqItem, NumericItem, TrueFalseItem, evaluate_numeric
from bot.core.questions import load_bank as _load_bank
from bot.core.records import FORGOTTEN_REASON
from bot.core.srs import Srs
from bot.memory_store import MemoryStore
from tests.answers import right_answer as shared_right_answer
from tests.conftest import KNOWLEDGE

BANK = _load_bank([KNOWLEDGE / "questions"])
ROADMAP = load_roadmap(KNOWLEDGE)
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
STAGE = "classical-ml"
CONCEPTS = STAGE_CONCEPTS[STAGE]
SLOW_MS = 20_000  # a plausible answer time: above every item's "too fast" threshold, below the limits
STEP = timedelta(seconds=20)


class Clock:
    """A fake UTC clock the tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def exact_grader(item: FreeTextItem, answer: str) -> FreeTextGrade:
    """Free text is right when it is the reference answer (ranking is not the point here)."""
    right = answer.strip() == item.reference.strip()
    return FreeTextGrade("correct" if right else "incorrect", float(right))


@dataclass
class Harness:
    service: MasteryService
    store: Any  # the MasteryStore under test
    practice_store: Any  # the PracticeStore under test
    clock: Clock
    learner_for: Callable[..., Awaitable[int]]

    async def learner(self, platform: str = "discord", external_id: str = "1") -> int:
        return await self.learner_for(platform, external_id, self.clock.now)


def make_harness(
    store: Any, practice_store: Any, learner_for: Callable[..., Awaitable[int]], **service: Any
) -> Harness:
    clock = Clock()
    practice = PracticeService(BANK, practice_store, Srs(), exact_grader, clock, random.Random(7))
    return Harness(
        MasteryService(practice, store, ROADMAP, clock, random.Random(11), **service),
        store,
        practice_store,
        clock,
        learner_for,
    )


def right_answer(record: SessionRecord, position: int) -> str:
    """The correct answer as the learner would type it, from the stored session."""
    rec = record.items[position]
    return shared_right_answer(BANK.item(rec.item_id), rec)


def wrong_answer(record: SessionRecord, position: int) -> str:
    rec = record.items[position]
    item = BANK.item(rec.item_id)
    if isinstance(item, McqItem):
        return "ABCD"[(rec.option_order.index(item.answer) + 1) % 4]
    if isinstance(item, TrueFalseItem):
        return "false" if item.answer else "true"
    if isinstance(item, NumericItem):
        return repr(evaluate_numeric(item, rec.params) + 10 * item.tolerance + 1)
    return "no idea"


def practice_items(concept: str) -> list[str]:
    """The concept's items that assessments never draw (true/false, free text): 3 per concept."""
    return [i.id for i in BANK.for_concept(concept) if not assessable(i) and not isinstance(i, FlashcardItem)]


async def practise(
    h: Harness,
    learner: int,
    concepts: tuple[str, ...] | list[str],
    *,
    right: bool = True,
    items: list[str] | None = None,
) -> list[Outcome]:
    """Answer a learn session over `items` (default: the non-assessable items of `concepts`)."""
    ids = items if items is not None else [i for c in concepts for i in practice_items(c)]
    session = h.service.practice.build_session(learner, "learn", ids, h.clock.now, timedelta(hours=2))
    await h.practice_store.create_session(session)
    outcomes = []
    for rec in session.items:
        h.clock.advance(STEP)
        answer = right_answer(session, rec.position) if right else wrong_answer(session, rec.position)
        outcomes.append(
            await h.service.answer(learner, session.id, rec.position, answer, latency_ms=SLOW_MS, platform="discord")
        )
    return outcomes


async def show(h: Harness, learner: int, item_ids: list[str]) -> None:
    """Show items in a learn session without answering them."""
    session = h.service.practice.build_session(learner, "learn", item_ids, h.clock.now, timedelta(hours=2))
    await h.practice_store.create_session(session)


async def take(
    h: Harness,
    learner: int,
    kind: str,
    stage: str = STAGE,
    right: int | None = None,
    *,
    wrong_concepts: tuple[str, ...] = (),
    latency_ms: int = SLOW_MS,
) -> tuple[SessionRecord, list[Outcome]]:
    """Start an assessment and answer every item: the first `right` correctly (default all) unless
    the item's concept is in `wrong_concepts`, the rest wrongly."""
    start = await h.service.start_assessment(learner, kind, stage)
    record = await h.practice_store.get_session(start.assessment.id)
    assert record is not None
    n_right = len(record.items) if right is None else right
    outcomes = []
    for rec in record.items:
        h.clock.advance(STEP)
        ok = rec.position < n_right and BANK.item(rec.item_id).concept not in wrong_concepts
        answer = right_answer(record, rec.position) if ok else wrong_answer(record, rec.position)
        outcomes.append(
            await h.service.answer(learner, record.id, rec.position, answer, latency_ms=latency_ms, platform="discord")
        )
    return record, outcomes


def day(at: datetime) -> str:
    """How the service writes a moment for the learner."""
    return f"{at:%d %b %H:%M} UTC"


@pytest.fixture
def h() -> Harness:
    store = MemoryStore()
    return make_harness(store, store, store.learner_for)


def _title(concept: str) -> str:
    return concept.replace("-", " ").capitalize()


# --- assessments: which items --------------------------------------------------------------


async def test_assessment_items_are_unseen_four_option_mcqs_or_numerics_of_the_stage(h: Harness) -> None:
    learner = await h.learner()
    pool = [i.id for i in BANK.for_stage(STAGE) if assessable(i)]
    assert len(pool) == 63
    rng = random.Random(3)
    rng.shuffle(pool)
    old, recent = pool[:45], pool[45:55]  # 18 never shown
    await show(h, learner, old)
    h.clock.advance(timedelta(days=7, minutes=1))  # `old` is now outside the 7-day window
    await show(h, learner, recent)
    h.clock.advance(timedelta(hours=3))
    start = await h.service.start_assessment(learner, "placement", STAGE)
    ids = [i.item_id for i in start.session.items]
    assert len(ids) == len(set(ids)) == 25
    assert not set(ids) & set(recent)
    assert set(ids) & set(old)  # only 8 unseen + the 18 never shown: the old ones are eligible again
    for item_id in ids:
        item = BANK.item(item_id)
        assert BANK.stage_of(item_id) == STAGE
        assert (isinstance(item, McqItem) and len(item.options) == 4) or isinstance(item, NumericItem)
    assert start.time_limits_ms == {d.position: (90_000 if d.type == "mcq" else 240_000) for d in start.session.items}
    assert start.assessment.deadline == T0 + timedelta(days=7, minutes=1, hours=3) + timedelta(
        milliseconds=sum(start.time_limits_ms.values())
    )


async def test_too_few_unseen_items_refuses_the_assessment(h: Harness) -> None:
    learner = await h.learner()
    pool = [i.id for i in BANK.for_stage(STAGE) if assessable(i)]
    await show(h, learner, pool[:40])
    with pytest.raises(PracticeError, match=r"only 23 questions .* 25 are needed"):
        await h.service.start_assessment(learner, "placement", STAGE)
    assert await h.store.assessments(learner) == []


async def test_the_private_bank_comes_first_when_it_has_enough(h: Harness) -> None:
    pool = [i.id for i in BANK.for_stage(STAGE) if assessable(i)]
    private = frozenset(pool[::2][:25])
    service = MasteryService(h.service.practice, h.store, ROADMAP, h.clock, random.Random(5), private_items=private)
    learner = await h.learner()
    start = await service.start_assessment(learner, "placement", STAGE)
    assert {i.item_id for i in start.session.items} == private


# --- checkpoints -----------------------------------------------------------------------------


async def test_checkpoint_opens_only_when_every_concept_is_proficient(h: Harness) -> None:
    learner = await h.learner()
    reason = await h.service.availability(learner, "checkpoint", STAGE)
    assert reason is not None and all(_title(c) in reason for c in CONCEPTS)
    with pytest.raises(PracticeError, match="every concept of classical-ml is proficient"):
        await h.service.start_assessment(learner, "checkpoint", STAGE)
    await practise(h, learner, CONCEPTS[:-1])
    reason = await h.service.availability(learner, "checkpoint", STAGE)
    assert reason is not None and reason.endswith(
        f"still to go: {_title(CONCEPTS[-1])} (or take the placement to test out)"
    )
    await practise(h, learner, CONCEPTS[-1:])
    assert await h.service.availability(learner, "checkpoint", STAGE) is None
    start = await h.service.start_assessment(learner, "checkpoint", STAGE)
    assert len(start.session.items) == 20 and start.assessment.kind == "checkpoint"


async def test_checkpoint_needs_17_of_20_and_is_once_per_day(h: Harness) -> None:
    learner = await h.learner()
    await practise(h, learner, CONCEPTS)
    record, outcomes = await take(h, learner, "checkpoint", right=16)
    failed = outcomes[-1].assessment
    assert failed is not None and (failed.right, failed.total, failed.passed) == (16, 20, False)
    assert all(o.assessment is None for o in outcomes[:-1])
    assert failed.message == "checkpoint classical-ml: 16/20 right (17 needed): not passed"
    started = record.created_at
    with pytest.raises(PracticeError, match=f"after {day(started + timedelta(hours=24))}"):
        await h.service.start_assessment(learner, "checkpoint", STAGE)
    h.clock.now = started + timedelta(hours=24)
    # The misses may have dropped a concept below proficient: six more right answers each refill every window.
    await practise(h, learner, CONCEPTS)
    await practise(h, learner, CONCEPTS)
    _, outcomes = await take(h, learner, "checkpoint", right=17)
    passed = outcomes[-1].assessment
    assert passed is not None and passed.passed and passed.right == 17
    (first, second) = await h.store.assessments(learner)
    assert (first.status, second.status, second.right, second.total) == ("failed", "passed", 17, 20)
    h.clock.advance(timedelta(days=2))
    assert await h.service.availability(learner, "checkpoint", STAGE) == (
        "you already passed the checkpoint for classical-ml; the re-check comes next"
    )


async def test_recheck_opens_three_days_after_the_checkpoint(h: Harness) -> None:
    learner = await h.learner()
    assert await h.service.availability(learner, "recheck", STAGE) == (
        "pass the checkpoint (or placement) for classical-ml first"
    )
    await practise(h, learner, CONCEPTS)
    await take(h, learner, "checkpoint")
    passed_at = h.clock.now
    opens = passed_at + timedelta(days=3)
    h.clock.now = opens - timedelta(minutes=1)
    assert (
        await h.service.availability(learner, "recheck", STAGE)
        == f"the re-check for classical-ml opens on {day(opens)}"
    )
    with pytest.raises(PracticeError, match="opens on"):
        await h.service.start_assessment(learner, "recheck", STAGE)
    h.clock.now = opens
    assert await h.service.availability(learner, "recheck", STAGE) is None


async def test_recheck_draws_20_items_the_gate_did_not_use_even_after_a_week(h: Harness) -> None:
    learner = await h.learner()
    placement, _ = await take(h, learner, "placement")
    h.clock.advance(timedelta(days=10))  # the placement's items left the 7-day window
    start = await h.service.start_assessment(learner, "recheck", STAGE)
    ids = {i.item_id for i in start.session.items}
    assert len(ids) == 20
    assert not ids & {i.item_id for i in placement.items}


async def test_a_failed_recheck_can_be_retaken_after_a_day(h: Harness) -> None:
    learner = await h.learner()
    await take(h, learner, "placement")
    h.clock.advance(timedelta(days=3))
    record, outcomes = await take(h, learner, "recheck", right=16)
    assert outcomes[-1].assessment is not None and not outcomes[-1].assessment.passed
    assert outcomes[-1].award is None
    reason = await h.service.availability(learner, "recheck", STAGE)
    assert (
        reason
        == f"you can take the next re-check for classical-ml after {day(record.created_at + timedelta(hours=24))}"
    )
    h.clock.now = record.created_at + timedelta(hours=24)
    assert await h.service.availability(learner, "recheck", STAGE) is None


# --- placements ------------------------------------------------------------------------------


async def test_placement_needs_22_of_25_once_a_week_and_its_answers_count_toward_levels(h: Harness) -> None:
    learner = await h.learner()
    record, outcomes = await take(h, learner, "placement", right=21)
    result = outcomes[-1].assessment
    assert result is not None and (result.right, result.total, result.pass_right, result.passed) == (21, 25, 22, False)
    views = await h.store.attempts(learner)
    assert len(views) == 25 and {v.kind for v in views} == {"placement"}
    assert {v.session_id for v in views} == {record.id}
    # Every concept got 3-4 placement items; those answered all right are proficient now.
    all_right = {c for c in CONCEPTS} - {BANK.item(r.item_id).concept for r in record.items if r.position >= 21}
    levels = {c.concept: c.level for c in (await h.service.get_progress(learner)).stages[0].concepts}
    assert all_right and {levels[c] for c in all_right} == {"proficient"}
    assert "not-started" not in levels.values()
    h.clock.now = record.created_at + timedelta(days=7) - timedelta(seconds=1)
    with pytest.raises(
        PracticeError, match=f"next placement for classical-ml after {day(record.created_at + timedelta(days=7))}"
    ):
        await h.service.start_assessment(learner, "placement", STAGE)
    h.clock.now = record.created_at + timedelta(days=7)
    _, outcomes = await take(h, learner, "placement")
    assert outcomes[-1].assessment is not None and outcomes[-1].assessment.passed
    stage = (await h.service.get_progress(learner)).stages[0]
    assert stage.checkpoint.startswith("passed (placement,")


# --- time limits and fast answers -------------------------------------------------------------


async def test_an_answer_after_the_item_time_limit_counts_as_wrong(h: Harness) -> None:
    learner = await h.learner()
    start = await h.service.start_assessment(learner, "placement", STAGE)
    record = await h.practice_store.get_session(start.assessment.id)
    mcq = next(r for r in record.items if isinstance(BANK.item(r.item_id), McqItem))
    numeric = next(r for r in record.items if isinstance(BANK.item(r.item_id), NumericItem))
    late = await h.service.answer(
        learner, record.id, mcq.position, right_answer(record, mcq.position), latency_ms=90_001, platform="cli"
    )
    assert late.result.verdict == "incorrect" and late.result.feedback.startswith("Time is up")
    in_time = await h.service.answer(
        learner, record.id, numeric.position, right_answer(record, numeric.position), latency_ms=200_000, platform="cli"
    )
    assert in_time.result.correct  # numeric items get 240 s
    # Outside an assessment there is no per-item limit.
    outcomes = await practise(h, learner, [], items=practice_items(CONCEPTS[0])[:1])
    assert outcomes[0].result.correct


async def test_an_expired_assessment_is_scored_and_closed_lazily(h: Harness) -> None:
    learner = await h.learner()
    start = await h.service.start_assessment(learner, "placement", STAGE)
    record = await h.practice_store.get_session(start.assessment.id)
    for rec in record.items[:3]:
        await h.service.answer(
            learner, record.id, rec.position, right_answer(record, rec.position), latency_ms=SLOW_MS, platform="cli"
        )
    assert await h.service.mentor_refusal(learner) is not None
    h.clock.now = start.assessment.deadline
    (still,) = await h.store.assessments(learner)
    assert still.status == "open"  # nothing runs in the background
    assert await h.service.open_assessment(learner) is None
    (closed,) = await h.store.assessments(learner)
    assert (closed.status, closed.right, closed.total, closed.finished_at) == (
        "failed",
        3,
        25,
        start.assessment.deadline,
    )
    assert await h.service.mentor_refusal(learner) is None


async def test_a_recheck_passed_before_its_deadline_awards_when_progress_is_read(h: Harness) -> None:
    learner = await h.learner("telegram", "9")
    await take(h, learner, "placement")
    h.clock.advance(timedelta(days=3))
    start = await h.service.start_assessment(learner, "recheck", STAGE)
    record = await h.practice_store.get_session(start.assessment.id)
    for rec in record.items[:17]:  # 17 right, then the learner walks away
        outcome = await h.service.answer(
            learner, record.id, rec.position, right_answer(record, rec.position), latency_ms=SLOW_MS, platform="cli"
        )
        assert outcome.award is None and outcome.assessment is None
    h.clock.now = start.assessment.deadline + timedelta(minutes=5)
    progress = await h.service.get_progress(learner)
    stage = progress.stages[0]
    assert progress.open_assessment is None
    assert stage.awarded and stage.recheck == "done"
    (award,) = await h.store.awards(learner)
    assert award.source == "evidence" and award.active
    assert {v.id for v in await h.store.attempts(learner) if v.session_id == record.id} <= set(award.evidence)
    (delivery,) = await h.store.deliveries(learner_id=learner)
    assert (delivery.platform, delivery.kind) == ("telegram", "award-grant")
    (closed,) = [a for a in await h.store.assessments(learner) if a.id == record.id]
    assert (closed.status, closed.right, closed.total) == ("passed", 17, 20)


async def test_an_expired_checkpoint_shows_as_passed_in_progress(h: Harness) -> None:
    learner = await h.learner()
    await practise(h, learner, CONCEPTS)
    start = await h.service.start_assessment(learner, "checkpoint", STAGE)
    record = await h.practice_store.get_session(start.assessment.id)
    for rec in record.items[:18]:
        await h.service.answer(
            learner, record.id, rec.position, right_answer(record, rec.position), latency_ms=SLOW_MS, platform="cli"
        )
    h.clock.now = start.assessment.deadline
    stage = (await h.service.get_progress(learner)).stages[0]
    assert stage.checkpoint == f"passed (checkpoint, {start.assessment.deadline:%d %b})"
    assert (
        stage.recheck == f"the re-check for classical-ml opens on {day(start.assessment.deadline + timedelta(days=3))}"
    )


# --- reports and disputes ----------------------------------------------------------------------


def _free_text_items(concept: str) -> list[str]:
    return [i.id for i in BANK.for_concept(concept) if isinstance(i, FreeTextItem)]


def _level(progress: Any, concept: str) -> str:
    return next(c.level for s in progress.stages for c in s.concepts if c.concept == concept)


async def test_an_upheld_dispute_counts_the_practice_answer_as_correct(h: Harness) -> None:
    learner = await h.learner()
    concept = CONCEPTS[0]
    (wrong,) = await practise(h, learner, [concept], right=False, items=_free_text_items(concept)[:1])
    assert wrong.result.verdict == "incorrect"
    assert _level(await h.service.get_progress(learner), concept) == "attempted"
    flag_id = await h.service.practice.dispute_grade(learner, wrong.result.attempt_id, "same idea, other words")
    with pytest.raises(PracticeError, match="already disputed"):
        await h.service.practice.dispute_grade(learner, wrong.result.attempt_id, "again")

    other = await h.learner("telegram", "77")
    assert [f.id for f in await h.service.practice.my_flags(other)] == []
    flag, award = await h.service.resolve_flag(flag_id, "uphold", "cli:admin", "a fair paraphrase")
    assert [(f.id, f.status) for f in await h.service.practice.my_flags(learner)] == [(flag_id, "upheld")]
    assert (flag.status, flag.resolved_by, flag.note, award) == ("upheld", "cli:admin", "a fair paraphrase", None)
    assert _level(await h.service.get_progress(learner), concept) == "familiar"
    (entry,) = await h.store.audit_log(learner)
    assert (entry.actor, entry.action, entry.stage, entry.details["flag"]) == (
        "cli:admin",
        "dispute-upheld",
        STAGE,
        flag_id,
    )
    with pytest.raises(PracticeError, match="already resolved: upheld by cli:admin"):
        await h.service.resolve_flag(flag_id, "reject", "cli:other")
    with pytest.raises(PracticeError, match="already looked at that answer"):
        await h.service.practice.dispute_grade(learner, wrong.result.attempt_id, "once more")
    with pytest.raises(PracticeError, match="does not exist"):
        await h.service.resolve_flag(flag_id + 100, "uphold", "cli:admin")
    # A right answer has nothing to dispute.
    (right,) = await practise(h, learner, [concept], items=_free_text_items(concept)[1:2])
    with pytest.raises(PracticeError, match="nothing to dispute"):
        await h.service.practice.dispute_grade(learner, right.result.attempt_id, "why not")


async def test_assessment_answers_are_final_and_reports_change_no_grade(h: Harness) -> None:
    learner = await h.learner()
    start = await h.service.start_assessment(learner, "placement", STAGE)
    record = await h.practice_store.get_session(start.assessment.id)
    h.clock.advance(STEP)
    missed = await h.service.answer(learner, record.id, 0, wrong_answer(record, 0), latency_ms=SLOW_MS, platform="cli")
    flag_id = await h.service.practice.dispute_grade(learner, missed.result.attempt_id, "the key is wrong")
    with pytest.raises(PracticeError, match="assessment answers are final"):
        await h.service.resolve_flag(flag_id, "uphold", "cli:admin")
    flag, _ = await h.service.resolve_flag(flag_id, "reject", "cli:admin", "the key is right")
    assert flag.status == "rejected"
    report = await h.service.practice.report_item(learner, record.items[1].item_id, "typo in option B")
    flag, award = await h.service.resolve_flag(report, "uphold", "cli:admin", "fixed the typo")
    assert (flag.status, award) == ("upheld", None)
    verdicts = {v.id: v.verdict for v in await h.store.attempts(learner)}
    assert verdicts == {missed.result.attempt_id: "incorrect"}
    assert [e.action for e in await h.store.audit_log(learner)] == ["report-upheld", "dispute-rejected"]


async def test_upholding_the_last_missing_dispute_completes_the_award(h: Harness) -> None:
    learner = await h.learner()
    stage, weak = "deep-learning", STAGE_CONCEPTS["deep-learning"][0]
    await take(h, learner, "placement", stage=stage)
    # Practice answers the grader rejected, then a passed re-check: the weak concept's window of the
    # last five distinct items holds the re-check's items (right) and these three (wrong).
    wrong = await practise(h, learner, [weak], right=False)
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck", stage=stage)
    assert outcomes[-1].assessment is not None and outcomes[-1].assessment.passed
    assert outcomes[-1].award is None
    assert _level(await h.service.get_progress(learner), weak) not in ("proficient", "mastered")
    # Upholding the free-text disputes (the true/false miss stays) lifts the concept to proficient,
    # and the award comes with the uphold that does it.
    awards, proficient = [], []
    for item_id, outcome in zip(practice_items(weak), wrong, strict=True):
        if item_id not in _free_text_items(weak):
            continue
        flag_id = await h.service.practice.dispute_grade(learner, outcome.result.attempt_id, "that is right")
        _, award = await h.service.resolve_flag(flag_id, "uphold", "cli:admin")
        awards.append(award)
        proficient.append(_level(await h.service.get_progress(learner), weak) in ("proficient", "mastered"))
    assert len(awards) == 2 and proficient[-1]
    granted = [a for a in awards if a is not None]
    assert len(granted) == 1 and awards.index(granted[0]) == proficient.index(True)
    assert (granted[0].stage, granted[0].source) == (stage, "evidence")
    assert [a.stage for a in await h.store.awards(learner)] == [stage]


async def test_a_retired_item_is_not_served_in_quizzes_until_restored(h: Harness) -> None:
    learner = await h.learner()
    first = await h.service.practice.start_quiz(learner, "learn", 20)
    await h.practice_store.close_session(first.id, "abandoned")
    served_before = [i.item_id for i in first.items]
    gone = served_before[:3]
    for item_id in gone:
        retired = await h.service.retire_item(item_id, "cli:admin", "the key is wrong")
        assert (retired.item_id, retired.retired_by, retired.retired_at) == (item_id, "cli:admin", h.clock.now)
    fresh = await h.learner("telegram", "9")
    served = [i.item_id for i in (await h.service.practice.start_quiz(fresh, "learn", 20)).items]
    assert len(served) == 20 and not set(served) & set(gone)
    with pytest.raises(PracticeError, match="already retired"):
        await h.service.retire_item(gone[0], "cli:admin", "again")
    with pytest.raises(PracticeError, match=r"no item 'nope\.01'"):
        await h.service.retire_item("nope.01", "cli:admin", "x")
    with pytest.raises(PracticeError, match="a reason is required"):
        await h.service.retire_item(served[0], "cli:admin", " ")
    for item_id in gone:
        await h.service.restore_item(item_id, "cli:admin", "key fixed")
    with pytest.raises(PracticeError, match="is not retired"):
        await h.service.restore_item(gone[0], "cli:admin")
    assert await h.practice_store.retired_items() == {}
    actions = [(e.action, e.details["item"]) for e in await h.store.audit_log() if e.action.startswith("item-")]
    assert actions == [*(("item-restore", i) for i in reversed(gone)), *(("item-retire", i) for i in reversed(gone))]


async def test_assessments_draw_only_items_in_rotation(h: Harness) -> None:
    learner = await h.learner()
    pool = [i.id for c in CONCEPTS for i in BANK.for_concept(c) if assessable(i)]
    size = h.service.rules.spec("placement").items
    keep = set(random.Random(3).sample(pool, size))  # exactly a placement's worth
    for item_id in pool:
        if item_id not in keep:
            await h.service.retire_item(item_id, "cli:admin", "under review")
    start = await h.service.start_assessment(learner, "placement", STAGE)
    assert {i.item_id for i in start.session.items} == keep
    await h.practice_store.close_session(start.session.id, "abandoned")
    other = await h.learner("telegram", "11")
    await h.service.retire_item(sorted(keep)[0], "cli:admin", "one more")
    with pytest.raises(PracticeError, match=f"only {size - 1} questions of this stage are eligible"):
        await h.service.start_assessment(other, "placement", STAGE)


async def test_a_retired_item_leaves_the_reviews(h: Harness) -> None:
    learner = await h.learner()
    outcomes = await practise(h, learner, [CONCEPTS[0]], right=False)
    assert outcomes
    h.clock.advance(timedelta(days=2))
    due = {i.item_id for i in (await h.service.practice.start_quiz(learner, "review", 20)).items}
    assert due
    gone = sorted(due)[0]
    await h.service.retire_item(gone, "cli:admin", "ambiguous wording")
    h.clock.advance(timedelta(hours=1))
    again = {i.item_id for i in (await h.service.practice.start_quiz(learner, "review", 20)).items}
    assert gone not in again and again == due - {gone}


async def test_implausibly_fast_answers_are_flagged_but_count(h: Harness) -> None:
    learner = await h.learner()
    start = await h.service.start_assessment(learner, "placement", STAGE)
    record = await h.practice_store.get_session(start.assessment.id)
    fast = await h.service.answer(learner, record.id, 0, right_answer(record, 0), latency_ms=1_000, platform="cli")
    slow = await h.service.answer(learner, record.id, 1, right_answer(record, 1), latency_ms=SLOW_MS, platform="cli")
    assert fast.flagged_fast and fast.result.correct and not slow.flagged_fast
    again = await h.service.answer(learner, record.id, 0, right_answer(record, 0), latency_ms=500, platform="cli")
    assert again.result.duplicate and not again.flagged_fast
    (flag,) = await h.store.flags()
    assert (flag.kind, flag.item_id, flag.attempt_id) == ("fast", record.items[0].item_id, fast.result.attempt_id)
    assert "1000 ms" in flag.reason
    assert await h.service.practice.my_flags(learner) == []  # the learner's own flags only
    # Quick answers in ordinary quizzes are not flagged.
    quiz = h.service.practice.build_session(learner, "learn", practice_items(CONCEPTS[0])[:1], h.clock.now, STEP * 9)
    await h.practice_store.create_session(quiz)
    quick = await h.service.answer(learner, quiz.id, 0, right_answer(quiz, 0), latency_ms=300, platform="cli")
    assert quick.result.correct and not quick.flagged_fast
    assert len(await h.store.flags()) == 1


# --- the mentor during an assessment ----------------------------------------------------------


async def test_the_mentor_refuses_only_while_an_assessment_runs(h: Harness) -> None:
    learner = await h.learner()
    other = await h.learner("telegram", "2")
    assert await h.service.mentor_refusal(learner) is None
    start = await h.service.start_assessment(learner, "placement", STAGE)
    refusal = await h.service.mentor_refusal(learner)
    assert refusal is not None and "placement" in refusal and day(start.assessment.deadline) in refusal
    assert await h.service.mentor_refusal(other) is None
    with pytest.raises(PracticeError, match="finish your open assessment first"):
        await h.service.start_assessment(learner, "placement", "deep-learning")
    record = await h.practice_store.get_session(start.assessment.id)
    for rec in record.items:
        await h.service.answer(
            learner, record.id, rec.position, wrong_answer(record, rec.position), latency_ms=SLOW_MS, platform="cli"
        )
    assert await h.service.mentor_refusal(learner) is None


async def test_practice_quizzes_are_refused_while_an_assessment_runs_whatever_the_front_end(h: Harness) -> None:
    learner = await h.learner()
    other = await h.learner("telegram", "2")
    practice = h.service.practice
    assert practice.quiz_gate is not None, "the mastery service holds practice to its gate"
    start = await h.service.start_assessment(learner, "placement", STAGE)
    with pytest.raises(PracticeError, match=f"You have a placement for {STAGE} running until"):
        await practice.start_quiz(learner, "learn", 3)
    with pytest.raises(PracticeError, match="placement"):
        await practice.start_quiz(learner, "review", 3)
    assert (await practice.start_quiz(other, "learn", 3)).items, "other learners practise as usual"
    h.clock.advance(start.assessment.deadline - h.clock.now + timedelta(minutes=1))  # it runs out
    assert (await practice.start_quiz(learner, "learn", 3)).items


# --- awards ------------------------------------------------------------------------------------


async def test_quiz_answers_alone_never_earn_an_award(h: Harness) -> None:
    learner = await h.learner()
    outcomes = await practise(h, learner, CONCEPTS)
    h.clock.advance(timedelta(days=4))
    outcomes += await practise(h, learner, CONCEPTS)  # answered again after 3 days: mastered
    assert all(o.award is None for o in outcomes)
    assert await h.service.try_award(learner, STAGE) is None
    progress = await h.service.get_progress(learner)
    stage = next(s for s in progress.stages if s.stage == STAGE)
    assert {c.level for c in stage.concepts} == {"mastered"}
    assert not stage.awarded and stage.checkpoint == "available"
    assert stage.needed == ("pass the checkpoint (or placement)",)
    assert await h.store.awards(learner) == []


async def test_a_passed_checkpoint_without_a_passed_recheck_earns_nothing(h: Harness) -> None:
    learner = await h.learner()
    await practise(h, learner, CONCEPTS)
    _, outcomes = await take(h, learner, "checkpoint")
    assert outcomes[-1].assessment is not None and outcomes[-1].assessment.passed
    assert all(o.award is None for o in outcomes)
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck", right=16)
    assert all(o.award is None for o in outcomes)
    outcomes = await practise(h, learner, CONCEPTS)
    assert all(o.award is None for o in outcomes)
    assert await h.service.try_award(learner, STAGE) is None
    assert await h.store.awards(learner) == []


async def test_checkpoint_then_recheck_earns_the_award_with_its_evidence(h: Harness) -> None:
    learner = await h.learner()
    practice = await practise(h, learner, CONCEPTS)
    checkpoint, _ = await take(h, learner, "checkpoint")
    h.clock.advance(timedelta(days=3))
    recheck, outcomes = await take(h, learner, "recheck")
    assert all(o.award is None for o in outcomes[:-1])
    award = outcomes[-1].award
    assert award is not None and (award.stage, award.action, award.source) == (STAGE, "grant", "evidence")
    assert award.stage_title == "Foundations & Classical ML"
    (stored,) = await h.store.awards(learner)
    assert stored.id == award.award_id and stored.source == "evidence" and stored.awarded_at == h.clock.now
    by_session: dict[str | None, set[int]] = {}
    for v in await h.store.attempts(learner):
        by_session.setdefault(v.session_id, set()).add(v.id)
    assert by_session[checkpoint.id] <= set(stored.evidence)
    assert by_session[recheck.id] <= set(stored.evidence)
    assert {o.result.attempt_id for o in practice} <= set(stored.evidence)
    # Unique per learner x stage; nothing more is earned or offered.
    assert await h.service.try_award(learner, STAGE) is None
    assert await h.service.availability(learner, "recheck", STAGE) == "you already hold the classical-ml award"
    (entry,) = await h.store.audit_log(learner)
    assert (entry.actor, entry.action, entry.stage) == ("system", "award", STAGE)


async def test_placement_pass_recheck_pass_and_proficient_earns_the_award(h: Harness) -> None:
    learner = await h.learner()
    _, outcomes = await take(h, learner, "placement")
    assert all(o.award is None for o in outcomes)
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck")
    assert all(o.award is None for o in outcomes[:-1])
    award = outcomes[-1].award
    assert award is not None and award.stage == STAGE and award.source == "evidence"
    (stored,) = await h.store.awards(learner)
    answered = {v.id for v in await h.store.attempts(learner)}
    assert set(stored.evidence) == answered  # every answer of the placement and the re-check


async def test_the_award_waits_for_a_fully_proficient_stage(h: Harness) -> None:
    learner = await h.learner()
    stage, weak = "deep-learning", STAGE_CONCEPTS["deep-learning"][0]
    await take(h, learner, "placement", stage=stage)
    h.clock.advance(timedelta(days=3))
    # The re-check passes with the weak concept's 2-3 items wrong: that concept drops below proficient.
    _, outcomes = await take(h, learner, "recheck", stage=stage, wrong_concepts=(weak,))
    result = outcomes[-1].assessment
    assert result is not None and result.passed and result.right in (17, 18)
    assert all(o.award is None for o in outcomes)
    progress = await h.service.get_progress(learner)
    dl = next(s for s in progress.stages if s.stage == stage)
    assert {c.concept for c in dl.concepts if c.level not in ("proficient", "mastered")} == {weak}
    assert dl.needed[0].startswith(_title(weak) + ": ") and len(dl.needed) == 1
    # Right answers on three practice items leave the missed items in the window of the last five
    # distinct items (each counted once, so answering the same items again cannot fix it) ...
    outcomes = await practise(h, learner, [weak])
    assert all(o.award is None for o in outcomes)
    outcomes = await practise(h, learner, [weak])
    assert all(o.award is None for o in outcomes)
    assert (await h.service.get_progress(learner)).stages[1].concepts[0].level not in ("proficient", "mastered")
    # ... answering the missed items right again does: the award comes with the answer that makes it 80%.
    views = await h.store.attempts(learner, concepts=(weak,))
    missed = sorted({v.item_id for v in views if v.verdict == "incorrect"})
    assert len(missed) in (2, 3)
    outcomes = await practise(h, learner, [weak], items=missed)
    awarded = [o.award for o in outcomes if o.award is not None]
    assert len(awarded) == 1 and awarded[0].stage == stage
    assert [a.stage for a in await h.store.awards(learner)] == [stage]


async def test_capstone_needs_an_approved_milestone(h: Harness) -> None:
    learner = await h.learner()
    await take(h, learner, "placement", stage="capstone")
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck", stage="capstone")
    assert outcomes[-1].assessment is not None and outcomes[-1].assessment.passed
    assert outcomes[-1].award is None
    stage = next(s for s in (await h.service.get_progress(learner)).stages if s.stage == "capstone")
    assert stage.milestone == "needed"
    assert stage.needed == ("milestone: submit it and have it approved by a reviewer",)
    rejected_id = await h.service.submit_milestone(learner, "capstone", "https://github.com/me/project", "x" * 60)
    rejected, award = await h.service.review_milestone(rejected_id, False, "mod", "the repository is empty")
    assert rejected.status == "rejected" and award is None
    assert await h.store.awards(learner) == []
    milestone_id = await h.service.submit_milestone(learner, "capstone", "https://github.com/me/project2", "y" * 60)
    stage = next(s for s in (await h.service.get_progress(learner)).stages if s.stage == "capstone")
    assert stage.milestone == "pending review"
    approved, award = await h.service.review_milestone(milestone_id, True, "mod", "great work")
    assert approved.status == "approved" and approved.reviewer == "mod"
    assert award is not None and award.stage == "capstone" and award.source == "evidence"
    actions = [e.action for e in await h.store.audit_log(learner)]
    assert actions == ["award", "milestone-approve", "milestone-reject"]


async def test_review_stages_override_the_roadmap(h: Harness) -> None:
    service = MasteryService(
        h.service.practice, h.store, ROADMAP, h.clock, random.Random(2), review_stages=frozenset({STAGE})
    )
    assert service.requires_review(STAGE) and not service.requires_review("capstone")
    assert h.service.requires_review("capstone") and not h.service.requires_review(STAGE)
    with pytest.raises(PracticeError, match="unknown stage"):
        service.requires_review("nope")
    h.service = service
    learner = await h.learner()
    await take(h, learner, "placement")
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck")
    assert outcomes[-1].award is None
    milestone_id = await service.submit_milestone(learner, STAGE, "https://example.org/notebook", "z" * 50)
    _, award = await service.review_milestone(milestone_id, True, "mod")
    assert award is not None and award.stage == STAGE


async def test_award_deliveries_are_queued_for_discord_and_telegram_identities(h: Harness) -> None:
    owner = await h.learner("discord", "d1")
    other = await h.learner("telegram", "t1")
    cli = await h.learner("cli", "local")
    await h.service.redeem_link_code(other, await h.service.create_link_code(owner))
    await h.service.redeem_link_code(cli, await h.service.create_link_code(owner))
    assert await h.store.identities(owner) == [("cli", "local"), ("discord", "d1"), ("telegram", "t1")]
    await take(h, owner, "placement")
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, owner, "recheck")
    award = outcomes[-1].award
    assert award is not None and len(award.deliveries) == 2
    pending = await h.store.deliveries(learner_id=owner)
    assert [d.id for d in pending] == list(award.deliveries)
    assert [(d.platform, d.external_id, d.kind) for d in pending] == [
        ("discord", "d1", "award-grant"),
        ("telegram", "t1", "award-grant"),
    ]
    assert pending[0].payload == {
        "stage": STAGE,
        "title": award.stage_title,
        "award_id": award.award_id,
        "action": "grant",
    }


# --- admin grant and revoke ----------------------------------------------------------------------


async def test_admin_grant_and_revoke_need_a_reason_and_are_audited(h: Harness) -> None:
    learner = await h.learner("telegram", "7")
    with pytest.raises(PracticeError, match="reason"):
        await h.service.grant(learner, STAGE, "root", "  ")
    with pytest.raises(PracticeError, match="unknown stage"):
        await h.service.grant(learner, "nope", "root", "why not")
    with pytest.raises(PracticeError, match="no learner"):
        await h.service.grant(learner + 100, STAGE, "root", "why not")
    with pytest.raises(PracticeError, match="holds no"):
        await h.service.revoke(learner, STAGE, "root", "nothing to revoke")
    granted = await h.service.grant(learner, STAGE, "root", " passed the course elsewhere ")
    assert (granted.action, granted.source, granted.stage) == ("grant", "admin", STAGE)
    (award,) = await h.store.awards(learner)
    assert (award.source, award.granted_by, award.reason, award.evidence) == (
        "admin",
        "root",
        "passed the course elsewhere",
        (),
    )
    with pytest.raises(PracticeError, match="already holds"):
        await h.service.grant(learner, STAGE, "root", "twice")
    with pytest.raises(PracticeError, match="reason"):
        await h.service.revoke(learner, STAGE, "mod", "")
    h.clock.advance(timedelta(hours=1))
    revoked = await h.service.revoke(learner, STAGE, "mod", "granted to the wrong person")
    assert (revoked.action, revoked.award_id) == ("revoke", granted.award_id)
    (award,) = await h.store.awards(learner)
    assert not award.active and award.revoked_by == "mod" and award.revoke_reason == "granted to the wrong person"
    entries = await h.store.audit_log(learner)
    assert [(e.actor, e.action, e.stage, e.reason) for e in entries] == [
        ("mod", "revoke", STAGE, "granted to the wrong person"),
        ("root", "grant", STAGE, "passed the course elsewhere"),
    ]
    deliveries = await h.store.deliveries(learner_id=learner)
    assert [(d.id, d.kind, d.external_id) for d in deliveries] == [
        (granted.deliveries[0], "award-grant", "7"),
        (revoked.deliveries[0], "award-revoke", "7"),
    ]
    assert deliveries[1].payload["action"] == "revoke"


async def test_a_revoked_award_is_not_silently_re_earned_from_the_same_evidence(h: Harness) -> None:
    learner = await h.learner()
    placement, _ = await take(h, learner, "placement")
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck")
    assert outcomes[-1].award is not None
    h.clock.advance(timedelta(hours=1))
    await h.service.revoke(learner, STAGE, "mod", "answers were shared in a group chat")
    outcomes = await practise(h, learner, CONCEPTS[:1])
    assert all(o.award is None for o in outcomes)
    assert await h.service.try_award(learner, STAGE) is None
    assert not (await h.store.awards(learner))[0].active
    stage = (await h.service.get_progress(learner)).stages[0]
    assert not stage.awarded and stage.checkpoint == "available"
    assert stage.needed == ("pass the checkpoint (or placement)",)
    # The way back: a new gate and a new re-check after the revocation (cooldowns still apply).
    with pytest.raises(PracticeError, match="next placement"):
        await h.service.start_assessment(learner, "placement", STAGE)
    h.clock.now = placement.created_at + timedelta(days=7, minutes=1)  # its items are eligible again too
    assert await h.service.availability(learner, "recheck", STAGE) == (
        "pass the checkpoint (or placement) for classical-ml first"
    )
    again, _ = await take(h, learner, "placement")
    h.clock.advance(timedelta(days=3))
    recheck = await h.service.start_assessment(learner, "recheck", STAGE)
    assert not {i.item_id for i in recheck.session.items} & {i.item_id for i in again.items}
    record = await h.practice_store.get_session(recheck.assessment.id)
    for rec in record.items:
        outcome = await h.service.answer(
            learner, record.id, rec.position, right_answer(record, rec.position), latency_ms=SLOW_MS, platform="cli"
        )
    (award,) = await h.store.awards(learner)
    assert outcome.award is not None and outcome.award.award_id == award.id
    assert award.active and award.source == "evidence" and award.revoked_at is None
    assert set(award.evidence) >= {v.id for v in await h.store.attempts(learner) if v.session_id == again.id}


# --- milestones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "writeup", "message"),
    [
        ("ftp://example.org/x", "w" * 60, "http:// or https://"),
        ("github.com/me/repo", "w" * 60, "http:// or https://"),
        ("https://", "w" * 60, "http:// or https://"),
        ("https://exa mple.org/x", "w" * 60, "http:// or https://"),
        ("https://example.org/" + "a" * 500, "w" * 60, "http:// or https://"),
        ("https://example.org/x", "w" * 49, "at least 50"),
        ("https://example.org/x", "w" * 5001, "limited to 5000"),
    ],
)
async def test_milestone_submissions_are_validated(h: Harness, url: str, writeup: str, message: str) -> None:
    learner = await h.learner()
    with pytest.raises(PracticeError, match=message):
        await h.service.submit_milestone(learner, "capstone", url, writeup)
    assert await h.store.milestones() == []


async def test_one_pending_milestone_per_stage_and_reviews_happen_once(h: Harness) -> None:
    learner = await h.learner()
    first = await h.service.submit_milestone(learner, "capstone", " https://example.org/a ", "w" * 50 + "  ")
    with pytest.raises(PracticeError, match=f"#{first} for capstone is still waiting"):
        await h.service.submit_milestone(learner, "capstone", "https://example.org/b", "w" * 60)
    other = await h.service.submit_milestone(learner, "mlops", "http://example.org/c", "w" * 60)
    stored = await h.store.milestone(first)
    assert stored is not None and stored.url == "https://example.org/a" and stored.writeup == "w" * 50
    reviewed, award = await h.service.review_milestone(first, False, "mod", " broken link ")
    assert reviewed.status == "rejected" and reviewed.review_note == "broken link" and award is None
    with pytest.raises(PracticeError, match="already reviewed"):
        await h.service.review_milestone(first, True, "mod2")
    with pytest.raises(PracticeError, match="does not exist"):
        await h.service.review_milestone(9999, True, "mod2")
    again = await h.service.submit_milestone(learner, "capstone", "https://example.org/b", "w" * 60)
    assert again not in (first, other)
    (entry,) = await h.store.audit_log(learner)
    assert (entry.action, entry.actor, entry.details) == ("milestone-reject", "mod", {"milestone": first})


# --- settings --------------------------------------------------------------------------------------


async def test_update_settings_changes_and_validates(h: Harness) -> None:
    learner = await h.learner()
    updated = await h.service.update_settings(
        learner, goal="mlops-engineer", hours_per_week=6, time_zone="Asia/Tokyo", nudge_time="07:45"
    )
    assert (updated.goal, updated.hours_per_week, updated.time_zone, updated.nudge_time) == (
        "mlops-engineer",
        6.0,
        "Asia/Tokyo",
        "07:45",
    )
    assert updated.track_start == T0 and await h.store.profile(learner) == updated
    h.clock.advance(timedelta(days=1))
    assert (await h.service.update_settings(learner, hours_per_week=80)).track_start == T0
    assert (await h.service.update_settings(learner, goal="mlops-engineer")).track_start == T0
    assert (await h.service.update_settings(learner, goal="ai-researcher")).track_start == h.clock.now
    assert (await h.service.update_settings(learner, nudge_time="OFF")).nudge_time is None
    with pytest.raises(PracticeError, match="no learner"):
        await h.service.update_settings(learner + 100, goal="ml-engineer")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"goal": "astronaut"}, "goal must be one of"),
        ({"hours_per_week": 0}, "hours per week"),
        ({"hours_per_week": -3}, "hours per week"),
        ({"hours_per_week": 80.5}, "hours per week"),
        ({"hours_per_week": float("nan")}, "hours per week"),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"time_zone": "Europe"}, "unknown time zone"),
        ({"time_zone": "localtime"}, "unknown time zone"),
        ({"time_zone": "../etc/passwd"}, "unknown time zone"),
        ({"time_zone": ""}, "unknown time zone"),
        ({"nudge_time": "24:00"}, "nudge time"),
        ({"nudge_time": "7:45"}, "nudge time"),
        ({"nudge_time": "18:30\n"}, "nudge time"),
        ({"nudge_time": "noon"}, "nudge time"),
    ],
)
async def test_invalid_settings_are_refused_and_change_nothing(
    h: Harness, change: dict[str, Any], message: str
) -> None:
    learner = await h.learner()
    before = await h.store.profile(learner)
    with pytest.raises(PracticeError, match=message):
        await h.service.update_settings(learner, **change)
    assert await h.store.profile(learner) == before


# --- progress ----------------------------------------------------------------------------------------


async def test_progress_shows_levels_reviews_streak_track_and_what_is_needed(h: Harness) -> None:
    learner = await h.learner()
    progress = await h.service.get_progress(learner)
    assert progress.track is None and progress.due_reviews == 0 and progress.streak.current == 0
    assert [s.stage for s in progress.stages] == list(STAGE_CONCEPTS)
    first = progress.stages[0]
    assert {c.level for c in first.concepts} == {"not-started"}
    assert "pass the checkpoint (or placement)" in first.needed
    assert first.checkpoint.startswith("the checkpoint opens when every concept")
    assert first.milestone == "not required" and progress.stages[-1].milestone == "needed"
    with pytest.raises(PracticeError, match="no learner"):
        await h.service.get_progress(learner + 100)

    await practise(h, learner, CONCEPTS[:1])
    h.clock.advance(timedelta(days=1))
    await practise(h, learner, CONCEPTS[1:])
    await h.service.update_settings(learner, goal="ml-engineer", hours_per_week=10)
    progress = await h.service.get_progress(learner)
    stage = progress.stages[0]
    assert [c.level for c in stage.concepts] == ["proficient"] * len(CONCEPTS)
    assert stage.concepts[0].title == "Supervised unsupervised"
    assert "answer correctly again on or after" in stage.concepts[0].next_step
    assert stage.checkpoint == "available"
    assert stage.recheck == "pass the checkpoint (or placement) for classical-ml first"
    assert stage.needed == ("pass the checkpoint (or placement)",)
    assert (progress.streak.current, progress.streak.today_done) == (2, True)
    assert progress.track is not None and progress.track.goal == "ml-engineer"
    assert progress.stages[1].concepts[0].level == "not-started"

    await take(h, learner, "checkpoint")
    gate_at = h.clock.now
    progress = await h.service.get_progress(learner)
    stage = progress.stages[0]
    opens = gate_at + timedelta(days=3)
    assert stage.checkpoint == f"passed (checkpoint, {gate_at:%d %b})"
    assert stage.recheck == f"the re-check for classical-ml opens on {day(opens)}"
    assert stage.needed == (f"pass the re-check (opens on {day(opens)})",)
    assert progress.open_assessment is None

    h.clock.advance(timedelta(days=30))  # the practice cards fall due
    progress = await h.service.get_progress(learner)
    assert progress.due_reviews == sum(c.due_reviews for s in progress.stages for c in s.concepts) > 0
    assert progress.stages[0].recheck == "available"
    assert progress.streak.current == 0 and not progress.streak.today_done

    start = await h.service.start_assessment(learner, "recheck", STAGE)
    progress = await h.service.get_progress(learner)
    assert progress.open_assessment is not None and progress.open_assessment.id == start.assessment.id


# --- identity linking ---------------------------------------------------------------------------------


async def test_link_codes_are_single_use_and_expire_after_15_minutes(h: Harness) -> None:
    owner = await h.learner("discord", "1")
    other = await h.learner("telegram", "2")
    third = await h.learner("telegram", "3")
    code = await h.service.create_link_code(owner)
    assert len(code) == 8 and set(code) <= set(LINK_ALPHABET)
    with pytest.raises(PracticeError, match="unknown, used or expired"):
        await h.service.redeem_link_code(other, "WRONGCOD")
    h.clock.advance(LINK_CODE_TTL - timedelta(seconds=1))
    assert await h.service.redeem_link_code(other, f" {code[:4].lower()}-{code[4:]} ") == owner
    with pytest.raises(PracticeError, match="unknown, used or expired"):
        await h.service.redeem_link_code(third, code)
    late = await h.service.create_link_code(owner)
    h.clock.advance(LINK_CODE_TTL)
    with pytest.raises(PracticeError, match="unknown, used or expired"):
        await h.service.redeem_link_code(third, late)
    assert await h.store.profile(third) is not None  # nothing merged
    mine = await h.service.create_link_code(owner)
    assert await h.service.redeem_link_code(owner, mine) == owner  # redeeming your own code changes nothing
    assert await h.store.profile(owner) is not None


async def test_redeeming_merges_the_redeemer_into_the_creator_and_rebuilds_cards(h: Harness) -> None:
    owner = await h.learner("discord", "1")
    other = await h.learner("telegram", "2")
    mine = await practise(h, owner, CONCEPTS[:1])
    theirs = await practise(h, other, CONCEPTS[1:3])
    before = {c.concept: c.level for c in (await h.service.get_progress(owner)).stages[0].concepts}
    assert before[CONCEPTS[1]] == "not-started"
    code = await h.service.create_link_code(owner)
    assert await h.service.redeem_link_code(other, code) == owner
    assert await h.store.profile(other) is None
    assert await h.store.identities(owner) == [("discord", "1"), ("telegram", "2")]
    ids = {v.id for v in await h.store.attempts(owner)}
    assert ids == {o.result.attempt_id for o in mine + theirs}
    cards = dict(await h.practice_store.cards(owner))
    expected_items = {BANK.item(i).id for c in CONCEPTS[:3] for i in practice_items(c)}
    assert set(cards) == expected_items
    assert all(card.last_review is not None for card in cards.values())
    after = {c.concept: c.level for c in (await h.service.get_progress(owner)).stages[0].concepts}
    assert [after[c] for c in CONCEPTS[:3]] == ["proficient"] * 3
    (entry,) = [e for e in await h.store.audit_log(owner) if e.action == "merge"]
    assert entry.details == {"merged": other}


# --- data rights ----------------------------------------------------------------------------------------


async def test_export_is_json_ready_and_forget_removes_personal_data(h: Harness) -> None:
    learner = await h.learner("telegram", "5")
    await h.service.update_settings(learner, goal="ml-engineer", hours_per_week=5)
    await practise(h, learner, CONCEPTS[:1])
    report = await h.service.practice.report_item(learner, practice_items(CONCEPTS[0])[0], "my phone number is 555")
    await h.service.resolve_flag(report, "close", "root", "thanks")
    await h.service.grant(learner, "mlops", "root", "ran our MLOps workshop")
    await h.service.submit_milestone(learner, "capstone", "https://example.org/p", "w" * 60)
    h.store.log_question(T0, "telegram:5", "what is dropout?", abstained=False)
    h.store.log_question(T0, "telegram:6", "someone else", abstained=False)
    data = await h.service.export_learner(learner)
    decoded = json.loads(json.dumps(data))
    assert decoded["profile"]["goal"] == "ml-engineer" and decoded["profile"]["created_at"] == T0.isoformat()
    assert decoded["identities"] == [{"platform": "telegram", "external_id": "5"}]
    assert len(decoded["attempts"]) == 3 and decoded["attempts"][0]["answer"]
    assert [a["stage"] for a in decoded["awards"]] == ["mlops"] and decoded["awards"][0]["evidence"] == []
    assert [q["question"] for q in decoded["questions_asked"]] == ["what is dropout?"]
    assert len(decoded["milestones"]) == 1 and decoded["assessments"] == []
    assert [(f["kind"], f["reason"], f["status"]) for f in decoded["reports_and_disputes"]] == [
        ("report", "my phone number is 555", "closed")
    ]

    counts = await h.service.forget_learner(learner, "root")
    assert counts["profile"] == 1 and counts["attempts_anonymised"] == 3 and counts["questions"] == 1
    assert await h.store.profile(learner) is None and await h.store.attempts(learner) == []
    assert await h.store.learner_by_identity("telegram", "5") is None
    (flag,) = await h.practice_store.flags(None)
    assert (flag.learner_id, flag.reason, flag.kind, flag.status) == (None, FORGOTTEN_REASON, "report", "closed")
    with pytest.raises(PracticeError, match="no learner"):
        await h.service.export_learner(learner)
    with pytest.raises(PracticeError, match="no learner"):
        await h.service.forget_learner(learner, "root")
    forget = [e for e in await h.store.audit_log() if e.action == "forget"]
    assert len(forget) == 1 and forget[0].actor == "root" and forget[0].learner_id is None
    assert forget[0].details == counts
