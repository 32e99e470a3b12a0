"""An in-process store implementing PracticeStore and MasteryStore (for simulations and tests; no I/O)."""

from __future__ import annotations

import copy
import itertools
from bisect import bisect_left, bisect_right, insort
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot.core.practice import (
    AlreadyAnsweredError,
    AttemptRecord,
    DailyCounts,
    FlagRow,
    ItemStats,
    NewAttempt,
    RetiredItem,
    SessionRecord,
    item_statistics,
)
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

DELIVERY_OUTCOMES = ("delivered", "unreachable", "pending")
PROFILE_FIELDS = ("display_name", "goal", "hours_per_week", "nudge_time", "track_start")


def _utc(value: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are rejected (as the SQL column type does)."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; pass a tz-aware datetime")
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _utc_card(card: CardState) -> CardState:
    if card.due.tzinfo is UTC and (card.last_review is None or card.last_review.tzinfo is UTC):
        return card
    return replace(card, due=_utc(card.due), last_review=_utc_or_none(card.last_review))


@dataclass
class _Flag:
    id: int
    item_id: str
    learner_id: int | None
    attempt_id: int | None
    kind: str
    reason: str
    status: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str = ""

    def row(self) -> FlagRow:
        return FlagRow(**vars(self))  # the same fields, frozen


@dataclass
class _LinkCode:
    learner_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class _Log:
    """One learner's attempts, sorted by (created_at, id), with indexes for the hot paths."""

    views: list[AttemptView] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)  # created_at of `views`, same order
    new_times: list[datetime] = field(default_factory=list)  # created_at of first-try attempts, sorted
    first: dict[str, int] = field(default_factory=dict)  # item id -> first attempt id
    by_concept: dict[str, list[AttemptView]] = field(default_factory=dict)  # same order as `views`

    def add(self, view: AttemptView) -> None:
        # Ids grow, so an attempt goes after every attempt with the same time: bisect_right.
        at = bisect_right(self.times, view.created_at)
        self.times.insert(at, view.created_at)
        self.views.insert(at, view)
        if view.first_try:
            insort(self.new_times, view.created_at)
        self.first.setdefault(view.item_id, view.id)
        mine = self.by_concept.setdefault(view.concept, [])
        key = (view.created_at, view.id)
        at = len(mine)
        while at and (mine[at - 1].created_at, mine[at - 1].id) > key:
            at -= 1
        mine.insert(at, view)

    @classmethod
    def of(cls, views: list[AttemptView]) -> _Log:
        log = cls()
        for view in sorted(views, key=lambda v: (v.created_at, v.id)):
            log.add(view)
        return log


