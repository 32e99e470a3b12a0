"""SQL repositories for learners, identities, FSRS cards, attempts, quiz sessions and item flags."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, Label, Row, and_, case, delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.practice import (
    AlreadyAnsweredError,
    AttemptRecord,
    DailyCounts,
    FlagRow,
    ItemStats,
    NewAttempt,
    RetiredItem,
    SessionItemRecord,
    SessionRecord,
    item_statistics,
)
from bot.core.srs import CardState
from bot.storage import tables as t


class SqlLearners:
    """Learners and their platform identities."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def learner_for(self, platform: str, external_id: str, now: datetime, display_name: str | None = None) -> int:
        """The learner behind an identity, created on first contact."""
        query = select(t.identities.c.learner_id).where(
            t.identities.c.platform == platform, t.identities.c.external_id == external_id
        )
        async with self.engine.begin() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
            if found is not None:
                return int(found)
            learner_id = (
                await conn.execute(
                    insert(t.learners).returning(t.learners.c.id),
                    {"created_at": now, "display_name": display_name, "time_zone": "UTC"},
                )
            ).scalar_one()
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        insert(t.identities),
                        {"platform": platform, "external_id": external_id, "learner_id": learner_id, "created_at": now},
                    )
            except IntegrityError:  # another process created it first
                found = (await conn.execute(query)).scalar_one()
                await conn.execute(t.learners.delete().where(t.learners.c.id == learner_id))
                return int(found)
            return int(learner_id)


def _card(m: object) -> CardState:
    row = m._mapping  # type: ignore[attr-defined]
    return CardState(
        card_id=row["card_id"],
        state=row["state"],
        step=row["step"],
        stability=row["stability"],
        difficulty=row["difficulty"],
        due=row["due"],
        last_review=row["last_review"],
    )


