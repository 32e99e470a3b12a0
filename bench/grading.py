"""Free-text grading latency and held-out accuracy (`bot.core.grading.grade_free_text`, MiniLM, no LLM).

    python -m bench.grading [--quick] [--out FILE] [--torch-threads N]

The held-out cases are tests/data/grading_holdout.yaml, grading_holdout2.yaml, 3 and 4: answers to the
question bank's own .11 free-text items, written without running or reading the grader; the
thresholds were tuned on other cases only. Each answer is graded with its item's misconceptions.

Two latencies per grading, both with the model loaded and 3 warm-up gradings first:
- question_cached: the steady state of a running bot. The texts that depend only on the question
  (reference and its clauses, question, key points, their words and antonym-swapped variants)
  were embedded before, as a `CachingEmbedder` keeps them after the first answer to a question;
  the answer's pieces are embedded in the timed call, never served from a cache.
- cold: nothing cached; every text of the grading is embedded in the timed call.
And grader_only: every text already embedded (a second pass over the same answers through a
cache), so only the grader's own Python and NumPy work is timed.
False-accept = incorrect-labelled cases graded "correct" / incorrect cases; true-accept =
correct-labelled cases graded "correct" / correct cases (from the question_cached pass).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.common import latency_ms, log, parse_args, peak_rss_mib, run_bench, temp_settings
from bot.app import make_embedder
from bot.core.grading import CachingEmbedder, Embedder, GradeResult, grade_free_text, question_texts
from bot.core.questions import FreeTextItem, load_bank

NAME = "grading"
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
HELD_OUT = tuple(DATA / f"grading_holdout{n}.yaml" for n in ("", "2", "3", "4"))
BANK = Path(__file__).resolve().parents[1] / "knowledge" / "questions"
WARMUP = 3
QUICK_COLD_CASES = 10
TARGET_P95_MS = 30.0
TARGET_FALSE_ACCEPT = 0.03
TARGET_TRUE_ACCEPT = 0.80


class QuestionTextCache:
    """Serves the question's texts from vectors computed beforehand; embeds everything else, in one call."""

    def __init__(self, inner: Embedder, known: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.known = known
        self.embedded: list[int] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.known]
        self.embedded.append(len(missing))
        fresh = dict(zip(missing, self.inner.encode(missing), strict=True)) if missing else {}
        return np.stack([self.known[t] if t in self.known else fresh[t] for t in texts])


class Counting:
    """Counts the texts each call embeds (and keeps their vectors, outside the timing's concern)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.embedded: list[int] = []
        self.vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        self.embedded.append(len(texts))
        vectors = self.inner.encode(texts)
        self.vectors.update(zip(texts, vectors, strict=True))
        return vectors


def held_out_cases() -> list[dict[str, Any]]:
    """The held-out labelled answers (never used for tuning)."""
    misconceptions = {i.id: i.misconceptions for i in load_bank([BANK]).items if isinstance(i, FreeTextItem)}
    cases: list[dict[str, Any]] = []
    for path in HELD_OUT:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            cases.append({**case, "misconceptions": misconceptions.get(case.get("item", ""), ())})
    return cases


def _grade(case: dict[str, Any], embedder: Embedder) -> GradeResult:
    return grade_free_text(
        case["question"],
        case["reference"],
        case["key_points"],
        case["answer"],
        embedder,
        misconceptions=case["misconceptions"],
    )


def timed_gradings(cases: Sequence[dict[str, Any]], embedder: Embedder) -> tuple[list[float], list[GradeResult]]:
    """Seconds per grading (after WARMUP untimed gradings) and the results."""
    for case in cases[:WARMUP]:
        _grade(case, embedder)
    seconds: list[float] = []
    results: list[GradeResult] = []
    for case in cases:
        started = time.perf_counter()
        results.append(_grade(case, embedder))
        seconds.append(time.perf_counter() - started)
    return seconds, results


def accept_rates(cases: Sequence[dict[str, Any]], results: Sequence[GradeResult]) -> dict[str, Any]:
    accepted: dict[str, list[bool]] = {"correct": [], "incorrect": []}
    for case, result in zip(cases, results, strict=True):
        accepted[case["label"]].append(result.correct)
    false_accept = sum(accepted["incorrect"]) / len(accepted["incorrect"])
    true_accept = sum(accepted["correct"]) / len(accepted["correct"])
    return {
        "false_accept": round(false_accept, 4),
        "true_accept": round(true_accept, 4),
        "false_accepts": sum(accepted["incorrect"]),
        "true_accepts": sum(accepted["correct"]),
        "target_false_accept_max": TARGET_FALSE_ACCEPT,
        "target_true_accept_min": TARGET_TRUE_ACCEPT,
        "targets_met": false_accept <= TARGET_FALSE_ACCEPT and true_accept >= TARGET_TRUE_ACCEPT,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    cases = held_out_cases()
    labels = [c["label"] for c in cases]
    with temp_settings(NAME) as settings:
        model = make_embedder(settings)
        started = time.perf_counter()
        model.encode(["warm up"])
        load_seconds = time.perf_counter() - started
        log(NAME, f"model loaded in {load_seconds:.1f} s; {len(cases)} held-out cases")

        texts = sorted(
            {
                t
                for c in cases
                for t in question_texts(c["question"], c["reference"], c["key_points"], c["misconceptions"])
            }
        )
        known = dict(zip(texts, model.encode(texts), strict=True))
        cached = QuestionTextCache(model, known)
        cached_seconds, results = timed_gradings(cases, cached)
        log(NAME, f"question_cached: p95 {latency_ms(cached_seconds)['p95_ms']} ms")

        cold_cases = cases[:QUICK_COLD_CASES] if args.quick else cases
        counting = Counting(model)
        cold_seconds, _ = timed_gradings(cold_cases, counting)
        log(NAME, f"cold: p95 {latency_ms(cold_seconds)['p95_ms']} ms over {len(cold_cases)} cases")

        # The grader's own work: every text of every grading already embedded (the cold pass kept
        # its vectors; an untimed pass embeds and caches the rest), so no model call is timed.
        everything = CachingEmbedder(QuestionTextCache(model, counting.vectors), max_entries=1_000_000)
        timed_gradings(cases, everything)
        grader_seconds, _ = timed_gradings(cases, everything)
        log(NAME, f"grader_only: p95 {latency_ms(grader_seconds)['p95_ms']} ms")

    cached_latency = latency_ms(cached_seconds)
    return {
        "cases": {"held_out": len(cases), "correct": labels.count("correct"), "incorrect": labels.count("incorrect")},
        "model_load_seconds": round(load_seconds, 2),
        "warmup_gradings": WARMUP,
        "question_cached": {
            **cached_latency,
            "texts_embedded_mean": round(float(np.mean(cached.embedded[WARMUP:])), 1),
        },
        "grader_only": latency_ms(grader_seconds),
        "cold": {
            **latency_ms(cold_seconds),
            "texts_embedded_mean": round(float(np.mean(counting.embedded[WARMUP:])), 1),
        },
        "target_p95_ms": TARGET_P95_MS,
        "question_cached_p95_within_target": cached_latency["p95_ms"] <= TARGET_P95_MS,
        "held_out": accept_rates(cases, results),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    run_bench(NAME, bench, parse_args(__doc__ or NAME))


if __name__ == "__main__":
    main()
