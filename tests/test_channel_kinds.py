"""Channel kinds are typed definitions in one registry (core.channels.CHANNEL_KINDS): every ChannelKind has one, the
dispatcher refuses to start without one, and what the outbox does per kind — the channel's rate budget, how often
"typing…" is said again, whether a send carries the command's key — is read from it, nowhere else. So are the
decisions other code once made by comparing kinds: a topic's mark, the Telegram account seen two ways, how a
library file is sent again, a VK community's token and owner id."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from core import channels, inbox
from core.channels import CHANNEL_KINDS, ChannelKinds, ChannelTraits, Ingest, UnknownChannelKind
from core.commands import CommandKinds
from core.dispatcher import Dispatcher
from core.models import ChannelAccount, ChannelKind, Tenant
from core.ratelimit import GONE_CHANNEL, TELEGRAM_GROUP, Budget, LocalRateLimiter, destination_budget
from core.services.workspace.topics import topic_title

ROOT = Path(__file__).resolve().parents[1]


class Executor:
    kinds = CommandKinds()  # no command kinds: these dispatchers only start


def test_every_channel_kind_has_one_definition():
    CHANNEL_KINDS.check()
    assert {d.kind for d in CHANNEL_KINDS} == set(ChannelKind)
    assert CHANNEL_KINDS.get("vk_user") is channels.VK_USER  # as the database stores it
    with pytest.raises(UnknownChannelKind, match="'whatsapp'"):
        CHANNEL_KINDS.get("whatsapp")
    with pytest.raises(UnknownChannelKind, match="registered twice"):
        ChannelKinds(channels.VK_USER, channels.VK_USER)


def test_the_definitions_carry_what_the_outbox_did_per_kind():
    """The facts the dispatcher's and the rate limiter's tables held before, now each kind's own."""
    facts = {d.kind: (d.budget, d.typing_refresh, d.keyed_sends) for d in CHANNEL_KINDS}
    assert facts == {
        ChannelKind.VK_COMMUNITY: (Budget(20, 1.0, burst=20), 8.0, True),  # 20 requests/s, random_id
        ChannelKind.VK_USER: (Budget(3, 1.0, burst=3), 8.0, True),
        ChannelKind.TELEGRAM_ACCOUNT: (Budget(1, 1.0, burst=3), 4.0, True),  # MTProto random_id
        ChannelKind.TELEGRAM_BUSINESS: (Budget(1, 1.0, burst=3), 4.0, False),  # the Bot API takes no key
    }
    assert channels.VK_COMMUNITY.typing_budget == Budget(1, 8.0, burst=1)


def test_the_definitions_carry_what_the_kind_tables_elsewhere_held():
    """The topic marks (core.services.workspace.base), the shared Telegram account (core.inbox), the media library's
    VK and Business cases and VK's community-or-user checks, each kind's own now — and read from here."""
    facts = {d.kind: (d.topic_mark, d.shares_account, d.media_by_channel_ref, d.media_by_bot_file_id, d.group_mailbox)
             for d in CHANNEL_KINDS}
    assert facts == {
        ChannelKind.VK_COMMUNITY: ("VK", False, True, False, True),
        ChannelKind.VK_USER: ("VK", False, True, False, False),
        ChannelKind.TELEGRAM_ACCOUNT: ("TG", True, False, False, False),
        ChannelKind.TELEGRAM_BUSINESS: ("TG", True, False, True, False),
    }
    assert inbox.SHARED_ACCOUNT_KINDS == (ChannelKind.TELEGRAM_ACCOUNT, ChannelKind.TELEGRAM_BUSINESS)
    assert CHANNEL_KINDS.kinds(where=lambda t: t.platform == "vk" and not t.group_mailbox) == (ChannelKind.VK_USER,)
    assert CHANNEL_KINDS.kinds(ingest=Ingest.SESSION, where=lambda t: t.shares_account) == (ChannelKind.TELEGRAM_ACCOUNT,)
    assert [topic_title("Анна", 7, kind) for kind in ("vk_user", ChannelKind.TELEGRAM_BUSINESS, "whatsapp")] == [
        "Анна · VK", "Анна · TG", "Анна · ?"]  # (a kind it does not know: as before)


def test_a_destinations_budget_is_its_channels_kinds():
    assert destination_budget("channel:7", channels.VK_USER) == Budget(3, 1.0, burst=3)
    assert destination_budget("channel:7", None) == GONE_CHANNEL  # the channel was deleted meanwhile
    assert destination_budget("tg:group:-100", channels.VK_USER) == TELEGRAM_GROUP  # not a channel: the bot's


