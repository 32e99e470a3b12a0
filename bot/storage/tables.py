"""Table definitions (SQLAlchemy Core metadata shared by repositories and Alembic)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from bot.storage.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

sources = Table(
    "sources",
    metadata,
    Column("source", String(2000), primary_key=True),
    Column("root", String(2000), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("stage", String(64), nullable=False, default=""),
    Column("concept", String(64), nullable=False, default=""),
    Column("title", String(500), nullable=False, default=""),
    Column("content_hash", String(64), nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
)

chunks = Table(
    "chunks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "source",
        String(2000),
        ForeignKey("sources.source", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("ordinal", Integer, nullable=False),
    Column("stage", String(64), nullable=False, default=""),
    Column("concept", String(64), nullable=False, default=""),
    Column("title", String(1000), nullable=False, default=""),
    Column("kind", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_chunks_source_ordinal", "source", "ordinal"),
)

index_state = Table(
    "index_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("collection", String(200), nullable=False),
    Column("embedding_model", String(500), nullable=False),
    Column("embedding_dim", Integer, nullable=False),
    Column("chunker_version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

question_log = Table(
    "question_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asked_at", UTCDateTime(), nullable=False, index=True),
    Column("learner_key", String(200), nullable=True, index=True),
    Column("platform", String(32), nullable=False),
    Column("question", Text, nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("top_score", Float, nullable=True),
    Column("scores", Text, nullable=False, default="[]"),
    Column("cited_chunks", Text, nullable=False, default="[]"),
    Column("mode", String(32), nullable=False, default="extractive"),
    Column("feedback", Integer, nullable=True),
    Column("feedback_at", UTCDateTime(), nullable=True),
)
