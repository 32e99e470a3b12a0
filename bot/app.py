"""Composition root: the only module that wires settings to concrete services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.core.content import load_roadmap
from bot.core.grading import CachingEmbedder, grade_free_text
from bot.core.mentor import DEFAULT_ABSTAIN_THRESHOLD, AnswerGate, MentorService
from bot.core.practice import FreeTextGrade, PracticeConfig, PracticeService
from bot.core.progress import MasteryService
from bot.core.questions import FreeTextItem, QuestionBank, load_bank
from bot.core.srs import Srs
from bot.retrieval.chroma import make_client
from bot.retrieval.embeddings import SentenceTransformerEmbedder, force_offline
from bot.retrieval.index import KnowledgeIndex
from bot.retrieval.locks import FileLock, LockHeldError, index_lock
from bot.storage.db import create_engine
from bot.storage.knowledge import SqlKnowledgeStore
from bot.storage.mastery import SqlMasteryStore
from bot.storage.migrate import upgrade_database
from bot.storage.practice import SqlPracticeStore
from bot.storage.questions import SqlQuestionLog


class IndexBusyError(RuntimeError):
    """The embedded Chroma index is open in another process."""


def prepare_database(settings: Settings) -> None:
    """Create the data dir and migrate the database. Call before the event loop starts."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.effective_database_url)


def acquire_index(settings: Settings, purpose: str) -> FileLock | None:
    """Take the embedded index for this process, or explain who has it and what to do."""
    if settings.chroma_url:
        return None
    try:
        return index_lock(settings.data_dir, purpose).acquire()
    except LockHeldError as exc:
        raise IndexBusyError(
            f"the embedded knowledge index in {settings.data_dir} is in use ({exc.holder}). "
            "Only one process may open it: stop that process, use the running bot's reindex "
            "command, or run a Chroma server (`chroma run --path DIR`) and set MENTOR_CHROMA_URL "
            "so that every process shares it."
        ) from exc


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    knowledge: SqlKnowledgeStore
    questions: SqlQuestionLog
    embedder: SentenceTransformerEmbedder
    chroma: Any
    index: KnowledgeIndex


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    force_offline()
    return SentenceTransformerEmbedder(
        settings.embedding_model, settings.embedding_device, settings.embedding_batch_size, settings.torch_threads
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, purpose: str) -> AsyncIterator[Services]:
    """Every service this process needs; the embedded index is locked for its lifetime."""
    lock = acquire_index(settings, purpose)
    engine = create_engine(settings.effective_database_url)
    try:
        knowledge = SqlKnowledgeStore(engine)
        embedder = make_embedder(settings)
        client = make_client(settings.chroma_url, str(settings.chroma_dir))
        yield Services(
            settings=settings,
            engine=engine,
            knowledge=knowledge,
            questions=SqlQuestionLog(engine),
            embedder=embedder,
            chroma=client,
            index=KnowledgeIndex(knowledge, client, embedder),
        )
    finally:
        await engine.dispose()
        if lock is not None:
            lock.release()


def load_question_bank(settings: Settings) -> QuestionBank:
    """The bundled bank plus the admin's private bank under MENTOR_DATA_DIR/questions, if any."""
    dirs = [settings.knowledge_dir / "questions"]
    if settings.private_questions_dir.is_dir():
        dirs.append(settings.private_questions_dir)
    return load_bank(dirs)


def private_item_ids(settings: Settings) -> frozenset[str]:
    """Ids of the items in the admin's private bank (MENTOR_DATA_DIR/questions); assessments prefer them."""
    if not settings.private_questions_dir.is_dir():
        return frozenset()
    return frozenset(i.id for i in load_bank([settings.private_questions_dir]).items)


def make_practice(
    settings: Settings, engine: AsyncEngine, embedder: SentenceTransformerEmbedder, bank: QuestionBank | None = None
) -> PracticeService:
    """Practice on this database; the embedding model loads only when a free-text answer is graded."""
    # Questions repeat: their reference and key-point vectors are embedded once per process.
    caching = CachingEmbedder(embedder)

    async def grade(item: FreeTextItem, answer: str) -> FreeTextGrade:
        result = await asyncio.to_thread(
            grade_free_text,
            item.prompt,
            item.reference,
            list(item.key_points),
            answer,
            caching,
            misconceptions=item.misconceptions,
        )
        return FreeTextGrade(result.verdict, result.score, result.matched, result.missing, result.mistakes)

    return PracticeService(
        bank=load_question_bank(settings) if bank is None else bank,
        store=SqlPracticeStore(engine),
        srs=Srs(desired_retention=settings.desired_retention),
        grade_free_text=grade,
        clock=utc_now,
        config=PracticeConfig(daily_new_cap=settings.daily_new_items, daily_review_cap=settings.daily_reviews),
    )


def build_practice(services: Services, bank: QuestionBank | None = None) -> PracticeService:
    return make_practice(services.settings, services.engine, services.embedder, bank)


def make_mastery(settings: Settings, engine: AsyncEngine, practice: PracticeService) -> MasteryService:
    """Assessments, awards and progress on the practice service's bank, store database and clock.

    Needs no knowledge index, so admin commands can run beside a bot that holds the embedded one.
    """
    from ingest.sources import concept_titles  # explainer titles from front matter; loaded on demand

    kdir = settings.knowledge_dir
    return MasteryService(
        practice=practice,
        store=SqlMasteryStore(engine),
        roadmap=load_roadmap(kdir),
        clock=practice.clock,
        private_items=private_item_ids(settings) & {i.id for i in practice.bank.items},
        concept_titles=concept_titles(kdir),
        review_stages=settings.milestone_review_stages,
    )


def build_mastery(services: Services, practice: PracticeService) -> MasteryService:
    return make_mastery(services.settings, services.engine, practice)


def mastery_gate(mastery: MasteryService) -> AnswerGate:
    """The mentor's gate: refuse while the learner behind a "platform:external_id" key is in an assessment."""

    async def gate(learner_key: str) -> str | None:
        platform, sep, external_id = learner_key.partition(":")
        if not sep:
            return None
        learner_id = await mastery.store.learner_by_identity(platform, external_id)
        return None if learner_id is None else await mastery.mentor_refusal(learner_id)

    return gate


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_mentor(services: Services, mastery: MasteryService | None = None) -> MentorService:
    """The mentor; with `mastery`, it refuses learners who are taking an assessment."""
    settings = services.settings
    threshold = settings.abstain_threshold
    from bot.llm import make_chat_model  # LangChain loads only when a mentor is built

    return MentorService(
        retriever=services.index,
        log=services.questions,
        clock=utc_now,
        chat_model=make_chat_model(settings),
        k=settings.search_k,
        abstain_threshold=DEFAULT_ABSTAIN_THRESHOLD if threshold is None else threshold,
        llm_timeout=settings.llm_timeout_seconds,
        gate=None if mastery is None else mastery_gate(mastery),
    )


async def purge_question_log(services: Services) -> int:
    """Apply the retention setting (0 keeps forever)."""
    days = services.settings.question_log_retention_days
    if days <= 0:
        return 0
    return await services.questions.purge_before(utc_now() - timedelta(days=days))
