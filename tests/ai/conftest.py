"""AI pipeline fixtures: the OpenAI stand-in served over HTTP to the real openai client, a tenant with a channel
and the demo shop loaded, and a helper that makes a customer write through the real inbox."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from core import inbox
from core.ai.embedding import LocalEmbedder
from core.ai.demo import load_demo_shop
from core.ai.pipeline import SuggestionPipeline
from core.ai.providers import AIProviders, build_providers
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind
from core.services.tenants import create_tenant
from core.settings import Settings
from sandbox.openai_api import OpenAISandbox
from sandbox.runner import serve

API_KEY = "sk-test-ai-pipeline-0001"
# A Wednesday noon in Moscow: inside the default working hours.
NOON = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def openai_sandbox():
    sandbox = OpenAISandbox(api_key=API_KEY)
    runner, base = await serve(sandbox.app)
    sandbox.base_url = base + "/v1"
    yield sandbox
    await runner.cleanup()
    await runner.cleanup()


@pytest.fixture
def ai_settings(settings: Settings, openai_sandbox) -> Settings:
    return settings.model_copy(update={"ai": settings.ai.model_copy(update={
        "openai_api_key": SecretStr(API_KEY), "openai_base_url": openai_sandbox.base_url,
        "ai_max_attempts": 3, "ai_timeout": 5.0,
    })})


@pytest.fixture
def online(ai_settings) -> AIProviders:
    return build_providers(ai_settings)


@pytest.fixture
def offline_providers() -> AIProviders:
    return AIProviders(llm=None, embedder=LocalEmbedder())


@dataclass
class Shop:
    tenant_id: int
    channel_id: int


_ids = itertools.count(1000)


async def make_shop(db, providers: AIProviders, settings: Settings, *, slug: str = "shop", **tenant_fields) -> Shop:
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug=slug, name="ТехноДом", **tenant_fields)
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id=f"{slug}-acc")
        session.add(channel)
        await session.flush()
        await load_demo_shop(session, tenant.id, providers.embedder, settings.ai.price_table)
        return Shop(tenant.id, channel.id)


async def customer_says(db, shop: Shop, text: str, *, user: str = "501", at: datetime = NOON,
                        first_name: str = "Анна") -> int:
    """A customer message through the real inbox; returns the message id (what suggest_reply receives)."""
    async with db.unit_of_work() as session:
        received = await inbox.receive(session, InboundMessage(
            channel_id=shop.channel_id, external_chat_id=user, external_id=str(next(_ids)),
            sender=Sender(external_user_id=user, first_name=first_name), sent_at=at, text=text,
        ))
    return received.message_id


def pipeline(db, providers: AIProviders, settings: Settings, at: datetime = NOON) -> SuggestionPipeline:
    return SuggestionPipeline(db, providers, settings, FixedClock(at + timedelta(seconds=5)))


def reply_json(reply: str, confidence: float = 0.95, needs_human: bool = False, reason: str = "из каталога") -> dict:
    return {"reply": reply, "confidence": confidence, "needs_human": needs_human, "reason": reason}


def intent_json(intent: str, confidence: float = 0.9) -> dict:
    return {"intent": intent, "confidence": confidence}
