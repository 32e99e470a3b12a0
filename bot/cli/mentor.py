"""`mentor ask`, `mentor chat` (the terminal mentor), `mentor run`, `mentor admin questions`, `mentor eval`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from bot.app import (
    IndexBusyError,
    Services,
    build_mastery,
    build_mentor,
    build_practice,
    open_services,
    prepare_database,
    purge_question_log,
    utc_now,
)
from bot.cli.common import database, err, fail, out, print_json, settings_of
from bot.cli.mastery import print_progress, save_chart
from bot.config import Settings
from bot.core.assessments import time_limit_ms
from bot.core.content import STAGE_IDS, ContentError, load_roadmap
from bot.core.evaluation import Split, calibrate_threshold, evaluate, load_eval_set
from bot.core.mentor import EmptyQuestionError, MentorService, confidence
from bot.core.models import Answer
from bot.core.practice import (
    AnswerResult,
    InvalidAnswerError,
    PracticeError,
    PracticeService,
    QuizSession,
    SessionExpiredError,
)
from bot.core.progress import AssessmentResult, AwardDecision, MasteryService
from bot.core.records import ASSESSMENT_KINDS, CAREER_GOALS
from bot.llm import LLMConfigError
from bot.retrieval.index import IndexUnavailableError
from bot.retrieval.locks import LockHeldError, ingest_lock
from bot.storage.practice import SqlLearners
from ingest.pipeline import Ingestor, pending_bundled_changes
from ingest.sources import concept_titles

admin_app = typer.Typer(help="Admin tools.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate retrieval and abstention.", no_args_is_help=True)

HELP = """Ask any question about learning ML, or use a command:
  /roadmap             the five stages at a glance
  /stage ID            one stage: concepts, resources, milestone ({stages})
  /good, /bad          rate the last answer (👍 / 👎)
  /quiz [N]            practise: due reviews first, then new items (default 5)
  /review [N]          only the reviews that are due
  /progress            levels per stage, due reviews, streak, track, what is needed; saves a chart (PNG)
  /checkpoint STAGE    the stage test; opens when every concept of the stage is proficient
  /recheck STAGE       the confirming test, 3 days or more after a passed checkpoint or placement
  /placement STAGE     test out of a stage you already know
  /resume              continue a running checkpoint, re-check or placement
  /milestone STAGE URL [WRITE-UP]
                       submit your project for review; without the write-up, type it on the
                       next lines and finish with an empty line (/cancel drops it)
  /settings            your goal, hours per week, time zone and daily nudge; change them with
                       /settings goal ml-engineer | hours 6 | tz Europe/Berlin | nudge 18:30 | nudge off
  /disputes            your reports and disputes, and what the admins decided
  /link                make a code to link Discord or Telegram to this learner
  /link CODE           join the learner who made CODE (your progress moves there)
  /help                this list
  /quit                leave (Ctrl-D works too)
During a quiz, type your answer (A–D, true/false, a number, or a sentence), or:
  /skip           move on without answering
  /report REASON  flag the current question as wrong or unclear
  /dispute REASON ask an admin to re-check the last grade
  /stop           end the quiz (it can be resumed with /quiz within 2 hours)
