"""Run Alembic migrations programmatically, before the event loop starts.

Alembic's async env uses `asyncio.run`, which fails inside a running loop: call
`upgrade_database` from synchronous code, or from async code via `asyncio.to_thread`.
Concurrent starts are serialised: a PostgreSQL advisory lock (in env.py) or, for SQLite,
a file lock beside the database file.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.storage.db import sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    return cfg


@contextlib.contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    path = sqlite_path(url)
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (default: the newest)."""
    with _sqlite_file_lock(url):
        command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return heads[0]


def current_revision_sync(connection: object) -> str | None:
    """The revision stamped in a (sync) connection's database, or None when unmigrated."""
    return MigrationContext.configure(connection).get_current_revision()  # type: ignore[arg-type]
