"""The OpenAI stand-in, driven by the real openai client over HTTP."""

from __future__ import annotations

import json
import math
from typing import Literal

import aiohttp
import openai
import pydantic
import pytest

from sandbox.openai_api import OpenAISandbox, embed_text
from sandbox.runner import serve

KEY = "sk-sandbox-test-key-0001"
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order by its number",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
                   "required": ["order_id", "verbose"], "additionalProperties": False}}}]


@pytest.fixture
async def served():
    sandbox = OpenAISandbox(api_key=KEY)
    runner, base = await serve(sandbox.app)
    yield sandbox, base
    await runner.cleanup()


@pytest.fixture
def sandbox(served):
    return served[0]


@pytest.fixture
async def client(served):
    async with openai.AsyncOpenAI(base_url=f"{served[1]}/v1", api_key=KEY, max_retries=0) as c:
        yield c


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


async def test_default_reply_echoes_last_user_message(client, sandbox):
    r = await client.chat.completions.create(model="gpt-4o-mini", temperature=0.2, messages=[
        {"role": "system", "content": "You are a sales assistant."},
        {"role": "user", "content": [{"type": "text", "text": "Сколько стоит доставка?"}]}])
    assert r.choices[0].finish_reason == "stop"
    assert "Сколько стоит доставка?" in r.choices[0].message.content and "sandbox" in r.choices[0].message.content
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert sandbox.requests[-1]["messages"][0]["content"] == "You are a sales assistant."
    assert sandbox.usage_totals["requests"] == 1 and sandbox.usage_totals["total_tokens"] == r.usage.total_tokens


async def test_tool_call_round_trip(client, sandbox):
    sandbox.script_reply(tool_calls=[{"name": "lookup_order", "arguments": {"order_id": "A-17", "verbose": True}}])
    sandbox.add_rule(r"status=shipped", "Your order A-17 has shipped.")
    messages = [{"role": "user", "content": "Where is my order A-17?"}]
    first = await client.chat.completions.create(model="gpt-4.1", messages=messages, tools=TOOLS, tool_choice="auto")
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == "lookup_order" and json.loads(call.function.arguments)["order_id"] == "A-17"
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "status=shipped"}]
    second = await client.chat.completions.create(model="gpt-4.1", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "Your order A-17 has shipped."
    assert sandbox.requests[-1]["messages"][-1] == messages[-1]


async def test_forced_tool_choice_synthesises_valid_arguments(client):
    r = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "order 5"}],
                                             tools=TOOLS, tool_choice={"type": "function",
                                                                       "function": {"name": "lookup_order"}})
    args = json.loads(r.choices[0].message.tool_calls[0].function.arguments)
    assert set(args) == {"order_id", "verbose"} and isinstance(args["verbose"], bool)


async def test_tool_message_without_tool_call_is_rejected(client):
    with pytest.raises(openai.BadRequestError) as e:
        await client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "{}"}])
    assert "must be a response to a preceeding message" in e.value.message


class Verdict(pydantic.BaseModel):
    intent: Literal["price", "delivery", "complaint"]
    confidence: float = pydantic.Field(ge=0.2, le=1)
    reply: str
    tags: list[str]
    follow_up: int | None


async def test_json_schema_structured_output(client, sandbox):
    parsed = await client.chat.completions.parse(model="gpt-4o-mini", response_format=Verdict,
                                                 messages=[{"role": "user", "content": "Сколько стоит?"}])
    verdict = parsed.choices[0].message.parsed
    assert verdict.intent == "price" and verdict.confidence == 0.2 and "Сколько стоит?" in verdict.reply
    sent = sandbox.requests[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Verdict" and sent["json_schema"]["strict"]

    sandbox.add_rule(r"(?i)жалоба", {"intent": "complaint", "confidence": 0.9, "reply": "Sorry!", "tags": ["x"],
                                    "follow_up": 2}, times=1)
    parsed = await client.chat.completions.parse(model="gpt-4o-mini", response_format=Verdict,
                                                 messages=[{"role": "user", "content": "Жалоба на курьера"}])
    assert parsed.choices[0].message.parsed.intent == "complaint"
    parsed = await client.chat.completions.parse(model="gpt-4o-mini", response_format=Verdict,
                                                 messages=[{"role": "user", "content": "Жалоба на курьера"}])
    assert parsed.choices[0].message.parsed.intent == "price"  # the rule was good for one reply


async def test_json_object_needs_the_word_json(client):
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"},
                                             messages=[{"role": "user", "content": "hi"}])
    r = await client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"},
                                             messages=[{"role": "user", "content": "answer in JSON"}])
    assert "reply" in json.loads(r.choices[0].message.content)


