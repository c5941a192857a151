// The dialog list: search (name, phone, @username, message text), status chips and filters, keyset pages
// ("Show more" continues after the last row's cursor). The filters live in the URL's query, so Back keeps them.
"use strict";
MiniApp.pages.dialogs = async (root, ctx) => {
  const { el, t, api } = MiniApp;
  const list = root.querySelector("#dialogs");
  const more = root.querySelector("#more");
  const { statuses, outcomes, channels, staff } = ctx.data;
  const params = new URLSearchParams(location.search);
  const state = {};
  for (const k of ["q", "status", "channel", "manager", "outcome", "unread", "escalated"]) {
    if (params.get(k)) state[k] = params.get(k);
  }
  const channelSelect = root.querySelector("#f-channel");
  channelSelect.append(...channels.map(c => el("option", { value: c.id }, c.title)));
  root.querySelector("#f-manager").append(...staff.map(s => el("option", { value: s.id }, s.name)));
  root.querySelector("#f-outcome").append(...Object.entries(outcomes).map(([k, v]) => el("option", { value: k }, v)));
  root.querySelector("#q").value = state.q || "";
  for (const input of root.querySelectorAll("#more-filters select")) input.value = state[input.name] || "";
  for (const input of root.querySelectorAll("#more-filters input[type=checkbox]")) input.checked = !!state[input.name];

  const query = () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v) q.set(k, v);
    return q;
  };
  const row = d => el("a", { class: "dialog", href: `/dialogs/${d.id}`, "data-id": d.id },
    d.unread ? el("span", { class: "badge" }, String(d.unread)) : null,
    el("b", {}, d.customer.name || `#${d.id}`),
    el("span", { class: "muted" }, [d.channel.title || d.channel.kind, statuses[d.status] || d.status,
      d.outcome ? outcomes[d.outcome] : null, t("miniapp.dialogs.messages", { count: d.messages })]
      .filter(Boolean).join(" · ")),
    d.assignee ? el("span", { class: "muted" }, " · " + t("miniapp.dialogs.assignee", { name: d.assignee.name })) : null,
    d.customer.tags && d.customer.tags.length ? el("div", { class: "tags" }, d.customer.tags.map(x => "#" + x).join(" ")) : null);

  let cursor = null;
  let token = 0;
  async function show(append = false) {
    const mine = ++token;
    const q = query();
    if (append && cursor) q.set("cursor", cursor);
    try {
      const page = await api(`/api/dialogs?${q.toString()}`);
      if (mine !== token) return;  // a newer search started meanwhile
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const rows = page.dialogs.map(row);
      if (append) list.append(...rows);
      else if (!rows.length) list.replaceChildren(el("p", { class: "muted", id: "none" }, t("miniapp.dialogs.none")));
      else list.replaceChildren(...rows);
    } catch (err) {
      if (mine === token) { more.hidden = true; MiniApp.fail(err, list); }
    }
  }
  function changed() {
    history.replaceState(history.state, "", location.pathname + (query().toString() ? "?" + query().toString() : ""));
    MiniApp.haptic();
    cursor = null;
    return show();
  }
  const chips = root.querySelectorAll("#filters button");
  chips.forEach(b => {
    b.classList.toggle("on", (state.status || "") === b.dataset.status);
    b.onclick = () => {
      chips.forEach(x => x.classList.toggle("on", x === b));
      state.status = b.dataset.status;
      changed();
    };
  });
  root.querySelector("#search").addEventListener("submit", e => {
    e.preventDefault();
    state.q = root.querySelector("#q").value.trim();
    changed();
  });
  root.querySelector("#more-filters").addEventListener("submit", e => e.preventDefault());
  for (const input of root.querySelectorAll("#more-filters select, #more-filters input")) {
    input.addEventListener("change", () => {
      state[input.name] = input.type === "checkbox" ? (input.checked ? "1" : "") : input.value;
      changed();
    });
  }
  more.onclick = () => { MiniApp.haptic(); show(true); };
  await show();
};
