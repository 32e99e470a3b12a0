"""The terminal mentor's mastery commands: /settings, /progress, /checkpoint, /placement, /recheck,
/resume, /milestone and /link, and the mentor's refusal while an assessment is running."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.app import (
    build_mastery,
    build_mentor,
    build_practice,
    make_embedder,
    make_mastery,
    make_practice,
    open_services,
)
from bot.cli.main import app
from bot.cli.mentor import TerminalMentor
from bot.core.questions import McqItem
from bot.storage.db import create_engine
from bot.storage.practice import SqlLearners
from tests.conftest import make_settings
from tests.integration.conftest import Bundled
from tests.integration.mastery_helpers import ShiftedClock, right_answer

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def indexed(bundled: Bundled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A private copy of the session's indexed data dir, with no terminal learner yet."""
    data = tmp_path / "data"
    shutil.copytree(bundled.settings.data_dir, data, ignore=shutil.ignore_patterns("*.lock", "charts"))
    with sqlite3.connect(data / "mentor.db") as conn:  # other tests' terminal learner stays behind
        conn.execute("DELETE FROM identities WHERE platform = 'cli'")
    conn.close()
    monkeypatch.setenv("MENTOR_DATA_DIR", str(data))
    monkeypatch.setenv("MENTOR_KNOWLEDGE_DIR", str(bundled.settings.knowledge_dir))
    monkeypatch.setenv("MENTOR_LOG_LEVEL", "WARNING")
    return make_settings(data)


