// The knowledge base: a test question through the pipeline, documents searched, edited, uploaded and re-embedded.
"use strict";

MiniApp.pages.knowledge = async (root, ctx) => {
  const { api, el, t } = MiniApp;
  const list = root.querySelector("#documents");
  const types = ctx.data.types;

  // ---- a test question
  const askForm = root.querySelector("#ask");
  const answerBox = root.querySelector("#answer");
  askForm.addEventListener("submit", async e => {
    e.preventDefault();
    if (!askForm.reportValidity()) return;
    const body = Object.fromEntries(new FormData(askForm).entries());
    const button = root.querySelector("#ask-go");
    button.disabled = true;
    answerBox.replaceChildren(el("p", { class: "muted" }, t("miniapp.knowledge.ask.thinking")));
    try {
      const a = await api("/api/knowledge/ask", { method: "POST", body });
      const sources = a.sources.map(s => s.kind === "product" ? `${s.name} (${s.sku})` : s.title);
      answerBox.replaceChildren(el("div", { class: "card answer", id: "answer-card" },
        el("div", { class: "reply", id: "answer-reply" }, a.reply),
        el("dl", {},
          el("dt", {}, t("miniapp.knowledge.ask.intent")), el("dd", { id: "answer-intent", "data-intent": a.intent }, a.intent_label),
          el("dt", {}, t("miniapp.knowledge.ask.confidence")), el("dd", { id: "answer-confidence" }, MiniApp.number(a.confidence, 2)),
          el("dt", {}, t("miniapp.knowledge.ask.decision")),
          el("dd", { id: "answer-decision", class: `decision-${a.decision}` }, a.decision_label),
          a.reasons.length ? [el("dt", {}, t("miniapp.knowledge.ask.reasons")), el("dd", {}, a.reasons.join("; "))] : null,
          el("dt", {}, t("miniapp.knowledge.ask.sources")),
          el("dd", { id: "answer-sources" }, sources.length ? sources.join(", ") : t("miniapp.knowledge.ask.no_sources")),
          a.model ? [el("dt", {}, t("miniapp.knowledge.ask.model")), el("dd", {}, a.model)] : null)));
      MiniApp.haptic("success");
    } catch (err) { MiniApp.haptic("error"); MiniApp.fail(err, answerBox); }
    button.disabled = false;
  });

  // ---- the list
  const search = root.querySelector("#search");
  const q = root.querySelector("#q");
  const typeFilter = root.querySelector("#type-filter");
  async function show() {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    if (typeFilter.value) params.set("type", typeFilter.value);
    try {
      const data = await api("/api/knowledge?" + params.toString());
      root.querySelector("#stale").textContent = data.stale ? t("miniapp.knowledge.stale", { count: data.stale }) : "";
      if (!data.documents.length) return list.replaceChildren(el("p", { class: "muted" }, t("miniapp.knowledge.none")));
      list.replaceChildren(...data.documents.map(d => el("div", { class: "card doc", "data-id": d.id, onclick: () => open(d.id) },
        el("b", {}, d.title),
        el("span", { class: "muted" }, [types[d.type] || d.type, d.category, d.tags.length ? d.tags.map(x => "#" + x).join(" ") : null,
          t("miniapp.knowledge.chunks", { count: d.chunks }), d.source].filter(Boolean).join(" · ")))));
    } catch (err) { MiniApp.fail(err, list); }
  }
  search.addEventListener("submit", e => { e.preventDefault(); show(); });
  let timer = null;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, 300); });
  MiniApp.cleanup.push(() => clearTimeout(timer));
  typeFilter.addEventListener("change", show);

  // ---- the editor
  const form = root.querySelector("#editor");
  const editor = MiniApp.recordEditor({
    form, error: root.querySelector("#editor-error"), title: root.querySelector("#editor-title"),
    url: "/api/knowledge", titles: { edit: t("miniapp.knowledge.edit"), create: t("miniapp.knowledge.new") },
    deleteButton: root.querySelector("#delete-doc"), cancelButton: root.querySelector("#cancel-doc"),
    confirmText: t("miniapp.knowledge.confirm_delete"), saved: show,
    fill(doc) {
      form.elements.title.value = doc ? doc.title : "";
      form.elements.type.value = doc ? doc.type : "faq";
      form.elements.category.value = doc && doc.category ? doc.category : "";
      form.elements.tags.value = doc ? doc.tags.join(", ") : "";
      form.elements.body.value = doc ? doc.body : "";
      form.elements.title.focus();
    },
  });
  async function open(id) {
    try { editor.open((await api(`/api/knowledge/${id}`)).document); MiniApp.haptic(); }
    catch (err) { MiniApp.fail(err, list); }
  }
  root.querySelector("#new-doc").addEventListener("click", () => { editor.open(null); MiniApp.haptic(); });

  // ---- upload and re-embed
  const upload = root.querySelector("#upload");
  MiniApp.uploadForm({
    form: upload, report: root.querySelector("#upload-report"), url: "/api/knowledge/upload",
    extra: () => ({ type: upload.elements.type.value }), errorItem: line => el("li", { class: "upload-error" }, line),
    done: show,
  });
  root.querySelector("#reembed").addEventListener("click", async () => {
    try {
      const data = await api("/api/knowledge/reembed", { method: "POST", body: {} });
      root.querySelector("#stale").textContent = data.summary;
      MiniApp.haptic("success");
    } catch (err) { MiniApp.haptic("error"); MiniApp.fail(err, root.querySelector("#stale")); }
  });

  await show();
};
