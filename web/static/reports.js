// The reports page (web/templates/reports.html): draws each report's chart with Chart.js from the JSON the
// page embeds next to its canvas. The table beside each chart holds the same figures and is the source of truth.
(function () {
  "use strict";
  var PALETTE = ["#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#475569"];

  function draw(node) {
    var canvas = document.getElementById(node.getAttribute("data-canvas"));
    if (!canvas || typeof window.Chart === "undefined") return;
    var spec;
    try { spec = JSON.parse(node.textContent); } catch (e) { return; }
    var names = Object.keys(spec.series || {});
    var datasets = names.map(function (name, i) {
      var colour = PALETTE[i % PALETTE.length];
      return { label: name, data: spec.series[name], backgroundColor: colour, borderColor: colour,
               spanGaps: true, tension: 0.2 };
    });
    var stacked = !!spec.stacked;
    var y = { beginAtZero: true, stacked: stacked };
    if (spec.unit === "%") { y.max = 100; y.ticks = { callback: function (v) { return v + " %"; } }; }
    canvas.chart = new window.Chart(canvas, {
      type: spec.type === "line" ? "line" : "bar",
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: true,
        scales: { x: { stacked: stacked }, y: y },
        plugins: { legend: { display: names.length > 1 } }
      }
    });
    canvas.setAttribute("data-drawn", "1");
  }

  function start() {
    var nodes = document.querySelectorAll("script.chart-data");
    for (var i = 0; i < nodes.length; i++) draw(nodes[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
