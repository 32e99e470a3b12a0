"""`mentor progress`, `mentor export`, `mentor forget` and the mastery admin commands (`mentor admin grant` ...)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import make_embedder, make_mastery, make_practice, prepare_database, utc_now
from bot.cli.common import database, fail, out, print_json, settings_of
from bot.config import Settings
from bot.core.content import ContentError
from bot.core.practice import FLAG_STATUSES, PracticeError
from bot.core.progress import AwardDecision, MasteryService
from bot.core.questions import QuestionBank
from bot.core.records import Progress
from bot.storage.practice import SqlLearners

T = TypeVar("T")
LOCAL_IDENTITY = ("cli", "local")  # the terminal mentor's learner
MILESTONE_STATUSES = ("pending", "approved", "rejected", "all")
FLAG_LIST_STATUSES = (*FLAG_STATUSES, "all")
DELIVERY_STATUSES = ("pending", "unreachable", "delivered")
LearnerOption = Annotated[
    str | None,
    typer.Option("--learner", help="Learner id, or platform:external_id (e.g. telegram:123). Default: the terminal's."),
]


class LearnerNotFoundError(PracticeError):
    """No learner matches the given id or identity."""


@dataclass
class MasteryCli:
    """What a mastery command needs: the service and its engine (no knowledge index, no lock)."""

    mastery: MasteryService
    engine: AsyncEngine


@contextlib.asynccontextmanager
async def open_mastery(settings: Settings, *, questions: bool = True) -> AsyncIterator[MasteryCli]:
    """The mastery service on the configured database.

    `questions=False` skips loading the question bank (seconds of YAML) for commands that never
    draw, grade or look up items: awards, milestones, audit, deliveries, export, forget.
    """
    async with database(settings) as engine:
        bank = None if questions else QuestionBank(files=())
        practice = make_practice(settings, engine, make_embedder(settings), bank)
        yield MasteryCli(make_mastery(settings, engine, practice), engine)


def actor() -> str:
    """Who runs this admin command, for the audit log: "cli:<os user>"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
        user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


async def resolve_learner(cli: MasteryCli, spec: str | None, *, create_local: bool = False) -> int:
    """A learner from an id ("12"), an identity ("telegram:123") or, with None, the terminal's learner.

    Raises:
        LearnerNotFoundError: nobody matches (the message says what to pass instead).
    """
    store = cli.mastery.store
    if spec is None:
        if create_local:
            return await SqlLearners(cli.engine).learner_for(*LOCAL_IDENTITY, utc_now())
        found = await store.learner_by_identity(*LOCAL_IDENTITY)
        if found is None:
            raise LearnerNotFoundError("the terminal learner does not exist yet: run `mentor chat`, or pass --learner")
        return found
    spec = spec.strip()
    if spec.isdigit():
        if await store.profile(int(spec)) is None:
            raise LearnerNotFoundError(f"no learner {spec}")
        return int(spec)
    platform, sep, external_id = spec.partition(":")
    if not sep or not platform or not external_id:
        raise LearnerNotFoundError(f"{spec!r} is not a learner: use an id (12) or platform:external_id (telegram:123)")
    found = await store.learner_by_identity(platform, external_id)
    if found is None:
        raise LearnerNotFoundError(f"no learner with the identity {spec}")
    return found


def run_mastery(settings: Settings, work: Callable[[MasteryCli], Awaitable[T]], *, questions: bool = True) -> T:
    """Migrate, open the store, run `work`; learner-fixable errors exit with their message."""
    prepare_database(settings)

    async def go() -> T:
        async with open_mastery(settings, questions=questions) as cli:
            return await work(cli)

    try:
        return asyncio.run(go())
    except (PracticeError, ContentError) as exc:
        fail(str(exc))


