"""Spaced repetition: a pure, deterministic wrapper around `fsrs` with our own fuzz and review planning."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypedDict, TypeVar

from fsrs import Card, Rating, Scheduler, State

__all__ = [
    "FUZZ_MIN_INTERVAL",
    "MAX_DESIRED_RETENTION",
    "MIN_DESIRED_RETENTION",
    "CardState",
    "CardStateDict",
    "Rating",
    "ReviewPlan",
    "ReviewRecord",
    "ReviewRecordDict",
    "Srs",
    "State",
    "Verdict",
    "as_utc",
    "new_card",
    "plan_reviews",
    "rating_for",
]

# FSRS' recommended/permissible desired-retention range (see LANDSCAPE.md, "Spaced repetition").
MIN_DESIRED_RETENTION = 0.70
MAX_DESIRED_RETENTION = 0.97
# Intervals shorter than this are learning steps or near-term reviews: fuzzing them helps nothing.
FUZZ_MIN_INTERVAL = timedelta(days=3)
# A fuzzed long interval never lands sooner than this after the review.
FUZZ_FLOOR = timedelta(days=1)
# rating_for: "fast" is at most this fraction of the expected time, "very slow" more than this multiple.
FAST_FRACTION = 0.5
SLOW_FACTOR = 3.0

Verdict = Literal["correct", "partial", "incorrect"]
K = TypeVar("K")


def as_utc(value: datetime) -> datetime:
    """Returns the same instant as a tz-aware datetime whose tzinfo is exactly `datetime.UTC`.

    Naive datetimes (as SQLite returns them) are taken to be UTC already; aware ones in any other zone
    (fixed offsets, `zoneinfo.ZoneInfo`) are converted. `fsrs` rejects anything else.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class CardStateDict(TypedDict):
    """JSON-safe form of a `CardState` (datetimes as ISO 8601 strings in UTC)."""

    card_id: int
    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: str
    last_review: str | None


