"""Assessments (checkpoint, re-check, placement): rules, item selection, scoring and the guesser bound.

Assessments are deterministically graded and drawn only from 4-option MCQ and numeric items that
the learner has not been shown in the last 7 days; the admin's private bank comes first. See the
README, "Assessments and stage awards", for the probability that a guesser ever passes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.content import STAGE_CONCEPTS
from bot.core.questions import Item, McqItem, NumericItem, QuestionBank

RECENT_WINDOW = timedelta(days=7)
# Seconds allowed per item in an assessment; a later answer counts as wrong.
TIME_LIMIT_SECONDS = {"mcq": 90, "numeric": 240}
# An answer faster than this many milliseconds per character of prompt + options (with a floor)
# is implausible for a reader and is flagged to admins (it still counts as given).
FAST_MS_PER_CHAR = 12
FAST_FLOOR_MS = 2500


@dataclass(frozen=True)
class AssessmentSpec:
    """One kind of assessment: `items` questions, passed with at least `pass_right` right.

    `cooldown` is the minimum time between two starts of this kind for one stage; a re-check
    opens `opens_after` the checkpoint (or placement) it confirms was passed.
    """

    kind: str
    items: int
    pass_right: int
    cooldown: timedelta
    opens_after: timedelta = timedelta(0)

    @property
    def pass_rate(self) -> float:
        return self.pass_right / self.items


@dataclass(frozen=True)
class AssessmentRules:
    checkpoint: AssessmentSpec = AssessmentSpec("checkpoint", 20, 17, timedelta(hours=24))
    recheck: AssessmentSpec = AssessmentSpec("recheck", 20, 17, timedelta(hours=24), timedelta(days=3))
    placement: AssessmentSpec = AssessmentSpec("placement", 25, 22, timedelta(days=7))

    def spec(self, kind: str) -> AssessmentSpec:
        if kind not in ("checkpoint", "recheck", "placement"):
            raise ValueError(f"unknown assessment kind {kind!r}")
        spec: AssessmentSpec = getattr(self, kind)
        return spec


def assessable(item: Item) -> bool:
    """Only deterministically graded items: 4-option MCQs and numeric questions."""
    return isinstance(item, McqItem | NumericItem)


def time_limit_ms(item: Item) -> int:
    return TIME_LIMIT_SECONDS[item.type] * 1000


def session_length(items: Iterable[Item]) -> timedelta:
    """The whole assessment's deadline: the sum of the per-item limits."""
    return timedelta(milliseconds=sum(time_limit_ms(i) for i in items))


def too_fast(item: Item, latency_ms: int) -> bool:
    """True when an answer came implausibly fast for the amount of text to read."""
    chars = len(getattr(item, "prompt", "")) + sum(len(o) for o in getattr(item, "options", ()))
    return latency_ms < max(FAST_FLOOR_MS, FAST_MS_PER_CHAR * chars)


class NotEnoughItemsError(ValueError):
    """The stage has too few eligible items for this assessment right now."""


def select_items(
    bank: QuestionBank,
    stage: str,
    n: int,
    exclude: set[str],
    rng: random.Random,
    private: frozenset[str] = frozenset(),
) -> list[str]:
    """Pick `n` assessable items of `stage`, spread evenly over its concepts, none in `exclude`.

    Private-bank items come first: when enough of them are eligible, only they are used.

    Raises:
        NotEnoughItemsError: fewer than `n` eligible items.
    """
    concepts = list(STAGE_CONCEPTS[stage])
    pools: dict[str, list[str]] = {}
    for concept in concepts:
        ids = [i.id for i in bank.for_concept(concept) if assessable(i) and i.id not in exclude]
        rng.shuffle(ids)
        # Private items first within each concept.
        pools[concept] = sorted(ids, key=lambda item_id: item_id not in private)
    total = sum(len(p) for p in pools.values())
    if total < n:
        raise NotEnoughItemsError(
            f"only {total} questions of this stage are eligible (not shown to you in the last 7 days); {n} are needed"
        )
    private_total = sum(1 for p in pools.values() for i in p if i in private)
    if private_total >= n:
        pools = {c: [i for i in p if i in private] for c, p in pools.items()}
    rng.shuffle(concepts)
    chosen: list[str] = []
    while len(chosen) < n:
        for concept in concepts:
            if pools[concept] and len(chosen) < n:
                chosen.append(pools[concept].pop(0))
    rng.shuffle(chosen)
    return chosen


def passed(spec: AssessmentSpec, right: int) -> bool:
    return right >= spec.pass_right


# --- the guesser bound ---------------------------------------------------------------------


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


@dataclass(frozen=True)
class GuessBound:
    """Upper bounds on a guesser passing, per attempt and over `days` of daily attempts."""

    p_item: float
    checkpoint: float
    recheck: float
    placement: float
    per_stage_year: float
    any_stage_year: float


def guess_bound(rules: AssessmentRules, p_item: float, stages: int, days: int = 365) -> GuessBound:
    """Bound the chance that a guesser right with probability ≤ `p_item` per item earns any stage.

    A stage needs a passed checkpoint or placement AND a later passed re-check. Attempting each as
    often as the cooldowns allow for `days` days, the union bound gives, per stage,
    min(1, n_cp·p_cp)·min(1, n_rc·p_rc) + min(1, n_pl·p_pl)·min(1, n_rc·p_rc), and `stages` times
    that for any stage. The binomial tail over-estimates drawing without replacement from a pool in
    which a fraction `p_item` is guessable, so the bound is conservative. It ignores the further
    requirement that every concept of the stage be proficient.
    """

    def tail(spec: AssessmentSpec) -> float:
        return binomial_tail(spec.items, spec.pass_right, p_item)

    def tries(spec: AssessmentSpec) -> float:
        return days / (spec.cooldown / timedelta(days=1))

    cp, rc, pl = tail(rules.checkpoint), tail(rules.recheck), tail(rules.placement)
    recheck_year = min(1.0, tries(rules.recheck) * rc)
    stage = (min(1.0, tries(rules.checkpoint) * cp) + min(1.0, tries(rules.placement) * pl)) * recheck_year
    return GuessBound(p_item, cp, rc, pl, stage, min(1.0, stages * stage))


def longest_option_rate(bank: QuestionBank, stages: Sequence[str]) -> float:
    """The highest per-stage share of MCQs whose key is among the longest options (ties count).

    A "pick the longest option" guesser is right on at most these MCQs (and on no numeric item).
    """
    worst = 0.0
    for stage in stages:
        mcqs = [i for i in bank.for_stage(stage) if isinstance(i, McqItem)]
        if mcqs:
            hits = sum(len(i.options[i.answer]) == max(len(o) for o in i.options) for i in mcqs)
            worst = max(worst, hits / len(mcqs))
    return worst
