"""The free-text grader with the real MiniLM model: guards, determinism, and the held-out set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.grading import CachingEmbedder, GradeResult, grade_free_text
from bot.core.questions import FreeTextItem, load_bank

DATA = Path(__file__).resolve().parents[1] / "data"
BANK = Path(__file__).resolve().parents[2] / "knowledge" / "questions"
# The grader was tuned on these cases only (general questions, and the bank's .12 free-text items) ...
TUNING = (DATA / "grading_cases.yaml", DATA / "grading_bank.yaml")
# ... and is measured on these: answers to the question bank's own .11 free-text items, each set
# written by a separate session without running or reading the grader or the other grading data,
# committed before the grader changes that followed.
HELD_OUT = tuple(DATA / f"grading_holdout{n}.yaml" for n in ("", "2", "3", "4"))
# The targets (measured 2026-12-02 on the four sets, 816 answers: false-accept 0.063,
# true-accept 0.691; the fourth writer reworded its right answers away from the reference's phrasing).
MAX_FALSE_ACCEPT = 0.03
MIN_TRUE_ACCEPT = 0.80
# What the grader achieves today: a regression guard, so it can only get better.
REGRESSION_MAX_FALSE_ACCEPT = 0.07
REGRESSION_MIN_TRUE_ACCEPT = 0.68

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
BIAS = {
    "question": "What is the difference between underfitting and overfitting?",
    "reference": (
        "Underfitting is when the model is too simple to capture the pattern, so it has high error on the "
        "training data and on new data. Overfitting is when the model fits the training data too closely, "
        "noise included, so its training error is low but its error on new data is high."
    ),
    "key_points": [
        "underfitting: the model is too simple and has high error even on the training data",
        "overfitting: the model memorises the training data and does much worse on new data",
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
    "contradiction: swapped descriptions": (
        BIAS,
        "Underfitting is when the network learns the training examples by heart, noise included, and then "
        "does much worse on new data. Overfitting is when it is too simple and scores badly even on the "
        "training data.",
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


def _misconceptions() -> dict[str, tuple[str, ...]]:
    """The bank's known misconceptions per free-text item id."""
    return {item.id: item.misconceptions for item in load_bank([BANK]).items if isinstance(item, FreeTextItem)}


MISCONCEPTIONS = _misconceptions()


def _grade(case: dict[str, Any], answer: str, embedder: Any) -> GradeResult:
    """Grade as the bot does: an answer to a bank item with the item's misconceptions."""
    wrong = MISCONCEPTIONS.get(case.get("item", ""), ())
    return grade_free_text(
        case["question"], case["reference"], case["key_points"], answer, embedder, misconceptions=wrong
    )


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


def accept_rates(cases: list[dict[str, Any]], embedder: Any) -> tuple[float, float, dict[str, int]]:
    """(false-accept rate, true-accept rate, per category the answers graded against their label)."""
    accepted: dict[str, list[bool]] = {"correct": [], "incorrect": []}
    wrong: dict[str, int] = {}
    for case in cases:
        result = _grade(case, case["answer"], embedder)
        accepted[case["label"]].append(result.correct)
        if result.correct != (case["label"] == "correct"):
            wrong[case["category"]] = wrong.get(case["category"], 0) + 1
    false_accept = sum(accepted["incorrect"]) / len(accepted["incorrect"])
    true_accept = sum(accepted["correct"]) / len(accepted["correct"])
    return false_accept, true_accept, wrong


def _load(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    return cases


def test_the_held_out_set_shares_no_question_with_the_tuning_set() -> None:
    tuning, held_out = [c for path in TUNING for c in _load(path)], [c for path in HELD_OUT for c in _load(path)]
    assert {c["question"] for c in tuning}.isdisjoint({c["question"] for c in held_out})
    assert {c["label"] for c in held_out} == {"correct", "incorrect"}
    assert len(held_out) >= 800


@pytest.fixture(scope="module")
def held_out_rates(cached: CachingEmbedder) -> tuple[float, float, dict[str, int]]:
    """Held-out (false-accept, true-accept, misgraded per category); which answers is not shown,
    so that looking at a failure does not turn the held-out set into tuning data."""
    fa_tuning, ta_tuning, _ = accept_rates([c for path in TUNING for c in _load(path)], cached)
    fa, ta, wrong = accept_rates([c for path in HELD_OUT for c in _load(path)], cached)
    print(
        f"\ntuning set: false-accept {fa_tuning:.3f}, true-accept {ta_tuning:.3f}"
        f"\nheld-out:   false-accept {fa:.3f}, true-accept {ta:.3f}; misgraded per category: {wrong}"
    )
    return fa, ta, wrong


def test_held_out_rates_do_not_regress(held_out_rates: tuple[float, float, dict[str, int]]) -> None:
    fa, ta, wrong = held_out_rates
    assert fa <= REGRESSION_MAX_FALSE_ACCEPT, f"held-out false-accept {fa:.3f}: {wrong}"
    assert ta >= REGRESSION_MIN_TRUE_ACCEPT, f"held-out true-accept {ta:.3f}: {wrong}"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "open: on answers to the bank's own items the grader reaches 6.3% held-out false-accept at 69.1% "
        "true-accept; targets 3% and 80% (see README, Grading)"
    ),
)
def test_held_out_false_accept_and_true_accept_meet_the_targets(
    held_out_rates: tuple[float, float, dict[str, int]],
) -> None:
    fa, ta, wrong = held_out_rates
    assert fa <= MAX_FALSE_ACCEPT, f"held-out false-accept {fa:.3f} > {MAX_FALSE_ACCEPT}: {wrong}"
    assert ta >= MIN_TRUE_ACCEPT, f"held-out true-accept {ta:.3f} < {MIN_TRUE_ACCEPT}: {wrong}"


FILLER = {
    "off-topic": (
        " The weather was lovely this weekend and I went for a long walk in the park with my friends. "
        "Afterwards we cooked dinner together and talked about our plans for the holidays."
    ),
    "hedge": (
        " To be honest I am not fully sure about this answer, but this is how I understood the topic from "
        "the course videos and the reading."
    ),
}


@pytest.mark.parametrize(("filler", "max_flips"), [("off-topic", 0), ("hedge", 4)])
def test_filler_does_not_make_wrong_answers_correct(filler: str, max_flips: int, cached: CachingEmbedder) -> None:
    """Appending filler to the wrong tuning answers turns (almost) none of them correct.

    Without the relevance floor, filler lent its words and its closest key point to the answer: the
    hedge turned 11 of 297 wrong answers correct (now at most 4 of 365). A learned decision that read answer length turned
    131 more of 216 wrong answers correct with two sentences of on-topic filler.
    """
    wrong = [c for path in TUNING for c in _load(path) if c["label"] == "incorrect"]
    flipped = [
        c["id"]
        for c in wrong
        if _grade(c, c["answer"] + FILLER[filler], cached).correct and not _grade(c, c["answer"], cached).correct
    ]
    assert len(flipped) <= max_flips, f"filler made these wrong answers correct: {flipped}"
