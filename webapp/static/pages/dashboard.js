// The dashboard: tiles and charts for the period and filters; each chart has its table and CSV.
"use strict";
MiniApp.pages.dashboard = async (root) => {
  const { api, el } = MiniApp;
  const charts = root.querySelector("#charts");
  let filled = false;
  async function show(q) {
    try {
      const data = await api("/api/dashboard?" + q.toString());
      if (!filled) {  // the filter choices, once
        for (const [name, list] of [["channel", data.choices.channels], ["manager", data.choices.managers],
                                    ["group", data.choices.groups]]) {
          const select = root.querySelector(`select[name=${name}]`);
          select.append(...list.map(c => el("option", { value: c.id }, c.name)));
          if (data.filters[name]) select.value = String(data.filters[name]);
        }
        filled = true;
      }
      MiniApp.tiles(root.querySelector("#tiles"), data.tiles);
      while (MiniApp.cleanup.length) MiniApp.cleanup.pop()();
      charts.replaceChildren();
      const stamp = `${data.period.from}_${data.period.to}`;
      for (const spec of data.charts) MiniApp.chart(charts, spec, `${spec.id}_${stamp}.csv`);
    } catch (err) { MiniApp.fail(err, charts); }
  }
  const query = MiniApp.filters(root, show);
  await show(query());
};
