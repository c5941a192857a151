"""Browser view at /_viewer/: server-rendered pages showing groups, topics and chats as Telegram would, where a
person can post as a user, press inline buttons and manage topics. All user text is HTML-escaped."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from aiohttp import web

from ..webparts import html_page, redirect
from .control import chat_summaries
from .state import TOPIC_COLORS, Chat, LinkRefused, Record

if TYPE_CHECKING:
    from .sandbox import TelegramSandbox

_TAGS = {
    "bold": ("<b>", "</b>"), "italic": ("<i>", "</i>"), "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"), "code": ("<code>", "</code>"), "pre": ("<pre>", "</pre>"),
    "spoiler": ('<span class="spoiler">', "</span>"), "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}  # fmt: skip

# Other stand-ins sharing this app add links to the index page: each callable gives (label, href), or None to hide.
INDEX_LINKS = web.AppKey("viewer_index_links", list[Callable[[], tuple[str, str] | None]])

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#e6ebee;color:#222}
header{background:#517da2;color:#fff;padding:8px 16px}header a{color:#fff}
main{display:flex;gap:16px;padding:16px;align-items:flex-start}
section{background:#fff;border-radius:8px;padding:12px;min-width:260px}
.chatlist a,.topics a{display:block;padding:4px 6px;border-radius:4px;text-decoration:none;color:#222}
.topics a.on,.chatlist a:hover,.topics a:hover{background:#dbe8f5}
.dot{display:inline-block;width:12px;height:12px;border-radius:50%;margin-right:6px;vertical-align:middle}
.msgs{flex:1;max-width:760px}.msg{background:#fff;border-radius:8px;padding:6px 10px;margin:6px 0;max-width:90%}
.msg.bot{background:#effdde;margin-left:auto}.msg.service{background:none;text-align:center;color:#777;font-style:italic}
.msg.deleted{opacity:.45}.msg.deleted .body{text-decoration:line-through}
.meta{font-size:12px;color:#888}.body{white-space:pre-wrap;word-wrap:break-word}.spoiler{background:#ccc}
.kb{display:flex;flex-direction:column;gap:4px;margin-top:6px}.row{display:flex;gap:4px}
.row form,.row a,.row button{flex:1;margin:0}.btn{display:block;width:100%;padding:5px;border:0;border-radius:6px;
background:#dbe8f5;color:#1b5c93;text-align:center;text-decoration:none;cursor:pointer;font:inherit}
.badge{font-size:11px;background:#999;color:#fff;border-radius:4px;padding:0 4px;margin-left:4px}
textarea{width:100%;box-sizing:border-box;min-height:60px}table{border-collapse:collapse}td,th{padding:3px 8px;text-align:left}
img.media{max-width:320px;max-height:320px;border-radius:6px;display:block}
form.inline{display:inline}
"""


