"""Mastery use cases: assessments, stage awards, milestones, progress, identity linking, data rights.

Platform-free: every method returns decisions (an `AwardDecision`, a `Progress`) that the
Discord, Telegram and terminal front-ends carry out. Awards are created in exactly one place,
`try_award`, which re-checks the evidence in the attempt log every time.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import available_timezones

from bot.core.assessments import (
    RECENT_WINDOW,
    AssessmentRules,
    NotEnoughItemsError,
    select_items,
    session_length,
    time_limit_ms,
    too_fast,
)
from bot.core.content import CONCEPT_STAGE, STAGE_CONCEPTS, STAGE_IDS, Roadmap
from bot.core.mastery import LEVELS, GradedAttempt, MasteryRules, concept_mastery, what_is_needed
from bot.core.practice import (
    EXPECTED_SECONDS,
    AnswerResult,
    FlagRow,
    PracticeError,
    PracticeService,
    QuizSession,
    RetiredItem,
    card_id_for,
)
from bot.core.records import (
    ASSESSMENT_KINDS,
    CAREER_GOALS,
    AssessmentRecord,
    AttemptView,
    AwardRecord,
    ConceptProgress,
    LearnerProfile,
    MasteryStore,
    MilestoneRecord,
    Progress,
    StageProgress,
)
from bot.core.srs import CardState, new_card, rating_for
from bot.core.streaks import compute_streak, local_day
from bot.core.track import plan_track

PROFICIENT = LEVELS.index("proficient")
DELIVERY_PLATFORMS = ("discord", "telegram")
LINK_CODE_TTL = timedelta(minutes=15)
LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]{2,}$", re.IGNORECASE)


@dataclass(frozen=True)
class AwardDecision:
    """A stage role/badge to grant or remove; front-ends carry it out (deliveries are queued)."""

    learner_id: int
    stage: str
    stage_title: str
    award_id: int
    action: Literal["grant", "revoke"]
    source: str
    deliveries: tuple[int, ...] = ()


@dataclass(frozen=True)
class AssessmentResult:
    id: str
    kind: str
    stage: str
    right: int
    total: int
    pass_right: int
    passed: bool

    @property
    def message(self) -> str:
        verdict = "passed" if self.passed else "not passed"
        name = "re-check" if self.kind == "recheck" else self.kind
        return f"{name} {self.stage}: {self.right}/{self.total} right ({self.pass_right} needed): {verdict}"


@dataclass(frozen=True)
class AssessmentStart:
    session: QuizSession
    assessment: AssessmentRecord
    time_limits_ms: Mapping[int, int]  # position -> limit


@dataclass(frozen=True)
class Outcome:
    """The result of one answer plus what it changed: assessment finished, award earned."""

    result: AnswerResult
    level: str
    assessment: AssessmentResult | None = None
    award: AwardDecision | None = None
    flagged_fast: bool = False


@dataclass(frozen=True)
class _Evidence:
    ok: bool
    missing: tuple[str, ...]
    attempt_ids: tuple[int, ...]
    gate_passed_at: datetime | None  # the passed checkpoint/placement the re-check confirms


def _graded(views: Sequence[AttemptView]) -> Sequence[GradedAttempt]:
    # An AttemptView has every field that concept_mastery reads (id, item_id, concept, verdict,
    # created_at, first_try, counts) with the same meaning, so the views are passed as they are:
    # copying each into a GradedAttempt was most of the cost of an answer's mastery update.
    return cast("Sequence[GradedAttempt]", views)


def _day(at: datetime) -> str:
    return f"{at:%d %b %H:%M} UTC"


@dataclass
class MasteryService:
    """Assessments, awards and progress on top of `PracticeService` (same bank, store, clock)."""

    practice: PracticeService
    store: MasteryStore
    roadmap: Roadmap
    clock: Callable[[], datetime]
    rng: random.Random = field(default_factory=lambda: random.Random(secrets.randbits(64)))
    rules: AssessmentRules = field(default_factory=AssessmentRules)
    mastery_rules: MasteryRules = field(default_factory=MasteryRules)
    private_items: frozenset[str] = frozenset()
    concept_titles: Mapping[str, str] = field(default_factory=dict)
    rusty_below: float = 0.8
    # Stages whose award needs an approved milestone; None: as the roadmap says (capstone).
    review_stages: frozenset[str] | None = None

    def __post_init__(self) -> None:
        # Practice quizzes could show items and explanations of the stage being tested: refused
        # while an assessment runs, whichever front-end asks.
        if self.practice.quiz_gate is None:
            self.practice.quiz_gate = self.quiz_refusal

    # --- stages --------------------------------------------------------------------------

    def _stage(self, stage: str) -> Any:
        for s in self.roadmap.stages:
            if s.id == stage:
                return s
        raise PracticeError(f"unknown stage {stage!r}; stages are: {', '.join(STAGE_IDS)}")

    def requires_review(self, stage: str) -> bool:
        if self.review_stages is not None:
            self._stage(stage)
            return stage in self.review_stages
        return bool(self._stage(stage).milestone.requires_review)

    def _title(self, concept: str) -> str:
        return self.concept_titles.get(concept) or concept.replace("-", " ").capitalize()

    # --- assessments ---------------------------------------------------------------------

    async def open_assessment(self, learner_id: int) -> AssessmentRecord | None:
        """The learner's running assessment; one past its deadline is scored and closed first (a
        re-check passed that way may complete the award: its deliveries are queued)."""
        for a in await self.store.assessments(learner_id):
            if a.status != "open":
                continue
            if self.clock() >= a.deadline:
                if (await self._finish(a)).passed and a.kind == "recheck":
                    await self.try_award(learner_id, a.stage)
                continue
            return a
        return None

    async def mentor_refusal(self, learner_id: int) -> str | None:
        """Why the mentor must not answer this learner now (an assessment is running), or None."""
        return await self._assessment_refusal(learner_id, "the mentor answers questions again when it is finished.")

    async def quiz_refusal(self, learner_id: int) -> str | None:
        """Why this learner may not start a practice quiz now (an assessment is running), or None."""
        return await self._assessment_refusal(learner_id, "finish it (or let it run out) before practising.")

    async def _assessment_refusal(self, learner_id: int, then: str) -> str | None:
        open_ = await self.open_assessment(learner_id)
        if open_ is None:
            return None
        return f"You have a {open_.kind} for {open_.stage} running until {_day(open_.deadline)}: {then}"

    async def _facts(
        self, learner_id: int, concepts: Collection[str] | None = None, *, all_attempts: bool = False
    ) -> _Facts:
        """One read of what the award rules look at (attempts only of `concepts`, or all)."""
        views: Sequence[AttemptView] = ()
        if all_attempts:
            views = await self.store.attempts(learner_id)
        elif concepts is not None:
            views = await self.store.attempts(learner_id, concepts=concepts)
        return _Facts(
            tuple(await self.store.awards(learner_id)),
            tuple(await self.store.assessments(learner_id)),
            tuple(await self.store.milestones(None, learner_id)),
            views,
            _graded(views),
        )

    async def availability(self, learner_id: int, kind: str, stage: str) -> str | None:
        """None when the learner may start this assessment now, else the reason (shown as is)."""
        self._stage(stage)
        return self._availability(await self._facts(learner_id, STAGE_CONCEPTS[stage]), kind, stage)

    def _availability(self, facts: _Facts, kind: str, stage: str) -> str | None:
        spec = self.rules.spec(kind)
        now = self.clock()
        if any(a.stage == stage and a.active for a in facts.awards):
            return f"you already hold the {stage} award"
        mine = [a for a in facts.assessments if a.stage == stage]
        if any(a.status == "open" and a.deadline > now for a in mine):
            return "finish your open assessment first"
        same = [a for a in mine if a.kind == kind]
        if same and now - same[-1].started_at < spec.cooldown:
            name = "re-check" if kind == "recheck" else kind
            return f"you can take the next {name} for {stage} after {_day(same[-1].started_at + spec.cooldown)}"
        counted = self._counted(facts, stage)
        gate = self._gate_pass(counted)
        recheck_passed = gate is not None and any(
            a.kind == "recheck" and a.status == "passed" and a.started_at >= gate.finished_at_or_start for a in counted
        )
        if kind in ("checkpoint", "placement") and gate is not None:
            return f"you already passed the {gate.record.kind} for {stage}" + (
                "" if recheck_passed else "; the re-check comes next"
            )
        if kind == "checkpoint":
            behind = [
                c
                for c in STAGE_CONCEPTS[stage]
                if concept_mastery(c, facts.graded, self.mastery_rules).rank < PROFICIENT
            ]
            if behind:
                return (
                    f"the checkpoint opens when every concept of {stage} is proficient; still to go: "
                    + ", ".join(self._title(c) for c in behind)
                    + " (or take the placement to test out)"
                )
        if kind == "recheck":
            if gate is None:
                return f"pass the checkpoint (or placement) for {stage} first"
            if recheck_passed:
                return f"you already passed the re-check for {stage}"
            opens = gate.finished_at_or_start + spec.opens_after
            if now < opens:
                return f"the re-check for {stage} opens on {_day(opens)}"
        return None

    @staticmethod
    def _counted(facts: _Facts, stage: str) -> list[AssessmentRecord]:
        """The stage's assessments that can still count toward its award, oldest first.

        After an admin revoked the award, only assessments started since the revocation count: the
        award is earned again with a new gate and re-check, not from the evidence that was revoked.
        """
        revoked = [a.revoked_at for a in facts.awards if a.stage == stage and a.revoked_at]
        mine = [a for a in facts.assessments if a.stage == stage]
        return [a for a in mine if a.started_at >= max(revoked)] if revoked else mine

    def _gate_pass(self, mine: Sequence[AssessmentRecord]) -> _Gate | None:
        passes = [a for a in mine if a.kind in ("checkpoint", "placement") and a.status == "passed"]
        if not passes:
            return None
        first = passes[0]
        return _Gate(first, first.finished_at or first.started_at)

    async def start_assessment(self, learner_id: int, kind: str, stage: str) -> AssessmentStart:
        """Open a checkpoint, re-check or placement (see AssessmentRules).

        Raises:
            PracticeError: not available now (the message says why and when).
        """
        if kind not in ASSESSMENT_KINDS:
            raise PracticeError(f"unknown assessment {kind!r}; use one of {', '.join(ASSESSMENT_KINDS)}")
        if await self.open_assessment(learner_id) is not None:
            raise PracticeError("finish your open assessment first")
        self._stage(stage)
        facts = await self._facts(learner_id, STAGE_CONCEPTS[stage])
        reason = self._availability(facts, kind, stage)
        if reason:
            raise PracticeError(reason)
        spec = self.rules.spec(kind)
        now = self.clock()
        exclude = await self.store.shown_since(learner_id, now - RECENT_WINDOW)
        exclude |= set(await self.practice.store.retired_items())
        if kind == "recheck":
            gate = self._gate_pass(self._counted(facts, stage))
            if gate is not None:
                gate_session = await self.practice.store.get_session(gate.record.id)
                if gate_session is not None:
                    exclude |= {r.item_id for r in gate_session.items}
        try:
            item_ids = select_items(self.practice.bank, stage, spec.items, exclude, self.rng, self.private_items)
        except NotEnoughItemsError as exc:
            raise PracticeError(f"{exc}; practise other material and try again in a few days") from exc
        items = [self.practice.bank.item(i) for i in item_ids]
        session = self.practice.build_session(learner_id, kind, item_ids, now, session_length(items))
        record = AssessmentRecord(session.id, learner_id, kind, stage, now, session.expires_at)
        await self.store.create_assessment(session, record)
        limits = {r.position: time_limit_ms(self.practice.bank.item(r.item_id)) for r in session.items}
        return AssessmentStart(self.practice.deliver(session), record, limits)

    async def _finish(self, a: AssessmentRecord) -> AssessmentResult:
        spec = self.rules.spec(a.kind)
        right = await self._count_right(a)
        ok = right >= spec.pass_right
        await self.store.finish_assessment(a.id, "passed" if ok else "failed", right, spec.items, self.clock())
        return AssessmentResult(a.id, a.kind, a.stage, right, spec.items, spec.pass_right, ok)

    async def _count_right(self, a: AssessmentRecord, views: Sequence[AttemptView] | None = None) -> int:
        if views is None:
            views = await self.store.attempts(a.learner_id, since=a.started_at)
        return sum(1 for v in views if v.session_id == a.id and v.verdict == "correct")

    # --- answering -----------------------------------------------------------------------

    async def answer(
        self, learner_id: int, session_id: str, position: int, answer: str, *, latency_ms: int, platform: str
    ) -> Outcome:
        """Grade an answer in any session (quiz or assessment) and apply what follows from it."""
        session = await self.practice.store.get_session(session_id)
        kind = session.kind if session is not None and session.learner_id == learner_id else "learn"
        assessment = kind in ASSESSMENT_KINDS
        limit: int | None = None
        rec = None
        if assessment and session is not None:
            rec = next((r for r in session.items if r.position == position), None)
            if rec is not None:
                limit = time_limit_ms(self.practice.bank.item(rec.item_id))
        result = await self.practice.submit_answer(
            learner_id, session_id, position, answer, latency_ms=latency_ms, platform=platform, time_limit_ms=limit
        )
        assert session is not None  # submit_answer raised otherwise
        item = self.practice.bank.item(next(r.item_id for r in session.items if r.position == position))
        flagged = False
        if assessment and not result.duplicate and too_fast(item, latency_ms):
            flagged = True
            await self.practice.store.add_flag(
                item.id,
                learner_id,
                result.attempt_id,
                "fast",
                f"{kind} answer after {latency_ms} ms",
                self.clock(),
            )
        level = concept_mastery(
            item.concept, _graded(await self.store.attempts(learner_id, concepts=(item.concept,))), self.mastery_rules
        ).level
        finished: AssessmentResult | None = None
        if assessment and not result.duplicate:
            done = sum(
                1 for v in await self.store.attempts(learner_id, since=session.created_at) if v.session_id == session_id
            )
            if done >= len(session.items):
                record = next((a for a in await self.store.assessments(learner_id) if a.id == session_id), None)
                if record is not None and record.status == "open":
                    finished = await self._finish(record)
        # An award can only follow a passed re-check; skip the evidence check otherwise.
        award = None
        stage = CONCEPT_STAGE.get(item.concept)
        if stage is not None and (finished is None or finished.passed):
            rechecked = any(
                a.stage == stage and a.kind == "recheck" and a.status == "passed"
                for a in await self.store.assessments(learner_id)
            )
            if rechecked:
                award = await self.try_award(learner_id, stage)
        return Outcome(result, level, finished, award, flagged)

    # --- awards --------------------------------------------------------------------------

    def _evidence(self, facts: _Facts, stage: str) -> _Evidence:
        """What the attempt log proves for `stage` (`facts` must hold every attempt on its concepts)."""
        missing: list[str] = []
        ids: list[int] = []
        graded = facts.graded
        views = facts.views
        for concept in STAGE_CONCEPTS[stage]:
            m = concept_mastery(concept, graded, self.mastery_rules)
            if m.rank < PROFICIENT:
                missing.append(f"{self._title(concept)}: {what_is_needed(m, self.mastery_rules)}")
            ids.extend(m.evidence)
        by_session: dict[str, list[AttemptView]] = defaultdict(list)
        for v in views:
            if v.session_id is not None:
                by_session[v.session_id].append(v)
        gate_at: datetime | None = None
        gate_ids: list[int] = []
        recheck_ids: list[int] = []
        for a in self._counted(facts, stage):  # oldest first
            spec = self.rules.spec(a.kind)
            answers = by_session.get(a.id, [])
            right = [v.id for v in answers if v.verdict == "correct" and v.kind == a.kind]
            if len(right) < spec.pass_right or a.status == "open":
                continue
            done_at = max(v.created_at for v in answers)
            if a.kind in ("checkpoint", "placement") and gate_at is None:
                gate_at, gate_ids = done_at, [v.id for v in answers]
            elif (
                a.kind == "recheck" and gate_at is not None and a.started_at >= gate_at + self.rules.recheck.opens_after
            ):
                recheck_ids = [v.id for v in answers]
                break
        if gate_at is None:
            missing.append("pass the checkpoint (or placement)")
        elif not recheck_ids:
            missing.append(f"pass the re-check (opens on {_day(gate_at + self.rules.recheck.opens_after)})")
        if self.requires_review(stage):
            approved = [m for m in facts.milestones if m.stage == stage and m.status == "approved"]
            if not approved:
                missing.append("milestone: submit it and have it approved by a reviewer")
        return _Evidence(not missing, tuple(missing), tuple(sorted({*ids, *gate_ids, *recheck_ids})), gate_at)

    async def try_award(self, learner_id: int, stage: str) -> AwardDecision | None:
        """Award `stage` when, and only when, the attempt log proves (a) every concept proficient,
        (b) a passed checkpoint or placement, (c) a passed re-check ≥ 3 days later, and (d) an
        approved milestone where the stage requires one. The only place evidence awards are made.
        """
        # answer() calls this after every answer once the re-check is passed: look at the awards
        # before reading the attempt log.
        if any(a.stage == stage and a.active for a in await self.store.awards(learner_id)):
            return None
        # Every attempt the evidence rests on is of this stage's concepts (assessment items included).
        facts = await self._facts(learner_id, STAGE_CONCEPTS[stage])
        evidence = self._evidence(facts, stage)
        if not evidence.ok:
            return None
        now = self.clock()
        award_id = await self.store.save_award(learner_id, stage, now, "evidence", evidence.attempt_ids, None, "")
        if award_id is None:
            return None
        await self.store.add_audit(
            now, "system", "award", learner_id, stage, "mastery evidence", {"attempts": len(evidence.attempt_ids)}
        )
        return await self._decision(learner_id, stage, award_id, "grant", "evidence", now)

    async def _decision(
        self, learner_id: int, stage: str, award_id: int, action: Literal["grant", "revoke"], source: str, at: datetime
    ) -> AwardDecision:
        deliveries = []
        title = self._stage(stage).title
        for platform, external_id in await self.store.identities(learner_id):
            if platform not in DELIVERY_PLATFORMS:
                continue
            key = f"{action}:{award_id}:{at.isoformat()}:{platform}:{external_id}"
            payload = {"stage": stage, "title": title, "award_id": award_id, "action": action}
            deliveries.append(
                await self.store.queue_delivery(learner_id, platform, external_id, f"award-{action}", payload, key, at)
            )
        return AwardDecision(learner_id, stage, title, award_id, action, source, tuple(deliveries))

    async def grant(self, learner_id: int, stage: str, actor: str, reason: str) -> AwardDecision:
        """An admin grants a stage (audited, reason required)."""
        self._stage(stage)
        if not reason.strip():
            raise PracticeError("a reason is required")
        if await self.store.profile(learner_id) is None:
            raise PracticeError(f"no learner {learner_id}")
        now = self.clock()
        award_id = await self.store.save_award(learner_id, stage, now, "admin", (), actor, reason.strip())
        if award_id is None:
            raise PracticeError(f"learner {learner_id} already holds {stage}")
        await self.store.add_audit(now, actor, "grant", learner_id, stage, reason.strip())
        return await self._decision(learner_id, stage, award_id, "grant", "admin", now)

    async def revoke(self, learner_id: int, stage: str, actor: str, reason: str) -> AwardDecision:
        """An admin revokes a stage award (audited, reason required)."""
        self._stage(stage)
        if not reason.strip():
            raise PracticeError("a reason is required")
        active = [a for a in await self.store.awards(learner_id) if a.stage == stage and a.active]
        now = self.clock()
        if not active or not await self.store.revoke_award(learner_id, stage, actor, reason.strip(), now):
            raise PracticeError(f"learner {learner_id} holds no {stage} award")
        await self.store.add_audit(now, actor, "revoke", learner_id, stage, reason.strip())
        return await self._decision(learner_id, stage, active[0].id, "revoke", "admin", now)

    # --- milestones ----------------------------------------------------------------------

    async def submit_milestone(self, learner_id: int, stage: str, url: str, writeup: str) -> int:
        self._stage(stage)
        url, writeup = url.strip(), writeup.strip()
        if not _URL.match(url) or len(url) > 500:
            raise PracticeError("the milestone needs a link starting with http:// or https://")
        if len(writeup) < 50:
            raise PracticeError("the write-up needs at least 50 characters: what you built, how, and what you learned")
        if len(writeup) > 5000:
            raise PracticeError("the write-up is limited to 5000 characters")
        pending = [m for m in await self.store.milestones("pending", learner_id) if m.stage == stage]
        if pending:
            raise PracticeError(f"your milestone #{pending[0].id} for {stage} is still waiting for review")
        return await self.store.add_milestone(learner_id, stage, url, writeup, self.clock())

    async def review_milestone(
        self, milestone_id: int, approve: bool, reviewer: str, note: str = ""
    ) -> tuple[MilestoneRecord, AwardDecision | None]:
        """Approve or reject a pending milestone (audited); approval may complete the award."""
        reviewed = await self.store.review_milestone(milestone_id, approve, reviewer, note.strip(), self.clock())
        if reviewed is None:
            raise PracticeError(f"milestone #{milestone_id} does not exist or was already reviewed")
        await self.store.add_audit(
            self.clock(),
            reviewer,
            "milestone-approve" if approve else "milestone-reject",
            reviewed.learner_id,
            reviewed.stage,
            note.strip(),
            {"milestone": milestone_id},
        )
        award = await self.try_award(reviewed.learner_id, reviewed.stage) if approve else None
        return reviewed, award

    # --- reports and disputes -----------------------------------------------------------

    async def resolve_flag(
        self, flag_id: int, decision: Literal["uphold", "reject", "close"], actor: str, note: str = ""
    ) -> tuple[FlagRow, AwardDecision | None]:
        """An admin resolves a learner's report or dispute (audited).

        Upholding a dispute of a practice answer makes it count as correct from then on (levels,
        item statistics; the attempt log keeps the original grade) and may complete a stage award.
        Assessment answers are final: a dispute of one can be rejected or closed, not upheld (fix
        the item, and grant the stage by hand if the learner deserves it). Upholding a report or a
        "fast" flag records the admin's agreement and changes no grade.
        """
        flag = await self.practice.store.flag(flag_id)
        if flag is None:
            raise PracticeError(f"flag #{flag_id} does not exist")
        if flag.status != "open":
            raise PracticeError(f"flag #{flag_id} was already resolved: {flag.status} by {flag.resolved_by}")
        attempt = None if flag.attempt_id is None else await self.practice.store.attempt(flag.attempt_id)
        regrade = decision == "uphold" and flag.kind == "dispute"
        if regrade and (attempt is None or attempt.kind in ASSESSMENT_KINDS):
            raise PracticeError(
                "assessment answers are final and are not regraded: reject or close the dispute; if the item is "
                "wrong, fix it, and grant the stage by hand (mentor admin grant) if the learner deserves it"
            )
        status = {"uphold": "upheld", "reject": "rejected", "close": "closed"}[decision]
        note = note.strip()[:1000]
        now = self.clock()
        resolved = await self.practice.store.resolve_flag(flag_id, status, actor, note, now)
        if resolved is None:  # resolved by someone else in the meantime
            raise PracticeError(f"flag #{flag_id} was already resolved")
        stage = self._stage_of_item(flag.item_id)
        await self.store.add_audit(
            now,
            actor,
            f"{flag.kind}-{status}",
            flag.learner_id,
            stage,
            note,
            {"flag": flag_id, "item": flag.item_id, "attempt": flag.attempt_id},
        )
        award = None
        if regrade and stage is not None and flag.learner_id is not None:
            award = await self.try_award(flag.learner_id, stage)
        return resolved, award

    async def retire_item(self, item_id: str, actor: str, reason: str) -> RetiredItem:
        """Take an item out of quizzes and assessments (audited); see `PracticeService.retire_item`."""
        retired = await self.practice.retire_item(item_id, actor, reason)
        await self.store.add_audit(
            retired.retired_at,
            actor,
            "item-retire",
            None,
            self._stage_of_item(item_id),
            retired.reason,
            {"item": item_id},
        )
        return retired

    async def restore_item(self, item_id: str, actor: str, reason: str = "") -> None:
        """Serve a retired item again (audited)."""
        await self.practice.restore_item(item_id)
        await self.store.add_audit(
            self.clock(), actor, "item-restore", None, self._stage_of_item(item_id), reason.strip(), {"item": item_id}
        )

    def _stage_of_item(self, item_id: str) -> str | None:
        """The stage an item tests; None for an item no longer in the bank."""
        try:
            return CONCEPT_STAGE.get(self.practice.bank.item(item_id).concept)
        except KeyError:
            return None

    # --- settings ------------------------------------------------------------------------

    async def update_settings(
        self,
        learner_id: int,
        *,
        goal: str | None = None,
        hours_per_week: float | None = None,
        time_zone: str | None = None,
        nudge_time: str | None = None,
    ) -> LearnerProfile:
        """Change some settings; validates each (the message says what is wrong)."""
        profile = await self.store.profile(learner_id)
        if profile is None:
            raise PracticeError(f"no learner {learner_id}")
        changes: dict[str, Any] = {}
        if goal is not None:
            if goal not in CAREER_GOALS:
                raise PracticeError(f"goal must be one of: {', '.join(CAREER_GOALS)}")
            changes["goal"] = goal
            if goal != profile.goal:
                changes["track_start"] = self.clock()
        if hours_per_week is not None:
            if not 0 < hours_per_week <= 80:
                raise PracticeError("hours per week must be more than 0 and at most 80")
            changes["hours_per_week"] = float(hours_per_week)
            changes.setdefault("track_start", profile.track_start or self.clock())
        if time_zone is not None:
            # Only IANA names: not 'localtime' or 'posixrules' (files that ZoneInfo would also open).
            if time_zone not in _zone_names():
                raise PracticeError(f"unknown time zone {time_zone!r}; use a name like Europe/Berlin")
            changes["time_zone"] = time_zone
        if nudge_time is not None:
            if nudge_time.lower() == "off":
                changes["nudge_time"] = None
            elif not _HHMM.fullmatch(nudge_time):
                raise PracticeError("nudge time must look like 18:30 (24-hour), or 'off'")
            else:
                changes["nudge_time"] = nudge_time
        updated = replace(profile, **changes)
        await self.store.save_profile(updated)
        return updated

    # --- progress ------------------------------------------------------------------------

    async def get_progress(self, learner_id: int) -> Progress:
        """Levels per stage and concept, due reviews, streak, the track and what is still needed."""
        now = self.clock()
        profile = await self.store.profile(learner_id)
        if profile is None:
            raise PracticeError(f"no learner {learner_id}")
        facts = await self._facts(learner_id, all_attempts=True)
        if any(a.status == "open" and a.deadline <= now for a in facts.assessments):
            await self.open_assessment(learner_id)  # score the expired assessment before it is shown
            facts = await self._facts(learner_id, all_attempts=True)
        views, graded = facts.views, facts.graded
        cards = await self.practice.store.cards(learner_id)
        awards = {a.stage: a for a in facts.awards if a.active}
        assessments = facts.assessments
        by_concept: dict[str, list[CardState]] = defaultdict(list)
        for item_id, card in cards:
            try:
                by_concept[self.practice.bank.item(item_id).concept].append(card)
            except KeyError:
                continue
        srs = self.practice.srs
        levels: dict[str, str] = {}
        stages = []
        total_due = 0
        for stage in self.roadmap.stages:
            concepts = []
            for concept in stage.concepts:
                m = concept_mastery(concept, graded, self.mastery_rules)
                levels[concept] = m.level
                mine = by_concept.get(concept, [])
                due = sum(1 for c in mine if c.due <= now)
                total_due += due
                reviewed = [c for c in mine if not c.is_new]
                rusty = (
                    bool(reviewed)
                    and m.rank >= PROFICIENT
                    and (sum(srs.retrievability(c, now) for c in reviewed) / len(reviewed) < self.rusty_below)
                )
                concepts.append(
                    ConceptProgress(
                        concept, self._title(concept), m.level, rusty, due, what_is_needed(m, self.mastery_rules)
                    )
                )
            stages.append(self._stage_progress(facts, stage.id, stage.title, concepts, awards))
        tz = profile.time_zone or "UTC"
        days = {local_day(v.created_at, tz) for v in views}
        streak = compute_streak(days, local_day(now, tz))
        track = None
        if profile.goal and profile.hours_per_week:
            track = plan_track(
                self.roadmap,
                profile.goal,
                profile.hours_per_week,
                profile.track_start or profile.created_at,
                now,
                levels,
                {s: a.awarded_at for s, a in awards.items()},
            )
        open_ = next((a for a in assessments if a.status == "open" and a.deadline > now), None)
        return Progress(learner_id, now, tuple(stages), total_due, streak, track, open_)

    def _stage_progress(
        self,
        facts: _Facts,
        stage: str,
        title: str,
        concepts: list[ConceptProgress],
        awards: Mapping[str, AwardRecord],
    ) -> StageProgress:
        award = awards.get(stage)
        gate = self._gate_pass(self._counted(facts, stage))
        if award is not None:
            checkpoint = recheck = "done"
        else:
            checkpoint = (
                f"passed ({gate.record.kind}, {gate.finished_at_or_start:%d %b})"
                if gate
                else self._availability(facts, "checkpoint", stage) or "available"
            )
            recheck = self._availability(facts, "recheck", stage) or "available"
        requires = self.requires_review(stage)
        milestone = "not required"
        if requires:
            ms = [m for m in facts.milestones if m.stage == stage]
            milestone = {"pending": "pending review", "approved": "approved", "rejected": "rejected"}.get(
                ms[-1].status if ms else "", "needed"
            )
        needed: tuple[str, ...] = ()
        if award is None:
            needed = self._evidence(facts, stage).missing
        return StageProgress(
            stage,
            title,
            tuple(concepts),
            award is not None,
            award.awarded_at if award else None,
            checkpoint,
            recheck,
            milestone,
            needed,
        )

    # --- identity linking ----------------------------------------------------------------

    async def create_link_code(self, learner_id: int) -> str:
        """A single-use code (valid 15 minutes) that another identity redeems to join this learner."""
        code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(8))
        now = self.clock()
        await self.store.add_link_code(_hash(code), learner_id, now + LINK_CODE_TTL, now)
        return code

    async def redeem_link_code(self, learner_id: int, code: str) -> int:
        """Join the learner using the code (`learner_id`) into the learner that created it.

        Everything moves to the creator; FSRS cards are rebuilt from the merged attempt log.
        Returns the surviving learner id.
        """
        cleaned = re.sub(r"[\s-]", "", code).upper()
        owner = await self.store.use_link_code(_hash(cleaned), self.clock())
        if owner is None:
            raise PracticeError("that link code is unknown, used or expired: create a new one")
        if owner == learner_id:
            return owner
        await self.store.merge_learners(owner, learner_id)
        await self.rebuild_cards(owner)
        await self.store.add_audit(self.clock(), "system", "merge", owner, None, "link code", {"merged": learner_id})
        return owner

    async def rebuild_cards(self, learner_id: int) -> int:
        """Replay the attempt log through FSRS to rebuild every card of the learner."""
        views = await self.store.attempts(learner_id)
        rng = random.Random(learner_id)
        cards: dict[str, tuple[str, CardState]] = {}
        for v in views:
            try:
                item = self.practice.bank.item(v.item_id)
            except KeyError:
                continue
            concept, card = cards.get(
                v.item_id, (v.concept, new_card(card_id_for(learner_id, v.item_id), v.created_at))
            )
            verdict = v.verdict if v.verdict in ("correct", "partial", "incorrect") else "incorrect"
            rating = rating_for(verdict, v.latency_ms / 1000, EXPECTED_SECONDS[item.type])  # type: ignore[arg-type]
            card, _ = self.practice.srs.review(card, rating, v.created_at, rng)
            cards[v.item_id] = (concept, card)
        await self.store.replace_cards(learner_id, [(i, c, card) for i, (c, card) in cards.items()])
        return len(cards)

    # --- data rights ---------------------------------------------------------------------

    async def learner_keys(self, learner_id: int) -> list[str]:
        """The question-log keys of the learner's identities ("platform:external_id")."""
        return [f"{p}:{e}" for p, e in await self.store.identities(learner_id)]

    async def export_learner(self, learner_id: int) -> dict[str, Any]:
        """Everything we hold about a learner, as JSON-ready data."""
        profile = await self.store.profile(learner_id)
        if profile is None:
            raise PracticeError(f"no learner {learner_id}")
        keys = await self.learner_keys(learner_id)

        def plain(obj: Any) -> dict[str, Any]:
            return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(obj).items()}

        return {
            "exported_at": self.clock().isoformat(),
            "profile": plain(profile),
            "identities": [{"platform": p, "external_id": e} for p, e in await self.store.identities(learner_id)],
            "attempts": [plain(a) for a in await self.store.attempts(learner_id)],
            "assessments": [plain(a) for a in await self.store.assessments(learner_id)],
            "awards": [plain(a) for a in await self.store.awards(learner_id)],
            "milestones": [plain(m) for m in await self.store.milestones(None, learner_id)],
            "reports_and_disputes": [
                plain(f) for f in await self.practice.store.flags(None) if f.learner_id == learner_id
            ],
            "questions_asked": [
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in q.items()}
                for q in await self.store.questions_asked(keys)
            ],
        }

    async def forget_learner(self, learner_id: int, actor: str) -> dict[str, int]:
        """Delete the learner's personal data (item statistics stay, anonymous). Audited."""
        if await self.store.profile(learner_id) is None:
            raise PracticeError(f"no learner {learner_id}")
        keys = await self.learner_keys(learner_id)
        counts = await self.store.forget_learner(learner_id, keys)
        await self.store.add_audit(self.clock(), actor, "forget", None, None, f"learner {learner_id} forgotten", counts)
        return counts


@dataclass(frozen=True)
class _Facts:
    """One consistent read of a learner's awards, assessments, milestones and (some) attempts."""

    awards: Sequence[AwardRecord]
    assessments: Sequence[AssessmentRecord]
    milestones: Sequence[MilestoneRecord]
    views: Sequence[AttemptView]
    graded: Sequence[GradedAttempt]


@dataclass(frozen=True)
class _Gate:
    record: AssessmentRecord
    finished_at_or_start: datetime


@functools.cache
def _zone_names() -> frozenset[str]:
    # The system tz database may list files that are not zone names.
    return (frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}) | {"UTC"}


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
