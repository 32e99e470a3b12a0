"""The shipped question bank loads, meets the per-concept quotas, and broken files are rejected clearly."""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.content import STAGE_CONCEPTS, STAGE_IDS, ContentError
from bot.core.questions import (
    FlashcardItem,
    FreeTextItem,
    McqItem,
    NumericItem,
    QuestionBank,
    TrueFalseItem,
    draw_params,
    evaluate_numeric,
    load_bank,
    longest_option_rates,
    render_prompt,
)

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "knowledge" / "questions"
CONCEPT_CASES = [(stage, concept) for stage, concepts in STAGE_CONCEPTS.items() for concept in concepts]
CONCEPT_IDS = [f"{stage}/{concept}" for stage, concept in CONCEPT_CASES]
NUMERIC_DRAWS = 50


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return load_bank([QUESTIONS])


# --- the shipped bank ---------------------------------------------------------------------------


def test_bank_has_a_file_for_every_concept_and_nothing_else(bank: QuestionBank) -> None:
    loaded = sorted((f.stage, f.concept) for f in bank.files)
    assert loaded == sorted(CONCEPT_CASES)


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_concept_meets_the_item_quotas(bank: QuestionBank, stage: str, concept: str) -> None:
    items = bank.for_concept(concept)
    kinds = Counter(item.type for item in items)
    assert len(items) >= 10, f"{concept}: {len(items)} items, at least 10 required"
    assert kinds["mcq"] >= 6, f"{concept}: {kinds['mcq']} mcq, at least 6 required"
    assert kinds["free_text"] >= 2, f"{concept}: {kinds['free_text']} free_text, at least 2 required"
    rest = {kind for kind in kinds if kind not in ("mcq", "free_text")}
    assert rest <= {"numeric", "true_false"}, f"{concept}: unexpected item types {rest}"
    assert all(bank.stage_of(item.id) == stage for item in items)


def test_item_lookup_by_id_returns_the_item(bank: QuestionBank) -> None:
    for item in bank.items:
        assert bank.item(item.id) is item
    with pytest.raises(KeyError):
        bank.item("bias-variance.99x")


def test_longest_option_is_no_give_away(bank: QuestionBank) -> None:
    rates = longest_option_rates(bank)
    assert set(rates) == set(STAGE_IDS)
    longest = sum(n for n, _ in rates.values())
    total = sum(t for _, t in rates.values())
    assert 0.20 <= longest / total <= 0.30, f"key strictly longest in {longest}/{total} MCQs overall"
    too_often = {stage: f"{n}/{t}" for stage, (n, t) in rates.items() if n / t > 0.30}
    assert too_often == {}, "stages where the key is the strictly longest option in over 30% of MCQs"


@pytest.mark.parametrize(("stage", "concept"), CONCEPT_CASES, ids=CONCEPT_IDS)
def test_numeric_items_evaluate_for_random_draws(bank: QuestionBank, stage: str, concept: str) -> None:
    numerics = [item for item in bank.for_concept(concept) if isinstance(item, NumericItem)]
    rng = random.Random(f"{stage}/{concept}")
    for item in numerics:
        for _ in range(NUMERIC_DRAWS):
            params = draw_params(item, rng)
            value = evaluate_numeric(item, params)
            assert math.isfinite(value), f"{item.id} gives {value} for {params}"
            prompt = render_prompt(item, params)
            assert "{" not in prompt, f"{item.id}: placeholder left in {prompt!r}"


def test_draws_are_reproducible_and_within_range(bank: QuestionBank) -> None:
    numerics = [item for item in bank.items if isinstance(item, NumericItem) and item.params]
    assert numerics
    for item in numerics:
        first = draw_params(item, random.Random(7))
        assert first == draw_params(item, random.Random(7))
        for name, value in first.items():
            assert item.params[name].min <= value <= item.params[name].max


def test_item_models_are_the_expected_types(bank: QuestionBank) -> None:
    by_type = {"mcq": McqItem, "true_false": TrueFalseItem, "numeric": NumericItem, "free_text": FreeTextItem}
    for item in bank.items:
        assert isinstance(item, by_type[item.type])


