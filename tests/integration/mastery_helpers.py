"""Helpers for the mastery front-end tests: a shiftable clock and the right answer to a delivered item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.practice import DeliveredItem, PracticeService
from bot.core.questions import McqItem, NumericItem, TrueFalseItem, evaluate_numeric


@dataclass
class ShiftedClock:
    """The real UTC time plus an offset the test moves forward (no sleeping)."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def right_answer(practice: PracticeService, session_id: str, item: DeliveredItem) -> str:
    """What a learner who knows the answer types for this item in this session."""
    bank_item = practice.bank.item(item.item_id)
    if isinstance(bank_item, McqItem):
        return "ABCD"[item.options.index(bank_item.options[bank_item.answer])]
    if isinstance(bank_item, TrueFalseItem):
        return "true" if bank_item.answer else "false"
    if isinstance(bank_item, NumericItem):
        session = await practice.store.get_session(session_id)
        assert session is not None
        rec = next(r for r in session.items if r.position == item.position)
        return repr(evaluate_numeric(bank_item, rec.params))
    raise AssertionError(f"no deterministic answer for {item.type} item {item.item_id}")


async def pass_assessment(mastery: Any, learner_id: int, kind: str, stage: str) -> Any:
    """Start an assessment and answer every item right; returns the last Outcome."""
    start = await mastery.start_assessment(learner_id, kind, stage)
    outcome = None
    for item in start.session.items:
        answer = await right_answer(mastery.practice, start.session.id, item)
        outcome = await mastery.answer(
            learner_id, start.session.id, item.position, answer, latency_ms=20_000, platform="telegram"
        )
    assert outcome is not None and outcome.assessment is not None and outcome.assessment.passed
    return outcome