def setup(app: web.Application, sb: TelegramSandbox) -> None:
    app[INDEX_LINKS] = []

    def base(request: web.Request) -> str:
        return str(request.app.router["viewer-index"].url_for())

    def page(request: web.Request, title: str, body: str) -> web.Response:
        header = (f"<a href='{base(request)}'>Telegram sandbox</a> · bot @{escape(sb.bot_user['username'])} · "
                  f"limits: {escape(sb.limits)}")
        fill = "function fill(t){const x=document.querySelector('textarea[name=text]');if(x){x.value=t;x.focus();}}\n"
        return html_page(title, CSS, header, body, version=sb.version,
                         version_url=str(request.app.router["sandbox-version"].url_for()), script=fill)

    def back(request: web.Request, path: str, **query: Any) -> web.HTTPFound:
        return redirect(base(request), path, **query)

    async def index(request: web.Request) -> web.Response:
        b = base(request)
        groups = [c for c in chat_summaries(sb) if c["type"] != "private"]
        privates = [c for c in chat_summaries(sb) if c["type"] == "private"]
        people = [u for u in sb.users.values() if not u["is_bot"]]

        def chat_link(c: dict) -> str:
            extra = f" · {c['topics']} topics" if c["is_forum"] else ""
            blocked = "<span class=badge>blocked</span>" if c["blocked"] else ""
            meta = f"<span class=meta>{extra} · {c['messages']} msgs</span>"
            return f"<a href='{b}chat/{c['id']}'>{escape(c['title'])}{blocked}{meta}</a>"

        user_rows = "".join(
            f"<tr><td>{u['id']}</td><td>{escape(_name(u))}</td><td>@{escape(u.get('username', ''))}</td>"
            f"<td><a href='{b}chat/{u['id']}'>private chat</a></td>"
            f"<td><form class=inline method=post action='{b}users/{u['id']}/block'>"
            f"<button>{'unblock' if sb.chats.get(u['id']) and sb.chats[u['id']].blocked else 'block'} bot</button></form></td></tr>"
            for u in people
        )
        member_boxes = "".join(
            f"<label><input type=checkbox name=members value={u['id']} checked> {escape(_name(u))}</label><br>"
            for u in people
        )
        people_options = "".join(f"<option value={u['id']}>{escape(_name(u))}</option>" for u in people)
        invite_links = [(chat, link) for chat in sb.chats.values() for link in chat.invite_links]
        links_list = "".join(
            f"<p class=meta>{escape(chat.title or '')}: <code>{escape(link.url)}</code> {escape(link.name)}"
            f"{' · by request' if link.creates_join_request else ''}{' · revoked' if link.is_revoked else ''}"
            f" · joined {len(link.joined)} · waiting "
            f"{sum(1 for r in chat.join_requests.values() if r['link'] is link)}</p>"
            for chat, link in invite_links)
        requests = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(sb.stats["requests"].items()))
        modes = "".join(f"<option{' selected' if m == sb.limits else ''}>{m}</option>" for m in ("off", "realistic", "strict"))
        hook = sb.webhook_info()
        links = [found for link in request.app[INDEX_LINKS] if (found := link())]
        extra = "".join(f"<a href='{escape(href)}'>{escape(label)}</a>" for label, href in links)
        body = f"""<main>
<section class=chatlist>{'<h3>Other views</h3>' + extra if extra else ''}<h3>Groups</h3>{''.join(map(chat_link, groups)) or '<p class=meta>none</p>'}
<h3>Private chats</h3>{''.join(map(chat_link, privates)) or '<p class=meta>none</p>'}</section>
<section><h3>Users</h3><table><tr><th>id</th><th>name</th><th>username</th><th></th><th></th></tr>{user_rows}</table>
<h4>New user</h4><form method=post action='{b}users'><input name=first_name placeholder='first name' required>
<input name=last_name placeholder='last name'> <input name=username placeholder=username> <button>create</button></form>
<h4>New group</h4><form method=post action='{b}groups'><input name=title placeholder=title required>
<label><input type=checkbox name=is_forum checked> topics</label>
<label><input type=checkbox name=bot_admin checked> bot is admin</label><br>{member_boxes}<button>create</button></form>
<h4>New channel</h4><form method=post action='{b}channels'><input name=title placeholder=title required>
<select name=owner_id><option value=''>owner: none</option>{people_options}</select>
<label><input type=checkbox name=bot_admin checked> bot is admin (may invite users)</label> <button>create</button></form>
<h4>Join through an invite link</h4><form method=post action='{b}join'><select name=user_id>{people_options}</select>
<input name=invite_link placeholder='https://t.me/+…' required> <button>join</button></form>{links_list}</section>
<section><h3>Limits</h3><form method=post action='{b}limits'><select name=limits>{modes}</select> <button>set</button></form>
<p class=meta>time scale ×{sb.time_scale} · 429s returned: {sb.stats['too_many_requests']}</p>
<h3>Webhook</h3><p class=meta>{escape(hook['url']) or 'none (long polling)'} · pending updates {hook['pending_update_count']}
{escape(hook.get('last_error_message', ''))}</p><h3>Requests</h3><p class=meta>{requests or 'none'}</p></section></main>"""
        return page(request, "Telegram sandbox", body)

    async def chat_page(request: web.Request) -> web.Response:
        b = base(request)
        chat = _chat(sb, request)
        thread = _int(request.query.get("thread"))
        humans = [sb.users[uid] for uid, m in chat.members.items() if uid != sb.bot_user_id and m.is_in_chat]
        acting = _int(request.query.get("as"))
        acting_user = next((u for u in humans if u["id"] == acting), humans[0] if humans else None)
        url = f"{b}chat/{chat.id}"

        side = ""
        if chat.is_forum:
            links = [f"<a class='{'on' if thread is None else ''}' href='{url}'>General</a>"]
            for topic in chat.topics.values():
                color = f"#{topic.icon_color:06x}"
                badges = ("<span class=badge>closed</span>" if topic.closed else "") + (
                    "<span class=badge>deleted</span>" if topic.deleted else ""
                )
                icon = f" <span class=meta>emoji {escape(topic.icon_custom_emoji_id)}</span>" if topic.icon_custom_emoji_id else ""
                links.append(
                    f"<a class='{'on' if thread == topic.id else ''}' href='{url}?thread={topic.id}'>"
                    f"<span class=dot style='background:{color}'></span>{escape(topic.name)}{badges}{icon}</a>"
                )
            colors = "".join(f"<option value={c} style='background:#{c:06x}'>#{c:06x}</option>" for c in TOPIC_COLORS)
            side = f"""<section class=topics><h3>{escape(chat.title or '')}</h3>{''.join(links)}
<h4>New topic</h4><form method=post action='{url}/topic'><input type=hidden name=action value=create>
<input name=name placeholder=name required> <select name=icon_color>{colors}</select> <button>create</button></form></section>"""

        records = [r for r in chat.messages.values() if not chat.is_forum or r.thread_id == thread]
        messages = "".join(_message_html(sb, chat, r, url, acting_user, thread) for r in records)
        topic_tools = ""
        if chat.is_forum and thread is not None and thread in chat.topics and not chat.topics[thread].deleted:
            topic = chat.topics[thread]
            toggle = "reopen" if topic.closed else "close"
            topic_tools = "".join(
                f"<form class=inline method=post action='{url}/topic'><input type=hidden name=thread_id value={thread}>"
                f"<input type=hidden name=action value={action}><button>{action} topic</button></form> "
                for action in (toggle, "delete")
            )
        options = "".join(
            f"<option value={u['id']}{' selected' if acting_user and u['id'] == acting_user['id'] else ''}>{escape(_name(u))}</option>"
            for u in humans
        )
        title = escape(chat.title or _name(chat.user or {}))
        compose = f"""<form method=post enctype=multipart/form-data action='{url}/send'>
<input type=hidden name=thread_id value='{thread or ''}'>as <select name=user_id>{options}</select>
reply to # <input name=reply_to size=5> <textarea name=text placeholder='message'></textarea>
<input type=file name=file> <select name=file_kind><option>photo</option><option>document</option><option>voice</option></select>
<button>send</button></form>"""
        if not humans:
            compose = "<p class=meta>add a user to this chat to write here</p>"
        typing = ""
        if chat.last_action and time.time() - chat.last_action["date"] < 6:
            typing = f"<p class=meta>bot: {escape(chat.last_action['action'])}…</p>"
        blocked = "<p class=meta>the user has blocked the bot</p>" if chat.blocked else ""
        act_as = (
            f"<form method=get class=inline><input type=hidden name=thread value='{thread or ''}'>buttons pressed by "
            f"<select name=as onchange='this.form.submit()'>{options}</select></form>"
            if humans
            else ""
        )
        body = f"""<main>{side}<section class=msgs><h3>{title}</h3>{act_as}{blocked}{topic_tools}{messages or '<p class=meta>no messages</p>'}
{typing}{compose}</section></main>"""
        return page(request, chat.title or "chat", body)

    async def send(request: web.Request) -> web.Response:
        chat = _chat(sb, request)
        form = await request.post()
        user_id = int(str(form["user_id"]))
        file = form.get("file")
        data = file.file.read() if isinstance(file, web.FileField) else b""
        kind = str(form.get("file_kind") or "photo")
        text = str(form.get("text") or "")
        try:
            await sb.user_sends(
                user_id, chat.id, None if data else (text or None),
                thread_id=_int(form.get("thread_id")), reply_to_message_id=_int(form.get("reply_to")),
                photo=data if data and kind == "photo" else None,
                document=(file.filename or "file", data) if data and kind == "document" else None,  # type: ignore[union-attr]
                voice=data if data and kind == "voice" else None, caption=(text or None) if data else None,
            )  # fmt: skip
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        raise back(request, f"chat/{chat.id}", thread=form.get("thread_id"), **{"as": user_id})

    async def press(request: web.Request) -> web.Response:
        chat = _chat(sb, request)
        form = await request.post()
        try:
            await sb.press_button(int(str(form["user_id"])), chat.id, int(str(form["message_id"])), str(form["data"]))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        raise back(request, f"chat/{chat.id}", thread=form.get("thread_id"), **{"as": form["user_id"]})

    async def topic_action(request: web.Request) -> web.Response:
        chat = _chat(sb, request)
        form = await request.post()
        action, thread = str(form.get("action")), _int(form.get("thread_id"))
        try:
            if action == "create":
                thread = sb.create_topic(chat.id, str(form["name"]), icon_color=int(str(form["icon_color"])))["message_thread_id"]
            elif action == "close" and thread:
                sb.close_topic(chat.id, thread)
            elif action == "reopen" and thread:
                sb.reopen_topic(chat.id, thread)
            elif action == "delete" and thread:
                sb.delete_topic(chat.id, thread)
                thread = None
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        raise back(request, f"chat/{chat.id}", thread=thread)

    async def create_user(request: web.Request) -> web.Response:
        form = await request.post()
        try:
            sb.create_user(
                str(form["first_name"]), str(form.get("last_name") or "") or None, str(form.get("username") or "") or None
            )
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        raise back(request, "")

    async def create_group(request: web.Request) -> web.Response:
        form = await request.post()
        rights = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
        chat = sb.create_forum_group(
            str(form["title"]),
            bot_rights=rights if form.get("bot_admin") else None,
            is_forum=bool(form.get("is_forum")),
            members=[int(str(m)) for m in form.getall("members", [])],
        )
        raise back(request, f"chat/{chat['id']}")

    async def create_channel(request: web.Request) -> web.Response:
        form = await request.post()
        chat = sb.create_channel(
            str(form["title"]),
            bot_rights={"can_invite_users": True, "can_post_messages": True} if form.get("bot_admin") else None,
            owner_id=_int(form.get("owner_id")),
        )
        raise back(request, f"chat/{chat['id']}")

    async def join(request: web.Request) -> web.Response:
        """A person opens an invite link (sandbox.join_by_link): joins, or asks to for a link that creates requests."""
        form = await request.post()
        try:
            sb.join_by_link(int(str(form["user_id"])), str(form["invite_link"]).strip())
        except LinkRefused as refused:
            raise web.HTTPBadRequest(text=f"{refused} ({refused.status})") from None
        raise back(request, "")

    async def toggle_block(request: web.Request) -> web.Response:
        user_id = int(request.match_info["user_id"])
        chat = sb.chats.get(user_id)
        (sb.unblock_bot if chat and chat.blocked else sb.block_bot)(user_id)
        raise back(request, "")

    async def set_limits(request: web.Request) -> web.Response:
        form = await request.post()
        sb.set_limits(str(form.get("limits")))
        raise back(request, "")

    async def file(request: web.Request) -> web.Response:
        stored = sb.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    router = app.router
    router.add_get("/_viewer/", index, name="viewer-index")
    router.add_get("/_viewer/chat/{chat_id}", chat_page)
    router.add_post("/_viewer/chat/{chat_id}/send", send)
    router.add_post("/_viewer/chat/{chat_id}/press", press)
    router.add_post("/_viewer/chat/{chat_id}/topic", topic_action)
    router.add_post("/_viewer/users", create_user)
    router.add_post("/_viewer/users/{user_id}/block", toggle_block)
    router.add_post("/_viewer/groups", create_group)
    router.add_post("/_viewer/channels", create_channel)
    router.add_post("/_viewer/join", join)
    router.add_post("/_viewer/limits", set_limits)
    router.add_get("/_viewer/file/{file_id}", file)

    async def webapp_sdk(request: web.Request) -> web.Response:
        # What https://telegram.org/js/telegram-web-app.js is to Mini Apps, served where the sandbox runs.
        return web.Response(text=SDK_FILE.read_text(encoding="utf-8"), content_type="application/javascript",
                            headers={"Cache-Control": "no-cache"})

    router.add_get("/js/telegram-web-app.js", webapp_sdk)


