"""Ports: what the core needs from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

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
