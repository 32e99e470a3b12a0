"""MasteryService end to end on SQLite and PostgreSQL: awards from evidence, admin grant/revoke,
linking identities, export and forget (the same flows as tests/unit/test_progress.py, on SQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.core.delivery import DeliveryReport, deliver_pending
from bot.core.practice import PracticeError
from bot.storage.mastery import SqlMasteryStore
from bot.storage.practice import SqlLearners, SqlPracticeStore
from bot.storage.questions import SqlQuestionLog
from tests.unit.test_delivery import ScriptedMessenger
from tests.unit.test_progress import (
    CONCEPTS,
    SLOW_MS,
    STAGE,
    Harness,
    make_harness,
    practice_items,
    practise,
    right_answer,
    take,
)


@pytest.fixture
def h(engine) -> Harness:  # type: ignore[no-untyped-def]
    return make_harness(SqlMasteryStore(engine), SqlPracticeStore(engine), SqlLearners(engine).learner_for)


async def test_checkpoint_recheck_award_and_delivery_end_to_end(h: Harness) -> None:
    owner = await h.learner("discord", "d1")
    other = await h.learner("telegram", "t1")
    await h.service.redeem_link_code(other, await h.service.create_link_code(owner))
    quiz = await practise(h, owner, CONCEPTS)
    assert all(o.award is None for o in quiz)
    checkpoint, outcomes = await take(h, owner, "checkpoint")
    assert outcomes[-1].assessment is not None and outcomes[-1].assessment.passed
    assert await h.service.mentor_refusal(owner) is None
    h.clock.advance(timedelta(days=3))
    recheck = await h.service.start_assessment(owner, "recheck", STAGE)
    assert not {i.item_id for i in recheck.session.items} & {i.item_id for i in checkpoint.items}
    assert await h.service.mentor_refusal(owner) is not None
    record = await h.practice_store.get_session(recheck.assessment.id)
    fast = await h.service.answer(owner, record.id, 0, right_answer(record, 0), latency_ms=800, platform="discord")
    assert fast.flagged_fast and fast.result.correct
    for rec in record.items[1:]:
        outcome = await h.service.answer(
            owner, record.id, rec.position, right_answer(record, rec.position), latency_ms=SLOW_MS, platform="discord"
        )
    award = outcome.award
    assert award is not None and award.source == "evidence" and len(award.deliveries) == 2
    assert await h.service.mentor_refusal(owner) is None
    (stored,) = await h.store.awards(owner)
    used = {v.id for v in await h.store.attempts(owner) if v.session_id in (checkpoint.id, record.id)}
    assert used <= set(stored.evidence) and {o.result.attempt_id for o in quiz} <= set(stored.evidence)
    assert [(f.kind, f.attempt_id) for f in await h.practice_store.flags()] == [("fast", fast.result.attempt_id)]
    stage = (await h.service.get_progress(owner)).stages[0]
    assert stage.awarded and stage.checkpoint == stage.recheck == "done" and stage.needed == ()

    discord = ScriptedMessenger("discord", {"d1": ["retry", "sent"]})
    telegram = ScriptedMessenger("telegram", {"t1": ["unreachable"]})
    messengers = {"discord": discord, "telegram": telegram}
    assert await deliver_pending(h.store, messengers, h.clock) == DeliveryReport(retrying=1, unreachable=1)
    assert await deliver_pending(h.store, messengers, h.clock) == DeliveryReport(delivered=1)
    (done,) = await h.store.deliveries("delivered")
    (dead,) = await h.store.deliveries("unreachable")
    assert (done.external_id, done.attempts, done.kind) == ("d1", 1, "award-grant")
    assert (dead.external_id, dead.last_error) == ("t1", "403 Forbidden: bot was blocked by the user")
    assert discord.calls[-1] == ("award", "d1", STAGE, award.stage_title, True)


async def test_concurrent_award_checks_create_one_award(h: Harness) -> None:
    learner = await h.learner("telegram", "1")
    await take(h, learner, "placement", stage="capstone")
    h.clock.advance(timedelta(days=3))
    _, outcomes = await take(h, learner, "recheck", stage="capstone")
    assert outcomes[-1].award is None  # the capstone milestone is still missing
    milestone = await h.service.submit_milestone(learner, "capstone", "https://example.org/capstone", "w" * 80)
    await h.store.review_milestone(milestone, True, "mod", "", h.clock.now)  # approved outside the service
    decisions = await asyncio.gather(*(h.service.try_award(learner, "capstone") for _ in range(4)))
    granted = [d for d in decisions if d is not None]
    assert len(granted) == 1
    assert [a.id for a in await h.store.awards(learner)] == [granted[0].award_id]
    assert [e.action for e in await h.store.audit_log(learner)] == ["award"]
    assert len(await h.store.deliveries(learner_id=learner)) == 1


async def test_admin_grant_and_revoke_are_audited_with_deliveries(h: Harness) -> None:
    learner = await h.learner("discord", "42")
    with pytest.raises(PracticeError, match="reason"):
        await h.service.grant(learner, "mlops", "root", "")
    granted = await h.service.grant(learner, "mlops", "root", "ran the MLOps workshop")
    with pytest.raises(PracticeError, match="already holds"):
        await h.service.grant(learner, "mlops", "root", "again")
    h.clock.advance(timedelta(minutes=10))
    with pytest.raises(PracticeError, match="reason"):
        await h.service.revoke(learner, "mlops", "mod", " ")
    revoked = await h.service.revoke(learner, "mlops", "mod", "duplicate account")
    assert (granted.action, revoked.action, revoked.award_id) == ("grant", "revoke", granted.award_id)
    entries = await h.store.audit_log(learner)
    assert [(e.action, e.actor, e.reason) for e in entries] == [
        ("revoke", "mod", "duplicate account"),
        ("grant", "root", "ran the MLOps workshop"),
    ]
    rows = await h.store.deliveries(learner_id=learner)
    assert [(r.id, r.kind) for r in rows] == [
        (granted.deliveries[0], "award-grant"),
        (revoked.deliveries[0], "award-revoke"),
    ]
    (award,) = await h.store.awards(learner)
    assert not award.active and award.revoked_by == "mod"
    regranted = await h.service.grant(learner, "mlops", "root", "appeal accepted")
    assert regranted.award_id == granted.award_id and (await h.store.awards(learner))[0].active


async def test_redeeming_a_link_code_merges_and_rebuilds_cards(h: Harness) -> None:
    owner = await h.learner("discord", "1")
    other = await h.learner("telegram", "2")
    mine = await practise(h, owner, CONCEPTS[:2])
    theirs = await practise(h, other, CONCEPTS[2:4])
    code = await h.service.create_link_code(owner)
    with pytest.raises(PracticeError, match="unknown, used or expired"):
        await h.service.redeem_link_code(other, "AAAA-BBBB")
    assert await h.service.redeem_link_code(other, code.lower()) == owner
    with pytest.raises(PracticeError, match="unknown, used or expired"):
        await h.service.redeem_link_code(other, code)
    assert await h.store.profile(other) is None
    assert await h.store.learner_by_identity("telegram", "2") == owner
    assert {v.id for v in await h.store.attempts(owner)} == {o.result.attempt_id for o in mine + theirs}
    cards = dict(await h.practice_store.cards(owner))
    assert set(cards) == {i for c in CONCEPTS[:4] for i in practice_items(c)}
    levels = [c.level for c in (await h.service.get_progress(owner)).stages[0].concepts]
    assert levels[:4] == ["proficient"] * 4 and levels[4:] == ["not-started"] * (len(CONCEPTS) - 4)
    expired = await h.service.create_link_code(owner)
    third = await h.learner("telegram", "3")
    h.clock.advance(timedelta(minutes=15))
    with pytest.raises(PracticeError, match="unknown, used or expired"):
        await h.service.redeem_link_code(third, expired)


async def test_export_and_forget(h: Harness, engine) -> None:  # type: ignore[no-untyped-def]
    learner = await h.learner("telegram", "5")
    await h.service.update_settings(learner, goal="ml-engineer", hours_per_week=8, time_zone="Europe/Berlin")
    quiz = await practise(h, learner, CONCEPTS[:1])
    await h.service.grant(learner, "mlops", "root", "workshop")
    log = SqlQuestionLog(engine)
    for key, question in (("telegram:5", "what is dropout?"), ("telegram:6", "someone else's question")):
        await log.record(
            asked_at=h.clock.now,
            learner_key=key,
            platform="telegram",
            question=question,
            abstained=False,
            top_score=0.5,
            scores=[0.5],
            cited_chunks=[],
            mode="extractive",
        )
    data = json.loads(json.dumps(await h.service.export_learner(learner)))
    assert data["profile"]["time_zone"] == "Europe/Berlin" and data["profile"]["hours_per_week"] == 8.0
    assert [a["id"] for a in data["attempts"]] == [o.result.attempt_id for o in quiz]
    assert [a["stage"] for a in data["awards"]] == ["mlops"]
    assert [q["question"] for q in data["questions_asked"]] == ["what is dropout?"]
    counts = await h.service.forget_learner(learner, "root")
    assert counts["profile"] == 1 and counts["attempts_anonymised"] == len(quiz) and counts["questions"] == 1
    assert await h.store.profile(learner) is None and await h.store.attempts(learner) == []
    kept = await h.practice_store.attempt(quiz[0].result.attempt_id)
    assert kept is not None and kept.learner_id != learner and kept.answer == ""
    forget = [e for e in await h.store.audit_log() if e.action == "forget"]
    assert len(forget) == 1 and forget[0].learner_id is None and forget[0].details == counts
    assert [r.question for r in await log.list()] == ["someone else's question"]