# ------------------------------------------------------------------------------------------- Mini App links

SDK_FILE = Path(__file__).with_name("webapp_sdk.js")  # the WebApp SDK stand-in (window.Telegram.WebApp)
# https://t.me/<bot>/<app>?startapp=<param>: a Mini App direct link (core.telegram.org/bots/webapps#direct-link-mini-apps)
DIRECT_LINK = re.compile(r"^https://t\.me/(?P<bot>[A-Za-z0-9_]{4,32})/(?P<app>[A-Za-z0-9_]{3,30})/?(?:\?(?P<query>.*))?$")


def register_mini_app(sb: TelegramSandbox, short_name: str, url: str) -> None:
    """What /newapp at @BotFather does: the bot's Mini App `short_name` opens `url`."""
    apps = getattr(sb, "mini_apps", None)
    if apps is None:
        apps = sb.mini_apps = {}
    apps[short_name] = url


def mini_app_url(sb: TelegramSandbox, short_name: str, user_id: int) -> str | None:
    """The URL a direct link to the bot's Mini App opens: the one registered under that short name, else the web
    app the bot put on this person's menu button (the bot's own Mini App)."""
    registered = (getattr(sb, "mini_apps", None) or {}).get(short_name)
    if registered:
        return registered
    for button in (sb.menu_buttons.get(user_id), sb.menu_buttons.get(None)):
        if button and button.get("type") == "web_app" and (button.get("web_app") or {}).get("url"):
            return button["web_app"]["url"]
    return None


