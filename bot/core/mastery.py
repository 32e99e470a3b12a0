"""Per-concept mastery levels, recomputed from the attempt log (never from cached counters)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Level = Literal["not-started", "attempted", "familiar", "proficient", "mastered"]
LEVELS: tuple[Level, ...] = ("not-started", "attempted", "familiar", "proficient", "mastered")


@dataclass(frozen=True)
class GradedAttempt:
    """One attempt as mastery sees it. `counts` is False for self-rated flashcards."""

    id: int
    item_id: str
    concept: str
    verdict: str
    created_at: datetime
    first_try: bool
    counts: bool = True


@dataclass(frozen=True)
class MasteryRules:
    """Thresholds of the levels (see the README, "Mastery levels").

    familiar:   ≥ `familiar_items` distinct items right on the first try and ≥ `familiar_rate` of
                the latest answers to the last `window` distinct items right.
    proficient: ≥ `proficient_items` distinct items right on the first try and ≥ `proficient_rate`
                of the latest answers to the last `window` distinct items right.
    mastered:   proficient now, and right again on an attempt ≥ `recheck_gap` after the concept
                first became proficient.
    Misses move a concept down, because the window only looks at the latest answers (each item
    counts once, with its latest verdict).
    """

    familiar_items: int = 1
    familiar_rate: float = 0.6
    proficient_items: int = 3
    proficient_rate: float = 0.8
    window: int = 5
    recheck_gap: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class ConceptMastery:
    """A concept's level and the evidence behind it."""

    concept: str
    level: Level
    first_try_right: int
    recent_right: int
    recent_total: int
    proficient_since: datetime | None
    mastered_at: datetime | None
    evidence: tuple[int, ...]

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level)


def _graded(attempts: Sequence[GradedAttempt]) -> list[GradedAttempt]:
    # "partial" verdicts and self-rated cards never count, up or down.
    kept = [a for a in attempts if a.counts and a.verdict in ("correct", "incorrect")]
    return sorted(kept, key=lambda a: (a.created_at, a.id))


class _Window:
    """The latest verdict on each of the last `size` distinct items answered (oldest first).

    Counting each item once keeps one item that a learner keeps missing (a "leech", or a free-text
    answer the grader wrongly rejects) from filling the whole window with its repeated reviews.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.verdicts: OrderedDict[str, bool] = OrderedDict()
        self.right = 0

    def add(self, item_id: str, right: bool) -> None:
        verdicts = self.verdicts
        self.right += right - verdicts.pop(item_id, False)
        verdicts[item_id] = right
        if len(verdicts) > self.size:
            self.right -= verdicts.popitem(last=False)[1]

    def __len__(self) -> int:
        return len(self.verdicts)


def _meets(first_right: int, right: int, total: int, items: int, rate: float) -> bool:
    return first_right >= items and total > 0 and right / total >= rate


def concept_mastery(
    concept: str, attempts: Sequence[GradedAttempt], rules: MasteryRules | None = None
) -> ConceptMastery:
    """The level of one concept from its attempts (any order; other concepts are ignored).

    Replays the log so that `proficient_since` is the first moment the proficient rule held in the
    current unbroken proficient run; a miss that drops the concept below proficient restarts it.
    """
    rules = rules or MasteryRules()
    history = _graded([a for a in attempts if a.concept == concept])
    if not history:
        return ConceptMastery(concept, "not-started", 0, 0, 0, None, None, ())
    since: datetime | None = None
    mastered_at: datetime | None = None
    evidence: list[int] = []
    # One pass: the first-try-right set and the last-`window` verdicts are kept incrementally.
    first_right_items: set[str] = set()
    window = _Window(rules.window)
    for i, latest in enumerate(history):
        if latest.first_try and latest.verdict == "correct":
            first_right_items.add(latest.item_id)
        window.add(latest.item_id, latest.verdict == "correct")
        proficient = _meets(
            len(first_right_items), window.right, len(window), rules.proficient_items, rules.proficient_rate
        )
        if not proficient:
            since, mastered_at = None, None
            continue
        if since is None:
            since = latest.created_at
            evidence = [a.id for a in history[: i + 1] if a.verdict == "correct"]
        elif mastered_at is None and latest.verdict == "correct" and latest.created_at - since >= rules.recheck_gap:
            mastered_at = latest.created_at
            evidence.append(latest.id)
    first_right, right, total = len(first_right_items), window.right, len(window)
    if mastered_at is not None:
        level: Level = "mastered"
    elif since is not None:
        level = "proficient"
    elif _meets(first_right, right, total, rules.familiar_items, rules.familiar_rate):
        level = "familiar"
    else:
        level = "attempted"
    return ConceptMastery(
        concept, level, first_right, right, total, since, mastered_at, tuple(evidence) if since else ()
    )


def what_is_needed(m: ConceptMastery, rules: MasteryRules | None = None) -> str:
    """A one-line next step for the learner ("2 more first-try correct answers ...")."""
    rules = rules or MasteryRules()
    if m.level == "mastered":
        return "mastered"
    if m.level == "proficient":
        assert m.proficient_since is not None
        opens = m.proficient_since + rules.recheck_gap
        return f"answer correctly again on or after {opens:%d %b} to master it"
    parts = []
    missing = rules.proficient_items - m.first_try_right
    if missing > 0:
        parts.append(f"{missing} more first-try correct answer{'s' if missing > 1 else ''}")
    if m.recent_total == 0 or m.recent_right / m.recent_total < rules.proficient_rate:
        parts.append(
            f"{rules.proficient_rate:.0%} of your latest answers on {rules.window} different questions right (now {m.recent_right}/{m.recent_total})"
        )
    return " and ".join(parts) or "keep practising"
