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
    UniqueConstraint,
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

# --- practice (issue "Practice") -------------------------------------------------------------

learners = Table(
    "learners",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("display_name", String(200), nullable=True),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("goal", String(64), nullable=True),
    Column("hours_per_week", Float, nullable=True),
    Column("nudge_time", String(5), nullable=True),
    Column("track_start", UTCDateTime(), nullable=True),
)

identities = Table(
    "identities",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

cards = Table(
    "cards",
    metadata,
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", String(100), primary_key=True),
    Column("card_id", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("step", Integer, nullable=True),
    Column("stability", Float, nullable=True),
    Column("difficulty", Float, nullable=True),
    Column("due", UTCDateTime(), nullable=False),
    Column("last_review", UTCDateTime(), nullable=True),
    Column("concept", String(64), nullable=False),
    Index("ix_cards_learner_due", "learner_id", "due"),
)

quiz_sessions = Table(
    "quiz_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("status", String(16), nullable=False),
)

quiz_items = Table(
    "quiz_items",
    metadata,
    Column("session_id", String(64), ForeignKey("quiz_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("item_id", String(100), nullable=False),
    Column("params", Text, nullable=False, default="{}"),
    Column("option_order", Text, nullable=False, default="[]"),
    Column("attempt_id", Integer, nullable=True),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", String(100), nullable=False, index=True),
    Column("concept", String(64), nullable=False),
    Column("session_id", String(64), nullable=True),
    Column("position", Integer, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("answer", Text, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("rating", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("first_try", Boolean, nullable=False),
    Column("counts", Boolean, nullable=False),
    Column("platform", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_attempts_learner_created", "learner_id", "created_at"),
)

retired_items = Table(
    "retired_items",
    metadata,
    Column("item_id", String(100), primary_key=True),
    Column("retired_at", UTCDateTime(), nullable=False),
    Column("retired_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
)

item_flags = Table(
    "item_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(100), nullable=False, index=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="SET NULL"), nullable=True),
    Column("attempt_id", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(200), nullable=True),
    Column("note", Text, nullable=False, default="", server_default=""),
    Index("ix_item_flags_attempt_id", "attempt_id"),
)

# --- mastery (issue "Mastery") ----------------------------------------------------------------

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(64), ForeignKey("quiz_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("right", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("finished_at", UTCDateTime(), nullable=True),
)

awards = Table(
    "awards",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("awarded_at", UTCDateTime(), nullable=False),
    Column("source", String(16), nullable=False),
    Column("evidence", Text, nullable=False, default="[]"),  # JSON list of attempt ids
    Column("granted_by", String(200), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(200), nullable=True),
    Column("revoke_reason", Text, nullable=False, default=""),
    UniqueConstraint("learner_id", "stage"),
)

milestones = Table(
    "milestones",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("stage", String(64), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("writeup", Text, nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default="pending", index=True),
    Column("reviewer", String(200), nullable=True),
    Column("review_note", Text, nullable=False, default=""),
    Column("reviewed_at", UTCDateTime(), nullable=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("platform", String(32), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False, default="{}"),  # JSON object
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default="pending", index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("delivered_at", UTCDateTime(), nullable=True),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code_hash", String(128), primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

# No foreign key on learner_id: admin actions stay accountable after a learner is forgotten
# (forget_learner sets learner_id to NULL) or merged (merge_learners re-points it).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("learner_id", Integer, nullable=True, index=True),
    Column("stage", String(64), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("details", Text, nullable=False, default="{}"),  # JSON object
)
