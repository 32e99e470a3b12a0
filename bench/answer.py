"""Extractive answer latency (`MentorService.answer`, no LLM) next to search alone, at 1k and 10k chunks.

    python -m bench.answer [--quick] [--out FILE] [--sizes 1000,10000] [--noise 0.05] [--seed N]

The mentor is wired as `bot.app.build_mentor` wires it, except that its retriever is an adapter
over one synthetic corpus's HybridRetriever and its question log records nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    FULL_QUERIES,
    QUICK_QUERIES,
    QUICK_REAL_TARGET,
    WARMUP_QUERIES,
    latency_ms,
    learner_questions,
    load_1min,
    log,
    parse_args,
    peak_rss_mib,
    ratio,
    run_bench,
    temp_settings,
)
from bench.corpus import (
    add_corpus_options,
    build_corpus,
    drop_corpus,
    ingest_real,
    open_client,
    size_label,
    sizes_of,
    warm_embedder,
)
from bot.core.mentor import DEFAULT_ABSTAIN_THRESHOLD, MentorService
from bot.core.models import SearchHit
from bot.retrieval.hybrid import HybridRetriever

NAME = "answer"
FULL_SIZES = (1_000, 10_000)
QUICK_SIZES = (1_000,)
FULL_ROUNDS = 2
TARGET_ANSWER_P95_MS = {10_000: 120.0}


class HybridRetrieverAdapter:
    """The `Retriever` port over one HybridRetriever, run in a worker thread like KnowledgeIndex does."""

    def __init__(self, retriever: HybridRetriever) -> None:
        self.retriever = retriever

    async def search(
        self, query: str, k: int = 5, stage: str | None = None, boost_stage: str | None = None
    ) -> list[SearchHit]:
        return await asyncio.to_thread(self.retriever.search, query, k, stage, boost_stage)


class NullQuestionLog:
    """A `QuestionLog` that keeps nothing, so the database is not part of the measurement."""

    async def record(
        self,
        *,
        asked_at: datetime,
        learner_key: str | None,
        platform: str,
        question: str,
        abstained: bool,
        top_score: float | None,
        scores: Sequence[float],
        cited_chunks: Sequence[str],
        mode: str,
    ) -> int:
        return 0

    async def set_feedback(self, question_id: int, value: int, at: datetime) -> bool:
        return False


def utc_now() -> datetime:
    return datetime.now(UTC)


async def measure(
    mentor: MentorService,
    adapter: HybridRetrieverAdapter,
    questions: list[str],
    warmups: list[str],
    rounds: int,
) -> dict[str, Any]:
    """Per-question latency of a full answer and of the search it starts with, alternating order."""
    for q in warmups:
        await mentor.answer(q)
        await adapter.search(q, k=mentor.k)
    answer_s: list[float] = []
    search_s: list[float] = []
    by_mode: dict[str, list[float]] = {}
    modes: Counter[str] = Counter()
    for r in range(rounds):
        for i, q in enumerate(questions):
            for step in ("answer", "search") if (i + r) % 2 == 0 else ("search", "answer"):
                started = time.perf_counter()
                if step == "answer":
                    answer = await mentor.answer(q, platform="bench")
                    elapsed = time.perf_counter() - started
                    answer_s.append(elapsed)
                    by_mode.setdefault(answer.mode, []).append(elapsed)
                    modes[answer.mode] += 1
                else:
                    await adapter.search(q, k=mentor.k)
                    search_s.append(time.perf_counter() - started)
    answer_stats = latency_ms(answer_s)
    search_stats = latency_ms(search_s)
    return {
        "answer": answer_stats,
        "answer_by_mode": {mode: latency_ms(s) for mode, s in sorted(by_mode.items())},
        "search_alone": search_stats,
        "answer_over_search_p50": ratio(answer_stats["p50_ms"], search_stats["p50_ms"]),
        "answer_minus_search_p50_ms": round(answer_stats["p50_ms"] - search_stats["p50_ms"], 2),
        "modes": dict(sorted(modes.items())),
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sizes_of(args, FULL_SIZES, QUICK_SIZES)
    n_queries = QUICK_QUERIES if args.quick else FULL_QUERIES
    rounds = 1 if args.quick else FULL_ROUNDS
    questions = learner_questions(n_queries)
    warmups = learner_questions(WARMUP_QUERIES, skip=FULL_QUERIES)
    targets = [str(QUICK_REAL_TARGET)] if args.quick else None
    results: dict[str, Any] = {}
    with temp_settings(NAME) as settings:
        embedder, load_seconds = warm_embedder(settings)
        client = open_client(settings)
        log(NAME, f"model loaded in {load_seconds:.2f} s; ingesting the real corpus")
        real = ingest_real(settings, client, embedder, targets)
        log(NAME, f"real corpus: {len(real.chunks)} chunks in {real.ingest_seconds:.1f} s")
        for size in sizes:
            label = size_label(size)
            built = build_corpus(client, embedder, real, size, args.seed, args.noise)
            took = built.timings["total_seconds"]
            log(NAME, f"{label}: built in {took:.1f} s; {len(questions)} questions x {rounds}")
            adapter = HybridRetrieverAdapter(built.retriever)
            mentor = MentorService(
                retriever=adapter,
                log=NullQuestionLog(),
                clock=utc_now,
                chat_model=None,
                k=settings.search_k,
                abstain_threshold=DEFAULT_ABSTAIN_THRESHOLD,
            )
            load = load_1min()
            stats = asyncio.run(measure(mentor, adapter, questions, warmups, rounds))
            target = TARGET_ANSWER_P95_MS.get(size)
            results[label] = {
                "chunks": size,
                "build": built.timings,
                **stats,
                "target_answer_p95_ms": target,
                "meets_target": (stats["answer"]["p95_ms"] <= target) if target is not None else None,
                "load_1min_before": load,
                "load_1min_after": load_1min(),
            }
            log(
                NAME,
                f"{label}: answer p50/p95 {stats['answer']['p50_ms']}/{stats['answer']['p95_ms']} ms, "
                f"search {stats['search_alone']['p50_ms']}/{stats['search_alone']['p95_ms']} ms, "
                f"modes {stats['modes']}",
            )
            drop_corpus(client, built)
    return {
        "real_corpus": {
            "target": targets[0] if targets else "knowledge/ (bundled)",
            "chunks": len(real.chunks),
            "ingest_seconds": round(real.ingest_seconds, 3),
        },
        "model_load_seconds": round(load_seconds, 3),
        "queries": len(questions),
        "rounds": rounds,
        "k": settings.search_k,
        "abstain_threshold": DEFAULT_ABSTAIN_THRESHOLD,
        "noise": args.noise,
        "seed": args.seed,
        "sizes": results,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    run_bench(NAME, bench, parse_args(__doc__ or NAME, add_corpus_options))


if __name__ == "__main__":
    main()
