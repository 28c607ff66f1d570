// Run page: a running step's output arrives by server-sent events (/runs/<id>/stream/)
// and is appended as it comes; the run body is re-fetched on a "status" event, and
// polled every second only while no stream is open (refused, broken) or a step's
// output was too large to stream. Offsets are bytes of the streamed text: a page
// (re)connects saying what it has, and applies a piece only where it fits.
(function () {
  "use strict";

  var SAFETY_POLL_MS = 5000;   // a streaming page still re-reads the run this often
  var source = null, live = false, forced = false, lastFetch = 0, retryMs = 2000, retryTimer = null;
  var encoder = new TextEncoder(), decoder = new TextDecoder();

  function body() { return document.getElementById("run-body"); }
  function streamUrl() { var b = body(); return b && b.hasAttribute("hx-get") ? b.dataset.stream : null; }
  function outputs() { return document.querySelectorAll("pre[data-live-step]"); }
  function outputFor(step, attempt) {
    return document.querySelector('pre[data-live-step="' + step + '"][data-live-attempt="' + attempt + '"]');
  }
  function offsetOf(pre) { return pre.dataset.offset === "" ? null : Number(pre.dataset.offset); }

  function have() {
    var parts = [];
    outputs().forEach(function (pre) {
      var offset = offsetOf(pre);
      if (offset !== null && !pre.hasAttribute("data-cut")) {
        parts.push(pre.dataset.liveStep + "." + pre.dataset.liveAttempt + "." + offset);
      }
    });
    return parts.join(",");
  }

  function refresh() {
    var b = body();
    if (!b || !b.hasAttribute("hx-get")) return;
    forced = true;
    window.htmx.trigger(b, "run-status");
  }

  function follow(pre, atEnd) { if (atEnd) pre.scrollTop = pre.scrollHeight; }

  function onOutput(event) {
    var piece = JSON.parse(event.data);
    var pre = outputFor(piece.step, piece.attempt);
    if (!pre) { refresh(); return; }     // a step the page does not show as running yet
    if (pre.hasAttribute("data-cut")) return;
    var have = offsetOf(pre);
    var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    if (have === null) {
      if (piece.offset !== 0) { reconnect(0); return; }
      pre.textContent = piece.text;            // the database's text gives way to the stream's
    } else if (piece.end <= have) {
      return;                                  // had it already
    } else if (piece.offset === have) {
      pre.appendChild(document.createTextNode(piece.text));
    } else if (piece.offset < have) {
      pre.appendChild(document.createTextNode(decoder.decode(encoder.encode(piece.text).slice(have - piece.offset))));
    } else {
      reconnect(0);                            // a gap: ask again from what the page has
      return;
    }
    pre.dataset.offset = String(piece.end);
    follow(pre, atEnd);
  }

  function onCut(event) {
    var piece = JSON.parse(event.data);
    var pre = outputFor(piece.step, piece.attempt);
    if (pre) pre.setAttribute("data-cut", "");
    refresh();                                 // the database's head and tail, polled from now on
  }

  function close() {
    if (source) source.close();
    source = null;
    live = false;
  }

  function reconnect(delay) {
    close();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  function connect() {
    retryTimer = null;
    var url = streamUrl();
    if (!url || !window.EventSource) return;
    close();
    var es = new EventSource(url + "?have=" + encodeURIComponent(have()));
    source = es;
    es.addEventListener("open", function () { if (source === es) live = true; });
    es.addEventListener("output", onOutput);
    es.addEventListener("cut", onCut);
    es.addEventListener("status", refresh);
    es.addEventListener("end", function () { close(); refresh(); });
    es.addEventListener("bye", function () { retryMs = 2000; reconnect(0); });   // time is up: again at once
    function later() {
      // Refused (204: too many streams here), Redis or the server away: poll, and try again later.
      if (source !== es) return;
      reconnect(retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    }
    es.addEventListener("unavailable", later);
    es.addEventListener("error", later);
  }

  // While a stream carries every running step's output, the every-second poll is skipped (a
  // status event or the safety interval still fetch the run); output the stream does not
  // carry (a wait step's, one cut for size, one not started) is polled as before.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt !== body()) return;
    var unfed = Array.prototype.some.call(outputs(), function (pre) {
      return pre.hasAttribute("data-cut") || offsetOf(pre) === null;
    });
    if (live && !forced && !unfed && Date.now() - lastFetch < SAFETY_POLL_MS) { event.preventDefault(); return; }
    forced = false;
    lastFetch = Date.now();
  });

  // A swap brings the database's view of the run; keep whichever output is further along.
  var kept = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target !== body()) return;
    kept = {};
    outputs().forEach(function (pre) { kept[pre.dataset.liveStep + "." + pre.dataset.liveAttempt] = pre; });
  });
  document.addEventListener("htmx:afterSwap", function () {
    outputs().forEach(function (pre) {
      var old = kept[pre.dataset.liveStep + "." + pre.dataset.liveAttempt];
      if (!old || old === pre || old.hasAttribute("data-cut") || pre.hasAttribute("data-cut")) return;
      var mine = offsetOf(old), theirs = offsetOf(pre);
      if (mine !== null && (theirs === null || mine > theirs)) {
        var top = old.scrollTop;
        pre.replaceWith(old);
        old.scrollTop = top;
      }
    });
    kept = {};
    if (!streamUrl()) { clearTimeout(retryTimer); close(); }   // finished: nothing more to stream
    else if (!source && !retryTimer) connect();
  });

  document.addEventListener("DOMContentLoaded", connect);
  window.OpsRunOutput = { isLive: function () { return live; }, reconnect: reconnect };
})();
