"""`/quiz`, `/review`, `/report` and `/dispute` in the terminal mentor, persisted across sessions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.storage import tables as t
from bot.storage.db import create_engine
from tests.integration.conftest import Bundled

runner = CliRunner()


async def _count(url: str, table: object) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def test_quiz_in_the_terminal_persists_cards_attempts_and_flags(
    bundled: Bundled, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MENTOR_DATA_DIR", str(bundled.settings.data_dir))
    monkeypatch.setenv("MENTOR_LOG_LEVEL", "WARNING")
    # Item types come in a random order: "true", "A" and "42" grade the first item whatever its type
    # (an unreadable answer is asked again), and 3 lines can never finish a 5-item quiz, so /stop pauses it.
    script = (
        "/review\n/quiz 5\n/report the wording is unclear\ntrue\nA\n42\n"
        "/dispute I think my answer was right\n/stop\n/quit\n"
    )
    result = runner.invoke(app, ["chat"], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "nothing is due for review" in out
    assert "Quiz: 5 questions." in out and "Q1" in out
    assert "Reported: an admin will check this question." in out
    # The last graded answer may have been right by chance ("A" on a multiple-choice item): then
    # there is nothing to dispute, and the terminal says so instead of queueing it.
    disputed = "Dispute queued" in out
    assert disputed != ("there is nothing to dispute" in out)
    assert "Quiz paused." in out
    url = bundled.settings.effective_database_url
    attempts = asyncio.run(_count(url, t.attempts))
    assert attempts >= 1
    assert asyncio.run(_count(url, t.cards)) == attempts
    assert asyncio.run(_count(url, t.item_flags)) == 1 + disputed
    flagged = runner.invoke(app, ["admin", "items", "--flagged", "--json"])
    assert flagged.exit_code == 0, flagged.output
    assert "the wording is unclear" in flagged.stdout
    assert ("I think my answer was right" in flagged.stdout) == disputed
    # A second session (a restart) sees the same learner: new items continue where the first stopped.
    again = runner.invoke(app, ["chat"], input="/quiz 2\n/stop\n/quit\n")
    assert again.exit_code == 0 and "Quiz: 2 questions." in again.output
    # /disputes shows the learner's own flags and, once an admin decides, the decision and note.
    mine = runner.invoke(app, ["chat"], input="/disputes\n/quit\n")
    assert mine.exit_code == 0 and "report on" in mine.output and "waiting for an admin" in mine.output
    flags = json.loads(runner.invoke(app, ["admin", "flags", "--json"]).stdout)
    report = next(f for f in flags if f["kind"] == "report")
    resolved = runner.invoke(app, ["admin", "resolve", str(report["id"]), "--close", "--note", "reworded it"])
    assert resolved.exit_code == 0, resolved.output
    after = runner.invoke(app, ["chat"], input="/disputes\n/quit\n").output
    assert f"#{report['id']}" in after and "closed — reworded it" in after
