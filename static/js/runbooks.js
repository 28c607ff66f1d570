// Run page: keep the output of a running step scrolled to its newest line
// after each htmx poll swaps the run in (the swap resets the scroll position).
(function () {
  "use strict";

  function followOutput(root) {
    root.querySelectorAll(".step-running .output").forEach(function (pre) {
      pre.scrollTop = pre.scrollHeight;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { followOutput(document); });
  document.addEventListener("htmx:afterSwap", function (event) { followOutput(event.target.parentNode || document); });
})();
