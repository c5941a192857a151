// The catalog: products searched, created, edited and deleted; a catalog CSV uploaded with its bad rows by line.
"use strict";
MiniApp.fileBase64 = MiniApp.fileBase64 || (file => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
  reader.onerror = () => reject(reader.error);
  reader.readAsDataURL(file);
}));

MiniApp.pages.catalog = async (root) => {
  const { api, el, t } = MiniApp;
  const list = root.querySelector("#products");
  const editor = root.querySelector("#editor");
  const editorError = root.querySelector("#editor-error");
  const q = root.querySelector("#q");
  const byId = new Map();
  let editing = null;

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

  function edit(p) {
    editing = p ? p.id : null;
    editor.hidden = false;
    editorError.hidden = true;
    root.querySelector("#editor-title").textContent = p ? t("miniapp.catalog.edit") : t("miniapp.catalog.new");
    for (const name of ["sku", "name", "price", "currency", "stock", "description", "delivery"]) {
      const v = p ? p[name] : "";
      editor.elements[name].value = v === null || v === undefined ? "" : String(v);
    }
    root.querySelector("#delete-product").hidden = !p;
    editor.scrollIntoView({ block: "start" });
    MiniApp.haptic();
  }
  root.querySelector("#new-product").addEventListener("click", () => edit(null));
  root.querySelector("#cancel-product").addEventListener("click", () => { editor.hidden = true; editing = null; });
  editor.addEventListener("submit", async e => {
    e.preventDefault();
    if (!editor.reportValidity()) return;
    const body = Object.fromEntries(new FormData(editor).entries());
    try {
      await api(editing ? `/api/catalog/${editing}` : "/api/catalog", { method: editing ? "PUT" : "POST", body });
      editor.hidden = true;
      editing = null;
      MiniApp.haptic("success");
      await show();
    } catch (err) {
      editorError.textContent = err.message;
      editorError.hidden = false;
      MiniApp.haptic("error");
    }
  });
  root.querySelector("#delete-product").addEventListener("click", async () => {
    if (!editing || !window.confirm(t("miniapp.catalog.confirm_delete"))) return;
    try {
      await api(`/api/catalog/${editing}`, { method: "DELETE" });
      editor.hidden = true;
      editing = null;
      MiniApp.haptic("success");
      await show();
    } catch (err) { editorError.textContent = err.message; editorError.hidden = false; }
  });

  const upload = root.querySelector("#upload");
  const report = root.querySelector("#upload-report");
  upload.addEventListener("submit", async e => {
    e.preventDefault();
    const file = upload.elements.file.files[0];
    if (!file) return;
    report.replaceChildren(el("p", { class: "muted" }, t("miniapp.common.loading")));
    try {
      const data = await api("/api/catalog/upload", { method: "POST", body: {
        name: file.name, data: await MiniApp.fileBase64(file) } });
      report.replaceChildren(el("p", { id: "upload-summary" }, data.summary),
        el("ul", {}, data.errors.map(e => el("li", { class: "upload-error", "data-line": e.line }, e.text))),
        data.ignored ? el("p", { class: "muted" }, data.ignored) : null);
      MiniApp.haptic(data.errors.length ? "warning" : "success");
      upload.elements.file.value = "";
      await show();
    } catch (err) { MiniApp.haptic("error"); MiniApp.fail(err, report); }
  });

  await show();
};
