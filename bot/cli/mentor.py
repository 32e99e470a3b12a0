"""`mentor ask`, `mentor chat` (the terminal mentor), `mentor run`, `mentor admin questions`, `mentor eval`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.app import (
    IndexBusyError,
    Services,
    build_mentor,
    build_practice,
    open_services,
    prepare_database,
    purge_question_log,
    utc_now,
)
from bot.cli.common import database, err, fail, out, print_json, settings_of
from bot.config import Settings
from bot.core.content import STAGE_IDS, ContentError, load_roadmap
from bot.core.evaluation import Split, calibrate_threshold, evaluate, load_eval_set
from bot.core.mentor import EmptyQuestionError, MentorService, confidence
from bot.core.models import Answer
from bot.core.practice import InvalidAnswerError, PracticeError, PracticeService, QuizSession
from bot.llm import LLMConfigError
from bot.retrieval.index import IndexUnavailableError
from bot.retrieval.locks import LockHeldError, ingest_lock
from bot.storage.practice import SqlLearners
from ingest.pipeline import Ingestor, pending_bundled_changes
from ingest.sources import concept_titles

admin_app = typer.Typer(help="Admin tools.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate retrieval and abstention.", no_args_is_help=True)

HELP = """Ask any question about learning ML, or use a command:
  /roadmap        the five stages at a glance
  /stage ID       one stage: concepts, resources, milestone ({stages})
  /good, /bad     rate the last answer (👍 / 👎)
  /quiz [N]       practise: due reviews first, then new items (default 5)
  /review [N]     only the reviews that are due
  /help           this list
  /quit           leave (Ctrl-D works too)
