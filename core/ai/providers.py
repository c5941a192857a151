"""Providers: any OpenAI-compatible endpoint through the official openai client (core.ai.openai_provider), or
the local embedder when no key is configured. The openai package is imported only when a key is configured, so
commands and processes that never call a model start fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from ..ports import LLM, Embedder
from ..settings import Settings
from .embedding import LocalEmbedder


class AIUnavailable(UserError):
    """The provider did not answer after all retries (or refused for good: bad key, unknown model). A UserError:
    a command that needed the model (an import that embeds) prints it as one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class AIProviders:
    """What the pipeline runs on. `llm is None` means offline: the grounded responder drafts replies."""

    llm: LLM | None
    embedder: Embedder

    @property
    def offline(self) -> bool:
        return self.llm is None


def provider_of(obj: object) -> str:
    return getattr(obj, "provider", "openai")


def model_of(obj: object) -> str:
    return getattr(obj, "model", getattr(obj, "name", "unknown"))


def build_providers(settings: Settings) -> AIProviders:
    ai = settings.ai
    if ai.openai_api_key is None:
        return AIProviders(llm=None, embedder=LocalEmbedder())
    # The openai client retries (ai_max_attempts tries per call); Attempts reports a final failure.
    from .openai_provider import Attempts, OpenAIEmbedder, OpenAILLM, build_client

    client = build_client(api_key=ai.openai_api_key.get_secret_value(), base_url=ai.openai_base_url,
                          timeout=ai.ai_timeout, attempts=ai.ai_max_attempts)
    return AIProviders(
        llm=OpenAILLM(client, ai.chat_model, Attempts()),
        embedder=OpenAIEmbedder(client, ai.embedding_model, Attempts()),
    )
