"""Mastery levels from attempt logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.mastery import GradedAttempt, concept_mastery, what_is_needed

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _log(*entries: tuple[str, str, bool, float]) -> list[GradedAttempt]:
    """(item, verdict, first_try, days after T0) → attempts of concept 'cnns'."""
    return [
        GradedAttempt(n, item, "cnns", verdict, T0 + timedelta(days=days), first)
        for n, (item, verdict, first, days) in enumerate(entries, start=1)
    ]


def test_no_attempts_is_not_started() -> None:
    assert concept_mastery("cnns", []).level == "not-started"


def test_three_first_try_items_and_a_good_window_make_proficient() -> None:
    log = _log(
        ("cnns.01", "correct", True, 0),
        ("cnns.02", "correct", True, 0),
        ("cnns.03", "incorrect", True, 0),
        ("cnns.04", "correct", True, 0),
        ("cnns.05", "correct", True, 0),
    )
    m = concept_mastery("cnns", log)
    assert m.level == "proficient" and m.first_try_right == 4 and (m.recent_right, m.recent_total) == (4, 5)
    assert m.proficient_since == T0 and "again on or after 04 Nov" in what_is_needed(m)


def test_a_spaced_recheck_masters_and_misses_move_down() -> None:
    base = [("cnns.01", "correct", True, 0), ("cnns.02", "correct", True, 0), ("cnns.03", "correct", True, 0)]
    too_soon = concept_mastery("cnns", _log(*base, ("cnns.01", "correct", False, 2)))
    assert too_soon.level == "proficient"
    spaced = concept_mastery("cnns", _log(*base, ("cnns.01", "correct", False, 3)))
    assert spaced.level == "mastered" and spaced.mastered_at == T0 + timedelta(days=3)
    missed = concept_mastery(
        "cnns",
        _log(
            *base,
            ("cnns.01", "correct", False, 3),
            ("cnns.04", "incorrect", True, 4),
            ("cnns.05", "incorrect", True, 4),
        ),
    )
    assert missed.level == "familiar"


def test_partial_and_self_rated_never_count() -> None:
    log = [
        GradedAttempt(1, "cnns.01", "cnns", "partial", T0, True),
        GradedAttempt(2, "cnns.02", "cnns", "correct", T0, True, counts=False),
    ]
    assert concept_mastery("cnns", log).level == "not-started"


def test_one_right_answer_in_two_is_only_attempted() -> None:
    m = concept_mastery("cnns", _log(("cnns.01", "correct", True, 0), ("cnns.02", "incorrect", True, 0)))
    assert m.level == "attempted"
    assert "2 more first-try correct answers" in what_is_needed(m)


def test_an_item_missed_again_and_again_counts_once_in_the_window() -> None:
    right = [(f"cnns.0{n}", "correct", True, 0) for n in range(1, 5)]
    leech = [("cnns.09", "incorrect", n == 0, 1 + n) for n in range(4)]
    m = concept_mastery("cnns", _log(*right, *leech))
    # The last 5 distinct items are 01-04 (right) and 09 (its latest answer wrong): 4/5.
    assert m.level == "proficient" and (m.recent_right, m.recent_total) == (4, 5)
    # Answering an item right again does not add a second right answer either.
    grind = concept_mastery(
        "cnns", _log(("cnns.01", "correct", True, 0), *[("cnns.01", "correct", False, d) for d in (1, 2, 3, 4)])
    )
    assert grind.level == "familiar" and (grind.recent_right, grind.recent_total) == (1, 1)
    # A second missed item does bring it down.
    two = concept_mastery("cnns", _log(*right, *leech, ("cnns.10", "incorrect", True, 6)))
    assert two.level == "familiar" and (two.recent_right, two.recent_total) == (3, 5)
