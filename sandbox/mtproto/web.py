"""The Telegram-account stand-in over HTTP, on the Bot API stand-in's app: a JSON control API under
/_sandbox/accounts for tests and scripts, and browser pages under /_viewer/accounts/ where a person watching the
demo sees each business account's chats as Telegram shows them and writes, edits, deletes, reads and blocks as
the customers. All user text is HTML-escaped.

GET  /_sandbox/accounts                                   accounts: id, phone, name, signed_in, dialogs, login_code
POST /_sandbox/accounts                                   {phone, first_name, last_name?, username?, password?,
                                                           password_hint?}   (an existing phone answers created: false)
GET  /_sandbox/accounts/version                           {"version": n}, bumped on every change (the viewer polls it)
GET  /_sandbox/accounts/login-code?phone=+7...            the newest login code sent to that phone
GET  /_sandbox/accounts/qr                                {"tokens": [hex, ...]} QR logins waiting for a phone to accept
POST /_sandbox/accounts/qr/accept                         {token_hex, account_id}
GET  /_sandbox/accounts/customers                         POST {first_name, last_name?, username?, phone?, lang_code?}
GET  /_sandbox/accounts/media/{media_id}                  a stored file's bytes, with its content type
GET  /_sandbox/accounts/{account_id}                      one account and its dialogs
GET  /_sandbox/accounts/{account_id}/dialogs              newest first: peer, name, unread, blocked, last text
POST /_sandbox/accounts/{account_id}/customers            {first_name, last_name?, username?, phone?, text}: a new
                                                           customer writes their first message
POST /_sandbox/accounts/{account_id}/terminate            "terminate all sessions" on the owner's phone
GET  /_sandbox/accounts/{account_id}/chats/{customer_id}  the chat's messages (?include_deleted=1 keeps deleted ones)
POST .../chats/{customer_id}/send                         {text?, reply_to?} as the customer; multipart/form-data
                                                           may add `file` with `kind` (auto|photo|document|voice|
                                                           video_note; auto picks photo for images, else document)
POST .../chats/{customer_id}/owner_send                   {text}: the owner answers from their phone
POST .../chats/{customer_id}/messages/{message_id}/edit   {text}: the customer edits their message
POST .../chats/{customer_id}/delete                       {message_ids: [...]}: deleted for both sides
POST .../chats/{customer_id}/read                         {max_id?}: the customer read the business's messages
POST .../chats/{customer_id}/block   .../unblock          the customer blocks (unblocks) the business account
Errors answer {"ok": false, "error": "..."} with status 400 (bad input), 403 (the account blocked this customer)
or 404 (unknown account, customer, message or file).
"""

from __future__ import annotations

import mimetypes
import time
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from ..telegram.viewer import CSS as TELEGRAM_CSS
from ..telegram.viewer import INDEX_LINKS
from ..webparts import Forbidden, NotFound, Route, html_page, json_routes, redirect
from .rpc import MAX_CAPTION, MAX_TEXT
from .world import LOGIN_CODE_TTL, SERVICE_USER_ID, Account, ChatMessage, Person

if TYPE_CHECKING:
    from .sandbox import MTProtoSandbox

MEDIA_KINDS = ("photo", "document", "voice", "video_note")

_CSS = TELEGRAM_CSS + """
.chatlist a.on{background:#dbe8f5}.chatlist{max-width:320px}
.msg.out{background:#effdde;margin-left:auto}.msg.in{background:#fff}
.ticks{color:#4fae4e;font-weight:bold}.badge.unread{background:#4fae4e}
.code{background:#fff;border-radius:8px;padding:6px 10px;margin:6px 0;border-left:3px solid #517da2}
.tools{margin-top:4px;font-size:12px}.tools form{display:inline}.tools input{font-size:12px}
"""


class BadRequest(ValueError):
    pass


@dataclass
class Upload:
    kind: str  # photo | document | voice | video_note
    data: bytes
    file_name: str | None
    declared_mime: str | None


def setup(app: web.Application, sb: MTProtoSandbox) -> None:
    """Add the control API and the pages to the Bot API stand-in's app (before it is served)."""
    _control(app, sb)
    _viewer(app, sb)

    def link() -> tuple[str, str] | None:
        if not sb.world.accounts:
            return None
        return f"Telegram accounts ({len(sb.world.accounts)})", str(app.router["accounts-viewer"].url_for())

    app[INDEX_LINKS].append(link)


# --- what both the JSON routes and the pages do


