"""The VK API methods the sandbox implements, as a mixin over VKSandbox's state (see server.py)."""

from __future__ import annotations

import copy
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import synth
from .errors import VKError, bad_param
from .mailbox import FILTERS, Mailbox

if TYPE_CHECKING:
    from .server import Community

MAX_COUNT = 200  # getConversations / getHistory: "не более 200" (https://dev.vk.com/ru/method/messages.getHistory)
MAX_TEXT = 4096  # longer texts fail with 914: https://dev.vk.com/ru/method/messages.send
MAX_ATTACHMENTS = 10  # https://dev.vk.com/ru/method/messages.send
ACTIVITY_TYPES = ("typing", "audiomessage")  # https://dev.vk.com/ru/method/messages.setActivity
TYPING_SECONDS = 10  # how long VK shows the activity after one call (emulated seconds)
EDIT_WINDOW = 86_400  # messages can be edited for 24 hours: https://dev.vk.com/ru/method/messages.edit
DEDUP_WINDOW = 3_600  # emulated seconds a random_id is remembered per peer: https://dev.vk.com/ru/method/messages.send
ATTACHMENT_RE = re.compile(r"^(photo|video|doc|audio_message|audio|sticker|wall|market|poll)(-?\d+)_(\d+)(?:_(\w+))?$")
_REQUIRED = object()


@dataclass
class Principal:
    kind: str  # "group" | "user"
    id: int


def _namespace(kind: str) -> str:
    """Voice messages are documents: "doc…" and "audio_message…" strings name the same object."""
    return "doc" if kind in ("doc", "audio_message") else kind


def _int(p: dict, name: str, default: Any = _REQUIRED) -> int:
    v = p.get(name)
    if v is None or v == "":
        if default is _REQUIRED:
            raise bad_param(name)
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise bad_param(name, "not integer") from None


def _ids(p: dict, name: str) -> list[int]:
    try:
        return [int(x) for x in str(p.get(name) or "").replace(" ", "").split(",") if x]
    except ValueError:
        raise bad_param(name, "is invalid") from None


