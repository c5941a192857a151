// The traffic report (first / last touch) and the campaign links.
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
  function campaigns(rows) {
    if (!rows.length) return list.replaceChildren(el("p", { class: "muted" }, t("miniapp.traffic.no_campaigns")));
    list.replaceChildren(...rows.map(c => el("div", { class: "card campaign", "data-code": c.code },
      el("b", {}, c.name), el("div", { class: "muted" }, `${c.source} / ${c.medium} · ${c.code}`),
      el("div", { class: "muted" }, t("miniapp.traffic.campaign_figures",
                                      { customers: c.customers, dialogs: c.dialogs, won: c.won })),
      ...c.links.map(l => el("div", {}, el("code", { class: "link" }, l.url), " ",
        el("button", { class: "link copy", type: "button", onclick: () => copy(l.url) }, t("miniapp.traffic.copy")))))));
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
  await Promise.all([show(query()), api("/api/traffic/campaigns").then(d => campaigns(d.campaigns))
    .catch(err => MiniApp.fail(err, list))]);
};
