"""Simulated learners on the real practice and mastery engine (`bot.simulation`): awards and run time per policy.

    python -m bench.simulate [--quick] [--learners N] [--days D] [--policies P,Q] [--seed S] [--workers W]
                             [--out FILE] [--torch-threads N]

One run per policy (default: all five, 200 learners x 365 days; --quick: 5 x 30). Every free-text answer
the policies can write is graded once with the real MiniLM model before the runs (`prepare_seconds`);
each run's `seconds` is the simulation alone, spread over `workers` processes (default: the usable CPUs).
Guessing policies must earn no award; see bot/simulation.py for what each policy does.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench.common import KNOWLEDGE_DIR, log, parse_args, peak_rss_mib, ratio, run_bench, temp_settings, timed
from bot.app import make_embedder
from bot.core.content import load_roadmap
from bot.core.questions import load_bank
from bot.simulation import POLICIES, Simulation

NAME = "simulate"
FULL = (200, 365)
QUICK = (5, 30)


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--learners", type=int, help=f"learners per policy (default {FULL[0]}, --quick {QUICK[0]})")
    parser.add_argument("--days", type=int, help=f"days per learner (default {FULL[1]}, --quick {QUICK[1]})")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated policies (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="processes per run (default: the usable CPUs)")


def main(args: argparse.Namespace) -> dict[str, Any]:
    learners = args.learners or (QUICK if args.quick else FULL)[0]
    days = args.days or (QUICK if args.quick else FULL)[1]
    workers = args.workers or len(os.sched_getaffinity(0))
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise SystemExit(f"unknown policies {unknown}; use {', '.join(POLICIES)}")
    with temp_settings(NAME) as settings:
        embedder = make_embedder(settings)
    simulation = Simulation(load_bank([KNOWLEDGE_DIR / "questions"]), load_roadmap(KNOWLEDGE_DIR), embedder)
    _, prepare_s = timed(simulation.prepare)
    log(NAME, f"{len(simulation.grader.grades)} free-text answers graded in {prepare_s:.1f} s")
    runs: dict[str, Any] = {}
    step = max(1, learners // 10)
    for policy in policies:
        log(NAME, f"{policy}: {learners} learners x {days} days on {workers} worker(s)")

        def progress(done: int, total: int, policy: str = policy) -> None:
            if done % step == 0 or done == total:
                log(NAME, f"{policy}: {done}/{total} learners")

        result = simulation.run(policy, learners, days, args.seed, workers=workers, progress=progress)
        data = result.as_json()
        data["us_per_answer"] = ratio(result.seconds * 1e6, result.answers)
        runs[policy] = data
        log(NAME, f"{policy}: awards {data['awards']} in {result.seconds:.1f} s")
    guesser_awards = sum(sum(runs[p]["awards"].values()) for p in runs if POLICIES[p].guesser)
    return {
        "learners": learners,
        "days": days,
        "seed": args.seed,
        "workers": workers,
        "prepare_seconds": round(prepare_s, 2),
        "runs": runs,
        "guesser_awards": guesser_awards,
        "peak_rss_mib": peak_rss_mib(),
    }


if __name__ == "__main__":
    run_bench(NAME, main, parse_args(__doc__ or "simulation benchmark", _add))
