"""Benchmark corpora: the bundled knowledge ingested for real, and large synthetic corpora built from it.

A synthetic corpus reuses the real chunk vectors (plus seeded Gaussian noise, re-normalised) and
the real chunk texts (with a few words replaced or swapped from a seeded vocabulary), so that
neither vectors nor BM25 statistics are degenerate, and no corpus text is ever embedded: only
the benchmark queries go through the model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.app import make_embedder, prepare_database
from bot.config import Settings
from bot.core.models import Chunk
from bot.retrieval.chroma import ChromaVectorIndex, make_client
from bot.retrieval.embeddings import SentenceTransformerEmbedder
from bot.retrieval.hybrid import HybridRetriever
from bot.storage.db import create_engine
from bot.storage.knowledge import SqlKnowledgeStore
from ingest.pipeline import Ingestor, IngestReport

DEFAULT_SEED = 20240601
# Per-component standard deviation of the noise added to each 384-d unit vector before
# re-normalising: 0.05 keeps a synthetic vector at cosine ≈ 0.7 from the real one it copies.
DEFAULT_NOISE = 0.05
CHROMA_ADD_BATCH = 4096
_WORD = re.compile(r"[A-Za-z]{3,}")
_SPACE = re.compile(r"(\s+)")


def warm_embedder(settings: Settings, full_batch: bool = False) -> tuple[SentenceTransformerEmbedder, float]:
    """The configured embedder with its model loaded and run once; returns the load seconds.

    `full_batch` warms it with a whole batch of chunk-sized texts (for throughput measurements,
    so that the first timed batch pays no one-off allocation cost); otherwise with a few queries.
    """
    embedder = make_embedder(settings)
    started = time.perf_counter()
    _ = embedder.model
    load = time.perf_counter() - started
    if full_batch:
        text = " ".join(["gradient descent nudges every weight against its loss gradient."] * 18)
        embedder.encode([text] * embedder.batch_size)
    else:
        embedder.encode(["warm-up: why does my model overfit?"] * 4)
    return embedder, load


def make_ingestor(
    settings: Settings, store: SqlKnowledgeStore, client: Any, embedder: SentenceTransformerEmbedder
) -> Ingestor:
    """An Ingestor wired like `run_ingest` does, but with a caller-supplied (warm) embedder."""
    return Ingestor(
        store=store,
        client=client,
        embedder=embedder,
        knowledge_dir=settings.knowledge_dir,
        url_timeout=settings.url_timeout_seconds,
        url_max_bytes=settings.url_max_bytes,
    )


@dataclass(frozen=True)
class RealCorpus:
    """Chunks as stored after an ingest, with their vectors (row i belongs to chunks[i])."""

    chunks: list[Chunk]
    vectors: np.ndarray
    report: IngestReport
    ingest_seconds: float
    ingest_cpu_seconds: float

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


async def _ingest_and_read(
    settings: Settings, client: Any, embedder: SentenceTransformerEmbedder, targets: Sequence[str] | None
) -> RealCorpus:
    engine = create_engine(settings.effective_database_url)
    try:
        store = SqlKnowledgeStore(engine)
        ingestor = make_ingestor(settings, store, client, embedder)
        cpu = time.process_time()
        started = time.perf_counter()
        report = await ingestor.run(list(targets) if targets is not None else None)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        if report.errors:
            raise RuntimeError(f"ingest failed: {report.errors}")
        chunks = await store.chunks()
        state = await store.index_state()
    finally:
        await engine.dispose()
    if state is None or not chunks:
        raise RuntimeError("ingest produced no index")
    index = ChromaVectorIndex.open(client, state.collection)
    found = await asyncio.to_thread(index.get_vectors, [c.id for c in chunks])
    vectors = np.stack([found[c.id] for c in chunks]).astype(np.float32)
    return RealCorpus(chunks, vectors, report, seconds, cpu_seconds)


def ingest_real(
    settings: Settings, client: Any, embedder: SentenceTransformerEmbedder, targets: Sequence[str] | None
) -> RealCorpus:
    """Migrate the (fresh) database, ingest `targets` (None: the bundled knowledge), read it back."""
    prepare_database(settings)
    return asyncio.run(_ingest_and_read(settings, client, embedder, targets))


def open_client(settings: Settings) -> Any:
    """The embedded (persistent) Chroma client of `settings`' data dir, as the bot uses it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_client(None, str(settings.chroma_dir))


@dataclass(frozen=True)
class SyntheticCorpus:
    chunks: list[Chunk]
    vectors: np.ndarray
    mean_cosine_to_source: float


def _vocabulary(chunks: Sequence[Chunk]) -> list[str]:
    return sorted({w.lower() for c in chunks for w in _WORD.findall(c.text)})


