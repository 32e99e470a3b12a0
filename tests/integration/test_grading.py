"""The free-text grader with the real MiniLM model: guards, determinism, and the held-out split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.grading import CachingEmbedder, GradeResult, grade_free_text

CASES = Path(__file__).resolve().parents[1] / "data" / "grading_cases.yaml"
# The targets, not met yet (measured 2026-12-02: false-accept 0.062, true-accept 0.850).
MAX_FALSE_ACCEPT = 0.03
MIN_TRUE_ACCEPT = 0.80
# What the grader achieves today: a regression guard, so it can only get better.
REGRESSION_MAX_FALSE_ACCEPT = 0.07

CLIPPING = {
    "question": "What is gradient clipping and why is it used?",
    "reference": (
        "Gradient clipping caps the size of gradients during backpropagation, either by limiting each value "
        "or by rescaling the whole gradient vector when its norm exceeds a threshold. It prevents exploding "
        "gradients from causing huge, unstable parameter updates, which is common when training recurrent "
        "networks."
    ),
    "key_points": [
        "limits gradient size, by value or by rescaling when the norm exceeds a threshold",
        "prevents exploding gradients from causing huge, unstable updates",
    ],
}
ERRORS = {
    "question": "What is the difference between a false positive and a false negative?",
    "reference": (
        "A false positive is a negative case that the model wrongly predicts as positive, such as a healthy "
        "patient flagged as sick. A false negative is a positive case that the model misses by predicting it "
        "as negative, such as a sick patient sent home."
    ),
    "key_points": [
        "a false positive is an actual negative predicted as positive",
        "a false negative is an actual positive predicted as negative, a miss",
    ],
}
GOOD = {
    "clipping": (
        CLIPPING,
        "Before the optimizer step you check how big the gradient is, and if its norm is above some threshold "
        "you scale it down, or you clip each value. That stops exploding gradients from producing giant, "
        "unstable weight updates, which happens a lot with RNNs.",
    ),
    "clipping_terse": (
        CLIPPING,
        "clip grads: if the gradient norm goes over a max value, rescale it (or clamp each element). keeps "
        "exploding gradients from blowing up the weights with huge updates, esp. in rnns",
    ),
    "errors": (
        ERRORS,
        "False positive: the case is really negative but the model says positive, like flagging a healthy "
        "person as sick. False negative: the case is really positive but the model says negative, so it's "
        "missed, like sending a sick person home.",
    ),
}
# Each states one of the two key points well and leaves the other out.
HALF_RIGHT = {
    "limits only": (
        CLIPPING,
        "Gradient clipping limits the size of the gradients, either clipping each value or rescaling the whole "
        "vector when its norm goes over a threshold.",
    ),
    "why only": (
        CLIPPING,
        "It stops exploding gradients from causing huge, unstable weight updates, which is common in recurrent "
        "networks.",
    ),
}
GUARDED = {
    "too short": (CLIPPING, "stops explosions"),
    "restates the question": (
        CLIPPING,
        "Gradient clipping is when you clip the gradient, and it is used because clipping gradients is useful.",
    ),
    "keyword stuffing": (CLIPPING, "gradient clipping norm threshold exploding gradients RNN rescale unstable updates"),
    "off-topic": (
        CLIPPING,
        "Pizza dough should rest for a few hours so the gluten relaxes before you stretch it by hand.",
    ),
    "contradiction: negation": (
        CLIPPING,
        "Clipping the gradients is not done to stop exploding gradients; it never rescales the gradient vector "
        "when its norm exceeds a threshold.",
    ),
    "contradiction: swapped definitions": (
        ERRORS,
        "A false negative is a negative case that the model wrongly predicts as positive, and a false positive "
        "is a positive case that the model misses by predicting it as negative.",
    ),
    "contradiction: swapped examples": (
        ERRORS,
        "A false positive is a sick patient that the model misses and sends home, and a false negative is a "
        "healthy patient that the model wrongly flags as sick.",
    ),
}


@pytest.fixture(scope="module")
def cached(embedder: Any) -> CachingEmbedder:
    """The real model behind a text cache: each question's texts are embedded once."""
    return CachingEmbedder(embedder)


def _grade(case: dict[str, Any], answer: str, embedder: Any) -> GradeResult:
    return grade_free_text(case["question"], case["reference"], case["key_points"], answer, embedder)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_good_paraphrase_is_correct(name: str, cached: CachingEmbedder) -> None:
    case, answer = GOOD[name]
    result = _grade(case, answer, cached)
    assert result.verdict == "correct", result.reasons
    assert result.missing == () and result.reasons == ()


