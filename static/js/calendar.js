// The rotation calendar shows times in the viewer's zone: the server cannot
// know it, so the first visit without ?tz= comes back once with the browser's.
(function () {
  "use strict";
  var el = document.querySelector("[data-calendar]");
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!el || !zone) return;
  var url = new URL(window.location.href);
  if (!url.searchParams.get("tz") && el.dataset.zone !== zone) {
    url.searchParams.set("tz", zone);
    window.location.replace(url.toString());
  }
})();
