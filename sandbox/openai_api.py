"""OpenAI-compatible stand-in: /v1/chat/completions, /v1/embeddings, /v1/audio/transcriptions, /v1/models.

The real ``openai.AsyncOpenAI(base_url="http://127.0.0.1:PORT/v1")`` works against it unmodified. Wire
shapes follow the OpenAI API reference (https://platform.openai.com/docs/api-reference): the chat
completion object, the streamed chunk object, the embedding object and ``{"error": {message, type,
param, code}}`` errors.

Replies come, in this order, from the queue filled by ``script_reply``, from the first ``add_rule`` whose
regex matches the prompt, or from a deterministic default: an echo of the last user message, a minimal
instance of the requested JSON schema, or a tool call with minimal arguments when ``tool_choice`` forces one.
A scripted reply or a rule may call tools (``script_reply(tool_calls=[{"name", "arguments"}])``, finish_reason
``tool_calls``); as the real API, the next request must answer every call with a ``tool`` message carrying its
``tool_call_id``, and function tools are checked (names, and with ``strict`` the schema rules of Structured Outputs).

Token counts are a deterministic approximation, not tiktoken: a text costs ceil(len(text) / 4) tokens
(at least 1), each message adds 3 tokens of framing and the reply is primed with 3 more, the framing of
OpenAI's "How to count tokens with tiktoken" cookbook. Prompt caching is emulated as documented in
https://platform.openai.com/docs/guides/prompt-caching: prompts of 1024 tokens or more are cached, and a
later prompt with the same prefix reports the longest cached prefix, in 128-token steps, as
``usage.prompt_tokens_details.cached_tokens``. A token is taken to be 4 characters of that prefix.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from aiohttp import web

CHAT_MODELS = (
    "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
    "gpt-4o", "gpt-4o-mini", "o4-mini", "o3", "o3-mini", "gpt-3.5-turbo",
)
# Native sizes; `dimensions` may shorten text-embedding-3-* vectors, ada-002 refuses it.
EMBEDDING_MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
MAX_EMBEDDING_INPUTS = 2048
CACHE_MIN_TOKENS, CACHE_STEP = 1024, 128
TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")


def _audio_seconds(audio: bytes) -> float:
    """Seconds of an Ogg/Opus stream (the granule position of its last page, 48 kHz), else ~16 kB a second."""
    at = audio.rfind(b"OggS")
    if audio.startswith(b"OggS") and 0 <= at and len(audio) >= at + 14:
        granule = struct.unpack("<q", audio[at + 6:at + 14])[0]
        if granule > 0:
            return round(granule / 48_000, 2)
    return round(max(1, len(audio)) / 16_000, 2)


def count_tokens(text: str) -> int:
    """The stand-in's token estimate for a text: one token per 4 characters, at least 1."""
    return max(1, math.ceil(len(text) / 4))


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class APIError(Exception):
    """Raised inside handlers; rendered as an OpenAI error response."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.body, self.headers = status, error_body(message, type_, param, code), headers or {}


# ---------------------------------------------------------------------------------------------- embeddings

_WORD = re.compile(r"\w+")
# Each feature lands once in every band, so a vector cut to 256 dims keeps every feature (Matryoshka-like,
# as text-embedding-3 vectors shortened with `dimensions` are).
_BAND_EDGES = (0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


def _features(text: str) -> list[tuple[str, float]]:
    """Lower-cased words (Unicode-aware, so Cyrillic works; ё folded to е) and their character trigrams:
    shared words make texts close, shared stems (trigrams) make inflected forms close."""
    words = _WORD.findall(text.lower().replace("ё", "е"))
    feats: list[tuple[str, float]] = []
    for word in words:
        feats.append(("w:" + word, 1.0))
        padded = f"#{word}#"
        feats.extend(("t:" + padded[i:i + 3], 0.5) for i in range(len(padded) - 2))
    return feats or [("raw:" + text, 1.0)]


def embed_text(text: str, dimensions: int) -> list[float]:
    """Deterministic, L2-normalised feature-hashing embedding."""
    bands = [(lo, min(hi, dimensions)) for lo, hi in zip(_BAND_EDGES, _BAND_EDGES[1:]) if lo < dimensions]
    vec = [0.0] * dimensions
    for feature, weight in _features(text):
        digest = hashlib.blake2b(feature.encode(), digest_size=32).digest()
        for j, (lo, hi) in enumerate(bands):
            index = lo + int.from_bytes(digest[2 * j:2 * j + 2], "little") % (hi - lo)
            sign = 1.0 if digest[20 + j] & 1 else -1.0
            vec[index] += sign * weight * math.sqrt(hi - lo)  # wide bands carry more signal, less collision noise
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


# ----------------------------------------------------------------------------------------- JSON schemas

def synthesize(schema: dict, text: str = "", root: dict | None = None) -> Any:
    """A minimal instance that validates against `schema` (the subset Structured Outputs accepts:
    https://platform.openai.com/docs/guides/structured-outputs#supported-schemas). Strings get `text`."""
    root = schema if root is None else root
    if "$ref" in schema:
        node: Any = root
        for part in filter(None, schema["$ref"].lstrip("#").split("/")):
            node = node[part]
        return synthesize(node, text, root)
    if "const" in schema:
        return schema["const"]
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            merged.update(sub)
        return synthesize(merged, text, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return synthesize(options[0], text, root)
    types = schema.get("type", "object" if "properties" in schema else "string")
    types = [types] if isinstance(types, str) else list(types)
    type_ = next((t for t in types if t != "null"), "null")
    if "enum" in schema:
        fits = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "null": type(None)}
        return next((v for v in schema["enum"] if isinstance(v, fits.get(type_, object))), schema["enum"][0])
    if type_ == "object":
        props = schema.get("properties", {})
        return {name: synthesize(props.get(name, {}), text, root) for name in schema.get("required", [])}
    if type_ == "array":
        items = schema.get("items", {})
        return [synthesize(items, text, root) for _ in range(schema.get("minItems", 0))]
    if type_ in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -math.inf) + (1 if type_ == "integer" else 0.5))
        value = min(max(0, low), schema.get("maximum", math.inf))
        return math.ceil(value) if type_ == "integer" else value
    if type_ == "boolean":
        return False
    if type_ == "null":
        return None
    formats = {"date-time": "1970-01-01T00:00:00Z", "date": "1970-01-01", "time": "00:00:00",
               "email": "user@example.com", "uri": "https://example.com",
               "uuid": "00000000-0000-0000-0000-000000000000"}
    value = formats.get(schema.get("format", ""), text)
    return value[:schema.get("maxLength", len(value))].ljust(schema.get("minLength", 0), "x")


