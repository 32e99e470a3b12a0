"""The question log: what learners asked, whether the mentor abstained, scores and feedback."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage import tables as t


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    asked_at: datetime
    learner_key: str | None
    platform: str
    question: str
    abstained: bool
    top_score: float | None
    scores: list[float]
    cited_chunks: list[str]
    mode: str
    feedback: int | None


class SqlQuestionLog:
    """Implements the core's `QuestionLog` port."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

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
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(t.question_log).returning(t.question_log.c.id),
                {
                    "asked_at": asked_at,
                    "learner_key": learner_key,
                    "platform": platform,
                    "question": question,
                    "abstained": abstained,
                    "top_score": top_score,
                    "scores": json.dumps([round(s, 4) for s in scores]),
                    "cited_chunks": json.dumps(list(cited_chunks)),
                    "mode": mode,
                },
            )
            return int(result.scalar_one())

    async def set_feedback(self, question_id: int, value: int, at: datetime) -> bool:
        """Record 👍 (+1) or 👎 (-1); the last vote counts. False when the id is unknown."""
        if value not in (-1, 1):
            raise ValueError("feedback is +1 (helpful) or -1 (not helpful)")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t.question_log).where(t.question_log.c.id == question_id).values(feedback=value, feedback_at=at)
            )
            return bool(result.rowcount)

    async def list(
        self, *, abstained_only: bool = False, limit: int = 50, learner_key: str | None = None
    ) -> list[LoggedQuestion]:
        query = select(t.question_log).order_by(t.question_log.c.asked_at.desc(), t.question_log.c.id.desc())
        if abstained_only:
            query = query.where(t.question_log.c.abstained.is_(True))
        if learner_key is not None:
            query = query.where(t.question_log.c.learner_key == learner_key)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        out = []
        for r in rows:
            m = dict(r._mapping)
            m.pop("feedback_at", None)
            m["scores"] = json.loads(m["scores"])
            m["cited_chunks"] = json.loads(m["cited_chunks"])
            out.append(LoggedQuestion(**m))
        return out

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete entries asked before `cutoff` (the retention setting); returns how many."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(t.question_log).where(t.question_log.c.asked_at < cutoff))
            return int(result.rowcount or 0)
