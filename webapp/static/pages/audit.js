// The audit log: who changed what and when, old → new, filtered by period, kind and person; older pages on demand.
"use strict";
MiniApp.pages.audit = async (root, ctx) => {
  const { api, el, t } = MiniApp;
  const list = root.querySelector("#entries");
  const more = root.querySelector("#more");
  let last = null;
  let before = null;
  const when = iso => new Date(iso).toLocaleString(ctx.member.locale, { dateStyle: "short", timeStyle: "short" });
  const shown = v => v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);

  function entry(e) {
    const rest = Object.entries(e.payload).map(([k, v]) => `${k}: ${shown(v)}`).join(" · ");
    return el("div", { class: "card entry", "data-kind": e.kind, "data-id": e.id },
      el("div", { class: "head" }, el("b", {}, e.label), el("span", { class: "muted" }, when(e.at))),
      el("div", { class: "muted" }, e.actor || t("miniapp.audit.system"),
        e.dialog_id ? [" · ", el("a", { href: `/dialogs/${e.dialog_id}` }, t("miniapp.audit.dialog", { id: e.dialog_id }))] : null),
      e.changes.map(c => el("div", { class: "change" }, c.key ? `${c.key}: ` : "",
        el("span", { class: "old" }, shown(c.old)), " → ", el("span", { class: "new" }, shown(c.new)))),
      rest ? el("div", { class: "payload" }, rest) : null);
  }
  async function show(q, append = false) {
    last = q;
    const params = new URLSearchParams(q);
    if (append && before) params.set("before", before);
    try {
      const data = await api("/api/audit?" + params.toString());
      const cards = data.items.map(entry);
      if (append) list.append(...cards);
      else list.replaceChildren(...(cards.length ? cards : [el("p", { class: "muted" }, t("miniapp.audit.none"))]));
      before = data.items.length ? data.items[data.items.length - 1].id : null;
      more.hidden = !data.more;
    } catch (err) { MiniApp.fail(err, list); }
  }
  more.addEventListener("click", () => show(last, true));
  const query = MiniApp.filters(root, q => show(q));
  await show(query());
};
