"""Ingestion with the real model, real Chroma and real SQLite."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.retrieval.chroma import COLLECTION_PREFIX
from ingest.chunking import embedding_text
from ingest.pipeline import IngestError
from tests.integration.conftest import Bundled, _ingest, _retriever

GOOD_MD = """---
title: Gradient clipping notes
kind: resource
---
# Gradient clipping

## Why clip
Exploding gradients make the loss jump to NaN; clipping the global norm keeps each update bounded.

## How
Call torch.nn.utils.clip_grad_norm_ after backward and before the optimizer step.
"""


def test_bundled_knowledge_is_indexed_without_the_question_bank(bundled: Bundled) -> None:
    report = bundled.report
    assert report.errors == []
    assert report.switched and report.chunks_total > 300
    sources = {c.source for c in bundled.retriever.chunks}
    assert any(s.startswith("knowledge/concepts/classical-ml/") for s in sources)
    assert any(s.startswith("knowledge/roadmap.yaml#") for s in sources)
    assert not any("questions" in s for s in sources)
    kinds = {c.kind for c in bundled.retriever.chunks}
    assert {"concept", "roadmap", "career", "faq", "tip"} <= kinds


def test_every_chunk_fits_the_model_limit(bundled: Bundled) -> None:
    worst = max(bundled.embedder.count_tokens(embedding_text(c.title, c.text)) for c in bundled.retriever.chunks)
    assert worst + 2 <= 256


def test_second_ingest_run_changes_nothing(bundled: Bundled) -> None:
    again = asyncio.run(_ingest(bundled.settings, bundled.client, bundled.embedder))
    assert (again.added, again.updated, again.deleted, again.chunks_embedded) == (0, 0, 0, 0)
    assert not again.switched
    assert again.unchanged > 30
    assert again.generation == bundled.report.generation


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_changed_and_deleted_files_touch_only_their_chunks(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs, "a.md", GOOD_MD)
    _write(
        docs, "b.txt", "Batch normalization normalises activations per mini-batch.\n\nIt allows higher learning rates."
    )
    first = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    assert first.added == 2 and first.errors == []
    _write(docs, "b.txt", "Layer normalization normalises across features, not the batch.")
    second = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    assert second.updated == 1 and second.unchanged == 1
    assert second.chunks_embedded == 1 and second.chunks_copied == first.chunks_total - 1
    (docs / "a.md").unlink()
    third = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    assert third.deleted == 1 and third.chunks_embedded == 0
    retriever = asyncio.run(_retriever(fresh.settings, fresh.client, fresh.embedder))
    assert {c.source for c in retriever.chunks} == {str(docs / "b.txt")}
    names = [c.name for c in fresh.client.list_collections()]
    assert names == [f"{COLLECTION_PREFIX}{third.generation}"]


def test_bad_files_are_named_and_skipped_and_strict_commits_nothing(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs, "good.md", GOOD_MD)
    _write(docs, "broken.md", "---\ntitle: [unclosed\nkind: resource\n---\n# x\n\ntext here\n")
    _write(docs, "empty.md", "   \n")
    (docs / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    strict = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)], strict=True))
    assert not strict.committed and not strict.switched
    assert strict.exit_code == 1
    lenient = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    assert lenient.exit_code == 1 and lenient.added == 1
    joined = "\n".join(lenient.errors)
    assert f"{docs / 'broken.md'}:3: invalid YAML" in joined  # the line where the parser stopped
    assert f"{docs / 'empty.md'}: empty file" in joined
    assert "binary.txt" in joined and ("UTF-8" in joined or "binary" in joined)


def test_unsupported_and_missing_targets_get_one_clear_message(fresh: Bundled, tmp_path: Path) -> None:
    docx = _write(tmp_path, "notes.docx", "x")
    report = asyncio.run(
        _ingest(
            fresh.settings, fresh.client, fresh.embedder, [str(docx), str(tmp_path / "nope.md"), "http://127.0.0.1:9/x"]
        )
    )
    assert len(report.errors) == 3
    assert "unsupported file type .docx" in report.errors[0]
    assert "no such file or directory" in report.errors[1]
    assert "unreachable" in report.errors[2]


def test_a_failed_ingest_leaves_the_old_index_serving(
    fresh: Bundled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    _write(docs, "a.md", GOOD_MD)
    first = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    _write(docs, "c.md", "# Weight decay\n\nWeight decay adds an L2 penalty on the weights to the loss.")

    def broken_encode(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("simulated crash while embedding")

    monkeypatch.setattr(fresh.embedder, "encode", broken_encode)
    with pytest.raises(RuntimeError, match="simulated crash"):
        asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    monkeypatch.undo()
    retriever = asyncio.run(_retriever(fresh.settings, fresh.client, fresh.embedder))
    assert retriever.generation == first.generation
    assert [h.chunk.source for h in retriever.search("how do I clip exploding gradients", k=1)] == [str(docs / "a.md")]
    assert [c.name for c in fresh.client.list_collections()] == [f"{COLLECTION_PREFIX}{first.generation}"]


def test_changing_the_embedding_model_asks_for_rebuild(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs, "a.md", GOOD_MD)
    asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    original = fresh.embedder.model_name
    fresh.embedder.model_name = "sentence-transformers/all-MiniLM-L6-v2"
    try:
        with pytest.raises(IngestError, match="--rebuild"):
            asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
        rebuilt = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)], rebuild=True))
        assert rebuilt.switched and rebuilt.chunks_embedded == rebuilt.chunks_total
    finally:
        fresh.embedder.model_name = original


def test_identical_text_in_two_documents_gets_two_ids(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    same = "# Note\n\nStandardise features before fitting a distance-based model."
    _write(docs, "one.md", same)
    _write(docs, "two.md", same)
    report = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(docs)]))
    assert report.chunks_total == 2 and report.errors == []


def test_folder_metadata_and_formats(fresh: Bundled, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "deep-learning" / "cnns"
    _write(docs, "pooling.rst", "Pooling\n=======\n\nMax pooling keeps the largest activation in each window.\n")
    _write(
        docs,
        "page.html",
        "<html><head><title>Strides</title></head><body><nav>menu</nav><main><h1>Strides</h1>"
        "<p>A stride of two halves the output size of a convolution.</p></main><script>x()</script></body></html>",
    )
    report = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [str(tmp_path / "docs")]))
    assert report.errors == [] and report.added == 2
    retriever = asyncio.run(_retriever(fresh.settings, fresh.client, fresh.embedder))
    assert {(c.stage, c.concept, c.kind) for c in retriever.chunks} == {("deep-learning", "cnns", "resource")}
    assert all("menu" not in c.text and "x()" not in c.text for c in retriever.chunks)


def test_url_ingest_from_a_local_server(fresh: Bundled, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _write(
        site,
        "guide.html",
        "<html><title>Early stopping</title><body><h1>Early stopping</h1>"
        "<p>Stop training when the validation loss has not improved for a few epochs.</p></body></html>",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/guide.html"
        report = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [url]))
        missing = asyncio.run(_ingest(fresh.settings, fresh.client, fresh.embedder, [url.replace("guide", "gone")]))
    finally:
        server.shutdown()
        server.server_close()
    assert report.added == 1 and report.errors == []
    assert missing.errors and "HTTP 404" in missing.errors[0]
    retriever = asyncio.run(_retriever(fresh.settings, fresh.client, fresh.embedder))
    assert retriever.search("when to stop training", k=1)[0].chunk.source == url
