"""The server half of MTProto 2.0 over TCP: transports, the auth-key handshake, encrypted messages, service messages.

What a client library needs from a Telegram data centre before it can call a single method, done the documented way
so Telethon runs against it unmodified:
- transports (https://core.telegram.org/mtproto/mtproto-transports): abridged (first byte 0xef), intermediate
  (0xeeeeeeee), padded intermediate (0xdddddddd) and full (length, sequence number, CRC32); a transport error is a
  4-byte negative code, e.g. -404 for an auth key the server does not know;
- creating an authorization key (https://core.telegram.org/mtproto/auth_key): req_pq_multi → resPQ with a pq to
  factorise and the fingerprint of the server's RSA key; req_DH_params with p_q_inner_data RSA-encrypted for that
  key → server_DH_params_ok (g = 3 and the 2048-bit safe prime Telegram publishes, AES-IGE under a key derived from
  the nonces); set_client_DH_params → dh_gen_ok with new_nonce_hash1; the first server salt is
  new_nonce[0:8] XOR server_nonce[0:8];
- encrypted messages (https://core.telegram.org/mtproto/description): msg_key = middle 128 bits of
  SHA256(auth_key[88+x:120+x] + plaintext + padding), x = 0 from the client and 8 from the server, 12–1024 bytes
  of padding; server msg_id ≡ 1 (mod 4) for responses and 3 otherwise, monotonic; seqno odd for content-related;
- service messages (https://core.telegram.org/mtproto/service_messages and service_messages_about_messages):
  msg_container, gzip_packed, msgs_ack, ping / ping_delay_disconnect → pong, new_session_created for an unseen
  session id, bad_server_salt (48) with the right salt, bad_msg_notification 16/17 for a msg_id more than 300 s in
  the past or 30 s in the future, get_future_salts, destroy_session, rpc_result / rpc_error.

The methods themselves (auth.*, messages.*, updates.*, upload.*) are answered by the handler given to the server.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import os
import secrets
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import rsa
from telethon import helpers
from telethon.crypto import AES, AuthKey
from telethon.crypto.rsa import get_byte_array
from telethon.extensions import BinaryReader
from telethon.network.mtprotostate import MTProtoState
from telethon.tl import TLObject, types
from telethon.tl.functions import ReqDHParamsRequest, ReqPqMultiRequest, ReqPqRequest, SetClientDHParamsRequest

log = logging.getLogger(__name__)

# A key made for the sandbox alone (never a secret): clients are given the public half.
KEY_FILE = Path(__file__).with_name("sandbox_rsa_key.pem")
PUBLIC_KEY_FILE = Path(__file__).with_name("sandbox_rsa_key.pub.pem")
# The DH group Telegram publishes in https://core.telegram.org/mtproto/auth_key (a safe prime; g = 3 is valid for
# it since p mod 3 = 2, see security_guidelines).
DH_PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DBFA336F6E0AC9"
    "25139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F642477FE96BB2A941D5BCD1D4A"
    "C8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754FD17"
    "ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959"
    "D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B", 16)
DH_G = 3

# constructor ids of the service messages (https://core.telegram.org/schema/mtproto)
MSG_CONTAINER = 0x73F1F8DC
GZIP_PACKED = 0x3072CFA1
MSGS_ACK = 0x62D6B459
PING = 0x7ABE77EC
PING_DELAY_DISCONNECT = 0xF3427B8C
PONG = 0x347773C5
RPC_RESULT = 0xF35C6D01
RPC_ERROR = 0x2144CA19
NEW_SESSION_CREATED = 0x9EC20908
BAD_SERVER_SALT = 0xEDAB447B
BAD_MSG_NOTIFICATION = 0xA7EFF811
GET_FUTURE_SALTS = 0xB921BD04
FUTURE_SALTS = 0xAE500895
DESTROY_SESSION = 0xE7512126
DESTROY_SESSION_OK = 0xE22045FC
NOT_CONTENT_RELATED = {MSGS_ACK, MSG_CONTAINER, GZIP_PACKED, PONG, BAD_SERVER_SALT, BAD_MSG_NOTIFICATION,
                       NEW_SESSION_CREATED}
GZIP_ABOVE = 512  # answers longer than this go gzip-packed when that is smaller, as Telegram does


class ServerKey:
    """The sandbox's RSA key pair. Clients learn the public half from configuration (SALESOP_TELEGRAM_MTPROTO_...),
    as they learn Telegram's from their own source code."""

    def __init__(self, pem: bytes | None = None):
        self.private = rsa.PrivateKey.load_pkcs1(pem or KEY_FILE.read_bytes())
        self.public = rsa.PublicKey(self.private.n, self.private.e)
        n = TLObject.serialize_bytes(get_byte_array(self.public.n))
        e = TLObject.serialize_bytes(get_byte_array(self.public.e))
        self.fingerprint = struct.unpack("<q", hashlib.sha1(n + e).digest()[-8:])[0]

    def public_pem(self) -> str:
        return self.public.save_pkcs1().decode()

    def decrypt(self, data: bytes) -> bytes:
        """Raw RSA, as MTProto uses it: sha1(data) + data + random padding, 255 bytes, big-endian."""
        return pow(int.from_bytes(data, "big"), self.private.d, self.private.n).to_bytes(255, "big")


