"""Settings, read once at start from the environment and `.env` (prefix MENTOR_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
