"""Simulated learners on the real practice and mastery engine, on a fake clock (`mentor simulate`).

Every simulated learner gets its own in-memory store (`bot.memory_store.MemoryStore`) and its own
`PracticeService` + `MasteryService` over the real question bank, rules and free-text grader; only
the clock is fake (advanced, never slept on) and the answers come from a policy:

- ``random``: a uniformly random MCQ option and true/false; numeric: a plausible number taken from
  the prompt (one of its numbers, the ratio or product of two, or a fraction); free text: plausible
  wrong text (the question restated, or the reference answer of another item of the same concept or
  stage).
- ``first-option`` / ``longest-option``: always the first / the longest displayed MCQ option
  (options are shuffled per delivery; ties go to the first); everything else as ``random``.
- ``skilled``: right with probability 0.9, wrong otherwise (another MCQ option, a number off by more
  than the tolerance, a wrong free text as above). A right free-text answer is a paraphrase built
  from the item's key points (the author's short notes, not the reference answer), reordered and
  joined with connecting words; never the reference text.
- ``forgetful``: like ``skilled``, but the chance of being right decays with the days since the
  learner last practised the concept: 0.9 fresh, halving the distance to 0.6 every 7 days.

A learner practises once a day at its own fixed UTC time: one learn quiz of up to 20 items (due
reviews first, then new items; `PracticeService.start_quiz`), each answered through
`MasteryService.answer`. Before and after the quiz, and again four hours later, it takes every
assessment the rules allow (`MasteryService.availability`, then `start_assessment`): the re-check
of a stage whose checkpoint it passed, the checkpoint of a stage whose concepts are all proficient
and, for the guessing policies only, the placement of every stage. The engine decides; the learner
only skips asking when the answer is known to be no (a concept below proficient, as the engine
reported after the last answer on it, or a cooldown / re-check opening of `AssessmentRules` not yet
over). ``skilled`` and ``forgetful`` learners start from zero and never take placements, so their
days-to-award measure the practice path; guessers take placements because testing out without
practising is the cheapest attack on the awards. Assessment answers come within the time limits;
the knowing policies answer no faster than a reader could (never flagged as too fast), the guessers
answer in a few seconds. The capstone award needs a reviewed milestone, which is not simulated.

Free-text grading is the real `grade_free_text` over a `CachingEmbedder`, done once per
`Simulation` for every answer the policies can write (`AnswerBook`), before the learners start;
worker processes (`workers` > 1) receive the finished grades and need no model. A learner's
randomness comes from (seed, policy, learner index) only, so results do not depend on `workers`.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from bot.core.assessments import time_limit_ms, too_fast
from bot.core.content import STAGE_CONCEPTS, STAGE_IDS, Roadmap
from bot.core.grading import (
    CachingEmbedder,
    Embedder,
    GradingConfig,
    answer_pieces,
    content_words,
    grade_free_text,
    question_texts,
)
from bot.core.mastery import LEVELS
from bot.core.practice import (
    EXPECTED_SECONDS,
    OPTION_LETTERS,
    DeliveredItem,
    FreeTextGrade,
    PracticeError,
    PracticeService,
    SessionItemRecord,
)
from bot.core.progress import MasteryService, Outcome
from bot.core.questions import FreeTextItem, Item, McqItem, NumericItem, QuestionBank, TrueFalseItem, evaluate_numeric
from bot.core.srs import Srs
from bot.memory_store import MemoryStore

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; each learner adds its own time of day
PLATFORM = "simulation"
ITEMS_PER_DAY = 20
LATER_SWEEP = timedelta(hours=4)  # the third assessment check of a day, after the session starts
PROFICIENT = LEVELS.index("proficient")
# Seconds a guesser takes per item type (uniform between the bounds).
GUESS_SECONDS = {"mcq": (1.5, 6.0), "true_false": (1.0, 4.0), "numeric": (3.0, 15.0), "free_text": (8.0, 30.0)}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

Choice = Literal["random", "first", "longest", "knows"]


@dataclass(frozen=True)
class Policy:
    """How a simulated learner answers.

    `choice` is the MCQ strategy; "knows" learners are right with probability `accuracy(days)`,
    which decays from `fresh` towards `stale` with a half-life of `half_life_days` since the
    concept was last practised. `placement`: the learner takes placements too.
    """

    name: str
    choice: Choice
    fresh: float = 0.0
    stale: float = 0.0
    half_life_days: float = 7.0
    placement: bool = False

    @property
    def guesser(self) -> bool:
        return self.choice != "knows"

    def accuracy(self, days_since_practice: float | None) -> float:
        """P(right), 0-1; a concept never practised counts as fresh (the learner just read it)."""
        if days_since_practice is None:
            return self.fresh
        decay = math.pow(0.5, days_since_practice / self.half_life_days)
        return self.stale + (self.fresh - self.stale) * decay


POLICIES: dict[str, Policy] = {
    "random": Policy("random", "random", placement=True),
    "first-option": Policy("first-option", "first", placement=True),
    "longest-option": Policy("longest-option", "longest", placement=True),
    "skilled": Policy("skilled", "knows", fresh=0.9, stale=0.9),
    "forgetful": Policy("forgetful", "knows", fresh=0.9, stale=0.6),
}


# --- what learners write ---------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _clause(point: str) -> str:
    """A key point as a clause inside a sentence: no final period, lower-case start unless an acronym."""
    text = point.strip().rstrip(".")
    first = text.split(" ", 1)[0]
    if len(first) > 1 and (first[:2].isupper() or any(c.isdigit() for c in first)):
        return text
    return text[:1].lower() + text[1:]


def paraphrases(item: FreeTextItem) -> tuple[str, ...]:
    """Right answers a skilled learner writes: the key points reordered, in connecting words.

    Never the reference text (compared case- and space-insensitively).
    """
    points = [_clause(p) for p in item.key_points]
    last, *others = list(reversed(points))
    texts = (
        f"Put simply, {last}." + "".join(f" Also, {p}." for p in others),
        "In short: " + "; ".join(points) + ".",
        f"{last[:1].upper()}{last[1:]}, and " + ", and ".join(reversed(others)) + ".",
    )
    reference = _normalise(item.reference)
    return tuple(t for t in texts if _normalise(t) != reference)


def restated(item: FreeTextItem) -> str:
    """The question turned into an answer that says nothing new."""
    return f"The answer is that {_clause(item.prompt).rstrip('?')}."


class AnswerBook:
    """The free-text answers simulated learners write, fixed per item so that gradings repeat."""

    def __init__(self, bank: QuestionBank) -> None:
        self._right: dict[str, tuple[str, ...]] = {}
        self._wrong: dict[str, tuple[str, ...]] = {}
        for stage in STAGE_IDS:
            free = [i for i in bank.for_stage(stage) if isinstance(i, FreeTextItem)]
            for n, item in enumerate(free):
                same = [i for i in free if i.concept == item.concept and i.id != item.id]
                others = [i for i in free if i.concept != item.concept]
                wrong = [restated(item)]
                if same:
                    wrong.append(same[0].reference)
                if others:
                    wrong.append(others[n % len(others)].reference)
                self._wrong[item.id] = tuple(wrong)
                self._right[item.id] = paraphrases(item)

    def right(self, item: FreeTextItem) -> tuple[str, ...]:
        return self._right[item.id]

    def wrong(self, item: FreeTextItem) -> tuple[str, ...]:
        return self._wrong[item.id]

    def candidates(self, item: FreeTextItem) -> tuple[str, ...]:
        return self._right[item.id] + self._wrong[item.id]


Grades = dict[tuple[str, str], FreeTextGrade]  # (item id, answer) -> grade


class SimulationGrader:
    """The real free-text grader over every answer an `AnswerBook` can write, graded once.

    `prepare` grades them all: per stage, the question texts of its free-text items and every piece
    of every candidate answer are embedded in one batch, then each (item, answer) pair is graded.
    A grader built from a finished table (`grades`) needs no embedder (worker processes).
    """

    def __init__(
        self, bank: QuestionBank, answers: AnswerBook, embedder: Embedder | None, grades: Grades | None = None
    ):
        self.bank = bank
        self.answers = answers
        self.embedder = (
            embedder if embedder is None or isinstance(embedder, CachingEmbedder) else CachingEmbedder(embedder)
        )
        self.config = GradingConfig()
        self.grades: Grades = dict(grades or {})

    def prepare(self) -> None:
        """Grade every candidate answer of every free-text item (idempotent)."""
        for stage in STAGE_IDS:
            free = [i for i in self.bank.for_stage(stage) if isinstance(i, FreeTextItem)]
            todo = [(i, a) for i in free for a in self.answers.candidates(i) if (i.id, a) not in self.grades]
            if not todo:
                continue
            if self.embedder is None:
                raise RuntimeError(f"no grades for {len(todo)} answers of {stage} and no embedder to grade them")
            texts: dict[str, None] = {}
            for item in free:
                texts.update(
                    dict.fromkeys(question_texts(item.prompt, item.reference, item.key_points, item.misconceptions))
                )
            for _, answer in todo:
                if content_words(answer):
                    pieces = answer_pieces(answer, self.config.chunk_words)
                    texts.update(dict.fromkeys(p for ps in pieces for p in ps))
            self.embedder.encode(list(texts))
            for item, answer in todo:
                result = grade_free_text(
                    item.prompt,
                    item.reference,
                    list(item.key_points),
                    answer,
                    self.embedder,
                    config=self.config,
                    misconceptions=item.misconceptions,
                )
                self.grades[(item.id, answer)] = FreeTextGrade(
                    result.verdict, result.score, result.matched, result.missing
                )

    async def __call__(self, item: FreeTextItem, answer: str) -> FreeTextGrade:
        found = self.grades.get((item.id, answer))
        if found is None:
            raise KeyError(f"{item.id}: answer outside the answer book: {answer[:60]!r}")
        return found


def _decimals(tolerance: float) -> int:
    """Decimals that keep rounding well inside the tolerance."""
    return max(0, math.ceil(-math.log10(tolerance)) + 1)


def _number(value: float, tolerance: float) -> str:
    return f"{value:.{_decimals(tolerance)}f}"


def _miss(value: float, tolerance: float, rng: random.Random) -> float:
    """A wrong answer: off by at least 3 x the tolerance (a slip, a wrong formula)."""
    offset = max(abs(value) * rng.uniform(0.1, 0.5), tolerance * rng.uniform(3.0, 10.0))
    return value + offset * rng.choice((-1.0, 1.0))


def guess_number(prompt: str, rng: random.Random) -> str:
    """A plausible number from someone who does not know: from the prompt's numbers, or a fraction."""
    numbers = [float(n) for n in _NUMBER.findall(prompt)]
    way = rng.randrange(3) if numbers else 2
    if way == 0:
        value = rng.choice(numbers)
    elif way == 1:
        a, b = rng.choice(numbers), rng.choice(numbers)
        value = a / b if b and rng.random() < 0.5 else a * b
    else:
        value = rng.random()
    return repr(round(value, 3))


