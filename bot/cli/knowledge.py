"""`mentor ingest`, `mentor search`, `mentor sources ...`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.app import IndexBusyError, make_embedder, open_services, prepare_database
from bot.cli.common import database, err, fail, out, print_json, settings_of
from bot.config import Settings
from bot.core.content import STAGE_IDS
from bot.retrieval.chroma import make_client
from bot.retrieval.index import IndexUnavailableError
from bot.retrieval.locks import LockHeldError, ingest_lock
from bot.storage.knowledge import SqlKnowledgeStore
from ingest.pipeline import IngestError, Ingestor, IngestReport

sources_app = typer.Typer(help="List or remove ingested sources.", no_args_is_help=True)


@contextlib.contextmanager
def _progress_bar(show: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr for the embedding phase (hidden with --json)."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not show,
    ) as bar:
        task = bar.add_task("embedding chunks", total=None)

        def progress(_phase: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


async def run_ingest(
    settings: Settings,
    targets: list[str] | None,
    *,
    rebuild: bool = False,
    strict: bool = False,
    show_progress: bool = True,
    remove: str | None = None,
) -> IngestReport:
    """Ingest under the ingest lock (and the index lock when Chroma is embedded)."""
    from bot.app import acquire_index

    try:
        lock = ingest_lock(settings.data_dir).acquire()
    except LockHeldError as exc:
        raise IngestError(f"another ingest is running ({exc.holder}); wait for it to finish") from exc
    try:
        index = acquire_index(settings, "mentor ingest")
        try:
            async with database(settings) as engine:
                ingestor = Ingestor(
                    store=SqlKnowledgeStore(engine),
                    client=make_client(settings.chroma_url, str(settings.chroma_dir)),
                    embedder=make_embedder(settings),
                    knowledge_dir=settings.knowledge_dir,
                    url_timeout=settings.url_timeout_seconds,
                    url_max_bytes=settings.url_max_bytes,
                )
                with _progress_bar(show_progress) as progress:
                    if remove is not None:
                        return await ingestor.remove(remove, progress)
                    return await ingestor.run(targets, rebuild=rebuild, strict=strict, progress=progress)
        finally:
            if index is not None:
                index.release()
    finally:
        lock.release()


def print_report(report: IngestReport) -> None:
    for note in report.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    for error in report.errors:
        err.print(f"[red]failed:[/] {error}", highlight=False)
    status = "committed" if report.committed else "NOT committed"
    out.print(
        f"documents: {report.added} added, {report.updated} updated, {report.deleted} deleted, "
        f"{report.unchanged} unchanged, {report.failed} failed | chunks: {report.chunks_embedded} embedded, "
        f"{report.chunks_copied} copied, {report.chunks_deleted} deleted, {report.chunks_total} total | "
        f"generation {report.generation} ({status}) | {report.seconds:.2f} s",
        highlight=False,
    )


def ingest(
    ctx: typer.Context,
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders or http(s) URLs. None: refresh the bundled knowledge and every known source."
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-embed everything (needed after changing the embedding model).")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Commit nothing when any document fails.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add or refresh documents in the knowledge index (embeds only what changed)."""
    settings = settings_of(ctx)
    prepare_database(settings)
    try:
        report = asyncio.run(
            run_ingest(settings, targets or None, rebuild=rebuild, strict=strict, show_progress=not as_json)
        )
    except (IngestError, IndexBusyError) as exc:
        fail(str(exc))
    if as_json:
        print_json(report.as_json())
    else:
        print_report(report)
    raise typer.Exit(report.exit_code)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many hits.")] = 5,
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage's chunks.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as a JSON list.")] = False,
) -> None:
    """Hybrid (dense + BM25) search over the knowledge index."""
    settings = settings_of(ctx)
    if stage is not None and stage not in STAGE_IDS:
        fail(f"unknown stage {stage!r}; use one of: {', '.join(STAGE_IDS)}")
    prepare_database(settings)

    async def go() -> list[dict[str, object]]:
        async with open_services(settings, "mentor search") as services:
            hits = await services.index.search(query, k=k, stage=stage)
            return [h.as_json() for h in hits]

    try:
        hits = asyncio.run(go())
    except (IndexBusyError, IndexUnavailableError) as exc:
        fail(str(exc))
    if as_json:
        print_json(hits)
        return
    if not hits:
        out.print("No matching passages.")
    for n, hit in enumerate(hits, start=1):
        out.print(
            f"[bold]{n}. {hit['title']}[/]  [dim]{hit['source']} · {hit['stage'] or '-'} · score {hit['score']:.4f}[/]"
        )
        text = str(hit["text"])
        out.print(text[:400] + ("…" if len(text) > 400 else ""), highlight=False)
        out.print()


@sources_app.command("list")
def sources_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List ingested documents with their chunk counts."""
    settings = settings_of(ctx)
    prepare_database(settings)

    async def go() -> list[dict[str, object]]:
        async with database(settings) as engine:
            records = await SqlKnowledgeStore(engine).sources()
        return [
            {
                "source": r.source,
                "root": r.root,
                "kind": r.kind,
                "stage": r.stage,
                "concept": r.concept,
                "title": r.title,
                "chunks": r.chunk_count,
                "ingested_at": r.ingested_at.isoformat(),
            }
            for r in records
        ]

    rows = asyncio.run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("source", "kind", "stage", "concept", "chunks", "ingested (UTC)")
    for r in rows:
        table.add_row(
            str(r["source"]),
            str(r["kind"]),
            str(r["stage"]),
            str(r["concept"]),
            str(r["chunks"]),
            str(r["ingested_at"])[:19],
        )
    out.print(table)
    out.print(f"{len(rows)} documents, {sum(int(str(r['chunks'])) for r in rows)} chunks")


@sources_app.command("remove")
def sources_remove(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A source id, a folder/file you ingested, or a URL.")],
) -> None:
    """Remove a source (or everything ingested from a folder/URL) from the index."""
    settings = settings_of(ctx)
    prepare_database(settings)
    try:
        report = asyncio.run(run_ingest(settings, None, remove=source))
    except (IngestError, IndexBusyError) as exc:
        fail(str(exc))
    print_report(report)
    raise typer.Exit(report.exit_code)
