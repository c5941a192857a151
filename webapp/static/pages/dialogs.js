// The dialog list: freshest first, filtered by status.
"use strict";
MiniApp.pages.dialogs = async (root, ctx) => {
  const { el, t, api } = MiniApp;
  const list = root.querySelector("#dialogs");
  const statuses = ctx.data.statuses;
  async function show(status) {
    try {
      const { dialogs } = await api(`/api/dialogs?tenant=${ctx.member.tenant.id}&status=${status}`);
      if (!dialogs.length) return list.replaceChildren(el("p", { class: "muted" }, t("miniapp.dialogs.none")));
      list.replaceChildren(...dialogs.map(d => el("a", { class: "dialog", href: `/dialogs/${d.id}` },
        d.unread ? el("span", { class: "badge" }, String(d.unread)) : null,
        el("b", {}, d.customer.name),
        el("span", { class: "muted" }, [d.channel.title || d.channel.kind, statuses[d.status] || d.status,
          t("miniapp.dialogs.messages", { count: d.messages })].join(" · ")))));
    } catch (err) { MiniApp.fail(err, list); }
  }
  for (const b of root.querySelectorAll("#filters button")) {
    b.onclick = () => {
      root.querySelectorAll("#filters button").forEach(x => x.classList.toggle("on", x === b));
      MiniApp.haptic();
      show(b.dataset.status);
    };
  }
  await show("");
};