def _service(settings: Any, work: Any) -> Any:
    async def go() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            mastery = make_mastery(settings, engine, make_practice(settings, engine, make_embedder(settings)))
            return await work(mastery, SqlLearners(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_settings_progress_refusals_milestone_and_link_in_the_terminal(indexed: Any) -> None:
    script = "\n".join(
        [
            "/settings",
            "/settings goal ml-engineer hours 6 tz Europe/Berlin nudge 18:30",
            "/settings tz Mars/Base",
            "/settings hours",
            "/checkpoint classical-ml",
            "/checkpoint",
            "/progress",
            "/placement mlops",
            "/skip",
            "/stop",
            "what is dropout and why turn it off at test time?",
            "/link",
            "/milestone capstone https://github.com/me/churn",
            "Too short.",
            "",
            "It serves a churn model behind FastAPI, and I learned to monitor drift in production.",
            "",
            "/quit",
        ]
    )
    result = runner.invoke(app, ["chat"], input=script + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "goal:           ml-engineer" in out and "time zone:      Europe/Berlin" in out
    assert "daily nudge:    18:30 (Europe/Berlin)" in out
    assert "unknown time zone 'Mars/Base'" in out and "Nothing was changed" in out
    assert "I did not understand 'hours'" in out
    assert "Not yet: the checkpoint opens when every concept of classical-ml is proficient" in out
    assert "Supervised vs. unsupervised learning" in out and "Which stage? /checkpoint STAGE" in out
    chart = re.search(r"Chart saved to (\S+\.png)", out)
    assert chart is not None and Path(chart.group(1)).read_bytes().startswith(PNG)
    assert Path(chart.group(1)).parent == indexed.data_dir / "charts"
    assert "Track: ml-engineer, 6 h/week — on track" in out and "not started (7 concepts)" in out
    assert "Placement for MLOps & Production Deployment: 25 questions, 22 right to pass." in out
    assert re.search(r"Q1 \((90|240) s\)", out)
    assert "In a test every question needs an answer" in out and "Paused. The clock keeps running" in out
    assert "You have a placement for mlops running until" in out  # the mentor's refusal
    assert "the mentor answers questions again when it is finished" in out
    assert "the write-up needs at least 50 characters" in out and "Your write-up is kept" in out
    assert "Milestone #1 for capstone submitted" in out
    code = re.search(r"Your link code: (\w{8})", out)
    assert code is not None

    async def check(mastery: Any, learners: SqlLearners) -> tuple[int, Any, Any, int]:
        me = await mastery.store.learner_by_identity("cli", "local")
        milestones = await mastery.store.milestones("pending", me)
        # The link code joins a Telegram account to the terminal's learner.
        telegram = await learners.learner_for("telegram", "42", mastery.clock())
        survivor = await mastery.redeem_link_code(telegram, code.group(1))
        return me, milestones, await mastery.store.profile(me), survivor

    me, milestones, profile, survivor = _service(indexed, check)
    assert [(m.stage, m.url) for m in milestones] == [("capstone", "https://github.com/me/churn")]
    assert (
        milestones[0].writeup
        == "Too short.\nIt serves a churn model behind FastAPI, and I learned to monitor drift in production."
    )
    assert (profile.goal, profile.hours_per_week, profile.nudge_time) == ("ml-engineer", 6.0, "18:30")
    assert survivor == me

    # The other direction: a code made on Discord, redeemed in the terminal, moves everything there.
    async def discord_code(mastery: Any, learners: SqlLearners) -> tuple[int, str]:
        discord = await learners.learner_for("discord", "7", mastery.clock())
        return discord, await mastery.create_link_code(discord)

    discord, code2 = _service(indexed, discord_code)
    again = runner.invoke(app, ["chat"], input=f"/link {code2}\n/link {code2}\n/progress\n/quit\n")
    assert again.exit_code == 0, again.output
    assert "Your placement for mlops is running until" in again.output  # announced at start
    assert f"Linked: your progress now lives with learner {discord}" in again.output
    assert "that link code is unknown, used or expired" in again.output
    assert "Open: placement for mlops" in again.output

    async def identities(mastery: Any, _learners: SqlLearners) -> Any:
        return await mastery.store.identities(discord)

    assert _service(indexed, identities) == [("cli", "local"), ("discord", "7"), ("telegram", "42")]


async def test_placement_then_recheck_earns_the_stage_in_the_terminal(
    indexed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ShiftedClock()
    async with open_services(indexed, "test") as services:
        practice = build_practice(services)
        practice.clock = clock
        mastery = build_mastery(services, practice)
        mentor = build_mentor(services, mastery)
        learner = await SqlLearners(services.engine).learner_for("cli", "local", clock())
        term = TerminalMentor(services, mentor, practice, mastery, learner)

        async def answer_all(wrong_first: bool = False) -> None:
            first = True
            while term.quiz is not None:
                item = term.quiz.items[term.position]
                right = await right_answer(practice, term.quiz.id, item)
                if first and isinstance(practice.bank.item(item.item_id), McqItem):
                    await term.handle("E")  # unreadable: said so, nothing recorded
                    if wrong_first:
                        right = next(letter for letter in "ABCD" if letter != right)
                    first = False
                await term.handle(right)

        await term.handle("/placement classical-ml")
        await term.handle("/stop")
        await term.handle("what is a confusion matrix?")
        await term.handle("/resume")
        await answer_all(wrong_first=True)
        await term.handle("/recheck classical-ml")
        placement = capsys.readouterr().out
        clock.offset = timedelta(days=4)
        await term.handle("/recheck classical-ml")
        await answer_all()
        await term.handle("/progress")
        recheck = capsys.readouterr().out
        refusal_after = await mastery.mentor_refusal(learner)

    assert "Placement for Foundations & Classical ML: 25 questions, 22 right to pass." in placement
    assert "You have a placement for classical-ml running until" in placement
    assert "Resuming your placement for classical-ml: 25 questions left" in placement
    assert "Answer recorded." in placement and "answer with a letter A–D" in placement
    assert "Placement classical-ml: 24/25 right (22 needed): passed" in placement
    assert "Next comes the re-check, which confirms it: the re-check for classical-ml opens on" in placement
    assert "Not yet: the re-check for classical-ml opens on" in placement
    assert "Re-check classical-ml: 20/20 right (17 needed): passed" in recheck
    assert "🏅 Stage complete: Foundations & Classical ML!" in recheck
    assert "Foundations & Classical ML ✓ awarded" in recheck
    assert refusal_after is None  # the mentor answers again