def test_the_documented_precision_example_evaluates() -> None:
    item = NumericItem.model_validate(
        {
            "id": "evaluation-metrics.99",
            "type": "numeric",
            "prompt": "A model has {tp} true positives and {fp} false positives. What is its precision?",
            "params": {"tp": {"min": 20, "max": 90}, "fp": {"min": 5, "max": 40}},
            "answer": "tp / (tp + fp)",
            "tolerance": 0.01,
            "explanation": "Precision = TP / (TP + FP).",
            "explanation_long": "Of everything flagged positive, the share that truly is.",
            "section": "The math that matters",
        }
    )
    assert evaluate_numeric(item, {"tp": 30, "fp": 10}) == pytest.approx(0.75)
    assert render_prompt(item, {"tp": 30, "fp": 10}).startswith("A model has 30 true positives and 10")


# --- broken files are rejected with the file and the problem named ------------------------------


def _valid_items() -> list[dict[str, Any]]:
    common = {
        "explanation": "Short and clear.",
        "explanation_long": "A longer paragraph.",
        "section": "Intuition",
    }
    return [
        {
            "id": "bias-variance.01",
            "type": "mcq",
            "prompt": "Train and validation error are both high. What is the likely diagnosis?",
            "options": ["Underfitting", "Overfitting", "Data leakage", "Label noise only"],
            "answer": 0,
            **common,
        },
        {
            "id": "bias-variance.02",
            "type": "true_false",
            "prompt": "More training data mainly reduces variance.",
            "answer": True,
            **common,
        },
        {
            "id": "bias-variance.03",
            "type": "numeric",
            "prompt": "Noise has standard deviation {s}. What is the lowest achievable expected MSE?",
            "params": {"s": {"min": 1, "max": 10}},
            "answer": "s**2",
            "tolerance": 0.01,
            **common,
        },
        {
            "id": "bias-variance.04",
            "type": "free_text",
            "prompt": "Why does a deep tree overfit?",
            "reference": "It can carve out a leaf for every training point, fitting noise.",
            "key_points": ["it memorises noise", "it does not generalise"],
            **common,
        },
    ]


def _write(root: Path, items: list[dict[str, Any]], concept: str = "bias-variance") -> Path:
    path = root / "classical-ml" / f"{concept}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"stage": "classical-ml", "concept": concept, "items": items}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _rejected(root: Path) -> ContentError:
    with pytest.raises(ContentError) as info:
        load_bank([root])
    return info.value


def test_a_valid_file_loads(tmp_path: Path) -> None:
    _write(tmp_path, _valid_items())
    bank = load_bank([tmp_path])
    ids = [item.id for item in bank.for_concept("bias-variance")]
    assert ids == [f"bias-variance.0{i}" for i in range(1, 5)]


def test_duplicate_id_in_a_file_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[1]["id"] = "bias-variance.01"
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "bias-variance.01" in str(error)
    assert "duplicate id" in str(error)


def test_duplicate_id_across_directories_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path / "a", _valid_items())
    second = _write(tmp_path / "b", _valid_items())
    with pytest.raises(ContentError) as info:
        load_bank([tmp_path / "a", tmp_path / "b"])
    assert str(second) in str(info.value)
    assert "bias-variance.01: duplicate id" in str(info.value)


def test_two_identical_options_are_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[0]["options"] = ["Underfitting", "Overfitting", "  underfitting ", "Label noise only"]
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "bias-variance.01" in str(error)
    assert "identical" in str(error)


def test_answer_index_out_of_range_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[0]["answer"] = 4
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "bias-variance.01" in str(error)
    assert "answer 4 is not an option index" in str(error)


def test_three_options_are_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[0]["options"] = items[0]["options"][:3]
    _write(tmp_path, items)
    assert "exactly 4 options" in str(_rejected(tmp_path))


def test_none_of_the_above_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[0]["options"][3] = "None of the above"
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "bias-variance.01" in str(error)
    assert "'None of the above'" in str(error)


def test_explanation_over_200_characters_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[1]["explanation"] = "x" * 201
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "bias-variance.02" in str(error)
    assert "explanation" in str(error)
    assert "201 characters" in str(error)