def signed_init_data(sb: TelegramSandbox, user_id: int, **extra: str) -> str:
    """initData for the user with extra fields (start_param, chat_type, chat_instance), signed as Telegram signs it."""
    fields = dict(parse_qsl(sb.init_data(user_id), keep_blank_values=True))
    fields.pop("hash", None)
    fields.update({k: v for k, v in extra.items() if v is not None})
    check_string = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", sb.bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def direct_link_target(sb: TelegramSandbox, link: str, user_id: int, chat: Chat | None = None) -> str | None:
    """Where a Telegram client takes this person for a direct link to the sandbox bot's Mini App: the app's URL with
    the launch parameters in the fragment (tgWebAppData carrying start_param, tgWebAppStartParam, version, platform).
    None for any other link."""
    match = DIRECT_LINK.match(link)
    if match is None or match["bot"].lower() != str(sb.bot_user.get("username", "")).lower():
        return None
    url = mini_app_url(sb, match["app"], user_id)
    if url is None:
        return None
    start_param = dict(parse_qsl(match["query"] or "")).get("startapp")
    chat_instance = None
    if chat is not None:  # a stable, opaque id of the chat the link was opened from, as Telegram sends it
        chat_instance = str(int(hashlib.sha256(f"{chat.id}:{user_id}".encode()).hexdigest()[:15], 16))
    init_data = signed_init_data(sb, user_id, start_param=start_param, chat_type=chat.type if chat else None,
                                 chat_instance=chat_instance)
    fragment = {"tgWebAppData": init_data, "tgWebAppVersion": "8.0", "tgWebAppPlatform": "web"}
    if start_param:
        fragment["tgWebAppStartParam"] = start_param
    base = url.split("#", 1)[0]
    if start_param:
        base += ("&" if urlsplit(base).query else "?") + urlencode({"tgWebAppStartParam": start_param})
    return f"{base}#{urlencode(fragment, quote_via=quote)}"


