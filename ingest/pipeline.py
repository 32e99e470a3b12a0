"""The ingest run: diff documents against the database, embed only what changed, switch atomically.

A run builds the next index generation (a new Chroma collection) beside the one that answers
queries: unchanged vectors are copied, new chunks embedded. Only then does one database
transaction replace the chunk rows and point at the new generation. A run that fails at any
earlier step leaves the old generation answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.models import Chunk, IndexState, SourceRecord
from bot.retrieval.chroma import COLLECTION_PREFIX, ChromaVectorIndex, collection_name
from bot.retrieval.embeddings import SentenceTransformerEmbedder
from bot.storage.knowledge import SourceWrite, SqlKnowledgeStore
from ingest.chunking import CHUNKER_VERSION, chunk_document, embedding_text
from ingest.documents import Document, LoadError
from ingest.sources import (
    BUNDLED_ROOT,
    ROADMAP_SOURCE,
    concept_titles,
    content_hash,
    is_url,
    load_bundled_roadmap,
    load_document,
    normalise_root,
    read_bytes,
    roadmap_documents,
    scan_root,
)

EMBED_BATCH = 128
Progress = Callable[[str, int, int], None]


class IngestError(RuntimeError):
    """The run cannot proceed at all (e.g. the embedding model changed without --rebuild)."""


@dataclass
class IngestReport:
    """What a run did, in documents and chunks."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    chunks_copied: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    generation: int | None = None
    switched: bool = False
    committed: bool = True
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


def _ref_of(source: str) -> str:
    return source.split("#", 1)[0]


