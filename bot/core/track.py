"""A paced learning track: target dates per roadmap stage from a weekly time budget, re-planned as the learner goes.

Decisions (the roadmap does not state them, so they are made here):

* Pace. The roadmap's `weeks: [from, to]` assume about `ROADMAP_HOURS_PER_WEEK` (10) hours a week, so a
  stage's effort is its span in weeks (inclusive: [1, 8] is 8 weeks) × 10 hours.
* Scope. The track covers every stage in roadmap order up to and including the last (in roadmap order)
  of the goal's `key_stages`. Stages before that which are not key stages for the goal are still on the
  track (later stages build on them) but count with `NON_KEY_WEIGHT` (half) of their effort.
* Concepts. A stage's effort is spread evenly over its concepts. A concept is done when its level is at
  least "proficient"; every concept of an awarded stage is done, whatever its level now.
* Progress is measured in planned hours: each done concept is worth its share of its stage's effort,
  so "one week's worth" is `hours_per_week` hours of planned effort. Expected progress by `now` is
  `hours_per_week` × weeks since `start` (capped at the whole track).
* Status per stage: "done" when awarded; otherwise "behind" when the stage's expected progress by
  `now` exceeds its actual progress by more than one week's worth, "ahead" when actual exceeds expected
  by more than that, else "on track". The track's status is the same comparison over all its stages,
  or "done" when every stage on the track is awarded.
* Targets. On track, stages keep their targets from `start`. Behind or ahead, the remaining work of
  the stages not yet awarded is re-planned from `now` at the same `hours_per_week`, in roadmap order.
  An awarded stage's target is its award time. `finish` is the latest target (the projected finish).
* `weekly_concepts` is the number of concepts not yet done divided by the weeks from `now` to `finish`
  (at least one week), i.e. the concepts per week to reach proficient to finish on time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.content import CareerPath, Roadmap, Stage
from bot.core.mastery import LEVELS
from bot.core.records import Track, TrackStage

__all__ = [
    "DONE_LEVELS",
    "MAX_HOURS_PER_WEEK",
    "NON_KEY_WEIGHT",
    "ROADMAP_HOURS_PER_WEEK",
    "plan_track",
]

# The weekly time budget the roadmap's `weeks` spans assume.
ROADMAP_HOURS_PER_WEEK = 10.0
# Stages on the way to the goal that are not among its key stages count with this share of their effort.
NON_KEY_WEIGHT = 0.5
# Beyond this a "weekly budget" is not a plan anyone keeps.
MAX_HOURS_PER_WEEK = 80.0
# Levels at which a concept counts as done for the track.
DONE_LEVELS = frozenset({"proficient", "mastered"})

_WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class _Slot:
    """One stage of the track with its effort (hours) and what is done of it."""

    stage: str
    effort: float
    concepts: int
    done_concepts: int
    awarded_at: datetime | None

    @property
    def done_hours(self) -> float:
        if self.awarded_at is not None:
            return self.effort
        return self.effort * self.done_concepts / self.concepts if self.concepts else 0.0

    @property
    def remaining_concepts(self) -> int:
        return 0 if self.awarded_at is not None else self.concepts - self.done_concepts


def plan_track(
    roadmap: Roadmap,
    goal: str,
    hours_per_week: float,
    start: datetime,
    now: datetime,
    levels: Mapping[str, str],
    awards: Mapping[str, datetime],
) -> Track:
    """Plan (or re-plan) the learner's track towards a career goal. See the module docstring for the rules.

    Args:
        roadmap: the validated roadmap (`bot.core.content.load_roadmap`).
        goal: a career path id of the roadmap (e.g. "ml-engineer").
        hours_per_week: the learner's weekly time budget, in (0, 80] hours.
        start: when the learner started the track (tz-aware).
        now: the current time (tz-aware).
        levels: concept id → mastery level (one of `bot.core.mastery.LEVELS`); missing = "not-started".
        awards: stage id → when its (active) award was granted (tz-aware). Stages off the track are ignored.

    Returns:
        A new Track; all datetimes in UTC.

    Raises:
        ValueError: an unknown goal or level, a budget outside (0, 80] hours, or a naive datetime.
    """
    path = _career_path(roadmap, goal)
    if not 0 < hours_per_week <= MAX_HOURS_PER_WEEK:  # also rejects NaN
        raise ValueError(
            f"Hours per week must be more than 0 and at most {MAX_HOURS_PER_WEEK:g}; got {hours_per_week:g}."
        )
    start, now = _utc(start, "start"), _utc(now, "now")
    awarded = {stage: _utc(at, f"award time of {stage}") for stage, at in awards.items()}
    bad = sorted({level for level in levels.values() if level not in LEVELS})
    if bad:
        raise ValueError(f"Unknown mastery level(s) {bad}; use one of {list(LEVELS)}.")

    slots = [_slot(stage, path, levels, awarded.get(stage.id)) for stage in _track_stages(roadmap, path)]
    anchor = max(now, start)  # a track that has not started yet is measured (and re-planned) from its start
    expected_total = min(sum(s.effort for s in slots), (anchor - start) / _WEEK * hours_per_week)

    baseline = _targets(slots, start, hours_per_week, [s.effort for s in slots])
    statuses, begin = [], 0.0
    for slot in slots:
        expected = min(max(expected_total - begin, 0.0), slot.effort)
        begin += slot.effort
        statuses.append("done" if slot.awarded_at else _compare(slot.done_hours, expected, hours_per_week))

    if all(s.awarded_at is not None for s in slots):
        status = "done"
    else:
        status = _compare(sum(s.done_hours for s in slots), expected_total, hours_per_week)
    if status in ("behind", "ahead"):
        targets = _targets(slots, anchor, hours_per_week, [s.effort - s.done_hours for s in slots])
    else:
        targets = baseline
    finish = max(targets)
    remaining = sum(s.remaining_concepts for s in slots)
    weeks_left = max((finish - anchor) / _WEEK, 1.0)
    return Track(
        goal=goal,
        hours_per_week=float(hours_per_week),
        start=start,
        weekly_concepts=remaining / weeks_left if remaining else 0.0,
        stages=tuple(TrackStage(s.stage, t, st) for s, t, st in zip(slots, targets, statuses, strict=True)),
        status=status,
        finish=finish,
    )


def _career_path(roadmap: Roadmap, goal: str) -> CareerPath:
    for path in roadmap.career_paths:
        if path.id == goal:
            return path
    choices = ", ".join(f"{p.id} ({p.title})" for p in roadmap.career_paths)
    raise ValueError(f"Unknown goal {goal!r}. Choose one of: {choices}.")


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got a naive one")
    return value.astimezone(UTC)


def _track_stages(roadmap: Roadmap, path: CareerPath) -> list[Stage]:
    last = max(i for i, stage in enumerate(roadmap.stages) if stage.id in path.key_stages)
    return list(roadmap.stages[: last + 1])


def _slot(stage: Stage, path: CareerPath, levels: Mapping[str, str], awarded_at: datetime | None) -> _Slot:
    span = stage.weeks[1] - stage.weeks[0] + 1
    weight = 1.0 if stage.id in path.key_stages else NON_KEY_WEIGHT
    done = sum(levels.get(c, "not-started") in DONE_LEVELS for c in stage.concepts)
    return _Slot(stage.id, span * ROADMAP_HOURS_PER_WEEK * weight, len(stage.concepts), done, awarded_at)


def _targets(slots: Sequence[_Slot], origin: datetime, hours_per_week: float, hours: Sequence[float]) -> list[datetime]:
    """Award targets: the award time of awarded stages, else `origin` + cumulative `hours` at the pace."""
    targets, cumulative = [], 0.0
    for slot, h in zip(slots, hours, strict=True):
        cumulative += h
        targets.append(slot.awarded_at or origin + cumulative / hours_per_week * _WEEK)
    return targets


def _compare(actual: float, expected: float, week_worth: float) -> str:
    if expected - actual > week_worth:
        return "behind"
    if actual - expected > week_worth:
        return "ahead"
    return "on track"