def account_of(sb: MTProtoSandbox, raw: Any) -> Account:
    account_id = _int(raw, "account_id")
    account = sb.world.accounts.get(account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account


def peer_of(sb: MTProtoSandbox, account: Account, raw: Any, *, acting: bool) -> Person:
    """The other side of one of the account's private chats; `acting`: someone is about to act as them."""
    person_id = _int(raw, "customer_id")
    person = sb.world.people.get(person_id)
    if person is None:
        raise NotFound(f"customer {person_id} not found")
    if person_id == account.user.id:
        raise BadRequest(f"{person_id} is the account itself, not a customer")
    if acting and person_id == SERVICE_USER_ID:
        raise BadRequest("777000 is Telegram's service account: nobody writes as it")
    return person


def account_json(sb: MTProtoSandbox, account: Account) -> dict:
    user = account.user
    return {"id": user.id, "phone": f"+{user.phone}", "first_name": user.first_name, "last_name": user.last_name,
            "username": user.username, "name": user.name, "has_password": bool(account.password),
            "signed_in": sb.signed_in(user.id), "dialogs": len(sb.dialogs(user.id)),
            "login_code": sb.login_code(user.phone or "")}


def person_json(person: Person) -> dict:
    return {"id": person.id, "first_name": person.first_name, "last_name": person.last_name,
            "username": person.username, "phone": f"+{person.phone}" if person.phone else None, "name": person.name}


def message_json(sb: MTProtoSandbox, account: Account, message_id: int) -> dict:
    peer = account.messages[message_id].peer
    return next(m for m in sb.messages(account.user.id, peer, include_deleted=True) if m["id"] == message_id)


def create_account(sb: MTProtoSandbox, body: dict) -> tuple[Account, bool]:
    phone = _phone(_text(body, "phone", required=True))
    existing = sb.world.account_by_phone(phone)
    if existing is not None:
        return existing, False
    _phone_is_free(sb, phone)
    account = sb.create_account(phone, _name(body, "first_name", required=True), _name(body, "last_name"),
                                username=_username(body), password=_text(body, "password"),
                                password_hint=_text(body, "password_hint"))
    return account, True


def create_customer(sb: MTProtoSandbox, body: dict) -> Person:
    phone = _text(body, "phone")
    if phone:
        phone = _phone(phone)
        _phone_is_free(sb, phone)
    return sb.create_customer(_name(body, "first_name", required=True), _name(body, "last_name"),
                              username=_username(body), phone=phone, lang_code=_text(body, "lang_code") or "ru")


def _phone_is_free(sb: MTProtoSandbox, digits: str) -> None:
    """One number, one Telegram user (https://core.telegram.org/method/account.changePhone: PHONE_NUMBER_OCCUPIED);
    the world would otherwise move the number to the new person behind its owner's back."""
    owner = sb.world.phones.get(digits)
    if owner is not None:
        raise BadRequest(f"PHONE_NUMBER_OCCUPIED: +{digits} belongs to user {owner}")


def check_message(text: str, upload: Upload | None) -> None:
    """What the customer's own Telegram app would refuse to send
    (https://core.telegram.org/method/messages.sendMessage, https://core.telegram.org/method/messages.sendMedia)."""
    if upload is None and not text.strip():
        raise BadRequest("MESSAGE_EMPTY: write a text or attach a file")
    if upload is None and len(text) > MAX_TEXT:
        raise BadRequest(f"MESSAGE_TOO_LONG: a message holds at most {MAX_TEXT} characters")
    if upload is not None and len(text) > MAX_CAPTION:
        raise BadRequest(f"MEDIA_CAPTION_TOO_LONG: a caption holds at most {MAX_CAPTION} characters")


async def customer_writes(sb: MTProtoSandbox, account: Account, customer: Person, text: str,
                          upload: Upload | None = None, reply_to: int | None = None) -> dict:
    check_message(text, upload)
    if reply_to is not None:
        replied = account.messages.get(reply_to)
        if replied is None or replied.peer != customer.id or replied.deleted:
            raise NotFound(f"message {reply_to} not found in this chat")
    media = None
    if upload is not None:
        media = {"kind": upload.kind, "data": upload.data, "file_name": upload.file_name,
                 "mime": _mime(upload)}
    try:
        message = await sb.customer_writes(account.user.id, customer.id, text, media=media, reply_to=reply_to)
    except PermissionError as exc:
        raise Forbidden(str(exc)) from None
    return message_json(sb, account, message.id)


async def new_customer_writes(sb: MTProtoSandbox, account: Account, body: dict,
                              upload: Upload | None = None) -> tuple[Person, dict]:
    text = _text(body, "text", strip=False) or ""
    check_message(text, upload)  # before anyone is created, so a refused message leaves nothing behind
    customer = create_customer(sb, body)
    return customer, await customer_writes(sb, account, customer, text, upload)


def live_message_of(account: Account, customer: Person, raw: Any) -> ChatMessage:
    message_id = _int(raw, "message_id")
    message = account.messages.get(message_id)
    if message is None or message.peer != customer.id or message.deleted:
        raise NotFound(f"message {message_id} not found in this chat")
    return message


async def customer_edits(sb: MTProtoSandbox, account: Account, customer: Person, raw_id: Any, text: str) -> dict:
    """Telegram's rules for an edit (https://core.telegram.org/method/messages.editMessage)."""
    message = live_message_of(account, customer, raw_id)
    if message.out:
        raise BadRequest("MESSAGE_AUTHOR_REQUIRED: the customer can edit only their own messages")
    if text == message.text:
        raise BadRequest("MESSAGE_NOT_MODIFIED: the text is the same")
    if not text.strip() and message.media is None:
        raise BadRequest("MESSAGE_EMPTY: an edit cannot leave a text message empty")
    limit = MAX_CAPTION if message.media is not None else MAX_TEXT
    if len(text) > limit:
        raise BadRequest(f"MESSAGE_TOO_LONG: at most {limit} characters here")
    await sb.customer_edits(account.user.id, message.id, text)
    return message_json(sb, account, message.id)


async def customer_deletes(sb: MTProtoSandbox, account: Account, customer: Person, raw_ids: Any) -> list[int]:
    """In a private chat either side may delete any message for both (https://core.telegram.org/api/deleting)."""
    if isinstance(raw_ids, (str, int)):
        raw_ids = [raw_ids]
    if not isinstance(raw_ids, list) or not raw_ids:
        raise BadRequest("message_ids: give a list of at least one message id")
    ids = [live_message_of(account, customer, raw).id for raw in raw_ids]
    await sb.delete(account.user.id, ids)
    return ids


async def customer_reads(sb: MTProtoSandbox, account: Account, customer: Person, raw_max_id: Any) -> int:
    max_id = _int(raw_max_id, "max_id", required=False)
    if max_id is not None and max_id < 0:
        raise BadRequest("max_id must not be negative")
    await sb.customer_reads(account.user.id, customer.id, max_id)
    return account.chat(customer.id).read_outbox_max_id


async def accept_qr(sb: MTProtoSandbox, body: dict) -> Account:
    """The owner scans the QR code with their phone (https://core.telegram.org/api/qr-login)."""
    raw = _text(body, "token_hex", required=True)
    try:
        token = bytes.fromhex(raw)
    except ValueError:
        raise BadRequest("token_hex must be hexadecimal") from None
    account = account_of(sb, body.get("account_id"))
    if token not in sb.pending_qr_tokens():
        # https://core.telegram.org/method/auth.acceptLoginToken: AUTH_TOKEN_EXPIRED / AUTH_TOKEN_INVALID
        raise BadRequest("AUTH_TOKEN_EXPIRED: no QR login waits for this token (expired, accepted or never issued)")
    try:
        await sb.accept_qr(token, account.user.id)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return account


def media_response(sb: MTProtoSandbox, raw_id: Any) -> web.Response:
    media = sb.world.media.get(_int(raw_id, "media_id"))
    if media is None:
        raise NotFound("file not found")
    headers = {}
    if media.file_name:
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(media.file_name)}"
    return web.Response(body=media.data, content_type=media.mime, headers=headers)


