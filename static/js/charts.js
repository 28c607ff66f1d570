// Service charts: every <figure data-chart-url> is drawn by uPlot from the JSON
// the console serves (monitoring:panel_data) and, when data-refresh > 0, fetched
// again on a timer without reloading the page. null values are drawn as gaps.
// data-start/data-end/data-marker are unix seconds (empty: the last hour / now / none).
(function () {
  "use strict";
  if (window.OpsCharts) return;  // the partial may be included more than once

  var COLORS = ["#1f5fbf", "#c62828", "#1a7f37", "#9a6700", "#6f42c1", "#0a7e8c", "#d63384", "#5f6673"];
  var HEIGHT = 180;

  function format(unit, v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    switch (unit) {
      case "seconds": return Math.abs(v) < 1 ? (v * 1000).toFixed(0) + " ms" : v.toFixed(2) + " s";
      case "ratio": return (v * 100).toFixed(2) + " %";
      case "percent": return v.toFixed(2) + " %";
      case "bytes":
        var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
        while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
        return v.toFixed(i ? 1 : 0) + " " + units[i];
      case "per_second": return v.toFixed(2) + "/s";
      default: return String(Math.round(v * 1000) / 1000);
    }
  }

  function dataUrl(el) {
    var params = [];
    ["start", "end", "marker"].forEach(function (name) {
      if (el.dataset[name]) params.push(name + "=" + encodeURIComponent(el.dataset[name]));
    });
    return el.dataset.chartUrl + (params.length ? "?" + params.join("&") : "");
  }

  function markerHook(marker) {
    return function (u) {
      if (!marker) return;
      var x = u.valToPos(marker, "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#c62828";
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.restore();
    };
  }

  function build(el, body) {
    var unit = body.unit || el.dataset.unit;
    var series = [{}];
    body.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false,
                    value: function (u, v) { return format(unit, v); } });
    });
    // Axis text and grid follow the page's colours (light and dark themes).
    var style = getComputedStyle(el);
    var text = style.color, grid = { stroke: style.getPropertyValue("--line").trim() || "#d9dce1", width: 1 };
    var opts = {
      width: Math.max(el.clientWidth - 2, 200), height: HEIGHT, series: series,
      scales: { x: { time: true } },
      axes: [{ stroke: text, grid: grid, ticks: grid },
             { stroke: text, grid: grid, ticks: grid, size: 70,
               values: function (u, vals) { return vals.map(function (v) { return format(unit, v); }); } }],
      legend: { show: body.series.length > 0 },
      hooks: { draw: [markerHook(body.marker)] },
    };
    var canvas = el.querySelector(".chart-canvas");
    canvas.innerHTML = "";
    return new window.uPlot(opts, columns(body), canvas);
  }

  function columns(body) {
    return [body.x].concat(body.series.map(function (s) { return s.values; }));
  }

  function show(el, body, ok) {
    var status = el.querySelector(".chart-status");
    var state = !ok ? "error" : body.series.length ? "ok" : "empty";
    el.dataset.state = state;
    el.dataset.loads = String(Number(el.dataset.loads || 0) + 1);
    if (state === "error") {
      status.textContent = body.error || "The chart could not be loaded.";
      status.classList.add("bad");
      return;
    }
    status.classList.remove("bad");
    status.textContent = state === "empty" ? "No data in this time range." : "";
    var chart = el._uplot;
    var shape = body.series.map(function (s) { return s.label; }).join("\u0000");
    if (chart && el._shape === shape) {
      chart.setData(columns(body));
    } else {
      if (chart) chart.destroy();
      el._uplot = build(el, body);
      el._shape = shape;
    }
    el.dataset.lastX = body.x.length ? String(body.x[body.x.length - 1]) : "";
  }

  function load(el) {
    if (!document.body.contains(el)) { clearInterval(el._timer); return; }
    fetch(dataUrl(el), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { show(el, body, response.ok); },
          function () { show(el, { error: "The console answered " + response.status + "." }, false); });
      })
      .catch(function () { show(el, { error: "The console could not be reached." }, false); });
  }

  function init(root) {
    root.querySelectorAll("figure[data-chart-url]:not([data-chart-init])").forEach(function (el) {
      el.dataset.chartInit = "1";
      load(el);
      var every = Number(el.dataset.refresh || 0);
      if (every > 0) el._timer = setInterval(function () { load(el); }, every * 1000);
    });
  }

  function resize() {
    document.querySelectorAll("figure[data-chart-url]").forEach(function (el) {
      if (el._uplot) el._uplot.setSize({ width: Math.max(el.clientWidth - 2, 200), height: HEIGHT });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
  window.addEventListener("resize", resize);
  window.OpsCharts = { init: init, format: format };
})();
