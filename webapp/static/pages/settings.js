// Tenant settings, grouped. Each field is saved on its own when changed (PUT /api/settings {key: value}) with the
// validation `salesop settings set` uses; a refused value shows its one-line error under the field and the stored
// value stays as it was.
"use strict";
MiniApp.pages.settings = async (root, ctx) => {
  const { api, el, t } = MiniApp;
  const box = root.querySelector("#groups");
  const nav = root.querySelector("#groups-nav");
  let state = ctx.data;

  function control(f) {
    const id = `s-${f.key}`;
    if (f.kind === "bool") return el("input", { type: "checkbox", id, name: f.key, checked: !!f.value });
    if (f.kind === "choice") {
      const select = el("select", { id, name: f.key }, f.choices.map(c => el("option", { value: c.value }, c.label)));
      select.value = f.value;
      return select;
    }
    if (f.kind === "intents") {
      const chosen = new Set(f.value || []);
      return el("div", { class: "intents", id, "data-key": f.key }, f.choices.map(c => el("label", {},
        el("input", { type: "checkbox", value: c.value, checked: chosen.has(c.value) }), c.label)));
    }
    if (f.kind === "textarea") return el("textarea", { id, name: f.key, rows: 3 }, f.text);
    if (f.kind === "secret") {
      return el("input", { type: "password", id, name: f.key, autocomplete: "off",
                           placeholder: f.stored ? t("miniapp.settings.secret_stored", { value: f.value || "" }) : "" });
    }
    const input = el("input", { type: "text", id, name: f.key, inputmode: f.kind === "number" || f.kind === "chat" ? "decimal" : undefined });
    input.value = f.text;
    return input;
  }

  // What the field holds, as the typed value the server validates (text forms are read as the CLI reads them).
  function valueOf(f, node) {
    if (f.kind === "bool") return node.checked;
    if (f.kind === "intents") return [...node.querySelectorAll("input:checked")].map(i => i.value);
    const raw = node.value.trim();
    if (f.kind === "number" && /^-?\d+([.,]\d+)?$/.test(raw)) return Number(raw.replace(",", "."));
    if (f.kind === "chat" && /^-?\d{1,15}$/.test(raw)) return Number(raw);
    if (raw === "" && f.nullable) return null;
    if (raw === "" && f.kind === "list") return [];
    return raw;
  }

  async function save(f, row, node) {
    const error = row.querySelector(".error");
    const saved = row.querySelector(".saved");
    if (f.kind === "secret" && node.value.trim() === "") return;
    try {
      const result = await api("/api/settings", { method: "PUT", body: { [f.key]: valueOf(f, node) } });
      error.hidden = true;
      row.classList.remove("invalid");
      saved.hidden = false;
      saved.textContent = result.changed.length ? t("miniapp.settings.saved") : t("miniapp.settings.unchanged");
      state = result;
      const fresh = state.groups.flatMap(g => g.fields).find(x => x.key === f.key);
      if (fresh && f.kind === "secret") { node.value = ""; node.placeholder = t("miniapp.settings.secret_stored", { value: fresh.value || "" }); }
      else if (fresh && fresh.text !== undefined && node.tagName !== "DIV" && node.type !== "checkbox" && node.tagName !== "SELECT") node.value = fresh.text;
      Object.assign(f, fresh || {});
      MiniApp.haptic("success");
    } catch (err) {
      saved.hidden = true;
      error.textContent = err.message;
      error.hidden = false;
      row.classList.add("invalid");
      MiniApp.haptic("error");
    }
  }

  function field(f) {
    const node = control(f);
    const row = el("div", { class: `setting ${f.kind}`, id: `setting-${f.key}`, "data-key": f.key },
      el("label", { for: `s-${f.key}` }, f.label), node,
      el("span", { class: "hint" }, f.hint ? `${f.hint} — ${f.accepts}` : f.accepts),
      el("p", { class: "error", hidden: true }), el("span", { class: "saved", hidden: true }));
    node.addEventListener("change", () => save(f, row, node));
    return row;
  }

  function voiceTools() {
    const list = el("select", { id: "voice-list", hidden: true });
    const audio = el("audio", { id: "voice-audio", controls: true, hidden: true });
    const status = el("span", { class: "muted", id: "voice-status" });
    const load = el("button", { type: "button", class: "link", id: "voice-load" }, t("miniapp.settings.voice.list"));
    const play = el("button", { type: "button", class: "link", id: "voice-sample" }, t("miniapp.settings.voice.sample"));
    const voiceInput = () => root.querySelector("#s-elevenlabs_voice_id");
    load.onclick = async () => {
      status.textContent = t("miniapp.common.loading");
      try {
        const data = await api("/api/settings/voices");
        list.replaceChildren(el("option", { value: "" }, t("miniapp.settings.voice.choose")),
          ...data.voices.map(v => el("option", { value: v.voice_id }, `${v.name} (${v.category || v.voice_id})`)));
        list.value = voiceInput().value;
        list.hidden = false;
        status.textContent = t("miniapp.settings.voice.count", { count: data.voices.length });
      } catch (err) { status.textContent = err.message; MiniApp.haptic("error"); }
    };
    list.onchange = () => {
      if (!list.value) return;
      const input = voiceInput();
      input.value = list.value;
      input.dispatchEvent(new Event("change"));
    };
    play.onclick = async () => {
      status.textContent = t("miniapp.common.loading");
      try {
        const res = await api("/api/settings/voice-sample", { method: "POST", raw: true,
                                                              body: { voice_id: list.value || voiceInput().value } });
        const blob = await res.blob();
        if (audio.src) URL.revokeObjectURL(audio.src);
        audio.src = URL.createObjectURL(blob);
        audio.hidden = false;
        status.textContent = t("miniapp.settings.voice.ready");
        audio.play().catch(() => {});
        MiniApp.haptic("success");
      } catch (err) { status.textContent = err.message; MiniApp.haptic("error"); }
    };
    MiniApp.cleanup.push(() => { if (audio.src) URL.revokeObjectURL(audio.src); });
    return el("div", { class: "voices" }, load, list, play, status, audio);
  }

  function managerGroups(groups) {
    if (!groups.length) return el("p", { class: "muted", id: "manager-groups" }, t("miniapp.settings.groups.none"));
    return el("div", { id: "manager-groups" }, groups.map(g => el("div", { class: "mgroup" },
      el("b", {}, g.title), " ",
      el("span", { class: "muted" }, [String(g.chat_id), g.team ? t("miniapp.settings.groups.team", { team: g.team }) : null,
        g.active ? null : t("miniapp.settings.groups.inactive"), g.rotated ? t("miniapp.settings.groups.rotated") : null,
        g.missing_rights.length ? t("miniapp.settings.groups.missing", { rights: g.missing_rights.join(", ") }) : null,
        t("miniapp.settings.groups.topics", { count: g.topics })].filter(Boolean).join(" · ")),
      g.channels.length ? el("div", { class: "muted" }, t("miniapp.settings.groups.channels", { channels: g.channels.join(", ") })) : null)));
  }

  nav.replaceChildren(...state.groups.map(g => el("button", { type: "button", "data-group": g.id,
    onclick: () => { root.querySelector(`#group-${g.id}`).scrollIntoView({ block: "start" }); MiniApp.haptic(); } }, g.title)));
  box.replaceChildren(...state.groups.map(g => el("section", { class: "card group", id: `group-${g.id}` },
    el("h3", {}, g.title), el("p", { class: "muted" }, g.about),
    g.fields.map(field),
    g.id === "voice" ? voiceTools() : null,
    g.id === "routing" ? managerGroups(state.manager_groups) : null)));
};
