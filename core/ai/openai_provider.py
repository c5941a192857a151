"""The OpenAI-compatible provider over the official openai client: chat completions (structured output, tools)
and embeddings, with retries and backoff on 429 / 5xx / timeouts. Usage is returned to the caller, which records
it (core.ai.spend) against the tenant and dialog it was spent for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

import openai

from ..errors import ConfigError
from ..models import EMBEDDING_DIM
from ..ports import ChatResult
from .providers import AIUnavailable

log = logging.getLogger(__name__)

EMBED_BATCH = 256
MAX_RETRY_WAIT = 30.0
RETRYABLE_STATUS = {408, 409, 429}


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    if seconds := headers.get("retry-after"):
        try:
            return float(seconds)
        except ValueError:
            pass
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        message = exc.message or ""
        return f"HTTP {exc.status_code}: {message[:200]}"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


class Retrying:
    """Attempts a provider call up to `attempts` times. 429 waits what the server asked (retry-after-ms or
    retry-after), 5xx, timeouts and connection errors back off exponentially with jitter; other 4xx fail at once."""

    def __init__(self, attempts: int, backoff: float):
        self.attempts = max(1, attempts)
        self.backoff = backoff

    async def __call__(self, what: str, call):
        last = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            try:
                return await call()
            except openai.APIStatusError as exc:
                last = _describe(exc)
                if exc.status_code < 500 and exc.status_code not in RETRYABLE_STATUS:
                    raise AIUnavailable(last) from exc
                wait = _retry_after(exc) if exc.status_code == 429 else None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                last = _describe(exc)
                wait = None
            if attempt == self.attempts:
                break
            if wait is None:
                wait = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
            wait = min(wait, MAX_RETRY_WAIT)
            log.warning("%s failed (%s); retry %d/%d in %.2fs", what, last, attempt, self.attempts - 1, wait)
            await asyncio.sleep(wait)
        raise AIUnavailable(f"{last} (after {self.attempts} attempts)")


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

    def __init__(self, client: openai.AsyncOpenAI, model: str, retrying: Retrying):
        self.client = client
        self.model = model
        self.name = model
        self.retrying = retrying

    async def chat(self, messages: list[dict], *, schema: dict | None = None, tools: list[dict] | None = None,
                   temperature: float = 0.3) -> ChatResult:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if schema is not None:
            kwargs["response_format"] = _response_format(schema)
        if tools:
            kwargs["tools"] = tools
        response = await self.retrying(f"chat {self.model}", lambda: self.client.chat.completions.create(**kwargs))
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

    def __init__(self, client: openai.AsyncOpenAI, model: str, retrying: Retrying, dim: int = EMBEDDING_DIM):
        if model.startswith("text-embedding-ada"):
            raise ConfigError(f"{model} cannot shorten its vectors to {dim} dimensions; use text-embedding-3-small")
        self.client = client
        self.model = model
        self.dim = dim
        self.name = f"openai:{model}@{dim}"
        self.retrying = retrying

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), EMBED_BATCH):
            # The API refuses empty strings; a single space embeds as "nothing" and keeps positions aligned.
            batch = [t if t.strip() else " " for t in texts[start : start + EMBED_BATCH]]
            response = await self.retrying(
                f"embed {self.model}",
                lambda: self.client.embeddings.create(model=self.model, input=batch, dimensions=self.dim,
                                                      encoding_format="float"),
            )
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
            tokens += response.usage.prompt_tokens if response.usage else 0
        return vectors, tokens


