// The traffic report (first / last touch) and the campaign links: bot deep links, VK links, and invite links of a
// channel or group made by the bot (named after the campaign; joins and waiting requests counted), revocable.
"use strict";
MiniApp.pages.traffic = async (root) => {
  const { api, el, t } = MiniApp;
  const charts = root.querySelector("#charts");
  const list = root.querySelector("#campaigns");
  async function show(q) {
    try {
      const data = await api("/api/traffic?" + q.toString());
      const tiles = [{ id: "dialogs", label: t("miniapp.traffic.col.dialogs"), value: data.totals.dialogs },
                     { id: "won", label: t("miniapp.traffic.col.won"), value: data.totals.won }];
      if (data.totals.revenue !== undefined) tiles.push({ id: "revenue", label: t("miniapp.traffic.revenue"), value: data.totals.revenue });
      MiniApp.tiles(root.querySelector("#tiles"), tiles);
      while (MiniApp.cleanup.length) MiniApp.cleanup.pop()();
      charts.replaceChildren();
      const stamp = `${data.period.from}_${data.period.to}`;
      for (const spec of data.charts) MiniApp.chart(charts, spec, `traffic_${data.touch}_${stamp}.csv`);
    } catch (err) { MiniApp.fail(err, charts); }
  }
  function copy(text) {
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
    MiniApp.haptic("success");
  }
  let chats = [];
  function inviteLink(l) {
    const revoke = el("button", { class: "danger revoke", type: "button" }, t("miniapp.traffic.invite_revoke"));
    revoke.onclick = () => {
      const go = async ok => {
        if (!ok) return;
        try {
          const data = await api(`/api/traffic/invite-links/${l.id}/revoke`, { method: "POST", body: {} });
          chats = data.chats;
          campaigns(data.campaigns);
          MiniApp.haptic("success");
        } catch (err) { MiniApp.haptic("error"); status(err.message); }
      };
      const question = t("miniapp.traffic.invite_confirm_revoke");
      if (MiniApp.tg && MiniApp.tg.showConfirm) MiniApp.tg.showConfirm(question, go); else go(window.confirm(question));
    };
    return el("div", { class: `invite-link${l.is_revoked ? " revoked" : ""}`, "data-link": l.id },
      el("div", {}, el("b", {}, l.chat_title || String(l.chat_id)), " ",
        l.creates_join_request ? el("span", { class: "muted" }, "· " + t("miniapp.traffic.invite_requests")) : null),
      el("div", {}, el("code", { class: "link" }, l.url), " ",
        l.is_revoked ? el("span", { class: "muted" }, t("miniapp.traffic.invite_revoked"))
          : el("button", { class: "link copy", type: "button", onclick: () => copy(l.url) }, t("miniapp.traffic.copy"))),
      el("div", { class: "muted figures" }, t("miniapp.traffic.invite_figures", { joins: l.joins, requests: l.requests }),
        " ", l.is_revoked ? null : revoke));
  }
  function inviteForm(c) {
    const input = el("input", { name: "chat", required: true, maxlength: 100, list: "known-chats",
                                placeholder: "@channel", "aria-label": t("miniapp.traffic.invite_chat") });
    const requests = el("input", { type: "checkbox", name: "creates_join_request" });
    const form = el("form", { class: "row invite-form" },
      el("label", {}, t("miniapp.traffic.invite_chat"), input),
      el("label", { class: "check" }, requests, " ", t("miniapp.traffic.invite_requests")),
      el("button", { class: "primary", type: "submit" }, t("miniapp.traffic.invite_create")));
    form.addEventListener("submit", async e => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      try {
        const data = await api(`/api/traffic/campaigns/${encodeURIComponent(c.code)}/invite-links`,
          { method: "POST", body: { chat: input.value, creates_join_request: requests.checked } });
        chats = data.chats;
        campaigns(data.campaigns);
        MiniApp.haptic("success");
      } catch (err) { MiniApp.haptic("error"); status(err.message); }
    });
    return form;
  }
  function status(text, error = true) {
    const box = root.querySelector("#campaign-status");
    box.textContent = text;
    box.classList.toggle("error", error && !!text);
  }
  function campaigns(rows) {
    root.querySelector("#known-chats").replaceChildren(
      ...chats.map(c => el("option", { value: String(c.id) }, c.title || String(c.id))));
    status("", false);
    if (!rows.length) return list.replaceChildren(el("p", { class: "muted" }, t("miniapp.traffic.no_campaigns")));
    list.replaceChildren(...rows.map(c => el("div", { class: "card campaign", "data-code": c.code },
      el("b", {}, c.name), el("div", { class: "muted" }, `${c.source} / ${c.medium} · ${c.code}`),
      el("div", { class: "muted" }, t("miniapp.traffic.campaign_figures",
                                      { customers: c.customers, dialogs: c.dialogs, won: c.won })),
      ...c.links.map(l => el("div", {}, el("code", { class: "link" }, l.url), " ",
        el("button", { class: "link copy", type: "button", onclick: () => copy(l.url) }, t("miniapp.traffic.copy")))),
      el("details", { class: "invites", open: c.invite_links.length > 0 },
        el("summary", {}, t("miniapp.traffic.invite_links"), c.invite_links.length ? ` (${c.invite_links.length})` : ""),
        el("p", { class: "muted" }, t("miniapp.traffic.invite_help")),
        ...c.invite_links.map(inviteLink), inviteForm(c)))));
  }
  const form = root.querySelector("#new-campaign");
  const create = async () => {
    if (!form.reportValidity()) return;
    const body = Object.fromEntries(new FormData(form).entries());
    try {
      const made = await api("/api/traffic/campaigns", { method: "POST", body });
      form.reset();
      campaigns(made.campaigns);
      MiniApp.haptic("success");
    } catch (err) { MiniApp.haptic("error"); MiniApp.fail(err, list); }
  };
  form.addEventListener("submit", e => { e.preventDefault(); create(); });
  const query = MiniApp.filters(root, show);
  await Promise.all([show(query()), api("/api/traffic/campaigns").then(d => { chats = d.chats; campaigns(d.campaigns); })
    .catch(err => MiniApp.fail(err, list))]);
};
