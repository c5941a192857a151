// One dialog: the customer (only the fields the role may see — the server never sends the others) and the history.
"use strict";
MiniApp.pages.dialog = async (root, ctx) => {
  const { el, t, api } = MiniApp;
  const id = ctx.path.match(/\/dialogs\/(\d+)/)[1];
  const { dialog, messages } = await api(`/api/dialogs/${id}`);
  const c = dialog.customer;
  const card = root.querySelector("#customer");
  card.replaceChildren(el("b", {}, c.name));
  const fields = [
    [t("miniapp.dialog.field.status"), ctx.data.statuses[dialog.status] || dialog.status],
    [t("miniapp.dialog.field.phone"), c.phone],
    [t("miniapp.dialog.field.username"), c.username && "@" + c.username],
    [t("miniapp.dialog.field.tags"), c.tags && c.tags.join(", ")],
    [t("miniapp.dialog.field.profile_link"), c.profile_link],
    [t("miniapp.dialog.field.traffic_source"), c.traffic_source && Object.values(c.traffic_source).join(" / ")],
    [t("miniapp.dialog.field.notes"), c.notes],
  ];
  for (const [label, value] of fields) {
    if (value) card.append(el("div", { class: "muted" }, `${label}: ${value}`));
  }
  const when = iso => new Date(iso).toLocaleString(ctx.member.locale === "en" ? "en-GB" : "ru-RU");
  root.querySelector("#messages").replaceChildren(...messages.map(m => el("div", { class: `msg ${m.direction}` },
    m.deleted ? t("miniapp.dialog.deleted") + " " : "", m.text,
    ...m.attachments.map(a => el("div", { class: "muted" }, `📎 ${a.kind}${a.name ? " " + a.name : ""}`)),
    el("span", { class: "meta" }, when(m.sent_at) + (m.edited ? " · " + t("miniapp.dialog.edited") : "")))));
};
