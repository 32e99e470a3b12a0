"""Entry point of the `mentor` command."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from bot.cli import doctor as doctor_mod
from bot.cli import grade as grade_cli
from bot.cli import knowledge
from bot.cli import mastery as mastery_cli
from bot.cli import mentor as mentor_cli
from bot.cli import simulate as simulate_cli
from bot.cli.common import configure_logging, fail, out, settings_of
from bot.config import Settings
from bot.retrieval.embeddings import force_offline

app = typer.Typer(
    help="ml-mentor: a mentor bot for learning Machine Learning.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(knowledge.sources_app, name="sources")
app.command()(knowledge.ingest)
app.command()(knowledge.search)
app.command()(doctor_mod.doctor)
app.command()(mentor_cli.ask)
app.command()(mentor_cli.chat)
app.command()(mentor_cli.run)
app.command()(grade_cli.grade)
app.command()(simulate_cli.simulate)
app.add_typer(mentor_cli.admin_app, name="admin")
mastery_cli.register(app, mentor_cli.admin_app)
app.add_typer(mentor_cli.eval_app, name="eval")


@app.callback()
def _root(
    ctx: typer.Context,
    env_file: Annotated[
        str | None, typer.Option("--env-file", help="Read settings from this file instead of ./.env.")
    ] = None,
) -> None:
    force_offline()
    try:
        settings = Settings(_env_file=env_file or ".env")  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(f"MENTOR_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        fail(f"invalid settings: {problems}")
    configure_logging(settings.log_level)
    ctx.obj = settings


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply database migrations (also done automatically at start)."""
    from bot.app import prepare_database

    settings = settings_of(ctx)
    prepare_database(settings)
    out.print("database is at the newest revision")


def main() -> None:
    app()
