"""LangChain chat-model adapter for the core's `ChatModel` port, and the factory from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.config import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class LLMConfigError(RuntimeError):
    """The configured LLM provider cannot be set up."""


class LangChainChatModel:
    """Wraps any LangChain `BaseChatModel` (OpenAI, Anthropic, Ollama, a fake for tests)."""

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model

    async def complete(self, system: str, user: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        reply = await self.model.ainvoke([SystemMessage(content=system), HumanMessage(content=user)])
        content: Any = reply.content
        if isinstance(content, list):  # content blocks
            content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
        return str(content)


def make_chat_model(settings: Settings) -> LangChainChatModel | None:
    """None when no provider is configured (the mentor then answers extractively)."""
    if not settings.llm_provider:
        return None
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found]
    except ImportError as exc:
        raise LLMConfigError(
            f"MENTOR_LLM_PROVIDER={settings.llm_provider!r} needs the `langchain` package and the "
            f"provider's integration (e.g. `pip install langchain langchain-{settings.llm_provider}`); "
            "or unset MENTOR_LLM_PROVIDER to answer extractively"
        ) from exc
    kwargs: dict[str, Any] = {"model_provider": settings.llm_provider, "timeout": settings.llm_timeout_seconds}
    if settings.llm_api_key is not None:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    try:
        model = init_chat_model(settings.llm_model, **kwargs)
    except Exception as exc:  # provider packages raise many kinds
        raise LLMConfigError(f"cannot set up LLM {settings.llm_provider}/{settings.llm_model}: {exc}") from exc
    return LangChainChatModel(model)