During a quiz, type your answer (A–D, true/false, a number, or a sentence), or:
  /skip           move on without answering
  /report REASON  flag the current question as wrong or unclear
  /dispute REASON ask an admin to re-check the last grade
  /stop           end the quiz (it can be resumed with /quiz within 2 hours)"""


def render_answer(answer: Answer) -> None:
    style = "yellow" if answer.abstained else "white"
    out.print(f"[bold green]mentor>[/] [{style}]{escape(answer.text)}[/]", highlight=False)
    for c in answer.citations:
        where = " · ".join(x for x in (c.stage, c.concept) if x)
        out.print(
            f"  [cyan][{c.n}][/] {escape(c.title)}  [dim]{escape(c.source)}{' · ' + where if where else ''}[/]",
            highlight=False,
        )


class TerminalMentor:
    """The local learner's chat loop; each line is a question or a /command."""

    def __init__(self, services: Services, mentor: MentorService, practice: PracticeService, learner_id: int) -> None:
        self.services = services
        self.mentor = mentor
        self.practice = practice
        self.learner_id = learner_id
        self.last_question_id: int | None = None
        self.quiz: QuizSession | None = None
        self.position = 0
        self.shown_at = 0.0
        self.last_attempt_id: int | None = None
        kdir = services.settings.knowledge_dir
        self.roadmap = load_roadmap(kdir)
        self.titles = concept_titles(kdir)

    async def handle(self, line: str) -> bool:
        """Process one input line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return await self.command(line)
        if self.quiz is not None:
            await self.answer_item(line)
            return True
        try:
            answer = await self.mentor.answer(line, learner_key="cli:local", platform="cli")
        except EmptyQuestionError:
            return True
        self.last_question_id = answer.question_id
        render_answer(answer)
        if not answer.abstained:
            out.print("[dim]  Helpful? /good or /bad[/]")
        return True

    async def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        name = name.lower()
        if name in ("/quit", "/exit", "/q"):
            return False
        if self.quiz is not None and name in ("/skip", "/report", "/dispute", "/stop"):
            await self.quiz_command(name, arg)
            return True
        if name in ("/quiz", "/review"):
            await self.start_quiz("learn" if name == "/quiz" else "review", arg)
            return True
        if name == "/dispute":
            await self.quiz_command(name, arg)
            return True
        if name == "/help":
            out.print(HELP.format(stages=", ".join(STAGE_IDS)), highlight=False)
        elif name == "/roadmap":
            self.show_roadmap()
        elif name == "/stage":
            self.show_stage(arg.strip())
        elif name in ("/good", "/bad", "/👍", "/👎"):
            if self.last_question_id is None:
                out.print("Nothing to rate yet: ask a question first.")
            else:
                await self.mentor.feedback(self.last_question_id, helpful=name in ("/good", "/👍"))
                out.print("Thanks, noted." if name in ("/good", "/👍") else "Thanks: the admins will see this one.")
        else:
            out.print(f"Unknown command {escape(name)}. Type /help for the list.", highlight=False)
        return True

    async def start_quiz(self, kind: str, arg: str) -> None:
        n = int(arg) if arg.strip().isdigit() else 5
        try:
            self.quiz = await self.practice.start_quiz(self.learner_id, kind, n)
        except PracticeError as exc:
            out.print(str(exc))
            return
        self.position = 0
        if self.quiz.catch_up:
            out.print(
                f"[yellow]You have {self.quiz.backlog} reviews waiting; we will spread them over the next days.[/]"
            )
        out.print(
            f"[bold]{'Quiz' if kind == 'learn' else 'Review'}: {len(self.quiz.items)} questions.[/] /skip, /report, /stop"
        )
        self.show_item()

    def show_item(self) -> None:
        assert self.quiz is not None
        while self.position < len(self.quiz.items) and self.quiz.items[self.position].answered:
            self.position += 1
        if self.position >= len(self.quiz.items):
            out.print("[bold]Quiz finished.[/] /quiz for more, /review for due reviews.")
            self.quiz = None
            return
        item = self.quiz.items[self.position]
        out.print(f"[bold cyan]Q{self.position + 1}[/] [dim]({item.concept})[/] {escape(item.prompt)}", highlight=False)
        if item.type == "mcq":
            for letter, option in zip("ABCD", item.options, strict=True):
                out.print(f"  {letter}) {escape(option)}", highlight=False)
        elif item.type == "true_false":
            out.print("  true or false?")
        elif item.type == "free_text":
            out.print("  [dim]answer in a sentence or two[/]")
        self.shown_at = time.monotonic()

    async def answer_item(self, text: str) -> None:
        assert self.quiz is not None
        item = self.quiz.items[self.position]
        latency = int((time.monotonic() - self.shown_at) * 1000)
        try:
            result = await self.practice.submit_answer(
                self.learner_id, self.quiz.id, item.position, text, latency_ms=latency, platform="cli"
            )
        except InvalidAnswerError as exc:
            out.print(f"[yellow]{escape(str(exc))}[/]")
            return
        except PracticeError as exc:
            out.print(f"[yellow]{escape(str(exc))}[/]")
            self.quiz = None
            return
        self.last_attempt_id = result.attempt_id
        colour = {"correct": "green", "partial": "yellow", "incorrect": "red"}[result.verdict]
        out.print(f"[bold {colour}]{escape(result.feedback)}[/] {escape(result.explanation)}", highlight=False)
        if result.verdict != "correct":
            out.print(f"  Answer: {escape(result.correct_answer)}", highlight=False)
        if result.missing:
            out.print(f"  Missing: {escape('; '.join(result.missing))}", highlight=False)
        when = result.next_review.strftime("%d %b %H:%M UTC") if result.next_review else "-"
        out.print(
            f"  [dim]Read more: {escape(result.source)} · next review {when} · /dispute REASON to contest[/]",
            highlight=False,
        )
        self.position += 1
        self.show_item()

    async def quiz_command(self, name: str, arg: str) -> None:
        if name == "/stop":
            out.print("Quiz paused.")
            self.quiz = None
        elif name == "/skip":
            self.position += 1
            self.show_item()
        elif name == "/report":
            assert self.quiz is not None
            item = self.quiz.items[self.position]
            await self.practice.report_item(self.learner_id, item.item_id, arg or "reported from the terminal")
            out.print("Reported: an admin will check this question. Thank you.")
        elif name == "/dispute":
            if self.last_attempt_id is None:
                out.print("Nothing to dispute yet.")
                return
            await self.practice.dispute_grade(
                self.learner_id, self.last_attempt_id, arg or "disputed from the terminal"
            )
            out.print("Dispute queued: an admin will re-check that grade.")

    def show_roadmap(self) -> None:
        r = self.roadmap
        out.print(f"[bold]{escape(r.title)}[/] ({r.duration_months[0]}–{r.duration_months[1]} months)")
        for s in r.stages:
            out.print(
                f"  {s.order}. [bold]{escape(s.title)}[/] [dim](weeks {s.weeks[0]}–{s.weeks[1]}, /stage {s.id})[/]"
            )
            out.print(f"     {escape(', '.join(self.titles.get(c, c) for c in s.concepts))}", highlight=False)

    def show_stage(self, stage_id: str) -> None:
        if stage_id not in STAGE_IDS:
            out.print(f"Which stage? Use one of: {', '.join(STAGE_IDS)}")
            return
        s = self.roadmap.stage(stage_id)
        out.print(f"[bold]Stage {s.order}: {escape(s.title)}[/] (weeks {s.weeks[0]}–{s.weeks[1]})")
        out.print(escape(s.summary), highlight=False)
        out.print("[bold]Concepts, in order:[/]")
        for i, c in enumerate(s.concepts, start=1):
            out.print(f"  {i}. {escape(self.titles.get(c, c))} [dim]({c})[/]")
        out.print("[bold]Resources:[/]")
        for res in s.resources:
            out.print(f"  - {escape(res.title)}: {escape(res.note)}", highlight=False)
        out.print(f"[bold]Milestone: {escape(s.milestone.title)}[/]")
        out.print(escape(s.milestone.description), highlight=False)
        for item in s.milestone.checklist:
            out.print(f"  [ ] {escape(item)}", highlight=False)

    async def loop(self) -> None:
        out.print("[bold]ml-mentor[/] — your ML learning mentor. Ask anything, or /help.")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except (EOFError, KeyboardInterrupt):
                out.print()
                return
            if not await self.handle(line):
                return


async def ensure_index(services: Services) -> None:
    """Ingest the bundled knowledge when the index is missing, stale or built with another model."""
    state = await services.knowledge.index_state()
    reasons: list[str] = []
    if state is None:
        reasons.append("no index yet")
    elif state.embedding_model != services.settings.embedding_model:
        reasons.append("the embedding model changed")
    else:
        reasons.extend(await pending_bundled_changes(services.knowledge, services.settings.knowledge_dir))
    if not reasons:
        return
    err.print(f"Indexing the bundled knowledge ({'; '.join(reasons[:3])}) …")
    try:
        lock = ingest_lock(services.settings.data_dir).acquire()
    except LockHeldError as exc:
        raise IndexBusyError(f"an ingest is running ({exc.holder}); try again when it ends") from exc
    try:
        report = await Ingestor(
            store=services.knowledge,
            client=services.chroma,
            embedder=services.embedder,
            knowledge_dir=services.settings.knowledge_dir,
        ).run(None, rebuild=state is not None and state.embedding_model != services.settings.embedding_model)
    finally:
        lock.release()
    for e in report.errors:
        err.print(f"[red]failed:[/] {escape(e)}", highlight=False)
    err.print(f"Indexed: {report.chunks_total} chunks (generation {report.generation}, {report.seconds:.1f} s).")


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="Your question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {answer, abstained, citations} as JSON.")] = False,
) -> None:
    """Ask the mentor one question; the answer cites its sources."""
    settings = settings_of(ctx)

    async def go() -> Answer:
        async with open_services(settings, "mentor ask") as services:
            await ensure_index(services)
            return await build_mentor(services).answer(question, learner_key="cli:local", platform="cli")

    prepare_database(settings)
    try:
        answer = asyncio.run(go())
    except EmptyQuestionError:
        fail("the question is empty")
    except (IndexBusyError, IndexUnavailableError, LLMConfigError) as exc:
        fail(str(exc))
    if as_json:
        print_json(answer.as_json())
    else:
        render_answer(answer)


def chat(ctx: typer.Context) -> None:
    """The terminal mentor: an interactive session for a local learner."""
    _run_terminal(settings_of(ctx), announce=False)


def run(ctx: typer.Context) -> None:
    """Start every configured front-end; with no Discord/Telegram token, the terminal mentor."""
    settings = settings_of(ctx)
    for name, token in (("Discord", settings.discord_token), ("Telegram", settings.telegram_token)):
        if token is not None:
            err.print(
                f"{name} token found, but the {name} front-end is not part of this version yet; it is not started."
            )
    _run_terminal(settings, announce=True)


def _run_terminal(settings: Settings, announce: bool) -> None:
    async def go() -> None:
        async with open_services(settings, "mentor chat") as services:
            await ensure_index(services)
            purged = await purge_question_log(services)
            if purged:
                err.print(
                    f"Question log: {purged} entries older than {settings.question_log_retention_days} days removed."
                )
            mentor = build_mentor(services)
            practice = build_practice(services)
            learner_id = await SqlLearners(services.engine).learner_for("cli", "local", utc_now())
            await services.index.refresh()
            watcher = asyncio.create_task(services.index.watch(settings.index_poll_seconds))
            if announce:
                err.print("Front-ends running: terminal mentor.")
            try:
                await TerminalMentor(services, mentor, practice, learner_id).loop()
            finally:
                watcher.cancel()

    prepare_database(settings)
    try:
        asyncio.run(go())
    except (IndexBusyError, IndexUnavailableError, LLMConfigError, ContentError) as exc:
        fail(str(exc))


@admin_app.command("questions")
def admin_questions(
    ctx: typer.Context,
    abstained: Annotated[bool, typer.Option("--abstained", help="Only questions the mentor could not answer.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List logged questions (newest first) with scores and feedback."""
    settings = settings_of(ctx)
    prepare_database(settings)

    async def go() -> list[dict[str, object]]:
        from bot.storage.questions import SqlQuestionLog

        async with database(settings) as engine:
            rows = await SqlQuestionLog(engine).list(abstained_only=abstained, limit=limit)
        return [
            {
                "id": r.id,
                "asked_at": r.asked_at.isoformat(),
                "platform": r.platform,
                "question": r.question,
                "abstained": r.abstained,
                "top_score": r.top_score,
                "feedback": r.feedback,
            }
            for r in rows
        ]

    rows = asyncio.run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("id", "asked (UTC)", "platform", "question", "abstained", "top score", "feedback")
    for r in rows:
        fb = {1: "👍", -1: "👎"}.get(r["feedback"], "")  # type: ignore[call-overload]
        score = f"{r['top_score']:.3f}" if isinstance(r["top_score"], float) else "-"
        table.add_row(
            str(r["id"]),
            str(r["asked_at"])[:19],
            str(r["platform"]),
            str(r["question"])[:80],
            "yes" if r["abstained"] else "",
            score,
            fb,
        )
    out.print(table)


