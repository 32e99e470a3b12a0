"""Ingest throughput against raw model encoding of the same chunks, and the no-op re-ingest time.

    python -m bench.ingest [--quick] [--out FILE]

Both the ingest and the raw baseline run with the model already loaded (its load time is
reported on its own), on the same chunk texts and with the same encode batch size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    QUICK_INGEST_TARGET,
    load_1min,
    log,
    parse_args,
    peak_rss_mib,
    ratio,
    run_bench,
    seconds_summary,
    temp_settings,
    timed,
    timed_cpu,
)
from bench.corpus import ingest_real, open_client, warm_embedder
from bot.cli.knowledge import run_ingest
from bot.config import Settings
from bot.retrieval.embeddings import SentenceTransformerEmbedder
from ingest.chunking import embedding_text
from ingest.pipeline import EMBED_BATCH

NAME = "ingest"
TARGET_THROUGHPUT_RATIO = 0.85
TARGET_NOOP_SECONDS = 3.0
NOOP_RUNS = 3
SUBPROCESS_TIMEOUT_SECONDS = 300


def _encode_all(embedder: SentenceTransformerEmbedder, texts: list[str]) -> None:
    embedder.encode(texts)


def _encode_sliced(embedder: SentenceTransformerEmbedder, texts: list[str]) -> None:
    # The pipeline calls encode once per EMBED_BATCH chunks; the model sorts by length only
    # within a call, so this isolates the cost of slicing from the pipeline's own overhead.
    for start in range(0, len(texts), EMBED_BATCH):
        embedder.encode(texts[start : start + EMBED_BATCH])


def _noop_in_process(settings: Settings, targets: list[str] | None) -> tuple[list[float], bool]:
    """Re-ingest through `run_ingest` (what `mentor ingest` runs); True when no run changed anything."""
    seconds: list[float] = []
    clean = True
    for n in range(NOOP_RUNS):
        report, dt = timed(lambda: asyncio.run(run_ingest(settings, targets, show_progress=False)))
        seconds.append(dt)
        clean = clean and not report.switched and report.chunks_embedded == 0 and not report.errors
        log(NAME, f"no-op re-ingest (in-process) {n + 1}/{NOOP_RUNS}: {dt:.2f} s, switched={report.switched}")
    return seconds, clean


def _mentor_command() -> list[str]:
    beside = Path(sys.executable).with_name("mentor")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("mentor")
    if found:
        return [found]
    return [sys.executable, "-c", "from bot.cli.main import main; main()"]


def _noop_subprocess(settings: Settings) -> tuple[list[float], bool]:
    """Wall time of `mentor ingest --json` as a user runs it (new process, imports included)."""
    # No MENTOR_* variable of the caller leaks in (a configured database must never be touched);
    # cwd is the data dir so that no `.env` is read.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTOR_")}
    env.update(
        HF_HUB_OFFLINE="1",
        MENTOR_DATA_DIR=str(settings.data_dir),
        MENTOR_KNOWLEDGE_DIR=str(settings.knowledge_dir),
    )
    command = [*_mentor_command(), "ingest", "--json"]
    seconds: list[float] = []
    clean = True
    for n in range(NOOP_RUNS):
        started = time.perf_counter()
        proc = subprocess.run(
            command,
            cwd=settings.data_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
            check=False,
        )
        dt = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"`mentor ingest` exited {proc.returncode}: {proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)
        seconds.append(dt)
        clean = clean and not report["switched"] and report["chunks_embedded"] == 0
        log(NAME, f"no-op re-ingest (`mentor ingest`) {n + 1}/{NOOP_RUNS}: {dt:.2f} s")
    return seconds, clean


def bench(args: argparse.Namespace) -> dict[str, Any]:
    targets = [str(QUICK_INGEST_TARGET)] if args.quick else None
    with temp_settings(NAME) as settings:
        embedder, load_seconds = warm_embedder(settings, full_batch=True)
        log(NAME, f"model loaded in {load_seconds:.2f} s")
        client = open_client(settings)
        load = {"ingest": load_1min()}
        log(NAME, f"ingesting {targets[0] if targets else 'the bundled knowledge'} into {settings.data_dir}")
        real = ingest_real(settings, client, embedder, targets)
        n = len(real.chunks)
        if real.report.chunks_embedded != n:
            raise RuntimeError(f"ingest embedded {real.report.chunks_embedded} chunks but stored {n}")
        ingest_cps = n / real.ingest_seconds
        log(NAME, f"ingest: {n} chunks in {real.ingest_seconds:.2f} s ({ingest_cps:.1f} chunks/s)")

        texts = [embedding_text(c.title, c.text) for c in real.chunks]
        load["raw_encode"] = load_1min()
        _, raw_seconds, raw_cpu = timed_cpu(lambda: _encode_all(embedder, texts))
        raw_cps = n / raw_seconds
        log(NAME, f"raw encode: {raw_seconds:.2f} s ({raw_cps:.1f} chunks/s)")
        sliced: dict[str, float] | None = None
        if not args.quick:
            load["raw_encode_pipeline_slices"] = load_1min()
            _, sliced_seconds, sliced_cpu = timed_cpu(lambda: _encode_sliced(embedder, texts))
            sliced = {
                "seconds": round(sliced_seconds, 3),
                "cpu_seconds": round(sliced_cpu, 3),
                "chunks_per_s": round(n / sliced_seconds, 2),
            }
            log(NAME, f"raw encode in slices of {EMBED_BATCH}: {sliced_seconds:.2f} s")

        load["noop_reingest"] = load_1min()
        noop_in_process, clean_in_process = _noop_in_process(settings, targets)
        noop_subprocess: list[float] | None = None
        clean_subprocess = True
        if not args.quick:
            noop_subprocess, clean_subprocess = _noop_subprocess(settings)

    throughput = ratio(ingest_cps, raw_cps)
    user_noop = seconds_summary(noop_subprocess) if noop_subprocess else None
    return {
        "corpus": {
            "target": targets[0] if targets else "knowledge/ (bundled)",
            "documents": real.report.added,
            "chunks": n,
        },
        "embedding": {
            "model": embedder.model_name,
            "device": embedder.device,
            "encode_batch_size": embedder.batch_size,
            "pipeline_chunks_per_encode_call": EMBED_BATCH,
        },
        "model_load_seconds": round(load_seconds, 3),
        "ingest": {
            "seconds": round(real.ingest_seconds, 3),
            "cpu_seconds": round(real.ingest_cpu_seconds, 3),
            "chunks_per_s": round(ingest_cps, 2),
        },
        "raw_encode": {
            "seconds": round(raw_seconds, 3),
            "cpu_seconds": round(raw_cpu, 3),
            "chunks_per_s": round(raw_cps, 2),
        },
        "raw_encode_pipeline_slices": sliced,
        "throughput_ratio": throughput,
        # Same ratio on CPU seconds: less sensitive to other work on the shared machine.
        "throughput_ratio_cpu": ratio(raw_cpu, real.ingest_cpu_seconds),
        "throughput_ratio_vs_slices": ratio(ingest_cps, sliced["chunks_per_s"]) if sliced else None,
        "noop_reingest": {
            "in_process_seconds": seconds_summary(noop_in_process),
            "subprocess_seconds": user_noop,
            "all_runs_were_noops": clean_in_process and clean_subprocess,
        },
        "targets": {
            "throughput_ratio_min": TARGET_THROUGHPUT_RATIO,
            "noop_reingest_subprocess_max_seconds": TARGET_NOOP_SECONDS,
        },
        "meets_targets": {
            "throughput_ratio": throughput is not None and throughput >= TARGET_THROUGHPUT_RATIO,
            "noop_reingest_subprocess": (user_noop["median"] <= TARGET_NOOP_SECONDS) if user_noop else None,
        },
        # Sampled as each phase started: compare phases only when these are alike.
        "load_1min_at_start_of": load,
        # This process only: a child's ru_maxrss would include this process's RSS at fork time.
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    run_bench(NAME, bench, parse_args(__doc__ or NAME))


if __name__ == "__main__":
    main()
