"""The messages of one VK community (or user account): a lazily generated seeded history plus live changes.

Seeded conversation i (0 = most recent) is with user `base + i` and holds `m` messages whose ids are
`(n - 1 - i) * m + j + 1`, so any message, conversation or page is computed from (seed, i, j) without storing
anything. A conversation is materialized (its messages kept in memory) only when something changes it: a new
message, an edit or a delete. Listing order: conversations with live messages (newest first), then the
seeded ones in index order.
"""

from __future__ import annotations

import functools
import time
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass

from . import synth
from .synth import h

FILTERS = ("all", "unread", "unanswered", "important", "archive", "business_notify")  # messages.getConversations
PERIOD = 15  # seeded predicates depend on i % 3 (who writes first) and i % 5 (unread): both repeat every 15
REFS = [("spring_sale", "ads_vk_42"), ("catalog", "wall_post_1187"), ("utm_target_lookalike", "target_ad_9031"),
        ("story_promo", "stories"), ("bot_start", "vk_me_link")]


def base_message(mid: int, date: int, peer: int, from_id: int, out: bool, text: str, cmid: int,
                 attachments: list[dict]) -> dict:
    """A message object as messages.getHistory returns it (https://dev.vk.com/ru/reference/objects/message)."""
    return {"id": mid, "date": date, "peer_id": peer, "from_id": from_id, "out": int(out), "text": text,
            "conversation_message_id": cmid, "fwd_messages": [], "important": False, "is_hidden": False,
            "attachments": attachments, "random_id": 0, "version": mid}