# --- JSON control API


def _control(app: web.Application, sb: MTProtoSandbox) -> None:
    route = json_routes(app, "/_sandbox/accounts")

    def account(request: web.Request) -> Account:
        return account_of(sb, request.match_info["account_id"])

    def chat(request: web.Request, *, acting: bool = True) -> tuple[Account, Person]:
        found = account(request)
        return found, peer_of(sb, found, request.match_info["customer_id"], acting=acting)

    # fixed paths first: they would otherwise be read as an {account_id}
    @route("GET", "/version", name="accounts-version")
    async def version(request: web.Request) -> dict:
        return {"version": sb.world.version}

    @route("GET", "/login-code")
    async def login_code(request: web.Request) -> dict:
        phone = _phone(_text(dict(request.query), "phone", required=True))
        code = sb.login_code(phone)
        if code is None:
            raise NotFound(f"no login code has been sent to +{phone}")
        found = sb.world.account_by_phone(phone)
        return {"phone": f"+{phone}", "code": code, "account_id": found.user.id if found else None}

    @route("GET", "/qr")
    async def qr_tokens(request: web.Request) -> dict:
        return {"tokens": [token.hex() for token in sb.pending_qr_tokens()]}

    @route("POST", "/qr/accept")
    async def qr_accept(request: web.Request) -> dict:
        body, _ = await _read_body(request)
        found = await accept_qr(sb, body)
        return {"ok": True, "account_id": found.user.id}

    @route("GET", "/customers")
    async def customers(request: web.Request) -> list:
        return [person_json(p) for p in sb.world.people.values()
                if p.id not in sb.world.accounts and p.id != SERVICE_USER_ID]

    @route("POST", "/customers")
    async def new_customer(request: web.Request) -> dict:
        body, _ = await _read_body(request)
        return person_json(create_customer(sb, body))

    @route("GET", "/media/{media_id}")
    async def media(request: web.Request) -> web.Response:
        return media_response(sb, request.match_info["media_id"])

    @route("GET", "")
    async def accounts(request: web.Request) -> list:
        return [account_json(sb, a) for a in sb.world.accounts.values()]

    @route("POST", "")
    async def new_account(request: web.Request) -> dict:
        body, _ = await _read_body(request)
        found, created = create_account(sb, body)
        return {**account_json(sb, found), "created": created}

    @route("GET", "/{account_id}")
    async def one_account(request: web.Request) -> dict:
        found = account(request)
        return {**account_json(sb, found), "dialogs": sb.dialogs(found.user.id)}

    @route("GET", "/{account_id}/dialogs")
    async def dialogs(request: web.Request) -> list:
        return sb.dialogs(account(request).user.id)

    @route("POST", "/{account_id}/customers")
    async def new_customer_message(request: web.Request) -> dict:
        found = account(request)
        body, upload = await _read_body(request)
        customer, message = await new_customer_writes(sb, found, body, upload)
        return {"customer": person_json(customer), "message": message}

    @route("POST", "/{account_id}/terminate")
    async def terminate(request: web.Request) -> dict:
        sb.terminate_sessions(account(request).user.id)
        return {"ok": True}

    @route("GET", "/{account_id}/chats/{customer_id}")
    async def read_chat(request: web.Request) -> dict:
        found, person = chat(request, acting=False)
        deleted = request.query.get("include_deleted", "") not in ("", "0", "false")
        return {"account_id": found.user.id, "customer": person_json(person),
                "blocked": person.id in found.blocked_by,
                "messages": sb.messages(found.user.id, person.id, include_deleted=deleted)}

    @route("POST", "/{account_id}/chats/{customer_id}/send")
    async def send(request: web.Request) -> dict:
        found, person = chat(request)
        body, upload = await _read_body(request)
        return await customer_writes(sb, found, person, _text(body, "text", strip=False) or "", upload,
                                     _int(body.get("reply_to"), "reply_to", required=False))

    @route("POST", "/{account_id}/chats/{customer_id}/owner_send")
    async def owner_send(request: web.Request) -> dict:
        found, person = chat(request)
        body, _ = await _read_body(request)
        text = _text(body, "text", strip=False) or ""
        check_message(text, None)
        message = await sb.owner_writes(found.user.id, person.id, text)
        return message_json(sb, found, message.id)

    @route("POST", "/{account_id}/chats/{customer_id}/messages/{message_id}/edit")
    async def edit(request: web.Request) -> dict:
        found, person = chat(request)
        body, _ = await _read_body(request)
        text = _text(body, "text", strip=False)
        if text is None:
            raise BadRequest("text is required")
        return await customer_edits(sb, found, person, request.match_info["message_id"], text)

    @route("POST", "/{account_id}/chats/{customer_id}/delete")
    async def delete(request: web.Request) -> dict:
        found, person = chat(request)
        body, _ = await _read_body(request)
        return {"ok": True, "deleted": await customer_deletes(sb, found, person, body.get("message_ids"))}

    @route("POST", "/{account_id}/chats/{customer_id}/read")
    async def read(request: web.Request) -> dict:
        found, person = chat(request)
        body, _ = await _read_body(request)
        return {"ok": True, "read_outbox_max_id": await customer_reads(sb, found, person, body.get("max_id"))}

    @route("POST", "/{account_id}/chats/{customer_id}/block")
    async def block(request: web.Request) -> dict:
        found, person = chat(request)
        sb.customer_blocks(found.user.id, person.id, True)
        return {"ok": True, "blocked": True}

    @route("POST", "/{account_id}/chats/{customer_id}/unblock")
    async def unblock(request: web.Request) -> dict:
        found, person = chat(request)
        sb.customer_blocks(found.user.id, person.id, False)
        return {"ok": True, "blocked": False}