def _strict_problem(schema: dict, context: tuple) -> str | None:
    """What strict mode refuses in a schema (the message the API gives), or None."""
    if not isinstance(schema, dict):
        return None
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "object" in types or "properties" in schema:
        props = schema.get("properties") or {}
        missing = [key for key in props if key not in (schema.get("required") or [])]
        if missing:
            return (f"In context={context}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties. Missing '{missing[0]}'.")
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        for key, sub in props.items():
            problem = _strict_problem(sub, (*context, "properties", key))
            if problem:
                return problem
    if "items" in schema:
        return _strict_problem(schema["items"], (*context, "items"))
    for key in ("anyOf", "allOf"):
        for n, sub in enumerate(schema.get(key) or []):
            problem = _strict_problem(sub, (*context, key, str(n)))
            if problem:
                return problem
    return None


# ----------------------------------------------------------------------------------------------- the app

@dataclass
class _Rule:
    regex: re.Pattern
    reply: str | dict
    times: int | None


@dataclass
class _Failure:
    status: int
    times: int
    delay: float
    retry_after: float


_STATUS_ERRORS = {  # messages and types as the real API sends them
    500: ("The server had an error while processing your request. Sorry about that!", "server_error"),
    502: ("Bad gateway.", "server_error"),
    503: ("The engine is currently overloaded, please try again later.", "server_error"),
    400: ("Invalid request.", "invalid_request_error"),
    403: ("You are not allowed to sample from this model.", "invalid_request_error"),
}


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: text parts are read, other parts (images, audio) named
        content = "\n".join(p.get("text", "") if p.get("type") in ("text", "input_text") else f"[{p.get('type')}]"
                            for p in content)
    calls = [f"{fn.get('name')}({fn.get('arguments')})" for c in message.get("tool_calls") or []
             for fn in [c.get("function") or {}]]
    return "\n".join(filter(None, [content or "", *calls]))


