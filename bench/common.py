"""Benchmark plumbing: timing statistics, peak RSS, throw-away settings, machine info, JSON output."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from bot.config import BUNDLED_MODEL, REPO_ROOT, Settings

KNOWLEDGE_DIR = REPO_ROOT / "knowledge"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
EVAL_FILE = REPO_ROOT / "tests" / "data" / "retrieval_eval.yaml"
# --quick corpora: big enough to exercise every code path, small enough to embed in seconds.
QUICK_INGEST_TARGET = KNOWLEDGE_DIR / "concepts" / "classical-ml"
QUICK_REAL_TARGET = QUICK_INGEST_TARGET / "bias-variance.md"
# Learner questions timed per corpus size (the first N in-scope ones), and the warm-up questions
# run before them (the next ones, so that the timed questions meet no warm cache).
FULL_QUERIES = 40
QUICK_QUERIES = 10
WARMUP_QUERIES = 3
PACKAGES = ("torch", "sentence-transformers", "chromadb", "bm25s", "sqlalchemy", "numpy")

T = TypeVar("T")


def log(bench: str, message: str) -> None:
    """Progress goes to stderr; stdout carries only the final JSON object."""
    print(f"[bench.{bench}] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """`fn()` and its wall time in seconds (time.perf_counter)."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def timed_cpu(fn: Callable[[], T]) -> tuple[T, float, float]:
    """`fn()`, its wall seconds and the CPU seconds this process (all threads) spent meanwhile."""
    cpu = time.process_time()
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started, time.process_time() - cpu


def load_1min() -> float:
    """The 1-minute load average: above the CPU count, other work is competing with the benchmark."""
    return round(os.getloadavg()[0], 2)


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `samples`, linear interpolation between ranks."""
    if not samples:
        raise ValueError("no samples")
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


def p50(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


def p95(samples: Sequence[float]) -> float:
    return percentile(samples, 95)


def latency_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/mean/max in milliseconds of perf_counter samples given in seconds."""
    ms = [s * 1000.0 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(p50(ms), 2),
        "p95_ms": round(p95(ms), 2),
        "mean_ms": round(float(np.mean(ms)), 2),
        "max_ms": round(max(ms), 2),
    }


def seconds_summary(samples_s: Sequence[float]) -> dict[str, Any]:
    """Median and every run, in seconds."""
    return {"median": round(p50(samples_s), 3), "runs": [round(s, 3) for s in samples_s]}


def ratio(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator` to 3 decimals; None when the denominator is not positive."""
    if denominator <= 0 or not math.isfinite(numerator):
        return None
    return round(numerator / denominator, 3)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return round(kib / 1024.0, 1)


def bench_settings(data_dir: Path) -> Settings:
    """Settings for a throw-away data dir over the bundled knowledge.

    No `.env` is read and the database/Chroma URLs are forced to the embedded defaults, so a
    benchmark can never write into a configured PostgreSQL database or Chroma server.
    """
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        knowledge_dir=KNOWLEDGE_DIR,
        database_url=None,
        chroma_url=None,
        embedding_model=BUNDLED_MODEL,
    )


@contextlib.contextmanager
def temp_settings(prefix: str) -> Iterator[Settings]:
    """`bench_settings` over a fresh temporary data dir, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"mentor-bench-{prefix}-", ignore_cleanup_errors=True) as tmp:
        yield bench_settings(Path(tmp) / "data")


def _git_commit() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if dirty else head


def machine_info() -> dict[str, Any]:
    """What the figures were measured on; the machine is shared, so the load average matters."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "packages": versions,
    }


def learner_questions(n: int, skip: int = 0) -> list[str]:
    """`n` in-scope learner questions from the retrieval evaluation set, after the first `skip`."""
    data = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))
    questions = [str(item["q"]) for item in data["in_scope"]]
    if len(questions) < skip + n:
        raise ValueError(f"{EVAL_FILE} has {len(questions)} in-scope questions, {skip + n} needed")
    return questions[skip : skip + n]


def parse_args(
    description: str,
    add: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small corpus, few samples (for tests)")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="torch intra-op threads (default: torch's own choice, as the bot runs)",
    )
    if add is not None:
        add(parser)
    return parser.parse_args()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[int]:
    """Send everything written to fd 1 (Python or native code) to stderr; yields the real stdout fd."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield saved
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print `result` as one JSON object on stdout, and write it to `out` when given."""
    text = json.dumps(result, indent=2, allow_nan=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_bench(
    name: str,
    main: Callable[[argparse.Namespace], dict[str, Any]],
    args: argparse.Namespace,
) -> None:
    """Run `main` with stdout diverted to stderr, then emit its result with the machine info."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with stdout_to_stderr():
        import torch

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        machine = {**machine_info(), "torch_threads": torch.get_num_threads()}
        result = main(args)
    total = time.perf_counter() - started
    log(name, f"done in {total:.1f} s")
    emit(
        {
            "bench": name,
            "mode": "quick" if args.quick else "full",
            "machine": machine,
            **result,
            "bench_seconds": round(total, 2),
            "load_average_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        args.out,
    )
