// The catalog: products searched, created, edited and deleted; a catalog CSV uploaded with its bad rows by line.
"use strict";
MiniApp.pages.catalog = async (root) => {
  const { api, el, t } = MiniApp;
  const list = root.querySelector("#products");
  const q = root.querySelector("#q");
  const byId = new Map();

  const stockText = p => p.stock === null ? t("miniapp.catalog.stock_unknown")
    : p.stock > 0 ? t("miniapp.catalog.stock_some", { count: p.stock }) : t("miniapp.catalog.stock_none");
  async function show() {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    try {
      const data = await api("/api/catalog?" + params.toString());
      root.querySelector("#total").textContent = t("miniapp.catalog.total", { count: data.total });
      byId.clear();
      data.products.forEach(p => byId.set(p.id, p));
      if (!data.products.length) return list.replaceChildren(el("p", { class: "muted" }, t("miniapp.catalog.none")));
      list.replaceChildren(...data.products.map(p => el("div", { class: "card product", "data-sku": p.sku, onclick: () => edit(p) },
        el("div", {}, el("b", {}, p.name), el("span", { class: "muted" }, `${p.sku} · ${stockText(p)}`)),
        el("span", { class: "price" }, `${MiniApp.number(p.price, 2)} ${p.currency}`))));
    } catch (err) { MiniApp.fail(err, list); }
  }
  let timer = null;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, 300); });
  MiniApp.cleanup.push(() => clearTimeout(timer));
  root.querySelector("#search").addEventListener("submit", e => { e.preventDefault(); show(); });

  const editor = MiniApp.recordEditor({
    form: root.querySelector("#editor"), error: root.querySelector("#editor-error"),
    title: root.querySelector("#editor-title"), url: "/api/catalog",
    titles: { edit: t("miniapp.catalog.edit"), create: t("miniapp.catalog.new") },
    deleteButton: root.querySelector("#delete-product"), cancelButton: root.querySelector("#cancel-product"),
    confirmText: t("miniapp.catalog.confirm_delete"), saved: show,
    fill(p) {
      const form = root.querySelector("#editor");
      for (const name of ["sku", "name", "price", "currency", "stock", "description", "delivery"]) {
        const v = p ? p[name] : "";
        form.elements[name].value = v === null || v === undefined ? "" : String(v);
      }
    },
  });
  function edit(p) { editor.open(p); MiniApp.haptic(); }
  root.querySelector("#new-product").addEventListener("click", () => edit(null));

  MiniApp.uploadForm({
    form: root.querySelector("#upload"), report: root.querySelector("#upload-report"), url: "/api/catalog/upload",
    errorItem: e => el("li", { class: "upload-error", "data-line": e.line }, e.text), done: show,
  });

  await show();
};
