"""Tenant settings that change what the workspace does, through the real bot on the sandbox Bot API:
group_routing (by_channel puts each channel's dialogs into that channel's manager group, falling back to round robin
when the group is gone) and the per-dialog `learning` AI mode (the draft is kept silently, no card, never sent, and
the manager's own reply is compared with it into a training sample the learning queue counts)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.component import POST_SUGGESTION_CARD
from core.ai.demo import load_demo_shop
from core.ai.embedding import LocalEmbedder
from core.ai.learning import learning_queue, similarity
from core.ai.pipeline import SuggestionPipeline
from core.ai.providers import AIProviders
from core.clock import SystemClock
from core.inbox import InboundMessage, Sender
from core.models import (
    AIMode,
    ChannelAccount,
    ChannelKind,
    CommandOrigin,
    Decision,
    DelayProfile,
    Dialog,
    DialogStatus,
    Escalation,
    Event,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    Tenant,
    TrainingAction,
    TrainingSample,
)
from core.services.workspace import base
from core.services.workspace import routing as ws_routing

from .desk import RIGHTS, Desk

# ------------------------------------------------------------------------------------------------------- routing


async def _second_group(desk: Desk, title: str) -> dict:
    chat = desk.sb.create_forum_group(title, owner_id=desk.owner["id"])
    await desk.sb.add_bot_to_group(chat["id"], rights=RIGHTS, by_user_id=desk.owner["id"])
    await desk.settle()
    return chat


async def _vk_channel(desk: Desk, group_chat_id: int) -> int:
    async with desk.db.unit_of_work() as session:
        group = await base.group_by_chat(session, group_chat_id)
        channel = ChannelAccount(tenant_id=desk.tenant_id, kind=ChannelKind.VK_COMMUNITY, external_id="77000009",
                                 title="Магазин ВК", manager_group_id=group.id)
        session.add(channel)
        await session.flush()
        return channel.id


async def _vk_customer_writes(desk: Desk, channel_id: int, user_id: int, name: str):
    return await desk.receive(InboundMessage(
        channel_id=channel_id, external_chat_id=str(user_id), external_id=f"vk-{user_id}",
        sender=Sender(external_user_id=str(user_id), first_name=name), sent_at=datetime.now(UTC), text="Привет"))


async def _group_of(desk: Desk, dialog_id: int) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.get(Dialog, dialog_id)).manager_group_id


def _topic_names(desk: Desk, chat_id: int) -> list[str]:
    return sorted(t["name"] for t in desk.sb.chat(chat_id)["topics"] if t["id"] != 1 and not t["deleted"])


async def _set_routing(desk: Desk, routing: str) -> None:
    async with desk.db.unit_of_work() as session:
        (await session.get(Tenant, desk.tenant_id)).group_routing = routing


async def test_by_channel_routing_keeps_each_channels_dialogs_in_its_group(desk: Desk):
    vk_chat = await _second_group(desk, "Менеджеры ВК")
    vk_channel = await _vk_channel(desk, vk_chat["id"])
    async with desk.db.unit_of_work() as session:
        tg_group = await base.group_by_chat(session, desk.group_chat_id)
        vk_group = await base.group_by_chat(session, vk_chat["id"])
        await session.execute(update(ChannelAccount).where(ChannelAccount.id == desk.channel_id)
                              .values(manager_group_id=tg_group.id))
    await _set_routing(desk, ws_routing.BY_CHANNEL)

    tg_dialogs = [(await desk.customer_writes(desk.customer(name, None), "Здравствуйте")).dialog_id
                  for name in ("Борис", "Вика", "Гоша")]
    vk_dialogs = [(await _vk_customer_writes(desk, vk_channel, 500_000_000 + n, name)).dialog_id
                  for n, name in enumerate(("Дина", "Егор"))]
    await desk.settle()
    assert [await _group_of(desk, d) for d in tg_dialogs] == [tg_group.id] * 3
    assert [await _group_of(desk, d) for d in vk_dialogs] == [vk_group.id] * 2
    assert _topic_names(desk, desk.group_chat_id) == ["🆕 Борис · TG", "🆕 Вика · TG", "🆕 Гоша · TG"]
    assert _topic_names(desk, vk_chat["id"]) == ["🆕 Дина · VK", "🆕 Егор · VK"]
    async with desk.db.unit_of_work() as session:
        reasons = (await session.execute(
            select(Event.payload["reason"].astext).where(Event.kind == "dialog_routed").order_by(Event.id)
        )).scalars().all()
    assert reasons == ["channel_group"] * 5

    # The bot is removed from the VK group: a new VK dialog falls back to round robin over the healthy groups (only
    # the first one is left), and the event says why.
    await desk.sb.remove_bot_from_group(vk_chat["id"], by_user_id=desk.owner["id"])
    await desk.settle()
    fallback = (await _vk_customer_writes(desk, vk_channel, 500_000_010, "Жора")).dialog_id
    await desk.settle()
    assert await _group_of(desk, fallback) == tg_group.id
    assert "🆕 Жора · VK" in _topic_names(desk, desk.group_chat_id)
    async with desk.db.unit_of_work() as session:
        event = (await session.execute(
            select(Event).where(Event.kind == "dialog_routed", Event.dialog_id == fallback)
        )).scalar_one()
    assert event.payload["reason"] == "round_robin:channel_group_inactive"
    assert (event.payload["mode"], event.payload["group_id"]) == ("by_channel", tg_group.id)


async def test_round_robin_spreads_dialogs_whatever_their_channel(desk: Desk):
    vk_chat = await _second_group(desk, "Менеджеры ВК")
    vk_channel = await _vk_channel(desk, vk_chat["id"])  # names its group, which round robin does not consult
    async with desk.db.unit_of_work() as session:
        tg_group = await base.group_by_chat(session, desk.group_chat_id)
        vk_group = await base.group_by_chat(session, vk_chat["id"])
        assert (await session.get(Tenant, desk.tenant_id)).group_routing == ws_routing.ROUND_ROBIN  # the default
    dialogs = []
    for n, name in enumerate(("Дина", "Егор", "Жора", "Зоя")):
        dialogs.append((await _vk_customer_writes(desk, vk_channel, 500_000_000 + n, name)).dialog_id)
    await desk.settle()
    assert [await _group_of(desk, d) for d in dialogs] == [tg_group.id, vk_group.id, tg_group.id, vk_group.id]


async def test_by_channel_follows_the_channels_group_to_its_fresh_rotation(desk: Desk):
    async with desk.db.unit_of_work() as session:
        old = await base.group_by_chat(session, desk.group_chat_id)
        await session.execute(update(ChannelAccount).values(manager_group_id=old.id))
        await session.execute(update(type(old)).values(message_count=base.ROTATE_AFTER))
    await _set_routing(desk, ws_routing.BY_CHANNEL)
    fresh = await _second_group(desk, "Менеджеры (новая)")
    other = await _second_group(desk, "Другая команда")  # emptier, but not the channel's
    received = await desk.customer_writes(desk.customer("Ева", None), "Здравствуйте")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        fresh_group = await base.group_by_chat(session, fresh["id"])
        event = (await session.execute(select(Event).where(Event.kind == "dialog_routed"))).scalar_one()
    assert await _group_of(desk, received.dialog_id) == fresh_group.id
    assert event.payload["reason"] == "channel_group_rotated"
    assert _topic_names(desk, other["id"]) == []


# ------------------------------------------------------------------------------------------------------ learning

MANAGER_REPLY = "Добрый день! Я Иван, менеджер магазина. Подскажите, какой товар вас интересует?"


async def _learning_shop(desk: Desk) -> None:
    """Every autosend lock but the dialog's mode open, and no delay: were learning mode to send, it would now."""
    async with desk.db.unit_of_work() as session:
        tenant = await session.get(Tenant, desk.tenant_id)
        tenant.autosend_allowed = tenant.offline_autosend_allowed = True
        tenant.intents_autosend = ["greeting"]
        tenant.delay_profile = DelayProfile.OFF
        await load_demo_shop(session, desk.tenant_id, LocalEmbedder(), desk.ctx.settings.ai.price_table)


