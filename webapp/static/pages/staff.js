// Staff: invitation links (role, validity) with Copy and Share (Telegram's share sheet), the invitations still
// unused (each can be withdrawn: its link stops working at once), and the people — role changes and removal take effect at once (core.services.staff).
"use strict";
MiniApp.pages.staff = async (root, ctx) => {
  const { el, t, api, tg } = MiniApp;
  const status = root.querySelector("#status");
  const when = iso => iso ? new Date(iso).toLocaleString(ctx.member.locale === "en" ? "en-GB" : "ru-RU",
    { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" }) : "";
  const say = (text, ok = true) => {
    status.textContent = text;
    status.classList.toggle("error", !ok);
    MiniApp.haptic(ok ? "success" : "error");
  };

  let roles = [];
  async function refresh() {
    const data = await api("/api/staff");
    roles = data.roles;
    const roleSelect = root.querySelector("#invite-role");
    const chosen = roleSelect.value;
    roleSelect.replaceChildren(...roles.map(r => el("option", { value: r.code }, r.name)));
    roleSelect.value = chosen || (roles.find(r => r.code === "manager") ? "manager" : roles[0].code);
    root.querySelector("#invitations").replaceChildren(...(data.invitations.length
      ? data.invitations.map(invitation)
      : [el("p", { class: "muted" }, t("miniapp.staff.invitations.none"))]));
    root.querySelector("#people").replaceChildren(...data.staff.map(person));
  }

  function invitation(i) {
    const revoke = el("button", { type: "button", class: "danger revoke-invitation" }, t("miniapp.staff.invitation_revoke"));
    revoke.onclick = () => {
      const go = async ok => {
        if (!ok) return;
        try {
          await api(`/api/staff/invitations/${i.id}/revoke`, { method: "POST", body: {} });
          say(t("miniapp.staff.invitation_revoked", { role: i.role_name }));
          await refresh();
        } catch (err) { say(err.message, false); }
      };
      const question = t("miniapp.staff.invitation_revoke_confirm", { role: i.role_name });
      if (tg && tg.showConfirm) tg.showConfirm(question, go); else go(window.confirm(question));
    };
    return el("div", { class: "muted invitation", "data-invitation": i.id },
      el("span", {}, t("miniapp.staff.invitation", { role: i.role_name, expires: when(i.expires_at), by: i.created_by || "CLI" })),
      " ", revoke);
  }

  function person(p) {
    const head = el("div", { class: "head" }, el("b", {}, p.name),
      p.username ? el("span", { class: "muted" }, "@" + p.username) : null,
      p.is_me ? el("span", { class: "muted" }, t("miniapp.staff.me")) : null,
      !p.active ? el("span", { class: "muted" }, t("miniapp.staff.removed")) : null);
    const lines = [
      el("div", { class: "line" }, p.last_active_at ? t("miniapp.staff.last_active", { when: when(p.last_active_at) })
                                                    : t("miniapp.staff.never")),
    ];
    if (p.active) {
      lines.push(el("div", { class: "line" }, p.groups.length
        ? t("miniapp.staff.groups", { groups: p.groups.map(g => g.title).join(", ") }) : t("miniapp.staff.no_groups")));
    }
    const card = el("div", { class: `person${p.active ? "" : " removed"}`, "data-staff": p.id }, head, ...lines);
    if (!p.active) return card;
    const select = el("select", { "aria-label": t("miniapp.staff.role"), class: "role", disabled: p.is_me },
      ...roles.map(r => el("option", { value: r.code }, r.name)));
    select.value = p.role;
    select.onchange = async () => {
      try {
        await api(`/api/staff/${p.id}/role`, { method: "POST", body: { role: select.value } });
        say(t("miniapp.staff.role_changed", { name: p.name, role: select.selectedOptions[0].textContent }));
        await refresh();
      } catch (err) { select.value = p.role; say(err.message, false); }
    };
    const remove = el("button", { type: "button", class: "danger remove" }, t("miniapp.staff.remove"));
    remove.hidden = p.is_me;
    remove.onclick = () => {
      const go = async ok => {
        if (!ok) return;
        try {
          await api(`/api/staff/${p.id}/remove`, { method: "POST", body: {} });
          say(t("miniapp.staff.removed_done", { name: p.name }));
          await refresh();
        } catch (err) { say(err.message, false); }
      };
      const question = t("miniapp.staff.remove_confirm", { name: p.name });
      if (tg && tg.showConfirm) tg.showConfirm(question, go); else go(window.confirm(question));
    };
    card.append(el("div", { class: "actions" }, select, remove));
    return card;
  }

  let link = null;
  root.querySelector("#invite-form").addEventListener("submit", async e => {
    e.preventDefault();
    const role = root.querySelector("#invite-role");
    try {
      const made = await api("/api/staff/invitations", { method: "POST",
        body: { role: role.value, days: Number(root.querySelector("#invite-days").value) } });
      link = made.link;
      const roleName = role.selectedOptions[0].textContent;
      root.querySelector("#invite-result").hidden = false;
      root.querySelector("#invite-text").textContent = link
        ? t("miniapp.staff.invite.made", { role: roleName, expires: when(made.expires_at) })
        : t("miniapp.staff.invite.no_bot", { token: made.token });
      root.querySelector("#invite-link").textContent = link || "";
      root.querySelector("#invite-copy").hidden = root.querySelector("#invite-share").hidden = !link;
      MiniApp.haptic("success");
      await refresh();
    } catch (err) { say(err.message, false); }
  });
  root.querySelector("#invite-copy").onclick = async () => {
    try {
      await navigator.clipboard.writeText(link);
    } catch (err) {  // no clipboard permission: select the text so the person copies it
      const range = document.createRange();
      range.selectNodeContents(root.querySelector("#invite-link"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    say(t("miniapp.staff.copied"));
  };
  root.querySelector("#invite-share").onclick = () => {
    const url = "https://t.me/share/url?url=" + encodeURIComponent(link) + "&text="
      + encodeURIComponent(t("miniapp.staff.share_text", { tenant: ctx.member.tenant.name }));
    if (tg && tg.openTelegramLink) tg.openTelegramLink(url); else window.open(url, "_blank");
    MiniApp.haptic("light");
  };
  await refresh();
};