# --- browser pages


def _viewer(app: web.Application, sb: MTProtoSandbox) -> None:
    def base(request: web.Request) -> str:
        return str(request.app.router["accounts-viewer"].url_for())

    def page(request: web.Request, title: str, body: str) -> web.Response:
        bots = str(request.app.router["viewer-index"].url_for()) if "viewer-index" in request.app.router else None
        bot_link = f"<a href='{bots}'>Telegram sandbox</a> · " if bots else ""
        header = (f"{bot_link}<a href='{base(request)}'>Telegram accounts</a> · MTProto {escape(sb.address)} · "
                  f"limits: {escape(sb.limits)}")
        return html_page(title, _CSS, header, body, version=sb.world.version,
                         version_url=str(request.app.router["accounts-version"].url_for()))

    def back(request: web.Request, path: str, **query: Any) -> web.HTTPFound:
        return redirect(base(request), path, **query)

    def handler(fn: Route) -> Route:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except NotFound as exc:
                raise web.HTTPNotFound(text=str(exc)) from None
            except Forbidden as exc:
                raise web.HTTPForbidden(text=str(exc)) from None
            except (ValueError, TypeError) as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None

        return wrapped

    def chat_of(request: web.Request, *, acting: bool = True) -> tuple[Account, Person]:
        account = account_of(sb, request.match_info["account_id"])
        return account, peer_of(sb, account, request.match_info["customer_id"], acting=acting)

    def dialog_list(b: str, account: Account, current: int | None) -> str:
        items = []
        for d in sb.dialogs(account.user.id):
            badges = (f"<span class='badge unread'>{d['unread']}</span>" if d["unread"] else "") + (
                "<span class=badge>blocked</span>" if d["blocked"] else "")
            preview = escape(_short(d["text"])) if d["text"] else "<i>media</i>"
            items.append(f"<a class='{'on' if d['peer'] == current else ''}' href='{b}{account.user.id}/chat/"
                         f"{d['peer']}'>{escape(d['name'])}{badges}<br><span class=meta>{_when(d['date'])} · "
                         f"{preview}</span></a>")
        return (f"<section class=chatlist><h3>{escape(account.user.name)}</h3>"
                f"{''.join(items) or '<p class=meta>no dialogs</p>'}</section>")

    def login_code_html(account: Account) -> str:
        """The newest code as the account's owner reads it: a message from "Telegram" (777000)."""
        notices = sb.messages(account.user.id, SERVICE_USER_ID)
        code = sb.login_code(account.user.phone or "")
        if not notices:
            return f"<div class=code>login code: <b>{code}</b></div>" if code else "<p class=meta>no login code yet</p>"
        notice = notices[-1]
        text = escape(notice["text"])
        if code:
            text = text.replace(code, f"<b>{code}</b>", 1)
        expired = " · <b>expired</b>" if time.time() - notice["date"] > LOGIN_CODE_TTL else ""
        return f"<div class=code><div class=meta>Telegram · {_when(notice['date'])}{expired}</div>{text}</div>"

    def customer_fields() -> str:
        return ("<input name=first_name placeholder='first name' required> <input name=last_name "
                "placeholder='last name'> <input name=username placeholder=username>")

    @handler
    async def index(request: web.Request) -> web.Response:
        b = base(request)
        rows = "".join(
            f"<tr><td><a href='{b}{a.user.id}'>{escape(a.user.name)}</a></td><td>+{escape(a.user.phone or '')}</td>"
            f"<td>{'@' + escape(a.user.username) if a.user.username else ''}</td>"
            f"<td>{sb.signed_in(a.user.id)}</td><td>{len(sb.dialogs(a.user.id))}</td>"
            f"<td>{'2FA' if a.password else ''}</td><td>{login_code_html(a)}</td></tr>"
            for a in sb.world.accounts.values()
        )
        options = "".join(f"<option value={a.user.id}>{escape(a.user.name)} +{escape(a.user.phone or '')}</option>"
                          for a in sb.world.accounts.values())
        tokens = "".join(
            f"<form method=post action='{b}qr/accept'><input type=hidden name=token_hex value={t.hex()}>"
            f"<code>{t.hex()[:16]}…</code> signed in as <select name=account_id>{options}</select> "
            f"<button>accept on the phone</button></form>"
            for t in sb.pending_qr_tokens()
        )
        body = f"""<main><section><h3>Telegram accounts</h3>
<table><tr><th>name</th><th>phone</th><th>username</th><th>sessions</th><th>dialogs</th><th></th>
<th>latest login code</th></tr>{rows}</table>{'' if rows else '<p class=meta>none yet</p>'}
<h4>New account</h4><form method=post action='{b}new'><input name=phone placeholder='+79990001122' required>
{customer_fields()} <input name=password placeholder='2FA password'> <button>create</button></form></section>
<section><h3>QR logins waiting</h3>{tokens or '<p class=meta>none</p>'}</section></main>"""
        return page(request, "Telegram accounts", body)

    @handler
    async def new_account(request: web.Request) -> web.Response:
        account, _ = create_account(sb, dict(await request.post()))
        raise back(request, str(account.user.id))

    @handler
    async def qr_accept(request: web.Request) -> web.Response:
        await accept_qr(sb, dict(await request.post()))
        raise back(request, "")

    @handler
    async def media(request: web.Request) -> web.Response:
        return media_response(sb, request.match_info["media_id"])

    @handler
    async def account_page(request: web.Request) -> web.Response:
        b = base(request)
        account = account_of(sb, request.match_info["account_id"])
        url = f"{b}{account.user.id}"
        body = f"""<main>{dialog_list(b, account, None)}<section><h3>{escape(account.user.name)}</h3>
<p>+{escape(account.user.phone or '')} · signed-in sessions: {sb.signed_in(account.user.id)}</p>
{login_code_html(account)}
<form method=post action='{url}/terminate'><button>terminate all sessions</button></form>
<h4>A new customer writes</h4><form method=post enctype=multipart/form-data action='{url}/customers'>
{customer_fields()}<textarea name=text placeholder='message'></textarea>{_file_inputs()} <button>send</button></form>
</section></main>"""
        return page(request, account.user.name, body)

    @handler
    async def new_customer(request: web.Request) -> web.Response:
        account = account_of(sb, request.match_info["account_id"])
        body, upload = await _read_body(request)
        customer, _ = await new_customer_writes(sb, account, body, upload)
        raise back(request, f"{account.user.id}/chat/{customer.id}")

    @handler
    async def terminate(request: web.Request) -> web.Response:
        account = account_of(sb, request.match_info["account_id"])
        sb.terminate_sessions(account.user.id)
        raise back(request, str(account.user.id))

    @handler
    async def chat_page(request: web.Request) -> web.Response:
        b = base(request)
        account, person = chat_of(request, acting=False)
        url = f"{b}{account.user.id}/chat/{person.id}"
        acting = person.id != SERVICE_USER_ID
        names = {False: person.name, True: account.user.name}
        messages = "".join(_message_html(m, url, f"{b}media/", names[m["out"]], acting)
                           for m in sb.messages(account.user.id, person.id, include_deleted=True))
        blocked = person.id in account.blocked_by
        status = "<p class=meta>this customer has blocked the account</p>" if blocked else ""
        tools = ""
        compose = ""
        if acting:
            tools = (f"<form class=inline method=post action='{url}/block'><button>"
                     f"{'unblock' if blocked else 'block'} the account</button></form> "
                     f"<form class=inline method=post action='{url}/read'><button>customer read everything"
                     f"</button></form>")
            compose = (f"<form method=post enctype=multipart/form-data action='{url}/send'>"
                       f"write as {escape(person.name)} · reply to # <input name=reply_to size=5>"
                       f"<textarea name=text placeholder='message'></textarea>{_file_inputs()} <button>send</button>"
                       f"</form>")
        username = f" <span class=meta>@{escape(person.username)}</span>" if person.username else ""
        title = f"<h3>{escape(person.name)}{username}</h3>"
        body = f"""<main>{dialog_list(b, account, person.id)}<section class=msgs>{title}
{status}{tools}{messages or '<p class=meta>no messages</p>'}{compose}</section></main>"""
        return page(request, person.name, body)

    @handler
    async def send(request: web.Request) -> web.Response:
        account, person = chat_of(request)
        body, upload = await _read_body(request)
        await customer_writes(sb, account, person, _text(body, "text", strip=False) or "", upload,
                              _int(body.get("reply_to"), "reply_to", required=False))
        raise back(request, f"{account.user.id}/chat/{person.id}")

    @handler
    async def edit(request: web.Request) -> web.Response:
        account, person = chat_of(request)
        form = await request.post()
        await customer_edits(sb, account, person, form.get("message_id"), str(form.get("text") or ""))
        raise back(request, f"{account.user.id}/chat/{person.id}")

    @handler
    async def delete(request: web.Request) -> web.Response:
        account, person = chat_of(request)
        form = await request.post()
        await customer_deletes(sb, account, person, form.get("message_id"))
        raise back(request, f"{account.user.id}/chat/{person.id}")

    @handler
    async def read(request: web.Request) -> web.Response:
        account, person = chat_of(request)
        await customer_reads(sb, account, person, None)
        raise back(request, f"{account.user.id}/chat/{person.id}")

    @handler
    async def toggle_block(request: web.Request) -> web.Response:
        account, person = chat_of(request)
        sb.customer_blocks(account.user.id, person.id, person.id not in account.blocked_by)
        raise back(request, f"{account.user.id}/chat/{person.id}")

    router = app.router
    router.add_get("/_viewer/accounts/", index, name="accounts-viewer")
    router.add_post("/_viewer/accounts/new", new_account)
    router.add_post("/_viewer/accounts/qr/accept", qr_accept)
    router.add_get("/_viewer/accounts/media/{media_id}", media)
    router.add_get("/_viewer/accounts/{account_id}", account_page)
    router.add_post("/_viewer/accounts/{account_id}/customers", new_customer)
    router.add_post("/_viewer/accounts/{account_id}/terminate", terminate)
    router.add_get("/_viewer/accounts/{account_id}/chat/{customer_id}", chat_page)
    router.add_post("/_viewer/accounts/{account_id}/chat/{customer_id}/send", send)
    router.add_post("/_viewer/accounts/{account_id}/chat/{customer_id}/edit", edit)
    router.add_post("/_viewer/accounts/{account_id}/chat/{customer_id}/delete", delete)
    router.add_post("/_viewer/accounts/{account_id}/chat/{customer_id}/read", read)
    router.add_post("/_viewer/accounts/{account_id}/chat/{customer_id}/block", toggle_block)


