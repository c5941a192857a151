// A help page (/help/<name>): the same behaviour as the contents (static/pages/help.js), loaded under this page's name.
"use strict";
(function () {
  const KEY = "salesop.help.anchor";
  function scrollTo(root, anchor) {
    if (!anchor) return;
    const target = root.querySelector(`[id="${CSS.escape(decodeURIComponent(anchor))}"]`);
    if (target) target.scrollIntoView({ block: "start" });
  }
  MiniApp.pages.help_page = async root => {
    if (MiniApp.pages.help) return MiniApp.pages.help(root);
    scrollTo(root, sessionStorage.getItem(KEY) || location.hash.slice(1));
    sessionStorage.removeItem(KEY);
    const onClick = e => {
      const a = e.target.closest && e.target.closest("a[href]");
      if (!a) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || !url.hash) return;
      e.preventDefault();
      if (url.pathname === location.pathname) scrollTo(root, url.hash.slice(1));
      else { sessionStorage.setItem(KEY, url.hash.slice(1)); MiniApp.go(url.pathname); }
    };
    root.addEventListener("click", onClick);  // #view outlives the page: removed when the page changes
    MiniApp.cleanup.push(() => root.removeEventListener("click", onClick));
  };
})();
