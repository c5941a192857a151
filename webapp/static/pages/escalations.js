// Escalations: pending / handled / dismissed, with who raised and closed each and when; Handle and Dismiss.
"use strict";
MiniApp.pages.escalations = async (root, ctx) => {
  const { api, el, t } = MiniApp;
  const list = root.querySelector("#escalations");
  const more = root.querySelector("#more");
  const tabs = root.querySelectorAll("#tabs [data-status]");
  let status = new URLSearchParams(location.search).get("status") || "pending";
  let before = null;
  const when = iso => iso ? new Date(iso).toLocaleString(ctx.member.locale, { dateStyle: "short", timeStyle: "short" }) : "";

  function counts(c) {
    tabs.forEach(b => { b.querySelector(".count").textContent = c[b.dataset.status]; });
  }
  async function close(item, action, card) {
    try {
      const data = await api(`/api/escalations/${item.id}/${action}`, { method: "POST", body: {} });
      counts(data.counts);
      card.remove();
      MiniApp.haptic("success");
      if (!list.querySelector(".esc")) list.replaceChildren(el("p", { class: "muted" }, t("miniapp.escalations.none")));
    } catch (err) {
      MiniApp.haptic("error");
      card.append(el("p", { class: "error" }, err.message));
    }
  }
  function closedBy(item) {
    const vars = { who: item.handled_by || "—", when: when(item.handled_at) };
    return item.status === "dismissed" ? t("miniapp.escalations.dismissed_by", vars) : t("miniapp.escalations.handled_by", vars);
  }
  function card(item) {
    const node = el("div", { class: "card esc", "data-id": item.id },
      el("div", { class: "reason" }, item.reason),
      el("a", { href: `/dialogs/${item.dialog_id}` }, item.customer || t("miniapp.escalations.dialog", { id: item.dialog_id })),
      item.summary ? el("div", { class: "quote" }, item.summary) : null,
      item.proposed_answer ? el("div", { class: "muted" }, t("miniapp.escalations.proposed"), el("div", { class: "quote" }, item.proposed_answer)) : null,
      item.to_clarify ? el("div", { class: "muted" }, t("miniapp.escalations.clarify", { text: item.to_clarify })) : null,
      el("div", { class: "muted" }, t("miniapp.escalations.raised", { who: item.created_by || t("miniapp.escalations.ai"), when: when(item.created_at) })),
      item.handled_at ? el("div", { class: "muted handled" }, closedBy(item)) : null);
    if (item.status === "pending" && ctx.data.can_act) {
      node.append(el("div", { class: "acts" },
        el("button", { type: "button", class: "primary handle", onclick: () => close(item, "handle", node) }, t("miniapp.escalations.handle")),
        el("button", { type: "button", class: "secondary dismiss", onclick: () => close(item, "dismiss", node) }, t("miniapp.escalations.dismiss"))));
    }
    return node;
  }
  async function show(append = false) {
    const q = new URLSearchParams({ status });
    if (append && before) q.set("before", before);
    try {
      const data = await api("/api/escalations?" + q.toString());
      counts(data.counts);
      const cards = data.items.map(card);
      if (append) list.append(...cards);
      else list.replaceChildren(...(cards.length ? cards : [el("p", { class: "muted" }, t("miniapp.escalations.none"))]));
      before = data.items.length ? data.items[data.items.length - 1].id : null;
      more.hidden = !data.more;
    } catch (err) { MiniApp.fail(err, list); }
  }
  tabs.forEach(b => b.addEventListener("click", () => {
    status = b.dataset.status;
    tabs.forEach(x => x.classList.toggle("on", x === b));
    history.replaceState(history.state, "", `${location.pathname}?status=${status}`);
    MiniApp.haptic();
    show();
  }));
  tabs.forEach(x => x.classList.toggle("on", x.dataset.status === status));
  more.addEventListener("click", () => show(true));
  await show();
};
