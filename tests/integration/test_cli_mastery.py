"""`mentor progress|export|forget` and `mentor admin grant|revoke|awards|milestones|review|audit|deliveries`."""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from bot.app import make_embedder, make_mastery, make_practice, prepare_database
from bot.cli.main import app
from bot.storage.db import create_engine
from bot.storage.practice import SqlLearners
from tests.conftest import KNOWLEDGE, make_settings
from tests.integration.mastery_helpers import ShiftedClock, pass_assessment

runner = CliRunner()
URL = "https://github.com/learner/churn-service"
WRITEUP = (
    "A churn model served behind FastAPI with a drift monitor; I learned to version data and to "
    "write the evaluation before the model."
)
ACTOR = f"cli:{getpass.getuser()}"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings of a fresh data dir (SQLite under it unless a test sets MENTOR_DATABASE_URL)."""
    monkeypatch.setenv("MENTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MENTOR_KNOWLEDGE_DIR", str(KNOWLEDGE))
    monkeypatch.setenv("MENTOR_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("MENTOR_DATABASE_URL", raising=False)
    return make_settings(tmp_path / "data")


def _run(args: list[str], code: int = 0) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return result


def _json(args: list[str]) -> Any:
    return json.loads(_run([*args, "--json"]).stdout)


def _with_mastery(settings: Any, clock: ShiftedClock, work: Any) -> Any:
    """Run `work(mastery, learners)` with the services the CLI builds, on `clock`."""
    prepare_database(settings)

    async def go() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            practice = make_practice(settings, engine, make_embedder(settings))
            practice.clock = clock
            mastery = make_mastery(settings, engine, practice)
            return await work(mastery, SqlLearners(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _seed(settings: Any) -> tuple[int, int]:
    """A Telegram learner with all capstone evidence but the milestone (submitted, pending), and
    one with a milestone and nothing else. Everything happened in the past few days."""
    clock = ShiftedClock(-timedelta(days=5))

    async def work(mastery: Any, learners: SqlLearners) -> tuple[int, int]:
        ready = await learners.learner_for("telegram", "4242", clock())
        await pass_assessment(mastery, ready, "placement", "capstone")
        clock.offset = -timedelta(days=1)
        outcome = await pass_assessment(mastery, ready, "recheck", "capstone")
        assert outcome.award is None  # capstone also needs an approved milestone
        await mastery.submit_milestone(ready, "capstone", URL, WRITEUP)
        novice = await learners.learner_for("telegram", "77", clock())
        await mastery.submit_milestone(novice, "capstone", URL + "-2", WRITEUP)
        return ready, novice

    result: tuple[int, int] = _with_mastery(settings, clock, work)
    return result


def test_a_milestone_review_completes_capstone_only_with_the_other_evidence(
    cli_env: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENTOR_DATABASE_URL", db_url)
    settings = make_settings(cli_env.data_dir, database_url=db_url)
    ready, novice = _seed(settings)

    pending = _json(["admin", "milestones"])
    assert [(m["learner_id"], m["stage"], m["status"]) for m in pending] == [
        (ready, "capstone", "pending"),
        (novice, "capstone", "pending"),
    ]
    listed = _run(["admin", "milestones"]).output
    assert URL in listed and "drift monitor" in listed

    approved = _run(["admin", "review", str(pending[0]["id"]), "--approve", "--note", "solid work"]).output
    assert "approved" in approved and "Stage award granted: Capstone & Job Readiness" in approved
    awards = _json(["admin", "awards", "--learner", "telegram:4242"])
    assert [(a["stage"], a["source"], a["active"]) for a in awards] == [("capstone", "evidence", True)]
    deliveries = _json(["admin", "deliveries"])
    assert [(d["platform"], d["external_id"], d["kind"]) for d in deliveries] == [("telegram", "4242", "award-grant")]

    # Approval without the rest of the evidence records the milestone but awards nothing.
    early = _run(["admin", "review", str(pending[1]["id"]), "--approve"]).output
    assert "No award yet" in early and "pass the checkpoint (or placement)" in early
    assert _json(["admin", "awards", "--learner", str(novice)]) == []
    assert _json(["admin", "milestones", "--status", "pending"]) == []
    assert len(_json(["admin", "milestones", "--status", "approved"])) == 2

    _run(["admin", "revoke", "telegram:4242", "capstone", "--reason", "copied write-up"])
    _run(["admin", "grant", "telegram:4242", "capstone", "--reason", "appeal upheld"])
    assert [a["active"] for a in _json(["admin", "awards"])] == [True]
    audit = _json(["admin", "audit"])
    assert [(e["actor"], e["action"]) for e in audit] == [
        (ACTOR, "grant"),
        (ACTOR, "revoke"),
        (ACTOR, "milestone-approve"),
        ("system", "award"),
        (ACTOR, "milestone-approve"),
    ]
    assert audit[0]["reason"] == "appeal upheld" and audit[1]["reason"] == "copied write-up"

    for args, message in (
        (["admin", "grant", "telegram:4242", "capstone", "--reason", "again"], "already holds capstone"),
        (["admin", "grant", "telegram:9", "capstone", "--reason", "x"], "no learner with the identity telegram:9"),
        (["admin", "grant", "999", "mlops", "--reason", "x"], "no learner 999"),
        (["admin", "grant", str(novice), "cooking", "--reason", "x"], "unknown stage 'cooking'"),
        (["admin", "grant", str(novice), "mlops", "--reason", "  "], "a reason is required"),
        (["admin", "revoke", str(novice), "mlops", "--reason", "x"], "holds no mlops award"),
        (["admin", "review", "12345", "--approve"], "does not exist or was already reviewed"),
        (["admin", "review", str(pending[0]["id"]), "--reject"], "already reviewed"),
        (["admin", "review", str(pending[0]["id"])], "--approve or --reject"),
        (["admin", "milestones", "--status", "lost"], "--status takes"),
        (["admin", "deliveries", "--status", "lost"], "--status takes"),
    ):
        assert message in _run(args, code=2).output, args


def test_progress_json_and_png_for_the_terminal_learner(cli_env: Any, tmp_path: Path) -> None:
    data = _json(["progress"])
    assert [s["stage"] for s in data["stages"]] == [
        "classical-ml",
        "deep-learning",
        "specialization",
        "mlops",
        "capstone",
    ]
    assert data["stages"][0]["concepts"][0]["level"] == "not-started"
    assert data["streak"]["current"] == 0 and data["track"] is None and data["due_reviews"] == 0
    png = tmp_path / "charts" / "me.png"
    text = _run(["progress", "--png", str(png)]).output
    assert "Foundations & Classical ML" in text and f"Chart saved to {png}" in text
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(png) as image:
        assert image.size == (1000, 600)
    # The default learner is the one `mentor chat` uses: the same id every time.
    assert _json(["progress"])["learner_id"] == data["learner_id"]
    assert "no learner with the identity discord:1" in _run(["progress", "--learner", "discord:1"], code=2).output
    assert "is not a learner" in _run(["progress", "--learner", "bob"], code=2).output


def test_export_then_forget_needs_yes_and_leaves_an_audit_trail(cli_env: Any, tmp_path: Path) -> None:
    async def work(mastery: Any, learners: SqlLearners) -> int:
        learner = await learners.learner_for("telegram", "55", mastery.clock())
        await mastery.update_settings(learner, goal="mlops-engineer", hours_per_week=5)
        await mastery.submit_milestone(learner, "mlops", URL, WRITEUP)
        return int(learner)

    learner = _with_mastery(cli_env, ShiftedClock(), work)
    _run(["admin", "grant", "telegram:55", "mlops", "--reason", "contributed the monitoring guide"])
    out_file = tmp_path / "export.json"
    assert "Exported" in _run(["export", "--learner", "telegram:55", "--out", str(out_file)]).output
    exported = json.loads(out_file.read_text())
    assert exported["profile"]["goal"] == "mlops-engineer"
    assert exported["identities"] == [{"platform": "telegram", "external_id": "55"}]
    assert [m["url"] for m in exported["milestones"]] == [URL]
    assert [a["stage"] for a in exported["awards"]] == ["mlops"]
    assert json.loads(_run(["export", "--learner", str(learner)]).stdout)["profile"]["id"] == learner
    assert "the terminal learner does not exist yet" in _run(["export"], code=2).output

    refused = _run(["forget", "telegram:55"], code=2).output
    assert "--yes" in refused
    assert _json(["admin", "awards", "--learner", "telegram:55"])  # still there
    done = _run(["forget", "telegram:55", "--yes"]).output
    assert f"Learner {learner} forgotten" in done and "milestones 1" in done
    assert "no learner with the identity" in _run(["progress", "--learner", "telegram:55"], code=2).output
    audit = _json(["admin", "audit"])
    assert [(e["actor"], e["action"]) for e in audit[:4]] == [
        (ACTOR, "forget"),
        (ACTOR, "export"),
        (ACTOR, "export"),
        (ACTOR, "grant"),
    ]
    assert all(e["learner_id"] is None for e in audit)  # nothing points at the forgotten learner


def _seed_dispute(settings: Any) -> tuple[int, int, int, str]:
    """A Telegram learner whose free-text answer the real grader rejected, disputed; and a report.

    Returns the learner, the dispute's and the report's flag ids, and the item's concept.
    """
    clock = ShiftedClock(-timedelta(hours=2))

    async def work(mastery: Any, learners: SqlLearners) -> tuple[int, int, int, str]:
        learner = await learners.learner_for("telegram", "5151", clock())
        item = next(i for i in mastery.practice.bank.items if i.type == "free_text")
        session = mastery.practice.build_session(learner, "learn", [item.id], clock(), timedelta(hours=2))
        await mastery.practice.store.create_session(session)
        answer = "It is about the data, I think, more or less."
        outcome = await mastery.answer(learner, session.id, 0, answer, latency_ms=40_000, platform="telegram")
        assert outcome.result.verdict != "correct"
        dispute = await mastery.practice.dispute_grade(learner, outcome.result.attempt_id, "I meant the same thing")
        report = await mastery.practice.report_item(learner, item.id, "the reference is too long")
        return learner, dispute, report, item.concept

    result: tuple[int, int, int, str] = _with_mastery(settings, clock, work)
    return result


def test_admins_resolve_disputes_and_an_upheld_one_counts(
    cli_env: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENTOR_DATABASE_URL", db_url)
    settings = make_settings(cli_env.data_dir, database_url=db_url)
    learner, dispute, report, concept = _seed_dispute(settings)

    flags = _json(["admin", "flags"])
    assert [(f["id"], f["kind"], f["status"], f["learner_id"]) for f in flags] == [
        (dispute, "dispute", "open", learner),
        (report, "report", "open", learner),
    ]
    assert flags[0]["answer"]["text"] == "It is about the data, I think, more or less."
    assert flags[0]["answer"]["quiz"] == "learn" and flags[0]["reference"]
    listed = _run(["admin", "flags"]).output
    assert f"#{dispute} dispute" in listed and "I meant the same thing" in listed and "more or less" in listed

    def level() -> str:
        progress = _json(["progress", "--learner", "telegram:5151"])
        return next(c["level"] for s in progress["stages"] for c in s["concepts"] if c["concept"] == concept)

    assert level() == "attempted"
    upheld = _run(["admin", "resolve", str(dispute), "--uphold", "--note", "a fair paraphrase"]).output
    assert f"Dispute #{dispute}" in upheld and "upheld: the answer now counts as correct" in upheld
    assert level() == "familiar"
    assert "closed" in _run(["admin", "resolve", str(report), "--close"]).output
    assert _json(["admin", "flags"]) == []
    assert [
        (f["id"], f["status"], f["resolved_by"], f["note"]) for f in _json(["admin", "flags", "--status", "all"])
    ] == [
        (dispute, "upheld", ACTOR, "a fair paraphrase"),
        (report, "closed", ACTOR, ""),
    ]
    audit = _json(["admin", "audit", "--learner", "telegram:5151"])
    assert [(e["actor"], e["action"]) for e in audit] == [(ACTOR, "report-closed"), (ACTOR, "dispute-upheld")]

    for args, message in (
        (["admin", "resolve", str(dispute), "--reject"], "already resolved: upheld"),
        (["admin", "resolve", "9999", "--uphold"], "flag #9999 does not exist"),
        (["admin", "resolve", str(dispute)], "exactly one of --uphold, --reject or --close"),
        (["admin", "resolve", str(dispute), "--uphold", "--reject"], "exactly one of"),
        (["admin", "flags", "--status", "lost"], "--status takes"),
    ):
        assert message in _run(args, code=2).output, args


def test_admins_retire_and_restore_items(cli_env: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTOR_DATABASE_URL", db_url)
    item = "bias-variance.03"
    retired = _run(["admin", "retire", item, "--reason", "the key is wrong (flag #4)"]).output
    assert f"{item} retired" in retired and f"mentor admin restore {item}" in retired
    rows = {r["item_id"]: r for r in _json(["admin", "items"])}
    assert rows[item]["retired"] == "the key is wrong (flag #4)" and rows[item]["attempts"] == 0
    listed = _run(["admin", "items"]).output
    assert "RETIRED: the key is" in listed and "bias-variance.03" in listed
    for args, message in (
        (["admin", "retire", item, "--reason", "again"], f"{item} is already retired"),
        (["admin", "retire", "bias-variance.99", "--reason", "x"], "no item 'bias-variance.99'"),
        (["admin", "retire", "bias-variance.04"], "a reason is required"),
        (["admin", "restore", "bias-variance.04"], "bias-variance.04 is not retired"),
    ):
        assert message in _run(args, code=2).output, args
    assert f"{item} restored" in _run(["admin", "restore", item, "--reason", "key fixed"]).output
    assert item not in {r["item_id"] for r in _json(["admin", "items"])}  # no attempts, not retired
    audit = _json(["admin", "audit"])
    assert [(e["action"], e["details"]["item"], e["reason"]) for e in audit] == [
        ("item-restore", item, "key fixed"),
        ("item-retire", item, "the key is wrong (flag #4)"),
    ]