async def _draft(desk: Desk, received, mode: AIMode):
    async with desk.db.unit_of_work() as session:
        await session.execute(update(Dialog).where(Dialog.id == received.dialog_id).values(ai_mode=mode))
    pipeline = SuggestionPipeline(desk.db, AIProviders(llm=None, embedder=LocalEmbedder()), desk.ctx.settings,
                                  SystemClock())
    result = await pipeline.run(received.message_id)
    await desk.follow_up(result)
    await desk.settle()
    return result


def _cards(desk: Desk, thread_id: int) -> list[dict]:
    return [m for m in desk.thread(thread_id)
            if any(b.get("callback_data", "").startswith("s:")
                   for row in (m["reply_markup"] or {}).get("inline_keyboard", []) for b in row)]


async def test_learning_mode_drafts_silently_and_learns_from_the_managers_reply(desk: Desk):
    await _learning_shop(desk)
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Добрый день!")
    await desk.settle()
    result = await _draft(desk, received, AIMode.LEARNING)
    topic = await desk.topic(received.dialog_id)

    # The draft is kept, with what the AI would have decided; no card, nothing sent, even with autosend open.
    async with desk.db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
        commands = (await session.execute(select(OutboxCommand.kind, OutboxCommand.origin))).all()
    assert suggestion.state == SuggestionState.PENDING and suggestion.text
    assert suggestion.inputs["dialog_mode"] == "learning" and suggestion.inputs["locks"]["dialog_mode"] is False
    assert all(kind != base.Kind.POST_REPLY_CARD and origin != CommandOrigin.AI for kind, origin in commands)
    assert (POST_SUGGESTION_CARD, {"suggestion_id": suggestion.id}) not in result.follow_ups
    assert await desk.tasks[POST_SUGGESTION_CARD](suggestion_id=suggestion.id) is False  # a redelivered task too
    await desk.settle()
    assert _cards(desk, topic.thread_id) == [] and desk.customer_chat(anna) == []
    assert topic.status_marker == base.Marker.NEW.value

    # The manager answers in the topic as usual: the customer gets it, and the pair becomes a training sample.
    await desk.write(desk.manager, MANAGER_REPLY, thread_id=topic.thread_id)
    assert [m["text"] for m in desk.customer_chat(anna)] == [MANAGER_REPLY]
    async with desk.db.unit_of_work() as session:
        sample = (await session.execute(select(TrainingSample))).scalar_one()
        suggestion = await session.get(Suggestion, suggestion.id)
        queue = await learning_queue(session, desk.tenant_id)
        compared = (await session.execute(select(Event).where(Event.kind == "learning_compared"))).scalar_one()
    expected = similarity(suggestion.text, MANAGER_REPLY)
    assert 0 < expected < 1
    assert (sample.suggestion_id, sample.draft, sample.final) == (suggestion.id, suggestion.text, MANAGER_REPLY)
    assert sample.action == TrainingAction.EDITED and sample.similarity == expected
    assert sample.customer_message == "Добрый день!" and sample.intent == suggestion.intent
    assert (suggestion.state, suggestion.final_text) == (SuggestionState.EDITED, MANAGER_REPLY)
    assert compared.payload["similarity"] == expected and compared.actor_staff_id == suggestion.decided_by_id
    [item] = queue
    assert item.dialog_id == received.dialog_id and item.edits == 1
    assert item.low_similarity == (1 if expected < 0.6 else 0)
    assert _cards(desk, topic.thread_id) == []

    # A second reply has no draft left to compare: one pair per draft.
    await desk.write(desk.manager, "Если нужно, пришлю фото.", thread_id=topic.thread_id)
    async with desk.db.unit_of_work() as session:
        assert len((await session.execute(select(TrainingSample))).scalars().all()) == 1