def plain(value: Any) -> Any:
    """JSON-ready copy of dataclass output: datetimes as ISO 8601, tuples and sets as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def progress_json(progress: Progress) -> dict[str, Any]:
    data: dict[str, Any] = plain(asdict(progress))
    return data


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%d %b %Y %H:%M} UTC"


def print_progress(progress: Progress) -> None:
    """The progress report as text: per stage the levels, the gates and what is still needed."""
    s = progress.streak
    out.print(f"[bold]Progress[/] (learner {progress.learner_id}, {_when(progress.at)})", highlight=False)
    out.print(
        f"Streak: {s.current} day{'s' if s.current != 1 else ''} (longest {s.longest}), "
        f"{s.freezes_held} freeze{'s' if s.freezes_held != 1 else ''} held, "
        f"today {'done' if s.today_done else 'not yet'} · due reviews: {progress.due_reviews}",
        highlight=False,
    )
    track = progress.track
    targets = {}
    if track is None:
        out.print("Track: none yet — set a goal and weekly hours (/settings goal ml-engineer hours 6)")
    else:
        targets = {t.stage: t for t in track.stages}
        out.print(
            f"Track: {track.goal}, {track.hours_per_week:g} h/week — [bold]{track.status}[/], "
            f"finish {track.finish:%d %b %Y} ({track.weekly_concepts:.1f} concepts/week from now)",
            highlight=False,
        )
    if progress.open_assessment is not None:
        a = progress.open_assessment
        out.print(f"[yellow]Open: {a.kind} for {a.stage} until {_when(a.deadline)}[/]", highlight=False)
    for n, stage in enumerate(progress.stages, start=1):
        target = targets.get(stage.stage)
        plan = f" · target {target.target:%d %b %Y} ({target.status})" if target else ""
        if stage.awarded:
            out.print(
                f"[bold green]{n}. {escape(stage.title)} ✓ awarded {stage.awarded_at:%d %b %Y}[/]{plan}",
                highlight=False,
            )
        else:
            out.print(f"[bold]{n}. {escape(stage.title)}[/]{plan}", highlight=False)
        started = stage.awarded or any(c.level != "not-started" for c in stage.concepts)
        if not started:
            out.print(f"   not started ({len(stage.concepts)} concepts)", highlight=False)
            continue
        for c in stage.concepts:
            marks = [m for m in ("rusty" if c.rusty else "", f"{c.due_reviews} due" if c.due_reviews else "") if m]
            extra = f" [dim]({', '.join(marks)})[/]" if marks else ""
            out.print(f"   {escape(c.title)}: {c.level}{extra}", highlight=False)
        if not stage.awarded:
            out.print(
                f"   checkpoint: {escape(stage.checkpoint)} · re-check: {escape(stage.recheck)} · "
                f"milestone: {stage.milestone}",
                highlight=False,
            )
            out.print("   [bold]Needed for the award:[/]")
            for line in stage.needed:
                out.print(f"    - {escape(line)}", highlight=False)


def print_award(decision: AwardDecision) -> None:
    verb = "granted" if decision.action == "grant" else "revoked"
    n = len(decision.deliveries)
    queued = f"; {n} Discord/Telegram deliver{'ies' if n > 1 else 'y'} queued" if n else ""
    out.print(
        f"[bold green]Stage award {verb}:[/] {escape(decision.stage_title)} ({decision.stage}) "
        f"for learner {decision.learner_id}{queued}",
        highlight=False,
    )


async def save_chart(progress: Progress, path: Path) -> Path:
    from bot.charts import render_progress_chart  # matplotlib loads only when a chart is drawn

    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(render_progress_chart, progress, path)
    return path


# --- learner commands ------------------------------------------------------------------------


def progress(
    ctx: typer.Context,
    learner: LearnerOption = None,
    png: Annotated[Path | None, typer.Option("--png", help="Also draw the progress chart to this PNG file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the progress as JSON.")] = False,
) -> None:
    """A learner's progress: levels per stage, due reviews, streak, track and what is still needed."""
    settings = settings_of(ctx)

    async def work(cli: MasteryCli) -> Progress:
        learner_id = await resolve_learner(cli, learner, create_local=True)
        data = await cli.mastery.get_progress(learner_id)
        if png is not None:
            try:
                await save_chart(data, png)
            except OSError as exc:
                fail(f"cannot write {png}: {exc.strerror or exc}")
        return data

    data = run_mastery(settings, work)
    if as_json:
        print_json(progress_json(data))
        return
    print_progress(data)
    if png is not None:
        out.print(f"Chart saved to {png}", highlight=False)


def export(
    ctx: typer.Context,
    learner: LearnerOption = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the JSON here instead of to stdout.")] = None,
) -> None:
    """Everything stored about a learner, as JSON (a data-access request). Audited."""
    settings = settings_of(ctx)

    async def work(cli: MasteryCli) -> dict[str, Any]:
        learner_id = await resolve_learner(cli, learner)
        data = await cli.mastery.export_learner(learner_id)
        await cli.mastery.store.add_audit(
            utc_now(), actor(), "export", learner_id, None, "mentor export", {"out": str(out_file or "stdout")}
        )
        return data

    data = run_mastery(settings, work, questions=False)
    if out_file is None:
        print_json(data)
        return
    try:
        out_file.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    out.print(f"Exported learner data to {out_file}", highlight=False)