@eval_app.command("retrieval")
def eval_retrieval(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="YAML with in_scope [{q, concepts}] and out_of_scope [q].")],
    k: Annotated[int, typer.Option("--k", min=1, max=50)] = 5,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Also run a baseline: dense")] = None,
    split: Annotated[str, typer.Option("--split", help="all, calibration (even items) or heldout (odd items)")] = "all",
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Abstention threshold (default: the mentor's)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """hit@1, hit@k, MRR and abstention precision/recall; --baseline dense for a side-by-side figure."""
    settings = settings_of(ctx)
    if baseline not in (None, "dense"):
        fail("--baseline takes: dense")
    if split not in ("all", "calibration", "heldout"):
        fail("--split takes: all, calibration, heldout")
    try:
        evalset = load_eval_set(file).split(split)  # type: ignore[arg-type]
    except ContentError as exc:
        fail(str(exc))

    async def go() -> dict[str, object]:
        async with open_services(settings, "mentor eval") as services:
            await ensure_index(services)
            mentor = build_mentor(services)
            if threshold is not None:
                mentor.abstain_threshold = threshold
            retriever = await services.index.retriever()

            async def hybrid(q: str, n: int):  # type: ignore[no-untyped-def]
                return await asyncio.to_thread(retriever.search, q, n)

            result = await evaluate(hybrid, evalset, k, mentor.decide_abstain)
            data = result.as_json()
            data["threshold"] = mentor.abstain_threshold
            if baseline == "dense":
                from bot.retrieval.baseline import DenseBaseline  # LangChain only when asked for

                state = await services.knowledge.index_state()
                assert state is not None
                dense = DenseBaseline(services.chroma, state.collection, services.embedder)

                async def dense_search(q: str, n: int):  # type: ignore[no-untyped-def]
                    return await asyncio.to_thread(dense.search, q, n)

                base = await evaluate(dense_search, evalset, k, mentor.decide_abstain)
                data["baseline"] = {"name": "dense", **base.as_json(with_misses=False)}
            return data

    prepare_database(settings)
    try:
        data = asyncio.run(go())
    except (IndexBusyError, IndexUnavailableError) as exc:
        fail(str(exc))
    if as_json:
        print_json(data)
        return
    rows = [("hybrid", data)] + ([("dense", data["baseline"])] if "baseline" in data else [])
    table = Table("retriever", "hit@1", f"hit@{k}", "MRR", "abstain P", "abstain R", "in-scope abstain")
    for name, d in rows:
        assert isinstance(d, dict)
        table.add_row(
            name,
            *(
                f"{d[key]:.3f}"
                for key in (
                    "hit_at_1",
                    "hit_at_k",
                    "mrr",
                    "abstain_precision",
                    "abstain_recall",
                    "in_scope_abstain_rate",
                )
            ),
        )
    out.print(table)
    out.print(
        f"{data['n_in_scope']} in-scope, {data['n_out_of_scope']} out-of-scope questions; threshold {data['threshold']}"
    )
    for miss in data["misses"]:  # type: ignore[attr-defined]
        out.print(f"[yellow]miss:[/] {escape(str(miss))}", highlight=False)


@eval_app.command("calibrate")
def eval_calibrate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The eval YAML; its calibration split (even items) is used.")],
    max_in_scope_abstain: Annotated[float, typer.Option("--max-in-scope-abstain", min=0.0, max=0.5)] = 0.08,
) -> None:
    """Choose the abstention threshold on the calibration split; report it on the held-out split."""
    settings = settings_of(ctx)
    try:
        full = load_eval_set(file)
    except ContentError as exc:
        fail(str(exc))

    async def go() -> dict[str, object]:
        async with open_services(settings, "mentor eval") as services:
            await ensure_index(services)
            retriever = await services.index.retriever()
            cal = full.split("calibration")
            ins = [confidence(retriever.search(i.q, settings.search_k)) or 0.0 for i in cal.in_scope]
            outs = [confidence(retriever.search(q, settings.search_k)) or 0.0 for q in cal.out_of_scope]
            chosen = calibrate_threshold(ins, outs, max_in_scope_abstain)
            mentor = build_mentor(services)
            mentor.abstain_threshold = chosen

            async def hybrid(q: str, n: int):  # type: ignore[no-untyped-def]
                return await asyncio.to_thread(retriever.search, q, n)

            held: Split = "heldout"
            result = await evaluate(hybrid, full.split(held), settings.search_k, mentor.decide_abstain)
            return {"threshold": chosen, "heldout": result.as_json(with_misses=False)}

    prepare_database(settings)
    print_json(asyncio.run(go()))


