"""`mentor simulate`: simulated learners on the real practice and mastery engine (see bot.simulation)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bot.app import load_question_bank, make_embedder
from bot.cli.common import err, fail, out, print_json, settings_of
from bot.config import Settings
from bot.core.content import STAGE_IDS, ContentError, load_roadmap
from bot.retrieval.embeddings import EmbeddingModelError
from bot.simulation import POLICIES, Simulation, SimulationResult


def build_simulation(settings: Settings) -> Simulation:
    """The bank (bundled + private), roadmap and embedding model of these settings."""
    return Simulation(load_question_bank(settings), load_roadmap(settings.knowledge_dir), make_embedder(settings))


def _print_table(result: SimulationResult) -> None:
    data = result.as_json()
    out.print(
        f"[bold]{result.policy}[/]: {result.learners} learners × {result.days} days, seed {result.seed}; "
        f"{result.answers:,} answers in {result.seconds:.1f} s",
        highlight=False,
    )
    table = Table("stage", "awarded", "median days", "p90 days")
    for stage in STAGE_IDS:
        days = data["days_to_award"][stage]
        table.add_row(
            stage,
            f"{data['awards'][stage]}/{result.learners}",
            "-" if days is None else f"{days['median']:g}",
            "-" if days is None else f"{days['p90']:g}",
        )
    out.print(table)
    for kind, counts in data["assessments"].items():
        if any(counts.values()):
            out.print(
                f"{kind}: {counts['started']} taken, {counts['passed']} passed, {counts['refused']} refused "
                f"(too few questions not seen in 7 days), {counts['flagged_fast']} answers flagged as too fast",
                highlight=False,
            )
    ft = data["free_text"]
    for kind in ("right", "wrong"):
        if ft[kind]:
            out.print(f"free text meant {kind}: {ft[f'{kind}_accepted']}/{ft[kind]} graded correct", highlight=False)


def simulate(
    ctx: typer.Context,
    policy: Annotated[
        str, typer.Option("--policy", help=f"How the learners answer: {', '.join(POLICIES)}.", show_default=False)
    ],
    learners: Annotated[int, typer.Option("--learners", min=1, help="Simulated learners.")] = 20,
    days: Annotated[int, typer.Option("--days", min=1, help="Days each learner practises.")] = 180,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same result.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes sharing the learners.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run simulated learners through the real quizzes, assessments and awards on a fake clock."""
    if policy not in POLICIES:
        fail(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    settings = settings_of(ctx)
    step = max(1, learners // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            err.print(f"simulated {done}/{total} learners", highlight=False)

    try:
        simulation = build_simulation(settings)
        err.print("grading the answers the policies can write (once) ...", highlight=False)
        simulation.prepare()
        result = simulation.run(policy, learners, days, seed, workers=workers, progress=progress)
    except (EmbeddingModelError, ContentError) as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(result.as_json())
    else:
        _print_table(result)