def _chat(sb: TelegramSandbox, request: web.Request) -> Chat:
    try:
        chat_id = int(request.match_info["chat_id"])
        return sb.chats[chat_id] if chat_id in sb.chats else sb.private_chat(chat_id)
    except ValueError:
        raise web.HTTPNotFound() from None


def _int(value: Any) -> int | None:
    return int(str(value)) if value not in (None, "") else None


def _name(user: dict) -> str:
    return " ".join(filter(None, (user.get("first_name"), user.get("last_name")))) or str(user.get("id", ""))


def render_text(text: str, entities: list[dict]) -> str:
    """Text with its entities as HTML. The text is cut at every entity boundary (UTF-16 offsets) and each piece is
    escaped and wrapped in the tags of the entities covering it, so overlapping entities still give valid HTML."""
    units = text.encode("utf-16-le")
    total = len(units) // 2
    cuts = sorted({0, total, *(e["offset"] for e in entities), *(e["offset"] + e["length"] for e in entities)})
    pieces = []
    for start, end in zip(cuts, cuts[1:]):
        if not 0 <= start < end <= total:
            continue
        piece = escape(units[start * 2 : end * 2].decode("utf-16-le", "replace"))
        for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"]), reverse=True):
            if entity["offset"] <= start and end <= entity["offset"] + entity["length"]:
                if entity["type"] == "text_link":
                    piece = f"<a href='{escape(entity['url'])}' target=_blank rel=noopener>{piece}</a>"
                elif entity["type"] in _TAGS:
                    opening, closing = _TAGS[entity["type"]]
                    piece = opening + piece + closing
        pieces.append(piece)
    return "".join(pieces)


