"""Practice: quiz selection, answer checking, spaced repetition and item reports (platform-free)."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from bot.core.content import CONCEPT_STAGE, STAGE_CONCEPTS
from bot.core.questions import (
    FlashcardItem,
    FreeTextItem,
    Item,
    McqItem,
    NumericItem,
    QuestionBank,
    TrueFalseItem,
    draw_params,
    evaluate_numeric,
    render_prompt,
)
from bot.core.srs import CardState, Rating, Srs, new_card, plan_reviews, rating_for

QuizKind = Literal["learn", "review"]
Verdict = Literal["correct", "partial", "incorrect"]
QUIZ_KINDS: tuple[str, ...] = ("learn", "review")
OPTION_LETTERS = "ABCD"
# Seconds a learner is expected to need per item type; drives the Easy/Good/Hard rating.
EXPECTED_SECONDS = {"mcq": 30.0, "true_false": 15.0, "numeric": 90.0, "free_text": 120.0, "flashcard": 20.0}
MAX_ANSWER_CHARS = 2000
TEACHING_ORDER: tuple[str, ...] = tuple(c for cs in STAGE_CONCEPTS.values() for c in cs)


class PracticeError(ValueError):
    """A request the learner can fix (message is safe to show)."""


class SessionNotFoundError(PracticeError):
    """No open session with that id for this learner."""


class SessionExpiredError(PracticeError):
    """The session's time is up."""


class NotInSessionError(PracticeError):
    """The item/position is not part of the learner's open session."""


class AlreadyAnsweredError(PracticeError):
    """A different answer was already given to this item in this session."""


class InvalidAnswerError(PracticeError):
    """The answer cannot be read for this item type (e.g. 'E' for a four-option question)."""


@dataclass(frozen=True)
class FreeTextGrade:
    """A graded answer: what the free-text grader returns (see bot.core.grading); exact checks use it too."""

    verdict: Verdict
    score: float
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    mistakes: tuple[str, ...] = ()  # known misconceptions the answer states


FreeTextGrader = Callable[[FreeTextItem, str], Awaitable[FreeTextGrade]]


@dataclass(frozen=True)
class _Checked:
    """An answer checked against its item: the grade, whether it counts toward mastery, a self-rating."""

    grade: FreeTextGrade
    counts: bool = True  # self-rated flashcards never count
    self_rating: int | None = None  # the FSRS rating a flashcard answer chose (None: from the verdict)


@dataclass(frozen=True)
class DeliveredItem:
    """An item as shown to the learner: prompt rendered, options in this session's order."""

    position: int
    item_id: str
    type: str
    concept: str
    stage: str
    prompt: str
    options: tuple[str, ...] = ()
    answered: bool = False


@dataclass(frozen=True)
class QuizSession:
    id: str
    learner_id: int
    kind: str
    created_at: datetime
    expires_at: datetime
    items: tuple[DeliveredItem, ...]
    catch_up: bool = False
    backlog: int = 0


@dataclass(frozen=True)
class AnswerResult:
    """The verdict on one answer and what the learner should see next."""

    verdict: Verdict
    score: float
    feedback: str
    explanation: str
    explanation_long: str
    correct_answer: str
    source: str
    next_review: datetime | None
    attempt_id: int
    duplicate: bool = False
    counts: bool = True
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    mistakes: tuple[str, ...] = ()

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"


@dataclass(frozen=True)
class SessionItemRecord:
    position: int
    item_id: str
    params: dict[str, int]
    option_order: tuple[int, ...]
    attempt_id: int | None


@dataclass(frozen=True)
class SessionRecord:
    id: str
    learner_id: int
    kind: str
    created_at: datetime
    expires_at: datetime
    seed: int
    status: str
    items: tuple[SessionItemRecord, ...]


@dataclass(frozen=True)
class AttemptRecord:
    """One answer as it was graded (an upheld dispute does not change it; see `FlagRow`)."""

    id: int
    learner_id: int
    item_id: str
    answer: str
    verdict: Verdict
    score: float
    created_at: datetime
    counts: bool
    kind: str = "learn"  # the quiz kind: learn, review, or an assessment (checkpoint, ...)


