// AI spend: the exact total (as `salesop spend` prints it) and its split by day, model, purpose and dialog.
"use strict";
MiniApp.pages.spend = async (root) => {
  const { api, t } = MiniApp;
  const charts = root.querySelector("#charts");
  async function show(q) {
    try {
      const data = await api("/api/spend?" + q.toString());
      MiniApp.tiles(root.querySelector("#tiles"), [
        { id: "total", label: t("miniapp.spend.total"), value: data.total_cents },
        { id: "exact", label: t("miniapp.spend.exact"), value: data.total_usd },
        { id: "calls", label: t("miniapp.spend.calls"), value: data.calls },
      ]);
      root.querySelector("#tile-exact b").textContent = "$" + data.total_usd;  // every decimal, not rounded
      root.querySelector("#tile-total b").textContent = "$" + data.total_cents;
      while (MiniApp.cleanup.length) MiniApp.cleanup.pop()();
      charts.replaceChildren();
      const stamp = `${data.period.from}_${data.period.to}`;
      for (const spec of data.charts) MiniApp.chart(charts, spec, `spend_${spec.id}_${stamp}.csv`);
    } catch (err) { MiniApp.fail(err, charts); }
  }
  const query = MiniApp.filters(root, show);
  await show(query());
};
