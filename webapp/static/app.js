// The Mini App's shell: Telegram's WebApp SDK glue, the page router and helpers shared by the pages.
//
// A page is HTML rendered by the server for the signed-in staff member (GET /view<path>, see webapp/pages.py) plus an
// optional script static/pages/<name>.js that registers MiniApp.pages["<name>"] = async (root, ctx) => {...}.
// ctx: {member, texts, data, path, query}. Helpers: MiniApp.api, MiniApp.tr, MiniApp.el, MiniApp.go, MiniApp.chart,
// MiniApp.table, MiniApp.csv, MiniApp.haptic, MiniApp.mainButton.
"use strict";

(function () {
  const tg = window.Telegram && window.Telegram.WebApp;
  const view = document.getElementById("view");
  const titleEl = document.getElementById("title");
  const navEl = document.getElementById("nav");
  const tenantEl = document.getElementById("tenant");
  const hash = new URLSearchParams(location.hash.slice(1));
  const search = new URLSearchParams(location.search);
  const STORE = window.sessionStorage;

  // initData: from the SDK; without it (a plain browser) from the URL fragment as Telegram passes it. Kept for the
  // session so a reload of an inner page stays signed in, as Telegram's own SDK does.
  const initData = (tg && tg.initData) || hash.get("tgWebAppData") || STORE.getItem("miniapp.initData") || "";
  if (initData) STORE.setItem("miniapp.initData", initData);
  const startParam = (tg && tg.initDataUnsafe && tg.initDataUnsafe.start_param) || hash.get("tgWebAppStartParam")
    || search.get("tgWebAppStartParam") || search.get("startapp") || "";

  // start_param (a direct link t.me/<bot>/<app>?startapp=<param>) → the page it opens.
  const START_ROUTES = [
    [/^dialog_(\d+)$/, m => `/dialogs/${m[1]}`],
  ];

  let texts = {};
  let member = null;
  let current = null;
  const loadedScripts = new Set();

  const MiniApp = window.MiniApp = {
    tg, pages: {}, cleanup: [],

    t(key, vars = {}) {
      const text = texts[key];
      if (text === undefined) return key;
      return text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
    },

    el(tag, attrs = {}, ...children) {
      const node = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : v);
      }
      for (const c of children.flat()) {
        if (c === undefined || c === null || c === false) continue;
        node.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
      return node;
    },

    tenant() { return STORE.getItem("miniapp.tenant") || ""; },

    // fetch with initData; JSON in and out; the chosen tenant travels as ?tenant= unless the path names one.
    async api(path, { method = "GET", body, raw = false } = {}) {
      const url = new URL(path, location.origin);
      if (MiniApp.tenant() && !url.searchParams.has("tenant")) url.searchParams.set("tenant", MiniApp.tenant());
      const headers = { Authorization: "tma " + initData };
      const init = { method, headers };
      if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
      const res = await fetch(url, init);
      if (raw && res.ok) return res;
      const data = await res.json().catch(() => ({ error: res.statusText }));
      if (!res.ok) {
        const err = new Error(data.error || res.statusText);
        err.status = res.status;
        throw err;
      }
      return data;
    },

    go(path, { replace = false } = {}) {
      const depth = (history.state && history.state.depth) || 0;
      if (replace) history.replaceState({ depth }, "", path);
      else history.pushState({ depth: depth + 1 }, "", path);
      return load();
    },

    haptic(kind = "selection") {
      const h = tg && tg.HapticFeedback;
      if (!h) return;
      if (kind === "selection") h.selectionChanged();
      else if (["success", "warning", "error"].includes(kind)) h.notificationOccurred(kind);
      else h.impactOccurred(kind);
    },

    // Telegram's MainButton for the page's main action; hidden again when the page changes.
    mainButton(text, onClick) {
      if (!tg || !tg.MainButton) return null;
      tg.MainButton.setText(text);
      tg.MainButton.onClick(onClick);
      tg.MainButton.show();
      MiniApp.cleanup.push(() => { tg.MainButton.offClick(onClick); tg.MainButton.hide(); });
      return tg.MainButton;
    },

    fail(err, where = view) {
      where.replaceChildren(MiniApp.el("p", { class: "error", id: "error" }, err.message || String(err)));
    },

    number(value, digits) {
      const n = Number(value);
      if (!Number.isFinite(n)) return value === null || value === undefined ? "—" : String(value);
      const opts = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
      return n.toLocaleString(member ? member.locale : "ru", { useGrouping: true, ...opts });
    },

    // A table of rows: columns [{key, label, num}], rows [{...}].
    table(columns, rows) {
      const el = MiniApp.el;
      return el("table", { class: "data" },
        el("thead", {}, el("tr", {}, columns.map(c => el("th", { class: c.num ? "num" : "" }, c.label)))),
        el("tbody", {}, rows.map(r => el("tr", {}, columns.map(c => el("td", { class: c.num ? "num" : "" },
          r[c.key] === null || r[c.key] === undefined ? "" : String(r[c.key])))))));
    },

    // CSV of the same rows (UTF-8 with a BOM so spreadsheet programs read Cyrillic), downloaded as `name`. Inside
    // Telegram (WebApp 8.0+) a blob cannot be saved: the file goes to the server once and the client downloads its
    // short-lived URL (WebApp.downloadFile, webapp/api/downloads.py); in a browser, or when that fails, a blob link.
    async csv(columns, rows, name) {
      const cell = v => {
        const s = v === null || v === undefined ? "" : String(v);
        return /[",\n;]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
      };
      const lines = [columns.map(c => cell(c.label)).join(",")]
        .concat(rows.map(r => columns.map(c => cell(r[c.key])).join(",")));
      const text = "\ufeff" + lines.join("\r\n") + "\r\n";
      if (tg && tg.downloadFile && tg.platform !== "unknown" && tg.isVersionAtLeast && tg.isVersionAtLeast("8.0")) {
        try {
          const made = await MiniApp.api("/api/downloads", { method: "POST", body: { file_name: name, text } });
          tg.downloadFile({ url: new URL(made.url, location.origin).href, file_name: name },
                          accepted => MiniApp.haptic(accepted ? "success" : "warning"));
          return;
        } catch (err) {
          // WebAppDownloadFileParamInvalid (served over http), WebAppDownloadFilePopupOpened, a refused upload…
          console.warn("downloadFile failed, saving the file directly", err);
        }
      }
      const blob = new Blob([text], { type: "text/csv;charset=utf-8" });
      const a = MiniApp.el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      MiniApp.haptic("success");
    },

    // A chart with its table and CSV export. spec: {id, title, type ("bar"|"line"|"doughnut"), x (label column),
    // series: [column keys drawn], columns: [{key, label, num}], rows, stacked}.
    chart(container, spec, fileName) {
      const el = MiniApp.el;
      const canvas = el("canvas", { "aria-label": spec.title, role: "img" });
      const tableBox = el("div", { class: "table-box", hidden: true }, MiniApp.table(spec.columns, spec.rows));
      const toggle = el("button", { class: "link show-table", type: "button" }, MiniApp.t("miniapp.common.table"));
      toggle.onclick = () => {
        tableBox.hidden = !tableBox.hidden;
        toggle.textContent = tableBox.hidden ? MiniApp.t("miniapp.common.table") : MiniApp.t("miniapp.common.hide_table");
        MiniApp.haptic();
      };
      const csv = el("button", { class: "link csv", type: "button" }, "CSV");
      csv.onclick = () => MiniApp.csv(spec.columns, spec.rows, fileName || `${spec.id}.csv`);
      const empty = !spec.rows.length;
      const box = el("section", { class: "chart", id: `chart-${spec.id}` },
        el("div", { class: "chart-head" }, el("h3", {}, spec.title), toggle, csv),
        empty ? el("p", { class: "muted empty" }, MiniApp.t("miniapp.common.no_data")) : el("div", { class: "canvas-box" }, canvas),
        tableBox);
      container.append(box);
      if (!empty && window.Chart) {
        const style = getComputedStyle(document.documentElement);
        const palette = ["--accent", "--c2", "--c3", "--c4", "--c5", "--c6"].map(v => style.getPropertyValue(v).trim() || "#2481cc");
        const labelOf = key => (spec.columns.find(c => c.key === key) || { label: key }).label;
        const doughnut = spec.type === "doughnut";
        const chart = new window.Chart(canvas, {
          type: spec.type || "bar",
          data: {
            labels: spec.rows.map(r => r[spec.x]),
            datasets: spec.series.map((key, i) => ({
              label: labelOf(key), data: spec.rows.map(r => Number(r[key]) || 0),
              backgroundColor: doughnut ? spec.rows.map((_, j) => palette[j % palette.length]) : palette[i % palette.length],
              borderColor: doughnut ? undefined : palette[i % palette.length], tension: 0.25, fill: false,
            })),
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: { legend: { display: doughnut || spec.series.length > 1, position: "bottom",
                                 labels: { color: style.getPropertyValue("--fg").trim() } } },
            scales: doughnut ? {} : {
              x: { stacked: !!spec.stacked, ticks: { color: style.getPropertyValue("--muted").trim(), maxRotation: 0, autoSkip: true } },
              y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { color: style.getPropertyValue("--muted").trim() } },
            },
          },
        });
        MiniApp.cleanup.push(() => chart.destroy());
      } else if (!empty) {
        tableBox.hidden = false;  // no charting library: the table is the chart
      }
      return box;
    },
  };

  // The filters of templates/_filters.html (period buttons, custom dates, optional selects). Their state lives in
  // the page's URL query, so a reload or the BackButton keeps it. Returns query() → URLSearchParams for the API.
  MiniApp.filters = (root, onChange) => {
    const form = root.querySelector("form.filters");
    const params = new URLSearchParams(location.search);
    const state = { period: params.get("period") || "7" };
    for (const input of form.querySelectorAll("input[name], select[name]")) {
      if (params.get(input.name)) { state[input.name] = params.get(input.name); input.value = params.get(input.name); }
    }
    const custom = form.querySelector(".custom");
    const paint = () => {
      form.querySelectorAll("[data-period]").forEach(b => b.classList.toggle("on", b.dataset.period === state.period));
      if (custom) custom.hidden = state.period !== "custom";
    };
    const query = () => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(state)) if (v) q.set(k, v);
      if (state.period !== "custom") { q.delete("from"); q.delete("to"); }
      return q;
    };
    const changed = () => {
      paint();
      if (state.period === "custom" && !(state.from && state.to)) return;
      history.replaceState(history.state, "", location.pathname + "?" + query().toString());
      MiniApp.haptic();
      onChange(query());
    };
    form.addEventListener("submit", e => e.preventDefault());
    form.querySelectorAll("[data-period]").forEach(b => b.addEventListener("click", () => {
      state.period = b.dataset.period;
      changed();
    }));
    form.querySelectorAll("input[name], select[name]").forEach(input => input.addEventListener("change", () => {
      state[input.name] = input.value;
      changed();
    }));
    paint();
    return query;
  };

  // Tiles: [{id, label, value, link}] → small figure cards.
  MiniApp.tiles = (box, tiles) => {
    const el = MiniApp.el;
    box.replaceChildren(...tiles.map(t => {
      const value = t.value === null || t.value === undefined ? "—" : MiniApp.number(t.value);
      const body = [el("b", {}, value), el("span", {}, t.label)];
      return t.link ? el("a", { class: "tile", id: `tile-${t.id}`, href: t.link }, body)
                    : el("div", { class: "tile", id: `tile-${t.id}` }, body);
    }));
  };

  function loadScript(src) {
    if (loadedScripts.has(src)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = () => { loadedScripts.add(src); resolve(); };
      s.onerror = () => reject(new Error("cannot load " + src));
      document.head.append(s);
    });
  }

  function renderNav(items, active) {
    navEl.replaceChildren(...items.map(i => MiniApp.el("a", { href: i.path, class: i.name === active ? "on" : "",
                                                            "data-page": i.name }, i.title)));
    navEl.hidden = items.length < 2;
  }

  function renderTenants(m) {
    tenantEl.replaceChildren(...m.tenants.map(t => MiniApp.el("option", { value: t.id }, `${t.name} — ${t.role}`)));
    tenantEl.value = String(m.tenant.id);
    tenantEl.hidden = m.tenants.length < 2;
  }

  function updateBackButton() {
    if (!tg || !tg.BackButton) return;
    const depth = (history.state && history.state.depth) || 0;
    if (depth > 0) tg.BackButton.show(); else tg.BackButton.hide();
  }

  async function load() {
    while (MiniApp.cleanup.length) {
      try { MiniApp.cleanup.pop()(); } catch (e) { /* a page's cleanup must not block the next page */ }
    }
    updateBackButton();
    const path = location.pathname === "/" ? "/" : location.pathname;
    let page;
    try {
      page = await MiniApp.api("/view" + path + location.search);
    } catch (err) {
      navEl.hidden = !navEl.children.length;
      MiniApp.haptic("error");
      return MiniApp.fail(err);
    }
    member = page.member;
    texts = page.texts;
    current = page.page;
    if (!MiniApp.tenant() || MiniApp.tenant() !== String(member.tenant.id)) STORE.setItem("miniapp.tenant", String(member.tenant.id));
    document.documentElement.lang = member.locale;
    titleEl.textContent = page.title;
    document.title = page.title;
    renderTenants(member);
    renderNav(page.nav, page.page);
    if (page.path !== location.pathname && location.pathname === "/") history.replaceState(history.state, "", page.path + location.search);
    view.innerHTML = page.html;  // rendered by the server with autoescaping
    view.dataset.page = page.page;
    try {
      for (const src of page.scripts) await loadScript(src);
      const init = MiniApp.pages[page.page];
      if (init) await init(view, { member, texts, data: page.data, path: location.pathname,
                                   query: new URLSearchParams(location.search) });
    } catch (err) {
      MiniApp.fail(err);
    }
  }

  document.addEventListener("click", e => {
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || e.defaultPrevented || e.metaKey || e.ctrlKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/static/")) return;
    e.preventDefault();
    MiniApp.haptic();
    MiniApp.go(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => load());
  tenantEl.addEventListener("change", () => {
    STORE.setItem("miniapp.tenant", tenantEl.value);
    MiniApp.haptic();
    MiniApp.go("/", { replace: true });
  });

  if (tg) {
    tg.ready();
    tg.expand();
    if (tg.BackButton) tg.BackButton.onClick(() => history.back());
  }
  if (!initData) {
    view.replaceChildren(MiniApp.el("p", { class: "error", id: "error" }, view.dataset.noTelegram));
    return;
  }
  if (!history.state) history.replaceState({ depth: 0 }, "", location.pathname + location.search);
  if (location.pathname === "/" && startParam) {
    for (const [re, to] of START_ROUTES) {
      const m = startParam.match(re);
      if (m) { history.replaceState({ depth: 0 }, "", to(m)); break; }
    }
  }
  load();
})();
