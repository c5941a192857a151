"""Outbox command kinds are typed definitions registered explicitly (core.commands): every kind the product queues
is registered once, an unknown kind is refused at start-up and when queued, a payload missing a required key is
refused when queued, and rows written by an earlier version (optional keys missing) still execute."""

from __future__ import annotations

import pytest

from bot.component import command_kinds
from core import commands, outbox
from core.ai import tools
from core.commands import Call, CommandKinds, UnknownCommandKind
from core.models import CommandState, OutboxCommand
from core.ports import DeliveryError
from core.services import quick_replies, reports, sent_replies, voice
from core.services.workspace.base import Kind
from core.services.workspace.commands import WorkspaceCommands
from core.services.workspace.group_commands import PostNotice


@pytest.fixture
def registry(tmp_path, monkeypatch) -> CommandKinds:
    monkeypatch.setattr(commands, "_installed", None)  # command_kinds installs it: undone after the test
    return command_kinds(tmp_path)


def test_every_kind_the_product_queues_is_registered_once(registry):
    queued = {value for name, value in vars(Kind).items() if name.isupper()}
    queued |= {sent_replies.EDIT_CUSTOMER, sent_replies.DELETE_CUSTOMER, voice.VOICE_POST, voice.VOICE_DONE,
               quick_replies.QUICK_POST,
               tools.LEAD_KIND, tools.LEAD_CARD_KIND, tools.LEAD_NOTICE_KIND, reports.POST_REPORT}
    assert registry.names() == queued
    for kind in registry:
        assert kind.payload.__required_keys__ or kind.payload.__optional_keys__, kind.name
    # Pins, reactions and bans take no token of a group's message budget; everything else does.
    assert {k.name for k in registry if not k.message} == {Kind.PIN_CARD, Kind.REACT, Kind.BAN, Kind.UNBAN}
    with pytest.raises(UnknownCommandKind, match="registered twice"):
        registry.register(PostNotice())


async def test_the_executor_dispatches_to_the_definition_and_fails_an_unknown_kind_for_good(registry):
    executor = WorkspaceCommands(registry)
    assert not executor.counts_as_message(Kind.PIN_CARD) and executor.counts_as_message(Kind.MIRROR)
    row = OutboxCommand(kind="gone_kind", destination="tg:group:-1", payload={})
    with pytest.raises(DeliveryError) as refused:
        await executor.prepare(None, [row])
    assert refused.value.permanent and refused.value.code == "unknown_kind"


async def test_a_notice_queued_by_an_earlier_version_without_its_optional_keys_still_executes(registry):
    row = OutboxCommand(kind=Kind.NOTICE, destination="tg:chat:5", payload={"chat_id": 5, "key": "group_ok"})
    call = await WorkspaceCommands(registry).prepare(None, [row])
    assert call == Call("surface", "post", {"chat_id": 5, "thread_id": None, "topic": None, "view": "notice",
                                            "data": {"key": "group_ok", "params": {}}, "reply_to": None})


async def test_start_up_refuses_open_commands_of_a_kind_nobody_registered(db, registry):
    async with db.unit_of_work() as session:
        session.add(OutboxCommand(kind="gone_kind", destination="tg:chat:1", idempotency_key="done",
                                  state=CommandState.DONE))
        session.add(OutboxCommand(kind=Kind.NOTICE, destination="tg:chat:1", idempotency_key="open",
                                  payload={"chat_id": 1, "key": "x"}))
    async with db.unit_of_work() as session:
        await registry.check(session)  # a finished command of a dropped kind is history, not work
        session.add(OutboxCommand(kind="gone_kind", destination="tg:chat:1", idempotency_key="queued"))
        await session.flush()
        with pytest.raises(UnknownCommandKind, match="gone_kind"):
            await registry.check(session)


async def test_queueing_refuses_an_unknown_kind_a_missing_key_and_a_wrong_destination(db, registry):
    async with db.unit_of_work() as session:
        with pytest.raises(UnknownCommandKind):
            await outbox.enqueue(session, kind="post_topic_message", destination="tg:group:-1", payload={},
                                 idempotency_key="a")
        with pytest.raises(TypeError, match="key"):
            await outbox.enqueue(session, kind=Kind.NOTICE, destination="tg:group:-1", payload={"chat_id": -1},
                                 idempotency_key="b")
        with pytest.raises(TypeError, match="channel"):
            await outbox.enqueue(session, kind=Kind.SEND_CUSTOMER, destination="tg:group:-1",
                                 payload={"dialog_id": 1}, idempotency_key="c")
        command = await outbox.enqueue(session, kind=Kind.NOTICE, destination="tg:group:-1",
                                       payload={"chat_id": -1, "key": "x"}, idempotency_key="d")
        assert command.id is not None


def test_the_dispatcher_reads_its_kind_facts_from_the_definitions(registry):
    """Coalescing, "typing…" and harmless repeats are flags of the kinds (core.commands.CommandKind), not lists of
    names in the dispatcher: these are the kinds that had them when the dispatcher still kept its own lists."""
    assert registry.flagged("coalescing") == {Kind.MIRROR, Kind.EDIT_TOPIC, Kind.EDIT_PINNED_CARD,
                                              Kind.EDIT_REPLY_CARD}
    assert registry.flagged("typing") == {Kind.SEND_CUSTOMER}
    assert registry.flagged("repeatable") == {Kind.EDIT_TOPIC, Kind.PIN_CARD, Kind.EDIT_PINNED_CARD,
                                              Kind.EDIT_REPLY_CARD, Kind.EDIT_SEND_CONFIRM, Kind.REACT, Kind.BAN,
                                              Kind.UNBAN, sent_replies.EDIT_CUSTOMER, sent_replies.DELETE_CUSTOMER,
                                              voice.VOICE_DONE}
    # Every kind that can coalesce says so: the dispatcher asks `coalesces` only behind a head flagged `coalescing`.
    for kind in registry:
        assert (type(kind).coalesces is not commands.CommandKind.coalesces) == kind.coalescing, kind.name


def test_the_dispatcher_knows_no_workspace():
    """core.dispatcher depends on core.commands' protocols, not on the workspace or any kind's module."""
    import ast
    import pathlib

    package = pathlib.Path(commands.__file__).with_name("dispatcher")
    files = sorted(package.glob("*.py"))
    assert len(files) > 3, "core/dispatcher/ is a package split by use case"
    imported = {node.module or "" for path in files for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom)}
    assert "commands" in imported  # (relative: ..commands) the check sees what the package imports
    assert not [m for m in imported if m.startswith(("services", "ai", "core.services", "core.ai"))], imported