@dataclass(frozen=True)
class FlagRow:
    """A learner's report on an item or dispute of a grade, as listed for admins.

    `status` is "open" until an admin resolves it: "upheld" (for a dispute of a practice
    answer, the answer then counts as correct wherever verdicts are read: levels, item
    statistics), "rejected" (the grade or item stands) or "closed" (acknowledged, nothing changed).
    """

    id: int
    item_id: str
    kind: str  # "report", "dispute", or "fast" (an assessment answer implausibly quick)
    reason: str
    status: str
    created_at: datetime
    attempt_id: int | None
    learner_id: int | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str = ""


FLAG_STATUSES = ("open", "upheld", "rejected", "closed")


@dataclass(frozen=True)
class RetiredItem:
    """An item an admin took out of rotation (a wrong key, say) until it is fixed and restored."""

    item_id: str
    retired_at: datetime
    retired_by: str
    reason: str


@dataclass(frozen=True)
class ItemStats:
    """Per-item statistics over first-try attempts that count.

    `difficulty` is the share answered correctly (classical p-value, 0–1: low = hard);
    `discrimination` is the point-biserial correlation between being right on this item and the
    learner's accuracy on all other items (−1..1; low or negative = the item misleads good learners).
    """

    item_id: str
    attempts: int
    difficulty: float | None
    discrimination: float | None
    reports: int
    disputes: int


@dataclass(frozen=True)
class NewAttempt:
    learner_id: int
    item_id: str
    concept: str
    session_id: str | None
    position: int | None
    kind: str
    answer: str
    verdict: Verdict
    score: float
    rating: int | None
    latency_ms: int
    first_try: bool
    counts: bool
    platform: str
    created_at: datetime


@dataclass(frozen=True)
class DailyCounts:
    reviews: int
    new: int


class PracticeStore(Protocol):
    """Persistence the practice use cases need (SQL implementation in bot.storage.practice)."""

    async def create_session(self, session: SessionRecord) -> None: ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def close_session(self, session_id: str, status: str) -> None: ...

    async def cards(self, learner_id: int) -> list[tuple[str, CardState]]: ...

    async def card(self, learner_id: int, item_id: str) -> CardState | None: ...

    async def seen_items(self, learner_id: int) -> set[str]: ...

    async def has_attempt(self, learner_id: int, item_id: str) -> bool: ...

    async def daily_counts(self, learner_id: int, since: datetime) -> DailyCounts: ...

    async def record_answer(self, attempt: NewAttempt, card: CardState | None, concept: str) -> int: ...

    async def attempt(self, attempt_id: int) -> AttemptRecord | None: ...

    async def add_flag(
        self, item_id: str, learner_id: int, attempt_id: int | None, kind: str, reason: str, at: datetime
    ) -> int: ...

    async def flags(self, status: str | None = "open") -> list[FlagRow]:
        """Flags with this status (None: all), oldest first."""
        ...

    async def flag(self, flag_id: int) -> FlagRow | None: ...

    async def resolve_flag(self, flag_id: int, status: str, by: str, note: str, at: datetime) -> FlagRow | None:
        """Set an open flag's status; None when it does not exist or is no longer open (atomic)."""
        ...

    async def retired_items(self) -> dict[str, RetiredItem]: ...

    async def retire_item(self, item_id: str, by: str, reason: str, at: datetime) -> bool:
        """Take an item out of rotation; False when it already is."""
        ...

    async def restore_item(self, item_id: str) -> bool:
        """Put a retired item back; False when it was not retired."""
        ...

    async def item_stats(self, item_ids: Sequence[str]) -> list[ItemStats]: ...


@dataclass(frozen=True)
class PracticeConfig:
    """Workload and session limits."""

    daily_new_cap: int = 20
    daily_review_cap: int = 100
    catch_up_days: int = 7
    session_ttl: timedelta = timedelta(hours=2)
    max_items: int = 20