def _message_html(m: dict, url: str, media_base: str, name: str, acting: bool) -> str:
    classes = ["msg", "out" if m["out"] else "in"] + (["deleted"] if m["deleted"] else [])
    notes = []
    if m["reply_to"]:
        notes.append(f"↪ <a href='#m{m['reply_to']}'>#{m['reply_to']}</a>")
    if m["edited"]:
        notes.append("edited")
    if m["deleted"]:
        notes.append("deleted")
    elif not m["out"] and not m["read"]:
        notes.append("<span class='badge unread'>unread</span>")
    # a business message: ✓ delivered, ✓✓ the customer has read it
    ticks = f" <span class=ticks title='{'read' if m['read'] else 'sent'}'>{'✓✓' if m['read'] else '✓'}</span>" \
        if m["out"] else ""
    tools = ""
    if acting and not m["deleted"]:
        edit = ""
        if not m["out"]:
            edit = (f"<details style='display:inline'><summary>edit</summary><form method=post action='{url}/edit'>"
                    f"<input type=hidden name=message_id value={m['id']}><input name=text size=40 "
                    f"value='{escape(m['text'])}'> <button>save</button></form></details> ")
        tools = (f"<div class=tools>{edit}<form method=post action='{url}/delete'><input type=hidden name=message_id "
                 f"value={m['id']}><button>delete for both</button></form></div>")
    return (f"<div class='{' '.join(classes)}' id=m{m['id']}><div class=meta>#{m['id']} {escape(name)} · "
            f"{_when(m['date'])}{ticks} {' · '.join(notes)}</div>{_media_html(m['media'], media_base)}"
            f"<div class=body>{escape(m['text'])}</div>{tools}</div>")


