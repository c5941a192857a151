// What the editing pages (knowledge base, catalog) share: a file read as base64, an upload form with its per-line
// report, and a record editor (create / save / delete against one REST resource). Loaded before the page's script.
"use strict";
(function () {
  const { api, el, t, haptic } = MiniApp;

  // A file as base64 (the server reads it with the CLI's own reader, whatever its encoding).
  MiniApp.fileBase64 = file => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

  // An upload form: the chosen file is posted as {name, data, ...extra()}; the answer's summary and its errors (one
  // per bad line) are shown in `report`, then `done()` refreshes the page.
  MiniApp.uploadForm = ({ form, report, url, extra = () => ({}), errorItem, done }) => {
    form.addEventListener("submit", async e => {
      e.preventDefault();
      const file = form.elements.file.files[0];
      if (!file) return;
      report.replaceChildren(el("p", { class: "muted" }, t("miniapp.common.loading")));
      try {
        const data = await api(url, { method: "POST", body: {
          name: file.name, data: await MiniApp.fileBase64(file), ...extra() } });
        report.replaceChildren(el("p", { id: "upload-summary" }, data.summary),
          el("ul", {}, data.errors.map(errorItem)),
          data.ignored ? el("p", { class: "muted" }, data.ignored) : null);
        haptic(data.errors.length ? "warning" : "success");
        form.elements.file.value = "";
        await done();
      } catch (err) { haptic("error"); MiniApp.fail(err, report); }
    });
  };

  // A record editor over `url` (POST url to create, PUT/DELETE url/<id> to change): open(record | null) fills the
  // form through fill(record), Save and Delete (after confirmText) call saved() on success; a refusal is
  // shown above the form.
  MiniApp.recordEditor = ({ form, error, title, url, titles, fill, deleteButton, cancelButton, confirmText, saved }) => {
    let editing = null;
    const close = () => { form.hidden = true; editing = null; };
    const refused = err => { error.textContent = err.message; error.hidden = false; haptic("error"); };
    const open = record => {
      editing = record ? record.id : null;
      form.hidden = false;
      error.hidden = true;
      title.textContent = record ? titles.edit : titles.create;
      fill(record);
      deleteButton.hidden = !record;
      form.scrollIntoView({ block: "start" });
    };
    cancelButton.addEventListener("click", close);
    form.addEventListener("submit", async e => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const body = Object.fromEntries(new FormData(form).entries());
      try {
        await api(editing ? `${url}/${editing}` : url, { method: editing ? "PUT" : "POST", body });
        close();
        haptic("success");
        await saved();
      } catch (err) { refused(err); }
    });
    deleteButton.addEventListener("click", async () => {
      if (!editing || !window.confirm(confirmText)) return;
      try {
        await api(`${url}/${editing}`, { method: "DELETE" });
        close();
        haptic("success");
        await saved();
      } catch (err) { refused(err); }
    });
    return { open };
  };
})();
