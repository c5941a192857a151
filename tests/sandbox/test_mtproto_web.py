"""The Telegram-account stand-in's control API (/_sandbox/accounts) and browser pages (/_viewer/accounts/), served
by start_sandbox on the Bot API stand-in's port, driven over HTTP and, end to end, with a real Telethon client."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telethon import TelegramClient, events
from telethon.crypto import rsa
from telethon.sessions import StringSession

from sandbox.mtproto.world import SERVICE_USER_ID
from sandbox.runner import SandboxStack, start_sandbox

API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"
XSS = "<script>alert(1)</script>"


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\x00\x80\xff" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _browser_form(fields: dict[str, str], file_name: str, data: bytes, content_type: str) -> dict:
    """multipart/form-data as a browser sends it: the file name raw UTF-8 (aiohttp's FormData percent-encodes it)."""
    boundary = "----sandboxform"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    return {"data": b"".join(parts) + f"--{boundary}--\r\n".encode(),
            "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    started = await start_sandbox(telegram_limits="off")
    yield started
    await started.stop()


@pytest.fixture
async def http(stack: SandboxStack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=stack.urls["telegram"]) as session:
        yield session


async def _call(http: aiohttp.ClientSession, method: str, path: str, status: int = 200, **kw) -> dict | list:
    async with http.request(method, path, **kw) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def _error(http: aiohttp.ClientSession, method: str, path: str, status: int, fragment: str, **kw) -> None:
    body = await _call(http, method, path, status, **kw)
    assert body["ok"] is False and fragment in body["error"], body


async def _page(http: aiohttp.ClientSession, path: str, status: int = 200) -> str:
    async with http.get(path) as response:
        text = await response.text()
        assert response.status == status, text
        return text


async def _form(http: aiohttp.ClientSession, path: str, data, status: int = 200) -> str:
    """Post a viewer form the way a browser does, following its redirect back to a page."""
    async with http.post(path, data=data) as response:
        text = await response.text()
        assert response.status == status, text
        return text


async def _account(http: aiohttp.ClientSession, phone: str = "+79990001122", **extra) -> dict:
    return await _call(http, "POST", "/_sandbox/accounts", json={"phone": phone, "first_name": "Ольга", **extra})


async def _telethon(stack: SandboxStack) -> TelegramClient:
    rsa.add_key(stack.mtproto.public_key, old=False)
    session = StringSession()
    session.set_dc(2, stack.mtproto.server.host, stack.mtproto.server.port)
    client = TelegramClient(session, API_ID, API_HASH)
    await client.connect()
    return client


async def test_accounts_are_created_listed_and_bad_input_is_refused(http):
    account = await _account(http, "+7 (999) 000-11-22", last_name="Магазин", username="@olga_shop",
                             password="secret")
    assert account["created"] is True and account["phone"] == "+79990001122" and account["username"] == "olga_shop"
    assert account["has_password"] is True and account["signed_in"] == 0 and account["dialogs"] == 0
    again = await _account(http, "+79990001122")
    assert again["created"] is False and again["id"] == account["id"]

    listed = await _call(http, "GET", "/_sandbox/accounts")
    assert [a["id"] for a in listed] == [account["id"]] and listed[0]["name"] == "Ольга Магазин"
    one = await _call(http, "GET", f"/_sandbox/accounts/{account['id']}")
    assert one["dialogs"] == [] and one["login_code"] is None

    await _error(http, "POST", "/_sandbox/accounts", 400, "phone is required", json={"first_name": "A"})
    await _error(http, "POST", "/_sandbox/accounts", 400, "PHONE_NUMBER_INVALID", json={"phone": "12",
                                                                                         "first_name": "A"})
    await _error(http, "POST", "/_sandbox/accounts", 400, "first_name is required", json={"phone": "+79990009999"})
    await _error(http, "POST", "/_sandbox/accounts", 400, "USERNAME_INVALID",
                 json={"phone": "+79990009999", "first_name": "A", "username": "a b"})
    await _error(http, "POST", "/_sandbox/accounts", 400, "not valid JSON", data=b"{",
                 headers={"Content-Type": "application/json"})
    await _error(http, "POST", "/_sandbox/accounts", 400, "JSON object", json=["+79990009999"])
    await _error(http, "GET", "/_sandbox/accounts/42", 404, "account 42 not found")
    await _error(http, "GET", "/_sandbox/accounts/42/dialogs", 404, "account 42 not found")
    await _error(http, "GET", "/_sandbox/accounts/olga/dialogs", 400, "account_id must be an integer")
    assert len(await _call(http, "GET", "/_sandbox/accounts")) == 1  # nothing half-created by the refusals


async def test_customers_write_edit_delete_read_and_block(stack, http):
    account = await _account(http)
    base = f"/_sandbox/accounts/{account['id']}"
    customer = await _call(http, "POST", "/_sandbox/accounts/customers",
                           json={"first_name": "Пётр", "last_name": "Покупатель", "phone": "+79110000001"})
    assert customer["phone"] == "+79110000001"
    assert [c["id"] for c in await _call(http, "GET", "/_sandbox/accounts/customers")] == [customer["id"]]
    await _error(http, "POST", "/_sandbox/accounts/customers", 400, "first_name is required", json={})
    for taken in ("+79110000001", account["phone"]):  # one number, one user: the account keeps its own
        await _error(http, "POST", "/_sandbox/accounts/customers", 400, "PHONE_NUMBER_OCCUPIED",
                     json={"first_name": "Двойник", "phone": taken})
    await _error(http, "POST", "/_sandbox/accounts", 400, "PHONE_NUMBER_OCCUPIED",
                 json={"first_name": "Двойник", "phone": "+79110000001"})
    assert stack.mtproto.world.account_by_phone(account["phone"]).user.id == account["id"]
    chat = f"{base}/chats/{customer['id']}"

    version = (await _call(http, "GET", "/_sandbox/accounts/version"))["version"]
    first = await _call(http, "POST", f"{chat}/send", json={"text": "Здравствуйте! Есть наушники?"})
    assert first["out"] is False and first["read"] is False
    assert (await _call(http, "GET", "/_sandbox/accounts/version"))["version"] > version
    reply = await _call(http, "POST", f"{chat}/send", data={"text": "Чёрные", "reply_to": str(first["id"])})
    assert reply["reply_to"] == first["id"]  # a urlencoded form works as well as JSON
    answer = await _call(http, "POST", f"{chat}/owner_send", json={"text": "Да, есть!"})
    assert answer["out"] is True

    dialogs = await _call(http, "GET", f"{base}/dialogs")
    assert dialogs[0]["peer"] == customer["id"] and dialogs[0]["unread"] == 2 and dialogs[0]["text"] == "Да, есть!"

    edited = await _call(http, "POST", f"{chat}/messages/{first['id']}/edit", json={"text": "Есть наушники Sony?"})
    assert edited["edited"] is True and edited["text"] == "Есть наушники Sony?"
    await _error(http, "POST", f"{chat}/messages/{answer['id']}/edit", 400, "MESSAGE_AUTHOR_REQUIRED",
                 json={"text": "чужое"})
    await _error(http, "POST", f"{chat}/messages/{first['id']}/edit", 400, "MESSAGE_NOT_MODIFIED",
                 json={"text": "Есть наушники Sony?"})
    await _error(http, "POST", f"{chat}/messages/{first['id']}/edit", 400, "text is required", json={})
    await _error(http, "POST", f"{chat}/messages/999/edit", 404, "message 999 not found", json={"text": "x"})

    assert (await _call(http, "POST", f"{chat}/read", json={}))["read_outbox_max_id"] == answer["id"]
    assert (await _call(http, "GET", chat))["messages"][-1]["read"] is True  # ✓✓ on the business's answer
    await _error(http, "POST", f"{chat}/read", 400, "max_id must be an integer", json={"max_id": "all"})

    deleted = await _call(http, "POST", f"{chat}/delete", json={"message_ids": [reply["id"]]})
    assert deleted["deleted"] == [reply["id"]]
    assert [m["id"] for m in (await _call(http, "GET", chat))["messages"]] == [first["id"], answer["id"]]
    shown = (await _call(http, "GET", chat, params={"include_deleted": "1"}))["messages"]
    assert [m["deleted"] for m in shown] == [False, True, False]
    await _error(http, "POST", f"{chat}/delete", 404, f"message {reply['id']} not found", json={"message_ids":
                                                                                                 [reply["id"]]})
    await _error(http, "POST", f"{chat}/delete", 400, "at least one message id", json={"message_ids": []})

    assert (await _call(http, "POST", f"{chat}/block"))["blocked"] is True
    assert (await _call(http, "GET", f"{base}/dialogs"))[0]["blocked"] is True
    assert (await _call(http, "GET", chat))["blocked"] is True
    assert (await _call(http, "POST", f"{chat}/unblock"))["blocked"] is False
    assert stack.mtproto.dialogs(account["id"])[0]["blocked"] is False

    # what the customer's own app refuses to send (core.telegram.org/method/messages.sendMessage)
    await _error(http, "POST", f"{chat}/send", 400, "MESSAGE_EMPTY", json={"text": "   "})
    await _error(http, "POST", f"{chat}/send", 400, "MESSAGE_TOO_LONG", json={"text": "я" * 4097})
    await _error(http, "POST", f"{chat}/send", 400, "text must be a string", json={"text": ["a"]})
    await _error(http, "POST", f"{chat}/send", 404, "message 999 not found", json={"text": "a", "reply_to": 999})
    await _error(http, "POST", f"{base}/chats/5999999999/send", 404, "customer 5999999999 not found",
                 json={"text": "a"})
    await _error(http, "POST", f"/_sandbox/accounts/1/chats/{customer['id']}/send", 404, "account 1 not found",
                 json={"text": "a"})
    await _error(http, "POST", f"{base}/chats/{account['id']}/send", 400, "the account itself", json={"text": "a"})
    await _error(http, "POST", f"{base}/chats/{SERVICE_USER_ID}/send", 400, "service account", json={"text": "a"})
    await _error(http, "GET", f"{base}/chats/x", 400, "customer_id must be an integer")
    # an account that blocked the customer never receives their messages
    stack.mtproto.account(account["id"]).blocked.add(customer["id"])
    await _error(http, "POST", f"{chat}/send", 403, "blocked", json={"text": "Вы тут?"})
    assert len(stack.mtproto.messages(account["id"], customer["id"])) == 2


async def test_a_new_customer_writes_a_first_message(stack, http):
    account = await _account(http)
    written = await _call(http, "POST", f"/_sandbox/accounts/{account['id']}/customers",
                          json={"first_name": "Анна", "username": "anna_buys", "text": "Добрый день"})
    assert written["customer"]["username"] == "anna_buys" and written["message"]["text"] == "Добрый день"
    assert stack.mtproto.messages(account["id"], written["customer"]["id"])[0]["text"] == "Добрый день"

    await _error(http, "POST", f"/_sandbox/accounts/{account['id']}/customers", 400, "MESSAGE_EMPTY",
                 json={"first_name": "Никто"})
    await _error(http, "POST", f"/_sandbox/accounts/{account['id']}/customers", 400, "first_name is required",
                 json={"text": "привет"})
    await _error(http, "POST", "/_sandbox/accounts/7/customers", 404, "account 7 not found",
                 json={"first_name": "Никто", "text": "привет"})
    assert len(await _call(http, "GET", "/_sandbox/accounts/customers")) == 1  # refusals created nobody


async def test_media_is_stored_and_served_byte_for_byte(stack, http):
    account = await _account(http)
    customer = await _call(http, "POST", "/_sandbox/accounts/customers", json={"first_name": "Пётр"})
    chat = f"/_sandbox/accounts/{account['id']}/chats/{customer['id']}"
    photo = _png(40, 30)

    form = aiohttp.FormData()
    form.add_field("text", "мой чек")  # no kind: an image goes as a photo
    form.add_field("file", photo, filename="receipt.png", content_type="application/octet-stream")
    sent = await _call(http, "POST", f"{chat}/send", data=form)
    photo_id = sent["media"]["id"]
    assert sent["text"] == "мой чек" and sent["media"]["kind"] == "photo" and sent["media"]["size"] == len(photo)
    for route in ("/_sandbox/accounts/media/", "/_viewer/accounts/media/"):
        async with http.get(f"{route}{sent['media']['id']}") as response:
            assert response.status == 200 and response.content_type == "image/png"
            assert await response.read() == photo

    document = b"%PDF-1.4 invoice " + bytes(range(256))
    sent = await _call(http, "POST", f"{chat}/send",
                       **_browser_form({"kind": "auto"}, "счёт.pdf", document, "application/octet-stream"))
    assert sent["media"]["kind"] == "document" and sent["media"]["file_name"] == "счёт.pdf"
    async with http.get(f"/_sandbox/accounts/media/{sent['media']['id']}") as response:
        assert response.content_type == "application/pdf" and await response.read() == document
        assert "%D1%81%D1%87%D1%91%D1%82.pdf" in response.headers["Content-Disposition"]

    chat_page = await _page(http, f"/_viewer/accounts/{account['id']}/chat/{customer['id']}")
    assert f"<img class=media src='/_viewer/accounts/media/{photo_id}'" in chat_page
    assert "счёт.pdf" in chat_page

    form = aiohttp.FormData()
    form.add_field("kind", "photo")
    form.add_field("file", b"not an image", filename="x.png")
    await _error(http, "POST", f"{chat}/send", 400, "IMAGE_PROCESS_FAILED", data=form)
    form = aiohttp.FormData()
    form.add_field("kind", "sticker")
    form.add_field("file", photo, filename="x.png")
    await _error(http, "POST", f"{chat}/send", 400, "kind must be auto or one of", data=form)
    form = aiohttp.FormData()
    form.add_field("kind", "photo")
    form.add_field("file", photo, filename="x.png")
    form.add_field("text", "я" * 1025)
    await _error(http, "POST", f"{chat}/send", 400, "MEDIA_CAPTION_TOO_LONG", data=form)
    await _error(http, "GET", "/_sandbox/accounts/media/123", 404, "file not found")
    await _page(http, "/_viewer/accounts/media/123", 404)


async def test_viewer_pages_escape_what_customers_write(stack, http):
    assert "Telegram accounts" not in await _page(http, "/_viewer/")  # no link while no account exists
    account = await _account(http, first_name=XSS)
    written = await _call(http, "POST", f"/_sandbox/accounts/{account['id']}/customers",
                          json={"first_name": XSS, "last_name": "<b>", "text": f"{XSS} & <img src=x onerror=1>"})
    customer = written["customer"]
    await _call(http, "POST", f"/_sandbox/accounts/{account['id']}/chats/{customer['id']}/owner_send",
                json={"text": "<i>ответ</i>"})

    bot_index = await _page(http, "/_viewer/")
    assert "<a href='/_viewer/accounts/'>Telegram accounts (1)</a>" in bot_index
    pages = [await _page(http, path) for path in (
        "/_viewer/accounts/", f"/_viewer/accounts/{account['id']}",
        f"/_viewer/accounts/{account['id']}/chat/{customer['id']}")]
    for html in pages:
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    chat = pages[2]
    assert "<img src=x" not in chat and "&lt;img src=x onerror=1&gt;" in chat and "&amp;" in chat
    assert "&lt;i&gt;ответ&lt;/i&gt;" in chat and "<i>ответ" not in chat
    assert "class='msg in'" in chat and "class='msg out'" in chat
    assert "<span class=ticks title='sent'>✓</span>" in chat  # not read by the customer yet
    assert "<span class='badge unread'>1</span>" in pages[1]  # the business has not read the customer yet
    assert "setInterval" in chat and "/_sandbox/accounts/version" in chat

    await _page(http, "/_viewer/accounts/77", 404)
    await _page(http, f"/_viewer/accounts/{account['id']}/chat/5999999999", 404)
    await _page(http, "/_viewer/accounts/nope", 400)


async def test_viewer_forms_act_as_the_customer(stack, http):
    sb = stack.mtproto
    page = await _form(http, "/_viewer/accounts/new", {"phone": "+79990001122", "first_name": "Ольга",
                                                       "last_name": "", "username": "", "password": ""})
    account_id = next(iter(sb.world.accounts))
    assert "Ольга" in page and "A new customer writes" in page
    await _form(http, "/_viewer/accounts/new", {"phone": "1", "first_name": "x"}, 400)

    form = aiohttp.FormData()
    for key, value in (("first_name", "Пётр"), ("last_name", ""), ("username", ""), ("text", "Есть наушники?"),
                       ("kind", "photo")):
        form.add_field(key, value)
    form.add_field("file", b"", filename="")  # a browser sends an empty part when no file is chosen
    page = await _form(http, f"/_viewer/accounts/{account_id}/customers", form)
    customer_id = sb.dialogs(account_id)[0]["peer"]
    assert "Есть наушники?" in page and [m["text"] for m in sb.messages(account_id, customer_id)] == [
        "Есть наушники?"]
    url = f"/_viewer/accounts/{account_id}/chat/{customer_id}"

    form = aiohttp.FormData()
    form.add_field("text", "А чёрные есть?")
    form.add_field("reply_to", "")
    form.add_field("kind", "document")
    form.add_field("file", b"", filename="")
    await _form(http, f"{url}/send", form)
    messages = sb.messages(account_id, customer_id)
    assert [m["text"] for m in messages] == ["Есть наушники?", "А чёрные есть?"] and not messages[1]["out"]
    await _form(http, f"{url}/send", {"text": " "}, 400)

    await _form(http, f"{url}/edit", {"message_id": str(messages[1]["id"]), "text": "А белые есть?"})
    assert sb.messages(account_id, customer_id)[1]["edited"] is True
    page = await _form(http, f"{url}/delete", {"message_id": str(messages[0]["id"])})
    assert sb.messages(account_id, customer_id, include_deleted=True)[0]["deleted"] is True
    assert "class='msg in deleted'" in page and "edited" in page
    await _form(http, f"{url}/delete", {"message_id": "nope"}, 400)

    answer = await sb.owner_writes(account_id, customer_id, "Есть!")
    page = await _form(http, f"{url}/read", {})
    assert sb.messages(account_id, customer_id)[-1]["read"] is True and "title='read'>✓✓<" in page

    page = await _form(http, f"{url}/block", {})
    assert sb.dialogs(account_id)[0]["blocked"] is True and "unblock the account" in page
    await _form(http, f"{url}/block", {})
    assert sb.dialogs(account_id)[0]["blocked"] is False
    assert answer.id == sb.dialogs(account_id)[0]["top_message"]

    page = await _form(http, f"/_viewer/accounts/{account_id}/terminate", {})
    assert "signed-in sessions: 0" in page
    await _form(http, "/_viewer/accounts/qr/accept", {"token_hex": "zz", "account_id": str(account_id)}, 400)


async def test_telethon_signs_in_with_the_code_and_hears_the_viewer(stack, http):
    """A person reads the login code in the viewer's place (the control API), the product's Telethon signs in, and
    what the person then types as a customer in the viewer arrives as events.NewMessage."""
    account = await _account(http)
    await _error(http, "GET", "/_sandbox/accounts/login-code", 400, "phone is required")
    await _error(http, "GET", "/_sandbox/accounts/login-code", 404, "no login code", params={"phone": "+79990001122"})

    client = await _telethon(stack)
    try:
        await client.send_code_request("+79990001122")
        code = await _call(http, "GET", "/_sandbox/accounts/login-code", params={"phone": "+7 999 000 11 22"})
        assert code["account_id"] == account["id"] and len(code["code"]) == 5
        index = await _page(http, "/_viewer/accounts/")
        assert f"<b>{code['code']}</b>" in index  # shown as Telegram's message with the code
        me = await client.sign_in("+79990001122", code["code"])
        assert me.id == account["id"]
        assert (await _call(http, "GET", "/_sandbox/accounts"))[0]["signed_in"] == 1

        arrived: asyncio.Queue = asyncio.Queue()
        client.add_event_handler(lambda event: arrived.put_nowait(event), events.NewMessage(incoming=True))
        customer = await _call(http, "POST", "/_sandbox/accounts/customers", json={"first_name": "Пётр"})
        await _form(http, f"/_viewer/accounts/{account['id']}/chat/{customer['id']}/send",
                    {"text": "Здравствуйте, <b>есть</b> наушники?"})
        event = await asyncio.wait_for(arrived.get(), 10)
        assert event.message.message == "Здравствуйте, <b>есть</b> наушники?"
        assert event.is_private and event.sender_id == customer["id"]

        await _call(http, "POST", f"/_sandbox/accounts/{account['id']}/terminate")
        assert (await _call(http, "GET", "/_sandbox/accounts"))[0]["signed_in"] == 0
        await _error(http, "POST", "/_sandbox/accounts/1/terminate", 404, "account 1 not found")
    finally:
        await client.disconnect()


async def test_qr_login_is_accepted_from_the_control_api(stack, http):
    account = await _account(http)
    client = await _telethon(stack)
    try:
        qr = await client.qr_login()
        tokens = (await _call(http, "GET", "/_sandbox/accounts/qr"))["tokens"]
        assert tokens == [qr.token.hex()]
        assert qr.token.hex()[:16] in await _page(http, "/_viewer/accounts/")

        await _error(http, "POST", "/_sandbox/accounts/qr/accept", 400, "hexadecimal",
                     json={"token_hex": "xyz", "account_id": account["id"]})
        await _error(http, "POST", "/_sandbox/accounts/qr/accept", 400, "AUTH_TOKEN_EXPIRED",
                     json={"token_hex": "00" * 32, "account_id": account["id"]})
        await _error(http, "POST", "/_sandbox/accounts/qr/accept", 404, "account 9 not found",
                     json={"token_hex": tokens[0], "account_id": 9})
        await _error(http, "POST", "/_sandbox/accounts/qr/accept", 400, "token_hex is required",
                     json={"account_id": account["id"]})

        accepted = await _call(http, "POST", "/_sandbox/accounts/qr/accept",
                               json={"token_hex": tokens[0], "account_id": account["id"]})
        assert accepted == {"ok": True, "account_id": account["id"]}
        me = await qr.wait(10)
        assert me.id == account["id"]
        assert (await _call(http, "GET", "/_sandbox/accounts/qr"))["tokens"] == []
    finally:
        await client.disconnect()
