"""VK history calls and their answers: conversation listing pages and history pages, read into what the bulk writer
stores. The importer packs these calls 25 to an `execute`, so one community token reads 20 × 25 = 500 conversation
histories per second — the bound the importer is built to reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..bulk import ConversationHistory
from .parse import CHAT_PEER_OFFSET, profiles_by_id, sender_for, to_inbound

PAGE = 200  # messages.getConversations / getHistory return at most 200 items
PROFILE_FIELDS = "screen_name,domain"


@dataclass
class ConversationRef:
    """A conversation as listed: where it is in the listing and what we need to import it."""

    position: int
    peer_id: int
    profile: dict
    read_inbox_max_id: int
    blocked: bool
    last_message_date: int


@dataclass
class ListingPage:
    total: int
    conversations: list[ConversationRef]
    exhausted: bool  # a short page: nothing listed after it


def listing_call(offset: int) -> tuple[str, dict]:
    return "messages.getConversations", {"offset": offset, "count": PAGE, "extended": 1, "fields": PROFILE_FIELDS}


def history_call(peer_id: int, offset: int) -> tuple[str, dict]:
    """Newest first: a message arriving meanwhile shifts later pages by one — a duplicate, never a gap."""
    return "messages.getHistory", {"peer_id": peer_id, "offset": offset, "count": PAGE}


def conversation_ref(conv: dict, profiles: dict[int, dict], position: int, last_message: dict | None) -> ConversationRef | None:
    peer_id = int((conv.get("peer") or {}).get("id") or 0)
    if not peer_id:
        return None
    profile = profiles.get(peer_id) or {}
    if peer_id >= CHAT_PEER_OFFSET:
        profile = {"title": (conv.get("chat_settings") or {}).get("title")}
    can_write = conv.get("can_write") or {}
    return ConversationRef(
        position=position, peer_id=peer_id, profile=profile, read_inbox_max_id=int(conv.get("in_read") or 0),
        # 901: the user forbade messages from the community — the customer 'blocked' the business
        blocked=not can_write.get("allowed", True) and can_write.get("reason") == 901,
        last_message_date=int((last_message or {}).get("date") or 0),
    )


def parse_listing(resp: dict, offset: int) -> ListingPage:
    profiles = profiles_by_id(resp)
    items = resp.get("items") or []
    refs = []
    for n, item in enumerate(items):
        ref = conversation_ref(item.get("conversation") or {}, profiles, offset + n, item.get("last_message"))
        if ref is not None:
            refs.append(ref)
    return ListingPage(total=int(resp.get("count") or 0), conversations=refs, exhausted=len(items) < PAGE)


def parse_conversations_by_id(resp: dict) -> list[ConversationRef]:
    profiles = profiles_by_id(resp)
    refs = [conversation_ref(item, profiles, 0, None) for item in resp.get("items") or []]
    return [r for r in refs if r is not None]


@dataclass
class PendingConversation:
    """A conversation whose history is being read, page by page."""

    ref: ConversationRef
    messages: list[dict] = field(default_factory=list)  # read and not yet handed to the writer
    fetched: int = 0  # messages read so far, including those already handed over
    done: bool = False
    error: str | None = None
    in_flight: bool = False

    def next_call(self) -> tuple[str, dict]:
        return history_call(self.ref.peer_id, self.fetched)

    def add_page(self, resp: dict) -> None:
        items = resp.get("items") or []
        self.messages.extend(items)
        self.fetched += len(items)
        self.done = len(items) < PAGE or self.fetched >= int(resp.get("count") or 0)


def to_history(channel_id: int, owner_id: int, pending: PendingConversation) -> ConversationHistory:
    ref = pending.ref
    profiles = {ref.peer_id: ref.profile}
    sender = sender_for(ref.peer_id, profiles)
    seen: set[int] = set()
    messages = []
    for raw in reversed(pending.messages):  # VK returns newest first; store oldest first
        mid = raw.get("id")
        if not mid or mid in seen:
            continue
        seen.add(mid)
        messages.append(to_inbound(channel_id, raw, owner_id, profiles, sender=sender))
    return ConversationHistory(
        external_chat_id=str(ref.peer_id), sender=sender, messages=messages,
        read_inbox_max_id=ref.read_inbox_max_id, blocked=True if ref.blocked else None,
    )
