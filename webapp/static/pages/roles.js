// Roles: pick a role, tick what it may do and which customer fields it sees, save (core.services.roles refuses what
// is not allowed: the owner role keeps everything, no granting beyond one's own rights, no locking oneself out).
// "New role" opens the same editor for a role to create (name, permissions, visibility); a role that is not built in
// can be deleted once nobody holds it. The matrix below shows every role against every field.
"use strict";
MiniApp.pages.roles = async (root, ctx) => {
  const { el, t, api, tg } = MiniApp;
  const { permissions, fields, builtin } = ctx.data;
  const status = root.querySelector("#status");
  const nameRow = root.querySelector("#new-name-row");
  const nameInput = root.querySelector("#new-name");
  const saveButton = root.querySelector("#save");
  const deleteButton = root.querySelector("#delete");
  let roles = [];
  let current = null;  // the role being edited; null: a new role

  const say = (text, ok = true) => {
    status.textContent = text;
    status.classList.toggle("error", !ok);
    MiniApp.haptic(ok ? "success" : "error");
  };
  function box(kind, item, checked) {
    return el("label", {}, el("input", { type: "checkbox", name: kind, value: item.code, checked,
                                         "data-code": item.code }), item.label);
  }
  function draw(role) {
    root.querySelectorAll("#role-chips button").forEach(b => b.classList.toggle("on", role ? b.dataset.role === role.code
                                                                                            : b.id === "new-role"));
    root.querySelector("#editor").hidden = false;
    nameRow.hidden = !!role;
    root.querySelector("#people-count").hidden = !role;
    if (role) root.querySelector("#people-count").textContent = t("miniapp.roles.people", { count: role.people });
    root.querySelector("#owner-note").hidden = !role || role.code !== "owner";
    root.querySelector("#builtin-note").hidden = !role || role.code === "owner" || !builtin.includes(role.code);
    deleteButton.hidden = !role || builtin.includes(role.code);
    saveButton.textContent = role ? t("miniapp.roles.save") : t("miniapp.roles.create");
    const hidden = role ? role.hidden_fields : [];
    const granted = role ? role.permissions : [];
    root.querySelector("#fields").replaceChildren(...fields.map(f => box("field", f, !hidden.includes(f.code))));
    root.querySelector("#permissions").replaceChildren(...permissions.map(p => {
      const label = box("permission", p, granted.includes(p.code));
      if (role && role.code === "owner") label.querySelector("input").disabled = true;
      return label;
    }));
  }
  function select(code) {
    current = roles.find(r => r.code === code);
    draw(current);
    status.textContent = "";
  }
  function startNew() {
    current = null;
    nameInput.value = "";
    draw(null);
    status.textContent = "";
    nameInput.focus();
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
      onclick: () => { MiniApp.haptic(); select(r.code); } }, r.name)),
      el("button", { type: "button", id: "new-role", onclick: () => { MiniApp.haptic(); startNew(); } },
         "+ " + t("miniapp.roles.new")));
    matrix();
    select(keep && roles.some(r => r.code === keep) ? keep : (roles.find(r => r.code === "manager") || roles[0]).code);
  }
  async function save() {
    const checked = name => [...root.querySelectorAll(`#editor input[name=${name}]`)];
    const body = {
      hidden_fields: checked("field").filter(i => !i.checked).map(i => i.value),
      permissions: checked("permission").filter(i => i.checked).map(i => i.value),
    };
    try {
      if (current === null) {
        if (!nameInput.reportValidity()) return;
        const res = await api("/api/roles", { method: "POST", body: { ...body, name: nameInput.value } });
        await refresh(res.role.code);
        say(t("miniapp.roles.created", { role: res.role.name }));
        return;
      }
      const res = await api(`/api/roles/${encodeURIComponent(current.code)}`, { method: "POST", body });
      await refresh(res.role.code);
      say(t("miniapp.roles.saved", { role: res.role.name }));
    } catch (err) { say(err.message, false); }
  }
  deleteButton.onclick = () => {
    const role = current;
    if (!role) return;
    const go = async ok => {
      if (!ok) return;
      try {
        const res = await api(`/api/roles/${encodeURIComponent(role.code)}/delete`, { method: "POST", body: {} });
        await refresh();
        say(t("miniapp.roles.deleted", { role: res.name }));
      } catch (err) { say(err.message, false); }
    };
    const question = t("miniapp.roles.delete_confirm", { role: role.name });
    if (tg && tg.showConfirm) tg.showConfirm(question, go); else go(window.confirm(question));
  };
  saveButton.onclick = save;
  MiniApp.mainButton(t("miniapp.roles.save"), save);
  await refresh();
};