@pytest.mark.parametrize("name", sorted(HALF_RIGHT))
def test_an_answer_stating_one_of_two_key_points_is_only_partial(name: str, cached: CachingEmbedder) -> None:
    case, answer = HALF_RIGHT[name]
    result = _grade(case, answer, cached)
    assert result.verdict == "partial" and not result.correct
    assert len(result.missing) == 1, result.reasons


@pytest.mark.parametrize("guard", sorted(GUARDED))
def test_each_guard_fires_on_its_example(guard: str, cached: CachingEmbedder) -> None:
    case, answer = GUARDED[guard]
    result = _grade(case, answer, cached)
    assert result.verdict == "incorrect" and not result.correct
    prefix = guard.split(":")[0]
    assert any(reason.startswith(prefix) for reason in result.reasons), result.reasons


def test_grading_is_deterministic(embedder: Any) -> None:
    case, answer = GOOD["clipping"]
    first, second = _grade(case, answer, embedder), _grade(case, answer, embedder)
    assert first == second
    case, answer = GUARDED["contradiction: swapped definitions"]
    assert _grade(case, answer, embedder) == _grade(case, answer, embedder)


def split_by_question(cases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tuning, held-out): cases of the questions whose index, in order of first appearance, is even/odd."""
    order: dict[str, int] = {}
    for case in cases:
        order.setdefault(case["question"], len(order))
    tuning = [c for c in cases if order[c["question"]] % 2 == 0]
    held_out = [c for c in cases if order[c["question"]] % 2 == 1]
    return tuning, held_out


def accept_rates(cases: list[dict[str, Any]], embedder: Any) -> tuple[float, float, list[str]]:
    """(false-accept rate, true-accept rate, ids graded against their label) over `cases`."""
    accepted: dict[str, list[bool]] = {"correct": [], "incorrect": []}
    wrong: list[str] = []
    for case in cases:
        result = _grade(case, case["answer"], embedder)
        accepted[case["label"]].append(result.correct)
        if result.correct != (case["label"] == "correct"):
            wrong.append(f"{case['id']} ({case['category']}: {result.verdict})")
    false_accept = sum(accepted["incorrect"]) / len(accepted["incorrect"])
    true_accept = sum(accepted["correct"]) / len(accepted["correct"])
    return false_accept, true_accept, wrong


def test_split_is_by_question_and_covers_every_case() -> None:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))["cases"]
    tuning, held_out = split_by_question(cases)
    assert len(tuning) + len(held_out) == len(cases)
    assert {c["question"] for c in tuning}.isdisjoint({c["question"] for c in held_out})
    assert {c["label"] for c in held_out} == {"correct", "incorrect"}


def _held_out_rates(cached: CachingEmbedder) -> tuple[float, float, list[str]]:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))["cases"]
    tuning, held_out = split_by_question(cases)
    fa_tuning, ta_tuning, _ = accept_rates(tuning, cached)
    fa, ta, wrong = accept_rates(held_out, cached)
    print(
        f"\ntuning split:   false-accept {fa_tuning:.3f}, true-accept {ta_tuning:.3f} ({len(tuning)} cases)"
        f"\nheld-out split: false-accept {fa:.3f}, true-accept {ta:.3f} ({len(held_out)} cases)"
        f"\nheld-out cases graded against their label: {', '.join(wrong) or 'none'}"
    )
    return fa, ta, wrong


def test_held_out_rates_do_not_regress(cached: CachingEmbedder) -> None:
    fa, ta, wrong = _held_out_rates(cached)
    assert fa <= REGRESSION_MAX_FALSE_ACCEPT, f"held-out false-accept {fa:.3f}: {wrong}"
    assert ta >= MIN_TRUE_ACCEPT, f"held-out true-accept {ta:.3f}: {wrong}"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "open: the embedding-only grader reaches 6.2% held-out false-accept (4/64) at 85.0% true-accept, "
        "target 3% (see README, Grading)"
    ),
)
def test_held_out_false_accept_and_true_accept_meet_the_targets(cached: CachingEmbedder) -> None:
    fa, ta, wrong = _held_out_rates(cached)
    assert fa <= MAX_FALSE_ACCEPT, f"held-out false-accept {fa:.3f} > {MAX_FALSE_ACCEPT}: {wrong}"
    assert ta >= MIN_TRUE_ACCEPT, f"held-out true-accept {ta:.3f} < {MIN_TRUE_ACCEPT}: {wrong}"
