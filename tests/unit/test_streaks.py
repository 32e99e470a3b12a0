"""Streaks: consecutive local days, earned freezes, auto-bridging and resets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.records import StreakInfo
from bot.core.streaks import compute_streak, local_day

D0 = date(2026, 11, 2)


def run(first: int, last: int) -> list[date]:
    """Active days D0+first … D0+last (inclusive)."""
    return [D0 + timedelta(days=n) for n in range(first, last + 1)]


def test_no_activity_is_an_empty_streak() -> None:
    assert compute_streak([], D0) == StreakInfo(0, 0, 0, 0, False)


def test_consecutive_days_count_and_duplicates_do_not() -> None:
    days = [*run(0, 4), D0, D0 + timedelta(days=2)]
    assert compute_streak(days, D0 + timedelta(days=4)) == StreakInfo(5, 5, 0, 0, True)


def test_order_of_days_does_not_matter() -> None:
    days = run(0, 4)
    assert compute_streak(reversed(days), D0 + timedelta(days=4)) == compute_streak(days, D0 + timedelta(days=4))


def test_today_without_activity_yet_keeps_the_streak() -> None:
    info = compute_streak(run(0, 3), D0 + timedelta(days=4))
    assert info == StreakInfo(current=4, longest=4, freezes_held=0, freezes_used=0, today_done=False)


def test_a_missed_yesterday_without_freezes_resets() -> None:
    info = compute_streak(run(0, 3), D0 + timedelta(days=5))
    assert (info.current, info.longest, info.today_done) == (0, 4, False)


def test_a_day_after_a_reset_starts_again_at_one() -> None:
    info = compute_streak([*run(0, 3), D0 + timedelta(days=6)], D0 + timedelta(days=6))
    assert (info.current, info.longest, info.today_done) == (1, 4, True)


def test_a_freeze_is_earned_at_seven_and_fourteen_days() -> None:
    assert compute_streak(run(0, 5), D0 + timedelta(days=5)).freezes_held == 0
    assert compute_streak(run(0, 6), D0 + timedelta(days=6)).freezes_held == 1
    assert compute_streak(run(0, 12), D0 + timedelta(days=12)).freezes_held == 1
    assert compute_streak(run(0, 13), D0 + timedelta(days=13)).freezes_held == 2


def test_at_most_two_freezes_are_held() -> None:
    info = compute_streak(run(0, 34), D0 + timedelta(days=34))
    assert (info.current, info.freezes_held) == (35, 2)


def test_a_held_freeze_bridges_a_missed_day_without_counting_it() -> None:
    # 7 active days (1 freeze), day 7 missed, days 8-9 active.
    info = compute_streak([*run(0, 6), *run(8, 9)], D0 + timedelta(days=9))
    assert info == StreakInfo(current=9, longest=9, freezes_held=0, freezes_used=1, today_done=True)


def test_a_freeze_bridges_yesterday_while_today_is_pending() -> None:
    info = compute_streak(run(0, 6), D0 + timedelta(days=8))
    assert info == StreakInfo(current=7, longest=7, freezes_held=0, freezes_used=1, today_done=False)


def test_two_freezes_bridge_a_two_day_gap() -> None:
    info = compute_streak([*run(0, 13), *run(16, 16)], D0 + timedelta(days=16))
    assert (info.current, info.freezes_held, info.freezes_used) == (15, 0, 2)


def test_a_gap_longer_than_the_freezes_resets() -> None:
    days = [*run(0, 13), *run(17, 18)]  # 2 freezes, 3 missed days
    info = compute_streak(days, D0 + timedelta(days=18))
    assert info == StreakInfo(current=2, longest=14, freezes_held=0, freezes_used=0, today_done=True)


def test_freezes_earned_again_after_a_bridged_gap() -> None:
    # 7 days (+1 freeze), 1 day bridged (-1), 7 more days reach 14 active days (+1).
    info = compute_streak([*run(0, 6), *run(8, 14)], D0 + timedelta(days=14))
    assert (info.current, info.freezes_held, info.freezes_used) == (14, 1, 1)


def test_longest_remembers_the_best_run() -> None:
    days = [*run(0, 9), *run(20, 22)]
    info = compute_streak(days, D0 + timedelta(days=22))
    assert (info.current, info.longest) == (3, 10)
    info = compute_streak([*run(0, 2), *run(5, 12)], D0 + timedelta(days=12))
    assert (info.current, info.longest) == (8, 8)


def test_days_after_today_are_ignored() -> None:
    info = compute_streak(run(0, 5), D0 + timedelta(days=2))
    assert (info.current, info.today_done) == (3, True)


def test_a_long_history_replays_quickly() -> None:
    days = run(0, 3649)  # ten years, every day
    info = compute_streak(days, days[-1])
    assert (info.current, info.freezes_held) == (3650, 2)


def test_late_evening_utc_is_the_next_day_in_tokyo() -> None:
    at = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    assert local_day(at, "UTC") == date(2026, 11, 2)
    assert local_day(at, "Asia/Tokyo") == date(2026, 11, 3)


def test_early_morning_utc_is_the_previous_day_in_new_york() -> None:
    at = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # 22:00 EST on 2 Nov
    assert local_day(at, "America/New_York") == date(2026, 11, 2)


def test_actions_either_side_of_midnight_utc_are_one_tokyo_day() -> None:
    # 08:30 and 10:00 on 3 Nov in Tokyo: two UTC days, one local day.
    times = [datetime(2026, 11, 2, 23, 30, tzinfo=UTC), datetime(2026, 11, 3, 1, 0, tzinfo=UTC)]
    today = local_day(datetime(2026, 11, 3, 2, 0, tzinfo=UTC), "Asia/Tokyo")
    assert compute_streak([local_day(t, "Asia/Tokyo") for t in times], today) == StreakInfo(1, 1, 0, 0, True)
    assert compute_streak([local_day(t, "UTC") for t in times], date(2026, 11, 3)).current == 2


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "utc+2"])
def test_unknown_time_zone_is_a_clear_error(zone: str) -> None:
    with pytest.raises(ValueError, match="Unknown time zone"):
        local_day(datetime(2026, 11, 2, tzinfo=UTC), zone)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_day(datetime(2026, 11, 2, 12, 0), "UTC")
