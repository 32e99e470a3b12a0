"""Settings: every key documented, the example file loads, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import REPO_ROOT, Settings

EXAMPLE = REPO_ROOT / ".env.example"


def test_every_setting_is_documented_in_env_example() -> None:
    documented = {line.split("=", 1)[0] for line in EXAMPLE.read_text().splitlines() if line.startswith("MENTOR_")}
    assert documented == {f"MENTOR_{name.upper()}" for name in Settings.model_fields}


def test_the_example_file_loads_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"MENTOR_{name.upper()}", raising=False)
    settings = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    assert settings.data_dir == REPO_ROOT / "data"
    assert settings.knowledge_dir == REPO_ROOT / "knowledge"
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{REPO_ROOT / 'data' / 'mentor.db'}"
    assert settings.abstain_threshold is None and settings.discord_token is None


def test_relative_dirs_resolve_and_secrets_stay_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = tmp_path / ".env"
    env.write_text("MENTOR_DATA_DIR=state\nMENTOR_TELEGRAM_TOKEN=123:secret-token\n")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.data_dir == tmp_path / "state"
    assert "secret-token" not in repr(settings) and "secret-token" not in str(settings.model_dump())
