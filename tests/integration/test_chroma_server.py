"""With MENTOR_CHROMA_URL, ingest runs beside a live bot against a real `chroma run` server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import acquire_index, prepare_database
from bot.retrieval.chroma import make_client
from bot.retrieval.index import KnowledgeIndex
from bot.storage.db import create_engine
from bot.storage.knowledge import SqlKnowledgeStore
from tests.conftest import make_settings

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            str(BIN / "chroma"),
            "run",
            "--path",
            str(tmp_path / "chroma-server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ingest(env: dict[str, str], target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mentor"), "ingest", str(target), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bot_and_ingest_share_a_chroma_server(chroma_url: str, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "data", chroma_url=chroma_url)
    prepare_database(settings)
    asyncio.run(_scenario(settings, chroma_url, tmp_path, embedder))


async def _scenario(settings, chroma_url: str, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    assert acquire_index(settings, "bot") is None  # no single-opener lock with a server
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Momentum\n\nMomentum averages past gradients to smooth SGD.")
    env = {
        **os.environ,
        "MENTOR_DATA_DIR": str(settings.data_dir),
        "MENTOR_CHROMA_URL": chroma_url,
        "HF_HUB_OFFLINE": "1",
    }
    assert (await asyncio.to_thread(_ingest, env, docs)).returncode == 0
    engine = create_engine(settings.effective_database_url)
    try:
        index = KnowledgeIndex(SqlKnowledgeStore(engine), make_client(chroma_url, ""), embedder)
        await index.refresh()
        first = index.generation
        assert (await index.search("averaging gradients", k=1))[0].chunk.source == str(docs / "a.md")
        # A second ingest while this "bot" is running: no refusal, and the bot switches over.
        (docs / "b.md").write_text("# Adam\n\nAdam tracks running averages of squared gradients too.")
        second = await asyncio.to_thread(_ingest, env, docs)
        assert second.returncode == 0, second.stderr
        assert await index.refresh()
        assert index.generation == (first or 0) + 1
        assert (await index.search("squared gradients adam", k=1))[0].chunk.source == str(docs / "b.md")
    finally:
        await engine.dispose()
