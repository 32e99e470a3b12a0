"""Run every benchmark in its own process and collect their JSON into bench/results/latest.json.

python -m bench.run_all [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, emit, log, machine_info
from bot.config import REPO_ROOT

BENCHES = ("ingest", "search", "answer", "practice", "mastery", "grading")
TIMEOUT_SECONDS = 30 * 60


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """`python -m bench.<name>`; its stderr streams through, its stdout is the JSON result."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if quick else [])]
    log("run_all", f"running {' '.join(command[1:])}")
    try:
        proc = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {TIMEOUT_SECONDS} s"}
    if proc.returncode != 0:
        return {"error": f"exit code {proc.returncode}", "stdout_tail": proc.stdout[-2000:]}
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        return {"error": f"stdout is not one JSON object: {exc}", "stdout_tail": proc.stdout[-2000:]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="run each benchmark with --quick")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json", help="JSON output file")
    args = parser.parse_args()
    started = time.perf_counter()
    machine = machine_info()
    results = {name: run_one(name, args.quick) for name in BENCHES}
    failed = [name for name, result in results.items() if "error" in result]
    emit(
        {
            "mode": "quick" if args.quick else "full",
            "machine": machine,
            "results": results,
            "failed": failed,
            "seconds": round(time.perf_counter() - started, 1),
        },
        args.out,
    )
    log("run_all", f"written to {args.out}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
