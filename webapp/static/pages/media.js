// The media library: files uploaded (checked by the server against what Telegram and VK accept) and previewed, and the
// quick replies managers insert from a dialog's topic with /q <words>.
"use strict";

MiniApp.pages.media = async (root, ctx) => {
  const { api, el, t } = MiniApp;
  const kinds = ctx.data.kinds;
  const icons = { photo: "🖼", video: "🎬", voice: "🎙", document: "📄" };
  const grid = root.querySelector("#items");
  const status = root.querySelector("#status");
  const urls = [];
  MiniApp.cleanup.push(() => urls.forEach(u => URL.revokeObjectURL(u)));
  let items = [];

  // The same credentials MiniApp.api sends; the body is the file itself (no base64: up to 50 MB).
  const initData = () => (MiniApp.tg && MiniApp.tg.initData) || sessionStorage.getItem("miniapp.initData") || "";
  function url(path, params = {}) {
    const u = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params)) if (v) u.searchParams.set(k, v);
    if (MiniApp.tenant()) u.searchParams.set("tenant", MiniApp.tenant());
    return u;
  }
  async function blobOf(id) {
    const res = await fetch(url(`/api/media/${id}/file`), { headers: { Authorization: "tma " + initData() } });
    if (!res.ok) throw new Error(res.statusText);
    const link = URL.createObjectURL(await res.blob());
    urls.push(link);
    return link;
  }
  const mb = size => (size || 0) < 1048576 ? Math.max(1, Math.round((size || 0) / 1024)) + " KB"
    : MiniApp.number(size / 1048576, 1) + " MB";

  // ---- the library
  function preview(item) {
    const thumb = el("div", { class: "thumb" }, icons[item.kind] || "📎");
    if (item.kind === "photo") {
      blobOf(item.id).then(src => thumb.replaceChildren(el("img", { src, alt: item.title }))).catch(() => {});
    } else if (item.kind === "video" || item.kind === "voice") {
      thumb.append(el("button", { type: "button", class: "link play", onclick: async e => {
        e.stopPropagation();
        const src = await blobOf(item.id);
        thumb.replaceChildren(item.kind === "video" ? el("video", { src, controls: true }) : el("audio", { src, controls: true }));
      } }, "▶"));
    }
    return thumb;
  }
  function card(item) {
    return el("div", { class: "media-item", "data-id": item.id, "data-kind": item.kind },
      preview(item),
      el("b", {}, item.title),
      el("span", { class: "line" }, [kinds[item.kind] || item.kind, mb(item.size)].join(" · ")),
      item.tags.length ? el("span", { class: "line" }, item.tags.map(x => "#" + x).join(" ")) : null,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "link danger delete", onclick: () => remove(item) }, t("miniapp.media.delete"))));
  }
  const search = root.querySelector("#search");
  const q = root.querySelector("#q");
  const kindFilter = root.querySelector("#kind-filter");
  async function show() {
    try {
      const params = new URLSearchParams();
      if (q.value.trim()) params.set("q", q.value.trim());
      if (kindFilter.value) params.set("kind", kindFilter.value);
      const data = await api("/api/media?" + params.toString());
      if (!q.value.trim() && !kindFilter.value) items = data.items;
      if (!data.items.length) return grid.replaceChildren(el("p", { class: "muted", id: "no-items" }, t("miniapp.media.none")));
      grid.replaceChildren(...data.items.map(card));
    } catch (err) { MiniApp.fail(err, grid); }
  }
  async function remove(item) {
    if (!confirm(t("miniapp.media.confirm_delete", { title: item.title }))) return;
    try {
      await api(`/api/media/${item.id}`, { method: "DELETE" });
      MiniApp.haptic("success");
      status.textContent = t("miniapp.media.deleted", { title: item.title });
      await show();
    } catch (err) { MiniApp.haptic("error"); status.textContent = err.message; }
  }
  search.addEventListener("submit", e => { e.preventDefault(); show(); });
  let timer = null;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, 300); });
  MiniApp.cleanup.push(() => clearTimeout(timer));
  kindFilter.addEventListener("change", show);

  // ---- upload
  const upload = root.querySelector("#upload");
  const uploadError = root.querySelector("#upload-error");
  const fileInput = root.querySelector("#upload-file");
  const titleInput = root.querySelector("#upload-title");
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && !titleInput.value) titleInput.value = file.name.replace(/\.[^.]+$/, "");
  });
  upload.addEventListener("submit", async e => {
    e.preventDefault();
    uploadError.hidden = true;
    const file = fileInput.files[0];
    if (!file) return upload.reportValidity();
    if (file.size > ctx.data.upload_limit) {
      uploadError.textContent = t("miniapp.media.too_big", { size: mb(file.size) });
      uploadError.hidden = false;
      return MiniApp.haptic("error");
    }
    const button = root.querySelector("#upload-go");
    button.disabled = true;
    status.textContent = t("miniapp.media.uploading", { name: file.name });
    try {
      const target = url("/api/media", {
        title: titleInput.value.trim(), tags: root.querySelector("#upload-tags").value.trim(), name: file.name,
        kind: root.querySelector("#upload-as-document").checked ? "document" : "",
      });
      const res = await fetch(target, { method: "POST", body: file, headers: {
        Authorization: "tma " + initData(), "Content-Type": file.type || "application/octet-stream" } });
      const data = await res.json().catch(() => ({ error: res.statusText }));
      if (!res.ok) throw new Error(data.error || res.statusText);
      MiniApp.haptic("success");
      status.textContent = t("miniapp.media.uploaded", { title: data.item.title });
      upload.reset();
      await show();
    } catch (err) {
      MiniApp.haptic("error");
      status.textContent = "";
      uploadError.textContent = err.message;
      uploadError.hidden = false;
    }
    button.disabled = false;
  });

  // ---- quick replies
  const list = root.querySelector("#replies");
  const editor = root.querySelector("#reply-editor");
  const editorError = root.querySelector("#reply-error");
  const mediaBox = root.querySelector("#reply-media");
  let editing = null;
  let replies = [];
  const titleOf = id => (items.find(i => i.id === id) || {}).title || "#" + id;
  async function showReplies() {
    try {
      replies = (await api("/api/quick")).replies;
      if (!replies.length) return list.replaceChildren(el("p", { class: "muted", id: "no-replies" }, t("miniapp.media.quick.none")));
      list.replaceChildren(...replies.map(r => el("div", { class: "reply", "data-id": r.id, onclick: () => edit(r) },
        el("b", {}, r.name),
        r.text ? el("div", { class: "line" }, r.text.length > 160 ? r.text.slice(0, 160) + "…" : r.text) : null,
        r.media_item_ids.length ? el("div", { class: "line files" }, "📎 " + r.media_item_ids.map(titleOf).join(", ")) : null)));
    } catch (err) { MiniApp.fail(err, list); }
  }
  function edit(reply) {
    editing = reply ? reply.id : null;
    editor.hidden = false;
    editorError.hidden = true;
    root.querySelector("#reply-editor-title").textContent = reply ? t("miniapp.media.quick.edit") : t("miniapp.media.quick.new");
    editor.elements.name.value = reply ? reply.name : "";
    editor.elements.text.value = reply ? reply.text : "";
    const chosen = new Set(reply ? reply.media_item_ids : []);
    mediaBox.replaceChildren(el("legend", {}, t("miniapp.media.quick.files")),
      ...(items.length ? items.map(i => el("label", {},
        el("input", { type: "checkbox", name: "media", value: i.id, checked: chosen.has(i.id) }),
        (icons[i.kind] || "📎") + " " + i.title)) : [el("span", { class: "muted" }, t("miniapp.media.quick.no_files"))]));
    root.querySelector("#reply-delete").hidden = !reply;
    editor.scrollIntoView({ behavior: "smooth", block: "start" });
  }
  root.querySelector("#new-reply").addEventListener("click", () => edit(null));
  root.querySelector("#reply-cancel").addEventListener("click", () => { editor.hidden = true; });
  editor.addEventListener("submit", async e => {
    e.preventDefault();
    if (!editor.reportValidity()) return;
    const body = {
      name: editor.elements.name.value, text: editor.elements.text.value,
      media_item_ids: [...mediaBox.querySelectorAll("input[name=media]:checked")].map(x => Number(x.value)),
    };
    try {
      const saved = await api(editing ? `/api/quick/${editing}` : "/api/quick", { method: editing ? "PUT" : "POST", body });
      MiniApp.haptic("success");
      status.textContent = t("miniapp.media.quick.saved", { name: saved.reply.name });
      editor.hidden = true;
      await showReplies();
    } catch (err) {
      MiniApp.haptic("error");
      editorError.textContent = err.message;
      editorError.hidden = false;
    }
  });
  root.querySelector("#reply-delete").addEventListener("click", async () => {
    const reply = replies.find(r => r.id === editing);
    if (!reply || !confirm(t("miniapp.media.quick.confirm_delete", { name: reply.name }))) return;
    try {
      await api(`/api/quick/${reply.id}`, { method: "DELETE" });
      MiniApp.haptic("success");
      editor.hidden = true;
      await showReplies();
    } catch (err) { editorError.textContent = err.message; editorError.hidden = false; }
  });

  await show();
  await showReplies();
};
