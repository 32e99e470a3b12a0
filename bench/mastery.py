"""`get_progress` latency with 10,000 learners in the database (SQLite and PostgreSQL), and chart rendering.

Usage: python -m bench.mastery [--quick] [--out FILE] [--profile]

The database is filled in bulk: N - M learners as in bench.practice (an identity, 20 attempts and
20 FSRS cards each), and M "active" learners with a realistic history: a profile with a goal and
weekly hours (so the track is planned), a few hundred practice attempts over several concepts in
teaching order on 45-120 days, FSRS cards replayed from those attempts, and a checkpoint, re-check
(and then the stage award) or failed placement with their quiz sessions and answers. Fixed clock,
seeded RNG.

Timed, for each active learner once (shuffled): `MasteryService.get_progress` (every query and the
mastery, streak and track computation) and, interleaved with it, the baseline `store.attempts(learner)`
(the largest single query get_progress makes). Then `render_progress_chart` of the SQLite Progress
values to an in-memory PNG. --profile then adds, per database, where get_progress spends its time
(store calls by method, its computation alone with the store answered from memory) and logs a
cProfile of it to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import io
import json
import pstats
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select

from bench.common import latency_ms, log, parse_args, peak_rss_mib, ratio, run_bench
from bench.practice import (
    KNOWLEDGE,
    T0,
    attempt_row,
    fill_learners,
    identity_row,
    learner_row,
    on_both_databases,
    stub_grader,
)
from bot.charts import render_progress_chart
from bot.core.assessments import AssessmentRules, assessable, session_length
from bot.core.content import STAGE_CONCEPTS, load_roadmap
from bot.core.practice import EXPECTED_SECONDS, TEACHING_ORDER, PracticeService, card_id_for
from bot.core.progress import MasteryService
from bot.core.questions import Item, QuestionBank, load_bank
from bot.core.records import CAREER_GOALS, Progress
from bot.core.srs import CardState, Srs, new_card, rating_for
from bot.storage import tables as t
from bot.storage.db import create_engine
from bot.storage.mastery import SqlMasteryStore
from bot.storage.practice import SqlPracticeStore
from ingest.sources import concept_titles

NAME = "mastery"
TARGET_GET_PROGRESS_P95_MS = 50.0
TARGET_CHART_P95_MS = 300.0
WARMUP = 3
CHART_WARMUP = 1
TIME_ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
FIRST_STAGE = next(iter(STAGE_CONCEPTS))
BATCH = 20_000
# Tables the active learners' rows go to, parents first.
TABLES = ("learners", "identities", "quiz_sessions", "quiz_items", "assessments", "attempts", "cards", "awards")
Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class _Sitting:
    """A planned assessment; `right` holds the positions answered right."""

    id: str
    kind: str
    stage: str
    start: datetime
    items: tuple[Item, ...]
    right: frozenset[int]


def _practice_times(rng: random.Random, start: datetime, n: int) -> list[datetime]:
    """`n` answer times, oldest first: one sitting (45 s an answer) on ~60% of the days from `start` to yesterday."""
    days = (T0 - start).days
    active = [d for d in range(days) if rng.random() < 0.6] or [days - 1]
    begins = {d: start + timedelta(days=d, hours=rng.randint(6, 21)) for d in active}
    answered: Counter[int] = Counter()
    times = []
    for i in range(n):
        day = active[i * len(active) // n]
        times.append(begins[day] + timedelta(seconds=45 * answered[day]))
        answered[day] += 1
    return times


def _sittings(
    learner: int, rng: random.Random, by_concept: Mapping[str, list[Item]], reached_at: datetime | None
) -> list[_Sitting]:
    """A checkpoint (and often a re-check) once the first stage was reached, else sometimes a placement."""
    rules = AssessmentRules()
    pool = [i for c in STAGE_CONCEPTS[FIRST_STAGE] for i in by_concept[c] if assessable(i)]

    def sitting(n: int, kind: str, start: datetime, right: int) -> _Sitting:
        total = rules.spec(kind).items
        items = tuple(rng.sample(pool, total))
        return _Sitting(
            f"bench-{learner}-{n}", kind, FIRST_STAGE, start, items, frozenset(rng.sample(range(total), right))
        )

    if reached_at is None:
        if rng.random() < 0.3:
            return [sitting(0, "placement", T0 - timedelta(days=rng.randint(2, 20)), rng.randint(12, 20))]
        return []
    checkpoint_at = reached_at + timedelta(days=1, hours=2)
    passed = rng.random() < 0.6
    out = [sitting(0, "checkpoint", checkpoint_at, 18 if passed else rng.randint(11, 16))]
    recheck_at = checkpoint_at + timedelta(days=4)
    if passed and recheck_at < T0 - timedelta(hours=2) and rng.random() < 0.7:
        out.append(sitting(1, "recheck", recheck_at, rng.randint(17, 20)))
    return out


def _practise(
    rng: random.Random, items: list[Item], seen: Collection[str], tries: int
) -> tuple[Item, str, int, dict[str, Any]]:
    """One practice answer on a concept's `items`: mostly a new item; right more often with practice."""
    unseen = [i for i in items if i.id not in seen]
    item = rng.choice(unseen if unseen and rng.random() < 0.7 else items)
    p_right = min(0.95, 0.45 + 0.07 * tries)
    roll = rng.random()
    verdict = "correct" if roll < p_right else "incorrect"
    if item.type == "free_text" and p_right <= roll < p_right + 0.1:
        verdict = "partial"
    latency = int(EXPECTED_SECONDS[item.type] * rng.uniform(0.3, 2.5) * 1000)
    return item, verdict, latency, {"kind": "review" if item.id in seen else "learn"}


