/* The trends page's charts (uPlot): each series as a solid line, its forecast dashed
 * with the prediction band shaded between lower and upper. The page's tables say the
 * same without JavaScript; this file only draws.
 */
(function () {
  "use strict";

  function draw() {
    var data = document.getElementById("trend-data");
    if (!data || typeof uPlot === "undefined") return;
    var all = JSON.parse(data.textContent);
    var nodes = document.querySelectorAll("[data-trend]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var s = all[el.getAttribute("data-trend")];
      if (!s) continue;
      var opts = {
        width: Math.max(280, el.clientWidth || 600),
        height: 220,
        legend: { show: true },
        // Counts and durations start at 0: an axis from the smallest value exaggerates.
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
        axes: [{ stroke: "#545b66" }, { stroke: "#545b66" }],
        series: [
          {},
          { label: "value", stroke: "#3b6fd8", width: 2 },
          { label: "forecast", stroke: "#6639ba", width: 2, dash: [6, 4], spanGaps: false },
          { label: "upper", stroke: "rgba(102,57,186,0.35)", width: 1 },
          { label: "lower", stroke: "rgba(102,57,186,0.35)", width: 1 },
        ],
        bands: [{ series: [3, 4], fill: "rgba(102,57,186,0.12)" }],
      };
      new uPlot(opts, [s.x, s.value, s.forecast, s.upper, s.lower], el);
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
