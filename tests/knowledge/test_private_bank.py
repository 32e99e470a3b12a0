"""An admin's private question bank under MENTOR_DATA_DIR is loaded beside the bundled one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import load_question_bank
from bot.core.content import ContentError
from tests.conftest import make_settings

PRIVATE = """stage: deep-learning
concept: cnns
items:
  - id: cnns.50
    type: mcq
    prompt: "In our study group's CIFAR-10 project, which layer reduced the spatial size?"
    options: ["Max pooling with stride 2", "A 1x1 convolution with stride 1", "Batch normalization", "ReLU"]
    answer: 0
    explanation: "Stride-2 max pooling halves height and width."
    explanation_long: "Pooling with stride 2 keeps one value per 2x2 window, halving each spatial side."
    section: "Intuition"
"""


def test_private_items_join_the_bank(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    (tmp_path / "questions" / "deep-learning").mkdir(parents=True)
    (tmp_path / "questions" / "deep-learning" / "cnns.yaml").write_text(PRIVATE)
    bank = load_question_bank(settings)
    assert bank.item("cnns.50").concept == "cnns"
    assert len(bank.for_concept("cnns")) == 13


def test_a_private_item_reusing_a_bundled_id_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    (tmp_path / "questions" / "deep-learning").mkdir(parents=True)
    (tmp_path / "questions" / "deep-learning" / "cnns.yaml").write_text(PRIVATE.replace("cnns.50", "cnns.01"))
    with pytest.raises(ContentError, match=r"item cnns\.01: duplicate id"):
        load_question_bank(settings)
