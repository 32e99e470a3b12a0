"""Track planning against the bundled roadmap: targets, pace, status and re-planning."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.content import STAGE_CONCEPTS, STAGE_IDS, Roadmap, load_roadmap
from bot.core.records import Track
from bot.core.track import plan_track
from tests.conftest import KNOWLEDGE

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def roadmap() -> Roadmap:
    return load_roadmap(KNOWLEDGE)


def plan(
    roadmap: Roadmap,
    *,
    goal: str = "ml-engineer",
    hours: float = 10,
    weeks: float = 0,
    levels: Mapping[str, str] | None = None,
    awards: Mapping[str, datetime] | None = None,
) -> Track:
    return plan_track(roadmap, goal, hours, START, START + timedelta(weeks=weeks), levels or {}, awards or {})


def proficient(*stages: str, count: int | None = None) -> dict[str, str]:
    """The first `count` (default: all) concepts of each stage at "proficient"."""
    return {c: "proficient" for s in stages for c in STAGE_CONCEPTS[s][:count]}


def by_stage(track: Track) -> dict[str, tuple[datetime, str]]:
    return {s.stage: (s.target, s.status) for s in track.stages}


def test_a_fresh_track_covers_the_roadmap_in_order_with_rising_targets(roadmap: Roadmap) -> None:
    track = plan(roadmap)
    assert [s.stage for s in track.stages] == list(STAGE_IDS)
    targets = [s.target for s in track.stages]
    assert targets == sorted(targets) and targets[0] > START
    assert track.status == "on track" and all(s.status == "on track" for s in track.stages)
    assert track.finish == targets[-1] and track.start == START and track.goal == "ml-engineer"


def test_key_stages_take_the_roadmap_weeks_and_others_half(roadmap: Roadmap) -> None:
    # ml-engineer: specialization (weeks 17-24) is not a key stage → 4 weeks instead of 8 at 10 h/week.
    targets = [s.target for s in plan(roadmap).stages]
    gaps = [(b - a) / timedelta(weeks=1) for a, b in zip([START, *targets], targets, strict=False)]
    assert gaps == pytest.approx([8, 8, 4, 8, 16])


def test_targets_rise_for_every_goal(roadmap: Roadmap) -> None:
    for path in roadmap.career_paths:
        targets = [s.target for s in plan(roadmap, goal=path.id).stages]
        assert targets == sorted(targets), path.id


def test_more_hours_finish_earlier(roadmap: Roadmap) -> None:
    finishes = [plan(roadmap, hours=h).finish for h in (5, 10, 20, 80)]
    assert finishes == sorted(finishes, reverse=True) and len(set(finishes)) == 4
    # Twice the time budget halves the duration.
    assert plan(roadmap, hours=20).finish - START == (plan(roadmap, hours=10).finish - START) / 2


def test_on_track_keeps_the_plan_from_start(roadmap: Roadmap) -> None:
    # 4 weeks in at 10 h/week: half of classical-ml expected; 4 of 7 concepts done is within a week.
    track = plan(roadmap, weeks=4, levels=proficient("classical-ml", count=4))
    assert track.status == "on track"
    assert [s.target for s in track.stages] == [s.target for s in plan(roadmap).stages]
    assert track.weekly_concepts == pytest.approx((34 - 4) / ((track.finish - track.start) / timedelta(weeks=1) - 4))


def test_behind_replans_later_from_now(roadmap: Roadmap) -> None:
    fresh = plan(roadmap)
    track = plan(roadmap, weeks=6, levels=proficient("classical-ml", count=2))
    assert track.status == "behind"
    stages = by_stage(track)
    assert stages["classical-ml"][1] == "behind" and stages["deep-learning"][1] == "on track"
    # Remaining classical-ml work: 5 of 7 concepts of 80 h at 10 h/week from now (week 6).
    assert stages["classical-ml"][0] == START + timedelta(weeks=6 + 8 * 5 / 7)
    assert all(new.target > old.target for new, old in zip(track.stages, fresh.stages, strict=True))
    assert track.finish > fresh.finish
    assert track.weekly_concepts == pytest.approx(32 / ((track.finish - START) / timedelta(weeks=1) - 6))


def test_ahead_replans_earlier(roadmap: Roadmap) -> None:
    fresh = plan(roadmap)
    track = plan(roadmap, weeks=2, levels=proficient("classical-ml"))
    assert track.status == "ahead" and by_stage(track)["classical-ml"][1] == "ahead"
    assert track.finish == fresh.finish - timedelta(weeks=8 - 2)
    assert all(new.target < old.target for new, old in zip(track.stages, fresh.stages, strict=True))


def test_mastered_counts_as_done_but_familiar_does_not(roadmap: Roadmap) -> None:
    mastered = {c: "mastered" for c in STAGE_CONCEPTS["classical-ml"]}
    familiar = {c: "familiar" for c in STAGE_CONCEPTS["classical-ml"]}
    assert plan(roadmap, weeks=2, levels=mastered).status == "ahead"
    assert plan(roadmap, weeks=2, levels=familiar).status == "behind"


def test_work_on_a_later_stage_counts_too(roadmap: Roadmap) -> None:
    track = plan(roadmap, weeks=1, levels=proficient("deep-learning", count=3))
    assert track.status == "ahead" and by_stage(track)["deep-learning"][1] == "ahead"


def test_awarded_stages_are_done_at_their_award_time(roadmap: Roadmap) -> None:
    awarded_at = START + timedelta(weeks=7)
    # The award counts all of classical-ml as done even where a concept has gone back to "familiar".
    levels = {STAGE_CONCEPTS["classical-ml"][0]: "familiar"}
    track = plan(roadmap, weeks=8, levels=levels, awards={"classical-ml": awarded_at})
    assert track.status == "on track"
    assert by_stage(track)["classical-ml"] == (awarded_at, "done")
    assert [s.target for s in track.stages][1:] == [s.target for s in plan(roadmap).stages][1:]


def test_an_awarded_stage_is_not_replanned(roadmap: Roadmap) -> None:
    awarded_at = START + timedelta(weeks=9)
    track = plan(roadmap, weeks=20, awards={"classical-ml": awarded_at})
    assert track.status == "behind"
    stages = by_stage(track)
    assert stages["classical-ml"] == (awarded_at, "done")
    assert stages["deep-learning"][0] == START + timedelta(weeks=20 + 8)


def test_everything_awarded_is_done(roadmap: Roadmap) -> None:
    awards = {s: START + timedelta(weeks=10 * n) for n, s in enumerate(STAGE_IDS, start=1)}
    track = plan(roadmap, weeks=60, awards=awards)
    assert track.status == "done" and all(s.status == "done" for s in track.stages)
    assert track.finish == awards["capstone"] and track.weekly_concepts == 0


def test_before_the_start_nothing_is_expected(roadmap: Roadmap) -> None:
    track = plan(roadmap, weeks=-2)
    assert track.status == "on track" and track.finish == plan(roadmap).finish


def test_results_are_utc(roadmap: Roadmap) -> None:
    berlin = timezone(timedelta(hours=1))
    track = plan_track(roadmap, "ml-engineer", 10, START.astimezone(berlin), START.astimezone(berlin), {}, {})
    assert track == plan(roadmap) and track.finish.tzinfo is UTC


@pytest.mark.parametrize("hours", [0, -1, 80.5, float("nan")])
def test_a_weekly_budget_outside_0_to_80_hours_is_refused(roadmap: Roadmap, hours: float) -> None:
    with pytest.raises(ValueError, match="Hours per week must be more than 0 and at most 80"):
        plan(roadmap, hours=hours)


def test_80_hours_is_allowed(roadmap: Roadmap) -> None:
    assert plan(roadmap, hours=80).hours_per_week == 80


def test_an_unknown_goal_lists_the_choices(roadmap: Roadmap) -> None:
    with pytest.raises(ValueError, match=r"Unknown goal 'data-wizard'\. Choose one of: ml-engineer \(Machine"):
        plan(roadmap, goal="data-wizard")


def test_unknown_levels_and_naive_datetimes_are_refused(roadmap: Roadmap) -> None:
    with pytest.raises(ValueError, match="Unknown mastery level"):
        plan(roadmap, levels={"cnns": "expert"})
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_track(roadmap, "ml-engineer", 10, START.replace(tzinfo=None), START, {}, {})
