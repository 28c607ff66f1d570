// Ops Console page behaviour. No inline scripts (the CSP forbids them), so
// everything that needs JavaScript is wired here by data attributes.
(function () {
  "use strict";

  // <time datetime="..."> in the viewer's own zone; the title keeps UTC.
  function localiseTimes(root) {
    root.querySelectorAll("time[datetime]:not([data-localised])").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var style = el.dataset.style || "datetime";
      var opts = style === "time" ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
        : { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" };
      el.textContent = d.toLocaleString(undefined, opts);
      el.dataset.localised = "1";
    });
  }

  // <span data-countdown="ISO"> counts down to a moment ("in 4m 10s", "overdue 12s").
  function formatSeconds(s) {
    s = Math.abs(Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m) return m + "m " + String(sec).padStart(2, "0") + "s";
    return sec + "s";
  }
  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = (new Date(el.dataset.countdown) - Date.now()) / 1000;
      el.textContent = left >= 0 ? "in " + formatSeconds(left) : "overdue " + formatSeconds(left);
      el.classList.toggle("bad", left < 0);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = formatSeconds((Date.now() - new Date(el.dataset.since)) / 1000);
    });
  }

  // <form data-confirm="Really?"> asks before a destructive action.
  document.addEventListener("submit", function (event) {
    var message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () { localiseTimes(document); tickCountdowns(); });
  document.addEventListener("htmx:afterSwap", function (event) { localiseTimes(event.target); tickCountdowns(); });
  setInterval(tickCountdowns, 1000);
  window.OpsConsole = { localiseTimes: localiseTimes };
})();
