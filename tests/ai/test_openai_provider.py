"""The OpenAI provider against the stand-in over HTTP: the openai client's own retries (ai_max_attempts tries per
call) and what a final failure says — the reason, and after retries how many attempts were made."""

from __future__ import annotations

import pytest

from core.ai.providers import AIUnavailable

MESSAGES = [{"role": "user", "content": "Сколько стоит кофемашина?"}]


async def test_a_server_error_is_tried_again_and_the_failure_says_after_how_many_attempts(online, openai_sandbox):
    openai_sandbox.fail_next(503, times=100)
    before = len(openai_sandbox.requests)
    with pytest.raises(AIUnavailable) as caught:
        await online.llm.chat(MESSAGES)
    assert caught.value.reason.startswith("HTTP 503")
    assert caught.value.reason.endswith("(after 3 attempts)")  # ai_max_attempts in tests/ai/conftest.py
    assert len(openai_sandbox.requests) - before == 3


async def test_a_request_the_server_refuses_for_good_is_not_tried_again(online, openai_sandbox):
    openai_sandbox.fail_next(400, times=100)
    before = len(openai_sandbox.requests)
    with pytest.raises(AIUnavailable) as caught:
        await online.llm.chat(MESSAGES)
    assert caught.value.reason.startswith("HTTP 400") and "attempts" not in caught.value.reason
    assert len(openai_sandbox.requests) - before == 1


async def test_a_rate_limit_waits_what_the_server_asks_and_then_succeeds(online, openai_sandbox):
    openai_sandbox.fail_next(429, times=2, retry_after=0.02)
    openai_sandbox.script_reply("Кофемашина стоит 25 000 ₽.")
    before = len(openai_sandbox.requests)
    result = await online.llm.chat(MESSAGES)
    assert result.text == "Кофемашина стоит 25 000 ₽."
    assert len(openai_sandbox.requests) - before == 3


async def test_embeddings_report_their_failure_the_same_way(online, openai_sandbox):
    openai_sandbox.fail_next(500, times=100)
    with pytest.raises(AIUnavailable) as caught:
        await online.embedder.embed(["кофемашина"])
    assert caught.value.reason.startswith("HTTP 500") and caught.value.reason.endswith("(after 3 attempts)")