def _media_html(media: dict | None, media_base: str) -> str:
    if media is None:
        return ""
    src = f"{media_base}{media['id']}"
    link = f"<a href='{src}'>{escape(media['file_name'] or media['kind'])}</a> " \
           f"<span class=meta>{escape(media['mime'])} · {media['size']} bytes</span>"
    if media["kind"] == "photo":
        return f"<a href='{src}'><img class=media src='{src}' alt=photo></a>"
    if media["kind"] == "voice":
        return f"<audio controls src='{src}'></audio><br>🎤 {link}"
    if media["kind"] == "video_note":
        return f"<video class=media controls src='{src}'></video><br>{link}"
    return f"📎 {link}"


def _file_inputs() -> str:
    kinds = "".join(f"<option>{k}</option>" for k in ("auto", *MEDIA_KINDS))
    return f"<input type=file name=file> <select name=kind>{kinds}</select>"


# --- input


async def _read_body(request: web.Request) -> tuple[dict, Upload | None]:
    """JSON, urlencoded or multipart; in multipart a `file` part is the message's media, sent as `kind` says
    (auto, the default: a photo for an image, a voice note for audio/ogg, else a document)."""
    if not request.can_read_body:
        return dict(request.query), None
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("expected a JSON object")
        return body, None
    fields: dict[str, Any] = {}
    file = None
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            if key != "file":
                raise BadRequest(f"unexpected file field {key!r}: send the file as `file` with a `kind`")
            file = value
        else:
            fields[key] = value
    if file is None:
        return fields, None
    data = file.file.read()
    if not data:  # a browser form with no file chosen still sends an empty part
        return fields, None
    kind = str(fields.get("kind") or "auto")
    if kind == "auto":
        kind = "photo" if _image_mime(data) else "voice" if file.content_type == "audio/ogg" else "document"
    if kind not in MEDIA_KINDS:
        raise BadRequest(f"kind must be auto or one of {', '.join(MEDIA_KINDS)}")
    return fields, Upload(kind, data, file.filename or None, file.content_type)