@dataclass(frozen=True)
class CardState:
    """One learner's memory state for one item, as stored by us (not an `fsrs.Card`).

    Attributes:
        card_id: Our id for the card (never derived from the clock).
        state: `fsrs.State` value as a plain int: 1 Learning, 2 Review, 3 Relearning.
        step: Index of the current (re)learning step, or None in the Review state.
        stability: FSRS stability in days (time for retrievability to fall from 1.0 to 0.9); None until
            the first review.
        difficulty: FSRS difficulty, 1–10; None until the first review.
        due: When the card is next due (UTC).
        last_review: When the card was last reviewed (UTC), or None for a never-reviewed card.

    Invariant: `due` and `last_review` are always tz-aware UTC; naive or other-zone inputs are
    normalised on construction (naive is read as UTC).
    """

    card_id: int
    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None

    def __post_init__(self) -> None:
        """Validates `state` and normalises the datetimes to UTC."""
        try:
            state = int(State(self.state))
        except ValueError:
            raise ValueError(f"state must be one of {[s.value for s in State]}, got {self.state!r}") from None
        # Normalising here (rather than rejecting) lets storage hand us SQLite's naive datetimes as they are.
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "due", as_utc(self.due))
        if self.last_review is not None:
            object.__setattr__(self, "last_review", as_utc(self.last_review))

    @property
    def is_new(self) -> bool:
        """True if the card has never been reviewed."""
        return self.last_review is None

    def to_dict(self) -> CardStateDict:
        """Returns a JSON-safe dict (ISO 8601 UTC datetimes); `from_dict` restores an equal CardState."""
        return {
            "card_id": self.card_id,
            "state": self.state,
            "step": self.step,
            "stability": self.stability,
            "difficulty": self.difficulty,
            "due": self.due.isoformat(),
            "last_review": None if self.last_review is None else self.last_review.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardState:
        """Builds a CardState from `to_dict` output (e.g. after a JSON round trip).

        Raises:
            KeyError: If a field is missing.
            ValueError: If a value cannot be parsed.
        """
        step, stability, difficulty, last_review = (
            data["step"],
            data["stability"],
            data["difficulty"],
            data["last_review"],
        )
        # `is None` checks on purpose: fsrs' own from_dict turns a falsy 0.0 into None.
        return cls(
            card_id=int(data["card_id"]),
            state=int(data["state"]),
            step=None if step is None else int(step),
            stability=None if stability is None else float(stability),
            difficulty=None if difficulty is None else float(difficulty),
            due=datetime.fromisoformat(data["due"]),
            last_review=None if last_review is None else datetime.fromisoformat(last_review),
        )


def new_card(card_id: int, now: datetime) -> CardState:
    """Returns a never-reviewed card, due immediately.

    Args:
        card_id: Our id for the card.
        now: Creation time (any zone; naive is read as UTC). The card is due at this instant.
    """
    return CardState(
        card_id=card_id,
        state=int(State.Learning),
        step=0,
        stability=None,
        difficulty=None,
        due=as_utc(now),
        last_review=None,
    )


def rating_for(verdict: Verdict, latency_seconds: float, expected_seconds: float) -> Rating:
    """Maps a graded answer and how long it took to an FSRS rating.

    - "incorrect" → Again.
    - "partial" → Hard.
    - "correct" and very slow (latency > 3 × expected) → Hard: recalled, but with effort.
    - "correct" and fast (latency ≤ 0.5 × expected) → Easy.
    - "correct" otherwise → Good.

    Args:
        verdict: The grader's verdict.
        latency_seconds: Seconds from showing the question to receiving the answer (≥ 0).
        expected_seconds: Seconds a prepared learner typically needs for this item (> 0).

    Raises:
        ValueError: On an unknown verdict, a negative latency or a non-positive expected time.
    """
    if not expected_seconds > 0:
        raise ValueError(f"expected_seconds must be > 0, got {expected_seconds!r}")
    if not latency_seconds >= 0:
        raise ValueError(f"latency_seconds must be >= 0, got {latency_seconds!r}")
    if verdict == "incorrect":
        return Rating.Again
    if verdict == "partial":
        return Rating.Hard
    if verdict != "correct":
        raise ValueError(f"unknown verdict {verdict!r}")
    if latency_seconds > SLOW_FACTOR * expected_seconds:
        return Rating.Hard
    if latency_seconds <= FAST_FRACTION * expected_seconds:
        return Rating.Easy
    return Rating.Good


class ReviewRecordDict(TypedDict):
    """JSON-safe form of a `ReviewRecord`."""

    rating: int
    reviewed_at: str
    due_before: str
    due_after: str
    retrievability_before: float


@dataclass(frozen=True)
class ReviewRecord:
    """What one review did, for the attempt log and later parameter optimisation.

    Attributes:
        rating: The rating applied.
        reviewed_at: When the review happened (UTC).
        due_before: The card's due time before the review (UTC).
        due_after: The card's new due time, fuzz included (UTC).
        retrievability_before: Predicted recall probability at `reviewed_at`, 0–1 (0 for a new card).
    """

    rating: Rating
    reviewed_at: datetime
    due_before: datetime
    due_after: datetime
    retrievability_before: float

    @property
    def interval(self) -> timedelta:
        """Time from this review to the next due time."""
        return self.due_after - self.reviewed_at

    def to_dict(self) -> ReviewRecordDict:
        """Returns a JSON-safe dict (ISO 8601 UTC datetimes)."""
        return {
            "rating": int(self.rating),
            "reviewed_at": self.reviewed_at.isoformat(),
            "due_before": self.due_before.isoformat(),
            "due_after": self.due_after.isoformat(),
            "retrievability_before": self.retrievability_before,
        }


class Srs:
    """FSRS scheduling with injected time and randomness.

    `fsrs`' own fuzzing is off (it draws from the global `random`); `review` applies ours from the
    `random.Random` it is given, so equal inputs and seeds give equal results.
    """

    def __init__(
        self,
        desired_retention: float = 0.9,
        max_fuzz: float = 0.05,
        maximum_interval_days: int = 36500,
    ) -> None:
        """Builds a scheduler.

        Args:
            desired_retention: Target probability of recall at the due time, 0.70–0.97. Higher values
                give shorter intervals and more reviews.
            max_fuzz: Largest relative change fuzz may make to an interval of 3 days or more, in [0, 1).
            maximum_interval_days: Longest interval in days, fuzz included (≥ 1).

        Raises:
            ValueError: If an argument is out of range.
        """
        if not MIN_DESIRED_RETENTION <= desired_retention <= MAX_DESIRED_RETENTION:
            raise ValueError(
                f"desired_retention must be between {MIN_DESIRED_RETENTION:.2f} and "
                f"{MAX_DESIRED_RETENTION:.2f}, got {desired_retention!r}"
            )
        if not 0 <= max_fuzz < 1:
            raise ValueError(f"max_fuzz must be in [0, 1), got {max_fuzz!r}")
        if maximum_interval_days < 1:
            raise ValueError(f"maximum_interval_days must be >= 1, got {maximum_interval_days!r}")
        self._desired_retention = desired_retention
        self._max_fuzz = max_fuzz
        self._maximum_interval = timedelta(days=maximum_interval_days)
        self._scheduler = Scheduler(
            desired_retention=desired_retention,
            maximum_interval=maximum_interval_days,
            enable_fuzzing=False,
        )

    @property
    def desired_retention(self) -> float:
        """Target recall probability at the due time, 0.70–0.97."""
        return self._desired_retention

    @property
    def max_fuzz(self) -> float:
        """Largest relative fuzz on intervals of 3 days or more."""
        return self._max_fuzz

    def review(
        self, card: CardState, rating: Rating, now: datetime, rng: random.Random
    ) -> tuple[CardState, ReviewRecord]:
        """Reviews `card` at `now` and schedules it again.

        Intervals of 3 days or more are multiplied by `1 + rng.uniform(-max_fuzz, max_fuzz)`, rounded to
        whole minutes, kept at least 1 day and at most `maximum_interval_days`. Shorter intervals
        (learning steps) are not fuzzed.

        Args:
            card: The card's state before the review. Not mutated.
            rating: The rating (see `rating_for`).
            now: Review time (any zone; naive is read as UTC).
            rng: Source of fuzz; at most one number is drawn. The global `random` is never used.

        Returns:
            A new CardState and the ReviewRecord of this review, all datetimes UTC.
        """
        rating = Rating(rating)
        now = as_utc(now)
        fsrs_card = _to_fsrs(card)
        retrievability_before = float(self._scheduler.get_card_retrievability(fsrs_card, current_datetime=now))
        reviewed, _ = self._scheduler.review_card(fsrs_card, rating, review_datetime=now)
        due = now + self._fuzz(reviewed.due - now, rng)
        after = CardState(
            card_id=card.card_id,
            state=int(reviewed.state),
            step=reviewed.step,
            stability=reviewed.stability,
            difficulty=reviewed.difficulty,
            due=due,
            last_review=now,
        )
        record = ReviewRecord(
            rating=rating,
            reviewed_at=now,
            due_before=card.due,
            due_after=due,
            retrievability_before=retrievability_before,
        )
        return after, record

    def retrievability(self, card: CardState, now: datetime) -> float:
        """Predicted probability, 0–1, that the learner recalls the card at `now`.

        Follows `fsrs`: a never-reviewed card has retrievability 0, and elapsed time counts in whole days.
        """
        return float(self._scheduler.get_card_retrievability(_to_fsrs(card), current_datetime=as_utc(now)))

    def is_due(self, card: CardState, now: datetime) -> bool:
        """True if the card's due time is at or before `now`."""
        return card.due <= as_utc(now)

    def _fuzz(self, interval: timedelta, rng: random.Random) -> timedelta:
        if interval < FUZZ_MIN_INTERVAL or self._max_fuzz == 0:
            return interval
        factor = 1 + rng.uniform(-self._max_fuzz, self._max_fuzz)
        fuzzed = timedelta(minutes=round(interval / timedelta(minutes=1) * factor))
        return min(max(fuzzed, FUZZ_FLOOR), self._maximum_interval)


def _to_fsrs(card: CardState) -> Card:
    # card_id and due are always passed: without them fsrs.Card reads the clock and sleeps 1 ms.
    return Card(
        card_id=card.card_id,
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=as_utc(card.due),
        last_review=None if card.last_review is None else as_utc(card.last_review),
    )


@dataclass(frozen=True)
class ReviewPlan(Generic[K]):
    """Which due cards to review today.

    Attributes:
        today: Keys to review today, most overdue first; at most `daily_cap` of them.
        backlog: How many cards are due now in total (including `today`).
        catch_up: True if the backlog exceeds `daily_cap × catch_up_days`: the learner was away, the
            backlog is spread over several days instead of being dumped at once, and the UI should say so.
        days_to_clear: Days needed to clear the current backlog at `daily_cap` per day (0 if nothing is
            due), not counting cards that fall due meanwhile.
    """

    today: list[K]
    backlog: int
    catch_up: bool
    days_to_clear: int


def plan_reviews(
    cards: Sequence[tuple[K, CardState]],
    now: datetime,
    daily_cap: int,
    catch_up_days: int = 7,
) -> ReviewPlan[K]:
    """Plans today's reviews under a daily cap.

    Args:
        cards: (key, card) pairs; the key is whatever the caller uses to find the item again.
        now: Planning time (any zone; naive is read as UTC). Cards due at or before it are due.
        daily_cap: Most reviews per day (≥ 1).
        catch_up_days: A backlog larger than `daily_cap × catch_up_days` puts the plan in catch-up mode (≥ 1).

    Returns:
        A ReviewPlan. Due cards are ordered by due time, oldest first (ties keep input order).

    Raises:
        ValueError: If `daily_cap` or `catch_up_days` is below 1.
    """
    if daily_cap < 1:
        raise ValueError(f"daily_cap must be >= 1, got {daily_cap!r}")
    if catch_up_days < 1:
        raise ValueError(f"catch_up_days must be >= 1, got {catch_up_days!r}")
    now = as_utc(now)
    due = sorted((pair for pair in cards if pair[1].due <= now), key=lambda pair: pair[1].due)
    backlog = len(due)
    return ReviewPlan(
        today=[key for key, _ in due[:daily_cap]],
        backlog=backlog,
        catch_up=backlog > daily_cap * catch_up_days,
        days_to_clear=math.ceil(backlog / daily_cap),
    )