@dataclass
class Ingestor:
    """Runs ingests against one database and one Chroma client with one embedding model."""

    store: SqlKnowledgeStore
    client: Any
    embedder: SentenceTransformerEmbedder
    knowledge_dir: Path
    url_timeout: float = 20.0
    url_max_bytes: int = 20_000_000

    async def run(
        self,
        targets: Sequence[str] | None = None,
        *,
        rebuild: bool = False,
        strict: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest `targets` (paths/URLs), or refresh the bundled knowledge and every known root."""
        started = time.perf_counter()
        report = IngestReport()
        state = await self.store.index_state()
        model = self.embedder.model_name
        if state is not None and state.embedding_model != model and not rebuild:
            raise IngestError(
                f"the index was built with embedding model {state.embedding_model!r} but "
                f"MENTOR_EMBEDDING_MODEL is now {model!r}: run `mentor ingest --rebuild` "
                "to re-embed everything with the new model"
            )
        old = {s.source: s for s in await self.store.sources()}
        explicit = targets is not None
        roots = (
            [normalise_root(t, self.knowledge_dir) for t in targets]
            if targets is not None
            else [
                BUNDLED_ROOT,
                *sorted({s.root for s in old.values() if s.root != BUNDLED_ROOT and not is_url(s.root)}),
            ]
        )
        docs, removed = await asyncio.to_thread(
            self._collect,
            roots,
            old,
            explicit,
            rebuild or (state is not None and state.chunker_version != CHUNKER_VERSION),
            report,
        )
        writes: list[SourceWrite] = []
        now = datetime.now(UTC)
        for doc in docs:
            chunks = chunk_document(doc, self.embedder.count_tokens, self.embedder.max_tokens)
            if not chunks:
                report.errors.append(f"{doc.source}: no text to index")
                report.failed += 1
                continue
            writes.append(SourceWrite(_record(doc, len(chunks), now), chunks))
            if doc.source in old:
                report.updated += 1
            else:
                report.added += 1
        report.deleted = len(removed)
        if strict and report.errors:
            report.committed = False
            report.notes.append("--strict: nothing was committed because some documents failed")
        elif writes or removed or rebuild or state is None:
            await self._commit(state, old, writes, removed, rebuild, report, progress)
        else:
            report.generation = state.generation
            report.chunks_total = await self.store.chunk_count()
        report.seconds = time.perf_counter() - started
        return report

    async def remove(self, target: str, progress: Progress | None = None) -> IngestReport:
        """Delete a source (by its id, its root folder/URL, or a path) from the index."""
        started = time.perf_counter()
        report = IngestReport()
        state = await self.store.index_state()
        old = {s.source: s for s in await self.store.sources()}
        root = normalise_root(target, self.knowledge_dir)
        removed = [s for s, rec in old.items() if target in (s, _ref_of(s)) or rec.root in (target, root) or s == root]
        if not removed:
            report.errors.append(f"{target}: no such source; see `mentor sources list`")
        else:
            report.deleted = len(removed)
            await self._commit(state, old, [], removed, False, report, progress)
        report.seconds = time.perf_counter() - started
        return report

    def _collect(
        self, roots: list[str], old: dict[str, SourceRecord], explicit: bool, force: bool, report: IngestReport
    ) -> tuple[list[Document], list[str]]:
        """Read every document under `roots`; return the changed ones and the removed source ids."""
        old_by_ref: dict[str, list[SourceRecord]] = defaultdict(list)
        for rec in old.values():
            old_by_ref[_ref_of(rec.source)].append(rec)
        seen: set[str] = set()
        scanned: set[str] = set()
        docs: list[Document] = []
        dropped: list[str] = []
        for root in roots:
            refs, notes, root_errors = scan_root(root, self.knowledge_dir)
            report.notes.extend(notes)
            if root_errors and not explicit and root != BUNDLED_ROOT:
                report.notes.append(f"{root}: no longer exists; its documents are removed from the index")
                scanned.add(root)
                continue
            for err in root_errors:
                report.errors.append(str(err))
                report.failed += 1
            if not root_errors:
                scanned.add(root)
            for ref in refs:
                seen.add(ref.source)
                try:
                    data, suffix = read_bytes(ref, self.url_timeout, self.url_max_bytes)
                    digest = content_hash(data)
                    previous = old_by_ref.get(ref.source, [])
                    if (
                        previous
                        and not force
                        and all(p.content_hash == digest and p.root == ref.root for p in previous)
                    ):
                        report.unchanged += 1
                        continue
                    roadmap = load_bundled_roadmap(self.knowledge_dir) if ref.source == ROADMAP_SOURCE else None
                    if roadmap is not None:
                        new = roadmap_documents(roadmap, ref.root, digest, concept_titles(self.knowledge_dir))
                    else:
                        new = load_document(ref, data, suffix, digest)
                except LoadError as exc:
                    report.errors.append(str(exc))
                    report.failed += 1
                    continue
                docs.extend(new)
                new_sources = {d.source for d in new}
                # e.g. a stage that disappeared from roadmap.yaml
                dropped.extend(p.source for p in previous if p.source not in new_sources)
        removed = [s for s, rec in old.items() if rec.root in scanned and _ref_of(s) not in seen]
        removed.extend(s for s in dropped if s not in removed)
        return docs, removed

    async def _commit(
        self,
        state: IndexState | None,
        old: dict[str, SourceRecord],
        writes: list[SourceWrite],
        removed: list[str],
        rebuild: bool,
        report: IngestReport,
        progress: Progress | None,
    ) -> None:
        replaced = {w.record.source for w in writes} | set(removed)
        kept_sources = [s for s in old if s not in replaced]
        kept = await self.store.chunks(kept_sources) if kept_sources else []
        new_chunks = [c for w in writes for c in w.chunks]
        final: list[Chunk] = kept + new_chunks
        old_ids = {c.id for c in kept}
        replaced_old = [s for s in replaced if s in old]
        if replaced_old:
            old_ids |= {c.id for c in await self.store.chunks(replaced_old)}
        generation = (state.generation if state else 0) + 1
        name = collection_name(generation)
        await asyncio.to_thread(self._drop_collection, name)
        try:
            dim, embedded, copied = await asyncio.to_thread(
                self._build_collection, name, state, final, old_ids, rebuild, progress
            )
            new_state = IndexState(
                generation=generation,
                collection=name,
                embedding_model=self.embedder.model_name,
                embedding_dim=dim,
                chunker_version=CHUNKER_VERSION,
                updated_at=datetime.now(UTC),
            )
            await self.store.switch_generation(
                new_state, writes, removed, expected_generation=state.generation if state else None
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._drop_collection, name)
            raise
        report.switched = True
        report.generation = generation
        report.chunks_embedded = embedded
        report.chunks_copied = copied
        report.chunks_total = len(final)
        report.chunks_deleted = len(old_ids - {c.id for c in final})
        await asyncio.to_thread(self._drop_stale_collections, name)

    def _build_collection(
        self,
        name: str,
        state: IndexState | None,
        final: list[Chunk],
        old_ids: set[str],
        rebuild: bool,
        progress: Progress | None,
    ) -> tuple[int, int, int]:
        index = ChromaVectorIndex.create(self.client, name)
        vectors: dict[str, np.ndarray] = {}
        if state is not None and not rebuild:
            reuse = [c.id for c in final if c.id in old_ids]
            if reuse:
                with contextlib.suppress(Exception):
                    old_index = ChromaVectorIndex.open(self.client, state.collection)
                    vectors = old_index.get_vectors(reuse)
        to_embed = [c for c in final if c.id not in vectors]
        copied = [c for c in final if c.id in vectors]
        dim = state.embedding_dim if state is not None and not rebuild else 0
        if copied:
            index.add(
                [c.id for c in copied],
                np.stack([vectors[c.id] for c in copied]),
                [_metadata(c) for c in copied],
                [c.text for c in copied],
            )
        total = len(to_embed)
        if progress:
            progress("embed", 0, total)
        for start in range(0, total, EMBED_BATCH):
            part = to_embed[start : start + EMBED_BATCH]
            vecs = self.embedder.encode([embedding_text(c.title, c.text) for c in part])
            dim = vecs.shape[1]
            index.add([c.id for c in part], vecs, [_metadata(c) for c in part], [c.text for c in part])
            if progress:
                progress("embed", start + len(part), total)
        if index.count() != len(final):
            raise IngestError(f"index build incomplete: {index.count()} of {len(final)} vectors")
        if dim == 0:
            dim = self.embedder.dim
        return dim, total, len(copied)

    def _drop_collection(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.client.delete_collection(name)

    def _drop_stale_collections(self, keep: str) -> None:
        for col in self.client.list_collections():
            col_name = getattr(col, "name", col)
            if str(col_name).startswith(COLLECTION_PREFIX) and col_name != keep:
                self._drop_collection(str(col_name))


def _metadata(c: Chunk) -> dict[str, str]:
    return {"stage": c.stage, "concept": c.concept, "source": c.source, "title": c.title, "kind": c.kind}


def _record(doc: Document, count: int, now: datetime) -> SourceRecord:
    return SourceRecord(
        source=doc.source,
        root=doc.root,
        kind=doc.kind,
        stage=doc.stage,
        concept=doc.concept,
        title=doc.title[:500],
        content_hash=doc.content_hash,
        chunk_count=count,
        ingested_at=now,
    )


async def pending_bundled_changes(store: SqlKnowledgeStore, knowledge_dir: Path) -> list[str]:
    """Bundled files that are new, changed or gone since the last ingest (no model needed)."""
    old_by_ref: dict[str, list[SourceRecord]] = defaultdict(list)
    for rec in await store.sources():
        if rec.root == BUNDLED_ROOT:
            old_by_ref[_ref_of(rec.source)].append(rec)
    refs, _, _ = await asyncio.to_thread(scan_root, BUNDLED_ROOT, knowledge_dir)
    pending: list[str] = []
    for ref in refs:
        previous = old_by_ref.pop(ref.source, [])
        try:
            data = await asyncio.to_thread(ref.path.read_bytes) if ref.path else b""
        except OSError:
            continue
        if not previous:
            pending.append(f"new: {ref.source}")
        elif any(p.content_hash != content_hash(data) for p in previous):
            pending.append(f"changed: {ref.source}")
    pending.extend(f"removed: {ref}" for ref in sorted(old_by_ref))
    return pending
