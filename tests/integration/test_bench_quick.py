"""Each benchmark runs end to end in --quick mode and reports every figure (speed is never asserted)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 120

EXPECTED: dict[str, tuple[str, ...]] = {
    "ingest": (
        "corpus.chunks",
        "model_load_seconds",
        "ingest.seconds",
        "ingest.chunks_per_s",
        "raw_encode.seconds",
        "raw_encode.chunks_per_s",
        "throughput_ratio",
        "noop_reingest.in_process_seconds.median",
        "peak_rss_mib",
    ),
    "search": (
        "real_corpus.chunks",
        "model_load_seconds",
        "sizes.1k.build.total_seconds",
        "sizes.1k.hybrid.p50_ms",
        "sizes.1k.hybrid.p95_ms",
        "sizes.1k.dense.p50_ms",
        "sizes.1k.dense.p95_ms",
        "sizes.1k.query_encode.p50_ms",
        "peak_rss_mib",
    ),
    "answer": (
        "real_corpus.chunks",
        "sizes.1k.build.total_seconds",
        "sizes.1k.answer.p50_ms",
        "sizes.1k.answer.p95_ms",
        "sizes.1k.search_alone.p50_ms",
        "sizes.1k.search_alone.p95_ms",
        "peak_rss_mib",
    ),
    "grading": (
        "question_cached.p50_ms",
        "question_cached.p95_ms",
        "grader_only.p95_ms",
        "cold.p95_ms",
        "held_out.true_accept",
        "peak_rss_mib",
    ),
    "mastery": (
        "sqlite.learners",
        "sqlite.queries_per_get_progress.median",
        "sqlite.get_progress.p50_ms",
        "sqlite.get_progress.p95_ms",
        "sqlite.attempts_baseline.p50_ms",
        "sqlite.get_progress_over_attempts_p50",
        "chart.render.p50_ms",
        "chart.render.p95_ms",
        "peak_rss_mib",
    ),
    "practice": (
        "sqlite.learners",
        "sqlite.submit_answer.p50_ms",
        "sqlite.submit_answer.p95_ms",
        "peak_rss_mib",
    ),
}


def _at(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for key in dotted.split("."):
        assert isinstance(value, dict), f"{dotted}: {key!r} is not inside an object"
        assert key in value, f"{dotted}: no key {key!r} (have {sorted(value)})"
        value = value[key]
    return value


def _run_quick(name: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTOR_")}
    # One torch thread: on a shared 2-core machine two threads spin against other work and a
    # single query encode can take 30x longer, which would make this test's runtime erratic.
    env.update(HF_HUB_OFFLINE="1", MENTOR_DATA_DIR=str(data_dir), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_quick_benchmark_prints_one_json_object_with_positive_figures(name: str, tmp_path: Path) -> None:
    proc = _run_quick(name, tmp_path / "data")

    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["bench"] == name
    assert result["mode"] == "quick"
    assert result["machine"]["cpu_count"] >= 1
    for dotted in EXPECTED[name]:
        value = _at(result, dotted)
        assert not isinstance(value, bool), f"{dotted} = {value!r}"
        assert isinstance(value, int | float), f"{dotted} = {value!r}"
        assert math.isfinite(value), f"{dotted} = {value!r}"
        assert value > 0, f"{dotted} = {value!r}"