async def test_prompt_caching_reports_cached_tokens(client):
    system = "Каталог товаров и правила доставки. " * 160  # ~5800 characters, well over 1024 tokens
    first = await client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": system}, {"role": "user", "content": "first question"}])
    second = await client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": system}, {"role": "user", "content": "another question"}])
    assert first.usage.prompt_tokens >= 1024 and first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and (cached - 1024) % 128 == 0 and cached <= second.usage.prompt_tokens


async def test_embeddings_base64_default_float_and_dimensions(client, sandbox):
    texts = ["Сколько стоит доставка в Москву?", "Какая стоимость доставки по Москве?",
             "Мы работаем ежедневно с девяти утра", "delivery price to Moscow"]
    default = await client.embeddings.create(model="text-embedding-3-small", input=texts)
    assert sandbox.requests[-1]["encoding_format"] == "base64"  # the client's default, decoded by the client
    vectors = [d.embedding for d in default.data]
    assert all(len(v) == 1536 and math.isclose(math.sqrt(cosine(v, v)), 1, rel_tol=1e-5) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[1], vectors[3])
    assert default.usage.prompt_tokens > 0 and default.model == "text-embedding-3-small"

    floats = await client.embeddings.create(model="text-embedding-3-small", input=texts[0], encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(vectors[0], abs=1e-6)

    short = await client.embeddings.create(model="text-embedding-3-small", input=texts[:2], dimensions=256)
    a, b = (d.embedding for d in short.data)
    assert len(a) == 256 and cosine(a, b) > cosine(a, embed_text(texts[2], 256))
    large = await client.embeddings.create(model="text-embedding-3-large", input=[[101, 202, 303]])
    assert len(large.data[0].embedding) == 3072 and large.usage.prompt_tokens == 3


async def test_rate_limit_surfaces_without_retries_and_recovers_with_them(served, client, sandbox):
    sandbox.fail_next(429)
    with pytest.raises(openai.RateLimitError) as e:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "rate_limit_exceeded" and e.value.type == "requests"
    assert e.value.response.headers["retry-after"] == "1" and e.value.response.headers["retry-after-ms"] == "50"

    sandbox.fail_next(429, times=2)
    async with openai.AsyncOpenAI(base_url=f"{served[1]}/v1", api_key=KEY, max_retries=2) as retrying:
        r = await retrying.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "again"}])
    assert "again" in r.choices[0].message.content and len(sandbox.requests) == 4


async def test_server_error_and_timeout(served, client, sandbox):
    sandbox.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    sandbox.fail_next(200, delay=0.5)
    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.1).embeddings.create(model="text-embedding-3-small", input="x")


async def test_streaming_with_usage(client, sandbox):
    sandbox.script_reply("Доставка по Москве стоит 300 рублей.")
    stream = await client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                  stream_options={"include_usage": True},
                                                  messages=[{"role": "user", "content": "Сколько стоит доставка?"}])
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Доставка по Москве стоит 300 рублей." and len(chunks) > 4
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert not chunks[-1].choices and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])

    sandbox.script_reply(tool_calls=[{"name": "lookup_order", "arguments": {"order_id": "B-2", "verbose": False}}])
    stream = await client.chat.completions.create(model="gpt-4o-mini", stream=True, tools=TOOLS,
                                                  messages=[{"role": "user", "content": "order?"}])
    deltas = [c.choices[0].delta for c in [c async for c in stream]]
    args = "".join(t.function.arguments or "" for d in deltas for t in d.tool_calls or [])
    assert json.loads(args) == {"order_id": "B-2", "verbose": False}


async def test_auth_model_and_usage_override(served, client, sandbox):
    async with openai.AsyncOpenAI(base_url=f"{served[1]}/v1", api_key="sk-wrong-key-123456", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as e:
            await bad.models.list()
    assert e.value.code == "invalid_api_key" and "sk-wrong-key-123456" not in e.value.message
    with pytest.raises(openai.NotFoundError) as e:
        await client.chat.completions.create(model="gpt-99", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_found"
    assert {"gpt-4o-mini", "text-embedding-3-small"} <= {m.id async for m in client.models.list()}

    sandbox.script_reply("ok", usage={"prompt_tokens": 1000, "completion_tokens": 5})
    r = await client.chat.completions.create(model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "x"}])
    assert (r.usage.prompt_tokens, r.usage.total_tokens, r.model) == (1000, 1005, "gpt-4o-2024-08-06")


async def test_control_api(served, client):
    async with aiohttp.ClientSession(served[1]) as http:
        assert (await http.post("/_sandbox/script", json={"content": "scripted over HTTP"})).status == 200
        r = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content == "scripted over HTTP"
        requests = await (await http.get("/_sandbox/requests")).json()
        assert requests["requests"][-1]["messages"] == [{"role": "user", "content": "hi"}]
        assert (await (await http.get("/_sandbox/usage")).json())["requests"] == 1
        await http.post("/_sandbox/reset")
        assert (await (await http.get("/_sandbox/requests")).json())["requests"] == []
