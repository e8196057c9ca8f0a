// Custos console: draws the charts with uPlot from the JSON each chart
// carries, and redraws them when htmx swaps content in.
(function () {
  "use strict";

  var colors = { actor: "#2563eb", median: "#6b7280", p90: "#cbd5e1", marks: "#dc2626" };

  // Times are UTC everywhere in the console, charts included.
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

  function draw(el) {
    var src = el.querySelector("script.chart-data");
    if (!src || typeof uPlot === "undefined") return;
    var data = JSON.parse(src.textContent);
    var tabs = el.querySelector(".chart-tabs");
    var plot = el.querySelector(".chart-plot");
    var height = parseInt(el.getAttribute("data-height") || "220", 10);
    var current = 0;
    var u = null;

    function build(i) {
      var m = data.metrics[i];
      var series = [{ value: function (u, v) { return v == null ? "—" : new Date(v * 1000).toISOString().slice(0, data.step < 86400 ? 16 : 10).replace("T", " "); } }];
      var values = [data.x];
      series.push({ label: data.metrics.length === 1 ? m.label : "This agent", stroke: colors.actor, width: 2, fill: "rgba(37,99,235,0.07)", points: { show: data.x.length <= 40 } });
      values.push(m.actor);
      if (m.median) {
        series.push({ label: "Peer median", stroke: colors.median, width: 1.5, dash: [6, 4], points: { show: false }, spanGaps: false });
        values.push(m.median);
        series.push({ label: "Peer 90th pct", stroke: colors.p90, width: 1.5, points: { show: false } });
        values.push(m.p90);
      }
      if (m.marks) {
        series.push({ label: "Alerts", stroke: colors.marks, width: 0, paths: function () { return null; }, points: { show: true, size: 9, fill: colors.marks, stroke: "#fff", width: 1.5 } });
        values.push(m.marks);
      }
      var opts = {
        width: Math.max(plot.clientWidth, 280),
        height: height,
        series: series,
        tzDate: utc,
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
        axes: [
          { grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" }, space: 60 },
          { grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" }, size: 56 }
        ],
        legend: { live: true },
        cursor: { points: { size: 7 } }
      };
      if (u) u.destroy();
      plot.innerHTML = "";
      u = new uPlot(opts, values, plot);
      el.setAttribute("data-drawn", String(m.key));
    }

    if (tabs && data.metrics.length > 1) {
      tabs.innerHTML = "";
      data.metrics.forEach(function (m, i) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = m.label;
        b.setAttribute("role", "tab");
        b.setAttribute("aria-selected", i === 0 ? "true" : "false");
        b.addEventListener("click", function () {
          current = i;
          tabs.querySelectorAll("button").forEach(function (x, j) { x.setAttribute("aria-selected", j === i ? "true" : "false"); });
          build(i);
        });
        tabs.appendChild(b);
      });
    }
    build(0);
    if (typeof ResizeObserver !== "undefined") {
      var last = plot.clientWidth;
      new ResizeObserver(function () {
        if (u && Math.abs(plot.clientWidth - last) > 4) {
          last = plot.clientWidth;
          u.setSize({ width: Math.max(plot.clientWidth, 280), height: height });
        }
      }).observe(plot);
    }
  }

  function drawAll(root) {
    (root || document).querySelectorAll(".chart[data-chart]:not([data-drawn])").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();