def _history(learner: int, rng: random.Random, by_concept: Mapping[str, list[Item]], srs: Srs, rows: Rows) -> None:
    """One active learner: profile, practice in teaching order, assessments, cards replayed through FSRS."""
    start = T0 - timedelta(days=rng.randint(45, 120))
    n = rng.randint(200, 400)
    reached = rng.randint(5, 20)  # concepts in teaching order the learner has got to
    times = _practice_times(rng, start, n)
    first_stage = len(STAGE_CONCEPTS[FIRST_STAGE])
    sittings = _sittings(learner, rng, by_concept, times[n * first_stage // reached] if reached > first_stage else None)
    # (when, order, practice index or (sitting, position)), answered in time order
    events: list[tuple[datetime, int, Any]] = [(when, i, i) for i, when in enumerate(times)]
    for s in sittings:
        events += [(s.start + timedelta(seconds=50 * (p + 1)), n + p, (s, p)) for p in range(len(s.items))]
    tries: Counter[str] = Counter()
    cards: dict[str, tuple[str, CardState]] = {}
    for when, _, what in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(what, int):
            frontier = what * reached // n
            concept = TEACHING_ORDER[rng.randrange(frontier) if frontier and rng.random() < 0.25 else frontier]
            item, verdict, latency, where = _practise(rng, by_concept[concept], cards, tries[concept])
        else:
            sitting, position = what
            item = sitting.items[position]
            verdict = "correct" if position in sitting.right else "incorrect"
            latency = rng.randint(20, 80) * 1000
            where = {"kind": sitting.kind, "session_id": sitting.id, "position": position}
        tries[item.concept] += 1
        rating = rating_for(verdict, latency / 1000, EXPECTED_SECONDS[item.type])  # type: ignore[arg-type]
        first_try = item.id not in cards
        _, card = cards.get(item.id, (item.concept, new_card(card_id_for(learner, item.id), when)))
        cards[item.id] = (item.concept, srs.review(card, rating, when, rng)[0])
        row = attempt_row(learner, item.id, item.concept, when, **where, verdict=verdict, latency_ms=latency)
        row.update(
            score={"correct": 1.0, "partial": 0.5}.get(verdict, 0.0),
            rating=int(rating),
            first_try=first_try,
            counts=item.type != "flashcard",
            platform=rng.choice(("discord", "telegram")),
        )
        rows["attempts"].append(row)
    _profile_rows(learner, rng, start, rows)
    _sitting_rows(learner, rng, sittings, rows)
    for item_id, (concept, card) in cards.items():
        rows["cards"].append(_card_row(learner, item_id, concept, card))


def _profile_rows(learner: int, rng: random.Random, start: datetime, rows: Rows) -> None:
    rows["learners"].append(
        learner_row(learner)
        | {
            "created_at": start,
            "display_name": f"Learner {learner}",
            "time_zone": rng.choice(TIME_ZONES),
            "goal": rng.choice(CAREER_GOALS),
            "hours_per_week": float(rng.choice((3, 5, 6, 8, 10, 12))),
            "nudge_time": "19:00",
            "track_start": start,
        },
    )
    rows["identities"].append(identity_row(learner))


def _sitting_rows(learner: int, rng: random.Random, sittings: list[_Sitting], rows: Rows) -> None:
    rules = AssessmentRules()
    for s in sittings:
        passed = len(s.right) >= rules.spec(s.kind).pass_right
        finished = s.start + timedelta(seconds=50 * len(s.items))
        deadline = s.start + session_length(s.items)
        rows["quiz_sessions"].append(
            {
                "id": s.id,
                "learner_id": learner,
                "kind": s.kind,
                "created_at": s.start,
                "expires_at": deadline,
                "seed": rng.randrange(2**31),
                "status": "closed",
            },
        )
        for position, item in enumerate(s.items):
            order = list(range(len(getattr(item, "options", ()))))
            rows["quiz_items"].append(
                {
                    "session_id": s.id,
                    "position": position,
                    "item_id": item.id,
                    "params": "{}",
                    "option_order": json.dumps(order),
                    "attempt_id": None,
                },
            )
        rows["assessments"].append(
            {
                "id": s.id,
                "learner_id": learner,
                "kind": s.kind,
                "stage": s.stage,
                "started_at": s.start,
                "deadline": deadline,
                "status": "passed" if passed else "failed",
                "right": len(s.right),
                "total": len(s.items),
                "finished_at": finished,
            },
        )
        if s.kind == "recheck" and passed:
            rows["awards"].append(
                {
                    "learner_id": learner,
                    "stage": s.stage,
                    "awarded_at": finished,
                    "source": "evidence",
                    "evidence": "[]",
                    "granted_by": None,
                    "reason": "",
                    "revoked_at": None,
                    "revoked_by": None,
                    "revoke_reason": "",
                },
            )


def _card_row(learner: int, item_id: str, concept: str, card: CardState) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "item_id": item_id,
        "concept": concept,
        "card_id": card.card_id,
        "state": card.state,
        "step": card.step,
        "stability": card.stability,
        "difficulty": card.difficulty,
        "due": card.due,
        "last_review": card.last_review,
    }


async def _fill(url: str, learners: int, active: int, bank: QuestionBank) -> dict[str, int]:
    """Learners 1..N-M as bench.practice fills them, N-M+1..N active; returns the row count per table."""
    await fill_learners(url, learners - active, [(i.id, i.concept) for i in bank.items])
    rng, srs = random.Random(5), Srs()
    by_concept = {c: list(bank.for_concept(c)) for c in TEACHING_ORDER}
    rows: Rows = {name: [] for name in TABLES}
    for learner in range(learners - active + 1, learners + 1):
        _history(learner, rng, by_concept, srs, rows)
    engine = create_engine(url)
    counts = {}
    async with engine.begin() as conn:
        for name, batch in rows.items():
            table = t.metadata.tables[name]
            for at in range(0, len(batch), BATCH):
                await conn.execute(table.insert(), batch[at : at + BATCH])
        for name in ("learners", "attempts", "cards", "assessments", "awards"):
            counts[name] = int(
                (await conn.execute(select(func.count()).select_from(t.metadata.tables[name]))).scalar_one()
            )
    await engine.dispose()
    return counts


def _service(engine: Any, bank: QuestionBank) -> MasteryService:
    practice = PracticeService(
        bank=bank,
        store=SqlPracticeStore(engine),
        srs=Srs(),
        grade_free_text=stub_grader,
        clock=lambda: T0,
        rng=random.Random(3),
    )
    return MasteryService(
        practice=practice,
        store=SqlMasteryStore(engine),
        roadmap=load_roadmap(KNOWLEDGE),
        clock=lambda: T0,
        rng=random.Random(4),
        concept_titles=concept_titles(KNOWLEDGE),
    )


def _shape(progresses: list[Progress]) -> dict[str, Any]:
    """What the measured Progress values hold, to show the history is not trivial."""
    levels = Counter(c.level for p in progresses for s in p.stages for c in s.concepts)
    return {
        "levels": dict(sorted(levels.items())),
        "rusty_concepts": sum(c.rusty for p in progresses for s in p.stages for c in s.concepts),
        "tracks_planned": sum(p.track is not None for p in progresses),
        "awarded_stages": sum(s.awarded for p in progresses for s in p.stages),
        "due_reviews_median": statistics.median(p.due_reviews for p in progresses),
        "streak_median_days": statistics.median(p.streak.current for p in progresses),
    }


async def _measure(
    url: str, learners: int, active: int, *, profile: bool, keep: list[Progress] | None
) -> dict[str, Any]:
    bank = load_bank([KNOWLEDGE / "questions"])
    started = time.perf_counter()
    rows = await _fill(url, learners, active, bank)
    fill_s = time.perf_counter() - started
    log(NAME, f"filled in {fill_s:.1f} s: {rows}")
    engine = create_engine(url)
    statements = [0]
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    service = _service(engine, bank)
    measured = list(range(learners - active + 1, learners + 1))
    random.Random(2).shuffle(measured)
    for learner in range(1, WARMUP + 1):  # learners with the short history: none is measured
        await service.get_progress(learner)
        await service.store.attempts(learner)
    progress_s: list[float] = []
    baseline_s: list[float] = []
    queries: list[int] = []
    sizes: list[int] = []
    progresses: list[Progress] = []
    for learner in measured:
        before = statements[0]
        began = time.perf_counter()
        progresses.append(await service.get_progress(learner))
        progress_s.append(time.perf_counter() - began)
        queries.append(statements[0] - before)
        began = time.perf_counter()
        sizes.append(len(await service.store.attempts(learner)))
        baseline_s.append(time.perf_counter() - began)
    breakdown = await _profile(service, measured) if profile else None
    await engine.dispose()
    if keep is not None:
        keep.extend(progresses)
    progress = latency_ms(progress_s)
    baseline = latency_ms(baseline_s)
    result = {
        "learners": learners,
        "active_learners": active,
        "rows": rows,
        "fill_seconds": round(fill_s, 2),
        "attempts_per_measured_learner": {"median": statistics.median(sizes), "max": max(sizes)},
        "queries_per_get_progress": {"median": statistics.median(queries), "max": max(queries)},
        "get_progress": progress,
        "attempts_baseline": baseline,
        "get_progress_over_attempts_p50": ratio(progress["p50_ms"], baseline["p50_ms"]),
        "get_progress_p95_within_target": progress["p95_ms"] <= TARGET_GET_PROGRESS_P95_MS,
        "progress_shape": _shape(progresses),
    }
    return result | ({"profile": breakdown} if breakdown else {})


class _TracedStore:
    """Wraps a store for --profile: wall time per call of each async method; with `cache`, repeated
    calls are answered from memory (get_progress then measures its own computation only)."""

    def __init__(self, inner: Any, spent: defaultdict[str, list[float]], cache: dict[str, Any] | None = None) -> None:
        self._inner, self._spent, self._cache = inner, spent, cache

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(method):
            return method

        async def traced(*args: Any, **kwargs: Any) -> Any:
            key = repr((name, args, sorted(kwargs.items())))
            if self._cache is not None and key in self._cache:
                return self._cache[key]
            began = time.perf_counter()
            found = await method(*args, **kwargs)
            self._spent[name].append(time.perf_counter() - began)
            if self._cache is not None:
                self._cache[key] = found
            return found

        return traced


async def _profile(service: MasteryService, learners: list[int]) -> dict[str, Any]:
    """Where get_progress spends its time: store calls by method, computation alone, and a cProfile."""

    def traced(spent: defaultdict[str, list[float]], cache: dict[str, Any] | None = None) -> MasteryService:
        store = _TracedStore(service.store, spent, cache)
        practice = replace(service.practice, store=_TracedStore(service.practice.store, spent, cache))
        return replace(service, store=store, practice=practice)

    spent: defaultdict[str, list[float]] = defaultdict(list)
    counted = traced(spent)
    for learner in learners:
        await counted.get_progress(learner)
    cached = traced(defaultdict(list), {})
    compute_s = []
    for learner in learners:
        await cached.get_progress(learner)  # fills the cache
        began = time.perf_counter()
        await cached.get_progress(learner)
        compute_s.append(time.perf_counter() - began)
    profiler = cProfile.Profile()
    profiler.enable()
    for learner in learners:
        await service.get_progress(learner)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    log(NAME, "cProfile of get_progress, by own time:\n" + out.getvalue())
    n = len(learners)
    by_method = sorted(spent.items(), key=lambda kv: -sum(kv[1]))
    return {
        "store_calls_per_get_progress": {
            name: {
                "calls": round(len(times) / n, 1),
                "ms": round(sum(times) / n * 1000, 2),
                "ms_each": round(statistics.mean(times) * 1000, 2),
            }
            for name, times in by_method
        },
        "computation_alone": latency_ms(compute_s),
    }


def _charts(progresses: list[Progress], samples: int) -> dict[str, Any]:
    """render_progress_chart to an in-memory PNG: `CHART_WARMUP` untimed renders, then `samples` timed."""
    times: list[float] = []
    sizes: list[int] = []
    for n, progress in enumerate(progresses[: samples + CHART_WARMUP]):
        png = io.BytesIO()
        began = time.perf_counter()
        render_progress_chart(progress, png)
        if n >= CHART_WARMUP:
            times.append(time.perf_counter() - began)
            sizes.append(len(png.getvalue()))
    stats = latency_ms(times)
    return {
        "render": stats,
        "png_bytes_median": statistics.median(sizes),
        "p95_within_target": stats["p95_ms"] <= TARGET_CHART_P95_MS,
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    learners = 300 if args.quick else 10_000
    active = 5 if args.quick else 300
    chart_samples = 2 if args.quick else 50
    result: dict[str, Any] = {
        "targets": {"get_progress_p95_ms": TARGET_GET_PROGRESS_P95_MS, "chart_p95_ms": TARGET_CHART_P95_MS}
    }
    kept: list[Progress] = []

    def measure(url: str) -> dict[str, Any]:
        # Charts are rendered from the SQLite run's Progress values: rendering does not touch the database.
        keep = kept if url.startswith("sqlite") else None
        return asyncio.run(_measure(url, learners, active, profile=args.profile, keep=keep))

    result.update(on_both_databases(NAME, f"{learners} learners, {active} with a full history", measure))
    log(NAME, f"rendering {chart_samples} progress charts")
    result["chart"] = _charts(kept, chart_samples)
    result["meets_targets"] = {
        "get_progress_sqlite": result["sqlite"]["get_progress_p95_within_target"],
        "get_progress_postgresql": result["postgresql"].get("get_progress_p95_within_target"),
        "chart": result["chart"]["p95_within_target"],
    }
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def _add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", action="store_true", help="where get_progress spends its time (JSON) and a cProfile (stderr)"
    )


if __name__ == "__main__":
    run_bench(NAME, main, parse_args(__doc__ or "mastery benchmark", _add_args))
