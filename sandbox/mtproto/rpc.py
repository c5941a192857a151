"""The API methods a userbot calls, answered from the World with Telethon's own TL types, and the errors Telegram
returns for them (https://core.telegram.org/api/errors and each method's page on core.telegram.org/method/...).

Signing in: auth.sendCode → auth.signIn (PHONE_CODE_INVALID / PHONE_CODE_EXPIRED / SESSION_PASSWORD_NEEDED) →
account.getPassword + auth.checkPassword (SRP, https://core.telegram.org/api/srp), or a QR login token
(auth.exportLoginToken, updateLoginToken once accepted, https://core.telegram.org/api/qr-login). Anything else
before that is 401 AUTH_KEY_UNREGISTERED.

Reading: messages.getDialogs and messages.getHistory page newest first by offset_id (at most 100 per call), the
takeout wrapper for bulk export (account.initTakeoutSession may answer TAKEOUT_INIT_DELAY_X), upload.getFile.
Writing: messages.sendMessage / sendMedia with random_id (RANDOM_ID_DUPLICATE on a repeat), MESSAGE_EMPTY,
MESSAGE_TOO_LONG (> 4096), MEDIA_CAPTION_TOO_LONG (> 1024), USER_IS_BLOCKED / YOU_BLOCKED_USER, editMessage,
deleteMessages, readHistory. Updates: updates.getState and getDifference replay the account's logged pts sequence.
Flood limits answer 420 FLOOD_WAIT_X.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from telethon import password as srp
from telethon.tl import TLObject, functions, types

from .protocol import DH_PRIME, Connection, RpcError
from .world import LOGIN_CODE_TTL, SERVICE_USER_ID, Account, ChatMessage, LoggedUpdate, Person, StoredMedia, World

if TYPE_CHECKING:
    from .sandbox import MTProtoSandbox

DC_ID = 2
MAX_TEXT = 4096
MAX_CAPTION = 1024
HISTORY_LIMIT = 100
DIALOGS_LIMIT = 100
DIFFERENCE_LIMIT = 1000  # updates per getDifference answer; more → updates.differenceSlice
FILE_PART_MAX = 512 * 1024
GET_FILE_MAX = 1024 * 1024
TYPING_KEPT = 1000  # messages.setTyping calls remembered

_WRAPPERS = (functions.InvokeWithLayerRequest, functions.InitConnectionRequest, functions.InvokeAfterMsgRequest,
             functions.InvokeAfterMsgsRequest, functions.InvokeWithMessagesRangeRequest)
_WITHOUT_LOGIN = (functions.help.GetConfigRequest, functions.help.GetNearestDcRequest, functions.auth.SendCodeRequest,
                  functions.auth.SignInRequest, functions.auth.CheckPasswordRequest,
                  functions.account.GetPasswordRequest, functions.auth.ExportLoginTokenRequest,
                  functions.auth.ResendCodeRequest, functions.auth.CancelCodeRequest, functions.auth.LogOutRequest)


def _date(ts: int | float) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)


def _ts(when: datetime | None) -> float:
    """A TL date as a timestamp; 0 (what an unset offset_date travels as) means none."""
    return when.timestamp() if when is not None else 0.0


class Api:
    """Method handlers of one MTProto stand-in."""

    def __init__(self, sandbox: MTProtoSandbox):
        self.sandbox = sandbox
        self.world: World = sandbox.world
        self.uploads: dict[tuple[int, int], dict[int, bytes]] = {}  # (auth key, file id) → parts
        self.takeouts: dict[int, int] = {}  # takeout id → user id
        self.login_tokens: dict[bytes, dict] = {}
        self.srp: dict[int, dict] = {}  # srp_id → the server's half of an SRP exchange
        # messages.setTyping calls, oldest first: {"account", "peer", "action" (TL name), "at"}
        self.typing: collections.deque[dict] = collections.deque(maxlen=TYPING_KEPT)

    # --- dispatch

    async def __call__(self, conn: Connection, request: TLObject):
        # the wrappers nest in any order, e.g. invokeWithLayer(invokeWithoutUpdates(initConnection(help.getConfig)))
        while isinstance(request, (*_WRAPPERS, functions.InvokeWithoutUpdatesRequest,
                                   functions.InvokeWithTakeoutRequest)):
            if isinstance(request, functions.InvokeWithLayerRequest):
                conn.layer = request.layer
            elif isinstance(request, functions.InvokeWithoutUpdatesRequest):
                conn.receives_updates = False
            elif isinstance(request, functions.InvokeWithTakeoutRequest):
                if self.takeouts.get(request.takeout_id) != conn.user_id:
                    raise RpcError(400, "TAKEOUT_INVALID")
                self.sandbox.calls["InvokeWithTakeoutRequest"] = \
                    self.sandbox.calls.get("InvokeWithTakeoutRequest", 0) + 1
            request = request.query
        name = type(request).__name__
        handler = getattr(self, "m_" + type(request).__module__.rsplit(".", 1)[-1] + "_" + name, None)
        if handler is None:
            raise RpcError(400, "INPUT_METHOD_INVALID")
        if not isinstance(request, _WITHOUT_LOGIN) and conn.user_id is None:
            raise RpcError(401, "AUTH_KEY_UNREGISTERED")
        self.sandbox.calls[name] = self.sandbox.calls.get(name, 0) + 1
        if self.sandbox.latency_ms:
            await asyncio.sleep(self.sandbox.latency_ms / 1000)
        return await handler(conn, request)

    def account(self, conn: Connection) -> Account:
        account = self.world.accounts.get(conn.user_id)
        if account is None:
            raise RpcError(401, "USER_DEACTIVATED")
        return account

    def peer_user(self, peer: TLObject) -> Person:
        """An InputPeerUser / InputUser whose access_hash must match, as Telegram checks it."""
        if isinstance(peer, (types.InputPeerUser, types.InputUser)):
            person = self.world.people.get(peer.user_id)
            if person is None or person.access_hash != peer.access_hash:
                raise RpcError(400, "PEER_ID_INVALID")
            return person
        raise RpcError(400, "PEER_ID_INVALID")

    # --- TL views

    def user_tl(self, person: Person, viewer: int | None) -> types.User:
        return types.User(id=person.id, is_self=person.id == viewer, access_hash=person.access_hash,
                          first_name=person.first_name, last_name=person.last_name, username=person.username,
                          phone=person.phone if person.id == viewer else None, lang_code=person.lang_code,
                          contact=False, status=types.UserStatusRecently(),
                          # 777000 "Telegram" (login codes) is marked as Telegram marks it
                          verified=person.id == SERVICE_USER_ID or None, support=person.id == SERVICE_USER_ID or None)

    def media_tl(self, media: StoredMedia | None):
        if media is None:
            return None
        if media.kind == "photo":
            return types.MessageMediaPhoto(photo=types.Photo(
                id=media.id, access_hash=media.access_hash, file_reference=media.file_reference,
                date=_date(media.date), dc_id=DC_ID,
                sizes=[types.PhotoSize(type="x", w=media.width or 1, h=media.height or 1, size=len(media.data))]))
        attributes: list = []
        if media.file_name:
            attributes.append(types.DocumentAttributeFilename(media.file_name))
        if media.voice or media.audio:
            attributes.append(types.DocumentAttributeAudio(duration=media.duration, voice=media.voice or None))
        if media.video or media.round:
            attributes.append(types.DocumentAttributeVideo(duration=media.duration, w=media.width or 240,
                                                           h=media.height or 240, round_message=media.round or None))
        return types.MessageMediaDocument(document=types.Document(
            id=media.id, access_hash=media.access_hash, file_reference=media.file_reference,
            date=_date(media.date), mime_type=media.mime, size=len(media.data), dc_id=DC_ID,
            attributes=attributes), voice=media.voice or None, round=media.round or None)

    def message_tl(self, account: Account, message: ChatMessage) -> types.Message:
        return types.Message(
            id=message.id, peer_id=types.PeerUser(message.peer), date=_date(message.date), message=message.text,
            out=message.out, from_id=None, media=self.media_tl(message.media),
            reply_to=types.MessageReplyHeader(reply_to_msg_id=message.reply_to) if message.reply_to else None,
            edit_date=_date(message.edit_date) if message.edit_date else None,
            entities=message.entities or None)

    def update_tl(self, account: Account, entry: LoggedUpdate):
        if entry.kind == "new":
            return types.UpdateNewMessage(self.message_tl(account, account.messages[entry.message_id]),
                                          entry.pts, entry.pts_count)
        if entry.kind == "edit":
            return types.UpdateEditMessage(self.message_tl(account, account.messages[entry.message_id]),
                                           entry.pts, entry.pts_count)
        if entry.kind == "delete":
            return types.UpdateDeleteMessages(list(entry.message_ids), entry.pts, entry.pts_count)
        if entry.kind == "read_outbox":
            return types.UpdateReadHistoryOutbox(types.PeerUser(entry.peer), entry.max_id, entry.pts, entry.pts_count)
        return types.UpdateReadHistoryInbox(types.PeerUser(entry.peer), entry.max_id,
                                            account.unread_count(entry.peer), entry.pts, entry.pts_count)

    def users_of(self, account: Account, peers) -> list[types.User]:
        seen = {account.user.id}
        out = [self.user_tl(account.user, account.user.id)]
        for peer in peers:
            if peer is not None and peer not in seen and peer in self.world.people:
                seen.add(peer)
                out.append(self.user_tl(self.world.people[peer], account.user.id))
        return out

    def state(self, account: Account) -> types.updates.State:
        unread = sum(account.unread_count(peer) for peer in account.chats)
        return types.updates.State(pts=account.pts, qts=0, date=_date(time.time()), seq=0, unread_count=unread)

    async def publish(self, account: Account, entry: LoggedUpdate | None, *, skip: Connection | None = None) -> None:
        """Push one logged update to every connection of the account that receives updates."""
        if entry is None:
            return
        self.world.touch()
        peers = [entry.peer] if entry.peer else []
        if entry.message_id:
            peers.append(account.messages[entry.message_id].peer)
        updates = types.Updates(updates=[self.update_tl(account, entry)], users=self.users_of(account, peers),
                                chats=[], date=_date(entry.date), seq=0)
        for conn in self.sandbox.server.connections_of(account.user.id):
            if conn is not skip:
                await conn.push(updates)
        for listener in self.sandbox.listeners:
            # another stand-in sharing the account (the Bot API's business part: sandbox/telegram/business.py)
            listener(account, entry)

    # --- help / updates

    async def m_help_GetConfigRequest(self, conn, request):
        server = self.sandbox.server
        now = time.time()
        return types.Config(
            date=_date(now), expires=_date(now + 3600), test_mode=False, this_dc=DC_ID,
            dc_options=[types.DcOption(id=dc, ip_address=server.host, port=server.port) for dc in (1, 2, 3, 4, 5)],
            dc_txt_domain_name="sandbox.invalid", chat_size_max=200, megagroup_size_max=200_000,
            forwarded_count_max=100, online_update_period_ms=210_000, offline_blur_timeout_ms=5000,
            offline_idle_timeout_ms=30_000, online_cloud_timeout_ms=300_000, notify_cloud_delay_ms=30_000,
            notify_default_delay_ms=1500, push_chat_period_ms=60_000, push_chat_limit=2, edit_time_limit=172_800,
            revoke_time_limit=172_800, revoke_pm_time_limit=2_147_483_647, rating_e_decay=2_419_200,
            stickers_recent_limit=200, channels_read_media_period=604_800, call_receive_timeout_ms=20_000,
            call_ring_timeout_ms=90_000, call_connect_timeout_ms=30_000, call_packet_timeout_ms=10_000,
            me_url_prefix="https://t.me/", caption_length_max=MAX_CAPTION, message_length_max=MAX_TEXT,
            webfile_dc_id=DC_ID)

    async def m_help_GetNearestDcRequest(self, conn, request):
        return types.NearestDc(country="RU", this_dc=DC_ID, nearest_dc=DC_ID)

    async def m_updates_GetStateRequest(self, conn, request):
        return self.state(self.account(conn))

    async def m_updates_GetDifferenceRequest(self, conn, request):
        account = self.account(conn)
        if request.pts >= account.pts:
            return types.updates.DifferenceEmpty(date=_date(time.time()), seq=0)
        entries = account.updates_after(request.pts)
        sliced = len(entries) > DIFFERENCE_LIMIT
        entries = entries[:DIFFERENCE_LIMIT]
        new_messages, other, peers = [], [], []
        for entry in entries:
            if entry.kind == "new":
                message = account.messages[entry.message_id]
                new_messages.append(self.message_tl(account, message))
                peers.append(message.peer)
            else:
                other.append(self.update_tl(account, entry))
                peers.append(entry.peer or (account.messages[entry.message_id].peer if entry.message_id else None))
        users = self.users_of(account, peers)
        if sliced:
            state = types.updates.State(pts=entries[-1].pts, qts=0, date=_date(entries[-1].date), seq=0,
                                        unread_count=0)
            return types.updates.DifferenceSlice(new_messages=new_messages, new_encrypted_messages=[],
                                                 other_updates=other, chats=[], users=users,
                                                 intermediate_state=state)
        return types.updates.Difference(new_messages=new_messages, new_encrypted_messages=[], other_updates=other,
                                        chats=[], users=users, state=self.state(account))

    # --- signing in

    async def m_auth_SendCodeRequest(self, conn, request):
        digits = "".join(ch for ch in request.phone_number if ch.isdigit())
        if not 7 <= len(digits) <= 15:
            raise RpcError(400, "PHONE_NUMBER_INVALID")
        self.sandbox.limit(f"sendcode:{digits}", "send_code")
        code = self.world.new_code(digits)
        account = self.world.account_by_phone(digits)
        if account is not None:  # the code arrives in the person's Telegram app, from "Telegram"
            message, entry = account.add_message(self.world.service.id, out=False,
                                                 text=f"Код для входа в Telegram: {code.code}. Никому не давайте "
                                                      f"код, даже если его требуют от имени Telegram!")
            await self.publish(account, entry)
        return types.auth.SentCode(type=types.auth.SentCodeTypeApp(length=5), phone_code_hash=code.phone_code_hash,
                                   next_type=types.auth.CodeTypeSms(), timeout=60)

    async def m_auth_ResendCodeRequest(self, conn, request):
        return await self.m_auth_SendCodeRequest(conn, request)

    async def m_auth_CancelCodeRequest(self, conn, request):
        self.world.codes.pop(request.phone_code_hash, None)
        return True

    async def m_auth_SignInRequest(self, conn, request):
        code = self.world.codes.get(request.phone_code_hash)
        digits = "".join(ch for ch in request.phone_number if ch.isdigit())
        if code is None or code.phone != digits:
            raise RpcError(400, "PHONE_CODE_EXPIRED" if code is None else "PHONE_NUMBER_INVALID")
        if not request.phone_code:
            raise RpcError(400, "PHONE_CODE_EMPTY")
        if time.time() - code.sent_at > LOGIN_CODE_TTL:
            raise RpcError(400, "PHONE_CODE_EXPIRED")
        if request.phone_code != code.code:
            raise RpcError(400, "PHONE_CODE_INVALID")
        account = self.world.account_by_phone(digits)
        if account is None:
            raise RpcError(400, "PHONE_NUMBER_UNOCCUPIED")
        del self.world.codes[request.phone_code_hash]
        if account.password:
            conn.auth.pending_user_id = account.user.id  # the key is half-way: only the password is missing
            raise RpcError(401, "SESSION_PASSWORD_NEEDED")
        return self._signed_in(conn, account)

    def _signed_in(self, conn: Connection, account: Account) -> types.auth.Authorization:
        conn.auth.user_id = account.user.id
        self.world.touch()
        return types.auth.Authorization(user=self.user_tl(account.user, account.user.id))

    def _srp_algo(self, account: Account) -> types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
        salt = hashlib.sha256(f"salt:{account.user.id}".encode()).digest()
        return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=salt[:16], salt2=salt[16:], g=3, p=DH_PRIME.to_bytes(256, "big"))

    async def m_account_GetPasswordRequest(self, conn, request):
        user_id = conn.user_id or getattr(conn.auth, "pending_user_id", None)
        account = self.world.accounts.get(user_id) if user_id else None
        if account is None or not account.password:
            return types.account.Password(new_algo=types.PasswordKdfAlgoUnknown(),
                                          new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
                                          secure_random=os.urandom(32), has_password=False)
        algo = self._srp_algo(account)
        x = int.from_bytes(await asyncio.to_thread(srp.compute_hash, algo, account.password), "big")
        v = pow(3, x, DH_PRIME)
        k = int.from_bytes(srp.sha256(DH_PRIME.to_bytes(256, "big"), srp.big_num_for_hash(3)), "big")
        b = int.from_bytes(os.urandom(256), "big")
        big_b = (k * v + pow(3, b, DH_PRIME)) % DH_PRIME
        srp_id = secrets.randbits(62)
        self.srp[srp_id] = {"user_id": account.user.id, "b": b, "B": big_b, "v": v, "algo": algo}
        return types.account.Password(new_algo=algo, new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
                                      secure_random=os.urandom(32), has_password=True, current_algo=algo,
                                      srp_B=srp.big_num_for_hash(big_b), srp_id=srp_id, hint=account.password_hint)

    async def m_auth_CheckPasswordRequest(self, conn, request):
        check = request.password
        exchange = self.srp.pop(getattr(check, "srp_id", None), None)
        if exchange is None or exchange["user_id"] != getattr(conn.auth, "pending_user_id", None):
            raise RpcError(400, "SRP_ID_INVALID")
        p_bytes = DH_PRIME.to_bytes(256, "big")
        a_bytes = srp.num_bytes_for_hash(check.A)
        b_bytes = srp.big_num_for_hash(exchange["B"])
        u = int.from_bytes(srp.sha256(a_bytes, b_bytes), "big")
        s = pow(int.from_bytes(check.A, "big") * pow(exchange["v"], u, DH_PRIME), exchange["b"], DH_PRIME)
        algo = exchange["algo"]
        m1 = srp.sha256(srp.xor(srp.sha256(p_bytes), srp.sha256(srp.big_num_for_hash(3))), srp.sha256(algo.salt1),
                        srp.sha256(algo.salt2), a_bytes, b_bytes, srp.sha256(srp.big_num_for_hash(s)))
        if m1 != check.M1:
            raise RpcError(400, "PASSWORD_HASH_INVALID")
        conn.auth.pending_user_id = None
        return self._signed_in(conn, self.world.accounts[exchange["user_id"]])

    async def m_auth_ExportLoginTokenRequest(self, conn, request):
        mine = [t for t, v in self.login_tokens.items() if v["key_id"] == conn.auth.key_id]
        for token in mine:
            ticket = self.login_tokens[token]
            if ticket["user_id"] is not None:
                del self.login_tokens[token]
                return types.auth.LoginTokenSuccess(self._signed_in(conn, self.world.accounts[ticket["user_id"]]))
        for token in mine:
            del self.login_tokens[token]
        token = os.urandom(32)
        self.login_tokens[token] = {"key_id": conn.auth.key_id, "user_id": None, "expires": time.time() + 30,
                                    "conn": conn}
        self.world.touch()
        return types.auth.LoginToken(expires=_date(time.time() + 30), token=token)

    async def m_auth_LogOutRequest(self, conn, request):
        if conn.auth is not None:
            conn.auth.user_id = None
        return types.auth.LoggedOut()

    async def accept_login_token(self, token: bytes, account: Account) -> None:
        """The person scans the QR code with their phone (already signed in there) and confirms."""
        ticket = self.login_tokens.get(token)
        if ticket is None or ticket["expires"] < time.time():
            raise ValueError("AUTH_TOKEN_EXPIRED")
        ticket["user_id"] = account.user.id
        await ticket["conn"].push(types.UpdateShort(update=types.UpdateLoginToken(), date=_date(time.time())))

    # --- users

    async def m_users_GetUsersRequest(self, conn, request):
        account = self.account(conn)
        out = []
        for item in request.id:
            if isinstance(item, types.InputUserSelf):
                out.append(self.user_tl(account.user, account.user.id))
                continue
            person = self.world.people.get(getattr(item, "user_id", None))
            if person is not None and person.access_hash == getattr(item, "access_hash", None):
                out.append(self.user_tl(person, account.user.id))
        return out

    # --- reading

    async def m_messages_GetDialogsRequest(self, conn, request):
        account = self.account(conn)
        self.sandbox.limit(f"read:{account.user.id}", "read")
        if request.folder_id == 1:  # the archive is empty
            return types.messages.Dialogs(dialogs=[], messages=[], chats=[], users=[])
        tops = []
        for peer, chat in account.chats.items():
            ids = chat.live_ids(account.messages)
            if ids:
                tops.append((ids[-1], peer))
        tops.sort(reverse=True)
        total = len(tops)
        if request.offset_id:
            tops = [t for t in tops if t[0] < request.offset_id]
        elif _ts(request.offset_date):
            edge = _ts(request.offset_date)
            tops = [t for t in tops if account.messages[t[0]].date < edge]
        page = tops[:max(1, min(request.limit or DIALOGS_LIMIT, DIALOGS_LIMIT))]
        dialogs, messages = [], []
        for top, peer in page:
            chat = account.chats[peer]
            dialogs.append(types.Dialog(
                peer=types.PeerUser(peer), top_message=top, read_inbox_max_id=chat.read_inbox_max_id,
                read_outbox_max_id=chat.read_outbox_max_id, unread_count=account.unread_count(peer),
                unread_mentions_count=0, unread_reactions_count=0, unread_poll_votes_count=0,
                notify_settings=types.PeerNotifySettings()))
            messages.append(self.message_tl(account, account.messages[top]))
        users = self.users_of(account, [peer for _, peer in page])
        if len(page) < total:
            return types.messages.DialogsSlice(count=total, dialogs=dialogs, messages=messages, chats=[], users=users)
        return types.messages.Dialogs(dialogs=dialogs, messages=messages, chats=[], users=users)

    async def m_messages_GetHistoryRequest(self, conn, request):
        account = self.account(conn)
        self.sandbox.limit(f"read:{account.user.id}", "read")
        person = self.peer_of(account, request.peer)
        chat = account.chats.get(person.id)
        # a chat's ids are appended as the account numbers them, so they are ascending already: newest first is reversed
        ids = chat.live_ids(account.messages)[::-1] if chat else []
        total = len(ids)
        if request.max_id:
            ids = [i for i in ids if i < request.max_id]
        if request.min_id:
            ids = [i for i in ids if i > request.min_id]
        start = 0
        if request.offset_id:
            start = next((n for n, i in enumerate(ids) if i < request.offset_id), len(ids))
        elif _ts(request.offset_date):
            edge = _ts(request.offset_date)
            start = next((n for n, i in enumerate(ids) if account.messages[i].date < edge), len(ids))
        start = max(0, start + (request.add_offset or 0))
        limit = max(0, min(request.limit or HISTORY_LIMIT, HISTORY_LIMIT))
        page = ids[start:start + limit]
        messages = [self.message_tl(account, account.messages[i]) for i in page]
        users = self.users_of(account, [person.id])
        if total > len(page):
            return types.messages.MessagesSlice(count=total, messages=messages, topics=[], chats=[], users=users)
        return types.messages.Messages(messages=messages, topics=[], chats=[], users=users)

    async def m_messages_GetMessagesRequest(self, conn, request):
        """Messages by id across the account's private chats (client.get_messages(ids=...)); an id that does not
        exist comes back as messageEmpty in its place (https://core.telegram.org/method/messages.getMessages)."""
        account = self.account(conn)
        messages = []
        for item in request.id:
            message = account.messages.get(getattr(item, "id", None))
            if message is None or message.deleted:
                messages.append(types.MessageEmpty(id=getattr(item, "id", 0)))
            else:
                messages.append(self.message_tl(account, message))
        users = self.users_of(account, [m.peer_id.user_id for m in messages if isinstance(m, types.Message)])
        return types.messages.Messages(messages=messages, topics=[], chats=[], users=users)

    def peer_of(self, account: Account, peer) -> Person:
        if isinstance(peer, types.InputPeerSelf):
            return account.user
        return self.peer_user(peer)

    async def m_account_InitTakeoutSessionRequest(self, conn, request):
        account = self.account(conn)
        if self.sandbox.takeout_delay:
            # Telegram asks the person to confirm the export in their app first
            raise RpcError(420, f"TAKEOUT_INIT_DELAY_{self.sandbox.takeout_delay}")
        takeout_id = secrets.randbits(62)
        self.takeouts[takeout_id] = account.user.id
        return types.account.Takeout(id=takeout_id)

    async def m_account_FinishTakeoutSessionRequest(self, conn, request):
        for takeout_id, user_id in list(self.takeouts.items()):
            if user_id == conn.user_id:
                del self.takeouts[takeout_id]
        return True

    async def m_upload_GetFileRequest(self, conn, request):
        self.account(conn)
        location = request.location
        media = self.world.media.get(getattr(location, "id", None))
        if media is None or not isinstance(location, (types.InputPhotoFileLocation, types.InputDocumentFileLocation)):
            raise RpcError(400, "LOCATION_INVALID")
        if location.access_hash != media.access_hash:
            raise RpcError(400, "FILE_ID_INVALID")
        if location.file_reference != media.file_reference:
            raise RpcError(400, "FILE_REFERENCE_EXPIRED")
        # https://core.telegram.org/api/files#downloading-files: offset and limit divisible by 4 KB (limit by 1 KB
        # with `precise`), limit at most 1 MB and a divisor of it (unless precise), no chunk across a 1 MB boundary
        align = 1024 if request.precise else 4096
        if request.offset < 0 or request.offset % align:
            raise RpcError(400, "OFFSET_INVALID")
        if request.limit <= 0 or request.limit > GET_FILE_MAX or request.limit % align or \
                (not request.precise and GET_FILE_MAX % request.limit) or \
                request.offset // GET_FILE_MAX != (request.offset + request.limit - 1) // GET_FILE_MAX:
            raise RpcError(400, "LIMIT_INVALID")
        chunk = media.data[request.offset:request.offset + request.limit]
        kind = types.storage.FileJpeg() if media.mime == "image/jpeg" else (
            types.storage.FilePng() if media.mime == "image/png" else types.storage.FileUnknown())
        return types.upload.File(type=kind, mtime=media.date, bytes=chunk)

    # --- writing

    async def m_upload_SaveFilePartRequest(self, conn, request):
        return self._save_part(conn, request.file_id, request.file_part, request.bytes)

    async def m_upload_SaveBigFilePartRequest(self, conn, request):
        return self._save_part(conn, request.file_id, request.file_part, request.bytes)

    def _save_part(self, conn: Connection, file_id: int, part: int, data: bytes) -> bool:
        self.account(conn)
        if len(data) > FILE_PART_MAX:
            raise RpcError(400, "FILE_PART_TOO_BIG")
        if part < 0 or part > 7999:
            raise RpcError(400, "FILE_PART_INVALID")
        self.uploads.setdefault((conn.auth.key_id, file_id), {})[part] = data
        return True

    def _uploaded(self, conn: Connection, input_file) -> bytes:
        parts = self.uploads.pop((conn.auth.key_id, input_file.id), None)
        if not parts or sorted(parts) != list(range(input_file.parts)):
            raise RpcError(400, "FILE_PARTS_INVALID")
        return b"".join(parts[n] for n in range(input_file.parts))

    def _media_from_input(self, conn: Connection, media) -> StoredMedia:
        if isinstance(media, types.InputMediaUploadedPhoto):
            data = self._uploaded(conn, media.file)
            return self.world.store_media("photo", data, mime="image/jpeg" if data[:2] == b"\xff\xd8" else "image/png")
        if isinstance(media, types.InputMediaUploadedDocument):
            data = self._uploaded(conn, media.file)
            attrs = {type(a): a for a in media.attributes}
            audio = attrs.get(types.DocumentAttributeAudio)
            video = attrs.get(types.DocumentAttributeVideo)
            name = getattr(attrs.get(types.DocumentAttributeFilename), "file_name", None) or media.file.name
            return self.world.store_media(
                "document", data, mime=media.mime_type, file_name=name, voice=bool(audio and audio.voice),
                audio=bool(audio and not audio.voice), video=bool(video and not video.round_message),
                round=bool(video and video.round_message),
                duration=int((audio or video).duration) if (audio or video) else 0)
        if isinstance(media, (types.InputMediaPhoto, types.InputMediaDocument)):
            stored = self.world.media.get(media.id.id)
            if stored is None or stored.access_hash != media.id.access_hash:
                raise RpcError(400, "MEDIA_INVALID")
            return stored
        raise RpcError(400, "MEDIA_INVALID")

    def _check_send(self, account: Account, person: Person, random_id: int | None) -> None:
        if person.id in account.blocked:
            raise RpcError(400, "YOU_BLOCKED_USER")
        if person.id in account.blocked_by:
            raise RpcError(400, "USER_IS_BLOCKED")
        if random_id is not None and random_id in account.random_ids:
            raise RpcError(500, "RANDOM_ID_DUPLICATE")
        self.sandbox.limit(f"send:{account.user.id}:{person.id}", "send_chat")
        self.sandbox.limit(f"send:{account.user.id}", "send")

    async def m_messages_SendMessageRequest(self, conn, request):
        account = self.account(conn)
        person = self.peer_of(account, request.peer)
        if not (request.message or "").strip():
            raise RpcError(400, "MESSAGE_EMPTY")
        if len(request.message) > MAX_TEXT:
            raise RpcError(400, "MESSAGE_TOO_LONG")
        self._check_send(account, person, request.random_id)
        message, entry = account.add_message(person.id, out=True, text=request.message,
                                             reply_to=getattr(request.reply_to, "reply_to_msg_id", None),
                                             entities=request.entities)
        account.random_ids[request.random_id] = message.id
        await self.publish(account, entry, skip=conn)
        return types.UpdateShortSentMessage(id=message.id, pts=entry.pts, pts_count=entry.pts_count,
                                            date=_date(message.date), out=True,
                                            media=types.MessageMediaEmpty() if request.message else None)

    async def m_messages_SendMediaRequest(self, conn, request):
        account = self.account(conn)
        person = self.peer_of(account, request.peer)
        if len(request.message or "") > MAX_CAPTION:
            raise RpcError(400, "MEDIA_CAPTION_TOO_LONG")
        self._check_send(account, person, request.random_id)
        media = self._media_from_input(conn, request.media)
        message, entry = account.add_message(person.id, out=True, text=request.message or "", media=media,
                                             reply_to=getattr(request.reply_to, "reply_to_msg_id", None),
                                             entities=request.entities)
        account.random_ids[request.random_id] = message.id
        await self.publish(account, entry, skip=conn)
        return types.Updates(
            updates=[types.UpdateMessageID(id=message.id, random_id=request.random_id),
                     types.UpdateNewMessage(self.message_tl(account, message), entry.pts, entry.pts_count)],
            users=self.users_of(account, [person.id]), chats=[], date=_date(message.date), seq=0)

    async def m_messages_EditMessageRequest(self, conn, request):
        account = self.account(conn)
        person = self.peer_of(account, request.peer)
        message = account.messages.get(request.id)
        if message is None or message.deleted or message.peer != person.id:
            raise RpcError(400, "MESSAGE_ID_INVALID")
        if not message.out:
            raise RpcError(403, "MESSAGE_AUTHOR_REQUIRED")
        if request.message is None or request.message == message.text:
            raise RpcError(400, "MESSAGE_NOT_MODIFIED")
        if not request.message.strip() and message.media is None:
            raise RpcError(400, "MESSAGE_EMPTY")
        entry = account.edit_message(message, request.message)
        await self.publish(account, entry, skip=conn)
        return types.Updates(updates=[self.update_tl(account, entry)], users=self.users_of(account, [person.id]),
                             chats=[], date=_date(time.time()), seq=0)

    async def m_messages_DeleteMessagesRequest(self, conn, request):
        account = self.account(conn)
        entry = account.delete_messages(list(request.id))
        if entry is None:
            return types.messages.AffectedMessages(pts=account.pts, pts_count=0)
        await self.publish(account, entry, skip=conn)
        return types.messages.AffectedMessages(pts=entry.pts, pts_count=entry.pts_count)

    async def m_messages_ReadHistoryRequest(self, conn, request):
        account = self.account(conn)
        person = self.peer_of(account, request.peer)
        chat = account.chat(person.id)
        max_id = request.max_id or (chat.message_ids[-1] if chat.message_ids else 0)
        entry = account.read(person.id, max_id, outbox=False)
        if entry is None:
            return types.messages.AffectedMessages(pts=account.pts, pts_count=0)
        await self.publish(account, entry, skip=conn)
        return types.messages.AffectedMessages(pts=entry.pts, pts_count=entry.pts_count)

    async def m_messages_SetTypingRequest(self, conn, request):
        """Recorded (`typing`): the customer would see "typing…" for ~5-6 s, or until the next message or a
        SendMessageCancelAction."""
        account = self.account(conn)
        person = self.peer_of(account, request.peer)
        self.typing.append({"account": account.user.id, "peer": person.id, "action": type(request.action).__name__,
                            "at": time.time()})
        return True