@dataclass(frozen=True)
class Seed:
    n: int
    m: int
    seed: int
    forbid_every: int
    attachment_every: int
    base: int
    owner_id: int

    def peer(self, i: int) -> int:
        return self.base + i

    def index(self, peer: int) -> int | None:
        i = peer - self.base
        return i if 0 <= i < self.n else None

    def from_customer(self, i: int, j: int) -> bool:
        return (j % 2 == 0) == (i % 3 != 1)  # a third of the dialogs were opened by the community

    def last_incoming(self, i: int) -> bool:
        return self.m > 0 and self.from_customer(i, self.m - 1)

    def unread(self, i: int) -> bool:
        return self.last_incoming(i) and i % 5 == 0

    def forbids(self, i: int) -> bool:
        return self.forbid_every > 0 and (i + 1) % self.forbid_every == 0

    def msg_id(self, i: int, j: int) -> int:
        return (self.n - 1 - i) * self.m + j + 1

    def locate(self, mid: int) -> tuple[int, int] | None:
        if not 1 <= mid <= self.n * self.m:
            return None
        q, j = divmod(mid - 1, self.m)
        return self.n - 1 - q, j

    def read_state(self, i: int) -> list[int]:
        """[in_read, out_read]: the customer read everything; the community all but the unread conversations."""
        last_in = self.m - 1 if self.last_incoming(i) else self.m - 2
        last_out = self.m - 2 if self.last_incoming(i) else self.m - 1
        read_in = last_in - 2 if self.unread(i) else last_in
        return [self.msg_id(i, read_in) if read_in >= 0 else 0, self.msg_id(i, last_out) if last_out >= 0 else 0]

    def message(self, i: int, j: int) -> dict:
        peer, cust, mid = self.peer(i), self.from_customer(i, j), self.msg_id(i, j)
        step = max(1, synth.SPAN // max(1, self.n))
        date = synth.T_END - i * step - (self.m - 1 - j) * (40 + h(self.seed, "gap", i) % 900)
        kind = None
        if self.attachment_every > 0 and (j + 1) % self.attachment_every == 0:
            kind = synth.attachment_kind(self.seed, i, j, cust)
        owner = peer if cust else self.owner_id
        msg = base_message(mid, date, peer, owner, not cust, synth.text(self.seed, i, j, cust, kind), j + 1,
                           [synth.make_attachment(kind, owner, mid, date)] if kind else [])
        if j == 0 and cust and h(self.seed, "ref", i) % 4 == 0:
            msg["ref"], msg["ref_source"] = synth.pick(REFS, self.seed, "refv", i)
        return msg


class Conv:
    """A materialized conversation: its messages in chronological order."""

    __slots__ = ("peer", "messages", "last_cmid")

    def __init__(self, peer: int, messages: list[dict]) -> None:
        self.peer, self.messages = peer, messages
        self.last_cmid = messages[-1]["conversation_message_id"] if messages else 0


class _Seq:
    """Seeded indices i < n with i % PERIOD in `residues`, minus `excluded`: counted and indexed in O(log)."""

    def __init__(self, n: int, residues: list[int], excluded: list[int]) -> None:
        self.n, self.rs = n, residues
        self.ex = [x for x in excluded if x % PERIOD in residues]
        self.ex_ranks = [self._rank(x) for x in self.ex]

    def _rank(self, x: int) -> int:
        q, r = divmod(x, PERIOD)
        return q * len(self.rs) + bisect_left(self.rs, r)

    def count_lt(self, x: int) -> int:
        x = min(x, self.n)
        return self._rank(x) - bisect_left(self.ex, x)

    def nth(self, k: int) -> int | None:
        if not self.rs or k < 0:
            return None
        m = k  # least fixpoint of m = k + #excluded ranks <= m: the k-th rank that is not excluded
        while (nxt := k + bisect_right(self.ex_ranks, m)) != m:
            m = nxt
        q, r = divmod(m, len(self.rs))
        i = q * PERIOD + self.rs[r]
        return i if i < self.n else None


ACTIVITY_KEPT = 1000  # messages.setActivity calls remembered per mailbox (the control API's "activity")


class Mailbox:
    def __init__(self, owner_id: int, name: str) -> None:
        self.owner_id, self.name = owner_id, name  # owner_id: -group_id for a community, user id for an account
        self.reset()

    def reset(self, seed: Seed | None = None) -> None:
        self.seed = seed
        self.convs: dict[int, Conv] = {}
        self.by_id: dict[int, dict] = {}
        self.read: dict[int, list[int]] = {}  # peer -> [in_read, out_read] where it differs from the seed
        self.allowed: dict[int, bool] = {}  # messages from the community allowed / denied by the user
        self.bumped: dict[int, int] = {}  # peer -> last message id, for conversations with live messages
        self._bumped_order: list[int] | None = None
        self.next_id = seed.n * seed.m if seed else 0
        self.dedup: dict[tuple[int, int], tuple[int, float]] = {}
        self.activity: deque[dict] = deque(maxlen=ACTIVITY_KEPT)  # messages.setActivity calls, oldest first
        self.typing: dict[int, float] = {}  # peer -> time.time() until which that customer sees "typing…"

    # ------------------------------------------------------------ reading

    def _seeded_untouched(self, peer: int) -> int | None:
        i = self.seed.index(peer) if self.seed and self.seed.m else None
        return None if i is None or peer in self.convs else i

    def history_len(self, peer: int) -> int:
        if self._seeded_untouched(peer) is not None:
            return self.seed.m
        return len(self.convs[peer].messages) if peer in self.convs else 0

    def history_at(self, peer: int, c: int) -> dict:
        i = self._seeded_untouched(peer)
        return self.seed.message(i, c) if i is not None else self.convs[peer].messages[c]

    def _history_id(self, peer: int, c: int) -> int:
        i = self._seeded_untouched(peer)
        return self.seed.msg_id(i, c) if i is not None else self.convs[peer].messages[c]["id"]

    def history_page(self, peer: int, offset: int, count: int, rev: bool,
                     start_message_id: int) -> tuple[int, list[dict]]:
        """messages.getHistory semantics (https://dev.vk.com/ru/method/messages.getHistory): newest first unless
        rev; start_message_id > 0 anchors the window at that message (offset then counts from it, and is <= 0)."""
        total = self.history_len(peer)
        pos = 0
        if start_message_id > 0:
            ids = _Lazy(total, lambda c: self._history_id(peer, c))
            pos = bisect_left(ids, start_message_id) if rev else total - bisect_right(ids, start_message_id)
        first = max(0, pos + offset)
        last = min(total, pos + offset + count)
        chrono = range(first, last) if rev else range(total - 1 - first, total - 1 - last, -1)
        return total, [self.history_at(peer, c) for c in chrono]

    def last_message(self, peer: int) -> dict | None:
        n = self.history_len(peer)
        return self.history_at(peer, n - 1) if n else None

    def read_state(self, peer: int) -> list[int]:
        if peer in self.read:
            return self.read[peer]
        i = self.seed.index(peer) if self.seed and self.seed.m else None
        return self.seed.read_state(i) if i is not None else [0, 0]

    def unread_count(self, peer: int) -> int:
        i = self._seeded_untouched(peer)
        in_read = self.read_state(peer)[0]
        if i is not None and peer not in self.read:
            return int(self.seed.unread(i))
        unread, n = 0, self.history_len(peer)
        for c in range(n - 1, -1, -1):
            msg = self.history_at(peer, c)
            if msg["id"] <= in_read:
                break
            unread += not msg["out"]
        return unread

    def is_allowed(self, peer: int) -> bool:
        if peer in self.allowed:
            return self.allowed[peer]
        i = self.seed.index(peer) if self.seed else None
        return not (i is not None and self.seed.forbids(i))

    def conversation(self, peer: int) -> dict:
        """The conversation object (https://dev.vk.com/ru/reference/objects/conversation)."""
        last = self.last_message(peer)
        in_read, out_read = self.read_state(peer)
        kind = "chat" if peer > 2_000_000_000 else "user" if peer > 0 else "group"
        conv = {"peer": {"id": peer, "type": kind, "local_id": peer % 2_000_000_000 if kind == "chat" else abs(peer)},
                "last_message_id": last["id"] if last else 0,
                "last_conversation_message_id": last["conversation_message_id"] if last else 0,
                "in_read": in_read, "out_read": out_read, "version": last["id"] if last else 0,
                "sort_id": {"major_id": 0, "minor_id": last["id"] if last else 0},
                "is_marked_unread": False, "important": False, "unanswered": bool(last and not last["out"]),
                "can_write": {"allowed": True} if self.is_allowed(peer) else {"allowed": False, "reason": 901}}
        if unread := self.unread_count(peer):
            conv["unread_count"] = unread
        return conv

    def by_cmid(self, peer: int, cmid: int) -> dict | None:
        i = self._seeded_untouched(peer)
        if i is not None:
            return self.seed.message(i, cmid - 1) if 1 <= cmid <= self.seed.m else None
        conv = self.convs.get(peer)
        return next((m for m in conv.messages if m["conversation_message_id"] == cmid), None) if conv else None

    def get_message(self, mid: int) -> dict | None:
        if mid in self.by_id:
            return self.by_id[mid]
        at = self.seed.locate(mid) if self.seed and self.seed.m else None
        if at and self.seed.peer(at[0]) not in self.convs:
            return self.seed.message(*at)
        return None

    def bumped_peers(self) -> list[int]:
        if self._bumped_order is None:
            self._bumped_order = sorted(self.bumped, key=self.bumped.__getitem__, reverse=True)
        return self._bumped_order

    def listing(self, flt: str, offset: int, count: int) -> tuple[int, list[int]]:
        """(total, peers) for messages.getConversations; empty conversations are never listed."""
        tests = {"all": None, "unread": lambda p: self.unread_count(p) > 0,
                 "unanswered": lambda p: not self.last_message(p)["out"]}
        if flt not in tests:
            return 0, []  # important / archive / business_notify: nothing here is marked so
        test = tests[flt]
        live = [p for p in self.bumped_peers() if test is None or test(p)]
        seq, cands = None, []
        if self.seed and self.seed.m:
            s = self.seed
            residues = [r for r in range(PERIOD) if test is None
                        or s.last_incoming(r) and (flt != "unread" or s.unread(r))]
            touched = sorted(i for i in map(s.index, set(self.convs) | set(self.read)) if i is not None)
            cands = [i for i in touched if s.peer(i) not in self.bumped and self.history_len(s.peer(i))
                     and (test is None or test(s.peer(i)))]
            seq = _Seq(s.n, residues, touched)

        def seeded_kth(k: int) -> int | None:
            for t, c in enumerate(cands):  # merge the arithmetic sequence with the touched candidates
                before = t + seq.count_lt(c)
                if k < before:
                    return seq.nth(k - t)
                if k == before:
                    return c
            return seq.nth(k - len(cands))

        total = len(live) + (seq.count_lt(seq.n) + len(cands) if seq else 0)
        page = live[offset:offset + count]
        for k in range(max(offset, len(live)) - len(live), offset + count - len(live)):
            i = seeded_kth(k) if seq else None
            if i is None:
                break
            page.append(self.seed.peer(i))
        return total, page

    # ------------------------------------------------------------ writing

    def materialize(self, peer: int) -> Conv:
        if peer not in self.convs:
            i = self.seed.index(peer) if self.seed and self.seed.m else None
            messages = [self.seed.message(i, j) for j in range(self.seed.m)] if i is not None else []
            if i is not None and peer not in self.read:
                self.read[peer] = self.seed.read_state(i)
            self.convs[peer] = Conv(peer, messages)
            self.by_id.update((msg["id"], msg) for msg in messages)
        self.read.setdefault(peer, [0, 0])
        return self.convs[peer]

    def add(self, peer: int, *, out: bool, text: str, attachments: list[dict], date: int | None = None,
            **extra: object) -> dict:
        conv = self.materialize(peer)
        self.next_id += 1
        conv.last_cmid += 1
        msg = base_message(self.next_id, date or int(time.time()), peer, self.owner_id if out else peer, out, text,
                           conv.last_cmid, attachments)
        msg.update({k: v for k, v in extra.items() if v is not None})
        conv.messages.append(msg)
        self.by_id[msg["id"]] = msg
        self._bump(peer)
        if out:  # replying marks the conversation read (https://dev.vk.com/ru/method/messages.markAsRead)
            self.typing.pop(peer, None)  # and the message ends the "typing…" before it
            incoming = [m["id"] for m in conv.messages if not m["out"]]
            self.read[peer][0] = max(self.read[peer][0], incoming[-1] if incoming else 0)
        return msg

    def set_activity(self, peer: int, kind: str, seconds: float) -> dict:
        """messages.setActivity: the customer sees the owner "typing…" for `seconds` (VK: about 10)."""
        now = time.time()
        entry = {"peer_id": peer, "type": kind, "at": now, "until": now + seconds}
        self.activity.append(entry)
        self.typing[peer] = entry["until"]
        return entry

    def typing_now(self, peer: int) -> bool:
        return self.typing.get(peer, 0.0) > time.time()

    def _bump(self, peer: int) -> None:
        messages = self.convs[peer].messages
        seeded_max = self.seed.n * self.seed.m if self.seed else 0
        if messages and messages[-1]["id"] > seeded_max:
            self.bumped[peer] = messages[-1]["id"]
        else:
            self.bumped.pop(peer, None)
        self._bumped_order = None

    def touch(self, mid: int) -> dict | None:
        """The stored (mutable) message with this id, materializing its seeded conversation first."""
        msg = self.get_message(mid)
        if msg is None:
            return None
        self.materialize(msg["peer_id"])
        return self.by_id.get(mid)

    def delete(self, mid: int) -> bool:
        msg = self.touch(mid)
        if msg is None:
            return False
        self.convs[msg["peer_id"]].messages.remove(msg)
        del self.by_id[mid]
        self._bump(msg["peer_id"])
        return True

    def mark_read(self, peer: int, up_to: int | None = None) -> None:
        last = self.last_message(peer)
        state = self.read.setdefault(peer, list(self.read_state(peer)))
        state[0] = max(state[0], up_to or (last["id"] if last else 0))


class _Lazy:
    """A read-only sequence view for bisect over computed values."""

    def __init__(self, n: int, get) -> None:
        self.n, self.get = n, functools.lru_cache(maxsize=64)(get)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> int:
        return self.get(k)
