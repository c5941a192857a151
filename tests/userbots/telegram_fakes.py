"""Telethon at its boundary: real Telethon TL objects and event builders, and a fake client standing where the
network would be. Real Telethon runs against the MTProto stand-in (sandbox/mtproto, test_telegram_mtproto.py); this
fake is for what the stand-in does not produce: updates of every media kind, groups and bots, blocks, long flood
waits, particular Telethon error classes."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

from telethon import errors, functions, types, utils
from telethon._updates import EntityCache
from telethon.client.updates import EventBuilderDict
from telethon.crypto import AuthKey
from telethon.sessions import StringSession
from telethon.tl.custom import Dialog

ME = 1000
T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


def session_string(dc_id: int = 2) -> str:
    session = StringSession()
    session.set_dc(dc_id, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    return session.save()


def user(user_id: int, first: str = "Анна", last: str | None = "Петрова", username: str | None = None,
         bot: bool = False, phone: str | None = None) -> types.User:
    return types.User(id=user_id, first_name=first, last_name=last, username=username, access_hash=user_id * 7,
                      bot=bot, phone=phone, lang_code="ru")


def message(mid: int, peer: int, text: str = "", *, out: bool = False, media=None, minutes: int = 0,
            grouped_id: int | None = None, reply_to: int | None = None, entities=None, edit_minutes: int | None = None,
            peer_type=types.PeerUser) -> types.Message:
    return types.Message(
        id=mid, peer_id=peer_type(peer), date=T0 + dt.timedelta(minutes=minutes), message=text, out=out,
        from_id=types.PeerUser(ME) if out else None, media=media, grouped_id=grouped_id,
        reply_to=types.MessageReplyHeader(reply_to_msg_id=reply_to) if reply_to else None, entities=entities,
        edit_date=T0 + dt.timedelta(minutes=edit_minutes) if edit_minutes is not None else None)


def photo(photo_id: int = 1) -> types.MessageMediaPhoto:
    return types.MessageMediaPhoto(photo=types.Photo(
        id=photo_id, access_hash=5, file_reference=b"", date=T0, dc_id=2,
        sizes=[types.PhotoSize(type="m", w=320, h=240, size=9000), types.PhotoSize(type="x", w=1280, h=960,
                                                                                   size=90000)]))


def document(doc_id: int, mime: str, size: int, *attributes) -> types.MessageMediaDocument:
    return types.MessageMediaDocument(document=types.Document(
        id=doc_id, access_hash=5, file_reference=b"", date=T0, mime_type=mime, size=size, dc_id=2,
        attributes=list(attributes)))


def voice(doc_id: int = 2, seconds: int = 7):
    return document(doc_id, "audio/ogg", 12_000, types.DocumentAttributeAudio(duration=seconds, voice=True))


def pdf(doc_id: int = 3, name: str = "Чек об оплате.pdf", size: int = 48_000):
    return document(doc_id, "application/pdf", size, types.DocumentAttributeFilename(file_name=name))


def video(doc_id: int = 4, round_message: bool = False):
    return document(doc_id, "video/mp4", 2_000_000,
                    types.DocumentAttributeVideo(duration=12, w=640, h=360, round_message=round_message))


def sticker(doc_id: int = 5):
    return document(doc_id, "image/webp", 30_000,
                    types.DocumentAttributeSticker(alt="😀", stickerset=types.InputStickerSetEmpty()),
                    types.DocumentAttributeImageSize(w=512, h=512))


class FakeDisconnect:
    pass


class FakeTelethonClient:
    """Where Telethon's network would be: handlers registered, updates dispatched through Telethon's own event
    builders, requests recorded and answered as configured."""

    def __init__(self, *, authorized: bool = True, dialogs=None, histories=None, takeout_error=None):
        self._self_id = ME
        self._mb_entity_cache = EntityCache(self_id=ME, self_bot=False)
        self.handlers: list[tuple[object, object]] = []
        self.authorized = authorized
        self.caught_up = 0
        self.disconnected_calls = 0
        self.disconnected = asyncio.get_event_loop().create_future()
        self.requests: list[object] = []
        self.fail_next: list[Exception] = []
        self.entities: dict[int, types.User] = {}
        self.dialogs = dialogs or []  # [(user, [messages newest first])]
        self.takeout_error = takeout_error
        self.takeouts = 0
        self.history_errors: dict[int, list[Exception]] = {}
        self.listing_errors: list[Exception] = []  # raised by iter_dialogs after its first dialog, one per listing
        self.next_id = 5000

    # ---- session life
    async def connect(self):
        return None

    def is_connected(self):
        return not self.disconnected.done()

    async def is_user_authorized(self):
        return self.authorized

    async def catch_up(self):
        self.caught_up += 1

    async def disconnect(self):
        self.disconnected_calls += 1
        if not self.disconnected.done():
            self.disconnected.set_result(None)

    # ---- updates
    def add_event_handler(self, callback, builder):
        self.handlers.append((builder, callback))

    async def dispatch(self, update, *users: types.User):
        """What Telethon's update loop does with one update (client/updates.py _dispatch_update)."""
        update._entities = {utils.get_peer_id(u): u for u in users}
        built = EventBuilderDict(self, update, None)
        for builder, callback in self.handlers:
            event = built[type(builder)]
            if not event:
                continue
            if not builder.resolved:
                await builder.resolve(self)
            if not builder.filter(event):
                continue
            await callback(event)

    # ---- sending
    @property
    def _sender(self):
        """send_through sends random_id requests through the client's MTProtoSender, past Telethon's retries."""
        return self

    def send(self, request):
        return self(request)

    async def get_input_entity(self, peer):
        if peer in self.entities:
            u = self.entities[peer]
            return types.InputPeerUser(u.id, u.access_hash)
        raise ValueError(f"Could not find the input entity for {peer}")

    async def __call__(self, request):
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.requests.append(request)
        if isinstance(request, functions.messages.SendMessageRequest):
            if any(isinstance(r, functions.messages.SendMessageRequest) and r.random_id == request.random_id
                   for r in self.requests[:-1]):
                self.requests.pop()
                raise errors.RandomIdDuplicateError(request=request)
            self.next_id += 1
            return types.UpdateShortSentMessage(id=self.next_id, pts=1, pts_count=1, date=T0)
        raise NotImplementedError(type(request).__name__)

    # ---- history
    def takeout(self, finalize=True, **kwargs):
        client = self

        class Takeout:
            async def __aenter__(self):
                if client.takeout_error is not None:
                    raise client.takeout_error
                client.takeouts += 1
                return client

            async def __aexit__(self, *exc):
                return False

        return Takeout()

    def iter_dialogs(self):
        client = self

        class Iterator:
            total = len(client.dialogs)

            def __aiter__(self):
                return self._gen()

            async def _gen(self):
                for n, (u, messages) in enumerate(client.dialogs):
                    if n == 1 and client.listing_errors:
                        raise client.listing_errors.pop(0)
                    top = messages[0] if messages else None
                    raw = types.Dialog(peer=types.PeerUser(u.id), top_message=top.id if top else 0,
                                       read_inbox_max_id=top.id - 1 if top else 0, read_outbox_max_id=0,
                                       unread_count=1, unread_mentions_count=0, unread_reactions_count=0, unread_poll_votes_count=0,
                                       notify_settings=types.PeerNotifySettings())
                    yield Dialog(client, raw, {utils.get_peer_id(u): u}, top)

        return Iterator()

    async def iter_messages(self, entity):
        for u, messages in self.dialogs:
            if u.id == entity.id:
                for n, m in enumerate(messages):
                    failures = self.history_errors.get(u.id)
                    if failures and n == len(messages) // 2:
                        raise failures.pop(0)
                    yield m
                return