class SqlPracticeStore:
    """Implements the core's `PracticeStore` port."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_session(self, session: SessionRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.quiz_sessions),
                {
                    "id": session.id,
                    "learner_id": session.learner_id,
                    "kind": session.kind,
                    "created_at": session.created_at,
                    "expires_at": session.expires_at,
                    "seed": session.seed,
                    "status": session.status,
                },
            )
            await conn.execute(
                insert(t.quiz_items),
                [
                    {
                        "session_id": session.id,
                        "position": i.position,
                        "item_id": i.item_id,
                        "params": json.dumps(i.params),
                        "option_order": json.dumps(list(i.option_order)),
                        "attempt_id": None,
                    }
                    for i in session.items
                ],
            )

    async def get_session(self, session_id: str) -> SessionRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.quiz_sessions).where(t.quiz_sessions.c.id == session_id))).first()
            if row is None:
                return None
            items = (
                await conn.execute(
                    select(t.quiz_items)
                    .where(t.quiz_items.c.session_id == session_id)
                    .order_by(t.quiz_items.c.position)
                )
            ).all()
        m = row._mapping
        return SessionRecord(
            id=m["id"],
            learner_id=m["learner_id"],
            kind=m["kind"],
            created_at=m["created_at"],
            expires_at=m["expires_at"],
            seed=m["seed"],
            status=m["status"],
            items=tuple(
                SessionItemRecord(
                    position=i._mapping["position"],
                    item_id=i._mapping["item_id"],
                    params={k: int(v) for k, v in json.loads(i._mapping["params"]).items()},
                    option_order=tuple(json.loads(i._mapping["option_order"])),
                    attempt_id=i._mapping["attempt_id"],
                )
                for i in items
            ),
        )

    async def close_session(self, session_id: str, status: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(t.quiz_sessions).where(t.quiz_sessions.c.id == session_id).values(status=status))

    async def open_sessions(self, learner_id: int, now: datetime) -> list[str]:
        """Ids of the learner's sessions that are open and not expired, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.quiz_sessions.c.id)
                .where(
                    t.quiz_sessions.c.learner_id == learner_id,
                    t.quiz_sessions.c.status == "open",
                    t.quiz_sessions.c.expires_at > now,
                )
                .order_by(t.quiz_sessions.c.created_at.desc())
            )
            return [r[0] for r in rows]

    async def cards(self, learner_id: int) -> list[tuple[str, CardState]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.cards).where(t.cards.c.learner_id == learner_id))).all()
        return [(r._mapping["item_id"], _card(r)) for r in rows]

    async def card(self, learner_id: int, item_id: str) -> CardState | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.cards).where(t.cards.c.learner_id == learner_id, t.cards.c.item_id == item_id)
                )
            ).first()
        return _card(row) if row is not None else None

    async def has_attempt(self, learner_id: int, item_id: str) -> bool:
        query = select(t.attempts.c.id).where(t.attempts.c.learner_id == learner_id, t.attempts.c.item_id == item_id)
        async with self.engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def seen_items(self, learner_id: int) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.attempts.c.item_id).where(t.attempts.c.learner_id == learner_id).distinct()
            )
            return {r[0] for r in rows}

    async def daily_counts(self, learner_id: int, since: datetime) -> DailyCounts:
        query = select(
            func.coalesce(func.sum(case((t.attempts.c.first_try.is_(False), 1), else_=0)), 0),
            func.coalesce(func.sum(case((t.attempts.c.first_try.is_(True), 1), else_=0)), 0),
        ).where(t.attempts.c.learner_id == learner_id, t.attempts.c.created_at >= since)
        async with self.engine.connect() as conn:
            reviews, new = (await conn.execute(query)).one()
        return DailyCounts(int(reviews), int(new))

    async def record_answer(self, attempt: NewAttempt, card: CardState | None, concept: str) -> int:
        """Insert the attempt, upsert the card and mark the session item answered, atomically."""
        async with self.engine.begin() as conn:
            attempt_id = int(
                (await conn.execute(insert(t.attempts).returning(t.attempts.c.id), vars(attempt))).scalar_one()
            )
            if attempt.session_id is not None:
                marked = await conn.execute(
                    update(t.quiz_items)
                    .where(
                        and_(
                            t.quiz_items.c.session_id == attempt.session_id,
                            t.quiz_items.c.position == attempt.position,
                            t.quiz_items.c.attempt_id.is_(None),
                        )
                    )
                    .values(attempt_id=attempt_id)
                )
                if marked.rowcount != 1:
                    raise AlreadyAnsweredError("you already answered this question in this quiz")
            if card is not None:
                await self._upsert_card(conn, attempt.learner_id, attempt.item_id, concept, card)
        return attempt_id

    @staticmethod
    async def _upsert_card(conn: AsyncConnection, learner_id: int, item_id: str, concept: str, card: CardState) -> None:
        values = {
            "card_id": card.card_id,
            "state": card.state,
            "step": card.step,
            "stability": card.stability,
            "difficulty": card.difficulty,
            "due": card.due,
            "last_review": card.last_review,
            "concept": concept,
        }
        done = await conn.execute(
            update(t.cards).where(t.cards.c.learner_id == learner_id, t.cards.c.item_id == item_id).values(**values)
        )
        if done.rowcount == 0:
            await conn.execute(insert(t.cards), {"learner_id": learner_id, "item_id": item_id, **values})

    async def attempt(self, attempt_id: int) -> AttemptRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.attempts).where(t.attempts.c.id == attempt_id))).first()
        if row is None:
            return None
        m = row._mapping
        return AttemptRecord(
            id=m["id"],
            learner_id=m["learner_id"],
            item_id=m["item_id"],
            answer=m["answer"],
            verdict=m["verdict"],
            score=m["score"],
            created_at=m["created_at"],
            counts=m["counts"],
            kind=m["kind"],
        )

    async def add_flag(
        self, item_id: str, learner_id: int, attempt_id: int | None, kind: str, reason: str, at: datetime
    ) -> int:
        async with self.engine.begin() as conn:
            return int(
                (
                    await conn.execute(
                        insert(t.item_flags).returning(t.item_flags.c.id),
                        {
                            "item_id": item_id,
                            "learner_id": learner_id,
                            "attempt_id": attempt_id,
                            "kind": kind,
                            "reason": reason,
                            "status": "open",
                            "created_at": at,
                        },
                    )
                ).scalar_one()
            )

    async def flags(self, status: str | None = "open") -> list[FlagRow]:
        query = select(t.item_flags).order_by(t.item_flags.c.created_at, t.item_flags.c.id)
        if status is not None:
            query = query.where(t.item_flags.c.status == status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_flag(r) for r in rows]

    async def flag(self, flag_id: int) -> FlagRow | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.item_flags).where(t.item_flags.c.id == flag_id))).first()
        return None if row is None else _flag(row)

    async def resolve_flag(self, flag_id: int, status: str, by: str, note: str, at: datetime) -> FlagRow | None:
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(t.item_flags)
                    .where(t.item_flags.c.id == flag_id, t.item_flags.c.status == "open")
                    .values(status=status, resolved_by=by, resolved_at=at, note=note)
                    .returning(*t.item_flags.c)
                )
            ).first()
        return None if row is None else _flag(row)

    async def retired_items(self) -> dict[str, RetiredItem]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.retired_items))).all()
        return {r.item_id: RetiredItem(**r._mapping) for r in rows}

    async def retire_item(self, item_id: str, by: str, reason: str, at: datetime) -> bool:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.retired_items),
                    {"item_id": item_id, "retired_at": at, "retired_by": by, "reason": reason},
                )
        except IntegrityError:
            return False
        return True

    async def restore_item(self, item_id: str) -> bool:
        async with self.engine.begin() as conn:
            gone = await conn.execute(delete(t.retired_items).where(t.retired_items.c.item_id == item_id))
        return bool(gone.rowcount)

    async def item_stats(self, item_ids: Sequence[str]) -> list[ItemStats]:
        """Difficulty, discrimination and flag counts for the given items (upheld disputes count as right)."""
        async with self.engine.connect() as conn:
            first = (
                await conn.execute(
                    select(t.attempts.c.learner_id, t.attempts.c.item_id, effective_score()).where(
                        t.attempts.c.first_try.is_(True), t.attempts.c.counts.is_(True)
                    )
                )
            ).all()
            flag_rows = (
                await conn.execute(
                    select(t.item_flags.c.item_id, t.item_flags.c.kind, func.count())
                    .where(t.item_flags.c.item_id.in_(list(item_ids)))
                    .group_by(t.item_flags.c.item_id, t.item_flags.c.kind)
                )
            ).all()
        flags = {(r[0], r[1]): int(r[2]) for r in flag_rows}
        return item_statistics(item_ids, ((r[0], r[1], float(r[2])) for r in first), flags)


def _upheld() -> Exists:
    """Whether the attempt in the enclosing query has an upheld dispute (ix_item_flags_attempt_id)."""
    return exists().where(
        t.item_flags.c.attempt_id == t.attempts.c.id,
        t.item_flags.c.kind == "dispute",
        t.item_flags.c.status == "upheld",
    )


def effective_verdict() -> Label[str]:
    """attempts.verdict, except "correct" where an admin upheld the learner's dispute of it."""
    return case((_upheld(), literal("correct")), else_=t.attempts.c.verdict).label("verdict")


def effective_score() -> Label[float]:
    """attempts.score, except 1.0 where an admin upheld the learner's dispute of it."""
    return case((_upheld(), literal(1.0)), else_=t.attempts.c.score).label("score")


def _flag(row: Row[Any]) -> FlagRow:
    return FlagRow(**row._mapping)  # the columns of item_flags are FlagRow's fields
