// Mini App shell: reads initData from Telegram (or the #tgWebAppData hash), calls the JSON API, renders.
"use strict";
const tg = window.Telegram && window.Telegram.WebApp;
const hash = new URLSearchParams(location.hash.slice(1));
const initData = (tg && tg.initData) || hash.get("tgWebAppData") || "";
const startParam = (tg && tg.initDataUnsafe && tg.initDataUnsafe.start_param)
  || new URLSearchParams(location.search).get("startapp") || "";
const view = document.getElementById("view");
const STATUS = { active: "активен", waiting: "ждёт клиента", escalated: "эскалация", resolved: "закрыт", inactive: "заблокировал" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "tma " + initData } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function fail(err) { view.replaceChildren(el("p", { class: "error", id: "error" }, err.message)); }

async function showList(tenantId, status = "") {
  document.getElementById("filters").hidden = false;
  const { dialogs } = await api(`/api/dialogs?tenant=${tenantId}&status=${status}`);
  if (!dialogs.length) return view.replaceChildren(el("p", { class: "muted" }, "Диалогов нет"));
  view.replaceChildren(...dialogs.map(d => {
    const a = el("a", { class: "dialog", href: `/dialogs/${d.id}${location.hash}` });
    if (d.unread) a.append(el("span", { class: "badge" }, String(d.unread)));
    a.append(el("b", {}, d.customer.name),
             el("span", { class: "muted" }, `${d.channel.title || d.channel.kind} · ${STATUS[d.status] || d.status} · ${d.messages} сообщ.`));
    return a;
  }));
}

async function showDialog(dialogId) {
  const { dialog, messages } = await api(`/api/dialogs/${dialogId}`);
  const c = dialog.customer;
  const card = el("div", { class: "card", id: "customer" }, el("b", {}, c.name));
  for (const [label, value] of [["Телефон", c.phone], ["Username", c.username && "@" + c.username],
    ["Теги", c.tags && c.tags.join(", ")], ["Профиль", c.profile_link],
    ["Источник", c.traffic_source && Object.values(c.traffic_source).join(" / ")], ["Заметки", c.notes]]) {
    if (value) card.append(el("div", { class: "muted" }, `${label}: ${value}`));
  }
  document.getElementById("filters").hidden = true;
  const back = el("a", { href: "/" + location.hash, class: "muted" }, "← Все диалоги");
  view.replaceChildren(back, card, ...messages.map(m => el("div", { class: `msg ${m.direction}` },
    m.deleted ? "(удалено) " : "", m.text,
    ...m.attachments.map(a => el("div", { class: "muted" }, `📎 ${a.kind}${a.name ? " " + a.name : ""}`)),
    el("span", { class: "meta" }, new Date(m.sent_at).toLocaleString("ru-RU") + (m.edited ? " · изменено" : "")))));
}

async function main() {
  if (tg) tg.ready();
  if (!initData) throw new Error("Откройте приложение из Telegram");
  const me = await api("/api/me");
  const select = document.getElementById("tenant");
  select.replaceChildren(...me.memberships.map(m => el("option", { value: m.tenant.id }, `${m.tenant.name} — ${m.role.name}`)));
  select.hidden = me.memberships.length < 2;
  const dialogMatch = location.pathname.match(/^\/dialogs\/(\d+)/) || startParam.match(/^dialog_(\d+)$/);
  if (dialogMatch) return showDialog(dialogMatch[1]);
  let status = "";
  const refresh = () => showList(select.value, status).catch(fail);
  select.onchange = refresh;
  for (const b of document.querySelectorAll("#filters button")) {
    b.onclick = () => { status = b.dataset.status; document.querySelectorAll("#filters button").forEach(x => x.classList.toggle("on", x === b)); refresh(); };
  }
  await refresh();
}

main().catch(fail);
