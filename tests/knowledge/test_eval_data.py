"""The retrieval and grading evaluation sets are big enough, well-formed, and not copied from knowledge/."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.content import CONCEPT_STAGE

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "knowledge"
RETRIEVAL_EVAL = ROOT / "tests" / "data" / "retrieval_eval.yaml"
DATA = ROOT / "tests" / "data"
# Tuning sets (the grader's thresholds were chosen on these) and the held-out set (measured only).
HELD_OUT_FILES = tuple(f"grading_holdout{n}.yaml" for n in ("", "2", "3", "4"))
GRADING_FILES = ("grading_cases.yaml", "grading_bank.yaml", *HELD_OUT_FILES)

SHARED_RUN = 6  # consecutive words an eval question may not share with the knowledge base
GUARD_CATEGORIES = ("too_short", "restates_question", "keyword_stuffing", "off_topic", "contradiction")
# Wrong answers built to look right to a lexical grader (on-topic, using the reference's words).
ADVERSARIAL_CATEGORIES = ("restates_question", "keyword_stuffing", "contradiction", "wrong", "partial_right")
INCORRECT_CATEGORIES = (*GUARD_CATEGORIES, "wrong", "partial_right")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _runs(words: list[str], n: int = SHARED_RUN) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@pytest.fixture(scope="module")
def retrieval() -> dict[str, Any]:
    data = yaml.safe_load(RETRIEVAL_EVAL.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    assert set(data) == {"in_scope", "out_of_scope"}
    return data


def _grading_cases(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    assert isinstance(data.get("cases"), list)
    return list(data["cases"])


@pytest.fixture(scope="module", params=GRADING_FILES)
def cases(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return _grading_cases(request.param)


# --- retrieval_eval.yaml ------------------------------------------------------------------------


def test_in_scope_questions_cover_every_concept_with_known_ids(retrieval: dict[str, Any]) -> None:
    in_scope = retrieval["in_scope"]
    assert len(in_scope) >= 70
    seen: set[str] = set()
    for entry in in_scope:
        assert set(entry) == {"q", "concepts"}, entry
        assert isinstance(entry["q"], str)
        assert entry["q"].strip()
        assert entry["concepts"], f"{entry['q']!r} names no concept"
        unknown = [c for c in entry["concepts"] if c not in CONCEPT_STAGE]
        assert unknown == [], f"{entry['q']!r} names unknown concept ids {unknown}"
        seen.update(entry["concepts"])
    assert sorted(set(CONCEPT_STAGE) - seen) == [], "concepts no in-scope question targets"


def test_out_of_scope_questions_are_plain_strings(retrieval: dict[str, Any]) -> None:
    out_of_scope = retrieval["out_of_scope"]
    assert len(out_of_scope) >= 25
    assert all(isinstance(q, str) and q.strip() for q in out_of_scope)


def test_eval_questions_are_unique(retrieval: dict[str, Any]) -> None:
    questions = [e["q"] for e in retrieval["in_scope"]] + list(retrieval["out_of_scope"])
    repeated = [q for q, n in Counter(q.strip().lower() for q in questions).items() if n > 1]
    assert repeated == []


def test_no_eval_question_copies_six_words_from_the_knowledge_base(retrieval: dict[str, Any]) -> None:
    # Questions lifted from the corpus would make retrieval look better than it is for real learners.
    corpus: dict[tuple[str, ...], Path] = {}
    for path in sorted(KNOWLEDGE.rglob("*")):
        if path.is_file():
            for run in _runs(_words(path.read_text(encoding="utf-8"))):
                corpus.setdefault(run, path)
    questions = [e["q"] for e in retrieval["in_scope"]] + list(retrieval["out_of_scope"])
    copied = []
    for question in questions:
        for run in sorted(_runs(_words(question))):
            if run in corpus:
                copied.append(f"{question!r} shares {' '.join(run)!r} with {corpus[run].relative_to(ROOT)}")
                break
    assert copied == [], "eval questions copied from knowledge/:\n" + "\n".join(copied)


# --- grading_cases.yaml ---------------------------------------------------------------------------


def test_grading_cases_are_well_formed(cases: list[dict[str, Any]]) -> None:
    assert len(cases) >= 100
    fields = {"id", "question", "reference", "key_points", "answer", "label", "category"}
    for case in cases:
        assert set(case) - {"item"} == fields, case.get("id")
        assert case["label"] in {"correct", "incorrect"}, case["id"]
        assert all(isinstance(case[f], str) and case[f].strip() for f in ("question", "reference", "answer"))
        assert 2 <= len(case["key_points"]) <= 3, case["id"]
    ids = Counter(case["id"] for case in cases)
    assert [i for i, n in ids.items() if n > 1] == []


def test_grading_labels_agree_with_categories(cases: list[dict[str, Any]]) -> None:
    wrong = [
        case["id"]
        for case in cases
        if (case["category"], case["label"]) != ("paraphrase", "correct")
        and not (case["category"] in INCORRECT_CATEGORIES and case["label"] == "incorrect")
    ]
    assert wrong == [], "cases whose label does not match their category"


def test_grading_cases_cover_paraphrases_adversarial_answers_and_every_guard(
    cases: list[dict[str, Any]],
) -> None:
    by_category = Counter((case["category"], case["label"]) for case in cases)
    assert by_category["paraphrase", "correct"] >= 25
    adversarial = sum(by_category[category, "incorrect"] for category in ADVERSARIAL_CATEGORIES)
    assert adversarial >= 25
    thin = {c: by_category[c, "incorrect"] for c in GUARD_CATEGORIES if by_category[c, "incorrect"] < 4}
    assert thin == {}, "guard categories with fewer than 4 incorrect cases"


def test_bank_answer_sets_use_the_banks_own_items_and_never_the_same_item_twice() -> None:
    bank = {}
    for path in sorted((KNOWLEDGE / "questions").glob("*/*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            if item["type"] == "free_text":
                bank[item["id"]] = (item["prompt"], item["reference"], list(item["key_points"]))
    items_of: dict[str, set[str]] = {}
    for name in ("grading_bank.yaml", *HELD_OUT_FILES):
        cases = _grading_cases(name)
        mismatched = [
            c["id"] for c in cases if bank.get(c["item"]) != (c["question"], c["reference"], list(c["key_points"]))
        ]
        assert mismatched == [], f"{name}: cases whose item text differs from the bank"
        items_of[name] = {c["item"] for c in cases}
    for held_out in HELD_OUT_FILES:
        assert items_of["grading_bank.yaml"].isdisjoint(items_of[held_out])
        tuning_questions = {c["question"] for n in GRADING_FILES[:2] for c in _grading_cases(n)}
        assert tuning_questions.isdisjoint(c["question"] for c in _grading_cases(held_out))