# --- the simulation --------------------------------------------------------------------------------


@dataclass
class FakeClock:
    """The simulated time (UTC): moves forward only when told."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def at_least(self, when: datetime) -> None:
        self.now = max(self.now, when)


ASSESSMENT_KINDS = ("checkpoint", "recheck", "placement")
FREE_TEXT_COUNTS = ("right", "right_accepted", "wrong", "wrong_accepted")


@dataclass
class _Stats:
    """Counters of one or more learners (added up across worker processes)."""

    answers: int = 0
    started: Counter[str] = field(default_factory=Counter)
    passed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # allowed, but too few unseen items to start
    flagged_fast: Counter[str] = field(default_factory=Counter)
    free_text: Counter[str] = field(default_factory=Counter)
    awards: dict[str, list[float]] = field(default_factory=dict)  # stage -> days to award, per learner

    def add(self, other: _Stats) -> None:
        self.answers += other.answers
        for mine, theirs in (
            (self.started, other.started),
            (self.passed, other.passed),
            (self.refused, other.refused),
            (self.flagged_fast, other.flagged_fast),
            (self.free_text, other.free_text),
        ):
            mine.update(theirs)
        for stage, days in other.awards.items():
            self.awards.setdefault(stage, []).extend(days)


@dataclass
class _Learner:
    rng: random.Random
    clock: FakeClock
    store: MemoryStore
    mastery: MasteryService
    learner_id: int
    start: datetime
    levels: dict[str, str] = field(default_factory=dict)  # as the engine reported after each answer
    practised: dict[str, datetime] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)  # stages whose checkpoint/placement is passed
    rechecked: set[str] = field(default_factory=set)
    awarded: set[str] = field(default_factory=set)
    # (kind, stage) -> no use asking before then: the cooldown after a start, or the re-check's opening.
    not_before: dict[tuple[str, str], datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class SimulationResult:
    """Awards of `learners` simulated learners after `days` days, and how long they took.

    `days_to_award[stage]` holds, per learner awarded, the days from its first session to the
    award (fractional, sorted). `seconds` is the wall time of the simulation proper (free-text
    grades prepared beforehand are not counted).
    """

    policy: str
    learners: int
    days: int
    seed: int
    days_to_award: Mapping[str, tuple[float, ...]]
    answers: int
    seconds: float
    assessments: Mapping[str, Mapping[str, int]]
    free_text: Mapping[str, int]

    def as_json(self) -> dict[str, Any]:
        """The documented JSON: awards and days-to-award (median, p90; null when none) per stage."""

        def summary(values: tuple[float, ...]) -> dict[str, float] | None:
            if not values:
                return None
            return {
                "median": round(float(np.percentile(values, 50)), 1),
                "p90": round(float(np.percentile(values, 90)), 1),
            }

        return {
            "learners": self.learners,
            "days": self.days,
            "policy": self.policy,
            "seed": self.seed,
            "awards": {s: len(self.days_to_award.get(s, ())) for s in STAGE_IDS},
            "days_to_award": {s: summary(self.days_to_award.get(s, ())) for s in STAGE_IDS},
            "answers": self.answers,
            "seconds": round(self.seconds, 2),
            "assessments": {k: dict(v) for k, v in self.assessments.items()},
            "free_text": dict(self.free_text),
        }


def _simulate_chunk(
    bank: QuestionBank, roadmap: Roadmap, grades: Grades, policy: str, indices: list[int], days: int, seed: int
) -> _Stats:
    """The learners `indices` in a worker process, with grades prepared by the parent."""
    simulation = Simulation(bank, roadmap, None, grades)
    return asyncio.run(simulation._learners(POLICIES[policy], indices, days, seed))


class Simulation:
    """Runs simulated learners; reuse one instance to grade each free-text answer only once.

    `embedder` may be None when `grades` already holds every grade (see `SimulationGrader`).
    """

    def __init__(
        self, bank: QuestionBank, roadmap: Roadmap, embedder: Embedder | None, grades: Grades | None = None
    ) -> None:
        self.bank = bank
        self.roadmap = roadmap
        self.answers = AnswerBook(bank)
        self.grader = SimulationGrader(bank, self.answers, embedder, grades)
        self.srs = Srs()

    def prepare(self) -> None:
        """Grade every free-text answer the policies can write (run() does it when needed)."""
        self.grader.prepare()

    def run(
        self,
        policy: str,
        learners: int,
        days: int,
        seed: int = 0,
        *,
        workers: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> SimulationResult:
        """Simulate `learners` learners for `days` days each.

        The same seed gives the same result, whatever `workers` (processes sharing the learners).
        `progress(done, learners)` is called as learners finish.

        Raises:
            ValueError: an unknown policy, or fewer than one learner, day or worker.
        """
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
        if learners < 1 or days < 1 or workers < 1:
            raise ValueError("learners, days and workers must be at least 1")
        self.prepare()
        started = time.perf_counter()
        indices = list(range(learners))
        stats = _Stats()
        if workers == 1:
            for index in indices:
                stats.add(asyncio.run(self._learners(POLICIES[policy], [index], days, seed)))
                if progress is not None:
                    progress(index + 1, learners)
        else:
            # Spawned, not forked: the parent may hold torch threads; workers need no model.
            size = max(1, math.ceil(learners / (workers * 4)))
            chunks = [indices[i : i + size] for i in range(0, learners, size)]
            done = 0
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [
                    pool.submit(_simulate_chunk, self.bank, self.roadmap, self.grader.grades, policy, chunk, days, seed)
                    for chunk in chunks
                ]
                for chunk, future in zip(chunks, futures, strict=True):
                    stats.add(future.result())
                    done += len(chunk)
                    if progress is not None:
                        progress(done, learners)
        return SimulationResult(
            policy=policy,
            learners=learners,
            days=days,
            seed=seed,
            days_to_award={s: tuple(sorted(v)) for s, v in stats.awards.items()},
            answers=stats.answers,
            seconds=time.perf_counter() - started,
            assessments={
                k: {
                    "started": stats.started[k],
                    "passed": stats.passed[k],
                    "refused": stats.refused[k],
                    "flagged_fast": stats.flagged_fast[k],
                }
                for k in ASSESSMENT_KINDS
            },
            free_text={k: stats.free_text[k] for k in FREE_TEXT_COUNTS},
        )

    async def _learners(self, policy: Policy, indices: list[int], days: int, seed: int) -> _Stats:
        stats = _Stats()
        for index in indices:
            learner = await self._learner(policy, index, seed)
            for day in range(days):
                await self._day(learner, policy, day, stats)
            for award in await learner.store.awards(learner.learner_id):
                if award.active:
                    elapsed = (award.awarded_at - learner.start) / timedelta(days=1)
                    stats.awards.setdefault(award.stage, []).append(round(elapsed, 2))
        return stats

    async def _learner(self, policy: Policy, index: int, seed: int) -> _Learner:
        # A string seed is hashed with SHA-512 by `random`: the same in every process.
        rng = random.Random(f"{seed}/{policy.name}/{index}")
        start = START + timedelta(minutes=rng.randrange(7 * 60, 21 * 60))
        clock = FakeClock(start)
        store = MemoryStore()
        practice = PracticeService(
            bank=self.bank,
            store=store,
            srs=self.srs,
            grade_free_text=self.grader,
            clock=clock,
            rng=random.Random(rng.getrandbits(64)),
        )
        mastery = MasteryService(practice, store, self.roadmap, clock, rng=random.Random(rng.getrandbits(64)))
        learner_id = await store.learner_for(PLATFORM, f"{policy.name}-{index}", start)
        return _Learner(rng, clock, store, mastery, learner_id, start)

    async def _day(self, s: _Learner, policy: Policy, day: int, stats: _Stats) -> None:
        session_at = s.start + timedelta(days=day)
        s.clock.at_least(session_at)
        await self._sweep(s, policy, stats)
        await self._practise(s, policy, stats)
        await self._sweep(s, policy, stats)
        s.clock.at_least(session_at + LATER_SWEEP)
        await self._sweep(s, policy, stats)

    async def _practise(self, s: _Learner, policy: Policy, stats: _Stats) -> None:
        try:
            quiz = await s.mastery.practice.start_quiz(s.learner_id, "learn", ITEMS_PER_DAY)
        except PracticeError:
            return  # nothing due and no new items left today
        await self._answer_all(s, policy, quiz.id, quiz.items, False, stats)

    async def _sweep(self, s: _Learner, policy: Policy, stats: _Stats) -> None:
        """Take every assessment the rules allow now (see the module docstring)."""
        for stage in STAGE_IDS:
            if stage in s.awarded:
                continue
            kinds: list[str] = []
            if stage in s.gated:
                if stage not in s.rechecked:
                    kinds.append("recheck")
            else:
                if all(LEVELS.index(s.levels.get(c, "not-started")) >= PROFICIENT for c in STAGE_CONCEPTS[stage]):
                    kinds.append("checkpoint")
                if policy.placement:
                    kinds.append("placement")
            for kind in kinds:
                waiting = s.not_before.get((kind, stage))
                if waiting is not None and s.clock.now < waiting:
                    continue
                if await s.mastery.availability(s.learner_id, kind, stage) is not None:
                    continue
                try:
                    start = await s.mastery.start_assessment(s.learner_id, kind, stage)
                except PracticeError:
                    stats.refused[kind] += 1
                    continue
                stats.started[kind] += 1
                s.not_before[(kind, stage)] = start.assessment.started_at + s.mastery.rules.spec(kind).cooldown
                await self._answer_all(s, policy, start.session.id, start.session.items, True, stats)

    async def _answer_all(
        self,
        s: _Learner,
        policy: Policy,
        session_id: str,
        shown: Iterable[DeliveredItem],
        assessment: bool,
        stats: _Stats,
    ) -> None:
        record = await s.store.get_session(session_id)
        assert record is not None
        for delivered, rec in zip(shown, record.items, strict=True):
            item = self.bank.item(delivered.item_id)
            right = self._knows(s, policy, item.concept)
            answer = self._answer(policy, item, delivered, rec, right, s.rng)
            latency = self._latency(policy, item, assessment, s.rng)
            s.clock.advance(latency / 1000)
            outcome = await s.mastery.answer(
                s.learner_id, session_id, delivered.position, answer, latency_ms=latency, platform=PLATFORM
            )
            self._note(s, item, outcome, right, stats)
            stats.flagged_fast[record.kind] += outcome.flagged_fast
            s.clock.advance(s.rng.uniform(2.0, 8.0))  # reading the feedback

    def _knows(self, s: _Learner, policy: Policy, concept: str) -> bool | None:
        """Whether a knowing learner gets this one right; None for a guesser."""
        if policy.guesser:
            return None
        last = s.practised.get(concept)
        days = None if last is None else (s.clock.now - last) / timedelta(days=1)
        return s.rng.random() < policy.accuracy(days)

    def _note(self, s: _Learner, item: Item, outcome: Outcome, right: bool | None, stats: _Stats) -> None:
        stats.answers += 1
        s.levels[item.concept] = outcome.level
        s.practised[item.concept] = s.clock.now
        if isinstance(item, FreeTextItem):
            kind = "right" if right else "wrong"
            stats.free_text[kind] += 1
            stats.free_text[f"{kind}_accepted"] += outcome.result.verdict == "correct"
        finished = outcome.assessment
        if finished is not None and finished.passed:
            stats.passed[finished.kind] += 1
            if finished.kind == "recheck":
                s.rechecked.add(finished.stage)
            else:
                s.gated.add(finished.stage)
                s.not_before[("recheck", finished.stage)] = s.clock.now + s.mastery.rules.recheck.opens_after
        if outcome.award is not None and outcome.award.action == "grant":
            s.awarded.add(outcome.award.stage)

    def _answer(
        self,
        policy: Policy,
        item: Item,
        shown: DeliveredItem,
        rec: SessionItemRecord,
        right: bool | None,
        rng: random.Random,
    ) -> str:
        if isinstance(item, McqItem):
            key = shown.options.index(item.options[item.answer])
            if policy.choice == "first":
                pick = 0
            elif policy.choice == "longest":
                pick = max(range(len(shown.options)), key=lambda i: len(shown.options[i]))
            elif right is None:
                pick = rng.randrange(len(shown.options))
            else:
                pick = key if right else rng.choice([i for i in range(len(shown.options)) if i != key])
            return OPTION_LETTERS[pick]
        if isinstance(item, TrueFalseItem):
            true = rng.random() < 0.5 if right is None else item.answer == right
            return "true" if true else "false"
        if isinstance(item, NumericItem):
            if right is None:
                return guess_number(shown.prompt, rng)
            expected = evaluate_numeric(item, rec.params)
            return _number(expected if right else _miss(expected, item.tolerance, rng), item.tolerance)
        if isinstance(item, FreeTextItem):
            return rng.choice(self.answers.right(item) if right else self.answers.wrong(item))
        return "good" if right or (right is None and rng.random() < 0.5) else "again"  # flashcards

    def _latency(self, policy: Policy, item: Item, assessment: bool, rng: random.Random) -> int:
        """Milliseconds to answer: guessers are quick; the others read and think (see module doc)."""
        if policy.guesser:
            low, high = GUESS_SECONDS.get(item.type, (1.0, 4.0))
            return int(rng.uniform(low, high) * 1000)
        if not assessment:
            return int(EXPECTED_SECONDS[item.type] * math.exp(rng.gauss(0.0, 0.35)) * 1000)
        chars = len(getattr(item, "prompt", "")) + sum(len(o) for o in getattr(item, "options", ()))
        think = rng.uniform(5.0, 20.0) if isinstance(item, McqItem) else rng.uniform(30.0, 120.0)
        latency = int(chars * rng.uniform(20.0, 35.0) + think * 1000)
        while too_fast(item, latency):
            latency += 1000
        return min(latency, int(time_limit_ms(item) * 0.9))