def forget(
    ctx: typer.Context,
    learner: Annotated[str, typer.Argument(help="Learner id, or platform:external_id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Delete a learner's personal data (answers are anonymised for item statistics). Audited."""
    settings = settings_of(ctx)
    if not yes:
        fail(
            f"this permanently deletes learner {learner}'s profile, progress, awards and questions; "
            "run `mentor export` first if they want a copy, then add --yes"
        )

    async def work(cli: MasteryCli) -> tuple[int, dict[str, int]]:
        learner_id = await resolve_learner(cli, learner)
        return learner_id, await cli.mastery.forget_learner(learner_id, actor())

    learner_id, counts = run_mastery(settings, work, questions=False)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    out.print(f"Learner {learner_id} forgotten ({summary or 'nothing stored'}).", highlight=False)


# --- admin commands --------------------------------------------------------------------------


def admin_grant(
    ctx: typer.Context,
    learner: Annotated[str, typer.Argument(help="Learner id, or platform:external_id.")],
    stage: Annotated[str, typer.Argument(help="Stage id, e.g. capstone.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
) -> None:
    """Grant a stage award by hand (audited; platforms get the role/badge when they confirm)."""
    _change_award(ctx, learner, stage, reason, grant=True)


def admin_revoke(
    ctx: typer.Context,
    learner: Annotated[str, typer.Argument(help="Learner id, or platform:external_id.")],
    stage: Annotated[str, typer.Argument(help="Stage id, e.g. capstone.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
) -> None:
    """Revoke a stage award (audited; platforms remove the role/badge)."""
    _change_award(ctx, learner, stage, reason, grant=False)


def _change_award(ctx: typer.Context, learner: str, stage: str, reason: str, *, grant: bool) -> None:
    async def work(cli: MasteryCli) -> AwardDecision:
        change = cli.mastery.grant if grant else cli.mastery.revoke
        return await change(await resolve_learner(cli, learner), stage, actor(), reason)

    print_award(run_mastery(settings_of(ctx), work, questions=False))


def admin_awards(
    ctx: typer.Context,
    learner: Annotated[
        str | None, typer.Option("--learner", help="Only this learner (id or platform:external_id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stage awards (active and revoked), oldest first."""

    async def work(cli: MasteryCli) -> list[dict[str, Any]]:
        learner_id = None if learner is None else await resolve_learner(cli, learner)
        return [plain(asdict(a)) | {"active": a.active} for a in await cli.mastery.store.awards(learner_id)]

    rows = run_mastery(settings_of(ctx), work, questions=False)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "learner", "stage", "awarded (UTC)", "source", "by", "reason", "status")
    for r in rows:
        status = "active" if r["active"] else f"revoked {str(r['revoked_at'])[:10]} by {r['revoked_by']}"
        table.add_row(
            str(r["id"]),
            str(r["learner_id"]),
            r["stage"],
            str(r["awarded_at"])[:16],
            r["source"],
            r["granted_by"] or "",
            (r["reason"] or "")[:60],
            status,
        )
    out.print(table)
    if not rows:
        out.print("No awards yet.")


def admin_milestones(
    ctx: typer.Context,
    status: Annotated[str, typer.Option("--status", help="pending, approved, rejected or all.")] = "pending",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Milestone submissions (project link + write-up); review them with `mentor admin review ID`."""
    if status not in MILESTONE_STATUSES:
        fail(f"--status takes: {', '.join(MILESTONE_STATUSES)}")

    async def work(cli: MasteryCli) -> list[dict[str, Any]]:
        found = await cli.mastery.store.milestones(None if status == "all" else status)
        return [plain(asdict(m)) for m in found]

    rows = run_mastery(settings_of(ctx), work, questions=False)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        out.print(
            f"[bold]#{r['id']}[/] learner {r['learner_id']} · {r['stage']} · {r['status']} · "
            f"submitted {str(r['submitted_at'])[:16]}",
            highlight=False,
        )
        out.print(f"  {escape(r['url'])}", highlight=False)
        out.print(f"  {escape(r['writeup'])}", highlight=False)
        if r["reviewer"]:
            note = f": {escape(r['review_note'])}" if r["review_note"] else ""
            out.print(f"  [dim]reviewed by {escape(r['reviewer'])}{note}[/]", highlight=False)
    if not rows:
        out.print(f"No {'' if status == 'all' else status + ' '}milestones.")


def admin_review(
    ctx: typer.Context,
    milestone_id: Annotated[int, typer.Argument(help="The milestone's id (see `mentor admin milestones`).")],
    approve: Annotated[bool | None, typer.Option("--approve/--reject", help="The verdict.")] = None,
    note: Annotated[str, typer.Option("--note", help="A note for the learner and the audit log.")] = "",
) -> None:
    """Approve or reject a pending milestone; approval completes the stage award when the rest of the evidence is there."""
    if approve is None:
        fail("give the verdict: --approve or --reject")

    async def work(cli: MasteryCli) -> tuple[Any, AwardDecision | None, tuple[str, ...]]:
        reviewed, award = await cli.mastery.review_milestone(milestone_id, approve, actor(), note)
        needed: tuple[str, ...] = ()
        if approve and award is None:
            progress = await cli.mastery.get_progress(reviewed.learner_id)
            stage = next(s for s in progress.stages if s.stage == reviewed.stage)
            needed = () if stage.awarded else stage.needed
        return reviewed, award, needed

    reviewed, award, needed = run_mastery(settings_of(ctx), work, questions=False)
    out.print(
        f"Milestone #{reviewed.id} ({reviewed.stage}, learner {reviewed.learner_id}) {reviewed.status}.",
        highlight=False,
    )
    if award is not None:
        print_award(award)
    elif needed:
        out.print("No award yet; the stage still needs:")
        for line in needed:
            out.print(f"  - {escape(line)}", highlight=False)


def admin_flags(
    ctx: typer.Context,
    status: Annotated[str, typer.Option("--status", help="open, upheld, rejected, closed or all.")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Learners' reports and disputes, one by one, with the disputed answer; resolve with `mentor admin resolve ID`."""
    if status not in FLAG_LIST_STATUSES:
        fail(f"--status takes: {', '.join(FLAG_LIST_STATUSES)}")

    async def work(cli: MasteryCli) -> list[dict[str, Any]]:
        practice = cli.mastery.practice
        rows = []
        for flag in await practice.store.flags(None if status == "all" else status):
            row = plain(asdict(flag))
            try:
                item = practice.bank.item(flag.item_id)
                row["prompt"] = item.prompt if hasattr(item, "prompt") else getattr(item, "front", "")
                row["reference"] = getattr(item, "reference", None)
            except KeyError:
                row["prompt"], row["reference"] = None, None  # no longer in the bank
            attempt = None if flag.attempt_id is None else await practice.store.attempt(flag.attempt_id)
            row["answer"] = (
                None
                if attempt is None
                else {
                    "text": attempt.answer,
                    "verdict": attempt.verdict,
                    "quiz": attempt.kind,
                    "at": attempt.created_at.isoformat(),
                }
            )
            rows.append(row)
        return rows

    rows = run_mastery(settings_of(ctx), work)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        who = "learner " + str(r["learner_id"]) if r["learner_id"] is not None else "a forgotten learner"
        out.print(
            f"[bold]#{r['id']}[/] {r['kind']} · {escape(r['item_id'])} · {who} · {str(r['created_at'])[:16]} · "
            f"{r['status']}",
            highlight=False,
        )
        if r["prompt"]:
            out.print(f"  Q: {escape(str(r['prompt']))}", highlight=False)
        answer = r["answer"]
        if answer is not None:
            out.print(f"  A ({answer['quiz']}, graded {answer['verdict']}): {escape(answer['text'])}", highlight=False)
        if r["reference"]:
            out.print(f"  [dim]reference: {escape(str(r['reference']))}[/]", highlight=False)
        out.print(f"  reason: {escape(r['reason'])}", highlight=False)
        if r["resolved_by"]:
            note = f": {escape(r['note'])}" if r["note"] else ""
            out.print(f"  [dim]{r['status']} by {escape(r['resolved_by'])}{note}[/]", highlight=False)
    if not rows:
        out.print(f"No {'' if status == 'all' else status + ' '}reports or disputes.")


def admin_resolve(
    ctx: typer.Context,
    flag_id: Annotated[int, typer.Argument(help="The report's or dispute's id (see `mentor admin flags`).")],
    uphold: Annotated[
        bool, typer.Option("--uphold", help="The learner is right (a disputed practice answer then counts as correct).")
    ] = False,
    reject: Annotated[bool, typer.Option("--reject", help="The grade or the item stands.")] = False,
    close: Annotated[bool, typer.Option("--close", help="Acknowledged; nothing changes.")] = False,
    note: Annotated[str, typer.Option("--note", help="Why, for the audit log.")] = "",
) -> None:
    """Resolve a report or dispute; upholding a dispute regrades the practice answer as correct (audited)."""
    chosen = [name for name, on in (("uphold", uphold), ("reject", reject), ("close", close)) if on]
    if len(chosen) != 1:
        fail("give exactly one of --uphold, --reject or --close")
    decision: Literal["uphold", "reject", "close"] = chosen[0]  # type: ignore[assignment]

    async def work(cli: MasteryCli) -> tuple[Any, AwardDecision | None]:
        return await cli.mastery.resolve_flag(flag_id, decision, actor(), note)

    flag, award = run_mastery(settings_of(ctx), work)
    effect = ""
    if flag.status == "upheld" and flag.kind == "dispute":
        effect = ": the answer now counts as correct"
    out.print(f"{flag.kind.capitalize()} #{flag.id} ({flag.item_id}) {flag.status}{effect}.", highlight=False)
    if award is not None:
        print_award(award)


def admin_retire(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help="The item's id, e.g. bias-variance.03 (see `mentor admin items`).")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (required; audited), e.g. 'key is wrong, see flag #12'.")
    ] = "",
) -> None:
    """Stop serving an item in quizzes and assessments until it is fixed and restored (audited)."""

    async def work(cli: MasteryCli) -> Any:
        return await cli.mastery.retire_item(item_id, actor(), reason)

    retired = run_mastery(settings_of(ctx), work)
    out.print(
        f"{retired.item_id} retired: it is no longer served (answers already given keep their grades). "
        f"Fix it, then `mentor admin restore {retired.item_id}`.",
        highlight=False,
    )


def admin_restore(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help="A retired item's id.")],
    reason: Annotated[str, typer.Option("--reason", help="What was fixed (audited).")] = "",
) -> None:
    """Serve a retired item again (audited)."""

    async def work(cli: MasteryCli) -> None:
        await cli.mastery.restore_item(item_id, actor(), reason)

    run_mastery(settings_of(ctx), work)
    out.print(f"{item_id} restored: it is served again.", highlight=False)


def admin_audit(
    ctx: typer.Context,
    learner: Annotated[str | None, typer.Option("--learner", help="Only entries about this learner.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit log of awards, grants, revocations, reviews, merges, exports and deletions (newest first)."""

    async def work(cli: MasteryCli) -> list[dict[str, Any]]:
        learner_id = None if learner is None else await resolve_learner(cli, learner)
        return [plain(asdict(e)) for e in await cli.mastery.store.audit_log(learner_id, limit)]

    rows = run_mastery(settings_of(ctx), work, questions=False)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "at (UTC)", "actor", "action", "learner", "stage", "reason")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["at"])[:19],
            r["actor"],
            r["action"],
            "" if r["learner_id"] is None else str(r["learner_id"]),
            r["stage"] or "",
            (r["reason"] or "")[:60],
        )
    out.print(table)
    if not rows:
        out.print("The audit log is empty.")


def admin_deliveries(
    ctx: typer.Context,
    status: Annotated[str, typer.Option("--status", help="pending, unreachable or delivered.")] = "pending",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Award roles/badges waiting for (or failed on) Discord and Telegram."""
    if status not in DELIVERY_STATUSES:
        fail(f"--status takes: {', '.join(DELIVERY_STATUSES)}")

    async def work(cli: MasteryCli) -> list[dict[str, Any]]:
        return [plain(asdict(d)) for d in await cli.mastery.store.deliveries(status)]

    rows = run_mastery(settings_of(ctx), work, questions=False)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "learner", "platform", "user", "kind", "stage", "tries", "last error", "queued (UTC)")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["learner_id"]),
            r["platform"],
            r["external_id"],
            r["kind"],
            str(r["payload"].get("stage", "")),
            str(r["attempts"]),
            (r["last_error"] or "")[:50],
            str(r["created_at"])[:16],
        )
    out.print(table)
    if not rows:
        out.print(f"No {status} deliveries.")


def register(app: typer.Typer, admin_app: typer.Typer) -> None:
    """Add the mastery commands to the `mentor` app and its `admin` group."""
    app.command()(progress)
    app.command()(export)
    app.command()(forget)
    admin_app.command("grant")(admin_grant)
    admin_app.command("revoke")(admin_revoke)
    admin_app.command("awards")(admin_awards)
    admin_app.command("milestones")(admin_milestones)
    admin_app.command("review")(admin_review)
    admin_app.command("flags")(admin_flags)
    admin_app.command("resolve")(admin_resolve)
    admin_app.command("retire")(admin_retire)
    admin_app.command("restore")(admin_restore)
    admin_app.command("audit")(admin_audit)
    admin_app.command("deliveries")(admin_deliveries)