@admin_app.command("items")
def admin_items(
    ctx: typer.Context,
    flagged: Annotated[
        bool, typer.Option("--flagged", help="Only items learners reported or whose grade they disputed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Question-bank items with statistics: difficulty, discrimination, reports, disputes."""
    settings = settings_of(ctx)
    prepare_database(settings)

    async def go() -> list[dict[str, object]]:
        from bot.app import load_question_bank
        from bot.storage.practice import SqlPracticeStore

        async with database(settings) as engine:
            store = SqlPracticeStore(engine)
            flags = await store.flags()
            ids = sorted({f.item_id for f in flags}) if flagged else [i.id for i in load_question_bank(settings).items]
            stats = await store.item_stats(ids)
        by_item: dict[str, list[dict[str, object]]] = {}
        for f in flags:
            by_item.setdefault(f.item_id, []).append(
                {"kind": f.kind, "reason": f.reason, "attempt_id": f.attempt_id, "at": f.created_at.isoformat()}
            )
        rows = [
            {
                "item_id": s.item_id,
                "attempts": s.attempts,
                "difficulty": None if s.difficulty is None else round(s.difficulty, 3),
                "discrimination": None if s.discrimination is None else round(s.discrimination, 3),
                "reports": s.reports,
                "disputes": s.disputes,
                "flags": by_item.get(s.item_id, []),
            }
            for s in stats
            if flagged or s.attempts
        ]
        return rows

    rows = asyncio.run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("item", "attempts", "difficulty (p)", "discrimination", "reports", "disputes", "latest flag")
    for r in rows:
        flags = r["flags"]
        latest = str(flags[-1]["reason"])[:60] if isinstance(flags, list) and flags else ""
        table.add_row(
            str(r["item_id"]),
            str(r["attempts"]),
            str(r["difficulty"] if r["difficulty"] is not None else "-"),
            str(r["discrimination"] if r["discrimination"] is not None else "-"),
            str(r["reports"]),
            str(r["disputes"]),
            latest,
        )
    out.print(table)
    if not rows:
        out.print("No flagged items." if flagged else "No attempts yet.")