def _service_text(record: Record) -> str:
    msg = record.msg
    if "forum_topic_created" in msg:
        return f"created the topic «{escape(msg['forum_topic_created']['name'])}»"
    if "forum_topic_edited" in msg:
        change = msg["forum_topic_edited"]
        return "changed the topic" + (f" name to «{escape(change['name'])}»" if "name" in change else " icon")
    if "forum_topic_closed" in msg:
        return "closed the topic"
    if "forum_topic_reopened" in msg:
        return "reopened the topic"
    if "pinned_message" in msg:
        return f"pinned message #{msg['pinned_message']['message_id']}"
    return escape(record.service or "")


def _media_html(sb: TelegramSandbox, msg: dict, url: str) -> str:
    viewer_root = url.rsplit("/chat/", 1)[0] + "/"
    for kind in ("photo", "sticker", "voice", "audio", "video", "video_note", "animation", "document"):
        if kind not in msg:
            continue
        item = msg[kind][-1] if kind == "photo" else msg[kind]
        src = f"{viewer_root}file/{quote(item['file_id'])}"
        if kind in ("photo", "sticker"):
            return f"<img class=media src='{src}' alt='{kind}'>"
        if kind in ("voice", "audio"):
            return f"<audio controls src='{src}'></audio>"
        if kind in ("video", "video_note", "animation"):
            return f"<video class=media controls src='{src}'></video>"
        name = escape(item.get("file_name") or "document")
        return f"<a href='{src}'>📎 {name}</a> <span class=meta>{item['file_size']} bytes</span>"
    return ""