def _image_mime(data: bytes) -> str | None:
    for magic, mime in ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif")):
        if data.startswith(magic):
            return mime
    return "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def _mime(upload: Upload) -> str:
    declared = upload.declared_mime if upload.declared_mime != "application/octet-stream" else None
    if upload.kind == "photo":
        mime = _image_mime(upload.data)
        if mime is None:
            # https://core.telegram.org/method/messages.sendMedia: IMAGE_PROCESS_FAILED for what is not an image
            raise BadRequest("IMAGE_PROCESS_FAILED: a photo must be a JPEG, PNG, GIF or WebP image")
        return mime
    if upload.kind == "voice":
        return declared if declared and declared.startswith("audio/") else "audio/ogg"
    if upload.kind == "video_note":
        return declared if declared and declared.startswith("video/") else "video/mp4"
    guessed = mimetypes.guess_type(upload.file_name)[0] if upload.file_name else None
    return declared or guessed or "application/octet-stream"


def _text(body: dict, key: str, *, required: bool = False, strip: bool = True) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    if value is None or not value.strip():
        if required:
            raise BadRequest(f"{key} is required")
        return None if value is None or strip else value
    return value.strip() if strip else value


def _name(body: dict, key: str, *, required: bool = False) -> str | None:
    # https://core.telegram.org/method/account.updateProfile: FIRSTNAME_INVALID for an empty or too long name
    value = _text(body, key, required=required)
    if value is not None and len(value) > 64:
        raise BadRequest(f"FIRSTNAME_INVALID: {key} is longer than 64 characters")
    return value


def _username(body: dict) -> str | None:
    value = _text(body, "username")
    if value is None:
        return None
    value = value.removeprefix("@")
    # https://core.telegram.org/method/account.updateUsername: a-z, 0-9 and underscores, 5-32 characters
    if not (5 <= len(value) <= 32 and value.isascii() and value.replace("_", "").isalnum()):
        raise BadRequest("USERNAME_INVALID: 5-32 characters of a-z, 0-9 and _")
    return value


def _phone(value: str | None) -> str:
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    if not 7 <= len(digits) <= 15:  # https://core.telegram.org/method/auth.sendCode: PHONE_NUMBER_INVALID
        raise BadRequest(f"PHONE_NUMBER_INVALID: {value!r} is not a phone number")
    return digits


def _int(value: Any, what: str, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise BadRequest(f"{what} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest(f"{what} must be an integer")
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{what} must be an integer, not {value!r}") from None


def _when(ts: int | float) -> str:
    moment = time.localtime(ts)
    today = time.localtime()
    same_day = (moment.tm_year, moment.tm_yday) == (today.tm_year, today.tm_yday)
    return time.strftime("%H:%M:%S" if same_day else "%d.%m.%Y %H:%M", moment)


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


