"""What a learner types for a delivered item: the right answer, from the stored session (shared by tests)."""

from __future__ import annotations

from bot.core.practice import SessionItemRecord
from bot.core.questions import FreeTextItem, Item, McqItem, NumericItem, TrueFalseItem, evaluate_numeric


def right_answer(item: Item, rec: SessionItemRecord) -> str:
    """The correct answer as the learner would type it (option letter as shown, drawn parameters)."""
    if isinstance(item, McqItem):
        return "ABCD"[rec.option_order.index(item.answer)]
    if isinstance(item, TrueFalseItem):
        return "true" if item.answer else "false"
    if isinstance(item, NumericItem):
        return repr(evaluate_numeric(item, rec.params))
    assert isinstance(item, FreeTextItem)
    return item.reference
