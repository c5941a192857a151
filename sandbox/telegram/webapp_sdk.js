// Stand-in of Telegram's WebApp SDK (https://telegram.org/js/telegram-web-app.js, core.telegram.org/bots/webapps)
// for the sandbox: there is no internet and no Telegram client around the page, so this script reads the launch
// parameters the way the real SDK does (the URL fragment: tgWebAppData, tgWebAppVersion, tgWebAppPlatform,
// tgWebAppThemeParams, tgWebAppStartParam; kept in sessionStorage so inner pages and reloads keep them) and draws
// the parts of the client a Mini App controls: a header with the BackButton and a bottom MainButton.
// window.Telegram.WebApp offers the same members and events the app uses; what the client would do (haptics, alerts,
// links) is recorded in Telegram.WebApp.__sandbox.events for tests to read.
(function () {
  "use strict";
  if (window.Telegram && window.Telegram.WebApp) return;
  var STORE_KEY = "__telegram__initParams";

  function parseParams(text) {
    var out = {};
    (text || "").replace(/^[#?]/, "").split("&").forEach(function (pair) {
      if (!pair) return;
      var i = pair.indexOf("=");
      var k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
      var v = i < 0 ? "" : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, " "));
      out[k] = v;
    });
    return out;
  }

  var params = parseParams(location.hash);
  try {
    var stored = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
    if (params.tgWebAppData) sessionStorage.setItem(STORE_KEY, JSON.stringify(params));
    else params = Object.assign({}, stored, params);
  } catch (e) { /* storage disabled: the fragment alone */ }

  var initData = params.tgWebAppData || "";
  var initDataUnsafe = {};
  var fields = parseParams(initData);
  Object.keys(fields).forEach(function (k) {
    var v = fields[k];
    if (k === "user" || k === "receiver" || k === "chat") {
      try { v = JSON.parse(v); } catch (e) { return; }
    } else if (k === "auth_date" || k === "can_send_after") {
      v = parseInt(v, 10);
    }
    initDataUnsafe[k] = v;
  });

  var LIGHT = {
    bg_color: "#ffffff", text_color: "#000000", hint_color: "#999999", link_color: "#2481cc",
    button_color: "#2481cc", button_text_color: "#ffffff", secondary_bg_color: "#efeff3",
    header_bg_color: "#ffffff", accent_text_color: "#2481cc", section_bg_color: "#ffffff",
    section_header_text_color: "#6d6d72", subtitle_text_color: "#999999", destructive_text_color: "#e53935",
    bottom_bar_bg_color: "#ffffff",
  };
  var themeParams = LIGHT;
  if (params.tgWebAppThemeParams) {
    try { themeParams = JSON.parse(params.tgWebAppThemeParams); } catch (e) { themeParams = LIGHT; }
  }

  function luminance(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return 1;
    var n = parseInt(m[1], 16);
    return (0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)) / 255;
  }

  var handlers = {};
  var events = [];
  function emit(name, data) {
    (handlers[name] || []).slice().forEach(function (cb) {
      try { cb.call(WebApp, data); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }
  function record(kind, detail) { events.push(Object.assign({ kind: kind, at: Date.now() }, detail || {})); }

  var root = document.documentElement;
  function applyTheme() {
    Object.keys(themeParams).forEach(function (k) {
      root.style.setProperty("--tg-theme-" + k.replace(/_/g, "-"), themeParams[k]);
    });
    root.style.setProperty("--tg-color-scheme", WebApp.colorScheme);
  }

  var HEADER = 44, FOOTER = 52;
  var chrome = { header: null, back: null, main: null };
  function viewport() {
    var h = window.innerHeight - HEADER - (MainButton.isVisible ? FOOTER : 0);
    WebApp.viewportHeight = h;
    WebApp.viewportStableHeight = h;
    root.style.setProperty("--tg-viewport-height", h + "px");
    root.style.setProperty("--tg-viewport-stable-height", h + "px");
    emit("viewportChanged", { isStateStable: true });
  }

  var BackButton = {
    isVisible: false,
    onClick: function (cb) { on("backButtonClicked", cb); return BackButton; },
    offClick: function (cb) { off("backButtonClicked", cb); return BackButton; },
    show: function () { BackButton.isVisible = true; draw(); return BackButton; },
    hide: function () { BackButton.isVisible = false; draw(); return BackButton; },
  };

  var MainButton = {
    text: "Continue", color: themeParams.button_color || LIGHT.button_color,
    textColor: themeParams.button_text_color || LIGHT.button_text_color,
    isVisible: false, isActive: true, isProgressVisible: false,
    setText: function (text) { MainButton.text = String(text); draw(); return MainButton; },
    onClick: function (cb) { on("mainButtonClicked", cb); return MainButton; },
    offClick: function (cb) { off("mainButtonClicked", cb); return MainButton; },
    show: function () { MainButton.isVisible = true; draw(); viewport(); return MainButton; },
    hide: function () { MainButton.isVisible = false; draw(); viewport(); return MainButton; },
    enable: function () { MainButton.isActive = true; draw(); return MainButton; },
    disable: function () { MainButton.isActive = false; draw(); return MainButton; },
    showProgress: function () { MainButton.isProgressVisible = true; draw(); return MainButton; },
    hideProgress: function () { MainButton.isProgressVisible = false; draw(); return MainButton; },
    setParams: function (p) {
      if ("text" in p) MainButton.text = String(p.text);
      if ("color" in p) MainButton.color = p.color;
      if ("text_color" in p) MainButton.textColor = p.text_color;
      if ("is_active" in p) MainButton.isActive = !!p.is_active;
      if ("is_visible" in p) MainButton.isVisible = !!p.is_visible;
      draw(); viewport();
      return MainButton;
    },
  };

  var HapticFeedback = {
    impactOccurred: function (style) { record("haptic", { type: "impact", style: style }); return HapticFeedback; },
    notificationOccurred: function (type) { record("haptic", { type: "notification", style: type }); return HapticFeedback; },
    selectionChanged: function () { record("haptic", { type: "selection_change" }); return HapticFeedback; },
  };

  function on(name, cb) { (handlers[name] = handlers[name] || []).push(cb); }
  function off(name, cb) {
    var list = handlers[name] || [];
    var i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  }

  function draw() {
    if (!document.body) return;
    if (!chrome.header) {
      var style = document.createElement("style");
      style.textContent =
        "#tg-sandbox-header{position:relative;z-index:2147483000;height:" + HEADER + "px;display:flex;" +
        "align-items:center;gap:8px;padding:0 10px;background:var(--tg-theme-header-bg-color,#fff);" +
        "color:var(--tg-theme-text-color,#000);border-bottom:1px solid rgba(0,0,0,.08);font:500 15px system-ui,sans-serif}" +
        "#tg-back-button{border:0;background:none;color:var(--tg-theme-link-color,#2481cc);font:inherit;cursor:pointer;padding:6px 4px}" +
        "#tg-sandbox-header .tg-close{color:var(--tg-theme-link-color,#2481cc)}" +
        "#tg-main-button{position:fixed;left:0;right:0;bottom:0;z-index:2147483000;height:" + FOOTER + "px;border:0;" +
        "font:600 15px system-ui,sans-serif;cursor:pointer}";
      document.head.appendChild(style);
      chrome.header = document.createElement("div");
      chrome.header.id = "tg-sandbox-header";
      chrome.back = document.createElement("button");
      chrome.back.id = "tg-back-button";
      chrome.back.type = "button";
      chrome.back.textContent = "‹ Back";
      chrome.back.addEventListener("click", function () { record("back_button"); emit("backButtonClicked"); });
      var close = document.createElement("span");
      close.className = "tg-close";
      close.textContent = "✕ Close";
      var title = document.createElement("span");
      title.textContent = (document.title || "Mini App") + " · sandbox";
      title.style.flex = "1";
      title.style.textAlign = "center";
      chrome.header.appendChild(chrome.back);
      chrome.header.appendChild(close);
      chrome.header.appendChild(title);
      document.body.insertBefore(chrome.header, document.body.firstChild);
      chrome.main = document.createElement("button");
      chrome.main.id = "tg-main-button";
      chrome.main.type = "button";
      chrome.main.addEventListener("click", function () {
        if (!MainButton.isActive) return;
        record("main_button");
        emit("mainButtonClicked");
      });
      document.body.appendChild(chrome.main);
    }
    chrome.back.hidden = !BackButton.isVisible;
    chrome.header.querySelector(".tg-close").hidden = BackButton.isVisible;
    chrome.main.hidden = !MainButton.isVisible;
    chrome.main.textContent = MainButton.isProgressVisible ? "…" : MainButton.text;
    chrome.main.style.background = MainButton.color;
    chrome.main.style.color = MainButton.textColor;
    chrome.main.style.opacity = MainButton.isActive ? "1" : ".6";
    document.body.style.paddingBottom = MainButton.isVisible ? FOOTER + "px" : "";
  }

  var downloadPending = false;
  var WebApp = {
    initData: initData,
    initDataUnsafe: initDataUnsafe,
    version: params.tgWebAppVersion || "8.0",
    platform: params.tgWebAppPlatform || "web",
    colorScheme: luminance(themeParams.bg_color) < 0.5 ? "dark" : "light",
    themeParams: themeParams,
    isExpanded: false,
    viewportHeight: window.innerHeight,
    viewportStableHeight: window.innerHeight,
    headerColor: themeParams.header_bg_color || themeParams.bg_color,
    backgroundColor: themeParams.bg_color,
    isClosingConfirmationEnabled: false,
    BackButton: BackButton,
    MainButton: MainButton,
    HapticFeedback: HapticFeedback,
    isVersionAtLeast: function (v) {
      var a = String(WebApp.version).split("."), b = String(v).split(".");
      for (var i = 0; i < Math.max(a.length, b.length); i++) {
        var x = parseInt(a[i] || "0", 10), y = parseInt(b[i] || "0", 10);
        if (x !== y) return x > y;
      }
      return true;
    },
    onEvent: function (name, cb) { on(name, cb); },
    offEvent: function (name, cb) { off(name, cb); },
    ready: function () { record("ready"); draw(); viewport(); },
    expand: function () { WebApp.isExpanded = true; record("expand"); viewport(); },
    close: function () { record("close"); },
    setHeaderColor: function (c) { WebApp.headerColor = c; },
    setBackgroundColor: function (c) { WebApp.backgroundColor = c; },
    enableClosingConfirmation: function () { WebApp.isClosingConfirmationEnabled = true; },
    disableClosingConfirmation: function () { WebApp.isClosingConfirmationEnabled = false; },
    showAlert: function (message, cb) { record("alert", { message: message }); window.alert(message); if (cb) cb(); },
    showConfirm: function (message, cb) { var ok = window.confirm(message); record("confirm", { message: message, ok: ok }); if (cb) cb(ok); },
    openLink: function (url) { record("open_link", { url: url }); window.open(url, "_blank", "noopener"); },
    openTelegramLink: function (url) { record("open_telegram_link", { url: url }); window.open(url, "_blank", "noopener"); },
    // downloadFile (Bot API 8.0) as telegram-web-app.js checks it: the version, one popup at a time, an https URL
    // (the sandbox also takes http on localhost, as for Web App URLs) and a file name — each refusal thrown as the
    // SDK throws it. The client then shows its popup and, accepted, downloads the URL itself (no page headers or
    // cookies); the callback and the fileDownloadRequested event come after the popup closes. A test declines the
    // popup with Telegram.WebApp.__sandbox.declineDownloads = true.
    downloadFile: function (p, cb) {
      if (!WebApp.isVersionAtLeast("8.0")) throw new Error("WebAppMethodUnsupported");
      if (downloadPending) throw new Error("WebAppDownloadFilePopupOpened");
      var url;
      try { url = new URL(p && p.url); } catch (e) { throw new Error("WebAppDownloadFileParamInvalid"); }
      var local = /^(localhost|127\.0\.0\.1|\[::1\])$/.test(url.hostname);
      if (!(url.protocol === "https:" || (url.protocol === "http:" && local))) throw new Error("WebAppDownloadFileParamInvalid");
      if (!p.file_name) throw new Error("WebAppDownloadFileParamInvalid");
      downloadPending = true;
      record("download_file", { url: url.href, file_name: String(p.file_name) });
      setTimeout(function () {
        var accepted = !WebApp.__sandbox.declineDownloads;
        if (accepted) {
          var a = document.createElement("a");
          a.href = url.href; a.download = String(p.file_name); a.rel = "noopener";
          document.body.appendChild(a); a.click(); a.remove();
        }
        downloadPending = false;
        emit("fileDownloadRequested", { status: accepted ? "downloading" : "cancelled" });
        if (cb) cb(accepted);
      }, 0);
    },
    sendData: function (data) { record("send_data", { data: String(data) }); },
    __sandbox: { events: events },
  };

  applyTheme();
  window.addEventListener("resize", viewport);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
  window.Telegram = window.Telegram || {};
  window.Telegram.WebApp = WebApp;
})();