def item_statistics(
    item_ids: Sequence[str],
    first_tries: Iterable[tuple[int, str, float]],
    flag_counts: Mapping[tuple[str, str], int],
) -> list[ItemStats]:
    """`ItemStats` per item from (learner, item, score) of first-try attempts that count (score
    1.0 = right) and flag counts per (item, kind); the same figures from every store."""
    per_learner: dict[int, list[tuple[str, float]]] = {}
    for learner_id, item_id, score in first_tries:
        per_learner.setdefault(learner_id, []).append((item_id, 1.0 if score >= 1.0 else 0.0))
    out = []
    for item_id in item_ids:
        xs: list[float] = []
        ys: list[float] = []
        n, right = 0, 0.0
        for answers in per_learner.values():
            mine = [s for i, s in answers if i == item_id]
            others = [s for i, s in answers if i != item_id]
            n += len(mine)
            right += sum(mine)
            if mine and others:
                xs.append(mine[0])
                ys.append(sum(others) / len(others))
        out.append(
            ItemStats(
                item_id=item_id,
                attempts=n,
                difficulty=right / n if n else None,
                discrimination=_correlation(xs, ys),
                reports=flag_counts.get((item_id, "report"), 0),
                disputes=flag_counts.get((item_id, "dispute"), 0),
            )
        )
    return out


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r (point-biserial when xs are 0/1); None below 3 pairs or without variance."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return float(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (sxx * syy) ** 0.5)


