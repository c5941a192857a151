"""The OpenAI-compatible provider over the official openai client: chat completions (structured output, tools)
and embeddings. Usage is returned to the caller, which records it (core.ai.spend) against the tenant and dialog it
was spent for.

Retries are the openai client's own (`build_client`: max_retries): 408, 409, 429, 5xx, timeouts and connection
errors are tried again, waiting what the server asks (retry-after-ms / retry-after) or backing off exponentially
with jitter; other 4xx fail at once. What stays ours is what people see when a call fails for good (`Attempts`):
AIUnavailable with the reason and, after retries, how many attempts were made — e.g. "HTTP 503: … (after 3
attempts)" on a failed card.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from typing import Any

import openai

from ..errors import ConfigError
from ..models import EMBEDDING_DIM
from ..ports import ChatResult
from .providers import AIUnavailable

log = logging.getLogger(__name__)

EMBED_BATCH = 256
# The statuses the openai client retries besides 5xx (openai._base_client: _should_retry); other 4xx are final.
RETRYABLE_STATUS = {408, 409, 429}

# Requests made for the call in progress in this task, counted by the HTTP client's request hook (build_client).
_attempts: ContextVar[list[int] | None] = ContextVar("openai_attempts", default=None)


async def _count_attempt(request) -> None:
    box = _attempts.get()
    if box is not None:
        box[0] += 1


def build_client(*, api_key: str, base_url: str | None, timeout: float, attempts: int) -> openai.AsyncOpenAI:
    """The openai client for every call of one configuration: `attempts` tries per call (max_retries =
    attempts - 1), its HTTP client counting each try so a failure can say how many were made."""
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max(0, attempts - 1),
        http_client=openai.DefaultAsyncHttpxClient(event_hooks={"request": [_count_attempt]}),
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        message = exc.message or ""
        return f"HTTP {exc.status_code}: {message[:200]}"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


class Attempts:
    """Runs one provider call (the openai client retries inside it) and turns a final failure into AIUnavailable
    with what people see: the reason, and after retryable failures the attempts made."""

    async def __call__(self, what: str, call):
        box = [0]
        token = _attempts.set(box)
        try:
            return await call()
        except openai.APIStatusError as exc:
            if exc.status_code < 500 and exc.status_code not in RETRYABLE_STATUS:
                raise AIUnavailable(_describe(exc)) from exc
            failure = exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            failure = exc
        finally:
            _attempts.reset(token)
        reason = f"{_describe(failure)} (after {max(1, box[0])} attempts)"
        log.warning("%s failed: %s", what, reason)
        raise AIUnavailable(reason) from failure


def _response_format(schema: dict) -> dict:
    """Accepts {"name", "schema"[, "strict"]} or a bare JSON schema."""
    if "schema" in schema and "name" in schema:
        spec = {"strict": True, **schema}
    else:
        spec = {"name": "result", "schema": schema, "strict": True}
    return {"type": "json_schema", "json_schema": spec}


class OpenAILLM:
    """core.ports.LLM over /v1/chat/completions of any OpenAI-compatible server."""

    provider = "openai"

    def __init__(self, client: openai.AsyncOpenAI, model: str, attempts: Attempts):
        self.client = client
        self.model = model
        self.name = model
        self.attempts = attempts

    async def chat(self, messages: list[dict], *, schema: dict | None = None, tools: list[dict] | None = None,
                   temperature: float = 0.3) -> ChatResult:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if schema is not None:
            kwargs["response_format"] = _response_format(schema)
        if tools:
            kwargs["tools"] = tools
        response = await self.attempts(f"chat {self.model}", lambda: self.client.chat.completions.create(**kwargs))
        if not response.choices:
            raise AIUnavailable("the model returned no choices")
        message = response.choices[0].message
        content = message.content or ""
        parsed = None
        # A turn that calls tools carries no answer yet: the structured answer comes after the tool results.
        if schema is not None and not message.tool_calls:
            try:
                parsed = json.loads(content) if content else None
            except json.JSONDecodeError:
                raise AIUnavailable("the model returned invalid JSON for a structured answer") from None
            if not isinstance(parsed, dict):
                raise AIUnavailable("the model returned a structured answer that is not an object")
        usage = response.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        return ChatResult(
            text=content,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=(getattr(details, "cached_tokens", 0) or 0) if details else 0,
            parsed=parsed,
            tool_calls=[
                {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                for c in (message.tool_calls or [])
            ],
        )


class OpenAIEmbedder:
    """core.ports.Embedder over /v1/embeddings, asking for EMBEDDING_DIM dimensions (text-embedding-3-*)."""

    provider = "openai"

    def __init__(self, client: openai.AsyncOpenAI, model: str, attempts: Attempts, dim: int = EMBEDDING_DIM):
        if model.startswith("text-embedding-ada"):
            raise ConfigError(f"{model} cannot shorten its vectors to {dim} dimensions; use text-embedding-3-small")
        self.client = client
        self.model = model
        self.dim = dim
        self.name = f"openai:{model}@{dim}"
        self.attempts = attempts

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), EMBED_BATCH):
            # The API refuses empty strings; a single space embeds as "nothing" and keeps positions aligned.
            batch = [t if t.strip() else " " for t in texts[start : start + EMBED_BATCH]]
            response = await self.attempts(
                f"embed {self.model}",
                lambda: self.client.embeddings.create(model=self.model, input=batch, dimensions=self.dim,
                                                      encoding_format="float"),
            )
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
            tokens += response.usage.prompt_tokens if response.usage else 0
        return vectors, tokens


