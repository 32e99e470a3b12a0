"""Records and the store port of the mastery layer: profiles, assessments, awards, milestones,
deliveries, link codes, audit entries (platform-free; SQL in bot.storage.mastery, in-memory in
bot.memory_store)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from bot.core.practice import SessionRecord
from bot.core.srs import CardState

AssessmentKind = Literal["checkpoint", "recheck", "placement"]
ASSESSMENT_KINDS: tuple[str, ...] = ("checkpoint", "recheck", "placement")
# What a forgotten learner's report or dispute says instead of their words.
FORGOTTEN_REASON = "(erased: the learner's data was deleted)"
CAREER_GOALS: tuple[str, ...] = ("ml-engineer", "applied-scientist", "mlops-engineer", "ai-researcher")


@dataclass(frozen=True)
class LearnerProfile:
    """A learner's settings. `nudge_time` is local "HH:MM" or None (no nudges)."""

    id: int
    created_at: datetime
    display_name: str | None = None
    time_zone: str = "UTC"
    goal: str | None = None
    hours_per_week: float | None = None
    nudge_time: str | None = None
    track_start: datetime | None = None


@dataclass(frozen=True)
class AttemptView:
    """One attempt as the mastery layer reads it back from the append-only log."""

    id: int
    learner_id: int
    item_id: str
    concept: str
    kind: str
    session_id: str | None
    verdict: str
    counts: bool
    first_try: bool
    latency_ms: int
    created_at: datetime
    platform: str
    answer: str = ""


@dataclass(frozen=True)
class AssessmentRecord:
    """A checkpoint, re-check or placement; its items live in the quiz session with the same id.

    status: "open" until every item is answered or the deadline passes, then "passed"/"failed".
    """

    id: str
    learner_id: int
    kind: str
    stage: str
    started_at: datetime
    deadline: datetime
    status: str = "open"
    right: int = 0
    total: int = 0
    finished_at: datetime | None = None


@dataclass(frozen=True)
class AwardRecord:
    """A stage award. `source` is "evidence" (earned) or "admin" (granted by `granted_by`).

    `evidence` holds the attempt ids the award relied on. A revoked award keeps its row with
    `revoked_at` set; granting again reactivates it (the audit log keeps the history).
    """

    id: int
    learner_id: int
    stage: str
    awarded_at: datetime
    source: str
    evidence: tuple[int, ...] = ()
    granted_by: str | None = None
    reason: str = ""
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class MilestoneRecord:
    """A milestone submission (URL + write-up); status "pending" → "approved" / "rejected"."""

    id: int
    learner_id: int
    stage: str
    url: str
    writeup: str
    submitted_at: datetime
    status: str = "pending"
    reviewer: str | None = None
    review_note: str = ""
    reviewed_at: datetime | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """Something a front-end must carry out for a learner (e.g. grant a role, send a badge).

    `dedupe_key` is unique: queuing the same delivery twice keeps one row.
    status: "pending" → "delivered" / "unreachable" (after `attempts` failures).
    """

    id: int
    learner_id: int
    platform: str
    external_id: str
    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    created_at: datetime
    status: str = "pending"
    attempts: int = 0
    last_error: str = ""
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    learner_id: int | None
    stage: str | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


