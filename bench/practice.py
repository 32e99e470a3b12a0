"""`submit_answer` latency with 10,000 learners in the database (SQLite and PostgreSQL).

Usage: python -m bench.practice [--quick] [--out FILE]

The database is filled with N learners, each with an identity, 20 attempts and 20 FSRS cards,
inserted in bulk. Then, for sampled learners, a quiz is started (not timed) and one answer is
submitted (timed: session lookup, checking, FSRS review, attempt + card + session writes in one
transaction). Free text is graded by a stub here; grading has its own benchmark (bench.grading).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import latency_ms, log, parse_args, peak_rss_mib, run_bench
from bot.core.practice import FreeTextGrade, PracticeConfig, PracticeService
from bot.core.questions import FreeTextItem, McqItem, NumericItem, TrueFalseItem, evaluate_numeric, load_bank
from bot.core.srs import Srs
from bot.storage import tables as t
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade_database
from bot.storage.practice import SqlPracticeStore

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"
PG_ADMIN = os.environ.get("MENTOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


async def stub_grader(item: FreeTextItem, answer: str) -> FreeTextGrade:
    return FreeTextGrade("correct" if answer == item.reference else "incorrect", 1.0)


def learner_row(learner: int) -> dict[str, Any]:
    """A `learners` row with default settings (no goal, no weekly hours)."""
    return {"id": learner, "created_at": T0, "time_zone": "UTC"}


def identity_row(learner: int) -> dict[str, Any]:
    return {"platform": "bench", "external_id": str(learner), "learner_id": learner, "created_at": T0}


def attempt_row(learner: int, item_id: str, concept: str, when: datetime, **changes: Any) -> dict[str, Any]:
    """An `attempts` row: a right first-try learn answer unless `changes` say otherwise."""
    return {
        "learner_id": learner,
        "item_id": item_id,
        "concept": concept,
        "session_id": None,
        "position": None,
        "kind": "learn",
        "answer": "A",
        "verdict": "correct",
        "score": 1.0,
        "rating": 3,
        "latency_ms": 9000,
        "first_try": True,
        "counts": True,
        "platform": "bench",
        "created_at": when,
        **changes,
    }


async def fill_learners(url: str, learners: int, bank_ids: list[tuple[str, str]]) -> None:
    """Learners 1..`learners`, each with an identity, 20 attempts and 20 review cards (seeded, bulk)."""
    engine = create_engine(url)
    rng = random.Random(1)
    async with engine.begin() as conn:
        await conn.execute(t.learners.insert(), [learner_row(i) for i in range(1, learners + 1)])
        await conn.execute(t.identities.insert(), [identity_row(i) for i in range(1, learners + 1)])
        batch_a: list[dict[str, Any]] = []
        batch_c: list[dict[str, Any]] = []
        for learner in range(1, learners + 1):
            for item_id, concept in rng.sample(bank_ids, 20):
                when = T0 - timedelta(days=rng.randint(1, 60))
                batch_a.append(attempt_row(learner, item_id, concept, when))
                batch_c.append(
                    {
                        "learner_id": learner,
                        "item_id": item_id,
                        "card_id": rng.randrange(2**31),
                        "state": 2,
                        "step": None,
                        "stability": 5.0,
                        "difficulty": 5.0,
                        "due": when + timedelta(days=rng.randint(1, 90)),
                        "last_review": when,
                        "concept": concept,
                    }
                )
            if len(batch_a) >= 20_000:
                await conn.execute(t.attempts.insert(), batch_a)
                await conn.execute(t.cards.insert(), batch_c)
                batch_a, batch_c = [], []
        if batch_a:
            await conn.execute(t.attempts.insert(), batch_a)
            await conn.execute(t.cards.insert(), batch_c)
    await engine.dispose()


def _right(item: Any, rec: Any) -> str:
    if isinstance(item, McqItem):
        return "ABCD"[rec.option_order.index(item.answer)]
    if isinstance(item, TrueFalseItem):
        return "true" if item.answer else "false"
    if isinstance(item, NumericItem):
        return repr(evaluate_numeric(item, rec.params))
    return str(item.reference)


async def _measure(url: str, learners: int, samples: int) -> dict[str, Any]:
    bank = load_bank([KNOWLEDGE / "questions"])
    started = time.perf_counter()
    await fill_learners(url, learners, [(i.id, i.concept) for i in bank.items])
    fill_s = time.perf_counter() - started
    engine = create_engine(url)
    clock_now = [T0]
    service = PracticeService(
        bank=bank,
        store=SqlPracticeStore(engine),
        srs=Srs(),
        grade_free_text=stub_grader,
        clock=lambda: clock_now[0],
        rng=random.Random(3),
        config=PracticeConfig(daily_new_cap=50),
    )
    rng = random.Random(2)
    times: list[float] = []
    for n in range(samples + 5):
        learner = rng.randint(1, learners)
        quiz = await service.start_quiz(learner, "learn", 1)
        record = await service.store.get_session(quiz.id)
        assert record is not None
        answer = _right(bank.item(record.items[0].item_id), record.items[0])
        began = time.perf_counter()
        await service.submit_answer(learner, quiz.id, 0, answer, latency_ms=8000, platform="bench")
        if n >= 5:  # warm-up
            times.append(time.perf_counter() - began)
    await engine.dispose()
    return {"learners": learners, "fill_seconds": round(fill_s, 1), "submit_answer": latency_ms(times)}


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def on_both_databases(bench: str, what: str, measure: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """`measure(url)` on a fresh migrated SQLite file, then on a fresh PostgreSQL database; both deleted after.

    Returns {"sqlite": ..., "postgresql": ...}; when PostgreSQL is unreachable its entry is {"skipped": why}.
    """
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"mentor-bench-{bench}-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade_database(url)
        log(bench, f"SQLite: {what}")
        result["sqlite"] = measure(url)
    name = f"mentor_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # PostgreSQL absent: report it, keep the SQLite figures
        result["postgresql"] = {"skipped": f"PostgreSQL unavailable: {exc}"}
    else:
        try:
            url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
            upgrade_database(url)
            log(bench, f"PostgreSQL: {what}")
            result["postgresql"] = measure(url)
        finally:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return result


def main(args: argparse.Namespace) -> dict[str, Any]:
    learners = 500 if args.quick else 10_000
    samples = 30 if args.quick else 300
    result: dict[str, Any] = {"target": {"submit_answer_p95_ms_sqlite": 20}}
    result.update(
        on_both_databases("practice", f"{learners} learners", lambda url: asyncio.run(_measure(url, learners, samples)))
    )
    result["peak_rss_mib"] = peak_rss_mib()
    return result


if __name__ == "__main__":
    run_bench("practice", main, parse_args(__doc__ or "practice benchmark"))
