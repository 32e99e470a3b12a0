"""`mentor grade` end to end, in-process (Typer's runner), with the real MiniLM model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import grade as grade_cli
from bot.cli.main import app

runner = CliRunner()

QUESTION = "What is gradient clipping and why is it used?"
REFERENCE = (
    "Gradient clipping caps the size of gradients during backpropagation, either by limiting each value or by "
    "rescaling the whole gradient vector when its norm exceeds a threshold. It prevents exploding gradients from "
    "causing huge, unstable parameter updates, which is common when training recurrent networks."
)
KEY_POINTS = [
    "limits gradient size, by value or by rescaling when the norm exceeds a threshold",
    "prevents exploding gradients from causing huge, unstable updates",
]
GOOD = (
    "Before the optimizer step you check how big the gradient is, and if its norm is above some threshold you "
    "scale it down, or you clip each value. That stops exploding gradients from producing giant, unstable weight "
    "updates, which happens a lot with RNNs."
)
SINGLE_KEYS = {"verdict", "correct", "score", "matched", "missing"}


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MENTOR_LOG_LEVEL", "WARNING")


@pytest.fixture
def shared_model(embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reuse the session's loaded model instead of loading it again for every invocation."""
    monkeypatch.setattr(grade_cli, "make_embedder", lambda settings: embedder)


def _single(answer: str, *extra: str) -> list[str]:
    args = ["grade", "--question", QUESTION, "--reference", REFERENCE]
    for point in KEY_POINTS:
        args += ["--key-point", point]
    return [*args, "--answer", answer, *extra]


def test_single_answer_as_json() -> None:
    result = runner.invoke(app, _single(GOOD, "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == SINGLE_KEYS
    assert data["verdict"] == "correct" and data["correct"] is True
    assert data["matched"] == KEY_POINTS and data["missing"] == []
    assert 0.0 <= data["score"] <= 1.0


def test_single_answer_human_summary(shared_model: None) -> None:
    result = runner.invoke(app, _single("It prevents exploding gradients."))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("incorrect")
    assert "too short" in result.stdout


def test_missing_options_are_a_usage_error(shared_model: None) -> None:
    result = runner.invoke(app, ["grade", "--question", QUESTION, "--answer", GOOD])
    assert result.exit_code == 2
    assert "missing --reference, --key-point" in result.output
    both = runner.invoke(app, [*_single(GOOD), "--batch", "x.jsonl"])
    assert both.exit_code == 2 and "do not combine" in both.output
    absent = runner.invoke(app, ["grade", "--batch", "no-such-file.jsonl"])
    assert absent.exit_code == 2 and "no such batch file" in absent.output


def test_batch_grades_every_line_and_reports_malformed_ones(tmp_path: Path, shared_model: None) -> None:
    request = {"question": QUESTION, "reference": REFERENCE, "key_points": KEY_POINTS}
    lines = [
        json.dumps({**request, "answer": GOOD}),
        "{not json",
        "",
        json.dumps({**request, "answer": "gradient clipping norm threshold exploding gradients rescale updates"}),
        json.dumps({"question": QUESTION, "answer": GOOD}),
        json.dumps({**request, "key_points": [], "answer": GOOD}),
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["grade", "--batch", str(path)])
    assert result.exit_code == 1, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 4, 5, 6]
    assert rows[0]["verdict"] == "correct" and set(rows[0]) == {"line", *SINGLE_KEYS}
    assert rows[2]["verdict"] == "incorrect" and rows[2]["correct"] is False
    assert set(rows[1]) == {"line", "error"} and "invalid JSON" in rows[1]["error"]
    assert "missing field(s): reference, key_points" in rows[3]["error"]
    assert "key_points" in rows[4]["error"]


def test_batch_without_bad_lines_exits_zero(tmp_path: Path, shared_model: None) -> None:
    path = tmp_path / "ok.jsonl"
    request = {"question": QUESTION, "reference": REFERENCE, "key_points": KEY_POINTS, "answer": GOOD}
    path.write_text(json.dumps(request) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["grade", "--batch", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["correct"] is True


MISCONCEPTION = "Gradient clipping removes the gradients of the largest weights so that they stop changing"
CLAIMS_IT = (
    "Gradient clipping removes the gradients of the largest weights so that those weights stop changing, "
    "which prevents exploding gradients from causing huge, unstable updates."
)


def test_a_known_misconception_makes_the_answer_incorrect(tmp_path: Path, shared_model: None) -> None:
    plain = runner.invoke(app, [*_single(CLAIMS_IT), "--json"])
    flagged = runner.invoke(app, [*_single(CLAIMS_IT), "--misconception", MISCONCEPTION, "--json"])
    assert plain.exit_code == 0 and flagged.exit_code == 0, flagged.output
    assert json.loads(flagged.stdout)["verdict"] == "incorrect"
    assert json.loads(plain.stdout)["verdict"] == "partial", "without the misconception it is only half wrong"
    request = {"question": QUESTION, "reference": REFERENCE, "key_points": KEY_POINTS, "answer": CLAIMS_IT}
    path = tmp_path / "m.jsonl"
    lines = [json.dumps({**request, "misconceptions": [MISCONCEPTION]}), json.dumps({**request, "misconceptions": "x"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["grade", "--batch", str(path)])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 1 and rows[0]["verdict"] == "incorrect"
    assert "misconceptions, when given, must be a list" in rows[1]["error"]