def test_a_channel_kind_without_a_definition_stops_the_dispatcher_at_start():
    partial = ChannelKinds(*(d for d in CHANNEL_KINDS if d.kind != ChannelKind.TELEGRAM_BUSINESS))

    with pytest.raises(UnknownChannelKind, match="telegram_business"):
        Dispatcher(None, limiter=LocalRateLimiter(), executor=Executor(), channels=partial,  # type: ignore[arg-type]
                   clock=None)


async def test_a_stored_channel_of_a_kind_with_no_definition_stops_the_dispatchers_start(db):
    """A channel written by a newer version (or of a kind whose definition was removed) is refused before the
    dispatcher runs — not sent to at a guessed pace."""
    dispatcher = Dispatcher(db, limiter=LocalRateLimiter(), executor=Executor(), clock=None)  # type: ignore[arg-type]
    async with db.unit_of_work() as session:
        tenant = Tenant(slug="shop", name="Shop")
        session.add(tenant)
        await session.flush()
        session.add(ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_USER, external_id="1"))
    async with db.unit_of_work() as session:
        await dispatcher.check(session)  # every stored kind has its definition
        await session.execute(text("ALTER TABLE channel_accounts DROP CONSTRAINT ck_channel_accounts_channel_kind"))
        await session.execute(text("INSERT INTO channel_accounts (tenant_id, kind, external_id, title, status, "
                                   "settings, update_state) SELECT tenant_id, 'whatsapp', '7999', 'WhatsApp', "
                                   "'active', '{}', '{}' FROM channel_accounts LIMIT 1"))
        with pytest.raises(UnknownChannelKind, match="whatsapp"):
            await dispatcher.check(session)


def test_a_definition_of_something_that_is_not_a_kind_is_refused():
    with pytest.raises(UnknownChannelKind, match="not a ChannelKind"):
        ChannelKinds(ChannelTraits("max", "max", Ingest.SESSION, history=False,  # type: ignore[arg-type]
                                   budget=Budget(1, 1.0, burst=1), topic_mark="MX"))


# The outbox's, the budgets' and the importer's code ask the registry: no kind named there.
ASKING = [ROOT / "core" / "ratelimit.py", ROOT / "userbots" / "importer.py",
          *sorted((ROOT / "core" / "dispatcher").glob("*.py"))]


def named_kinds(path: Path) -> list[str]:
    kinds = {k.name for k in ChannelKind} | {k.value for k in ChannelKind}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in kinds:
            found.append(f"{path.name}:{node.lineno} {node.attr}")
        elif isinstance(node, ast.Constant) and node.value in kinds:
            found.append(f"{path.name}:{node.lineno} {node.value!r}")
        elif isinstance(node, ast.Name) and node.id in {"ChannelKind", "KEYED_CHANNELS", "TYPING_REFRESH",
                                                       "CHANNEL_BUDGETS"}:
            found.append(f"{path.name}:{node.lineno} {node.id}")
    return found


def test_the_dispatcher_the_budgets_and_the_importer_name_no_channel_kind():
    assert len(ASKING) > 5
    assert [hit for path in ASKING for hit in named_kinds(path)] == []


# Code that decided by comparing kinds by hand asks the registry now; it may still name the ChannelKind type (the
# gateway keys its senders by it), not one kind.
DECIDING = [ROOT / "core" / "inbox.py", ROOT / "core" / "services" / "media_library.py",
            ROOT / "core" / "services" / "workspace" / "base.py", ROOT / "core" / "services" / "workspace" / "topics.py",
            ROOT / "userbots" / "gateway.py", *sorted((ROOT / "userbots" / "vk").glob("*.py"))]


def test_the_topic_marks_the_inbox_the_media_library_and_vk_name_no_channel_kind():
    assert len(DECIDING) > 8
    assert [hit for path in DECIDING for hit in named_kinds(path) if not hit.endswith(" ChannelKind")] == []


def test_the_check_sees_a_named_kind(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from core.models import ChannelKind\nKEYED = {ChannelKind.VK_USER}\nX = 'vk_community'\n")
    assert sorted(hit.split(" ", 1)[1] for hit in named_kinds(module)) == ["'vk_community'", "ChannelKind", "VK_USER"]
