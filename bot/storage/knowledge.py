"""Repository for ingested sources, their chunks and the active index generation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import Chunk, IndexState, SourceRecord
from bot.storage import tables as t

INSERT_BATCH = 500


@dataclass(frozen=True)
class SourceWrite:
    """A source and its full chunk list, to be written in one generation switch."""

    record: SourceRecord
    chunks: Sequence[Chunk]


def _chunk(row: object) -> Chunk:
    m = row._mapping  # type: ignore[attr-defined]
    return Chunk(
        id=m["id"],
        source=m["source"],
        ordinal=m["ordinal"],
        stage=m["stage"],
        concept=m["concept"],
        title=m["title"],
        kind=m["kind"],
        text=m["text"],
    )


def _chunk_row(c: Chunk) -> dict[str, object]:
    return {
        "id": c.id,
        "source": c.source,
        "ordinal": c.ordinal,
        "stage": c.stage,
        "concept": c.concept,
        "title": c.title,
        "kind": c.kind,
        "text": c.text,
    }


class SqlKnowledgeStore:
    """Sources, chunks and index state in SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def index_state(self) -> IndexState | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.index_state).where(t.index_state.c.id == 1))).first()
        if row is None:
            return None
        m = row._mapping
        return IndexState(
            generation=m["generation"],
            collection=m["collection"],
            embedding_model=m["embedding_model"],
            embedding_dim=m["embedding_dim"],
            chunker_version=m["chunker_version"],
            updated_at=m["updated_at"],
        )

    async def sources(self) -> list[SourceRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.sources).order_by(t.sources.c.source))).all()
        return [SourceRecord(**dict(r._mapping)) for r in rows]

    async def chunks(self, sources: Iterable[str] | None = None) -> list[Chunk]:
        """All chunks (or those of `sources`), ordered by source and position."""
        query = select(t.chunks).order_by(t.chunks.c.source, t.chunks.c.ordinal)
        wanted = list(sources) if sources is not None else None
        async with self.engine.connect() as conn:
            if wanted is None:
                rows = (await conn.execute(query)).all()
            else:
                rows = []
                for start in range(0, len(wanted), INSERT_BATCH):
                    part = wanted[start : start + INSERT_BATCH]
                    rows.extend((await conn.execute(query.where(t.chunks.c.source.in_(part)))).all())
        return [_chunk(r) for r in rows]

    async def chunk_count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(t.chunks))).scalar_one())

    async def switch_generation(
        self,
        state: IndexState,
        writes: Sequence[SourceWrite],
        removed: Sequence[str],
        expected_generation: int | None,
    ) -> None:
        """Replace the given sources' rows and point at `state`, in one transaction.

        `expected_generation` guards against two writers: the switch fails with
        `StaleGenerationError` if another run switched first.
        """
        replaced = [w.record.source for w in writes] + list(removed)
        async with self.engine.begin() as conn:
            current = (
                await conn.execute(select(t.index_state.c.generation).where(t.index_state.c.id == 1))
            ).scalar_one_or_none()
            if current != expected_generation:
                raise StaleGenerationError(
                    f"index generation changed under this run ({expected_generation} -> {current})"
                )
            for start in range(0, len(replaced), INSERT_BATCH):
                part = replaced[start : start + INSERT_BATCH]
                await conn.execute(delete(t.chunks).where(t.chunks.c.source.in_(part)))
                await conn.execute(delete(t.sources).where(t.sources.c.source.in_(part)))
            source_rows = [vars(w.record) for w in writes]
            if source_rows:
                await conn.execute(insert(t.sources), source_rows)
            chunk_rows = [_chunk_row(c) for w in writes for c in w.chunks]
            for start in range(0, len(chunk_rows), INSERT_BATCH):
                await conn.execute(insert(t.chunks), chunk_rows[start : start + INSERT_BATCH])
            values = {
                "generation": state.generation,
                "collection": state.collection,
                "embedding_model": state.embedding_model,
                "embedding_dim": state.embedding_dim,
                "chunker_version": state.chunker_version,
                "updated_at": state.updated_at,
            }
            if current is None:
                await conn.execute(insert(t.index_state), {"id": 1, **values})
            else:
                await conn.execute(update(t.index_state).where(t.index_state.c.id == 1).values(**values))


class StaleGenerationError(RuntimeError):
    """Another ingest run switched the index first."""
