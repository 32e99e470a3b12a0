"""`mentor grade`: grade free-text answers against a reference and key points, without an LLM."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bot.app import make_embedder
from bot.cli.common import fail, out, print_json, settings_of
from bot.core.grading import CachingEmbedder, Embedder, GradeResult, grade_free_text
from bot.retrieval.embeddings import EmbeddingModelError

SINGLE_KEYS = ("verdict", "correct", "score", "matched", "missing")
VERDICT_STYLE = {"correct": "bold green", "partial": "bold yellow", "incorrect": "bold red"}


def _summary(result: GradeResult) -> dict[str, object]:
    data = result.as_json()
    return {key: data[key] for key in SINGLE_KEYS}


class BadLine(ValueError):
    """A batch line that is not a grading request."""


def _request(line: str) -> tuple[str, str, list[str], str, list[str]]:
    """(question, reference, key_points, answer, misconceptions) from one JSON line, or BadLine saying why not."""
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise BadLine("expected a JSON object with question, reference, key_points, answer")
    missing = [k for k in ("question", "reference", "key_points", "answer") if k not in data]
    if missing:
        raise BadLine(f"missing field(s): {', '.join(missing)}")
    for key in ("question", "reference", "answer"):
        if not isinstance(data[key], str):
            raise BadLine(f"{key} must be a string")
    points = data["key_points"]
    if not isinstance(points, list) or not points or not all(isinstance(p, str) and p.strip() for p in points):
        raise BadLine("key_points must be a non-empty list of non-empty strings")
    if not data["question"].strip() or not data["reference"].strip():
        raise BadLine("question and reference must not be empty")
    wrong = data.get("misconceptions", [])
    if not isinstance(wrong, list) or not all(isinstance(m, str) and m.strip() for m in wrong):
        raise BadLine("misconceptions, when given, must be a list of non-empty strings")
    return data["question"], data["reference"], points, data["answer"], wrong


def _emit(data: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _grade_batch(path: Path, embedder: Embedder) -> int:
    """Grade every line of `path`; returns how many lines failed."""
    failed = 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                question, reference, points, answer, wrong = _request(line)
            except BadLine as exc:
                failed += 1
                _emit({"line": number, "error": str(exc)})
                continue
            result = grade_free_text(question, reference, points, answer, embedder, misconceptions=wrong)
            _emit({"line": number, **_summary(result)})
    return failed


def _print_human(result: GradeResult) -> None:
    style = VERDICT_STYLE[result.verdict]
    out.print(f"[{style}]{result.verdict}[/]  score {result.score:.2f}  confidence {result.confidence:.2f}")
    for point in result.matched:
        out.print(f"  [green]✓[/] {escape(point)}", highlight=False)
    for point in result.missing:
        out.print(f"  [red]✗[/] {escape(point)}", highlight=False)
    for reason in result.reasons:
        if not reason.startswith("missing key point"):
            out.print(f"  [dim]· {escape(reason)}[/]", highlight=False)


def grade(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Option("--question", help="The question that was asked.")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="A model answer.")] = None,
    key_point: Annotated[
        list[str] | None, typer.Option("--key-point", help="An idea a correct answer must contain (repeat it).")
    ] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="The learner's answer.")] = None,
    misconception: Annotated[
        list[str] | None,
        typer.Option("--misconception", help="A wrong claim learners typically make here (optional, repeat it)."),
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            metavar="FILE.jsonl",
            help='Grade one {"question", "reference", "key_points", "answer"} object per line '
            '(optionally "misconceptions"); prints one JSON result per line.',
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the grade as JSON.")] = False,
) -> None:
    """Grade a free-text answer without an LLM (conservative: "partial" never counts as correct)."""
    settings = settings_of(ctx)
    single = {"--question": question, "--reference": reference, "--key-point": key_point, "--answer": answer}
    if batch is not None:
        given = [name for name, value in {**single, "--misconception": misconception}.items() if value]
        if given:
            fail(f"--batch grades a file; do not combine it with {', '.join(given)}")
        if not batch.is_file():
            fail(f"no such batch file: {batch}")
    else:
        absent = [name for name, value in single.items() if value is None or not value]
        if absent:
            fail(f"missing {', '.join(absent)} (or use --batch FILE.jsonl)")
    embedder = CachingEmbedder(make_embedder(settings))
    try:
        if batch is not None:
            if _grade_batch(batch, embedder):
                raise typer.Exit(1)
            return
        result = grade_free_text(
            str(question), str(reference), key_point or [], str(answer), embedder, misconceptions=misconception or []
        )
    except EmbeddingModelError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(_summary(result))
    else:
        _print_human(result)