def _tool_call(call: dict) -> dict:
    """Accepts the wire form or a short {"name", "arguments": dict | str} form."""
    fn = call.get("function", call)
    args = fn.get("arguments", {})
    args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return {"id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": fn["name"], "arguments": args}}


def _reply(value: str | dict | None = None, tool_calls: list[dict] | None = None, usage: dict | None = None) -> dict:
    if isinstance(value, dict):
        if "tool_calls" in value:
            return _reply(value.get("content"), value["tool_calls"], usage)
        value = json.dumps(value, ensure_ascii=False)
    return {"content": value, "tool_calls": [_tool_call(c) for c in tool_calls or []], "usage": usage}


class OpenAISandbox:
    def __init__(self, *, api_key: str | None = None, models: Iterable[str] = CHAT_MODELS):
        self.api_key = api_key
        self.models = set(models)
        self.requests: list[dict] = []
        self.usage_totals: dict = {}
        self._script: deque[dict] = deque()
        self._rules: list[_Rule] = []
        self._failures: deque[_Failure] = deque()
        self._prefix_cache: set[bytes] = set()
        self.transcripts: dict[str, tuple[str, str]] = {}  # SHA-256 of audio → (text, language)
        self.reset()
        self.app = web.Application(middlewares=[self._middleware])
        self.app.on_response_prepare.append(self._stamp)
        self.app.add_routes([
            web.post("/v1/chat/completions", self._chat),
            web.post("/v1/embeddings", self._embeddings),
            web.post("/v1/audio/transcriptions", self._transcriptions),
            web.post("/_sandbox/transcripts", self._ctl_transcript),
            web.get("/v1/models", self._list_models),
            web.get("/v1/models/{model}", self._get_model),
            web.post("/_sandbox/script", self._ctl_script),
            web.post("/_sandbox/rules", self._ctl_rule),
            web.post("/_sandbox/fail", self._ctl_fail),
            web.post("/_sandbox/reset", self._ctl_reset),
            web.get("/_sandbox/requests", self._ctl_requests),
            web.get("/_sandbox/usage", self._ctl_usage),
        ])

    # -- control -----------------------------------------------------------------------------------------

    def script_reply(self, content: str | None = None, *, tool_calls: list[dict] | None = None,
                     json: dict | None = None, usage: dict | None = None) -> None:
        """Queue the reply of the next chat completion. `usage` overrides fields of the computed usage."""
        self._script.append(_reply(json if json is not None else content, tool_calls, usage))

    def add_rule(self, pattern: str, reply: str | dict, *, times: int | None = None) -> None:
        """Answer prompts matching `pattern` (re.search over all message texts joined by newlines, DOTALL).
        A str reply is the content; a dict is JSON content, or tool calls when it has a "tool_calls" key."""
        self._rules.append(_Rule(re.compile(pattern, re.DOTALL), reply, times))

    def fail_next(self, status: int, times: int = 1, *, delay: float = 0, retry_after: float = 0.05) -> None:
        """Make the next `times` POSTs under /v1 wait `delay` seconds, then fail with `status`
        (429 carries retry-after headers and the rate_limit_exceeded body). A status below 400 only delays."""
        self._failures.append(_Failure(status, times, delay, retry_after))

    def register_transcript(self, audio: bytes, text: str, *, language: str = "ru") -> str:
        """What /v1/audio/transcriptions hears in these exact bytes (keyed by their SHA-256, which it returns).
        Audio never registered is heard as silence: an empty text, as Whisper answers for noise."""
        digest = hashlib.sha256(audio).hexdigest()
        self.transcripts[digest] = (text, language)
        return digest

    def reset(self) -> None:
        self.transcripts.clear()
        self.requests.clear()
        self._script.clear()
        self._rules.clear()
        self._failures.clear()
        self._prefix_cache.clear()
        self.usage_totals.update(requests=0, prompt_tokens=0, completion_tokens=0, cached_tokens=0, total_tokens=0)

    async def _ctl_script(self, request: web.Request) -> web.Response:
        self.script_reply(**await request.json())
        return web.json_response({"ok": True})

    async def _ctl_rule(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.add_rule(body["pattern"], body["reply"], times=body.get("times"))
        return web.json_response({"ok": True})

    async def _ctl_fail(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fail_next(body["status"], body.get("times", 1), delay=body.get("delay", 0),
                       retry_after=body.get("retry_after", 0.05))
        return web.json_response({"ok": True})

    async def _ctl_transcript(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.transcripts[body["sha256"]] = (body["text"], body.get("language", "ru"))
        return web.json_response({"ok": True})

    async def _ctl_requests(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.requests})

    async def _ctl_usage(self, request: web.Request) -> web.Response:
        return web.json_response(self.usage_totals)

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    # -- plumbing ----------------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        try:
            self._authenticate(request.headers.get("Authorization", ""))
            if request.method == "POST" and request.content_type == "multipart/form-data":
                pass  # an upload (audio transcriptions): its handler reads the form
            elif request.method == "POST":
                try:
                    body = await request.json()  # the body is read once and cached
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise APIError(400, "We could not parse the JSON body of your request. (HINT: This likely means "
                                        "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                                        "payload, but what was sent was not valid JSON.")
                self.requests.append(body)
                await self._inject_failure(body)
            return await handler(request)
        except APIError as e:
            return web.json_response(e.body, status=e.status, headers=e.headers)

    @staticmethod
    async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/v1/"):
            response.headers["x-request-id"] = f"req_{uuid.uuid4().hex}"

    def _authenticate(self, header: str) -> None:
        if self.api_key is None:
            return
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not key:
            raise APIError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        if key != self.api_key:
            shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 7 else key
            raise APIError(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    async def _inject_failure(self, body: dict) -> None:
        if not self._failures:
            return
        failure = self._failures[0]
        failure.times -= 1
        if failure.times <= 0:
            self._failures.popleft()
        if failure.delay:
            await asyncio.sleep(failure.delay)
        if failure.status == 429:
            # https://platform.openai.com/docs/guides/rate-limits: 429 with retry-after and x-ratelimit-* headers.
            wait = failure.retry_after
            raise APIError(429, f"Rate limit reached for {body.get('model')} in organization org-sandbox on requests "
                                f"per min (RPM): Limit 3, Used 3, Requested 1. Please try again in {wait:g}s. Visit "
                                "https://platform.openai.com/account/rate-limits to learn more.",
                           "requests", code="rate_limit_exceeded",
                           headers={"retry-after": str(max(1, math.ceil(wait))),
                                    "retry-after-ms": str(int(wait * 1000)), "x-ratelimit-limit-requests": "3",
                                    "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": f"{wait:g}s"})
        if failure.status >= 400:
            message, type_ = _STATUS_ERRORS.get(failure.status, (f"Injected HTTP {failure.status}.", "server_error"))
            raise APIError(failure.status, message, type_)

    def _check_model(self, model: Any, *, embedding: bool) -> str:
        if not model or not isinstance(model, str):
            raise APIError(400, "you must provide a model parameter", param="model")
        base = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)  # dated snapshots: gpt-4o-2024-08-06
        if base in (EMBEDDING_MODELS if embedding else self.models):
            return model
        if embedding and base in self.models:
            raise APIError(400, f"The model `{model}` does not support embeddings.", param="model")
        if not embedding and base in EMBEDDING_MODELS:
            raise APIError(404, "This is not a chat model and thus not supported in the v1/chat/completions "
                                "endpoint. Did you mean to use v1/completions?", param="model")
        raise APIError(404, f"The model `{model}` does not exist or you do not have access to it.",
                       code="model_not_found")

    def _count(self, usage: dict) -> None:
        self.usage_totals["requests"] += 1
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            self.usage_totals[key] += usage.get(key, 0)
        self.usage_totals["cached_tokens"] += usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)

    # -- models ------------------------------------------------------------------------------------------

    @staticmethod
    def _model_obj(model: str) -> dict:
        return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system"}

    async def _list_models(self, request: web.Request) -> web.Response:
        names = sorted(self.models | set(EMBEDDING_MODELS))
        return web.json_response({"object": "list", "data": [self._model_obj(m) for m in names]})

    async def _get_model(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        if model not in self.models | set(EMBEDDING_MODELS):
            raise APIError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
        return web.json_response(self._model_obj(model))

    # -- chat completions --------------------------------------------------------------------------------

    @staticmethod
    def _validate_messages(messages: Any) -> None:
        if messages is None:
            raise APIError(400, "Missing required parameter: 'messages'.", param="messages",
                           code="missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            raise APIError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
                                "an empty array instead.", param="messages", code="empty_array")
        pending: set[str] = set()  # tool_call ids of the last assistant message still waiting for a tool reply
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("system", "developer", "user", "assistant", "tool", "function"):
                raise APIError(400, f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                                    "'function', 'tool', and 'developer'.", param=f"messages[{i}].role",
                               code="invalid_value")
            if role == "tool":
                if message.get("tool_call_id") not in pending:
                    raise APIError(400, "Invalid parameter: messages with role 'tool' must be a response to a "
                                        "preceeding message with 'tool_calls'.", param=f"messages.[{i}].role")
                pending.discard(message["tool_call_id"])
                continue
            if pending:
                break
            pending = {c.get("id") for c in message.get("tool_calls") or []} if role == "assistant" else set()
        if pending:
            raise APIError(400, "An assistant message with 'tool_calls' must be followed by tool messages responding "
                                f"to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                                f"{', '.join(sorted(pending))}", param="messages")

    @staticmethod
    def _validate_tools(tools: Any) -> None:
        """Function tools as https://platform.openai.com/docs/guides/function-calling defines them: a name of
        letters, digits, _ and - (at most 64), and with `strict` a schema Structured Outputs accepts — every object
        lists all its properties in `required` and sets additionalProperties to false."""
        if tools is None:
            return
        if not isinstance(tools, list):
            raise APIError(400, "Invalid type for 'tools': expected an array of objects.", param="tools",
                           code="invalid_type")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                raise APIError(400, f"Invalid value for 'tools[{i}].type': expected 'function'.",
                               param=f"tools[{i}].type", code="invalid_value")
            name = fn.get("name")
            if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
                raise APIError(400, f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a "
                                    "string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                               param=f"tools[{i}].function.name", code="invalid_value")
            if fn.get("strict"):
                problem = _strict_problem(fn.get("parameters") or {}, ())
                if problem:
                    raise APIError(400, f"Invalid schema for function '{name}': {problem}",
                                   param=f"tools[{i}].function.parameters", code="invalid_function_parameters")

    def _next_reply(self, body: dict, prompt: str) -> dict:
        if self._script:
            return self._script.popleft()
        for rule in self._rules:
            if rule.regex.search(prompt):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return _reply(rule.reply)
        return self._default_reply(body)

    @staticmethod
    def _default_reply(body: dict) -> dict:
        last_user = next((_message_text(m) for m in reversed(body["messages"]) if m.get("role") == "user"), "")
        snippet = " ".join(last_user.split())
        echo = f"[sandbox] Reply to: «{snippet[:117] + '...' if len(snippet) > 120 else snippet}»"
        tools, choice = body.get("tools") or [], body.get("tool_choice")
        if tools and (choice == "required" or isinstance(choice, dict)):
            wanted = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
            fn = next((t["function"] for t in tools if wanted in (None, t["function"]["name"])), tools[0]["function"])
            args = synthesize(fn.get("parameters") or {"type": "object"}, snippet[:40])
            return _reply(tool_calls=[{"name": fn["name"], "arguments": args}])
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return _reply(synthesize(fmt["json_schema"].get("schema") or {"type": "object"}, echo))
        if fmt.get("type") == "json_object":
            return _reply({"reply": echo})
        return _reply(echo)

    def _cached_tokens(self, model: str, serialized: str, prompt_tokens: int) -> int:
        digest = hashlib.sha256(model.encode())
        hit, start = 0, 0
        for n in range(CACHE_MIN_TOKENS, min(prompt_tokens, len(serialized) // 4) + 1, CACHE_STEP):
            digest.update(serialized[start:4 * n].encode())
            start = 4 * n
            key = digest.copy().digest()
            if key in self._prefix_cache:
                hit = n
            self._prefix_cache.add(key)
        return hit

    def _usage(self, body: dict, texts: list[str], reply: dict) -> dict:
        tools = json.dumps(body.get("tools"), ensure_ascii=False) if body.get("tools") else ""
        fmt = body.get("response_format") or {}
        schema = json.dumps(fmt.get("json_schema"), ensure_ascii=False) if fmt.get("type") == "json_schema" else ""
        prompt = sum(3 + count_tokens(t) for t in texts) + 3 + (count_tokens(tools) if tools else 0) \
            + (count_tokens(schema) if schema else 0)
        serialized = tools + schema + "".join(f"<|{m.get('role')}|>{t}" for m, t in zip(body["messages"], texts))
        cached = self._cached_tokens(body["model"], serialized, prompt)
        calls = "".join(c["function"]["name"] + c["function"]["arguments"] for c in reply["tool_calls"])
        completion = count_tokens((reply["content"] or "") + calls)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                 "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
        usage.update(reply["usage"] or {})
        if "total_tokens" not in (reply["usage"] or {}):
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return usage

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = self._check_model(body.get("model"), embedding=False)
        self._validate_messages(body.get("messages"))
        self._validate_tools(body.get("tools"))
        if body.get("tool_choice") not in (None, "none") and not body.get("tools"):
            raise APIError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                                "specified.", param="tool_choice")
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema" and not (fmt.get("json_schema") or {}).get("name"):
            raise APIError(400, "Missing required parameter: 'response_format.json_schema.name'.",
                           param="response_format.json_schema.name", code="missing_required_parameter")
        texts = [_message_text(m) for m in body["messages"]]
        if fmt.get("type") == "json_object" and not any("json" in t.lower() for t in texts):
            raise APIError(400, "'messages' must contain the word 'json' in some form, to use 'response_format' of "
                                "type 'json_object'.", param="messages")
        reply = dict(self._next_reply(body, "\n".join(texts)))
        finish = "tool_calls" if reply["tool_calls"] else "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit and reply["content"] and not fmt and count_tokens(reply["content"]) > limit:
            reply["content"], finish = reply["content"][:4 * limit], "length"
        usage = self._usage(body, texts, reply)
        self._count(usage)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:29]}", "created": int(time.time()), "model": model,
                "service_tier": "default", "system_fingerprint": "fp_sandbox"}
        if body.get("stream"):
            return await self._stream(request, head, reply, finish, usage,
                                      bool((body.get("stream_options") or {}).get("include_usage")))
        message = {"role": "assistant", "content": reply["content"], "refusal": None, "annotations": []}
        if reply["tool_calls"]:
            message["tool_calls"] = reply["tool_calls"]
        return web.json_response({**head, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]})

    @staticmethod
    async def _stream(request: web.Request, head: dict, reply: dict, finish: str, usage: dict,
                      include_usage: bool) -> web.StreamResponse:
        """Server-sent events as in https://platform.openai.com/docs/api-reference/chat-streaming: content
        deltas, then a chunk with finish_reason, then (with stream_options.include_usage) a chunk with empty
        choices and the usage, which is null on every other chunk; finally `data: [DONE]`."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        extra = {"usage": None} if include_usage else {}

        async def send(data: dict | str) -> None:
            payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
            await response.write(f"data: {payload}\n\n".encode())

        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            return {**head, "object": "chat.completion.chunk", **extra, "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

        content = reply["content"]
        await send(chunk({"role": "assistant", "content": "" if content is not None else None, "refusal": None}))
        for piece in re.findall(r"\s*\S+", content or ""):
            await send(chunk({"content": piece}))
        for i, call in enumerate(reply["tool_calls"]):
            fn, args = call["function"], call["function"]["arguments"]
            await send(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                              "function": {"name": fn["name"], "arguments": ""}}]}))
            for start in range(0, len(args), 16):
                await send(chunk({"tool_calls": [{"index": i, "function": {"arguments": args[start:start + 16]}}]}))
        await send(chunk({}, finish))
        if include_usage:
            await send({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        await send("[DONE]")
        await response.write_eof()
        return response

    # -- embeddings --------------------------------------------------------------------------------------

    async def _transcriptions(self, request: web.Request) -> web.Response:
        """https://platform.openai.com/docs/api-reference/audio/createTranscription: multipart form with `file` and
        `model`; response_format json (default: {"text", "usage": {"type": "duration", "seconds"}}), text,
        verbose_json (with duration, language and one segment) or srt/vtt (one cue). The text is what
        register_transcript set for these bytes; the duration is read from the Ogg/Opus stream (or estimated)."""
        if request.content_type != "multipart/form-data":
            raise APIError(400, "Invalid Content-Type header (application/json), expected multipart/form-data.")
        form = await request.post()
        upload, model = form.get("file"), form.get("model")
        self.requests.append({"path": request.path, "model": model, "language": form.get("language"),
                              "response_format": form.get("response_format"),
                              "file_name": getattr(upload, "filename", None)})
        await self._inject_failure({"model": model})
        if not isinstance(upload, web.FileField):
            raise APIError(400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        if model not in TRANSCRIPTION_MODELS:
            raise APIError(404, f"The model `{model}` does not exist or you do not have access to it.",
                           code="model_not_found")
        audio = upload.file.read()
        if not audio:
            raise APIError(400, "Audio file might be corrupted or unsupported", param="file", code="invalid_value")
        text, language = self.transcripts.get(hashlib.sha256(audio).hexdigest(), ("", "ru"))
        seconds = _audio_seconds(audio)
        fmt = form.get("response_format") or "json"
        self.usage_totals["requests"] += 1
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        if fmt in ("srt", "vtt"):
            stamp = f"00:00:00{',' if fmt == 'srt' else '.'}000 --> 00:00:{min(59, math.ceil(seconds)):02d}" \
                    f"{',' if fmt == 'srt' else '.'}000"
            body = f"1\n{stamp}\n{text}\n" if fmt == "srt" else f"WEBVTT\n\n{stamp}\n{text}\n"
            return web.Response(text=body, content_type="text/plain")
        if fmt == "verbose_json":
            return web.json_response({
                "task": "transcribe", "language": language, "duration": seconds, "text": text,
                "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": seconds, "text": text, "tokens": [],
                              "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0,
                              "no_speech_prob": 0.01 if text else 0.9}],
                "usage": {"type": "duration", "seconds": math.ceil(seconds)}})
        if fmt != "json":
            raise APIError(400, f"Invalid value: '{fmt}'. Supported values are: 'json', 'text', 'srt', "
                                "'verbose_json', and 'vtt'.", param="response_format", code="invalid_value")
        if model == "whisper-1":
            usage = {"type": "duration", "seconds": math.ceil(seconds)}
        else:  # gpt-4o(-mini)-transcribe bill audio tokens
            audio_tokens = math.ceil(seconds * 10)
            output = count_tokens(text) if text else 0
            usage = {"type": "tokens", "input_tokens": audio_tokens, "output_tokens": output,
                     "total_tokens": audio_tokens + output,
                     "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0}}
        return web.json_response({"text": text, "usage": usage})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = self._check_model(body.get("model"), embedding=True)
        raw = body.get("input")
        if raw is None:
            raise APIError(400, "Missing required parameter: 'input'.", param="input",
                           code="missing_required_parameter")
        # input: a string, an array of strings, an array of tokens, or an array of token arrays.
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
            raw = [raw]
        if not isinstance(raw, list) or not raw or len(raw) > MAX_EMBEDDING_INPUTS or any(
                item in ("", []) or not isinstance(item, (str, list)) for item in raw):
            raise APIError(400, "'$.input' is invalid. Please check the API reference: "
                                "https://platform.openai.com/docs/api-reference.", param="input")
        native = EMBEDDING_MODELS[re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)]
        dims = body.get("dimensions")
        if dims is not None and model.startswith("text-embedding-ada"):
            raise APIError(400, "This model does not support specifying dimensions.", param="dimensions")
        dims = native if dims is None else dims
        if not isinstance(dims, int) or not 1 <= dims <= native:
            raise APIError(400, f"Invalid value for 'dimensions' = {dims}. Must be between 1 and {native}.",
                           param="dimensions")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise APIError(400, f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
                           param="encoding_format", code="invalid_value")
        data, tokens = [], 0
        for i, item in enumerate(raw):
            text = item if isinstance(item, str) else " ".join(f"tok{t}" for t in item)
            tokens += count_tokens(item) if isinstance(item, str) else len(item)
            vector = embed_text(text, dims)
            # base64 is the little-endian float32 array (what the openai client decodes with numpy/array).
            value = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode() if fmt == "base64" else vector
            data.append({"object": "embedding", "index": i, "embedding": value})
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._count(usage)
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})
