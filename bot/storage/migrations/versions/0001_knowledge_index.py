"""knowledge index: sources, chunks, index state, question log

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = bot.storage.db.UTCDateTime()
    op.create_table(
        "sources",
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("root", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("concept", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("ingested_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_sources")),
    )
    op.create_index(op.f("ix_sources_root"), "sources", ["root"])
    op.create_table(
        "chunks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("concept", sa.String(64), nullable=False),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source"],
            ["sources.source"],
            name=op.f("fk_chunks_source_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chunks")),
    )
    op.create_index("ix_chunks_source_ordinal", "chunks", ["source", "ordinal"])
    op.create_table(
        "index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("collection", sa.String(200), nullable=False),
        sa.Column("embedding_model", sa.String(500), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.Column("chunker_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_state")),
    )
    op.create_table(
        "question_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asked_at", utc, nullable=False),
        sa.Column("learner_key", sa.String(200), nullable=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("cited_chunks", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("feedback", sa.Integer(), nullable=True),
        sa.Column("feedback_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_log")),
    )
    op.create_index(op.f("ix_question_log_asked_at"), "question_log", ["asked_at"])
    op.create_index(op.f("ix_question_log_learner_key"), "question_log", ["learner_key"])


def downgrade() -> None:
    op.drop_table("question_log")
    op.drop_table("index_state")
    op.drop_index("ix_chunks_source_ordinal", table_name="chunks")
    op.drop_table("chunks")
    op.drop_index(op.f("ix_sources_root"), table_name="sources")
    op.drop_table("sources")
