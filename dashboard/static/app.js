// Refresh the page's main element in place from the same URL with
// ?fragment=1, so that the dashboard stays live without a full reload.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main) return;
  var every = parseInt(main.getAttribute("data-refresh"), 10);
  if (!every || location.pathname === "/login") return;
  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "BUTTON");
  }
  function tick() {
    if (document.hidden || busy()) return;
    var u = new URL(location.href);
    u.searchParams.set("fragment", "1");
    fetch(u.toString(), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) {
        // A lost session redirects to the login page: show it whole.
        if (r.redirected || r.status === 401) { location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          main.innerHTML = html;
          main.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* the daemon restarts: try again next time */ });
  }
  setInterval(tick, every);
})();
