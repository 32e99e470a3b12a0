"""Search latency, hybrid vs dense-only, on synthetic corpora of 1k, 10k and 100k chunks.

    python -m bench.search [--quick] [--out FILE] [--sizes 1000,10000] [--noise 0.05] [--seed N]

Latencies include the query embedding; the encode-only latency of the same queries is reported
beside them as the floor both modes share.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
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
from bot.retrieval.hybrid import HybridRetriever

NAME = "search"
FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000,)
FULL_ROUNDS = 2
K = 5
TARGET_HYBRID_P95_MS = {10_000: 40.0, 100_000: 80.0}


def measure(
    retriever: HybridRetriever,
    questions: list[str],
    warmups: list[str],
    rounds: int,
) -> dict[str, Any]:
    """Per-query latency of hybrid search, dense search and the bare query encoding.

    The three run back to back for each query, in a rotating order, so that a burst of load on
    the shared machine hits all of them alike.
    """
    modes: list[tuple[str, Callable[[str], object]]] = [
        ("hybrid", lambda q: retriever.search(q, k=K)),
        ("dense", lambda q: retriever.dense(q, K)),
        ("query_encode", retriever.embedder.encode_query),
    ]
    for q in warmups:
        for _, fn in modes:
            fn(q)
    samples: dict[str, list[float]] = {mode: [] for mode, _ in modes}
    hits = 0
    for r in range(rounds):
        for i, q in enumerate(questions):
            shift = (i + r) % len(modes)
            for mode, fn in modes[shift:] + modes[:shift]:
                started = time.perf_counter()
                result = fn(q)
                samples[mode].append(time.perf_counter() - started)
                if mode == "hybrid" and isinstance(result, list):
                    hits += len(result)
    stats = {mode: latency_ms(s) for mode, s in samples.items()}
    return {
        **stats,
        "hybrid_over_dense_p50": ratio(stats["hybrid"]["p50_ms"], stats["dense"]["p50_ms"]),
        "mean_hybrid_hits": round(hits / len(samples["hybrid"]), 2),
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
            log(NAME, f"{label}: building corpus")
            built = build_corpus(client, embedder, real, size, args.seed, args.noise)
            took = built.timings["total_seconds"]
            log(NAME, f"{label}: built in {took:.1f} s; {len(questions)} queries x {rounds}")
            load = load_1min()
            stats = measure(built.retriever, questions, warmups, rounds)
            target = TARGET_HYBRID_P95_MS.get(size)
            results[label] = {
                "chunks": size,
                "build": built.timings,
                "mean_cosine_to_source": built.mean_cosine_to_source,
                **stats,
                "target_hybrid_p95_ms": target,
                "meets_target": (stats["hybrid"]["p95_ms"] <= target) if target is not None else None,
                "peak_rss_mib_so_far": peak_rss_mib(),
                "load_1min_before": load,
                "load_1min_after": load_1min(),
            }
            log(
                NAME,
                f"{label}: hybrid p50/p95 {stats['hybrid']['p50_ms']}/{stats['hybrid']['p95_ms']} ms, "
                f"dense {stats['dense']['p50_ms']}/{stats['dense']['p95_ms']} ms, "
                f"encode {stats['query_encode']['p50_ms']}/{stats['query_encode']['p95_ms']} ms",
            )
            drop_corpus(client, built)
            del built
    return {
        "real_corpus": {
            "target": targets[0] if targets else "knowledge/ (bundled)",
            "chunks": len(real.chunks),
            "ingest_seconds": round(real.ingest_seconds, 3),
        },
        "model_load_seconds": round(load_seconds, 3),
        "queries": len(questions),
        "rounds": rounds,
        "warmup_queries": len(warmups),
        "k": K,
        "noise": args.noise,
        "seed": args.seed,
        "sizes": results,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    run_bench(NAME, bench, parse_args(__doc__ or NAME, add_corpus_options))


if __name__ == "__main__":
    main()
