"""The VK sandbox driven by the real vkbottle client over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from vkbottle import API, VKAPIError
from vkbottle.exception_factory import CaptchaError
from vkbottle.polling import BotPolling
from vkbottle.tools import DocMessagesUploader, PhotoMessageUploader, VoiceMessageUploader
from vkbottle_types.objects import MessagesMessage

from sandbox.vk import VKSandbox, synth, vkscript
from sandbox.vk.mailbox import FILTERS
from tests.waiting import wait_for

GROUP = 77_000_001


@dataclass
class Env:
    sb: VKSandbox
    url: str
    token: str

    def api(self, token: str | None = None) -> API:
        api = API(token or self.token)
        api.API_URL = f"{self.url}/method/"
        return api

    async def raw(self, method: str, token: str | None = None, **params) -> dict:
        """The JSON VK answered, before vkbottle's models (errors still raise VKAPIError)."""
        return await self.api(token).request(method, params)


async def _serve(**options) -> tuple[Env, web.AppRunner]:
    sb = VKSandbox(**options)
    runner = web.AppRunner(sb.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    token = sb.add_community(GROUP, "Магазин «Тест»")
    return Env(sb, f"http://127.0.0.1:{runner.addresses[0][1]}", token), runner


@pytest.fixture
async def vk():
    env, runner = await _serve()
    yield env
    await runner.cleanup()


@pytest.fixture
async def fast_vk():
    env, runner = await _serve(time_scale=10)
    yield env
    await runner.cleanup()


def _base(sb: VKSandbox, seed: int = 0) -> int:
    return sb._communities[GROUP].mailbox.seed.base if sb._communities[GROUP].mailbox.seed else 0


# ---------------------------------------------------------------- execute

HISTORY_LOOP = ('var i = 0; var out = []; while (i < %d) { var h = API.messages.getHistory({"peer_id": %d + i, '
                '"count": 200}); out.push({"n": h.count, "first": h.items[0].id, "len": h.items.length}); '
                'i = i + 1; } return out;')


async def test_execute_runs_25_calls_and_rejects_the_26th(vk):
    vk.sb.seed(GROUP, conversations=100, messages_per_conversation=30, seed=1)
    base = _base(vk.sb)
    result = await vk.api().execute(HISTORY_LOOP % (25, base))
    out = result.response["response"]
    assert len(out) == 25 and all(x["n"] == 30 and x["len"] == 30 for x in out)
    with pytest.raises(VKAPIError[13]) as err:
        await vk.api().execute(HISTORY_LOOP % (26, base))
    assert "Too many API calls" in err.value.error_msg
    assert vk.sb.stats["methods"]["execute"] == 2  # one request each
    assert vk.sb.stats["execute_calls"]["messages.getHistory"] == 50  # the 26th call never ran


async def test_execute_inner_errors_return_false_and_are_listed(vk):
    vk.sb.seed(GROUP, conversations=10, messages_per_conversation=3, forbid_every=2)
    base = _base(vk.sb)
    code = ('var a = API.messages.send({"peer_id": %d, "random_id": 1, "message": "hi"}); '
            'var b = API.messages.send({"peer_id": %d, "random_id": 2, "message": "hi"}); '
            'return [a, b];') % (base, base + 1)
    raw = (await vk.api().execute(code)).response
    assert isinstance(raw["response"][0], int) and raw["response"][1] is False
    assert raw["execute_errors"] == [{"method": "messages.send", "error_code": 901,
                                      "error_msg": "Can't send messages for users without permission"}]
    vk.sb.inject_error("users.get", 9)
    code = 'return [API.users.get({"user_ids": [1, 2]}), API.users.get({"user_ids": 3})];'
    raw = (await vk.api().execute(code)).response
    assert raw["response"][0] is False and raw["response"][1][0]["id"] == 3
    assert raw["execute_errors"][0]["error_code"] == 9


def test_vkscript_language():
    calls = []

    def api(method, params):
        calls.append((method, params))
        return {"count": 2, "items": [{"id": 7, "text": "a"}, {"id": 9, "text": "b"}]}

    code = """
        /* literals, loops, members */
        var res = API.messages.getHistory({"peer_id": 5, "count": 200, "rev": true});
        var ids = res.items@.id, total = 0, i = 0;
        while (i < ids.length) { total = total + ids[i]; i = i + 1; }
        var o = {"sum": total, list: [1, 2 * 3, "x" + 1], 'cmp': [3 > 2, "b" < "a", "10" == 10, 7 % 4, 7 / 2]};
        o.list.push(res.items[1].text);
        if (o.sum != 16) { return "bad"; } else { o.tail = o.list.slice(1, 3); }
        o.count -= 1;
        return o;
    """
    assert vkscript.run(code, api) == {"sum": 16, "list": [1, 6, "x1", "b"], "cmp": [True, False, True, 3, 3.5],
                                       "tail": [6, "x1"], "count": -1}
    assert calls == [("messages.getHistory", {"peer_id": 5, "count": 200, "rev": True})]
    assert vkscript.run("return parseInt(Args.n) + 1;", api, {"n": "41"}) == 42
    for bad, code in (("var = 1;", 12), ("return x;", 13), ("while (true) {}", 13)):
        with pytest.raises(vkscript.ScriptError) as err:
            vkscript.run(bad, api)
        assert err.value.code == code


# ---------------------------------------------------------------- rate limits and errors

async def test_rate_limit_community_20_user_3(vk):
    for _ in range(20):
        await vk.raw("users.get", user_ids="1")
    with pytest.raises(VKAPIError[6]) as err:
        await vk.raw("users.get", user_ids="1")
    assert err.value.error_msg == "Too many requests per second" and err.value.request_params["user_ids"] == "1"
    user = vk.sb.add_user_token(555)
    for _ in range(3):
        await vk.raw("users.get", token=user)
    with pytest.raises(VKAPIError[6]):
        await vk.raw("users.get", token=user)
    assert vk.sb.stats["errors"][6] == 2 and vk.sb.stats["tokens"][user] == 4


async def test_rate_window_slides_and_execute_counts_once(fast_vk):
    vk = fast_vk  # one emulated second = 0.1 s
    for _ in range(20):
        await vk.api().execute('return [API.users.get({"user_ids": 1}), API.users.get({"user_ids": 2})];')
    with pytest.raises(VKAPIError[6]):
        await vk.raw("users.get", user_ids="1")
    await asyncio.sleep(0.12)
    assert (await vk.raw("users.get", user_ids="1"))["response"][0]["id"] == 1


async def test_injected_errors_captcha_and_revoked_token(vk):
    vk.sb.inject_error("users.get", 14)
    with pytest.raises(CaptchaError) as err:
        await vk.raw("users.get", user_ids="1")
    assert err.value.captcha_sid and err.value.captcha_img.startswith(vk.url)
    async with aiohttp.ClientSession() as http, http.get(err.value.captcha_img) as resp:
        assert (await resp.read())[:4] == b"\x89PNG"
    vk.sb.inject_error("users.get", 14)
    api, seen = vk.api(), []

    async def solve(e: CaptchaError) -> str:
        seen.append(e.captcha_sid)
        return "abcd"

    api.add_captcha_handler(solve)
    assert (await api.request("users.get", {"user_ids": "1"}))["response"][0]["id"] == 1 and len(seen) == 1
    for code, text in ((29, "Rate limit reached"), (9, "Flood control"), (6, "Too many requests per second")):
        vk.sb.inject_error("users.get", code, times=2)
        for _ in range(2):
            with pytest.raises(VKAPIError[code]) as err:
                await vk.raw("users.get", user_ids="1")
            assert err.value.error_msg == text and err.value.request_params["method"] == "users.get"
    vk.sb.revoke_token(vk.token)
    with pytest.raises(VKAPIError[5]) as err:
        await vk.raw("users.get", user_ids="1")
    assert err.value.error_msg.startswith("User authorization failed: invalid access_token")


async def test_latency_is_added(vk):
    vk.sb.latency_ms = 40
    started = time.perf_counter()
    await vk.raw("utils.getServerTime")
    assert time.perf_counter() - started >= 0.04


# ---------------------------------------------------------------- seeded history

async def test_seeding_200k_is_lazy_and_paging_is_deterministic(vk):
    tracemalloc.start()
    started = time.perf_counter()
    vk.sb.seed(GROUP, conversations=200_000, messages_per_conversation=7, seed=3)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 100_000
    first = await vk.raw("messages.getConversations", count=200, offset=0, extended=1, fields="photo_100")
    again = await vk.raw("messages.getConversations", count=200, offset=0, extended=1, fields="photo_100")
    assert first == again and first["response"]["count"] == 200_000 and len(first["response"]["items"]) == 200
    peers = {i["conversation"]["peer"]["id"] for i in first["response"]["items"]}
    assert {p["id"] for p in first["response"]["profiles"]} == peers
    seen, last_ids = set(), []
    for offset in (0, 200, 100_000, 199_800):
        page = (await vk.raw("messages.getConversations", count=200, offset=offset))["response"]["items"]
        assert len(page) == 200
        seen.update(i["conversation"]["peer"]["id"] for i in page)
        last_ids += [i["last_message"]["id"] for i in page]
    assert len(seen) == 800 and last_ids == sorted(last_ids, reverse=True)
    assert (await vk.raw("messages.getConversations", count=200, offset=200_000))["response"]["items"] == []
    typed = await vk.api().messages.get_conversations(offset=150_000, count=200)
    assert typed.count == 200_000 and all(i.last_message.peer_id == i.conversation.peer.id for i in typed.items)

    base = _base(vk.sb)
    peer = base + 150_000
    newest = await vk.raw("messages.getHistory", peer_id=peer, count=200)
    chrono = await vk.raw("messages.getHistory", peer_id=peer, count=200, rev=1)
    assert newest["response"]["count"] == 7 and newest["response"]["items"] == chrono["response"]["items"][::-1]
    ids = [m["id"] for m in chrono["response"]["items"]]
    window = await vk.raw("messages.getHistory", peer_id=peer, start_message_id=ids[3], offset=-2, count=3)
    assert [m["id"] for m in window["response"]["items"]] == [ids[5], ids[4], ids[3]]
    typed_history = await vk.api().messages.get_history(peer_id=peer, count=200)
    assert [m.id for m in typed_history.items] == ids[::-1]

    await vk.sb.user_writes(GROUP, peer, "Добрый день, есть новости по заказу?")
    top = (await vk.raw("messages.getConversations", count=3))["response"]
    assert top["count"] == 200_000 and top["items"][0]["conversation"]["peer"]["id"] == peer
    assert top["items"][0]["conversation"]["unread_count"] >= 1
    assert (await vk.raw("messages.getHistory", peer_id=peer, count=1))["response"]["count"] == 8
    around = (await vk.raw("messages.getConversations", count=5, offset=149_999))["response"]["items"]
    assert peer not in [i["conversation"]["peer"]["id"] for i in around]


def _brute(box, flt: str) -> list[int]:
    """Every conversation ordered as VK lists them, filtered the slow way."""
    peers = box.bumped_peers() + [box.seed.peer(i) for i in range(box.seed.n) if box.seed.peer(i) not in box.bumped]
    keep = {"all": lambda c: True, "unread": lambda c: c.get("unread_count", 0) > 0,
            "unanswered": lambda c: c["unanswered"]}
    return [p for p in peers if box.history_len(p) and flt in keep and keep[flt](box.conversation(p))]


@pytest.mark.parametrize("messages", [6, 7])
async def test_listing_filters_match_a_brute_force_scan(vk, messages):
    vk.sb.seed(GROUP, conversations=97, messages_per_conversation=messages, seed=5)
    box, base = vk.sb._communities[GROUP].mailbox, _base(vk.sb)
    await vk.sb.user_writes(GROUP, base + 40, "ещё вопрос")
    await vk.sb.user_writes(GROUP, 42, "новый покупатель")
    await vk.raw("messages.markAsRead", peer_id=base + 10)
    await vk.raw("messages.markAsRead", peer_id=base + 14, start_message_id=1)
    await vk.raw("messages.send", peer_id=base + 20, random_id=7, message="Ответ")
    last = (await vk.raw("messages.getHistory", peer_id=base + 33, count=1))["response"]["items"][0]
    await vk.raw("messages.delete", message_ids=last["id"])
    for flt in FILTERS:
        expected = _brute(box, flt)
        assert box.listing(flt, 0, 500) == (len(expected), expected), flt
        assert [p for k in range(0, 120, 7) for p in box.listing(flt, k, 7)[1]] == expected[:126]
    unread = await vk.raw("messages.getConversations", filter="unread", count=200)
    assert unread["response"]["count"] == unread["response"]["unread_count"] == len(_brute(box, "unread"))


async def test_zero_message_conversations_are_not_listed(vk):
    await vk.sb.user_allows(GROUP, 1001)
    msg = await vk.sb.user_writes(GROUP, 1002, "привет")
    await vk.raw("messages.delete", message_ids=msg["id"])
    listed = (await vk.raw("messages.getConversations"))["response"]
    assert listed["count"] == 0 and listed["items"] == []


async def test_synthetic_history_content(vk):
    vk.sb.limits = False  # this test is about content, not pacing
    vk.sb.seed(GROUP, conversations=400, messages_per_conversation=10, seed=9, attachment_every=2)
    base = _base(vk.sb)
    kinds, refs, messages = set(), 0, []
    for k in range(0, 400, 25):
        code = ('var out = []; var i = 0; while (i < 25) { out = out + API.messages.getHistory({"peer_id": %d + i, '
                '"count": 200, "rev": 1}).items; i = i + 1; } return out;') % (base + k)
        messages += (await vk.api().execute(code)).response["response"]
    for m in messages:
        MessagesMessage.model_validate(m)
        kinds.update(a["type"] for a in m["attachments"])
        refs += "ref" in m
    assert {"photo", "doc", "audio_message", "sticker", "video"} <= kinds
    assert kinds & {"gift", "mini_app", "money_transfer"}  # types the product does not know
    assert refs > 20 and all("ref" not in m or m["conversation_message_id"] == 1 for m in messages)
    assert all(m["out"] == (m["from_id"] == -GROUP) for m in messages)
    assert any(any(ord(c) > 0x2000 for c in m["text"]) for m in messages)
    names = await vk.raw("users.get", user_ids=",".join(str(base + i) for i in range(400)))
    odd = [u for u in names["response"]  # emoji, RTL scripts, combining marks
           if any(ord(c) > 0x0500 or 0x0300 <= ord(c) < 0x0370 for c in u["first_name"] + u["last_name"])]
    assert len(names["response"]) == 400 and len(odd) > 40

    by_kind = {}
    for m in messages:
        for a in m["attachments"]:
            by_kind.setdefault(a["type"], a[a["type"]])
    urls = {"photo": by_kind["photo"]["orig_photo"]["url"], "doc": by_kind["doc"]["url"],
            "ogg": by_kind["audio_message"]["link_ogg"], "mp3": by_kind["audio_message"]["link_mp3"]}
    async with aiohttp.ClientSession() as http:
        bodies = {}
        for name, url in urls.items():
            async with http.get(url) as resp:
                assert resp.status == 200, url
                bodies[name] = await resp.read()
    orig = by_kind["photo"]["orig_photo"]
    assert synth.image_size(bodies["photo"]) == (orig["width"], orig["height"])
    assert bodies["doc"].startswith(b"%PDF-") and len(bodies["doc"]) == by_kind["doc"]["size"]
    assert bodies["ogg"].startswith(b"OggS") and b"OpusHead" in bodies["ogg"]
    assert synth.ogg_duration(bodies["ogg"]) == by_kind["audio_message"]["duration"]
    assert bodies["mp3"][:2] == b"\xff\xfb"
    receipt = by_kind["photo"]  # a customer's seeded photo can be sent back by its attachment string
    forwarded = await vk.raw("messages.send", peer_id=base + 1, random_id=1,
                             attachment=f"photo{receipt['owner_id']}_{receipt['id']}_{receipt['access_key']}")
    stored = (await vk.raw("messages.getById", message_ids=forwarded["response"]))["response"]["items"][0]
    assert stored["attachments"][0]["photo"]["id"] == receipt["id"]

    other, runner = await _serve()
    try:
        other.sb.seed(GROUP, conversations=400, messages_per_conversation=10, seed=9, attachment_every=2)
        mine = await vk.raw("messages.getHistory", peer_id=base + 77, count=10)
        theirs = await other.raw("messages.getHistory", peer_id=base + 77, count=10)
        assert json.dumps(mine).replace(vk.url, "") == json.dumps(theirs).replace(other.url, "")
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- sending

async def test_send_dedups_random_id_and_honours_permission(vk):
    vk.sb.seed(GROUP, conversations=10, messages_per_conversation=4, forbid_every=3)
    base = _base(vk.sb)
    api = vk.api()
    first = await api.messages.send(peer_id=base, random_id=424242, message="Здравствуйте!")
    again = await api.messages.send(peer_id=base, random_id=424242, message="Здравствуйте!")
    other = await api.messages.send(peer_id=base, random_id=424243, message="Ещё раз")
    assert first == again != other
    assert [(s["peer_id"], s["message"], s["random_id"]) for s in vk.sb.sent] == [
        (base, "Здравствуйте!", 424242), (base, "Ещё раз", 424243)]
    history = (await vk.raw("messages.getHistory", peer_id=base, count=2))["response"]
    assert history["count"] == 6 and [m["id"] for m in history["items"]] == [other, first]
    with pytest.raises(VKAPIError[901]):
        await api.messages.send(peer_id=base + 2, random_id=1, message="hi")
    conv = (await vk.raw("messages.getConversationsById", peer_ids=base + 2))["response"]["items"][0]
    assert conv["can_write"] == {"allowed": False, "reason": 901}
    await vk.sb.user_allows(GROUP, base + 2)
    assert await api.messages.send(peer_id=base + 2, random_id=1, message="hi")
    with pytest.raises(VKAPIError[914]):
        await api.messages.send(peer_id=base, random_id=2, message="я" * 4097)
    assert await vk.raw("messages.edit", peer_id=base, message_id=first, message="Исправлено") == {"response": 1}
    edited = (await vk.raw("messages.getById", message_ids=first))["response"]["items"][0]
    assert edited["text"] == "Исправлено" and "update_time" in edited
    with pytest.raises(VKAPIError[909]):  # seeded messages are older than a day
        await vk.raw("messages.edit", peer_id=base, conversation_message_id=2, message="поздно")


# ---------------------------------------------------------------- long poll

async def test_bot_polling_receives_all_dialog_events(vk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # BotPolling keeps its ts in ./.vkbottle
    polling = BotPolling(api=vk.api(), wait=5)  # resolves the group with groups.getById
    events: list[dict] = []

    async def listen():
        async for batch in polling.listen():
            events.extend(batch["updates"])
            if len(events) >= 6:
                polling.stop()
                return

    polls = vk.sb.stats["longpoll_requests"]
    task = asyncio.create_task(listen())
    await wait_for(lambda: vk.sb.stats["longpoll_requests"] > polls, "the first long poll, now waiting")
    new = await vk.sb.user_writes(GROUP, 9001, "Хочу заказать", attachments=[{"type": "photo"}],
                                  ref="spring", ref_source="ads")
    await vk.sb.community_replies_in_vk(GROUP, 9001, "Оформляем!")
    await vk.sb.user_edits(GROUP, 9001, new["id"], "Хочу заказать два")
    await vk.api().messages.send(peer_id=9001, random_id=5, message="Ответ из API")
    await vk.sb.user_allows(GROUP, 9001)
    await vk.sb.user_denies(GROUP, 9001)
    await asyncio.wait_for(task, 5)
    assert [e["type"] for e in events] == ["message_new", "message_reply", "message_edit", "message_reply",
                                           "message_allow", "message_deny"]
    obj = events[0]["object"]
    assert obj["message"]["text"] == "Хочу заказать" and obj["message"]["ref"] == "spring"
    assert obj["message"]["attachments"][0]["photo"]["sizes"] and obj["client_info"]["keyboard"] is True
    assert events[2]["object"]["text"] == "Хочу заказать два" and events[3]["object"]["text"] == "Ответ из API"
    assert events[4]["object"]["user_id"] == events[5]["object"]["user_id"] == 9001
    assert len({e["event_id"] for e in events}) == 6 and all(e["group_id"] == GROUP for e in events)
    with pytest.raises(VKAPIError[901]):
        await vk.api().messages.send(peer_id=9001, random_id=6, message="после запрета")


async def test_longpoll_failed_codes_and_wait(fast_vk):
    vk = fast_vk
    lp = (await vk.raw("groups.getLongPollServer", group_id=GROUP))["response"]
    assert lp["server"].startswith(vk.url)

    async with aiohttp.ClientSession() as http:
        async def check(key: str, ts: str, wait: int = 0) -> dict:
            async with http.get(lp["server"], params={"act": "a_check", "key": key, "ts": ts, "wait": wait}) as r:
                return await r.json()

        started = time.perf_counter()
        assert await check(lp["key"], lp["ts"], wait=2) == {"ts": lp["ts"], "updates": []}
        assert time.perf_counter() - started >= 0.19  # wait=2 emulated seconds at time_scale 10

        polls = vk.sb.stats["longpoll_requests"]
        pending = asyncio.create_task(check(lp["key"], lp["ts"], wait=25))
        await wait_for(lambda: vk.sb.stats["longpoll_requests"] > polls, "the long poll, now waiting")
        await vk.sb.user_writes(GROUP, 5, "раз")
        got = await asyncio.wait_for(pending, 1)
        assert [u["object"]["message"]["text"] for u in got["updates"]] == ["раз"]
        ts = got["ts"]

        vk.sb.expire_longpoll(GROUP, 1)  # history outdated: take the new ts, fill the gap from history
        failed = await check(lp["key"], ts)
        assert failed == {"failed": 1, "ts": ts}
        await vk.sb.user_writes(GROUP, 5, "два")
        assert [u["object"]["message"]["text"] for u in (await check(lp["key"], failed["ts"]))["updates"]] == ["два"]
        ts = str(int(ts) + 1)

        vk.sb.expire_longpoll(GROUP, 2)  # key expired: new key, the old ts still works
        await vk.sb.user_writes(GROUP, 5, "три")
        assert await check(lp["key"], ts) == {"failed": 2}
        fresh = (await vk.raw("groups.getLongPollServer", group_id=GROUP))["response"]
        assert fresh["key"] != lp["key"]
        assert [u["object"]["message"]["text"] for u in (await check(fresh["key"], ts))["updates"]] == ["три"]

        vk.sb.expire_longpoll(GROUP, 3)  # information lost: new key and new ts
        assert await check(fresh["key"], ts) == {"failed": 3}
        newest = (await vk.raw("groups.getLongPollServer", group_id=GROUP))["response"]
        assert (await check(newest["key"], ts))["failed"] == 1
        assert await check(newest["key"], newest["ts"]) == {"ts": newest["ts"], "updates": []}


# ---------------------------------------------------------------- uploads

async def test_photo_doc_and_voice_upload_round_trip(vk):
    api = vk.api()
    picture = synth.png(64, 48, 1)
    attachment = await PhotoMessageUploader(api).upload(picture, peer_id=9001)
    assert attachment.startswith(f"photo-{GROUP}_")
    pdf = synth.pdf_bytes(1, 2)
    doc = await DocMessagesUploader(api).upload(pdf, peer_id=9001, title="Счёт.pdf")
    voice = await VoiceMessageUploader(api).upload(synth.ogg_opus(3, 7), peer_id=9001)
    assert doc.startswith(f"doc-{GROUP}_") and voice.startswith(f"audio_message-{GROUP}_")
    sent = await api.messages.send(peer_id=9001, random_id=11, message="Ваш чек",
                                   attachment=f"{attachment},{doc},{voice}")
    message = (await vk.raw("messages.getById", message_ids=sent))["response"]["items"][0]
    photo, document, audio = (a[a["type"]] for a in message["attachments"])
    assert (photo["orig_photo"]["width"], photo["orig_photo"]["height"]) == (64, 48)
    assert document["title"] == "Счёт.pdf" and document["ext"] == "pdf" and audio["duration"] == 3
    assert vk.sb.sent[-1]["attachment"] == f"{attachment},{doc},{voice}"
    async with aiohttp.ClientSession() as http:
        for url, body in ((photo["orig_photo"]["url"], picture), (document["url"], pdf)):
            async with http.get(url) as resp:
                assert await resp.read() == body
    with pytest.raises(VKAPIError[121]):
        await vk.raw("photos.saveMessagesPhoto", photo='[{"photo":"x"}]', server=1, hash="forged")
    with pytest.raises(VKAPIError[100]):
        await api.messages.send(peer_id=9001, random_id=12, attachment="photo1_999999999")


async def test_user_account_token_reads_its_own_dialogs(vk):
    vk.sb.limits = False  # four calls in a row would exceed a user token's 3 requests/s
    user = vk.sb.add_user_token(321)
    vk.sb.seed(321, conversations=5, messages_per_conversation=4, seed=2)
    listed = (await vk.raw("messages.getConversations", token=user))["response"]
    assert listed["count"] == 5
    outgoing = [m for m in (await vk.raw("messages.getHistory", token=user, peer_id=listed["items"][0]["conversation"]
                                         ["peer"]["id"], count=4))["response"]["items"] if m["out"]]
    assert outgoing and all(m["from_id"] == 321 for m in outgoing)
    assert (await vk.raw("users.get", token=user))["response"][0]["id"] == 321
    community = (await vk.raw("messages.getConversations", token=user, group_id=GROUP))["response"]
    assert community["count"] == 0  # a user token with group_id reads the community it administers


async def test_control_http_api(vk):
    async with aiohttp.ClientSession() as http:
        body = {"group_id": GROUP, "user_id": 12, "text": "hi"}
        async with http.post(f"{vk.url}/_sandbox/user_writes", json=body) as r:
            written = await r.json()
        async with http.get(f"{vk.url}/_sandbox/stats") as r:
            stats = await r.json()
    assert written["ok"] and written["result"]["text"] == "hi" and "methods" in stats
    listed = (await vk.raw("messages.getConversations"))["response"]
    assert listed["items"][0]["last_message"]["id"] == written["result"]["id"]
