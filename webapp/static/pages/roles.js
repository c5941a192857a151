// Roles: pick a role, tick what it may do and which customer fields it sees, save (core.services.roles refuses what
// is not allowed: the owner role keeps everything, no granting beyond one's own rights, no locking oneself out).
// The matrix below shows every role against every field.
"use strict";
MiniApp.pages.roles = async (root, ctx) => {
  const { el, t, api } = MiniApp;
  const { permissions, fields } = ctx.data;
  const status = root.querySelector("#status");
  let roles = [];
  let current = null;

  function box(kind, item, checked) {
    return el("label", {}, el("input", { type: "checkbox", name: kind, value: item.code, checked,
                                         "data-code": item.code }), item.label);
  }
  function select(code) {
    current = roles.find(r => r.code === code);
    root.querySelectorAll("#role-chips button").forEach(b => b.classList.toggle("on", b.dataset.role === code));
    root.querySelector("#editor").hidden = false;
    root.querySelector("#people-count").textContent = t("miniapp.roles.people", { count: current.people });
    root.querySelector("#owner-note").hidden = current.code !== "owner";
    root.querySelector("#fields").replaceChildren(...fields.map(f => box("field", f, !current.hidden_fields.includes(f.code))));
    root.querySelector("#permissions").replaceChildren(...permissions.map(p => {
      const label = box("permission", p, current.permissions.includes(p.code));
      if (current.code === "owner") label.querySelector("input").disabled = true;
      return label;
    }));
    status.textContent = "";
  }
  function matrix() {
    const columns = [{ key: "field", label: "" }, ...roles.map(r => ({ key: r.code, label: r.name }))];
    const table = MiniApp.table(columns, fields.map(f => Object.fromEntries([["field", f.label],
      ...roles.map(r => [r.code, r.hidden_fields.includes(f.code) ? "—" : "✓"])])));
    table.querySelectorAll("tbody td").forEach(td => {
      if (td.textContent === "✓") td.classList.add("yes"); else if (td.textContent === "—") td.classList.add("no");
    });
    root.querySelector("#matrix").replaceChildren(table);
  }
  async function refresh(keep) {
    roles = (await api("/api/roles")).roles;
    root.querySelector("#role-chips").replaceChildren(...roles.map(r => el("button", { type: "button", "data-role": r.code,
      onclick: () => { MiniApp.haptic(); select(r.code); } }, r.name)));
    matrix();
    select(keep || (roles.find(r => r.code === "manager") || roles[0]).code);
  }
  async function save() {
    const checked = name => [...root.querySelectorAll(`#editor input[name=${name}]`)];
    const body = {
      hidden_fields: checked("field").filter(i => !i.checked).map(i => i.value),
      permissions: checked("permission").filter(i => i.checked).map(i => i.value),
    };
    try {
      const res = await api(`/api/roles/${encodeURIComponent(current.code)}`, { method: "POST", body });
      await refresh(res.role.code);
      status.textContent = t("miniapp.roles.saved", { role: res.role.name });
      status.classList.remove("error");
      MiniApp.haptic("success");
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
      MiniApp.haptic("error");
    }
  }
  root.querySelector("#save").onclick = save;
  MiniApp.mainButton(t("miniapp.roles.save"), save);
  await refresh();
};