class Methods:
    """messages.*, users.get, groups.*, photos/docs upload methods; each takes (principal, form params).

    Mixed into VKSandbox, whose state (_communities, _media, _blobs, _uploads, _media_ids, sent) it uses."""

    def method_table(self) -> dict:
        return {
            "messages.getConversations": self._get_conversations, "messages.getHistory": self._get_history,
            "messages.getById": self._get_by_id, "messages.getConversationsById": self._get_conversations_by_id,
            "messages.send": self._send, "messages.edit": self._edit, "messages.delete": self._delete,
            "messages.markAsRead": self._mark_as_read, "messages.setActivity": self._set_activity,
            "messages.isMessagesFromGroupAllowed": self._is_allowed, "users.get": self._users_get,
            "groups.getById": self._groups_get_by_id, "groups.getLongPollServer": self._get_long_poll_server,
            "utils.getServerTime": lambda who, p: int(time.time()),
            "photos.getMessagesUploadServer": self._photo_upload_server,
            "photos.saveMessagesPhoto": self._save_photo, "docs.getMessagesUploadServer": self._doc_upload_server,
            "docs.save": self._save_doc,
        }

    # ================================================================ attachments

    def _live_attachment(self, att: dict, owner: int) -> dict:
        """A full attachment for user_writes: given objects are kept, bare {"type": kind} ones are generated."""
        kind = att["type"]
        if kind in att:
            made = copy.deepcopy(att)
        elif kind in ("photo", "doc", "audio_message", "sticker", "video"):
            made = synth.make_attachment(kind, owner, next(self._media_ids), int(time.time()))
        else:
            made = {"type": kind, kind: {"id": next(self._media_ids), "owner_id": owner}}
        body = made[kind]
        if isinstance(body, dict) and "id" in body and "owner_id" in body:  # the product may send it back
            self._media[(_namespace(kind), body["owner_id"], body["id"])] = made
        return copy.deepcopy(made)

    def _resolve_attachments(self, box: Mailbox, spec: str) -> list[dict]:
        out = []
        for part in (x.strip() for x in spec.split(",")):
            if not part:
                continue
            m = ATTACHMENT_RE.match(part)
            if not m:
                raise bad_param("attachment", f"{part} is invalid")
            kind, owner, media_id = m[1], int(m[2]), int(m[3])
            att = self._media.get((_namespace(kind), owner, media_id))
            if att is None:  # a seeded attachment carries the id of its message
                msg = box.get_message(media_id)
                att = next((a for a in (msg or {}).get("attachments", ()) if _namespace(a["type"]) == _namespace(kind)
                            and a[a["type"]].get("owner_id") == owner), None)
            if att is None:
                raise bad_param("attachment", f"{part} is invalid")
            out.append(copy.deepcopy(att))
        if len(out) > MAX_ATTACHMENTS:
            raise bad_param("attachment", f"should contain no more than {MAX_ATTACHMENTS} items")
        return out

    # ================================================================ methods

    def _profiles(self, user_ids: list[int], fields: str) -> list[dict]:
        wanted = [f for f in fields.split(",") if f]
        out = []
        for uid in user_ids:
            if uid <= 0:
                continue
            full = synth.person(uid)
            item = {k: full[k] for k in ("id", "first_name", "last_name", "can_access_closed", "is_closed")}
            item.update((f, full[f]) for f in wanted if f in full)
            if "can_write_private_message" in wanted:
                item["can_write_private_message"] = 1
            out.append(item)
        return out

    def _groups_of(self, box: Mailbox) -> list[dict]:
        return [synth.community(-box.owner_id, box.name)] if box.owner_id < 0 else []

    def _extend(self, resp: dict, box: Mailbox, peers: list[int], p: dict) -> dict:
        if p.get("extended") == "1":
            resp["profiles"] = self._profiles(sorted(set(peers)), p.get("fields", ""))
            resp["groups"] = self._groups_of(box)
        return resp

    def _peer(self, p: dict) -> int:
        return _int(p, "peer_id") if p.get("peer_id") else _int(p, "user_id")

    def _get_conversations(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/messages.getConversations"""
        box = self._mailbox(who, p)
        offset, count = _int(p, "offset", 0), min(_int(p, "count", 20), MAX_COUNT)
        flt = p.get("filter") or "all"
        if flt not in FILTERS:
            raise bad_param("filter", "is invalid")
        if offset < 0 or count < 0:
            raise bad_param("offset" if offset < 0 else "count", "should be positive")
        total, peers = box.listing(flt, offset, count)
        items = [{"conversation": box.conversation(peer), "last_message": box.last_message(peer)} for peer in peers]
        resp = {"count": total, "items": items, "unread_count": box.listing("unread", 0, 0)[0]}
        return self._extend(resp, box, peers, p)

    def _get_history(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/messages.getHistory"""
        box = self._mailbox(who, p)
        peer = self._peer(p)
        offset, count = _int(p, "offset", 0), min(_int(p, "count", 20), MAX_COUNT)
        start = _int(p, "start_message_id", 0)
        if start == -1:  # -1: offset counts from the first unread incoming message
            offset, start = offset + box.unread_count(peer), 0
        if start > 0 and offset > 0:
            raise bad_param("offset", "should be less or equal to 0 when start_message_id is passed")
        if start <= 0 and offset < 0 or count < 0:
            raise bad_param("offset" if offset < 0 else "count", "should be positive")
        total, items = box.history_page(peer, offset, count, p.get("rev") == "1", start)
        return self._extend({"count": total, "items": items}, box, [peer], p)

    def _get_by_id(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/messages.getById (up to 100 ids)."""
        box = self._mailbox(who, p)
        if p.get("message_ids"):
            items = [box.get_message(mid) for mid in _ids(p, "message_ids")[:100]]
        else:
            peer = self._peer(p)
            cmids = _ids(p, "cmids") or _ids(p, "conversation_message_ids")
            if not cmids:
                raise bad_param("message_ids")
            items = [box.by_cmid(peer, c) for c in cmids[:100]]
        items = [m for m in items if m]
        return self._extend({"count": len(items), "items": items}, box, [m["peer_id"] for m in items], p)

    def _get_conversations_by_id(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/messages.getConversationsById"""
        box = self._mailbox(who, p)
        peers = _ids(p, "peer_ids")[:100]
        return self._extend({"count": len(peers), "items": [box.conversation(x) for x in peers]}, box, peers, p)

    def _send(self, who: Principal, p: dict) -> Any:
        """https://dev.vk.com/ru/method/messages.send"""
        box = self._mailbox(who, p)
        many = bool(p.get("peer_ids"))
        peers = _ids(p, "peer_ids")[:100] if many else [self._peer(p)]
        random_id = _int(p, "random_id")  # required since 5.90
        text = p.get("message", "")
        attachments = self._resolve_attachments(box, p.get("attachment", ""))
        if p.get("sticker_id"):
            attachments.append({"type": "sticker", "sticker": synth.sticker(_int(p, "sticker_id"))})
        if not text.strip() and not attachments:
            raise bad_param("message", "is empty or invalid")
        if len(text) > MAX_TEXT:
            raise VKError(914)
        results = []
        for peer in peers:
            try:
                message_id = self._send_one(box, peer, random_id, text, attachments, p)
                results.append({"peer_id": peer, "message_id": message_id})
            except VKError as e:
                if not many:
                    raise
                results.append({"peer_id": peer, "error": {"code": e.code, "description": e.msg}})
        if not many:
            return results[0]["message_id"]
        for r in results:
            if "message_id" in r:
                r["conversation_message_id"] = box.by_id[r["message_id"]]["conversation_message_id"]
        return results

    def _send_one(self, box: Mailbox, peer: int, random_id: int, text: str, attachments: list[dict], p: dict) -> int:
        if box.owner_id < 0 and 0 < peer < 2_000_000_000 and not box.is_allowed(peer):
            raise VKError(901)
        now = time.monotonic()
        if random_id:
            seen = box.dedup.get((peer, random_id))
            if seen and now - seen[1] < DEDUP_WINDOW / self.time_scale and seen[0] in box.by_id:
                return seen[0]
        msg = box.add(peer, out=True, text=text, attachments=copy.deepcopy(attachments), random_id=random_id,
                      payload=p.get("payload"))
        if random_id:
            box.dedup[(peer, random_id)] = (msg["id"], now)
        self.sent.append({"group_id": -box.owner_id if box.owner_id < 0 else None, "peer_id": peer, "message": text,
                          "random_id": random_id, "attachment": p.get("attachment", ""), "message_id": msg["id"],
                          "date": msg["date"]})
        if box.owner_id < 0:
            self._emit(-box.owner_id, "message_reply", msg)
        return msg["id"]

    def _find(self, box: Mailbox, p: dict) -> dict:
        if p.get("message_id"):
            msg = box.touch(_int(p, "message_id"))
        else:
            found = box.by_cmid(self._peer(p), _int(p, "conversation_message_id"))
            msg = box.touch(found["id"]) if found else None
        if msg is None or (p.get("peer_id") and msg["peer_id"] != _int(p, "peer_id")):
            raise bad_param("message_id", "is invalid")
        return msg

    def _edit(self, who: Principal, p: dict) -> int:
        """https://dev.vk.com/ru/method/messages.edit"""
        box = self._mailbox(who, p)
        msg = self._find(box, p)
        if not msg["out"]:
            raise VKError(15, "can't edit a message of another user")
        if time.time() - msg["date"] > EDIT_WINDOW:
            raise VKError(909)
        text = p.get("message", msg["text"])
        if len(text) > MAX_TEXT:
            raise VKError(914)
        msg.update(text=text, update_time=int(time.time()))
        if "attachment" in p:
            msg["attachments"] = self._resolve_attachments(box, p["attachment"])
        if box.owner_id < 0:
            self._emit(-box.owner_id, "message_edit", msg)
        return 1

    def _delete(self, who: Principal, p: dict) -> Any:
        """https://dev.vk.com/ru/method/messages.delete"""
        box = self._mailbox(who, p)
        for_all = p.get("delete_for_all") == "1"
        if p.get("message_ids"):
            targets = [(mid, box.get_message(mid)) for mid in _ids(p, "message_ids")]
        else:
            peer = self._peer(p)
            targets = [(c, box.by_cmid(peer, c)) for c in _ids(p, "cmids") or _ids(p, "conversation_message_ids")]
        for _, msg in targets:
            if msg and for_all and (not msg["out"] or time.time() - msg["date"] > EDIT_WINDOW):
                raise VKError(924)
        done = {key: int(bool(msg and box.delete(msg["id"]))) for key, msg in targets}
        if p.get("message_ids"):
            return {str(k): v for k, v in done.items()}
        return [{"peer_id": self._peer(p), "conversation_message_id": k, "response": bool(v)} for k, v in done.items()]

    def _mark_as_read(self, who: Principal, p: dict) -> int:
        """https://dev.vk.com/ru/method/messages.markAsRead"""
        box = self._mailbox(who, p)
        box.mark_read(self._peer(p), _int(p, "start_message_id", 0) or None)
        return 1

    def _set_activity(self, who: Principal, p: dict) -> int:
        """https://dev.vk.com/ru/method/messages.setActivity: the customer sees "typing…" for about 10 seconds, or
        until the next message of the community (or account) to them; recorded in the mailbox (`activity`)."""
        box = self._mailbox(who, p)
        peer = self._peer(p)
        kind = p.get("type") or "typing"
        if kind not in ACTIVITY_TYPES:
            raise bad_param("type", "is invalid")
        box.set_activity(peer, kind, TYPING_SECONDS / self.time_scale)
        return 1

    def _is_allowed(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/messages.isMessagesFromGroupAllowed"""
        com = self._communities.get(_int(p, "group_id"))
        if com is None:
            raise bad_param("group_id", "is invalid")
        return {"is_allowed": int(com.mailbox.is_allowed(_int(p, "user_id")))}

    def _users_get(self, who: Principal, p: dict) -> list[dict]:
        """https://dev.vk.com/ru/method/users.get"""
        raw = [x for x in (p.get("user_ids") or p.get("user_id") or "").replace(" ", "").split(",") if x]
        ids = []
        for x in raw:
            x = x[2:] if x.startswith("id") and x[2:].isdigit() else x
            if not x.isdigit():
                raise bad_param("user_ids", "is invalid")
            ids.append(int(x))
        if not raw and who.kind == "user":
            ids = [who.id]
        return self._profiles(ids, p.get("fields", ""))

    def _groups_get_by_id(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/groups.getById (5.199 answers {"groups": [...], "profiles": [...]})."""
        raw = [x.removeprefix("club").removeprefix("public") for x in
               (p.get("group_ids") or p.get("group_id") or "").replace(" ", "").split(",") if x]
        if not raw:
            if who.kind != "group":
                raise bad_param("group_ids")
            raw = [str(who.id)]
        groups = []
        for x in raw:
            if not x.lstrip("-").isdigit() or abs(int(x)) not in self._communities:
                raise bad_param("group_ids", "is invalid")
            com = self._communities[abs(int(x))]
            groups.append(synth.community(com.id, com.name))
        return {"groups": groups, "profiles": []}

    def _own_community(self, who: Principal, p: dict) -> Community:
        group_id = _int(p, "group_id", who.id if who.kind == "group" else _REQUIRED)
        if group_id not in self._communities or who.kind == "group" and group_id != who.id:
            raise VKError(15, "no access to this community")
        return self._communities[group_id]

    def _get_long_poll_server(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/groups.getLongPollServer"""
        com = self._own_community(who, p)
        return {"key": com.lp.key, "server": f"{synth.BASE}/wh{com.id}", "ts": str(com.lp.ts)}

    def _photo_upload_server(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/photos.getMessagesUploadServer"""
        box = self._mailbox(who, p)
        return {"album_id": -3, "upload_url": f"{synth.BASE}/_sandbox/upload/photo/{box.owner_id}",
                "user_id": 0 if box.owner_id < 0 else box.owner_id, "group_id": max(0, -box.owner_id)}

    def _take_upload(self, key: str) -> tuple[bytes, str, str, int, str]:
        if key not in self._uploads:
            raise bad_param("file", "was already saved or never uploaded")
        return self._uploads.pop(key)

    def _save_photo(self, who: Principal, p: dict) -> list[dict]:
        """https://dev.vk.com/ru/method/photos.saveMessagesPhoto"""
        photo = p.get("photo") or ""
        if not hmac.compare_digest(self._sign("photo", photo), p.get("hash", "")):
            raise VKError(121)
        data, _, ctype, owner, _ = self._take_upload(json.loads(photo)[0]["photo"])
        width, height = synth.image_size(data)
        media_id = next(self._media_ids)
        ext = {"image/jpeg": "jpg", "image/gif": "gif"}.get(ctype, "png" if data[:4] == b"\x89PNG" else "jpg")
        obj = synth.photo(owner, media_id, int(time.time()), width, height, ext)
        self._media[("photo", owner, media_id)] = {"type": "photo", "photo": obj}
        mime = {"png": "image/png", "gif": "image/gif"}.get(ext, "image/jpeg")
        self._blobs[("photo", owner, media_id)] = (data, mime)
        return [obj]

    def _doc_upload_server(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/docs.getMessagesUploadServer (type: doc | audio_message | graffiti)."""
        box = self._mailbox(who, p)
        kind = p.get("type") or "doc"
        return {"upload_url": f"{synth.BASE}/_sandbox/upload/doc/{box.owner_id}?type={kind}"}

    def _save_doc(self, who: Principal, p: dict) -> dict:
        """https://dev.vk.com/ru/method/docs.save"""
        owner, _, rest = (p.get("file") or "").partition("|")
        key, _, sig = rest.partition("|")
        if not hmac.compare_digest(self._sign("file", owner, key), sig):
            raise bad_param("file", "is invalid")
        data, filename, ctype, owner_id, kind = self._take_upload(key)
        media_id, now = next(self._media_ids), int(time.time())
        if kind == "audio_message":
            obj = synth.audio_message(owner_id, media_id, synth.ogg_duration(data))
            self._blobs[("audio_message", owner_id, media_id)] = (data, "audio/ogg")
        else:
            title = p.get("title") or filename
            ext = filename.rpartition(".")[2].lower() if "." in filename else "txt"
            obj = synth.doc(owner_id, media_id, now, title, len(data), ext)
            self._blobs[("doc", owner_id, media_id)] = (data, ctype or "application/octet-stream")
        kind = "audio_message" if kind == "audio_message" else "doc"
        self._media[("doc", owner_id, media_id)] = {"type": kind, kind: obj}
        return {"type": kind, kind: obj}
