"""A `mentor ingest` killed with SIGKILL mid-run leaves the previous index answering."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.retrieval.chroma import COLLECTION_PREFIX
from tests.integration.conftest import Bundled, _ingest, _retriever

MENTOR = str(Path(sys.executable).parent / "mentor")


def test_sigkill_during_ingest_keeps_the_old_generation(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "keep.md").write_text(
        "# Momentum\n\nMomentum smooths stochastic gradient descent by averaging past gradients."
    )
    first = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    # Enough new text that embedding takes a while, so the kill lands mid-run.
    for n in range(60):
        body = "\n\n".join(
            f"Paragraph {n}.{p}: notes on topic {n} with detail {p} about gradients and losses." * 6 for p in range(12)
        )
        (docs / f"bulk{n:02d}.md").write_text(f"# Bulk {n}\n\n{body}")
    env = {
        **os.environ,
        "MENTOR_DATA_DIR": str(fresh.settings.data_dir),
        "MENTOR_KNOWLEDGE_DIR": str(fresh.settings.knowledge_dir),
        "HF_HUB_OFFLINE": "1",
    }
    segments_before = {p.name for p in fresh.settings.chroma_dir.iterdir() if p.is_dir()}
    proc = subprocess.Popen(
        [MENTOR, "ingest", str(docs), "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    collection_dir = fresh.settings.chroma_dir
    deadline = time.monotonic() + 120
    # Wait until the run has started writing the next generation (a new segment folder appears),
    # then kill it without warning. Only the file system is watched: this process must not open
    # the index while the ingest process has it.
    while time.monotonic() < deadline and proc.poll() is None:
        segments = {p.name for p in fresh.settings.chroma_dir.iterdir() if p.is_dir()}
        if segments - segments_before:
            time.sleep(1.0)
            break
        time.sleep(0.1)
    assert proc.poll() is None, "ingest finished before it could be killed; make the bulk larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert collection_dir.exists()
    retriever = asyncio.run(_retriever(fresh.settings, fresh.client, fresh.embedder))
    assert retriever.generation == first.generation
    assert retriever.search("averaging past gradients", k=1)[0].chunk.source == str(docs / "keep.md")
    # The next run finishes the job and removes the orphaned half-built collection.
    done = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    assert done.switched and done.added == 60 and done.errors == []
    assert [c.name for c in fresh.client.list_collections()] == [f"{COLLECTION_PREFIX}{done.generation}"]
