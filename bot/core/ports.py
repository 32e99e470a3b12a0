"""Ports: what the core needs from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.core.models import SearchHit


class Retriever(Protocol):
    """Finds passages for a question."""

    async def search(
        self, query: str, k: int = 5, stage: str | None = None, boost_stage: str | None = None
    ) -> list[SearchHit]: ...


class QuestionLog(Protocol):
    """Stores every question asked, with its outcome and feedback."""

    async def record(
        self,
        *,
        asked_at: datetime,
        learner_key: str | None,
        platform: str,
        question: str,
        abstained: bool,
        top_score: float | None,
        scores: Sequence[float],
        cited_chunks: Sequence[str],
        mode: str,
    ) -> int: ...

    async def set_feedback(self, question_id: int, value: int, at: datetime) -> bool: ...


class ChatModel(Protocol):
    """A chat LLM: one system prompt, one user message, one reply (may raise or time out)."""

    async def complete(self, system: str, user: str) -> str: ...


@dataclass(frozen=True)
class Button:
    """A button under a message: `data` is opaque to the platform and resolved by the bot."""

    label: str
    data: str


@dataclass(frozen=True)
class SendResult:
    """What a platform said: "sent"; "retry" (429/5xx/timeout: try again after `retry_after`
    seconds); or "unreachable" (403, unknown user, blocked bot: do not retry)."""

    status: Literal["sent", "retry", "unreachable"]
    error: str = ""
    retry_after: float = 0.0


class Messenger(Protocol):
    """One platform's way to reach a learner's identity (`external_id` on that platform)."""

    platform: str

    async def send_text(self, external_id: str, text: str) -> SendResult: ...

    async def send_buttons(self, external_id: str, text: str, buttons: Sequence[Button]) -> SendResult: ...

    async def send_image(self, external_id: str, png: bytes, caption: str) -> SendResult: ...

    async def apply_award(self, external_id: str, stage: str, title: str, grant: bool) -> SendResult:
        """Carry out an award decision: a stage role on Discord, a badge message on Telegram."""
        ...