class MemoryStore:
    """Learners, practice and mastery state in dictionaries, with the SQL stores' semantics.

    Methods never await, so each one is atomic under asyncio. Records handed out are frozen
    (or copies); ids increase; datetimes come back tz-aware UTC. Hot paths (record_answer,
    card, has_attempt, daily_counts, attempts, shown_since) are O(1) or O(log n + result).
    """

    def __init__(self) -> None:
        self._ids: dict[str, Iterator[int]] = {}
        self._profiles: dict[int, LearnerProfile] = {}
        self._identities: dict[tuple[str, str], int] = {}
        self._identities_of: dict[int, set[tuple[str, str]]] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._sessions_of: dict[int, list[tuple[datetime, str]]] = {}
        self._open_of: dict[int, set[str]] = {}
        self._cards: dict[int, dict[str, tuple[str, CardState]]] = {}
        self._attempts: dict[int, tuple[AttemptView, float]] = {}
        self._logs: dict[int, _Log] = {}
        self._flags: list[_Flag] = []
        self._upheld: set[int] = set()  # attempts whose dispute an admin upheld: they count as correct
        self._retired: dict[str, RetiredItem] = {}
        self._assessments: dict[str, AssessmentRecord] = {}
        self._awards: dict[int, AwardRecord] = {}
        self._award_of: dict[tuple[int, str], int] = {}
        self._milestones: dict[int, MilestoneRecord] = {}
        self._deliveries: dict[int, DeliveryRecord] = {}
        self._dedupe: dict[str, int] = {}
        self._link_codes: dict[str, _LinkCode] = {}
        self._audit: list[AuditEntry] = []
        self._questions: list[dict[str, Any]] = []

    def _next_id(self, table: str) -> int:
        return next(self._ids.setdefault(table, itertools.count(1)))

    def _require(self, learner_id: int) -> None:
        if learner_id not in self._profiles:
            raise KeyError(f"no learner {learner_id}")

    def _new_learner(self, created_at: datetime, display_name: str | None) -> int:
        learner_id = self._next_id("learners")
        self._profiles[learner_id] = LearnerProfile(
            id=learner_id, created_at=_utc(created_at), display_name=display_name
        )
        return learner_id

    # --- learners (as SqlLearners) --------------------------------------------------------

    async def learner_for(self, platform: str, external_id: str, now: datetime, display_name: str | None = None) -> int:
        """The learner behind an identity, created on first contact."""
        found = self._identities.get((platform, external_id))
        if found is not None:
            return found
        learner_id = self._new_learner(now, display_name)
        self._identities[(platform, external_id)] = learner_id
        self._identities_of.setdefault(learner_id, set()).add((platform, external_id))
        return learner_id

    async def profile(self, learner_id: int) -> LearnerProfile | None:
        return self._profiles.get(learner_id)

    async def save_profile(self, profile: LearnerProfile) -> None:
        """Update the learner's settings (created_at is kept); KeyError when it does not exist."""
        current = self._profiles.get(profile.id)
        if current is None:
            raise KeyError(f"no learner {profile.id}")
        self._profiles[profile.id] = replace(
            profile, created_at=current.created_at, track_start=_utc_or_none(profile.track_start)
        )

    async def identities(self, learner_id: int) -> list[tuple[str, str]]:
        return sorted(self._identities_of.get(learner_id, ()))

    async def learner_by_identity(self, platform: str, external_id: str) -> int | None:
        return self._identities.get((platform, external_id))

    # --- practice -------------------------------------------------------------------------

    async def create_session(self, session: SessionRecord) -> None:
        self._require(session.learner_id)
        if session.id in self._sessions:
            raise ValueError(f"duplicate session id {session.id!r}")
        session = replace(session, created_at=_utc(session.created_at), expires_at=_utc(session.expires_at))
        self._sessions[session.id] = session
        insort(self._sessions_of.setdefault(session.learner_id, []), (session.created_at, session.id))
        if session.status == "open":
            self._open_of.setdefault(session.learner_id, set()).add(session.id)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    def _set_status(self, session_id: str, status: str) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            return
        self._sessions[session_id] = replace(session, status=status)
        open_ids = self._open_of.setdefault(session.learner_id, set())
        if status == "open":
            open_ids.add(session_id)
        else:
            open_ids.discard(session_id)

    async def close_session(self, session_id: str, status: str) -> None:
        self._set_status(session_id, status)

    async def open_sessions(self, learner_id: int, now: datetime) -> list[str]:
        """Ids of the learner's sessions that are open and not expired, newest first."""
        now = _utc(now)
        live = [self._sessions[i] for i in self._open_of.get(learner_id, ()) if self._sessions[i].expires_at > now]
        return [s.id for s in sorted(live, key=lambda s: s.created_at, reverse=True)]

    async def cards(self, learner_id: int) -> list[tuple[str, CardState]]:
        return [(item_id, card) for item_id, (_, card) in self._cards.get(learner_id, {}).items()]

    async def card(self, learner_id: int, item_id: str) -> CardState | None:
        found = self._cards.get(learner_id, {}).get(item_id)
        return found[1] if found is not None else None

    async def seen_items(self, learner_id: int) -> set[str]:
        log = self._logs.get(learner_id)
        return set(log.first) if log is not None else set()

    async def has_attempt(self, learner_id: int, item_id: str) -> bool:
        log = self._logs.get(learner_id)
        return log is not None and item_id in log.first

    async def daily_counts(self, learner_id: int, since: datetime) -> DailyCounts:
        log = self._logs.get(learner_id)
        if log is None:
            return DailyCounts(0, 0)
        since = _utc(since)
        total = len(log.times) - bisect_left(log.times, since)
        new = len(log.new_times) - bisect_left(log.new_times, since)
        return DailyCounts(total - new, new)

    async def record_answer(self, attempt: NewAttempt, card: CardState | None, concept: str) -> int:
        """Insert the attempt, upsert the card and mark the session item answered, atomically."""
        self._require(attempt.learner_id)
        created_at = _utc(attempt.created_at)
        session = None
        if attempt.session_id is not None:
            session = self._sessions.get(attempt.session_id)
            slot = (
                next((i for i in session.items if i.position == attempt.position), None)
                if session is not None
                else None
            )
            if session is None or slot is None or slot.attempt_id is not None:
                raise AlreadyAnsweredError("you already answered this question in this quiz")
        attempt_id = self._next_id("attempts")
        view = AttemptView(
            id=attempt_id,
            learner_id=attempt.learner_id,
            item_id=attempt.item_id,
            concept=attempt.concept,
            kind=attempt.kind,
            session_id=attempt.session_id,
            verdict=attempt.verdict,
            counts=attempt.counts,
            first_try=attempt.first_try,
            latency_ms=attempt.latency_ms,
            created_at=created_at,
            platform=attempt.platform,
            answer=attempt.answer,
        )
        self._attempts[attempt_id] = (view, attempt.score)
        self._logs.setdefault(attempt.learner_id, _Log()).add(view)
        if session is not None:
            items = tuple(
                replace(i, attempt_id=attempt_id) if i.position == attempt.position else i for i in session.items
            )
            self._sessions[session.id] = replace(session, items=items)
        if card is not None:
            self._cards.setdefault(attempt.learner_id, {})[attempt.item_id] = (concept, _utc_card(card))
        return attempt_id

    async def attempt(self, attempt_id: int) -> AttemptRecord | None:
        found = self._attempts.get(attempt_id)
        if found is None:
            return None
        view, score = found
        return AttemptRecord(
            id=view.id,
            learner_id=view.learner_id,
            item_id=view.item_id,
            answer=view.answer,
            verdict=view.verdict,  # type: ignore[arg-type]
            score=score,
            created_at=view.created_at,
            counts=view.counts,
            kind=view.kind,
        )

    async def add_flag(
        self, item_id: str, learner_id: int, attempt_id: int | None, kind: str, reason: str, at: datetime
    ) -> int:
        self._require(learner_id)
        flag_id = self._next_id("flags")
        self._flags.append(_Flag(flag_id, item_id, learner_id, attempt_id, kind, reason, "open", _utc(at)))
        return flag_id

    async def flags(self, status: str | None = "open") -> list[FlagRow]:
        found = sorted((f for f in self._flags if status in (None, f.status)), key=lambda f: (f.created_at, f.id))
        return [f.row() for f in found]

    async def flag(self, flag_id: int) -> FlagRow | None:
        return next((f.row() for f in self._flags if f.id == flag_id), None)

    async def resolve_flag(self, flag_id: int, status: str, by: str, note: str, at: datetime) -> FlagRow | None:
        flag = next((f for f in self._flags if f.id == flag_id and f.status == "open"), None)
        if flag is None:
            return None
        flag.status, flag.resolved_by, flag.resolved_at, flag.note = status, by, _utc(at), note
        if status == "upheld" and flag.kind == "dispute" and flag.attempt_id is not None:
            self._upheld.add(flag.attempt_id)
        return flag.row()

    async def retired_items(self) -> dict[str, RetiredItem]:
        return dict(self._retired)

    async def retire_item(self, item_id: str, by: str, reason: str, at: datetime) -> bool:
        if item_id in self._retired:
            return False
        self._retired[item_id] = RetiredItem(item_id, _utc(at), by, reason)
        return True

    async def restore_item(self, item_id: str) -> bool:
        return self._retired.pop(item_id, None) is not None

    async def item_stats(self, item_ids: Sequence[str]) -> list[ItemStats]:
        """Difficulty, discrimination and flag counts for the given items (an admin report: O(attempts))."""
        first = (
            (view.learner_id, view.item_id, 1.0 if view.id in self._upheld else score)
            for view, score in self._attempts.values()
            if view.first_try and view.counts
        )
        counts: dict[tuple[str, str], int] = {}
        for f in self._flags:
            counts[(f.item_id, f.kind)] = counts.get((f.item_id, f.kind), 0) + 1
        return item_statistics(item_ids, first, counts)

    # --- the attempt log and what was shown -----------------------------------------------

    async def attempts(
        self, learner_id: int, since: datetime | None = None, concepts: Collection[str] | None = None
    ) -> list[AttemptView]:
        log = self._logs.get(learner_id)
        if log is None:
            return []
        if concepts is not None:
            picked = [v for c in set(concepts) for v in log.by_concept.get(c, ())]
            if since is not None:
                cut = _utc(since)
                picked = [v for v in picked if v.created_at >= cut]
            return self._effective(sorted(picked, key=lambda v: (v.created_at, v.id)))
        start = 0 if since is None else bisect_left(log.times, _utc(since))
        return self._effective(log.views[start:])

    def _effective(self, views: list[AttemptView]) -> list[AttemptView]:
        """The views with the verdicts that count: "correct" where an admin upheld a dispute."""
        if not self._upheld:
            return views
        return [replace(v, verdict="correct") if v.id in self._upheld else v for v in views]

    async def shown_since(self, learner_id: int, since: datetime) -> set[str]:
        sessions = self._sessions_of.get(learner_id, [])
        start = bisect_left(sessions, (_utc(since), ""))
        return {i.item_id for _, session_id in sessions[start:] for i in self._sessions[session_id].items}

    async def replace_cards(self, learner_id: int, cards: Sequence[tuple[str, str, CardState]]) -> None:
        self._require(learner_id)
        self._cards[learner_id] = {item_id: (concept, _utc_card(card)) for item_id, concept, card in cards}

    # --- assessments ----------------------------------------------------------------------

    async def create_assessment(self, session: SessionRecord, assessment: AssessmentRecord) -> None:
        if session.id != assessment.id or session.learner_id != assessment.learner_id:
            raise ValueError("the assessment and its quiz session must share id and learner")
        if assessment.id in self._assessments:
            raise ValueError(f"duplicate assessment id {assessment.id!r}")
        await self.create_session(session)
        self._assessments[assessment.id] = replace(
            assessment,
            started_at=_utc(assessment.started_at),
            deadline=_utc(assessment.deadline),
            finished_at=_utc_or_none(assessment.finished_at),
        )

    async def assessments(self, learner_id: int) -> list[AssessmentRecord]:
        mine = [a for a in self._assessments.values() if a.learner_id == learner_id]
        return sorted(mine, key=lambda a: (a.started_at, a.id))

    async def finish_assessment(
        self, assessment_id: str, status: str, right: int, total: int, finished_at: datetime
    ) -> bool:
        """Close an open assessment and its quiz session (session status "closed")."""
        found = self._assessments.get(assessment_id)
        if found is None or found.status != "open":
            return False
        self._assessments[assessment_id] = replace(
            found, status=status, right=right, total=total, finished_at=_utc(finished_at)
        )
        self._set_status(assessment_id, "closed")
        return True

    # --- awards ---------------------------------------------------------------------------

    async def awards(self, learner_id: int | None = None) -> list[AwardRecord]:
        return [a for _, a in sorted(self._awards.items()) if learner_id is None or a.learner_id == learner_id]

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
        self._require(learner_id)
        values: dict[str, Any] = {
            "awarded_at": _utc(at),
            "source": source,
            "evidence": tuple(int(i) for i in evidence),
            "granted_by": granted_by,
            "reason": reason,
            "revoked_at": None,
            "revoked_by": None,
            "revoke_reason": "",
        }
        award_id = self._award_of.get((learner_id, stage))
        if award_id is None:
            award_id = self._next_id("awards")
            self._awards[award_id] = AwardRecord(id=award_id, learner_id=learner_id, stage=stage, **values)
            self._award_of[(learner_id, stage)] = award_id
            return award_id
        if self._awards[award_id].active:
            return None
        self._awards[award_id] = replace(self._awards[award_id], **values)
        return award_id

    async def revoke_award(self, learner_id: int, stage: str, by: str, reason: str, at: datetime) -> bool:
        award_id = self._award_of.get((learner_id, stage))
        if award_id is None or not self._awards[award_id].active:
            return False
        self._awards[award_id] = replace(
            self._awards[award_id], revoked_at=_utc(at), revoked_by=by, revoke_reason=reason
        )
        return True

    # --- milestones -----------------------------------------------------------------------

    async def add_milestone(self, learner_id: int, stage: str, url: str, writeup: str, at: datetime) -> int:
        self._require(learner_id)
        milestone_id = self._next_id("milestones")
        self._milestones[milestone_id] = MilestoneRecord(milestone_id, learner_id, stage, url, writeup, _utc(at))
        return milestone_id

    async def milestones(self, status: str | None = None, learner_id: int | None = None) -> list[MilestoneRecord]:
        return [
            m
            for _, m in sorted(self._milestones.items())
            if (status is None or m.status == status) and (learner_id is None or m.learner_id == learner_id)
        ]

    async def milestone(self, milestone_id: int) -> MilestoneRecord | None:
        return self._milestones.get(milestone_id)

    async def review_milestone(
        self, milestone_id: int, approve: bool, reviewer: str, note: str, at: datetime
    ) -> MilestoneRecord | None:
        found = self._milestones.get(milestone_id)
        if found is None or found.status != "pending":
            return None
        reviewed = replace(
            found,
            status="approved" if approve else "rejected",
            reviewer=reviewer,
            review_note=note,
            reviewed_at=_utc(at),
        )
        self._milestones[milestone_id] = reviewed
        return reviewed

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
        found = self._dedupe.get(dedupe_key)
        if found is not None:
            return found
        self._require(learner_id)
        delivery_id = self._next_id("deliveries")
        self._deliveries[delivery_id] = DeliveryRecord(
            id=delivery_id,
            learner_id=learner_id,
            platform=platform,
            external_id=external_id,
            kind=kind,
            payload=copy.deepcopy(payload),
            dedupe_key=dedupe_key,
            created_at=_utc(at),
        )
        self._dedupe[dedupe_key] = delivery_id
        return delivery_id

    async def deliveries(
        self, status: str = "pending", platform: str | None = None, learner_id: int | None = None
    ) -> list[DeliveryRecord]:
        return [
            replace(d, payload=copy.deepcopy(d.payload))
            for _, d in sorted(self._deliveries.items())
            if d.status == status
            and (platform is None or d.platform == platform)
            and (learner_id is None or d.learner_id == learner_id)
        ]

    async def mark_delivery(self, delivery_id: int, status: str, at: datetime, error: str = "") -> None:
        """ "delivered" sets delivered_at; "pending" and "unreachable" are failed tries (attempts += 1)."""
        if status not in DELIVERY_OUTCOMES:
            raise ValueError(f"unknown delivery status {status!r}")
        found = self._deliveries.get(delivery_id)
        if found is None:
            return
        if status == "delivered":
            self._deliveries[delivery_id] = replace(found, status=status, delivered_at=_utc(at))
        else:
            self._deliveries[delivery_id] = replace(found, status=status, attempts=found.attempts + 1, last_error=error)

    # --- identity linking and data rights -------------------------------------------------

    async def add_link_code(self, code_hash: str, learner_id: int, expires_at: datetime, at: datetime) -> None:
        self._require(learner_id)
        if code_hash in self._link_codes:
            raise ValueError("duplicate link code")
        self._link_codes[code_hash] = _LinkCode(learner_id, _utc(at), _utc(expires_at))

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        now = _utc(now)
        code = self._link_codes.get(code_hash)
        if code is None or code.used_at is not None or code.expires_at <= now:
            return None
        code.used_at = now
        return code.learner_id

    async def merge_learners(self, keep: int, drop: int) -> None:
        """As SqlMasteryStore.merge_learners (audit entries follow; unset settings are filled)."""
        if keep == drop:
            raise ValueError("cannot merge a learner into itself")
        self._require(keep)
        self._require(drop)
        kept, dropped = self._profiles[keep], self._profiles[drop]
        fill = {f: getattr(dropped, f) for f in PROFILE_FIELDS if getattr(kept, f) is None}
        self._profiles[keep] = replace(kept, **{f: v for f, v in fill.items() if v is not None})
        self._merge_awards(keep, drop)
        for key in self._identities_of.pop(drop, set()):
            self._identities[key] = keep
            self._identities_of.setdefault(keep, set()).add(key)
        for _, session_id in self._sessions_of.pop(drop, []):
            self._sessions[session_id] = replace(self._sessions[session_id], learner_id=keep)
            insort(self._sessions_of.setdefault(keep, []), (self._sessions[session_id].created_at, session_id))
        self._open_of.setdefault(keep, set()).update(self._open_of.pop(drop, set()))
        for assessment in [a for a in self._assessments.values() if a.learner_id == drop]:
            self._assessments[assessment.id] = replace(assessment, learner_id=keep)
        self._move_attempts(drop, keep, erase=False)
        self._repoint(drop, keep)
        for milestone in [m for m in self._milestones.values() if m.learner_id == drop]:
            self._milestones[milestone.id] = replace(milestone, learner_id=keep)
        for delivery in [d for d in self._deliveries.values() if d.learner_id == drop]:
            self._deliveries[delivery.id] = replace(delivery, learner_id=keep)
        for code in self._link_codes.values():
            if code.learner_id == drop:
                code.learner_id = keep
        self._cards.pop(drop, None)
        del self._profiles[drop]

    def _merge_awards(self, keep: int, drop: int) -> None:
        for (learner_id, stage), theirs_id in list(self._award_of.items()):
            if learner_id != drop:
                continue
            theirs = self._awards[theirs_id]
            mine_id = self._award_of.get((keep, stage))
            if mine_id is not None:
                mine = self._awards[mine_id]
                theirs_wins = theirs.active and (
                    not mine.active or (theirs.awarded_at, theirs.id) < (mine.awarded_at, mine.id)
                )
                if not theirs_wins:
                    del self._awards[theirs_id], self._award_of[(drop, stage)]
                    continue
                del self._awards[mine_id]
            del self._award_of[(drop, stage)]
            self._awards[theirs_id] = replace(theirs, learner_id=keep)
            self._award_of[(keep, stage)] = theirs_id

    def _move_attempts(self, source: int, target: int, erase: bool) -> int:
        log = self._logs.pop(source, None)
        if log is None:
            return 0
        changes: dict[str, Any] = {"learner_id": target, "answer": ""} if erase else {"learner_id": target}
        moved = [replace(v, **changes) for v in log.views]
        for view in moved:
            self._attempts[view.id] = (view, self._attempts[view.id][1])
        existing = self._logs.get(target)
        self._logs[target] = _Log.of(moved + (existing.views if existing is not None else []))
        return len(moved)

    def _repoint(self, source: int, target: int | None) -> tuple[int, int]:
        """Flags and audit entries of `source` now name `target` (None: nobody); returns the counts."""
        flags = 0
        for flag in self._flags:
            if flag.learner_id == source:
                flag.learner_id = target
                flags += 1
        audit = 0
        for n, entry in enumerate(self._audit):
            if entry.learner_id == source:
                self._audit[n] = replace(entry, learner_id=target)
                audit += 1
        return flags, audit

    async def forget_learner(self, learner_id: int, learner_keys: Sequence[str]) -> dict[str, int]:
        """As SqlMasteryStore.forget_learner: same counts, audit entries kept with learner_id None."""
        counts: dict[str, int] = {"attempts_anonymised": 0}
        log = self._logs.get(learner_id)
        if log is not None and log.views:
            anonymous = self._new_learner(log.views[0].created_at, None)
            counts["attempts_anonymised"] = self._move_attempts(learner_id, anonymous, erase=True)
        session_ids = [s for _, s in self._sessions_of.pop(learner_id, [])]
        counts["assessments"] = sum(1 for s in session_ids if self._assessments.pop(s, None) is not None)
        counts["sessions"] = len(session_ids)
        for session_id in session_ids:
            del self._sessions[session_id]
        self._open_of.pop(learner_id, None)
        counts["cards"] = len(self._cards.pop(learner_id, {}))
        stages = [k for k in self._award_of if k[0] == learner_id]
        for key in stages:
            del self._awards[self._award_of.pop(key)]
        counts["awards"] = len(stages)
        gone = [m.id for m in self._milestones.values() if m.learner_id == learner_id]
        for milestone_id in gone:
            del self._milestones[milestone_id]
        counts["milestones"] = len(gone)
        gone = [d.id for d in self._deliveries.values() if d.learner_id == learner_id]
        for delivery_id in gone:
            del self._dedupe[self._deliveries.pop(delivery_id).dedupe_key]
        counts["deliveries"] = len(gone)
        codes = [c for c, code in self._link_codes.items() if code.learner_id == learner_id]
        for code_hash in codes:
            del self._link_codes[code_hash]
        counts["link_codes"] = len(codes)
        keys = self._identities_of.pop(learner_id, set())
        for identity in keys:
            del self._identities[identity]
        counts["identities"] = len(keys)
        for flag in self._flags:
            if flag.learner_id == learner_id:
                flag.reason = FORGOTTEN_REASON
        counts["flags_unlinked"], counts["audit_unlinked"] = self._repoint(learner_id, None)
        wanted = set(learner_keys)
        kept = [q for q in self._questions if q["learner_key"] not in wanted]
        counts["questions"] = len(self._questions) - len(kept)
        self._questions = kept
        counts["profile"] = 1 if self._profiles.pop(learner_id, None) is not None else 0
        return counts

    def log_question(
        self, asked_at: datetime, learner_key: str | None, question: str, abstained: bool, feedback: int | None = None
    ) -> None:
        """Record an asked question (what SqlQuestionLog.record keeps, reduced to what the port reads)."""
        self._questions.append(
            {
                "id": self._next_id("questions"),
                "asked_at": _utc(asked_at),
                "learner_key": learner_key,
                "question": question,
                "abstained": abstained,
                "feedback": feedback,
            }
        )

    async def questions_asked(self, learner_keys: Sequence[str]) -> list[dict[str, Any]]:
        """Oldest first (asked_at, id)."""
        wanted = set(learner_keys)
        found = sorted(
            (q for q in self._questions if q["learner_key"] in wanted), key=lambda q: (q["asked_at"], q["id"])
        )
        return [{k: q[k] for k in ("asked_at", "question", "abstained", "feedback")} for q in found]

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
        entry_id = self._next_id("audit")
        self._audit.append(
            AuditEntry(entry_id, _utc(at), actor, action, learner_id, stage, reason, copy.deepcopy(details or {}))
        )
        return entry_id

    async def audit_log(self, learner_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first (at, then id, descending)."""
        found = [e for e in self._audit if learner_id is None or e.learner_id == learner_id]
        found.sort(key=lambda e: (e.at, e.id), reverse=True)
        return [replace(e, details=copy.deepcopy(e.details)) for e in found[:limit]]
