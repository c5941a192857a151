// Help: the contents (/help) and each page (/help/<name>, page "help_page" loads this script too), server-rendered
// markdown. Links to a heading (#anchor) scroll there, on this page or after opening another.
"use strict";
(function () {
  const KEY = "salesop.help.anchor";
  function scrollTo(root, anchor) {
    if (!anchor) return;
    const target = root.querySelector(`[id="${CSS.escape(decodeURIComponent(anchor))}"]`);
    if (target) target.scrollIntoView({ block: "start" });
  }
  function init(root) {
    scrollTo(root, sessionStorage.getItem(KEY) || location.hash.slice(1));
    sessionStorage.removeItem(KEY);
    const onClick = e => {
      const a = e.target.closest && e.target.closest("a[href]");
      if (!a) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || !url.hash) return;
      e.preventDefault();
      MiniApp.haptic();
      if (url.pathname === location.pathname) scrollTo(root, url.hash.slice(1));
      else { sessionStorage.setItem(KEY, url.hash.slice(1)); MiniApp.go(url.pathname); }
    };
    root.addEventListener("click", onClick);  // #view outlives the page: removed when the page changes
    MiniApp.cleanup.push(() => root.removeEventListener("click", onClick));
  }
  MiniApp.pages.help = MiniApp.pages.help_page = async root => init(root);
})();