def card_id_for(learner_id: int, item_id: str) -> int:
    """A stable positive 31-bit card id for a learner × item (fits every SQL INTEGER)."""
    digest = hashlib.sha256(f"{learner_id}\x1f{item_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def explainer_source(item: Item) -> str:
    """Where the item's topic is explained: the explainer file and section."""
    stage = CONCEPT_STAGE.get(item.concept, "")
    return f"knowledge/concepts/{stage}/{item.concept}.md#{item.section}"


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _parse_number(text: str) -> float:
    cleaned = text.strip().replace(",", "").replace(" ", "")
    percent = cleaned.endswith("%")
    cleaned = cleaned.rstrip("%")
    try:
        if re.fullmatch(r"-?\d+/\d+", cleaned):
            num, den = cleaned.split("/")
            value = int(num) / int(den)
        else:
            value = float(cleaned)
    except (ValueError, ZeroDivisionError) as exc:
        raise InvalidAnswerError("please answer with a number, e.g. 0.75") from exc
    return value / 100 if percent else value


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


@dataclass
class PracticeService:
    """Quizzes and answers for any front-end. Time and randomness are injected."""

    bank: QuestionBank
    store: PracticeStore
    srs: Srs
    grade_free_text: FreeTextGrader
    clock: Callable[[], datetime]
    rng: random.Random = field(default_factory=lambda: random.Random(secrets.randbits(64)))
    config: PracticeConfig = field(default_factory=PracticeConfig)
    # Why this learner may not start a quiz now (e.g. an assessment is running), or None; set by
    # `MasteryService`, so every front-end is held to it.
    quiz_gate: Callable[[int], Awaitable[str | None]] | None = None

    async def start_quiz(self, learner_id: int, kind: str, n: int = 5) -> QuizSession:
        """Open a quiz session: due reviews first (most overdue first), then new items.

        New items come from the learner's next unseen concepts in teaching order, two concepts
        interleaved. Daily caps apply; a backlog larger than a week of reviews switches to
        catch-up mode, which spreads it over the next days instead of dumping it.
        """
        if kind not in QUIZ_KINDS:
            raise PracticeError(f"unknown quiz kind {kind!r}; use one of {', '.join(QUIZ_KINDS)}")
        refusal = None if self.quiz_gate is None else await self.quiz_gate(learner_id)
        if refusal is not None:
            raise PracticeError(refusal)
        n = max(1, min(n, self.config.max_items))
        now = self.clock()
        day_start = now - timedelta(hours=24)
        counts = await self.store.daily_counts(learner_id, day_start)
        retired = set(await self.store.retired_items())
        known = {item.id for item in self.bank.items} - retired  # one lookup per quiz, not one per card
        cards = [(item_id, card) for item_id, card in await self.store.cards(learner_id) if item_id in known]
        review_room = max(0, self.config.daily_review_cap - counts.reviews)
        plan = plan_reviews(cards, now, self.config.daily_review_cap, self.config.catch_up_days)
        chosen: list[str] = list(plan.today[: min(n, review_room)])
        if kind == "learn" and len(chosen) < n:
            room = min(n - len(chosen), max(0, self.config.daily_new_cap - counts.new))
            seen = await self.store.seen_items(learner_id)
            chosen.extend(self._new_items(seen | set(chosen) | retired, room))
        if not chosen:
            raise PracticeError(
                "nothing is due for review right now: try /quiz for new material"
                if kind == "review"
                else "you have reached today's limit of new items; reviews will be due tomorrow"
            )
        session = self.build_session(learner_id, kind, chosen, now, self.config.session_ttl)
        await self.store.create_session(session)
        return self.deliver(session, plan.catch_up, plan.backlog)

    def build_session(
        self, learner_id: int, kind: str, item_ids: list[str], now: datetime, ttl: timedelta
    ) -> SessionRecord:
        """A new session record: parameters drawn and options shuffled from a recorded seed."""
        seed = self.rng.randrange(2**31)
        session_rng = random.Random(seed)
        records = []
        for position, item_id in enumerate(item_ids):
            item = self.bank.item(item_id)
            params = draw_params(item, session_rng) if isinstance(item, NumericItem) else {}
            order = tuple(session_rng.sample(range(4), 4)) if isinstance(item, McqItem) else ()
            records.append(SessionItemRecord(position, item_id, params, order, None))
        return SessionRecord(
            id=secrets.token_urlsafe(16),
            learner_id=learner_id,
            kind=kind,
            created_at=now,
            expires_at=now + ttl,
            seed=seed,
            status="open",
            items=tuple(records),
        )

    def _new_items(self, seen: set[str], room: int) -> list[str]:
        """Unseen gradable items of the next two concepts with unseen items, interleaved."""
        queues: list[list[str]] = []
        for concept in TEACHING_ORDER:
            unseen = [
                i.id for i in self.bank.for_concept(concept) if i.id not in seen and not isinstance(i, FlashcardItem)
            ]
            if unseen:
                self.rng.shuffle(unseen)
                queues.append(unseen)
            if len(queues) == 2:
                break
        out: list[str] = []
        while len(out) < room and any(queues):
            for queue in queues:
                if queue and len(out) < room:
                    out.append(queue.pop(0))
        return out

    def deliver(self, session: SessionRecord, catch_up: bool = False, backlog: int = 0) -> QuizSession:
        items = []
        for rec in session.items:
            item = self.bank.item(rec.item_id)
            stage = self.bank.stage_of(rec.item_id)
            items.append(
                DeliveredItem(
                    position=rec.position,
                    item_id=rec.item_id,
                    type=item.type,
                    concept=item.concept,
                    stage=stage,
                    prompt=self._prompt(item, rec.params),
                    options=tuple(item.options[i] for i in rec.option_order)
                    if isinstance(item, McqItem)
                    else ("True", "False")
                    if isinstance(item, TrueFalseItem)
                    else (),
                    answered=rec.attempt_id is not None,
                )
            )
        return QuizSession(
            session.id,
            session.learner_id,
            session.kind,
            session.created_at,
            session.expires_at,
            tuple(items),
            catch_up,
            backlog,
        )

    @staticmethod
    def _prompt(item: Item, params: dict[str, int]) -> str:
        if isinstance(item, NumericItem):
            return render_prompt(item, params)
        if isinstance(item, FlashcardItem):
            return item.front
        return item.prompt

    async def open_session(self, learner_id: int, session_id: str) -> QuizSession:
        """The learner's open session (e.g. after a restart), or SessionNotFound/Expired."""
        session = await self._session(learner_id, session_id)
        return self.deliver(session)

    async def _session(self, learner_id: int, session_id: str) -> SessionRecord:
        session = await self.store.get_session(session_id)
        if session is None or session.learner_id != learner_id:
            raise SessionNotFoundError("that quiz session does not exist (or is not yours)")
        if session.status != "open":
            raise SessionNotFoundError("that quiz session is closed")
        if self.clock() >= session.expires_at:
            await self.store.close_session(session.id, "expired")
            raise SessionExpiredError("that quiz session has expired: start a new one")
        return session

    async def submit_answer(
        self,
        learner_id: int,
        session_id: str,
        position: int,
        answer: str,
        *,
        latency_ms: int,
        platform: str,
        time_limit_ms: int | None = None,
    ) -> AnswerResult:
        """Grade an answer to one item of the learner's open session and schedule the next review.

        Idempotent: the same answer submitted again returns the first result (`duplicate=True`)
        and counts once; a different answer to an answered item is rejected. With
        `time_limit_ms`, a later answer is graded incorrect ("time is up").
        """
        session = await self._session(learner_id, session_id)
        rec = next((r for r in session.items if r.position == position), None)
        if rec is None:
            raise NotInSessionError("that question is not part of this quiz")
        item = self.bank.item(rec.item_id)
        answer = answer.strip()[:MAX_ANSWER_CHARS]
        if rec.attempt_id is not None:
            previous = await self.store.attempt(rec.attempt_id)
            if previous is not None and _normalise(previous.answer) == _normalise(answer):
                again = _Checked(FreeTextGrade(previous.verdict, previous.score), counts=previous.counts)
                return await self._result(item, rec, again, previous.id, None, duplicate=True)
            raise AlreadyAnsweredError("you already answered this question in this quiz")
        checked = await self._check(item, rec, answer)
        late = time_limit_ms is not None and latency_ms > time_limit_ms
        if late:
            checked = replace(checked, grade=FreeTextGrade("incorrect", 0.0))
        verdict, score = checked.grade.verdict, checked.grade.score
        now = self.clock()
        card = await self.store.card(learner_id, item.id) or new_card(card_id_for(learner_id, item.id), now)
        if checked.self_rating is not None:
            rating = Rating(checked.self_rating)
        else:
            rating = rating_for(verdict, latency_ms / 1000, EXPECTED_SECONDS[item.type])
        new_state, _record = self.srs.review(card, rating, now, self.rng)
        first_try = not await self.store.has_attempt(learner_id, item.id)
        attempt_id = await self.store.record_answer(
            NewAttempt(
                learner_id=learner_id,
                item_id=item.id,
                concept=item.concept,
                session_id=session.id,
                position=position,
                kind=session.kind,
                answer=answer,
                verdict=verdict,
                score=score,
                rating=int(rating),
                latency_ms=max(0, latency_ms),
                first_try=first_try,
                counts=checked.counts,
                platform=platform,
                created_at=now,
            ),
            new_state,
            item.concept,
        )
        result = await self._result(item, rec, checked, attempt_id, new_state.due, duplicate=False)
        return replace(result, feedback="Time is up: this answer counts as wrong.") if late else result

    async def _check(self, item: Item, rec: SessionItemRecord, answer: str) -> _Checked:
        if not answer:
            raise InvalidAnswerError("the answer is empty")
        if isinstance(item, McqItem):
            choice = answer.strip().upper().rstrip(").")
            if choice in OPTION_LETTERS and choice:
                shown = OPTION_LETTERS.index(choice)
            elif choice.isdigit() and 1 <= int(choice) <= 4:
                shown = int(choice) - 1
            else:
                raise InvalidAnswerError("answer with a letter A–D")
            right = rec.option_order[shown] == item.answer
            return _exact(right)
        if isinstance(item, TrueFalseItem):
            word = answer.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise InvalidAnswerError("answer true or false")
            right = (word in TRUE_WORDS) == item.answer
            return _exact(right)
        if isinstance(item, NumericItem):
            value = _parse_number(answer)
            expected = evaluate_numeric(item, rec.params)
            right = abs(value - expected) <= item.tolerance + 1e-12
            return _exact(right)
        if isinstance(item, FreeTextItem):
            return _Checked(await self.grade_free_text(item, answer))
        # Flashcards are self-rated: they schedule reviews but never count toward mastery.
        ratings = {"again": 1, "hard": 2, "good": 3, "easy": 4}
        word = answer.strip().lower()
        if word not in ratings:
            raise InvalidAnswerError("rate yourself: again, hard, good or easy")
        return _Checked(_exact(word != "again").grade, counts=False, self_rating=ratings[word])

    async def _result(
        self,
        item: Item,
        rec: SessionItemRecord,
        checked: _Checked,
        attempt_id: int,
        next_review: datetime | None,
        *,
        duplicate: bool,
    ) -> AnswerResult:
        grade = checked.grade
        verdict, mistakes = grade.verdict, grade.mistakes
        feedback = {
            "correct": "Correct!",
            "partial": "Partly there: compare with the reference answer (this does not count as correct).",
            "incorrect": "Not quite.",
        }[verdict]
        if mistakes:
            feedback = f"Not quite: this is a common misconception — “{mistakes[0]}” is not right."
        return AnswerResult(
            verdict=verdict,
            score=grade.score,
            feedback=feedback,
            explanation=item.explanation,
            explanation_long=item.explanation_long,
            correct_answer=self._correct_answer(item, rec),
            source=explainer_source(item),
            next_review=next_review,
            attempt_id=attempt_id,
            duplicate=duplicate,
            counts=checked.counts,
            matched=grade.matched,
            missing=grade.missing,
            mistakes=mistakes,
        )

    @staticmethod
    def _correct_answer(item: Item, rec: SessionItemRecord) -> str:
        if isinstance(item, McqItem):
            shown = rec.option_order.index(item.answer)
            return f"{OPTION_LETTERS[shown]}) {item.options[item.answer]}"
        if isinstance(item, TrueFalseItem):
            return "True" if item.answer else "False"
        if isinstance(item, NumericItem):
            value = evaluate_numeric(item, rec.params)
            return f"{value:.4g} (± {item.tolerance:g})"
        if isinstance(item, FreeTextItem):
            return item.reference
        return item.back

    async def report_item(self, learner_id: int, item_id: str, reason: str) -> int:
        """Queue an item for admins ('the key is wrong', 'ambiguous', ...)."""
        self.bank.item(item_id)  # KeyError for unknown ids
        reason = reason.strip()[:1000] or "no reason given"
        return await self.store.add_flag(item_id, learner_id, None, "report", reason, self.clock())

    async def retire_item(self, item_id: str, by: str, reason: str) -> RetiredItem:
        """Stop serving an item in quizzes and assessments (answers already given keep their grades).

        Raises:
            PracticeError: unknown item, no reason, or already retired.
        """
        try:
            self.bank.item(item_id)
        except KeyError:
            raise PracticeError(f"no item {item_id!r} in the question bank") from None
        reason = reason.strip()[:1000]
        if not reason:
            raise PracticeError("a reason is required")
        now = self.clock()
        if not await self.store.retire_item(item_id, by, reason, now):
            raise PracticeError(f"{item_id} is already retired")
        return RetiredItem(item_id, now, by, reason)

    async def restore_item(self, item_id: str) -> None:
        """Serve a retired item again (after fixing it).

        Raises:
            PracticeError: the item is not retired.
        """
        if not await self.store.restore_item(item_id):
            raise PracticeError(f"{item_id} is not retired")

    async def my_flags(self, learner_id: int) -> list[FlagRow]:
        """The learner's own reports and disputes, oldest first, with what the admins decided."""
        return [f for f in await self.store.flags(None) if f.learner_id == learner_id and f.kind != "fast"]

    async def dispute_grade(self, learner_id: int, attempt_id: int, reason: str) -> int:
        """Queue one of the learner's own graded attempts for an admin's second look (once per answer)."""
        attempt = await self.store.attempt(attempt_id)
        if attempt is None or attempt.learner_id != learner_id:
            raise PracticeError("that answer does not exist (or is not yours)")
        if attempt.verdict == "correct":
            raise PracticeError(
                "that answer was graded correct: there is nothing to dispute (if the grading was too generous, "
                "report the question)"
            )
        earlier = [f for f in await self.store.flags(None) if f.kind == "dispute" and f.attempt_id == attempt_id]
        if any(f.status == "open" for f in earlier):
            raise PracticeError("you already disputed that answer: an admin will look at it")
        if earlier:
            raise PracticeError(f"an admin already looked at that answer ({earlier[-1].status})")
        reason = reason.strip()[:1000] or "no reason given"
        return await self.store.add_flag(attempt.item_id, learner_id, attempt_id, "dispute", reason, self.clock())


def _exact(right: bool) -> _Checked:
    """The check of an answer that is simply right or wrong (multiple choice, true/false, numeric)."""
    return _Checked(FreeTextGrade("correct" if right else "incorrect", float(right)))