def _button_html(
    sb: TelegramSandbox, chat: Chat, record: Record, button: dict, url: str, user: dict | None, thread: int | None
) -> str:
    text = escape(button["text"])
    if "callback_data" in button and user is not None:
        return (
            f"<form method=post action='{url}/press'><input type=hidden name=user_id value={user['id']}>"
            f"<input type=hidden name=message_id value={record.msg['message_id']}>"
            f"<input type=hidden name=thread_id value='{thread or ''}'>"
            f"<input type=hidden name=data value='{escape(button['callback_data'])}'><button class=btn>{text}</button></form>"
        )
    if "url" in button:
        target = direct_link_target(sb, button["url"], user["id"], chat) if user is not None else None
        if target is not None:  # a direct link to the bot's Mini App: opened signed in, like a client does
            return f"<a class=btn href='{escape(target)}' target=_blank>{text} ⧉</a>"
        return f"<a class=btn href='{escape(button['url'])}' target=_blank rel=noopener>{text} ↗</a>"
    if "web_app" in button and user is not None:
        # Telegram clients pass initData to a Mini App in the URL fragment as tgWebAppData.
        fragment = urlencode({"tgWebAppData": sb.init_data(user["id"]), "tgWebAppVersion": "8.0", "tgWebAppPlatform": "web"})
        return f"<a class=btn href='{escape(button['web_app']['url'])}#{escape(fragment)}' target=_blank>{text} ⧉</a>"
    if "switch_inline_query_current_chat" in button:
        filled = f"@{sb.bot_user['username']} {button['switch_inline_query_current_chat']}"
        return f"<button type=button class=btn onclick='fill(this.dataset.q)' data-q='{escape(filled)}'>{text} ✎</button>"
    return f"<button type=button class=btn disabled>{text}</button>"


def _message_html(
    sb: TelegramSandbox, chat: Chat, record: Record, url: str, user: dict | None, thread: int | None
) -> str:
    msg = record.msg
    classes = ["msg", "bot" if record.sender_id == sb.bot_user_id else "user"]
    if record.deleted:
        classes.append("deleted")
    when = time.strftime("%H:%M:%S", time.localtime(msg["date"]))
    if record.service:
        classes.append("service")
        return f"<div class='{' '.join(classes)}'>{escape(_name(msg['from']))} {_service_text(record)} · {when}</div>"
    notes = []
    reply = msg.get("reply_to_message")
    if reply and reply["message_id"] != record.thread_id:
        notes.append(f"↪ #{reply['message_id']}")
    if "forward_origin" in msg:
        notes.append(f"forwarded from {escape(_name(msg['forward_origin'].get('sender_user', {})))}")
    if record.edits:
        previous = " | ".join((e.get("text") or e.get("caption") or "") for e in record.edits)
        notes.append(f"<span title='{escape(previous)}'>edited ×{len(record.edits)}</span>")
    if record.pinned:
        notes.append("📌")
    if record.reactions:
        notes.append(" ".join(escape(r["emoji"]) for r in record.reactions))
    if record.deleted:
        notes.append("deleted")
    text = render_text(msg.get("text") or msg.get("caption") or "", msg.get("entities") or msg.get("caption_entities") or [])
    rows = (msg.get("reply_markup") or {}).get("inline_keyboard", [])
    keyboard = "".join(
        "<div class=row>" + "".join(_button_html(sb, chat, record, b, url, user, thread) for b in row) + "</div>"
        for row in rows
    )
    if record.reply_keyboard and "keyboard" in record.reply_keyboard:
        keyboard += "".join(
            "<div class=row>"
            + "".join(
                f"<button type=button class=btn onclick='fill(this.dataset.q)' data-q='{escape(t)}'>{escape(t)}</button>"
                for t in (b if isinstance(b, str) else b.get("text", "") for b in row)
            )
            + "</div>"
            for row in record.reply_keyboard["keyboard"]
        )
    return (
        f"<div class='{' '.join(classes)}' id=m{msg['message_id']}><div class=meta>#{msg['message_id']} "
        f"{escape(_name(msg['from']))} · {when} {' · '.join(notes)}</div>{_media_html(sb, msg, url)}"
        f"<div class=body>{text}</div>{'<div class=kb>' + keyboard + '</div>' if keyboard else ''}</div>"
    )
