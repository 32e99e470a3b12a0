"""Spaced repetition core: deterministic FSRS reviews, our fuzz, time zones, rating mapping and planning."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import fsrs.card
import fsrs.scheduler
import pytest

from bot.core.srs import (
    CardState,
    Rating,
    ReviewPlan,
    Srs,
    State,
    new_card,
    plan_reviews,
    rating_for,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _review_card(card_id: int = 7, stability: float = 100.0, days_since: int = 100) -> CardState:
    """A card in the Review state, last reviewed `days_since` days ago and due now."""
    return CardState(
        card_id=card_id,
        state=int(State.Review),
        step=None,
        stability=stability,
        difficulty=5.0,
        due=NOW,
        last_review=NOW - timedelta(days=days_since),
    )


def _graduated(srs: Srs, now: datetime = NOW) -> CardState:
    """A new card taken through both learning steps with Good."""
    rng = random.Random(0)
    card, _ = srs.review(new_card(1, now), Rating.Good, now, rng)
    card, _ = srs.review(card, Rating.Good, card.due, rng)
    return card


# --- reviews -------------------------------------------------------------------------------------


def test_new_card_is_due_now_with_zero_retrievability() -> None:
    card = new_card(1, NOW)
    srs = Srs()
    assert card.due == NOW
    assert card.is_new
    assert card.state == State.Learning
    assert srs.is_due(card, NOW)
    assert not srs.is_due(card, NOW - timedelta(seconds=1))
    assert srs.retrievability(card, NOW) == 0.0


def test_new_card_reviewed_good_gets_a_later_due_date() -> None:
    srs = Srs()
    card = new_card(1, NOW)
    after, record = srs.review(card, Rating.Good, NOW, random.Random(0))
    assert after.due > NOW
    assert after.last_review == NOW
    assert record.reviewed_at == NOW
    assert record.due_before == NOW
    assert record.due_after == after.due
    assert record.rating is Rating.Good
    assert record.retrievability_before == 0.0
    # the input is a value: reviewing returns a new card and leaves the old one as it was
    assert card == new_card(1, NOW)
    # a second Good graduates it to the Review state, days away
    graduated = _graduated(srs)
    assert graduated.state == State.Review
    assert graduated.due - graduated.last_review >= timedelta(days=1)  # type: ignore[operator]


def test_again_brings_a_long_interval_card_back_soon() -> None:
    srs = Srs()
    good, _ = srs.review(_review_card(), Rating.Good, NOW, random.Random(0))
    again, record = srs.review(_review_card(), Rating.Again, NOW, random.Random(0))
    assert good.due - NOW > timedelta(days=30)
    assert again.state == State.Relearning
    assert NOW < again.due <= NOW + timedelta(hours=1)
    assert record.interval == again.due - NOW
    assert again.stability is not None and again.stability < 100.0


def test_same_inputs_and_seed_give_identical_results() -> None:
    srs = Srs()
    for rating in Rating:
        first = srs.review(_review_card(), rating, NOW, random.Random(42))
        second = srs.review(_review_card(), rating, NOW, random.Random(42))
        assert first == second
    # a whole sequence of reviews, too
    runs = []
    for _ in range(2):
        rng, card, dues = random.Random(3), new_card(1, NOW), []
        for rating in (Rating.Good, Rating.Good, Rating.Good, Rating.Hard, Rating.Easy, Rating.Again, Rating.Good):
            card, _ = srs.review(card, rating, card.due, rng)
            dues.append(card.due)
        runs.append((card, dues))
    assert runs[0] == runs[1]


def test_different_seeds_fuzz_long_intervals_within_five_percent() -> None:
    base_card, _ = Srs(max_fuzz=0).review(_review_card(), Rating.Good, NOW, random.Random(0))
    base = base_card.due - NOW
    assert base >= timedelta(days=30)

    srs = Srs(max_fuzz=0.05)
    intervals = [srs.review(_review_card(), Rating.Good, NOW, random.Random(seed))[1].interval for seed in range(30)]
    assert len(set(intervals)) > 20
    for interval in intervals:
        assert base * 0.95 <= interval <= base * 1.05
        assert interval % timedelta(minutes=1) == timedelta(0)  # whole minutes


def test_short_intervals_are_not_fuzzed() -> None:
    srs = Srs(max_fuzz=0.05)
    rng = random.Random(0)
    state = rng.getstate()
    after, _ = srs.review(new_card(1, NOW), Rating.Good, NOW, rng)
    assert after.due == NOW + timedelta(minutes=10)  # fsrs' second learning step, exactly
    assert rng.getstate() == state  # nothing was drawn


def test_fuzzed_interval_never_exceeds_the_maximum() -> None:
    srs = Srs(max_fuzz=0.05, maximum_interval_days=30)
    for seed in range(20):
        after, _ = srs.review(_review_card(), Rating.Good, NOW, random.Random(seed))
        assert after.due - NOW <= timedelta(days=30)


@pytest.mark.parametrize(
    "local_now",
    [
        datetime(2025, 6, 1, 12, 0),  # naive, as SQLite returns it: read as UTC
        datetime(2025, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2025, 6, 1, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")),  # CEST, UTC+2
        datetime(2025, 6, 1, 8, 0, tzinfo=ZoneInfo("America/New_York")),  # EDT, UTC-4
    ],
)
def test_naive_and_non_utc_datetimes_are_normalised(local_now: datetime) -> None:
    srs = Srs()
    expected, expected_record = srs.review(new_card(1, NOW), Rating.Good, NOW, random.Random(0))

    after, record = srs.review(new_card(1, local_now), Rating.Good, local_now, random.Random(0))

    assert after == expected
    assert record == expected_record
    assert after.due == NOW + timedelta(minutes=10)
    for value in (after.due, after.last_review, record.reviewed_at, record.due_before, record.due_after):
        assert value is not None
        assert value.tzinfo is UTC


def test_card_state_from_storage_with_naive_datetimes_is_read_as_utc() -> None:
    stored = CardState(
        card_id=7,
        state=int(State.Review),
        step=None,
        stability=100.0,
        difficulty=5.0,
        due=NOW.replace(tzinfo=None),
        last_review=(NOW - timedelta(days=100)).replace(tzinfo=None),
    )
    assert stored == _review_card()
    assert stored.due.tzinfo is UTC
    srs = Srs()
    berlin_now = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    assert srs.review(stored, Rating.Good, berlin_now, random.Random(1)) == srs.review(
        _review_card(), Rating.Good, NOW, random.Random(1)
    )
    assert srs.is_due(stored, berlin_now)


def test_review_leaves_the_global_random_state_untouched() -> None:
    before = random.getstate()
    srs = Srs()
    rng = random.Random(5)
    card = new_card(1, NOW)
    for rating in (Rating.Good, Rating.Good, Rating.Good, Rating.Easy, Rating.Good):
        card, _ = srs.review(card, rating, card.due, rng)
    srs.review(_review_card(), Rating.Good, NOW, rng)
    assert card.due - card.last_review >= timedelta(days=3)  # type: ignore[operator]  # fuzz did apply
    assert random.getstate() == before


def test_building_and_reviewing_cards_never_sleeps_or_reads_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called")

    class NoClock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> NoClock:
            raise AssertionError("the clock was read")

    monkeypatch.setattr(time, "sleep", no_sleep)
    monkeypatch.setattr(fsrs.card, "datetime", NoClock)
    monkeypatch.setattr(fsrs.scheduler, "datetime", NoClock)

    srs = Srs()
    rng = random.Random(0)
    card = new_card(1, NOW)
    for rating in (Rating.Good, Rating.Good, Rating.Again, Rating.Good, Rating.Easy):
        card, _ = srs.review(card, rating, card.due, rng)
    srs.retrievability(card, NOW + timedelta(days=3))
    srs.is_due(card, NOW)
    CardState.from_dict(card.to_dict())


# --- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize("retention", [0.0, 0.5, 0.69, 0.6999, 0.971, 0.98, 0.99, 1.0, float("nan")])
def test_desired_retention_outside_range_raises(retention: float) -> None:
    with pytest.raises(ValueError, match=r"0\.70 and 0\.97"):
        Srs(desired_retention=retention)


@pytest.mark.parametrize("retention", [0.70, 0.85, 0.9, 0.97])
def test_desired_retention_inside_range_is_accepted(retention: float) -> None:
    assert Srs(desired_retention=retention).desired_retention == retention


@pytest.mark.parametrize(("max_fuzz", "max_days"), [(-0.01, 10), (1.0, 10), (0.05, 0)])
def test_other_invalid_arguments_raise(max_fuzz: float, max_days: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        Srs(max_fuzz=max_fuzz, maximum_interval_days=max_days)


def test_higher_desired_retention_gives_shorter_intervals() -> None:
    def interval(retention: float, card: CardState, rating: Rating) -> timedelta:
        after, _ = Srs(desired_retention=retention, max_fuzz=0).review(card, rating, NOW, random.Random(0))
        return after.due - NOW

    for card, rating in ((new_card(1, NOW), Rating.Easy), (_review_card(), Rating.Good)):
        low, mid, high = (interval(r, card, rating) for r in (0.80, 0.90, 0.97))
        assert low > mid > high >= timedelta(days=1)


# --- retrievability ------------------------------------------------------------------------------


def test_retrievability_decreases_over_time() -> None:
    srs = Srs()
    card = _graduated(srs)
    assert card.last_review is not None
    values = [srs.retrievability(card, card.last_review + timedelta(days=d)) for d in (0, 1, 3, 10, 30, 365)]
    assert values[0] == pytest.approx(1.0)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == len(values)


def test_retrievability_at_the_due_date_is_near_desired_retention() -> None:
    card = _review_card(stability=50.0, days_since=0)
    after, _ = Srs(desired_retention=0.9, max_fuzz=0).review(card, Rating.Good, NOW, random.Random(0))
    assert Srs().retrievability(after, after.due) == pytest.approx(0.9, abs=0.01)


# --- serialisation -------------------------------------------------------------------------------


def test_card_state_round_trips_through_json() -> None:
    srs = Srs()
    for card in (new_card(1, NOW), _graduated(srs), srs.review(_review_card(), Rating.Again, NOW, random.Random(0))[0]):
        data = json.loads(json.dumps(card.to_dict()))
        assert CardState.from_dict(data) == card
    assert new_card(1, NOW).to_dict() == {
        "card_id": 1,
        "state": 1,
        "step": 0,
        "stability": None,
        "difficulty": None,
        "due": "2025-06-01T12:00:00+00:00",
        "last_review": None,
    }


def test_review_record_is_json_safe() -> None:
    _, record = Srs().review(_review_card(), Rating.Hard, NOW, random.Random(0))
    data = json.loads(json.dumps(record.to_dict()))
    assert data["rating"] == 2
    assert datetime.fromisoformat(data["reviewed_at"]) == NOW
    assert datetime.fromisoformat(data["due_after"]) == record.due_after
    assert 0.0 <= data["retrievability_before"] <= 1.0


def test_card_state_rejects_unknown_state() -> None:
    with pytest.raises(ValueError, match="state must be one of"):
        CardState(1, 9, None, None, None, NOW, None)


# --- rating_for ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "latency", "rating"),
    [
        ("incorrect", 1.0, Rating.Again),
        ("incorrect", 100.0, Rating.Again),
        ("partial", 1.0, Rating.Hard),
        ("partial", 15.0, Rating.Hard),
        ("correct", 0.0, Rating.Easy),
        ("correct", 10.0, Rating.Easy),  # exactly 0.5 × expected is still fast
        ("correct", 10.1, Rating.Good),
        ("correct", 20.0, Rating.Good),
        ("correct", 60.0, Rating.Good),  # exactly 3 × expected is not yet very slow
        ("correct", 60.1, Rating.Hard),
        ("correct", 600.0, Rating.Hard),
    ],
)
def test_rating_for_maps_verdict_and_latency(verdict: str, latency: float, rating: Rating) -> None:
    assert rating_for(verdict, latency, expected_seconds=20.0) is rating  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdict", "latency", "expected"),
    [("correct", 5.0, 0.0), ("correct", 5.0, -1.0), ("correct", -1.0, 20.0), ("maybe", 5.0, 20.0)],
)
def test_rating_for_rejects_bad_input(verdict: str, latency: float, expected: float) -> None:
    with pytest.raises(ValueError, match=r"must be|unknown verdict"):
        rating_for(verdict, latency, expected)  # type: ignore[arg-type]


# --- plan_reviews --------------------------------------------------------------------------------


def _due_in(days: float, card_id: int = 0) -> CardState:
    return new_card(card_id, NOW + timedelta(days=days))


def test_plan_orders_most_overdue_first_and_skips_cards_not_yet_due() -> None:
    cards = [
        ("b", _due_in(-2)),
        ("future", _due_in(1)),
        ("d", _due_in(0)),  # due exactly now counts
        ("a", _due_in(-10)),
        ("c", _due_in(-0.5)),
        ("c2", _due_in(-0.5)),  # ties keep input order
    ]
    plan = plan_reviews(cards, NOW, daily_cap=10)
    assert plan == ReviewPlan(today=["a", "b", "c", "c2", "d"], backlog=5, catch_up=False, days_to_clear=1)


def test_plan_caps_today_at_daily_cap() -> None:
    cards = [(i, _due_in(-i)) for i in range(1, 26)]
    plan = plan_reviews(cards, NOW, daily_cap=10)
    assert plan.today == list(range(25, 15, -1))
    assert plan.backlog == 25
    assert plan.days_to_clear == 3
    assert not plan.catch_up


def test_plan_enters_catch_up_mode_for_a_large_backlog() -> None:
    at_threshold = [(i, _due_in(-1 - i / 100)) for i in range(70)]
    plan = plan_reviews(at_threshold, NOW, daily_cap=10, catch_up_days=7)
    assert not plan.catch_up
    assert plan.days_to_clear == 7

    after_absence = [(i, _due_in(-1 - i / 100)) for i in range(71)]
    plan = plan_reviews(after_absence, NOW, daily_cap=10, catch_up_days=7)
    assert plan.catch_up
    assert len(plan.today) == 10  # not dumped on the learner
    assert plan.today == list(range(70, 60, -1))
    assert plan.backlog == 71
    assert plan.days_to_clear == 8


def test_plan_with_nothing_due_is_empty() -> None:
    plan = plan_reviews([("x", _due_in(1))], NOW.astimezone(ZoneInfo("Europe/Berlin")), daily_cap=5)
    assert plan == ReviewPlan(today=[], backlog=0, catch_up=False, days_to_clear=0)


def test_plan_accepts_naive_now() -> None:
    plan = plan_reviews([("x", _due_in(0))], NOW.replace(tzinfo=None), daily_cap=5)
    assert plan.today == ["x"]


@pytest.mark.parametrize(("cap", "days"), [(0, 7), (-1, 7), (5, 0)])
def test_plan_rejects_bad_limits(cap: int, days: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        plan_reviews([], NOW, daily_cap=cap, catch_up_days=days)