class MasteryStore(Protocol):
    """Persistence the mastery use cases need. Every method is one transaction."""

    # --- learners -------------------------------------------------------------------------
    async def profile(self, learner_id: int) -> LearnerProfile | None: ...

    async def save_profile(self, profile: LearnerProfile) -> None:
        """Update the learner row's settings (the learner must exist)."""

    async def identities(self, learner_id: int) -> list[tuple[str, str]]:
        """(platform, external_id) pairs of the learner, sorted."""

    async def learner_by_identity(self, platform: str, external_id: str) -> int | None: ...

    # --- the attempt log and what was shown -----------------------------------------------
    async def attempts(
        self, learner_id: int, since: datetime | None = None, concepts: Collection[str] | None = None
    ) -> list[AttemptView]:
        """The learner's attempts (optionally created at/after `since`, optionally only on
        `concepts`), oldest first (created_at, id)."""

    async def shown_since(self, learner_id: int, since: datetime) -> set[str]:
        """Item ids in any of the learner's quiz sessions created at/after `since` (answered or not)."""

    async def replace_cards(self, learner_id: int, cards: Sequence[tuple[str, str, CardState]]) -> None:
        """Replace all of the learner's FSRS cards with (item_id, concept, card) triples."""

    # --- assessments ----------------------------------------------------------------------
    async def create_assessment(self, session: SessionRecord, assessment: AssessmentRecord) -> None:
        """Create the quiz session and its assessment row in one transaction (same id)."""

    async def assessments(self, learner_id: int) -> list[AssessmentRecord]:
        """All of the learner's assessments, oldest first."""

    async def finish_assessment(
        self, assessment_id: str, status: str, right: int, total: int, finished_at: datetime
    ) -> bool:
        """Close an open assessment (and its quiz session); False when it was not open."""

    # --- awards ---------------------------------------------------------------------------
    async def awards(self, learner_id: int | None = None) -> list[AwardRecord]:
        """Awards (active and revoked) of one learner, or of everybody; ordered by id."""

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
        """Create the learner × stage award, or reactivate a revoked one (new time, source,
        evidence, granter, reason). Returns its id, or None when an active award already exists.
        Unique per learner × stage even under concurrent calls."""

    async def revoke_award(self, learner_id: int, stage: str, by: str, reason: str, at: datetime) -> bool:
        """Mark the active award revoked; False when there is none."""

    # --- milestones -----------------------------------------------------------------------
    async def add_milestone(self, learner_id: int, stage: str, url: str, writeup: str, at: datetime) -> int: ...

    async def milestones(self, status: str | None = None, learner_id: int | None = None) -> list[MilestoneRecord]:
        """Milestones filtered by status and/or learner, ordered by id."""

    async def milestone(self, milestone_id: int) -> MilestoneRecord | None: ...

    async def review_milestone(
        self, milestone_id: int, approve: bool, reviewer: str, note: str, at: datetime
    ) -> MilestoneRecord | None:
        """Approve/reject a pending milestone; None when it does not exist or is not pending."""

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
        """Queue a delivery; returns the existing row's id when `dedupe_key` is already queued."""

    async def deliveries(
        self, status: str = "pending", platform: str | None = None, learner_id: int | None = None
    ) -> list[DeliveryRecord]: ...

    async def mark_delivery(self, delivery_id: int, status: str, at: datetime, error: str = "") -> None:
        """Record an outcome: "delivered", "unreachable", or "pending" (a failed try: attempts += 1)."""

    # --- identity linking and data rights -------------------------------------------------
    async def add_link_code(self, code_hash: str, learner_id: int, expires_at: datetime, at: datetime) -> None: ...

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        """Consume a code (single use): the learner id that created it, or None when unknown,
        used or expired. Atomic: two concurrent uses give one winner."""

    async def merge_learners(self, keep: int, drop: int) -> None:
        """Move everything of `drop` (identities, attempts, sessions, assessments, awards,
        milestones, deliveries, flags) to `keep`, then delete `drop`. Cards are left to the caller
        (`replace_cards`). Where both hold an active award for a stage, the earlier one is kept."""

    async def forget_learner(self, learner_id: int, learner_keys: Sequence[str]) -> dict[str, int]:
        """Delete the learner's personal data: profile, identities, cards, sessions, assessments,
        awards, milestones, deliveries, link codes, and question-log rows with these learner keys.
        Attempts are kept for item statistics but moved to a fresh anonymous learner with the
        answer text erased. Returns counts of what was deleted/anonymised."""

    async def questions_asked(self, learner_keys: Sequence[str]) -> list[dict[str, Any]]:
        """Question-log rows (asked_at, question, abstained, feedback) with these learner keys."""

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
    ) -> int: ...

    async def audit_log(self, learner_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""


# --- progress (what get_progress returns; rendered by front-ends and bot.charts) ------------


@dataclass(frozen=True)
class ConceptProgress:
    concept: str
    title: str
    level: str  # one of bot.core.mastery.LEVELS
    rusty: bool
    due_reviews: int
    next_step: str  # "2 more first-try correct answers ..." / "mastered"


@dataclass(frozen=True)
class StageProgress:
    stage: str
    title: str
    concepts: tuple[ConceptProgress, ...]
    awarded: bool
    awarded_at: datetime | None
    checkpoint: str  # "locked", "available", "passed", "cooldown until 2 Dec 10:00", ...
    recheck: str
    milestone: str  # "not required", "needed", "pending review", "approved", "rejected"
    needed: tuple[str, ...]  # what is still needed for the award, one line each


@dataclass(frozen=True)
class StreakInfo:
    current: int  # consecutive local days with a learning action (freezes bridge gaps)
    longest: int
    freezes_held: int  # 0-2
    freezes_used: int
    today_done: bool


@dataclass(frozen=True)
class TrackStage:
    stage: str
    target: datetime  # target date for the stage award
    status: str  # "done", "on track", "behind", "ahead"


@dataclass(frozen=True)
class Track:
    goal: str
    hours_per_week: float
    start: datetime
    weekly_concepts: float  # concepts to reach proficient per week from now
    stages: tuple[TrackStage, ...]
    status: str  # "on track" / "behind" / "ahead" / "done"
    finish: datetime  # projected finish of the goal's stages


@dataclass(frozen=True)
class Progress:
    learner_id: int
    at: datetime
    stages: tuple[StageProgress, ...]
    due_reviews: int
    streak: StreakInfo
    track: Track | None
    open_assessment: AssessmentRecord | None
