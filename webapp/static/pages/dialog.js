// One dialog: the customer (only the fields the role may see — the server never sends the others), the switches
// (AI mode, assignee, won/lost, tags, notes) for roles allowed to use them, and the history page by page, with each
// message's attachments, edits and deletion, and under each customer message the AI drafts and what became of them.
"use strict";
MiniApp.pages.dialog = async (root, ctx) => {
  const { el, t, api } = MiniApp;
  const id = ctx.path.match(/\/dialogs\/(\d+)/)[1];
  const { statuses, outcomes, ai_modes: aiModes, draft_states: draftStates, can, staff, me } = ctx.data;
  const when = iso => iso ? new Date(iso).toLocaleString(ctx.member.locale === "en" ? "en-GB" : "ru-RU",
    { day: "2-digit", month: "2-digit", year: "2-digit", hour: "2-digit", minute: "2-digit" }) : "";
  const box = root.querySelector("#messages");
  const older = root.querySelector("#older");
  const saved = root.querySelector("#saved");

  function field(label, value, key) {
    if (value === undefined || value === null || value === "") return null;
    return el("div", { class: "field", "data-field": key }, el("span", {}, label + ": "), String(value));
  }

  function showDialog(d) {
    const c = d.customer;
    root.querySelector("#customer").replaceChildren(...[
      el("b", {}, c.name || `#${d.id}`),
      field(t("miniapp.dialog.field.status"), statuses[d.status] || d.status, "status"),
      field(t("miniapp.dialog.field.channel"), d.channel.title || d.channel.kind, "channel"),
      field(t("miniapp.dialog.field.phone"), c.phone, "phone"),
      field(t("miniapp.dialog.field.email"), c.email, "email"),
      field(t("miniapp.dialog.field.username"), c.username && "@" + c.username, "username"),
      field(t("miniapp.dialog.field.profile_link"), c.profile_link, "profile_link"),
      field(t("miniapp.dialog.field.traffic_source"), c.traffic_source && Object.values(c.traffic_source).join(" / "), "traffic_source"),
      field(t("miniapp.dialog.field.tags"), c.tags && c.tags.join(", "), "tags"),
      field(t("miniapp.dialog.field.assignee"), d.assignee ? d.assignee.name : t("miniapp.dialog.nobody"), "assignee"),
      field(t("miniapp.dialog.field.ai_mode"), aiModes[d.ai_mode] || d.ai_mode, "ai_mode"),
      field(t("miniapp.dialog.field.outcome"), d.outcome ? outcomes[d.outcome] + (d.outcome_reason ? ` (${d.outcome_reason})` : "") : null, "outcome"),
      field(t("miniapp.dialog.field.amount"), d.amount, "amount"),
      field(t("miniapp.dialog.field.ai_cost"), d.ai_cost_usd, "ai_cost"),
      field(t("miniapp.dialog.field.summary"), d.summary, "summary"),
      c.notes ? el("div", { class: "field", "data-field": "notes" }, el("span", {}, t("miniapp.dialog.field.notes") + ":"),
                   el("div", { style: "white-space: pre-wrap" }, c.notes)) : null].filter(Boolean));
    const esc = root.querySelector("#escalations");
    esc.replaceChildren(...(d.escalations.length ? [el("h3", { class: "section-title" }, t("miniapp.dialog.escalations")),
      ...d.escalations.map(e => el("div", { class: "muted escalation" },
        t("miniapp.dialog.escalation", { reason: e.reason, status: e.status, by: e.by || "AI", when: when(e.at) })))] : []));
    if (can.manage || can.ai || can.tags) {
      root.querySelector("#controls").hidden = false;
      root.querySelector("#ai-mode").value = d.ai_mode;
      root.querySelector("#assignee").value = d.assignee ? String(d.assignee.id) : "";
      root.querySelector("#unassign").hidden = !can.manage || !d.assignee;
      if (can.tags) root.querySelector("#tags").value = (c.tags || []).join(", ");
    }
  }

  function draftBlock(s) {
    const who = s.by ? s.by : (["sent"].includes(s.state) && !s.by ? t("miniapp.dialog.draft.auto") : null);
    return el("div", { class: `draft ${s.state}`, "data-draft": s.id },
      el("span", { class: "state" }, `${t("miniapp.dialog.draft.title")}: ${draftStates[s.state] || s.state}`),
      el("div", {}, s.text),
      s.final_text ? el("div", { class: "final" }, t("miniapp.dialog.draft.final", { text: s.final_text })) : null,
      s.reject_reason ? el("div", { class: "reason" }, t("miniapp.dialog.draft.reason", { reason: s.reject_reason })) : null,
      s.escalation ? el("div", { class: "reason" }, t("miniapp.dialog.escalation", { reason: s.escalation.reason,
        status: s.escalation.status, by: s.escalation.by || "AI", when: when(s.escalation.at) })) : null,
      el("span", { class: "meta" }, [t("miniapp.dialog.draft.meta", { intent: s.intent_label || s.intent, confidence: s.confidence }),
        who && s.at ? t("miniapp.dialog.draft.who", { who, when: when(s.at) }) : null].filter(Boolean).join(" · ")));
  }

  function messageNodes(m) {
    const meta = [when(m.sent_at), m.author_name, m.edited ? t("miniapp.dialog.edited") : null,
      m.imported ? t("miniapp.dialog.imported") : null,
      m.deleted ? t("miniapp.dialog.deleted_at", { when: when(m.deleted_at) }) : null].filter(Boolean).join(" · ");
    const bubble = el("div", { class: `msg ${m.direction}${m.deleted ? " deleted" : ""}`, "data-id": m.id },
      m.deleted ? t("miniapp.dialog.deleted") + " " : "",
      ...m.edits.map(e => el("span", { class: "was" }, t("miniapp.dialog.was", { text: e.old }))),
      m.text,
      ...m.attachments.map(a => el("div", { class: "muted" },
        `📎 ${a.kind}${a.name ? " " + a.name : ""}${a.error ? " — " + a.error : ""}`)),
      m.error ? el("div", { class: "error" }, t("miniapp.dialog.not_delivered", { error: m.error })) : null,
      el("span", { class: "meta" }, meta));
    return [bubble, ...m.drafts.map(draftBlock)];
  }

  let before = null;
  async function load(older_ = false) {
    const q = older_ && before ? `?before=${encodeURIComponent(before)}` : "";
    const data = await api(`/api/dialogs/${id}${q}`);
    before = data.before;
    older.hidden = !data.has_more;
    const nodes = data.messages.flatMap(messageNodes);
    if (older_) box.prepend(...nodes);
    else { showDialog(data.dialog); box.replaceChildren(...nodes); }
    return data;
  }

  // the switches
  const mode = root.querySelector("#ai-mode");
  mode.append(...Object.entries(aiModes).map(([k, v]) => el("option", { value: k }, v)));
  mode.disabled = !can.ai;
  const assignee = root.querySelector("#assignee");
  assignee.append(el("option", { value: "" }, t("miniapp.dialog.nobody")),
                  ...staff.map(s => el("option", { value: s.id }, s.name)));
  for (const sel of ["#assignee", "#assign-me", "#unassign", "#outcome-form", "#lost-form", ".row-buttons", "#note-form"]) {
    if (!can.manage) root.querySelector(sel).hidden = true;
  }
  if (!can.tags) root.querySelector("#tags-form").hidden = true;

  async function act(path, body) {
    try {
      const res = await api(`/api/dialogs/${id}/${path}`, { method: "POST", body });
      showDialog(res.dialog);
      saved.textContent = t("miniapp.dialog.saved");
      saved.classList.remove("error");
      MiniApp.haptic("success");
      return true;
    } catch (err) {
      saved.textContent = err.message;
      saved.classList.add("error");
      MiniApp.haptic("error");
      return false;
    }
  }
  mode.onchange = () => act("ai_mode", { mode: mode.value });
  // "nobody" in the list, or the Unassign button: the dialog is left without an assignee.
  assignee.onchange = () => act(assignee.value ? "assign" : "unassign",
                                assignee.value ? { staff_id: Number(assignee.value) } : {});
  root.querySelector("#assign-me").onclick = () => act("assign", { staff_id: me });
  root.querySelector("#unassign").onclick = () => act("unassign", {});
  root.querySelector("#won").onclick = () => act("outcome", { outcome: "won", amount: root.querySelector("#amount").value });
  root.querySelector("#lost").onclick = () => act("outcome", { outcome: "lost", reason: root.querySelector("#reason").value });
  root.querySelector("#close").onclick = () => act("outcome", { outcome: "close" });
  root.querySelector("#reopen").onclick = () => act("outcome", { outcome: "reopen" });
  root.querySelector("#tags-form").addEventListener("submit", async e => {
    e.preventDefault();
    await act("tags", { tags: root.querySelector("#tags").value });
  });
  root.querySelector("#note-form").addEventListener("submit", async e => {
    e.preventDefault();
    const input = root.querySelector("#note");
    if (await act("note", { text: input.value })) input.value = "";
  });
  older.onclick = async () => {
    MiniApp.haptic();
    try { await load(true); } catch (err) { MiniApp.fail(err, box); }
  };
  await load();
  if (!older.hidden) window.scrollTo(0, document.body.scrollHeight);
};
