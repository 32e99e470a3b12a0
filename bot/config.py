"""Settings, read once at start from the environment and `.env` (prefix MENTOR_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.content import STAGE_IDS

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every setting of the bot. `.env.example` documents each key."""

    model_config = SettingsConfigDict(env_prefix="MENTOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "data")
    knowledge_dir: Path = Field(default=REPO_ROOT / "knowledge")
    database_url: str | None = None
    chroma_url: str | None = None
    embedding_model: str = BUNDLED_MODEL
    embedding_device: str = "cpu"
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    torch_threads: int = Field(default=0, ge=0, le=256)

    search_k: int = Field(default=5, ge=1, le=50)
    abstain_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    question_log_retention_days: int = Field(default=180, ge=0)

    desired_retention: float = Field(default=0.9, ge=0.70, le=0.97)
    daily_new_items: int = Field(default=20, ge=1, le=500)
    daily_reviews: int = Field(default=100, ge=1, le=5000)

    url_timeout_seconds: float = Field(default=20.0, gt=0)
    url_max_bytes: int = Field(default=20_000_000, gt=0)
    index_poll_seconds: float = Field(default=5.0, gt=0, le=10.0)

    llm_provider: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)

    discord_token: SecretStr | None = None
    telegram_token: SecretStr | None = None
    # Comma-separated in the environment; parsed to ids (see the validators below).
    telegram_admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    milestone_review_stages: Annotated[frozenset[str], NoDecode] = frozenset({"capstone"})

    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: object) -> object:
        # `KEY=` in .env (as in .env.example) means "use the default", not "empty string".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("data_dir", "knowledge_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("telegram_admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        ids: set[int] = set()
        for part in value.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ValueError(f"{part!r} is not a Telegram user id (a number); separate ids with commas")
            ids.add(int(part))
        return frozenset(ids)

    @field_validator("milestone_review_stages", mode="before")
    @classmethod
    def _review_stages(cls, value: object) -> object:
        if isinstance(value, str):
            parts = {p.strip() for p in value.split(",") if p.strip()}
            # "none": no stage needs a reviewed milestone.
            value = set() if parts == {"none"} else parts
        if isinstance(value, set | frozenset | list | tuple):
            unknown = sorted(str(v) for v in value if v not in STAGE_IDS)
            if unknown:
                raise ValueError(f"unknown stage {', '.join(unknown)}; stages are: {', '.join(STAGE_IDS)} (or none)")
        return value

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL: MENTOR_DATABASE_URL or SQLite under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'mentor.db'}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def private_questions_dir(self) -> Path:
        return self.data_dir / "questions"
