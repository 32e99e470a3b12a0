"""MentorService's gate: a refused learner gets the refusal, nothing is retrieved, the question is logged."""

from __future__ import annotations

from bot.core.mentor import MentorService
from tests.unit.test_mentor import NOW, PASSAGES, FixedRetriever, RecordingLog


async def test_the_gate_refuses_its_learner_without_retrieving_and_lets_others_through() -> None:
    asked: list[str] = []

    async def gate(learner_key: str) -> str | None:
        asked.append(learner_key)
        return "You have a checkpoint running." if learner_key == "telegram:1" else None

    retriever, log = FixedRetriever(PASSAGES), RecordingLog()
    mentor = MentorService(retriever=retriever, log=log, clock=lambda: NOW, gate=gate)

    refused = await mentor.answer("what is overfitting?", learner_key="telegram:1", platform="telegram")
    assert (refused.text, refused.abstained, refused.mode, refused.citations) == (
        "You have a checkpoint running.",
        True,
        "refused",
        (),
    )
    assert retriever.calls == [] and refused.question_id == 1
    assert log.rows[0]["mode"] == "refused" and log.rows[0]["learner_key"] == "telegram:1"

    answered = await mentor.answer("what is overfitting?", learner_key="telegram:2", platform="telegram")
    assert not answered.abstained and answered.citations
    anonymous = await mentor.answer("what is overfitting?")  # no learner key: the gate is not asked
    assert not anonymous.abstained
    assert asked == ["telegram:1", "telegram:2"] and len(retriever.calls) == 2