@dataclass
class AuthRecord:
    """An authorization key the server created, and whom it is signed in as (None until auth.signIn)."""

    key: bytes
    key_id: int
    salt: int
    user_id: int | None = None
    pending_user_id: int | None = None  # signed in with a code, the 2FA password still to come
    created_at: float = field(default_factory=time.time)


class RpcError(Exception):
    """An error answer: rpc_error with Telegram's code and message, e.g. (420, "FLOOD_WAIT_30")."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


Handler = Callable[["Connection", TLObject], Awaitable[TLObject | bytes | bool]]


# ---------------------------------------------------------------------------------------------- transports


class Transport:
    """Framing of one TCP connection, detected from its first bytes."""

    def __init__(self, reader: asyncio.StreamReader, kind: str, pending: bytes = b""):
        self.reader = reader
        self.kind = kind
        self.pending = pending  # bytes already read while detecting the transport (full: the first length)
        self.send_seq = 0
        self.recv_seq = 0

    @classmethod
    async def detect(cls, reader: asyncio.StreamReader) -> Transport:
        first = await reader.readexactly(1)
        if first == b"\xef":
            return cls(reader, "abridged")
        head = first + await reader.readexactly(3)
        if head == b"\xee" * 4:
            return cls(reader, "intermediate")
        if head == b"\xdd" * 4:
            return cls(reader, "padded")
        return cls(reader, "full", pending=head)

    async def read(self) -> bytes:
        if self.kind == "abridged":
            length = (await self.reader.readexactly(1))[0]
            if length & 0x80:  # quick-ack request flag: ignored, the answer itself acknowledges
                length &= 0x7F
            if length >= 0x7F:
                length = int.from_bytes(await self.reader.readexactly(3), "little")
            return await self.reader.readexactly(length * 4)
        if self.kind in ("intermediate", "padded"):
            length = int.from_bytes(await self.reader.readexactly(4), "little") & 0x7FFFFFFF
            data = await self.reader.readexactly(length)
            return _without_padding(data) if self.kind == "padded" else data
        head = self.pending or await self.reader.readexactly(4)
        self.pending = b""
        length = int.from_bytes(head, "little")
        if length < 12 or length > 16 * 1024 * 1024:
            raise ConnectionError(f"bad full-transport length {length}")
        rest = await self.reader.readexactly(length - 4)
        seq, body, crc = rest[:4], rest[4:-4], rest[-4:]
        if zlib.crc32(head + seq + body) != int.from_bytes(crc, "little"):
            raise ConnectionError("full transport: CRC32 mismatch")
        if int.from_bytes(seq, "little") != self.recv_seq:
            raise ConnectionError("full transport: wrong sequence number")
        self.recv_seq += 1
        return body

    def frame(self, data: bytes) -> bytes:
        if self.kind == "abridged":
            n = len(data) // 4
            return (bytes([n]) if n < 0x7F else b"\x7f" + n.to_bytes(3, "little")) + data
        if self.kind == "intermediate":
            return len(data).to_bytes(4, "little") + data
        if self.kind == "padded":
            # 0–3 random bytes: within the 0–15 the transport allows, and what clients that strip `len % 4`
            # (Telethon's RandomizedIntermediatePacketCodec) can take off again
            data += os.urandom(secrets.randbelow(4))
            return len(data).to_bytes(4, "little") + data
        head = struct.pack("<ii", len(data) + 12, self.send_seq)
        self.send_seq += 1
        return head + data + struct.pack("<I", zlib.crc32(head + data))


def _without_padding(data: bytes) -> bytes:
    """The payload of a padded-intermediate packet: the padding (0–15 random bytes, no length given) is what exceeds
    the message's own size — a plain message states its length (auth_key_id, msg_id, length, data), an encrypted one
    is auth_key_id + msg_key + a multiple of 16 bytes (https://core.telegram.org/mtproto/mtproto-transports)."""
    if len(data) >= 20 and data[:8] == b"\0" * 8:
        return data[:20 + int.from_bytes(data[16:20], "little")]
    return data[:len(data) - (len(data) - 24) % 16]


# ---------------------------------------------------------------------------------------------- handshake


def _random_prime(bits: int) -> int:
    while True:
        n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if _probably_prime(n):
            return n


def _probably_prime(n: int, rounds: int = 16) -> bool:
    if n < 4:
        return n in (2, 3)
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


class Handshake:
    """Creating an authorization key, the server's side; one per connection."""

    def __init__(self, key: ServerKey):
        self.key = key
        self.nonce: int | None = None
        self.server_nonce: int | None = None
        self.new_nonce: int | None = None
        self.p = self.q = 0
        self.a = 0

    def answer(self, request: TLObject) -> tuple[TLObject, AuthRecord | None]:
        if isinstance(request, (ReqPqMultiRequest, ReqPqRequest)):
            self.nonce = request.nonce
            self.server_nonce = int.from_bytes(os.urandom(16), "little", signed=True)
            self.p, self.q = sorted((_random_prime(31), _random_prime(31)))
            return types.ResPQ(nonce=self.nonce, server_nonce=self.server_nonce,
                               pq=get_byte_array(self.p * self.q),
                               server_public_key_fingerprints=[self.key.fingerprint]), None
        if isinstance(request, ReqDHParamsRequest):
            self._check_nonces(request)
            if request.public_key_fingerprint != self.key.fingerprint:
                raise ConnectionError("req_DH_params for an unknown RSA key")
            if int.from_bytes(request.p, "big") != self.p or int.from_bytes(request.q, "big") != self.q:
                raise ConnectionError("req_DH_params: wrong factorisation of pq")
            plain = self.key.decrypt(request.encrypted_data)
            with BinaryReader(plain[20:]) as reader:
                inner = reader.tgread_object()
            if not isinstance(inner, (types.PQInnerData, types.PQInnerDataDc)) or \
                    hashlib.sha1(bytes(inner)).digest() != plain[:20]:
                raise ConnectionError("req_DH_params: p_q_inner_data does not check out")
            if inner.nonce != self.nonce or inner.server_nonce != self.server_nonce:
                raise ConnectionError("req_DH_params: nonces in p_q_inner_data differ")
            self.new_nonce = inner.new_nonce
            self.a = int.from_bytes(os.urandom(256), "big")
            g_a = pow(DH_G, self.a, DH_PRIME)
            answer = bytes(types.ServerDHInnerData(
                nonce=self.nonce, server_nonce=self.server_nonce, g=DH_G, dh_prime=get_byte_array(DH_PRIME),
                g_a=get_byte_array(g_a), server_time=int(time.time())))
            key, iv = helpers.generate_key_data_from_nonce(self.server_nonce, self.new_nonce)
            encrypted = AES.encrypt_ige(hashlib.sha1(answer).digest() + answer, key, iv)
            return types.ServerDHParamsOk(nonce=self.nonce, server_nonce=self.server_nonce,
                                          encrypted_answer=encrypted), None
        if isinstance(request, SetClientDHParamsRequest):
            self._check_nonces(request)
            if self.new_nonce is None:
                raise ConnectionError("set_client_DH_params before req_DH_params")
            key, iv = helpers.generate_key_data_from_nonce(self.server_nonce, self.new_nonce)
            plain = AES.decrypt_ige(request.encrypted_data, key, iv)
            with BinaryReader(plain[20:]) as reader:
                inner = reader.tgread_object()
            if not isinstance(inner, types.ClientDHInnerData) or \
                    hashlib.sha1(bytes(inner)).digest() != plain[:20]:
                raise ConnectionError("set_client_DH_params: client_DH_inner_data does not check out")
            g_b = int.from_bytes(inner.g_b, "big")
            if not 1 < g_b < DH_PRIME - 1:
                raise ConnectionError("set_client_DH_params: g_b out of range")
            # the key's bytes as Telethon derives them (big-endian, no leading zero bytes)
            auth_key = AuthKey(get_byte_array(pow(g_b, self.a, DH_PRIME)))
            new_nonce = self.new_nonce.to_bytes(32, "little", signed=True)
            server_nonce = self.server_nonce.to_bytes(16, "little", signed=True)
            salt = int.from_bytes(bytes(a ^ b for a, b in zip(new_nonce[:8], server_nonce[:8])), "little",
                                  signed=True)
            key_id = int.from_bytes(hashlib.sha1(auth_key.key).digest()[-8:], "little", signed=True)
            record = AuthRecord(key=auth_key.key, key_id=key_id, salt=salt)
            return types.DhGenOk(nonce=self.nonce, server_nonce=self.server_nonce,
                                 new_nonce_hash1=auth_key.calc_new_nonce_hash(self.new_nonce, 1)), record
        raise ConnectionError(f"unexpected unencrypted message {type(request).__name__}")

    def _check_nonces(self, request) -> None:
        if request.nonce != self.nonce or request.server_nonce != self.server_nonce:
            raise ConnectionError("handshake: nonce mismatch")


# ---------------------------------------------------------------------------------------------- connections


class Connection:
    """One client TCP connection: decrypts what comes in, dispatches method calls, encrypts answers and pushes."""

    def __init__(self, server: MTProtoServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.transport: Transport | None = None
        self.auth: AuthRecord | None = None
        self.session_id: int | None = None
        self.handshake = Handshake(server.key)
        self.receives_updates = True  # False once a call came wrapped in invokeWithoutUpdates
        self.layer: int | None = None
        self._last_msg_id = 0
        self._content_sent = 0
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    @property
    def user_id(self) -> int | None:
        return self.auth.user_id if self.auth else None

    async def run(self) -> None:
        try:
            self.transport = await Transport.detect(self.reader)
            while True:
                packet = await self.transport.read()
                await self._packet(packet)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            log.debug("mtproto connection closed: %r", exc)
        finally:
            for task in self._tasks:
                task.cancel()
            self.server.forget(self)
            self.writer.close()

    # --- incoming

    async def _packet(self, packet: bytes) -> None:
        if len(packet) < 8:
            raise ConnectionError("packet too short")
        key_id = int.from_bytes(packet[:8], "little", signed=True)
        if key_id == 0:
            await self._plain(packet)
            return
        auth = self.server.auth_keys.get(key_id)
        if auth is None:
            await self._write(struct.pack("<i", -404))  # transport error: unknown auth key
            return
        self.auth = auth
        msg_key = packet[8:24]
        aes_key, aes_iv = MTProtoState._calc_key(auth.key, msg_key, True)
        plain = AES.decrypt_ige(packet[24:], aes_key, aes_iv)
        if hashlib.sha256(auth.key[88:120] + plain).digest()[8:24] != msg_key:
            raise ConnectionError("msg_key mismatch")
        salt, session_id, msg_id, seqno, length = struct.unpack("<qqqii", plain[:32])
        body = plain[32:32 + length]
        if session_id != self.session_id:
            self.session_id = session_id
            self._last_msg_id = 0
            self._content_sent = 0
            await self._send_service(struct.pack("<Iqqq", NEW_SESSION_CREATED, msg_id, secrets.randbits(63),
                                                 auth.salt))
        seconds = msg_id >> 32
        now = time.time()
        if seconds < now - 300 or seconds > now + 30:
            await self._send_service(struct.pack("<Iqii", BAD_MSG_NOTIFICATION, msg_id, seqno,
                                                 16 if seconds < now - 300 else 17), response=True)
            return
        if salt != auth.salt:
            await self._send_service(struct.pack("<Iqiiq", BAD_SERVER_SALT, msg_id, seqno, 48, auth.salt),
                                     response=True)
            return
        await self._message(msg_id, body)

    async def _plain(self, packet: bytes) -> None:
        msg_id, length = struct.unpack("<qi", packet[8:20])
        with BinaryReader(packet[20:20 + length]) as reader:
            request = reader.tgread_object()
        answer, record = self.handshake.answer(request)
        if record is not None:
            self.server.auth_keys[record.key_id] = record
        body = bytes(answer)
        await self._write(b"\0" * 8 + struct.pack("<qi", self._next_msg_id(True), len(body)) + body)

    async def _message(self, msg_id: int, body: bytes) -> None:
        constructor = int.from_bytes(body[:4], "little")
        if constructor == MSG_CONTAINER:
            count = int.from_bytes(body[4:8], "little")
            offset = 8
            for _ in range(count):
                inner_id, _seqno, length = struct.unpack("<qii", body[offset:offset + 16])
                await self._message(inner_id, body[offset + 16:offset + 16 + length])
                offset += 16 + length
            return
        if constructor == GZIP_PACKED:
            with BinaryReader(body[4:]) as reader:
                await self._message(msg_id, gzip.decompress(reader.tgread_bytes()))
            return
        if constructor == MSGS_ACK:
            return
        if constructor in (PING, PING_DELAY_DISCONNECT):
            ping_id = int.from_bytes(body[4:12], "little", signed=True)
            await self._send_service(struct.pack("<Iqq", PONG, msg_id, ping_id), response=True)
            return
        if constructor == GET_FUTURE_SALTS:
            num = min(64, max(1, int.from_bytes(body[4:8], "little")))
            now = int(time.time())
            salts = b"".join(struct.pack("<iiq", now + i * 3600, now + (i + 1) * 3600, self.auth.salt)
                             for i in range(num))
            await self._rpc_result(msg_id, struct.pack("<Iqii", FUTURE_SALTS, msg_id, now, num) + salts)
            return
        if constructor == DESTROY_SESSION:
            session_id = int.from_bytes(body[4:12], "little", signed=True)
            await self._rpc_result(msg_id, struct.pack("<Iq", DESTROY_SESSION_OK, session_id))
            return
        with BinaryReader(body) as reader:
            request = reader.tgread_object()
        # answered concurrently, as Telegram does: a slow call (an upload) does not hold up the next
        task = asyncio.create_task(self._call(msg_id, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, msg_id: int, request: TLObject) -> None:
        try:
            payload = _serialize(await self.server.handler(self, request))
        except RpcError as exc:
            payload = struct.pack("<Ii", RPC_ERROR, exc.code) + TLObject.serialize_bytes(exc.message)
        except Exception:
            log.exception("mtproto sandbox: %s failed", type(request).__name__)
            payload = struct.pack("<Ii", RPC_ERROR, 500) + TLObject.serialize_bytes("INTERNAL_SERVER_ERROR")
        await self._rpc_result(msg_id, payload)

    # --- outgoing

    async def _rpc_result(self, req_msg_id: int, payload: bytes) -> None:
        if len(payload) > GZIP_ABOVE:
            packed = gzip.compress(payload)
            if len(packed) + 8 < len(payload):
                payload = struct.pack("<I", GZIP_PACKED) + TLObject.serialize_bytes(packed)
        await self._send(struct.pack("<Iq", RPC_RESULT, req_msg_id) + payload, response=True, content=True)

    async def push(self, update: TLObject) -> None:
        """An Updates object the server sends on its own (a new message, an edit…)."""
        if self.auth is None or self.session_id is None:
            return
        await self._send(_serialize(update), response=False, content=True)

    async def _send_service(self, body: bytes, response: bool = False) -> None:
        await self._send(body, response=response, content=False)

    async def _send(self, body: bytes, *, response: bool, content: bool) -> None:
        auth = self.auth
        async with self._write_lock:
            seqno = self._content_sent * 2 + (1 if content else 0)
            if content:
                self._content_sent += 1
            plain = struct.pack("<qqqii", auth.salt, self.session_id, self._next_msg_id(response), seqno,
                                len(body)) + body
            plain += os.urandom(-(len(plain) + 12) % 16 + 12)
            msg_key = hashlib.sha256(auth.key[96:128] + plain).digest()[8:24]
            aes_key, aes_iv = MTProtoState._calc_key(auth.key, msg_key, False)
            packet = struct.pack("<q", auth.key_id) + msg_key + AES.encrypt_ige(plain, aes_key, aes_iv)
            await self._write_unlocked(packet)

    def _next_msg_id(self, response: bool) -> int:
        base = int(time.time() * 2**32) & ~3
        if base <= self._last_msg_id & ~3:
            base = (self._last_msg_id & ~3) + 4
        self._last_msg_id = base | (1 if response else 3)
        return self._last_msg_id

    async def _write(self, data: bytes) -> None:
        async with self._write_lock:
            await self._write_unlocked(data)

    async def _write_unlocked(self, data: bytes) -> None:
        self.writer.write(self.transport.frame(data))
        await self.writer.drain()


def _serialize(result: TLObject | bytes | bool | list) -> bytes:
    if isinstance(result, bool):
        return struct.pack("<I", 0x997275B5 if result else 0xBC799737)
    if isinstance(result, bytes):
        return result
    if isinstance(result, list):  # Vector<T> (https://core.telegram.org/mtproto/serialize#built-in-composite-types)
        return struct.pack("<Ii", 0x1CB5C415, len(result)) + b"".join(_serialize(item) for item in result)
    return bytes(result)


class MTProtoServer:
    """A TCP listener speaking MTProto; `handler(connection, request)` answers each method call."""

    def __init__(self, handler: Handler, key: ServerKey | None = None):
        self.handler = handler
        self.key = key or ServerKey()
        self.auth_keys: dict[int, AuthRecord] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(self, reader, writer)
        self.connections.add(connection)
        await connection.run()

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)

    def connections_of(self, user_id: int) -> list[Connection]:
        return [c for c in self.connections if c.user_id == user_id and c.receives_updates]

    def revoke(self, user_id: int) -> None:
        """Every authorization of this user ends (as after "terminate all sessions")."""
        for record in self.auth_keys.values():
            if record.user_id == user_id:
                record.user_id = None

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                connection.writer.close()
            await self._server.wait_closed()
            self._server = None