async def test_semi_auto_still_posts_the_card_and_a_managers_own_reply_is_no_learning_pair(desk: Desk):
    await _learning_shop(desk)
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Добрый день!")
    await desk.settle()
    result = await _draft(desk, received, AIMode.SEMI_AUTO)
    topic = await desk.topic(received.dialog_id)
    assert len(_cards(desk, topic.thread_id)) == 1 and desk.customer_chat(anna) == []
    await desk.write(desk.manager, MANAGER_REPLY, thread_id=topic.thread_id)
    async with desk.db.unit_of_work() as session:
        assert (await session.execute(select(TrainingSample))).scalars().all() == []
        # Not a learning pair: the card was there to be used; the manager's own answer only makes it outdated.
        assert (await session.get(Suggestion, result.suggestion_id)).state == SuggestionState.OUTDATED


async def test_learning_mode_keeps_even_a_handoff_silent(desk: Desk):
    """A complaint would be escalated in semi-auto; in learning mode the AI only notes what it would have done:
    no escalation, no marker, no notice to the escalation chat."""
    await _learning_shop(desk)
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Позовите менеджера, это безобразие!")
    await desk.settle()
    result = await _draft(desk, received, AIMode.LEARNING)
    async with desk.db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
        dialog = await session.get(Dialog, received.dialog_id)
        escalations = (await session.execute(select(Escalation))).scalars().all()
    assert suggestion.decision == Decision.ESCALATE and suggestion.state == SuggestionState.PENDING
    assert escalations == [] and dialog.status == DialogStatus.ACTIVE
    assert (await desk.topic(received.dialog_id)).status_marker == base.Marker.NEW.value
    assert desk.customer_chat(desk.owner) == []  # the escalation chat (the owner) heard nothing