def test_explanation_of_exactly_200_characters_is_fine(tmp_path: Path) -> None:
    items = _valid_items()
    items[1]["explanation"] = "x" * 200
    _write(tmp_path, items)
    assert load_bank([tmp_path]).item("bias-variance.02").explanation == "x" * 200


def test_code_in_an_answer_is_rejected_unrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "system", calls.append)
    items = _valid_items()
    items[2]["answer"] = "__import__('os').system('x')"
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert calls == []
    assert str(path) in str(error)
    assert "bias-variance.03" in str(error)
    assert "not allowed" in str(error)


@pytest.mark.parametrize(
    "answer",
    [
        "s.__class__",
        "[s][0]",
        "s if s else 1",
        "open('x')",
        "lambda: 1",
        "s ** 99999",
        "log(s - s)",
        "1 / (s - s)",
    ],
)
def test_unsafe_or_unevaluable_expressions_are_rejected(tmp_path: Path, answer: str) -> None:
    items = _valid_items()
    items[2]["answer"] = answer
    _write(tmp_path, items)
    assert "bias-variance.03" in str(_rejected(tmp_path))


def test_placeholder_without_a_param_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[2]["prompt"] = "Noise has standard deviation {s} and mean {mu}. What is the lowest expected MSE?"
    path = _write(tmp_path, items)
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "bias-variance.03" in str(error)
    assert "no param for ['mu']" in str(error)


def test_zero_tolerance_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[2]["tolerance"] = 0
    _write(tmp_path, items)
    assert "tolerance" in str(_rejected(tmp_path))


def test_a_single_key_point_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[3]["key_points"] = ["it memorises noise"]
    _write(tmp_path, items)
    assert "key_points needs 2-3 entries" in str(_rejected(tmp_path))


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[0]["section"] = "Further resources"
    _write(tmp_path, items)
    assert "section" in str(_rejected(tmp_path))


def test_file_in_the_wrong_stage_folder_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "deep-learning" / "bias-variance.yaml"
    path.parent.mkdir()
    path.write_text(
        yaml.safe_dump({"stage": "deep-learning", "concept": "bias-variance", "items": _valid_items()}),
        encoding="utf-8",
    )
    error = _rejected(tmp_path)
    assert str(path) in str(error)
    assert "belongs to stage 'classical-ml'" in str(error)


def test_id_of_another_concept_is_rejected(tmp_path: Path) -> None:
    items = _valid_items()
    items[0]["id"] = "cross-validation.01"
    _write(tmp_path, items)
    message = str(_rejected(tmp_path))
    assert "cross-validation.01: id must start with the file's concept 'bias-variance'" in message


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "classical-ml" / "bias-variance.yaml"
    path.parent.mkdir()
    path.write_text(
        "stage: classical-ml\n"
        "concept: bias-variance\n"
        "items:\n"
        "  - id: bias-variance.01\n"
        '    prompt: "an unclosed quote\n'
        "    type: mcq\n",
        encoding="utf-8",
    )
    error = _rejected(tmp_path)
    assert error.path == str(path)
    assert error.line is not None
    assert 5 <= error.line <= 7
    assert f"{path}:{error.line}:" in str(error)
    assert "invalid YAML" in str(error)


def test_mapping_value_error_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "classical-ml" / "bias-variance.yaml"
    path.parent.mkdir()
    path.write_text("stage: classical-ml\nconcept: bias-variance\nitems: [\n  - id: x: y\n", encoding="utf-8")
    error = _rejected(tmp_path)
    assert error.path == str(path)
    assert error.line is not None
    assert f":{error.line}:" in str(error)


def test_a_flashcard_loads_with_front_and_back(tmp_path: Path) -> None:
    card = {"id": "bias-variance.05", "type": "flashcard", "front": "Bias", "back": "Systematic error."}
    _write(tmp_path, [*_valid_items(), {**card, "section": "Intuition"}])
    loaded = load_bank([tmp_path]).item("bias-variance.05")
    assert isinstance(loaded, FlashcardItem)
    assert (loaded.front, loaded.back) == ("Bias", "Systematic error.")
