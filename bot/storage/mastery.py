"""SQL repository for the mastery layer: profiles, assessments, awards, milestones, deliveries,
link codes, data rights (merge, forget) and the audit log."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.practice import SessionRecord
from bot.core.records import (
    FORGOTTEN_REASON,
    AssessmentRecord,
    AttemptView,
    AuditEntry,
    AwardRecord,
    DeliveryRecord,
    LearnerProfile,
    MilestoneRecord,
)
from bot.core.srs import CardState
from bot.storage import tables as t
from bot.storage.practice import effective_verdict

DELIVERY_OUTCOMES = ("delivered", "unreachable", "pending")
# Tables whose rows follow a learner through merge_learners (awards and cards are special cases).
LEARNER_TABLES: tuple[Table, ...] = (
    t.identities,
    t.quiz_sessions,
    t.assessments,
    t.attempts,
    t.item_flags,
    t.milestones,
    t.deliveries,
    t.link_codes,
)
PROFILE_FIELDS = ("display_name", "goal", "hours_per_week", "nudge_time", "track_start")


def _profile(row: Row[Any]) -> LearnerProfile:
    m = row._mapping
    return LearnerProfile(
        id=m["id"],
        created_at=m["created_at"],
        display_name=m["display_name"],
        time_zone=m["time_zone"],
        goal=m["goal"],
        hours_per_week=m["hours_per_week"],
        nudge_time=m["nudge_time"],
        track_start=m["track_start"],
    )


def _assessment(row: Row[Any]) -> AssessmentRecord:
    m = row._mapping
    return AssessmentRecord(
        id=m["id"],
        learner_id=m["learner_id"],
        kind=m["kind"],
        stage=m["stage"],
        started_at=m["started_at"],
        deadline=m["deadline"],
        status=m["status"],
        right=m["right"],
        total=m["total"],
        finished_at=m["finished_at"],
    )


def _award(row: Row[Any]) -> AwardRecord:
    m = row._mapping
    return AwardRecord(
        id=m["id"],
        learner_id=m["learner_id"],
        stage=m["stage"],
        awarded_at=m["awarded_at"],
        source=m["source"],
        evidence=tuple(int(i) for i in json.loads(m["evidence"])),
        granted_by=m["granted_by"],
        reason=m["reason"],
        revoked_at=m["revoked_at"],
        revoked_by=m["revoked_by"],
        revoke_reason=m["revoke_reason"],
    )


def _milestone(row: Row[Any]) -> MilestoneRecord:
    m = row._mapping
    return MilestoneRecord(
        id=m["id"],
        learner_id=m["learner_id"],
        stage=m["stage"],
        url=m["url"],
        writeup=m["writeup"],
        submitted_at=m["submitted_at"],
        status=m["status"],
        reviewer=m["reviewer"],
        review_note=m["review_note"],
        reviewed_at=m["reviewed_at"],
    )


def _delivery(row: Row[Any]) -> DeliveryRecord:
    m = row._mapping
    return DeliveryRecord(
        id=m["id"],
        learner_id=m["learner_id"],
        platform=m["platform"],
        external_id=m["external_id"],
        kind=m["kind"],
        payload=json.loads(m["payload"]),
        dedupe_key=m["dedupe_key"],
        created_at=m["created_at"],
        status=m["status"],
        attempts=m["attempts"],
        last_error=m["last_error"],
        delivered_at=m["delivered_at"],
    )


def _audit(row: Row[Any]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        id=m["id"],
        at=m["at"],
        actor=m["actor"],
        action=m["action"],
        learner_id=m["learner_id"],
        stage=m["stage"],
        reason=m["reason"],
        details=json.loads(m["details"]),
    )


_ATTEMPT_COLUMNS = (
    t.attempts.c.id,
    t.attempts.c.learner_id,
    t.attempts.c.item_id,
    t.attempts.c.concept,
    t.attempts.c.kind,
    t.attempts.c.session_id,
    effective_verdict(),
    t.attempts.c.counts,
    t.attempts.c.first_try,
    t.attempts.c.latency_ms,
    t.attempts.c.created_at,
    t.attempts.c.platform,
    t.attempts.c.answer,
)


async def _insert_session(conn: AsyncConnection, session: SessionRecord) -> None:
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
    if session.items:
        await conn.execute(
            insert(t.quiz_items),
            [
                {
                    "session_id": session.id,
                    "position": i.position,
                    "item_id": i.item_id,
                    "params": json.dumps(i.params),
                    "option_order": json.dumps(list(i.option_order)),
                    "attempt_id": i.attempt_id,
                }
                for i in session.items
            ],
        )


class SqlMasteryStore:
    """Implements the core's `MasteryStore` port; every method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- learners -------------------------------------------------------------------------

    async def profile(self, learner_id: int) -> LearnerProfile | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.learners).where(t.learners.c.id == learner_id))).first()
        return _profile(row) if row is not None else None

    async def save_profile(self, profile: LearnerProfile) -> None:
        """Update the learner row's settings; KeyError when the learner does not exist."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(t.learners)
                .where(t.learners.c.id == profile.id)
                .values(
                    display_name=profile.display_name,
                    time_zone=profile.time_zone,
                    goal=profile.goal,
                    hours_per_week=profile.hours_per_week,
                    nudge_time=profile.nudge_time,
                    track_start=profile.track_start,
                )
            )
            if done.rowcount != 1:
                raise KeyError(f"no learner {profile.id}")

    async def identities(self, learner_id: int) -> list[tuple[str, str]]:
        query = (
            select(t.identities.c.platform, t.identities.c.external_id)
            .where(t.identities.c.learner_id == learner_id)
            .order_by(t.identities.c.platform, t.identities.c.external_id)
        )
        async with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in await conn.execute(query)]

    async def learner_by_identity(self, platform: str, external_id: str) -> int | None:
        query = select(t.identities.c.learner_id).where(
            t.identities.c.platform == platform, t.identities.c.external_id == external_id
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        return int(found) if found is not None else None

    # --- the attempt log and what was shown -----------------------------------------------

    async def attempts(
        self, learner_id: int, since: datetime | None = None, concepts: Collection[str] | None = None
    ) -> list[AttemptView]:
        """One query on ix_attempts_learner_created; oldest first (created_at, id)."""
        query = select(*_ATTEMPT_COLUMNS).where(t.attempts.c.learner_id == learner_id)
        if since is not None:
            query = query.where(t.attempts.c.created_at >= since)
        if concepts is not None:
            query = query.where(t.attempts.c.concept.in_(list(concepts)))
        query = query.order_by(t.attempts.c.created_at, t.attempts.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AttemptView(**r._mapping) for r in rows]

    async def shown_since(self, learner_id: int, since: datetime) -> set[str]:
        query = (
            select(t.quiz_items.c.item_id)
            .join(t.quiz_sessions, t.quiz_sessions.c.id == t.quiz_items.c.session_id)
            .where(t.quiz_sessions.c.learner_id == learner_id, t.quiz_sessions.c.created_at >= since)
            .distinct()
        )
        async with self.engine.connect() as conn:
            return {r[0] for r in await conn.execute(query)}

    async def replace_cards(self, learner_id: int, cards: Sequence[tuple[str, str, CardState]]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(t.cards).where(t.cards.c.learner_id == learner_id))
            if cards:
                await conn.execute(
                    insert(t.cards),
                    [
                        {
                            "learner_id": learner_id,
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
                        for item_id, concept, card in cards
                    ],
                )

    # --- assessments ----------------------------------------------------------------------

    async def create_assessment(self, session: SessionRecord, assessment: AssessmentRecord) -> None:
        if session.id != assessment.id or session.learner_id != assessment.learner_id:
            raise ValueError("the assessment and its quiz session must share id and learner")
        async with self.engine.begin() as conn:
            await _insert_session(conn, session)
            await conn.execute(
                insert(t.assessments),
                {
                    "id": assessment.id,
                    "learner_id": assessment.learner_id,
                    "kind": assessment.kind,
                    "stage": assessment.stage,
                    "started_at": assessment.started_at,
                    "deadline": assessment.deadline,
                    "status": assessment.status,
                    "right": assessment.right,
                    "total": assessment.total,
                    "finished_at": assessment.finished_at,
                },
            )

    async def assessments(self, learner_id: int) -> list[AssessmentRecord]:
        query = (
            select(t.assessments)
            .where(t.assessments.c.learner_id == learner_id)
            .order_by(t.assessments.c.started_at, t.assessments.c.id)
        )
        async with self.engine.connect() as conn:
            return [_assessment(r) for r in await conn.execute(query)]

    async def finish_assessment(
        self, assessment_id: str, status: str, right: int, total: int, finished_at: datetime
    ) -> bool:
        """Close an open assessment and its quiz session (session status "closed")."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(t.assessments)
                .where(t.assessments.c.id == assessment_id, t.assessments.c.status == "open")
                .values(status=status, right=right, total=total, finished_at=finished_at)
            )
            if done.rowcount != 1:
                return False
            await conn.execute(
                update(t.quiz_sessions).where(t.quiz_sessions.c.id == assessment_id).values(status="closed")
            )
            return True

    # --- awards ---------------------------------------------------------------------------

    async def awards(self, learner_id: int | None = None) -> list[AwardRecord]:
        query = select(t.awards).order_by(t.awards.c.id)
        if learner_id is not None:
            query = query.where(t.awards.c.learner_id == learner_id)
        async with self.engine.connect() as conn:
            return [_award(r) for r in await conn.execute(query)]

    async def save_award(
        self,
        learner_id: int,
        stage: str,
        at: datetime,
        source: str,
        evidence: Sequence[int],
        granted_by: str | None,
        reason: str,
    ) -> int | None:
        """Insert; when the row exists (unique learner × stage), reactivate it only if revoked.

        Concurrent calls: the losing INSERT waits for the winner and fails inside its SAVEPOINT;
        the conditional UPDATE then finds an active row and the call returns None.
        """
        values = {
            "awarded_at": at,
            "source": source,
            "evidence": json.dumps([int(i) for i in evidence]),
            "granted_by": granted_by,
            "reason": reason,
            "revoked_at": None,
            "revoked_by": None,
            "revoke_reason": "",
        }
        async with self.engine.begin() as conn:
            try:
                async with conn.begin_nested():
                    return int(
                        (
                            await conn.execute(
                                insert(t.awards).returning(t.awards.c.id),
                                {"learner_id": learner_id, "stage": stage, **values},
                            )
                        ).scalar_one()
                    )
            except IntegrityError:
                found = (
                    await conn.execute(
                        select(t.awards.c.id).where(t.awards.c.learner_id == learner_id, t.awards.c.stage == stage)
                    )
                ).scalar_one_or_none()
                if found is None:  # not a duplicate: e.g. the learner does not exist
                    raise
            reactivated = (
                await conn.execute(
                    update(t.awards)
                    .where(
                        t.awards.c.learner_id == learner_id,
                        t.awards.c.stage == stage,
                        t.awards.c.revoked_at.is_not(None),
                    )
                    .values(**values)
                    .returning(t.awards.c.id)
                )
            ).scalar_one_or_none()
            return int(reactivated) if reactivated is not None else None

    async def revoke_award(self, learner_id: int, stage: str, by: str, reason: str, at: datetime) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(t.awards)
                .where(t.awards.c.learner_id == learner_id, t.awards.c.stage == stage, t.awards.c.revoked_at.is_(None))
                .values(revoked_at=at, revoked_by=by, revoke_reason=reason)
            )
            return bool(done.rowcount == 1)

    # --- milestones -----------------------------------------------------------------------

    async def add_milestone(self, learner_id: int, stage: str, url: str, writeup: str, at: datetime) -> int:
        async with self.engine.begin() as conn:
            return int(
                (
                    await conn.execute(
                        insert(t.milestones).returning(t.milestones.c.id),
                        {
                            "learner_id": learner_id,
                            "stage": stage,
                            "url": url,
                            "writeup": writeup,
                            "submitted_at": at,
                            "status": "pending",
                            "review_note": "",
                        },
                    )
                ).scalar_one()
            )

    async def milestones(self, status: str | None = None, learner_id: int | None = None) -> list[MilestoneRecord]:
        query = select(t.milestones).order_by(t.milestones.c.id)
        if status is not None:
            query = query.where(t.milestones.c.status == status)
        if learner_id is not None:
            query = query.where(t.milestones.c.learner_id == learner_id)
        async with self.engine.connect() as conn:
            return [_milestone(r) for r in await conn.execute(query)]

    async def milestone(self, milestone_id: int) -> MilestoneRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.milestones).where(t.milestones.c.id == milestone_id))).first()
        return _milestone(row) if row is not None else None

    async def review_milestone(
        self, milestone_id: int, approve: bool, reviewer: str, note: str, at: datetime
    ) -> MilestoneRecord | None:
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(t.milestones)
                    .where(t.milestones.c.id == milestone_id, t.milestones.c.status == "pending")
                    .values(
                        status="approved" if approve else "rejected",
                        reviewer=reviewer,
                        review_note=note,
                        reviewed_at=at,
                    )
                    .returning(*t.milestones.c)
                )
            ).first()
        return _milestone(row) if row is not None else None

    # --- deliveries -----------------------------------------------------------------------

    async def queue_delivery(
        self,
        learner_id: int,
        platform: str,
        external_id: str,
        kind: str,
        payload: dict[str, Any],
        dedupe_key: str,
        at: datetime,
    ) -> int:
        existing = select(t.deliveries.c.id).where(t.deliveries.c.dedupe_key == dedupe_key)
        async with self.engine.begin() as conn:
            found = (await conn.execute(existing)).scalar_one_or_none()
            if found is not None:
                return int(found)
            try:
                async with conn.begin_nested():
                    return int(
                        (
                            await conn.execute(
                                insert(t.deliveries).returning(t.deliveries.c.id),
                                {
                                    "learner_id": learner_id,
                                    "platform": platform,
                                    "external_id": external_id,
                                    "kind": kind,
                                    "payload": json.dumps(payload, sort_keys=True),
                                    "dedupe_key": dedupe_key,
                                    "created_at": at,
                                    "status": "pending",
                                    "attempts": 0,
                                    "last_error": "",
                                },
                            )
                        ).scalar_one()
                    )
            except IntegrityError:  # queued by another process in the meantime
                found = (await conn.execute(existing)).scalar_one_or_none()
                if found is None:
                    raise
                return int(found)

    async def deliveries(
        self, status: str = "pending", platform: str | None = None, learner_id: int | None = None
    ) -> list[DeliveryRecord]:
        query = select(t.deliveries).where(t.deliveries.c.status == status).order_by(t.deliveries.c.id)
        if platform is not None:
            query = query.where(t.deliveries.c.platform == platform)
        if learner_id is not None:
            query = query.where(t.deliveries.c.learner_id == learner_id)
        async with self.engine.connect() as conn:
            return [_delivery(r) for r in await conn.execute(query)]

    async def mark_delivery(self, delivery_id: int, status: str, at: datetime, error: str = "") -> None:
        """ "delivered" sets delivered_at; "pending" and "unreachable" are failed tries (attempts += 1)."""
        if status not in DELIVERY_OUTCOMES:
            raise ValueError(f"unknown delivery status {status!r}")
        values: dict[str, Any] = {"status": status}
        if status == "delivered":
            values["delivered_at"] = at
        else:
            values["attempts"] = t.deliveries.c.attempts + 1
            values["last_error"] = error
        async with self.engine.begin() as conn:
            await conn.execute(update(t.deliveries).where(t.deliveries.c.id == delivery_id).values(**values))

    # --- identity linking and data rights -------------------------------------------------

    async def add_link_code(self, code_hash: str, learner_id: int, expires_at: datetime, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.link_codes),
                {"code_hash": code_hash, "learner_id": learner_id, "created_at": at, "expires_at": expires_at},
            )

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        async with self.engine.begin() as conn:
            found = (
                await conn.execute(
                    update(t.link_codes)
                    .where(
                        t.link_codes.c.code_hash == code_hash,
                        t.link_codes.c.used_at.is_(None),
                        t.link_codes.c.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(t.link_codes.c.learner_id)
                )
            ).scalar_one_or_none()
        return int(found) if found is not None else None

    async def merge_learners(self, keep: int, drop: int) -> None:
        """Also re-points `drop`'s audit entries to `keep` and fills `keep`'s unset profile
        settings (display name, goal, hours, nudge time, track start) from `drop`."""
        if keep == drop:
            raise ValueError("cannot merge a learner into itself")
        async with self.engine.begin() as conn:
            rows = (await conn.execute(select(t.learners).where(t.learners.c.id.in_([keep, drop])))).all()
            found = {r._mapping["id"]: r._mapping for r in rows}
            if keep not in found or drop not in found:
                raise KeyError(f"no learner {keep if keep not in found else drop}")
            fill = {f: found[drop][f] for f in PROFILE_FIELDS if found[keep][f] is None and found[drop][f] is not None}
            if fill:
                await conn.execute(update(t.learners).where(t.learners.c.id == keep).values(**fill))
            await self._merge_awards(conn, keep, drop)
            for table in (*LEARNER_TABLES, t.audit_log):
                await conn.execute(update(table).where(table.c.learner_id == drop).values(learner_id=keep))
            await conn.execute(delete(t.cards).where(t.cards.c.learner_id == drop))
            await conn.execute(delete(t.learners).where(t.learners.c.id == drop))

    @staticmethod
    async def _merge_awards(conn: AsyncConnection, keep: int, drop: int) -> None:
        """Per stage held by both: the earlier active award wins (an active one beats a revoked
        one; of two revoked ones `keep`'s stays). The loser row is deleted, then `drop`'s move."""
        rows = (await conn.execute(select(t.awards).where(t.awards.c.learner_id.in_([keep, drop])))).all()
        by_stage: dict[str, dict[int, AwardRecord]] = {}
        for row in rows:
            award = _award(row)
            by_stage.setdefault(award.stage, {})[award.learner_id] = award
        losers: list[int] = []
        for held in by_stage.values():
            if keep not in held or drop not in held:
                continue
            mine, theirs = held[keep], held[drop]
            theirs_wins = theirs.active and (
                not mine.active or (theirs.awarded_at, theirs.id) < (mine.awarded_at, mine.id)
            )
            losers.append(mine.id if theirs_wins else theirs.id)
        if losers:
            await conn.execute(delete(t.awards).where(t.awards.c.id.in_(losers)))
        await conn.execute(update(t.awards).where(t.awards.c.learner_id == drop).values(learner_id=keep))

    async def forget_learner(self, learner_id: int, learner_keys: Sequence[str]) -> dict[str, int]:
        """Counts per table. The attempts move to a new anonymous learner (no name, no identities,
        created at the first attempt's time) with answers erased. Item flags lose their learner and
        the learner's words (the reason); the item and kind stay for its statistics. Audit entries
        are kept with learner_id NULL: admins stay accountable for what they did, but the entries
        no longer point at anyone."""
        counts: dict[str, int] = {}
        async with self.engine.begin() as conn:
            first = (
                await conn.execute(
                    select(func.min(t.attempts.c.created_at)).where(t.attempts.c.learner_id == learner_id)
                )
            ).scalar_one_or_none()
            anonymised = 0
            if first is not None:
                anonymous = (
                    await conn.execute(
                        insert(t.learners).returning(t.learners.c.id),
                        {"created_at": first, "display_name": None, "time_zone": "UTC"},
                    )
                ).scalar_one()
                done = await conn.execute(
                    update(t.attempts)
                    .where(t.attempts.c.learner_id == learner_id)
                    .values(learner_id=anonymous, answer="")
                )
                anonymised = done.rowcount
            counts["attempts_anonymised"] = anonymised
            for name, table in (
                ("assessments", t.assessments),
                ("sessions", t.quiz_sessions),
                ("cards", t.cards),
                ("awards", t.awards),
                ("milestones", t.milestones),
                ("deliveries", t.deliveries),
                ("link_codes", t.link_codes),
                ("identities", t.identities),
            ):
                counts[name] = (await conn.execute(delete(table).where(table.c.learner_id == learner_id))).rowcount
            counts["flags_unlinked"] = (
                await conn.execute(
                    update(t.item_flags)
                    .where(t.item_flags.c.learner_id == learner_id)
                    .values(learner_id=None, reason=FORGOTTEN_REASON)
                )
            ).rowcount
            counts["audit_unlinked"] = (
                await conn.execute(
                    update(t.audit_log).where(t.audit_log.c.learner_id == learner_id).values(learner_id=None)
                )
            ).rowcount
            counts["questions"] = (
                (
                    await conn.execute(
                        delete(t.question_log).where(t.question_log.c.learner_key.in_(list(learner_keys)))
                    )
                ).rowcount
                if learner_keys
                else 0
            )
            counts["profile"] = (await conn.execute(delete(t.learners).where(t.learners.c.id == learner_id))).rowcount
        return counts

    async def questions_asked(self, learner_keys: Sequence[str]) -> list[dict[str, Any]]:
        """Oldest first (asked_at, id)."""
        if not learner_keys:
            return []
        q = t.question_log.c
        query = (
            select(q.asked_at, q.question, q.abstained, q.feedback)
            .where(q.learner_key.in_(list(learner_keys)))
            .order_by(q.asked_at, q.id)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    # --- audit ----------------------------------------------------------------------------

    async def add_audit(
        self,
        at: datetime,
        actor: str,
        action: str,
        learner_id: int | None,
        stage: str | None,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> int:
        async with self.engine.begin() as conn:
            return int(
                (
                    await conn.execute(
                        insert(t.audit_log).returning(t.audit_log.c.id),
                        {
                            "at": at,
                            "actor": actor,
                            "action": action,
                            "learner_id": learner_id,
                            "stage": stage,
                            "reason": reason,
                            "details": json.dumps(details or {}, sort_keys=True),
                        },
                    )
                ).scalar_one()
            )

    async def audit_log(self, learner_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first (at, then id, descending)."""
        query = select(t.audit_log).order_by(t.audit_log.c.at.desc(), t.audit_log.c.id.desc()).limit(limit)
        if learner_id is not None:
            query = query.where(t.audit_log.c.learner_id == learner_id)
        async with self.engine.connect() as conn:
            return [_audit(r) for r in await conn.execute(query)]