Checkpoints, re-checks and placements have a time limit per question and are scored at the end;
while one is running the mentor does not answer questions. Goals: {goals}."""
SETTING_KEYS = {
    "goal": "goal",
    "hours": "hours_per_week",
    "tz": "time_zone",
    "timezone": "time_zone",
    "zone": "time_zone",
    "nudge": "nudge_time",
}
SETTINGS_USAGE = (
    "Use /settings goal ml-engineer | hours 6 | tz Europe/Berlin | nudge 18:30 | nudge off (several at once work)."
)


def render_answer(answer: Answer) -> None:
    style = "yellow" if answer.abstained else "white"
    out.print(f"[bold green]mentor>[/] [{style}]{escape(answer.text)}[/]", highlight=False)
    for c in answer.citations:
        where = " · ".join(x for x in (c.stage, c.concept) if x)
        out.print(
            f"  [cyan][{c.n}][/] {escape(c.title)}  [dim]{escape(c.source)}{' · ' + where if where else ''}[/]",
            highlight=False,
        )


@dataclass
class MilestoneDraft:
    """A milestone being typed: the write-up arrives line by line, an empty line submits it."""

    stage: str
    url: str
    lines: list[str] = field(default_factory=list)


class TerminalMentor:
    """The local learner's chat loop; each line is a question, an answer or a /command."""

    def __init__(
        self,
        services: Services,
        mentor: MentorService,
        practice: PracticeService,
        mastery: MasteryService,
        learner_id: int,
    ) -> None:
        self.services = services
        self.mentor = mentor
        self.practice = practice
        self.mastery = mastery
        self.learner_id = learner_id
        self.last_question_id: int | None = None
        self.quiz: QuizSession | None = None  # a quiz, or a running checkpoint/re-check/placement
        self.limits: Mapping[int, int] = {}  # assessment items: position -> time limit (ms)
        self.position = 0
        self.shown_at = 0.0
        self.last_attempt_id: int | None = None
        self.draft: MilestoneDraft | None = None
        kdir = services.settings.knowledge_dir
        self.roadmap = load_roadmap(kdir)
        self.titles = concept_titles(kdir)

    @property
    def in_assessment(self) -> bool:
        return self.quiz is not None and self.quiz.kind in ASSESSMENT_KINDS

    async def handle(self, line: str) -> bool:
        """Process one input line; False means quit."""
        line = line.strip()
        if self.draft is not None and not line.startswith("/"):
            await self.draft_line(line)
            return True
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
        name, arg = name.lower(), arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if self.quiz is not None and name in ("/skip", "/report", "/dispute", "/stop"):
            await self.quiz_command(name, arg)
            return True
        if name in ("/quiz", "/review"):
            if self.in_assessment:
                out.print("Finish the questions of this test first, or /stop to pause it.")
            else:
                await self.start_quiz("learn" if name == "/quiz" else "review", arg)
            return True
        if name == "/dispute":
            await self.quiz_command(name, arg)
            return True
        handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "/checkpoint": self.checkpoint,
            "/recheck": self.recheck,
            "/placement": self.placement,
            "/resume": self.resume,
            "/progress": self.show_progress,
            "/milestone": self.milestone,
            "/cancel": self.cancel,
            "/settings": self.settings,
            "/link": self.link,
            "/disputes": self.show_disputes,
        }
        if name in handlers:
            await handlers[name](arg)
        elif name == "/help":
            out.print(HELP.format(stages=", ".join(STAGE_IDS), goals=", ".join(CAREER_GOALS)), highlight=False)
        elif name == "/roadmap":
            self.show_roadmap()
        elif name == "/stage":
            self.show_stage(arg)
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
        self.limits = {}
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
            if self.in_assessment:
                out.print("[bold]Every question is answered.[/] /progress shows the result.")
            else:
                out.print("[bold]Quiz finished.[/] /quiz for more, /review for due reviews.")
            self.quiz, self.limits = None, {}
            return
        item = self.quiz.items[self.position]
        limit = self.limits.get(item.position)
        timer = f" [yellow]({limit // 1000} s)[/]" if limit else ""
        out.print(
            f"[bold cyan]Q{self.position + 1}[/]{timer} [dim]({item.concept})[/] {escape(item.prompt)}",
            highlight=False,
        )
        if item.type == "mcq":
            for letter, option in zip("ABCD", item.options, strict=True):
                out.print(f"  {letter}) {escape(option)}", highlight=False)
        elif item.type == "true_false":
            out.print("  true or false?")
        elif item.type == "free_text":
            out.print("  [dim]answer in a sentence or two[/]")
        elif item.type == "numeric" and self.limits:
            out.print("  [dim]answer with a number[/]")
        self.shown_at = time.monotonic()

    async def answer_item(self, text: str) -> None:
        assert self.quiz is not None
        item = self.quiz.items[self.position]
        assessment = self.in_assessment
        latency = int((time.monotonic() - self.shown_at) * 1000)
        try:
            outcome = await self.mastery.answer(
                self.learner_id, self.quiz.id, item.position, text, latency_ms=latency, platform="cli"
            )
        except InvalidAnswerError as exc:
            out.print(f"[yellow]{escape(str(exc))}[/]")
            return
        except SessionExpiredError as exc:
            if assessment:
                await self.assessment_timed_out(self.quiz.id)
            else:
                out.print(f"[yellow]{escape(str(exc))}[/]")
                self.quiz = None
            return
        except PracticeError as exc:
            out.print(f"[yellow]{escape(str(exc))}[/]")
            self.quiz, self.limits = None, {}
            return
        self.last_attempt_id = outcome.result.attempt_id
        limit = self.limits.get(item.position)
        if not assessment:
            self.show_result(outcome.result, item.concept, outcome.level)
        elif limit is not None and latency > limit:
            out.print(f"[yellow]Time is up for that question ({limit // 1000} s): it counts as wrong.[/]")
        else:
            out.print("[dim]Answer recorded.[/]")
        if outcome.assessment is not None:
            self.quiz, self.limits = None, {}
            await self.show_assessment_result(outcome.assessment, outcome.award)
        if outcome.award is not None:
            self.show_award(outcome.award)
        if self.quiz is None:
            return
        self.position += 1
        self.show_item()

    def show_result(self, result: AnswerResult, concept: str, level: str) -> None:
        colour = {"correct": "green", "partial": "yellow", "incorrect": "red"}[result.verdict]
        out.print(f"[bold {colour}]{escape(result.feedback)}[/] {escape(result.explanation)}", highlight=False)
        if result.verdict != "correct":
            out.print(f"  Answer: {escape(result.correct_answer)}", highlight=False)
        if result.missing:
            out.print(f"  Missing: {escape('; '.join(result.missing))}", highlight=False)
        when = result.next_review.strftime("%d %b %H:%M UTC") if result.next_review else "-"
        out.print(
            f"  [dim]{escape(self.titles.get(concept, concept))}: {level} · read more: {escape(result.source)} · "
            f"next review {when} · /dispute REASON to contest[/]",
            highlight=False,
        )

    async def show_disputes(self, arg: str) -> None:
        flags = await self.practice.my_flags(self.learner_id)
        if not flags:
            out.print("You have not reported a question or disputed a grade.")
            return
        outcome = {
            "open": "waiting for an admin",
            "upheld": "upheld",
            "rejected": "rejected: the grade or question stands",
            "closed": "closed",
        }
        for f in flags[-20:]:
            what = "dispute of your answer to" if f.kind == "dispute" else "report on"
            status = outcome.get(f.status, f.status)
            if f.status == "upheld" and f.kind == "dispute":
                status = "upheld: your answer now counts as correct"
            note = f" — {f.note}" if f.note else ""
            out.print(
                f"#{f.id} {f.created_at:%d %b}: {what} {escape(f.item_id)} · {escape(status)}{escape(note)}",
                highlight=False,
            )

    async def quiz_command(self, name: str, arg: str) -> None:
        if name == "/stop":
            if self.in_assessment:
                assert self.quiz is not None
                out.print(
                    f"Paused. The clock keeps running until {self.quiz.expires_at:%H:%M} UTC: /resume to continue. "
                    "Unanswered questions count as wrong when the time is up."
                )
            else:
                out.print("Quiz paused.")
            self.quiz, self.limits = None, {}
        elif name == "/skip":
            if self.in_assessment:
                out.print("In a test every question needs an answer; an unanswered one counts as wrong at the end.")
                return
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
            try:
                await self.practice.dispute_grade(
                    self.learner_id, self.last_attempt_id, arg or "disputed from the terminal"
                )
            except PracticeError as exc:
                out.print(str(exc))
                return
            out.print("Dispute queued: an admin will re-check that grade.")

    # --- checkpoints, re-checks, placements ---------------------------------------------

    async def checkpoint(self, arg: str) -> None:
        await self.start_assessment("checkpoint", arg)

    async def recheck(self, arg: str) -> None:
        await self.start_assessment("recheck", arg)

    async def placement(self, arg: str) -> None:
        await self.start_assessment("placement", arg)

    async def start_assessment(self, kind: str, arg: str) -> None:
        stage = arg.split()[0] if arg else ""
        if stage not in STAGE_IDS:
            out.print(f"Which stage? /{kind} STAGE, with one of: {', '.join(STAGE_IDS)}")
            return
        if self.in_assessment:
            out.print("You are in a test already: answer its questions, or /stop to pause it.")
            return
        running = await self.mastery.open_assessment(self.learner_id)
        if running is not None:
            if (running.kind, running.stage) == (kind, stage):
                await self.resume("")
            else:
                out.print(
                    f"Your {running.kind} for {running.stage} is running until {running.deadline:%H:%M} UTC: "
                    "/resume to continue it."
                )
            return
        try:
            start = await self.mastery.start_assessment(self.learner_id, kind, stage)
        except PracticeError as exc:
            out.print(f"[yellow]Not yet: {escape(str(exc))}.[/]", highlight=False)
            return
        if self.quiz is not None:
            out.print("[dim](Your quiz is paused; /quiz resumes it within 2 hours.)[/]")
        spec = self.mastery.rules.spec(kind)
        limits = sorted({v // 1000 for v in start.time_limits_ms.values()})
        out.print(
            f"[bold]{kind.capitalize()} for {escape(self.roadmap.stage(stage).title)}: "
            f"{len(start.session.items)} questions, {spec.pass_right} right to pass.[/] "
            f"{' or '.join(str(x) for x in limits)} s per question; everything ends by "
            f"{start.session.expires_at:%H:%M} UTC. Answers are scored at the end, and the mentor answers "
            "questions again when this is finished. /stop pauses (the clock keeps running).",
            highlight=False,
        )
        self.quiz, self.limits, self.position = start.session, start.time_limits_ms, 0
        self.show_item()

    async def resume(self, _arg: str) -> None:
        running = await self.mastery.open_assessment(self.learner_id)
        if running is None:
            out.print("No checkpoint, re-check or placement is running.")
            return
        try:
            session = await self.practice.open_session(self.learner_id, running.id)
        except PracticeError as exc:
            out.print(f"[yellow]{escape(str(exc))}[/]")
            return
        if self.quiz is not None and not self.in_assessment:
            out.print("[dim](Your quiz is paused; /quiz resumes it within 2 hours.)[/]")
        self.quiz, self.position = session, 0
        self.limits = {i.position: time_limit_ms(self.practice.bank.item(i.item_id)) for i in session.items}
        left = sum(1 for i in session.items if not i.answered)
        out.print(
            f"[bold]Resuming your {running.kind} for {running.stage}:[/] {left} questions left, "
            f"until {running.deadline:%H:%M} UTC."
        )
        self.show_item()

    async def assessment_timed_out(self, assessment_id: str) -> None:
        self.quiz, self.limits = None, {}
        await self.mastery.open_assessment(self.learner_id)  # scores and closes one past its deadline
        record = next((a for a in await self.mastery.store.assessments(self.learner_id) if a.id == assessment_id), None)
        out.print("[yellow]Time is up for this test.[/]")
        if record is not None and record.status != "open":
            spec = self.mastery.rules.spec(record.kind)
            result = AssessmentResult(
                record.id,
                record.kind,
                record.stage,
                record.right,
                spec.items,
                spec.pass_right,
                record.status == "passed",
            )
            await self.show_assessment_result(result, None)

    async def show_assessment_result(self, result: AssessmentResult, award: AwardDecision | None) -> None:
        colour = "green" if result.passed else "red"
        out.print(f"[bold {colour}]{escape(result.message[0].upper() + result.message[1:])}[/]", highlight=False)
        if award is not None:
            return
        if result.passed and result.kind in ("checkpoint", "placement"):
            reason = await self.mastery.availability(self.learner_id, "recheck", result.stage)
            out.print(f"Next comes the re-check, which confirms it: {escape(reason or f'/recheck {result.stage}')}.")
        elif result.passed:
            progress = await self.mastery.get_progress(self.learner_id)
            stage = next(s for s in progress.stages if s.stage == result.stage)
            if not stage.awarded and stage.needed:
                out.print("The stage award still needs:")
                for line in stage.needed:
                    out.print(f"  - {escape(line)}", highlight=False)
        else:
            reason = await self.mastery.availability(self.learner_id, result.kind, result.stage)
            out.print(f"/progress shows what to practise; {escape(reason or 'you can try again now')}.")

    def show_award(self, award: AwardDecision) -> None:
        out.print(
            f"[bold green]🏅 Stage complete: {escape(award.stage_title)}![/] The award is recorded; linked "
            "Discord and Telegram accounts receive the role or badge.",
            highlight=False,
        )

    # --- progress, milestones, settings, linking ----------------------------------------

    async def show_progress(self, _arg: str) -> None:
        progress = await self.mastery.get_progress(self.learner_id)
        print_progress(progress)
        path = self.services.settings.data_dir / "charts" / f"progress-{self.learner_id}.png"
        try:
            await save_chart(progress, path)
        except OSError as exc:
            out.print(f"[yellow]Could not save the chart: {escape(str(exc))}[/]")
            return
        out.print(f"Chart saved to {path}", highlight=False)

    async def milestone(self, arg: str) -> None:
        parts = arg.split(maxsplit=2)
        if len(parts) < 2 or parts[0] not in STAGE_IDS:
            out.print(f"Use /milestone STAGE URL [WRITE-UP], with a stage of: {', '.join(STAGE_IDS)}")
            return
        stage, url = parts[0], parts[1]
        if not url.lower().startswith(("http://", "https://")):
            out.print("The second part is your project's link, starting with http:// or https://.")
            return
        if not self.mastery.requires_review(stage):
            out.print(f"[dim](The {stage} award does not need a reviewed milestone; a reviewer still sees it.)[/]")
        if len(parts) == 3:
            await self.submit_milestone(stage, url, parts[2])
            return
        if self.draft is not None:
            self.draft.stage, self.draft.url = stage, url
            out.print("Link updated; the write-up you typed so far is kept. Finish with an empty line.")
            return
        self.draft = MilestoneDraft(stage, url)
        out.print(
            "Now the write-up: what you built, how, and what you learned (50 characters or more). "
            "Finish with an empty line; /cancel drops it."
        )

    async def draft_line(self, line: str) -> None:
        assert self.draft is not None
        if line:
            self.draft.lines.append(line)
            return
        await self.submit_milestone(self.draft.stage, self.draft.url, "\n".join(self.draft.lines))

    async def submit_milestone(self, stage: str, url: str, writeup: str) -> None:
        try:
            milestone_id = await self.mastery.submit_milestone(self.learner_id, stage, url, writeup)
        except PracticeError as exc:
            kept = (
                " Your write-up is kept: add lines and finish with an empty line, or /cancel."
                if self.draft is not None
                else ""
            )
            out.print(f"[yellow]{escape(str(exc))}.[/]{kept}", highlight=False)
            return
        self.draft = None
        out.print(
            f"Milestone #{milestone_id} for {stage} submitted: a reviewer will look at it (/progress shows when)."
        )

    async def cancel(self, _arg: str) -> None:
        if self.draft is None:
            out.print("Nothing to cancel.")
        else:
            self.draft = None
            out.print("Milestone draft dropped.")

    async def settings(self, arg: str) -> None:
        if arg:
            changes: dict[str, Any] = {}
            tokens = arg.split()
            i = 0
            while i < len(tokens):
                key = tokens[i].lower()
                if key == "off":
                    changes["nudge_time"] = "off"
                    i += 1
                    continue
                if key not in SETTING_KEYS or i + 1 >= len(tokens):
                    out.print(
                        f"I did not understand {escape(' '.join(tokens[i:]))!r}. {SETTINGS_USAGE}", highlight=False
                    )
                    return
                value: Any = tokens[i + 1]
                if key == "hours":
                    try:
                        value = float(value.replace(",", "."))
                    except ValueError:
                        out.print("Hours per week must be a number, e.g. /settings hours 6")
                        return
                changes[SETTING_KEYS[key]] = value
                i += 2
            try:
                await self.mastery.update_settings(self.learner_id, **changes)
            except PracticeError as exc:
                out.print(f"[yellow]{escape(str(exc))}.[/] Nothing was changed.", highlight=False)
                return
            out.print("Saved.")
        profile = await self.mastery.store.profile(self.learner_id)
        assert profile is not None
        nudge = f"{profile.nudge_time} ({profile.time_zone})" if profile.nudge_time else "off"
        hours = f"{profile.hours_per_week:g}" if profile.hours_per_week else "not set"
        out.print("[bold]Your settings[/]")
        out.print(f"  goal:           {profile.goal or 'not set'} [dim](one of {', '.join(CAREER_GOALS)})[/]")
        out.print(f"  hours per week: {hours}")
        out.print(f"  time zone:      {profile.time_zone}")
        out.print(f"  daily nudge:    {nudge}")
        out.print(f"[dim]{SETTINGS_USAGE}[/]")

    async def link(self, arg: str) -> None:
        if not arg:
            code = await self.mastery.create_link_code(self.learner_id)
            out.print(
                f"Your link code: [bold]{code}[/] (single use, valid 15 minutes). Send [bold]/link {code}[/] to the "
                "bot on Discord or Telegram: that account then shares this progress."
            )
            return
        try:
            owner = await self.mastery.redeem_link_code(self.learner_id, arg)
        except PracticeError as exc:
            out.print(f"[yellow]{escape(str(exc))}.[/]", highlight=False)
            return
        if owner == self.learner_id:
            out.print("That code was made here: this learner is already itself. Use it on the other platform.")
            return
        self.learner_id = owner
        out.print(f"Linked: your progress now lives with learner {owner} and follows you on every linked platform.")

    # --- roadmap --------------------------------------------------------------------------

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
        running = await self.mastery.open_assessment(self.learner_id)
        if running is not None:
            out.print(
                f"[yellow]Your {running.kind} for {running.stage} is running until {running.deadline:%H:%M} UTC: "
                "/resume to continue it.[/]"
            )
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
            mentor = build_mentor(services, build_mastery(services, build_practice(services)))
            return await mentor.answer(question, learner_key="cli:local", platform="cli")

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
            practice = build_practice(services)
            mastery = build_mastery(services, practice)
            mentor = build_mentor(services, mastery)
            learner_id = await SqlLearners(services.engine).learner_for("cli", "local", utc_now())
            await services.index.refresh()
            watcher = asyncio.create_task(services.index.watch(settings.index_poll_seconds))
            if announce:
                err.print("Front-ends running: terminal mentor.")
            try:
                await TerminalMentor(services, mentor, practice, mastery, learner_id).loop()
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
            retired = await store.retired_items()
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
                "retired": None if s.item_id not in retired else retired[s.item_id].reason,
            }
            for s in stats
            if flagged or s.attempts or s.item_id in retired
        ]
        return rows

    rows = asyncio.run(go())
    if as_json:
        print_json(rows)
        return
    table = Table(
        Column("item", no_wrap=True),  # ids are what admins type next: never truncated
        Column("tries", justify="right"),
        Column("p", justify="right"),  # difficulty: share right on the first try
        Column("disc.", justify="right"),  # discrimination (point-biserial)
        Column("rep.", justify="right"),
        Column("disp.", justify="right"),
        "latest flag / retired",
        caption="p = share right on the first try; disc. = discrimination; rep./disp. = reports/disputes",
    )
    for r in rows:
        flags = r["flags"]
        latest = str(flags[-1]["reason"])[:60] if isinstance(flags, list) and flags else ""
        if r["retired"] is not None:
            latest = f"RETIRED: {str(r['retired'])[:50]}"
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
