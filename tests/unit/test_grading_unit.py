"""Free-text grader logic that is not about semantics, with a hash-based bag-of-words embedder."""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pytest

from bot.core.grading import (
    CachingEmbedder,
    GradeResult,
    GradingConfig,
    Signals,
    _distinct_anchors,
    contrast_pairs,
    contrast_sides,
    contrasts,
    decide,
    grade_free_text,
    is_negated,
    key_point_subject,
    negation_conflict,
    polarity_conflict,
    question_texts,
    relabel,
    relabelled_targets,
    side_of,
    swap_terms,
    words,
)

DIM = 256
QUESTION = "Why do we shuffle the training data before each epoch?"
REFERENCE = (
    "Shuffling stops the model from learning the order of the examples. Mini-batches then mix "
    "different examples, so the gradient estimates are less biased and training converges better."
)
KEY_POINTS = ("stops the model from learning the order of examples", "gradient estimates are less biased")
ANSWER = (
    "Shuffling stops the model from learning the order of the examples, and the gradient estimates "
    "are less biased because each batch mixes examples."
)


class FakeEmbedder:
    """Bag of words hashed into DIM buckets, L2-normalised; records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text) or ["<empty>"]:
                out[row, zlib.crc32(word.encode()) % DIM] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _grade(answer: str, embedder: FakeEmbedder | None = None) -> GradeResult:
    return grade_free_text(QUESTION, REFERENCE, KEY_POINTS, answer, embedder or FakeEmbedder())


def test_result_json_has_the_documented_shape() -> None:
    data = _grade(ANSWER).as_json()
    assert set(data) == {"verdict", "correct", "score", "matched", "missing", "confidence", "reasons", "mistakes"}
    assert data["verdict"] in {"correct", "partial", "incorrect"}
    assert isinstance(data["correct"], bool)
    assert isinstance(data["score"], float) and 0.0 <= data["score"] <= 1.0
    assert isinstance(data["confidence"], float) and 0.0 <= data["confidence"] <= 1.0
    assert isinstance(data["matched"], list) and isinstance(data["missing"], list)
    assert sorted(data["matched"] + data["missing"]) == sorted(KEY_POINTS)  # type: ignore[operator]
    assert all(isinstance(r, str) for r in data["reasons"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(("verdict", "correct"), [("correct", True), ("partial", False), ("incorrect", False)])
def test_only_the_verdict_correct_counts_as_correct(verdict: str, correct: bool) -> None:
    result = GradeResult(verdict, 0.9, KEY_POINTS, (), 0.9)  # type: ignore[arg-type]
    assert result.correct is correct
    assert result.as_json()["correct"] is correct


@pytest.mark.parametrize("answer", ["", "   ", "?!", "it is"])
def test_empty_or_contentless_answer_is_incorrect_and_too_short(answer: str) -> None:
    result = _grade(answer)
    assert result.verdict == "incorrect"
    assert result.reasons[0].startswith("too short")
    assert result.matched == ()


@pytest.mark.parametrize("answer", [ANSWER, "", "shuffle order", "Shuffling is not needed at all; never shuffle."])
def test_each_grading_calls_encode_exactly_once(answer: str) -> None:
    embedder = FakeEmbedder()
    _grade(answer, embedder)
    assert len(embedder.calls) == 1
    assert len(embedder.calls[0]) == len(set(embedder.calls[0])), "texts are deduplicated"


def test_question_texts_are_batched_with_the_answer_so_a_cache_only_embeds_the_answer() -> None:
    inner = FakeEmbedder()
    cached = CachingEmbedder(inner)
    _grade(ANSWER, cached)  # type: ignore[arg-type]
    _grade("Shuffling mixes the examples so the batches are less biased.", cached)  # type: ignore[arg-type]
    assert len(inner.calls) == 2
    assert set(question_texts(QUESTION, REFERENCE, KEY_POINTS)) <= set(inner.calls[0])
    assert set(inner.calls[1]).isdisjoint(question_texts(QUESTION, REFERENCE, KEY_POINTS))


def test_caching_embedder_returns_the_same_vectors_and_skips_known_texts() -> None:
    inner = FakeEmbedder()
    cached = CachingEmbedder(inner, max_entries=3)
    first = cached.encode(["a b", "c d"])
    again = cached.encode(["c d", "e f", "a b"])
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert inner.calls == [["a b", "c d"], ["e f"]]
    cached.encode(["g h"])  # evicts the least recently used ("c d")
    cached.encode(["c d"])
    assert inner.calls[-1] == ["c d"]


def test_grading_is_deterministic() -> None:
    assert _grade(ANSWER) == _grade(ANSWER)


def test_empty_key_points_are_rejected() -> None:
    with pytest.raises(ValueError, match="key_points"):
        grade_free_text(QUESTION, REFERENCE, [], ANSWER, FakeEmbedder())


def _signals(**changes: object) -> Signals:
    base = Signals(
        n_words=30,
        n_content=15,
        function_ratio=0.45,
        new_words=10,
        sim_reference=0.7,
        sim_question=0.5,
        semantic=(0.9, 0.9),
        lexical=(0.9, 0.9),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_decide_needs_every_key_point_and_no_guard_for_correct() -> None:
    config = GradingConfig()
    assert decide(_signals(), KEY_POINTS, config).verdict == "correct"
    partial = decide(_signals(semantic=(0.9, 0.1), lexical=(0.9, 0.1)), KEY_POINTS, config)
    assert partial.verdict == "partial" and partial.missing == (KEY_POINTS[1],)
    assert any(r.startswith("missing key point") for r in partial.reasons)
    echoed = decide(_signals(semantic=(0.9, 0.2), lexical=(0.9, 1.0)), KEY_POINTS, config)
    assert echoed.verdict == "partial" and echoed.missing == (KEY_POINTS[1],), "words without the meaning"
    far = decide(_signals(sim_reference=0.25, sim_question=0.2), KEY_POINTS, config)
    assert far.verdict == "partial" and far.reasons[0].startswith("uncertain")
    assert decide(_signals(semantic=(0.1, 0.1), lexical=(0.1, 0.1)), KEY_POINTS, config).verdict == "incorrect"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"n_content": 2}, "too short"),
        ({"function_ratio": 0.0}, "keyword stuffing"),
        ({"new_words": 1, "sim_question": 0.9}, "restates the question"),
        ({"sim_question": 0.9, "sim_reference": 0.6}, "restates the question"),
        ({"sim_reference": 0.1, "sim_question": 0.1}, "off-topic"),
        ({"swap_gain": 0.2, "swap_pair": ("precision", "recall")}, "contradiction"),
        ({"conflicts": ('negation differs from the reference: "x"',)}, "contradiction"),
    ],
)
def test_any_guard_makes_a_fully_covering_answer_incorrect(changes: dict[str, object], reason: str) -> None:
    result = decide(_signals(**changes), KEY_POINTS, GradingConfig())
    assert result.verdict == "incorrect" and not result.correct
    assert any(r.startswith(reason) for r in result.reasons), result.reasons
    assert result.score <= 0.3


def test_contrast_pairs_come_from_the_question() -> None:
    assert contrast_pairs("What is the difference between precision and recall?") == [("precision", "recall")]
    assert ("bias", "variance") in contrast_pairs("What is the difference between high bias and high variance?")
    assert ("high", "low") in contrast_pairs("What happens if the learning rate is set too high or too low?")
    assert contrast_pairs("How do L1 (lasso) and L2 (ridge) regularization differ?") == [
        ("l1", "l2"),
        ("lasso", "ridge"),
    ]
    assert contrast_pairs("Why would you use it instead of a single split?") == []


def test_swap_terms_exchanges_whole_words_and_keeps_capitals() -> None:
    text = "Precision counts hits among predictions; recall counts found positives, unlike precisions."
    assert swap_terms(text, "precision", "recall") == (
        "Recall counts hits among predictions; precision counts found positives, unlike precisions."
    )


def test_negation_is_scoped_to_what_it_governs() -> None:
    assert is_negated("the model has not seen it") and is_negated("it doesnt help") and is_negated("w/o labels")
    assert not is_negated("no matter how far away the tokens are")
    assert negation_conflict("the model has seen the data", "on data the model has not seen")
    assert not negation_conflict("agents get rewards", "an agent gets rewards instead of correct labels")
    assert not negation_conflict("it is not seen", "it has never been seen")


def test_antonym_swaps_are_made_in_the_key_points_so_a_cache_leaves_only_the_answer_to_embed() -> None:
    key_points = ("the gradient estimates are less biased", "training converges better")
    texts = question_texts(QUESTION, REFERENCE, key_points)
    assert "the gradient estimates are more biased" in texts
    assert "test converges better" in texts
    inner = FakeEmbedder()
    cached = CachingEmbedder(inner)
    grade_free_text(QUESTION, REFERENCE, key_points, ANSWER, cached)  # type: ignore[arg-type]
    answer = "Shuffling makes the gradient estimates more biased, so training converges worse."
    grade_free_text(QUESTION, REFERENCE, key_points, answer, cached)  # type: ignore[arg-type]
    pieces = ["Shuffling makes the gradient estimates more biased", "training converges worse"]
    assert inner.calls[1] == pieces, "only the answer's pieces are new, no swapped variants of them"


def test_a_one_word_fragment_cannot_anchor_a_key_point() -> None:
    answer = "Shuffling stops the model from learning the order of the examples, biased."
    # Lenient coverage thresholds, so that only the anchoring rule decides.
    lenient = GradingConfig(semantic_weight=0.2, key_point_threshold=0.62, ceiling_floor=0.3)
    loose = grade_free_text(
        QUESTION, REFERENCE, KEY_POINTS, answer, FakeEmbedder(), config=replace(lenient, anchor_min_words=1)
    )
    strict = grade_free_text(QUESTION, REFERENCE, KEY_POINTS, answer, FakeEmbedder(), config=lenient)
    assert KEY_POINTS[1] in loose.matched, "the fragment alone anchors the second key point"
    assert strict.missing == (KEY_POINTS[1],) and not strict.correct


BIAS_QUESTION = "What is the difference between high bias and high variance in a model?"


def test_contrast_sides_give_each_term_its_side_and_counterpart() -> None:
    sides = contrast_sides(BIAS_QUESTION)
    assert sides["high bias"] == (0, "high variance") and sides["variance"] == (1, "bias")
    heads = contrast_sides("What is the difference between object detection and semantic segmentation?")
    assert heads["detection"] == (0, "segmentation"), "a multi-word term is also named by its head noun"
    assert side_of("Detection draws boxes", heads) == 0
    assert side_of("detection draws boxes, segmentation labels pixels", heads) is None
    assert side_of("it draws boxes", heads) is None
    assert contrast_sides("Why do we shuffle the training data?") == {}


def test_relabel_exchanges_the_contrasted_terms_in_one_pass() -> None:
    sides = contrast_sides(BIAS_QUESTION)
    assert (
        relabel("High variance = overfitting; bias stays low", sides) == "High bias = overfitting; variance stays low"
    )
    reference = "High bias means underfitting, a model too simple for the data. High variance means overfitting."
    key_points = ["high bias = underfitting", "both hurt validation error"]
    relabelled = relabelled_targets(BIAS_QUESTION, reference, key_points)
    assert relabelled == [
        "High variance means underfitting",
        "High bias means overfitting.",
        "high variance = underfitting",
    ]
    assert not any("both hurt" in text for text in relabelled), "a target naming neither side has no owner"
    assert set(relabelled) <= set(question_texts(BIAS_QUESTION, reference, key_points))


def test_distinct_anchors_give_each_key_point_a_piece_of_its_own() -> None:
    # One piece may anchor key points 0 and 2, another only key point 1: at most two are covered.
    edges = np.array([[True, False], [False, True], [True, False]])
    strength = np.array([[0.9, 0.1], [0.2, 0.8], [0.85, 0.1]], dtype=np.float32)
    assert _distinct_anchors(edges, strength).tolist() == [True, True, False]
    # An augmenting path moves key point 0 to the second piece so that key point 1 gets the first.
    edges = np.array([[True, True], [True, False]])
    strength = np.array([[0.9, 0.7], [0.8, 0.1]], dtype=np.float32)
    assert _distinct_anchors(edges, strength).tolist() == [True, True]
    assert _distinct_anchors(np.zeros((2, 0), dtype=bool), np.zeros((2, 0), dtype=np.float32)).tolist() == [
        False,
        False,
    ]


def test_a_piece_given_the_other_terms_description_is_a_contradiction() -> None:
    question = "What is the difference between bagging and boosting?"
    reference = (
        "Bagging trains many models independently in parallel on bootstrap samples and averages them. "
        "Boosting trains models one after another, each correcting the errors of the previous ones."
    )
    key_points = (
        "bagging: independent models on bootstrap samples, averaged",
        "boosting: sequential models fixing errors",
    )
    swapped = "Bagging trains models one after another, each correcting the errors of the previous ones."
    right = "Bagging trains many models independently in parallel on bootstrap samples and averages them."
    found = grade_free_text(question, reference, key_points, swapped, FakeEmbedder())
    assert any("describes 'bagging' the way the reference describes the other term" in r for r in found.reasons)
    assert found.verdict == "incorrect"
    fine = grade_free_text(question, reference, key_points, right, FakeEmbedder())
    assert not any("describes" in r for r in fine.reasons)
    off = grade_free_text(
        question, reference, key_points, swapped, FakeEmbedder(), config=GradingConfig(role_margin=2.0)
    )
    assert not any("describes" in r for r in off.reasons), "the check, not another guard, found it"


def test_rarely_and_seldom_negate_so_they_agree_with_without() -> None:
    reference = "L2 shrinks weights smoothly but rarely to exactly zero"
    assert is_negated(reference)
    assert not negation_conflict("L2 shrinks every weight without zeroing them", reference)
    assert negation_conflict("L2 sets weights to exactly zero", "L2 seldom sets weights to exactly zero")


def test_key_points_about_two_terms_the_question_names_contrast_them() -> None:
    question = "Explain precision and recall, with an example where each matters most."
    key_points = [
        "Precision = TP / (TP + FP): how many flagged items are correct",
        "Recall = TP / (TP + FN): how many actual positives are found",
        "A sensible example for each (costly false positives versus costly misses)",
    ]
    assert [key_point_subject(k, question) for k in key_points] == ["precision", "recall", None]
    assert contrasts(question, key_points) == [{"precision": (0, "recall"), "recall": (1, "precision")}]
    gd = "What is the difference between backpropagation and gradient descent?"
    assert key_point_subject("Gradient descent (the optimizer) uses the gradients", gd) == "gradient descent"
    found = contrasts(gd, ["Backpropagation computes the gradients", "Gradient descent (the optimizer) updates"])
    assert {"backpropagation": (0, "gradient descent"), "gradient descent": (1, "backpropagation")} in found
    assert key_point_subject("The model memorises the data", "Why does the model overfit?") is None
    # A key point that names the other one's term is not about a contrast.
    assert contrasts("How do dropout and batch norm interact?", ["dropout noise", "batch norm after dropout"]) == []


def test_polarity_conflict_needs_the_other_end_of_a_scale_about_the_same_thing() -> None:
    target = "Names a mitigation: a small learning rate or freezing layers"
    assert polarity_conflict("You limit it with a larger learning rate", target) == "large / small"
    assert polarity_conflict("Labels arrive right away with every prediction", "Labels are delayed") is not None
    assert polarity_conflict("You limit it with a small learning rate", target) is None, "the same end"
    assert polarity_conflict("Use a larger batch size", target) is None, "no shared context word"
    assert polarity_conflict("Labels are not immediate", "Labels are delayed") is None, "a negated opposite agrees"
    assert polarity_conflict("low training error but high validation error", "error is high on training") is None


def test_an_answer_stating_a_known_misconception_is_a_contradiction() -> None:
    misconceptions = ("shuffling makes every batch contain only one class of examples",)
    wrong = (
        "Shuffling makes every batch contain only one class of examples, and the gradient estimates are less biased."
    )
    found = grade_free_text(QUESTION, REFERENCE, KEY_POINTS, wrong, FakeEmbedder(), misconceptions=misconceptions)
    assert any(r.startswith("contradiction: states a known misconception") for r in found.reasons)
    assert found.verdict == "incorrect" and found.mistakes == misconceptions
    fine = grade_free_text(QUESTION, REFERENCE, KEY_POINTS, ANSWER, FakeEmbedder(), misconceptions=misconceptions)
    assert not any("misconception" in r for r in fine.reasons) and fine.mistakes == ()
    without = grade_free_text(QUESTION, REFERENCE, KEY_POINTS, wrong, FakeEmbedder())
    assert not any("misconception" in r for r in without.reasons)


def test_misconceptions_are_question_texts_so_a_cache_embeds_them_once() -> None:
    misconceptions = ("shuffling sorts the data by label",)
    assert "shuffling sorts the data by label" in question_texts(QUESTION, REFERENCE, KEY_POINTS, misconceptions)
