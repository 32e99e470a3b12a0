"""Daily learning streaks with earned (never bought) freezes, replayed from the learner's active days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.records import StreakInfo

__all__ = ["FREEZE_EVERY", "MAX_FREEZES", "compute_streak", "local_day"]

# A freeze is earned each time the running streak reaches a multiple of this many active days.
FREEZE_EVERY = 7
# At most this many freezes are held at once (Duolingo's cap; see LANDSCAPE.md, "Duolingo").
MAX_FREEZES = 2


def compute_streak(active_days: Iterable[date], today: date) -> StreakInfo:
    """The learner's streak as of `today`, replayed from their first active day.

    Rules:
    * A streak counts consecutive local days with at least one learning action.
    * Each time the running streak reaches a multiple of `FREEZE_EVERY` active days, one freeze is
      earned, up to `MAX_FREEZES` held. Freezes are only ever earned, never bought.
    * A missed day before `today` uses a held freeze automatically: the streak continues, but the
      frozen day does not add to the count. Freezes are spent day by day, as the learner would
      have seen them spent at the time; when a missed day finds no freeze left, the streak resets
      to 0 (and the freezes spent on that gap are gone).
    * `today` without activity yet does not break anything (`today_done` is False).

    Args:
        active_days: local calendar days (see `local_day`) with a learning action, in any order,
            duplicates allowed. Days after `today` (clock skew) are ignored.
        today: the learner's current local day.

    Returns:
        A new StreakInfo. `current` and `longest` count active days only; `freezes_used` counts the
        freezes spent within the current streak (0 after a reset).

    Runs in O(n log n) for n distinct active days: gaps are bridged in one step, not day by day.
    """
    days = sorted({d for d in active_days if d <= today})
    current = longest = held = used = 0
    previous: date | None = None
    for day in days:
        if previous is not None:
            current, held, used = _bridge((day - previous).days - 1, current, held, used)
        current += 1
        if current % FREEZE_EVERY == 0:
            held = min(MAX_FREEZES, held + 1)
        longest = max(longest, current)
        previous = day
    today_done = previous == today
    if previous is not None and not today_done:
        # Days strictly between the last active day and today are missed; today is still pending.
        current, held, used = _bridge((today - previous).days - 1, current, held, used)
    return StreakInfo(current=current, longest=longest, freezes_held=held, freezes_used=used, today_done=today_done)


def _bridge(missed: int, current: int, held: int, used: int) -> tuple[int, int, int]:
    """(current, held, used) after `missed` consecutive missed days."""
    if missed <= 0:
        return current, held, used
    if missed <= held:
        return current, held - missed, used + missed
    return 0, 0, 0


def local_day(at: datetime, time_zone: str) -> date:
    """The calendar day of the instant `at` in the IANA `time_zone` (e.g. "Asia/Tokyo").

    Args:
        at: a tz-aware datetime (normally UTC).
        time_zone: an IANA time zone name.

    Raises:
        ValueError: `at` is naive, or the time zone is unknown.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("local_day needs a timezone-aware datetime (UTC), got a naive one")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(
            f"Unknown time zone {time_zone!r}: use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'."
        ) from exc
    return at.astimezone(zone).date()
