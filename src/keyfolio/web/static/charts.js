/* keyfolio: the value-over-time chart (vendored uPlot) and the allocation donut (SVG).
 *
 * Floats appear here for pixel geometry only; every printed number comes from the API's
 * decimal strings through KFDec.
 */
(function () {
  "use strict";

  var D = window.KFDec;
  var SVG = "http://www.w3.org/2000/svg";
  var SLICES = 8;

  function cssVar(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  /** Tick labels: "$39.7k" (derived from the chart's own tick floats, never from money). */
  function compact(value) {
    var n = Math.abs(value);
    var units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][0]) {
        return (value < 0 ? "\u2212" : "") + "$" + +(n / units[i][0]).toFixed(1) + units[i][1];
      }
    }
    return (value < 0 ? "\u2212" : "") + "$" + +n.toFixed(2);
  }

  /** A responsive line chart. `readout` shows the hovered point's exact value and time. */
  function LineChart(container, readout) {
    this.container = container;
    this.readout = readout;
    this.plot = null;
    this.points = [];
    var self = this;
    if (typeof window.ResizeObserver === "function") {
      new window.ResizeObserver(function () { self.resize(); }).observe(container);
    }
    if (window.matchMedia) {
      var query = window.matchMedia("(prefers-color-scheme: dark)");
      var redraw = function () { self.render(); };
      if (query.addEventListener) query.addEventListener("change", redraw);
    }
  }

  LineChart.prototype.size = function () {
    var width = Math.max(200, Math.floor(this.container.clientWidth));
    var height = width < 500 ? 200 : 260;
    return { width: width, height: height };
  };

  LineChart.prototype.resize = function () {
    if (this.plot) this.plot.setSize(this.size());
  };

  LineChart.prototype.showPoint = function (index) {
    var point = this.points[index];
    if (!this.readout) return;
    if (!point) {
      var last = this.points[this.points.length - 1];
      this.readout.textContent = last
        ? "Latest " + D.usd(last.value) + " at " + new Date(last.at).toLocaleString()
        : "";
      return;
    }
    this.readout.textContent = D.usd(point.value) + " at " + new Date(point.at).toLocaleString();
  };

  LineChart.prototype.update = function (points) {
    this.points = (points || []).filter(function (p) { return D.parse(p.value) !== null; });
    this.render();
  };

  LineChart.prototype.render = function () {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
    }
    while (this.container.firstChild) this.container.removeChild(this.container.firstChild);
    if (!this.points.length || typeof window.uPlot !== "function") {
      this.showPoint(-1);
      return;
    }
    var xs = this.points.map(function (p) { return Date.parse(p.at) / 1000; });
    var ys = this.points.map(function (p) { return D.toChartNumber(p.value); });
    var line = cssVar("--accent", "#2f6fed");
    var fill = cssVar("--accent-fill", "rgba(47,111,237,0.12)");
    var axis = cssVar("--muted", "#667085");
    var grid = cssVar("--grid", "rgba(127,127,127,0.15)");
    var self = this;
    var size = this.size();
    var opts = {
      width: size.width,
      height: size.height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 8, fill: line } },
      scales: { x: { time: true } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        {
          stroke: axis,
          size: 64,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: function (u, ticks) { return ticks.map(compact); },
        },
      ],
      series: [
        {},
        {
          stroke: line,
          width: 2,
          fill: fill,
          points: { show: this.points.length < 3, size: 6, fill: line },
        },
      ],
      hooks: {
        setCursor: [function (u) { self.showPoint(u.cursor.idx); }],
      },
    };
    this.plot = new window.uPlot(opts, [xs, ys], this.container);
    this.showPoint(-1);
  };

  /** The allocation donut: `slices` are {label, value, share} with decimal strings. */
  function donut(container, legend, slices, total) {
    while (container.firstChild) container.removeChild(container.firstChild);
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    var radius = 46;
    var circumference = 2 * Math.PI * radius;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 120 120");
    svg.setAttribute("class", "donut-svg");
    svg.setAttribute("aria-hidden", "true");
    var ring = document.createElementNS(SVG, "circle");
    ring.setAttribute("cx", "60");
    ring.setAttribute("cy", "60");
    ring.setAttribute("r", String(radius));
    ring.setAttribute("class", "donut-track");
    svg.appendChild(ring);
    var group = document.createElementNS(SVG, "g");
    group.setAttribute("transform", "rotate(-90 60 60)");
    svg.appendChild(group);
    var offset = 0;
    slices.forEach(function (slice, index) {
      var fraction = (D.toChartNumber(slice.share) || 0) / 100;
      var length = Math.max(0, fraction * circumference);
      if (length > 0) {
        var arc = document.createElementNS(SVG, "circle");
        arc.setAttribute("cx", "60");
        arc.setAttribute("cy", "60");
        arc.setAttribute("r", String(radius));
        arc.setAttribute("class", "donut-seg seg-" + (index % SLICES));
        var gap = slices.length > 1 ? Math.min(0.8, length / 3) : 0;
        arc.setAttribute("stroke-dasharray", (length - gap) + " " + (circumference - length + gap));
        arc.setAttribute("stroke-dashoffset", String(-offset));
        var title = document.createElementNS(SVG, "title");
        title.textContent = slice.label + " " + D.fixed(D.parse(slice.share), 1, false) + "%";
        arc.appendChild(title);
        group.appendChild(arc);
      }
      offset += length;
      var swatch = document.createElement("span");
      swatch.className = "swatch seg-" + (index % SLICES);
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "legend-name";
      name.textContent = slice.label;
      var pct = document.createElement("span");
      pct.className = "legend-pct";
      pct.textContent = D.fixed(D.parse(slice.share), 1, false) + "%";
      var value = document.createElement("span");
      value.className = "legend-value muted";
      value.textContent = D.usd(slice.value);
      item.appendChild(swatch);
      item.appendChild(name);
      item.appendChild(pct);
      item.appendChild(value);
      legend.appendChild(item);
    });
    var center = document.createElementNS(SVG, "text");
    center.setAttribute("x", "60");
    center.setAttribute("y", "64");
    center.setAttribute("text-anchor", "middle");
    center.setAttribute("class", "donut-center");
    center.textContent = slices.length ? String(total || "") : "";
    svg.appendChild(center);
    container.appendChild(svg);
  }

  window.KFCharts = { LineChart: LineChart, donut: donut, SLICES: SLICES };
})();