def _perturb(text: str, rng: np.random.Generator, vocab: Sequence[str]) -> str:
    """`text` with ~4% of its words (at least 3) replaced from `vocab` or swapped with a neighbour."""
    parts = _SPACE.split(text)
    words = [i for i in range(0, len(parts), 2) if parts[i]]
    if len(words) < 2:
        return f"{text} {vocab[int(rng.integers(len(vocab)))]}"
    count = min(len(words) - 1, 3 + len(words) // 25)
    for n, pick in enumerate(rng.choice(len(words) - 1, size=count, replace=False)):
        i = words[int(pick)]
        if n % 2 == 0:
            parts[i] = vocab[int(rng.integers(len(vocab)))]
        else:
            j = words[int(pick) + 1]
            parts[i], parts[j] = parts[j], parts[i]
    return "".join(parts)


def synthesise(
    real: RealCorpus,
    size: int,
    seed: int = DEFAULT_SEED,
    noise: float = DEFAULT_NOISE,
) -> SyntheticCorpus:
    """`size` chunks: chunk j copies real chunk j mod n (same metadata, perturbed text, noisy vector).

    Deterministic for a given (real corpus, size, seed, noise).
    """
    rng = np.random.default_rng([seed, size])
    n_real = len(real.chunks)
    source_rows = np.arange(size) % n_real
    sources = real.vectors[source_rows]
    vectors = sources + np.float32(noise) * rng.standard_normal(sources.shape, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = float(np.mean(np.sum(vectors * sources, axis=1)))
    vocab = _vocabulary(real.chunks)
    width = len(str(size))
    chunks = []
    for j, row in enumerate(source_rows):
        base = real.chunks[int(row)]
        chunks.append(
            Chunk(
                id=f"syn{size}-{j:0{width}d}",
                source=base.source,
                ordinal=base.ordinal,
                stage=base.stage,
                concept=base.concept,
                title=base.title,
                kind=base.kind,
                text=_perturb(base.text, rng, vocab),
            )
        )
    return SyntheticCorpus(chunks, vectors.astype(np.float32), round(cosine, 4))


def chunk_metadata(c: Chunk) -> dict[str, str]:
    """The Chroma metadata the ingest pipeline stores with each vector."""
    return {"stage": c.stage, "concept": c.concept, "source": c.source, "title": c.title, "kind": c.kind}


@dataclass
class BuiltCorpus:
    """A synthetic corpus loaded into its own Chroma collection, with its retriever."""

    name: str
    retriever: HybridRetriever
    timings: dict[str, float]
    mean_cosine_to_source: float


def build_corpus(
    client: Any,
    embedder: SentenceTransformerEmbedder,
    real: RealCorpus,
    size: int,
    seed: int = DEFAULT_SEED,
    noise: float = DEFAULT_NOISE,
) -> BuiltCorpus:
    """Synthesise `size` chunks, batch-add them to a new collection, build the hybrid retriever."""
    name = f"bench_{size}"
    t0 = time.perf_counter()
    corpus = synthesise(real, size, seed, noise)
    t1 = time.perf_counter()
    with contextlib.suppress(Exception):
        client.delete_collection(name)
    index = ChromaVectorIndex.create(client, name)
    max_batch = getattr(client, "get_max_batch_size", lambda: CHROMA_ADD_BATCH)()
    index.add(
        [c.id for c in corpus.chunks],
        corpus.vectors,
        [chunk_metadata(c) for c in corpus.chunks],
        [c.text for c in corpus.chunks],
        batch_size=min(CHROMA_ADD_BATCH, int(max_batch)),
    )
    if index.count() != size:
        raise RuntimeError(f"collection {name} holds {index.count()} vectors, expected {size}")
    t2 = time.perf_counter()
    retriever = HybridRetriever.build(embedder, index, corpus.chunks)
    t3 = time.perf_counter()
    timings = {
        "synthesise_seconds": round(t1 - t0, 3),
        "chroma_add_seconds": round(t2 - t1, 3),
        "retriever_build_seconds": round(t3 - t2, 3),
        "total_seconds": round(t3 - t0, 3),
    }
    return BuiltCorpus(name, retriever, timings, corpus.mean_cosine_to_source)


def drop_corpus(client: Any, built: BuiltCorpus) -> None:
    with contextlib.suppress(Exception):
        client.delete_collection(built.name)


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", help="comma-separated synthetic corpus sizes, e.g. 1000,10000")
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE, help="per-component vector noise")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of vector noise and text edits")


def sizes_of(args: argparse.Namespace, full: tuple[int, ...], quick: tuple[int, ...]) -> tuple[int, ...]:
    if args.sizes:
        return tuple(int(s) for s in args.sizes.split(","))
    return quick if args.quick else full


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)
