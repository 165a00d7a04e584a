/* hwnas report: draws the front and hypervolume plots as SVG from the embedded JSON and
   makes them interactive. Text from runs is only ever inserted with textContent. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("hwnas-data").textContent);
  var RUNS = DATA.runs;
  var SVGNS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04", "#475569"];
  var SINGLE = RUNS.length === 1;
  var TRIAL = "#evaluation";  // pseudo-metric: the evaluation number (no metric name starts with #)
  var state = { x: null, y: null, hidden: {}, pinned: null, all: false };
  // where a maximised axis starts by default (hwnas.report.data.zoom_floor): the found
  // front's band fills the plot; points below it are marked on the bottom edge
  var ZOOM = DATA.zoom || {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function sv(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "n/a";
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(+v.toPrecision(5));
  }
  function runColour(r) { return PALETTE[r % PALETTE.length]; }
  function direction(run, metric) {
    for (var i = 0; i < run.objectives.length; i++)
      if (run.objectives[i].metric === metric) return run.objectives[i].direction;
    return null;
  }
  function unitOf(metric) {
    for (var r = 0; r < RUNS.length; r++) if (RUNS[r].units[metric]) return RUNS[r].units[metric];
    return "";
  }
  function label(metric) {
    if (metric === TRIAL) return "evaluation";
    var u = unitOf(metric), d = null;
    for (var r = 0; r < RUNS.length && !d; r++) d = direction(RUNS[r], metric);
    return metric + (u ? " (" + u + ")" : "") +
      (d === "max" ? "  \u2191 higher is better" : d === "min" ? "  \u2193 lower is better" : "");
  }
  function value(point, metric) { return metric === TRIAL ? point.t : point.m[metric]; }
  function picture(index) {
    if (index === null || index === undefined) return null;
    var t = document.getElementById("pic-" + index);
    return t ? t.content.cloneNode(true) : null;
  }

  // --- the metrics to choose from and the default pair ---------------------------------
  var metrics = [];
  RUNS.forEach(function (run) {
    run.objectives.forEach(function (o) { if (metrics.indexOf(o.metric) < 0) metrics.push(o.metric); });
  });
  RUNS.forEach(function (run) {
    run.metrics.forEach(function (m) { if (metrics.indexOf(m) < 0) metrics.push(m); });
  });
  var objs = RUNS[0].objectives;
  // cost across, quality up (the field's convention) when there is a min/max pair
  var cost = null, gain = null;
  objs.forEach(function (o) {
    if (o.direction === "min" && !cost) cost = o.metric;
    if (o.direction === "max" && !gain) gain = o.metric;
  });
  if (cost && gain) { state.x = cost; state.y = gain; }
  else if (objs.length >= 2) { state.x = objs[0].metric; state.y = objs[1].metric; }
  else { state.x = TRIAL; state.y = objs[0].metric; }

  function buildControls() {
    if (metrics.length <= 2 && objs.length >= 2) return;
    var box = document.getElementById("axis-controls");
    box.hidden = false;
    var choices = (objs.length < 2 ? [TRIAL] : []).concat(metrics);
    ["x", "y"].forEach(function (axis) {
      var lab = el("label", {}, axis + " axis");
      var sel = el("select", { id: axis + "-select", "aria-label": axis + " axis metric" });
      choices.forEach(function (m) {
        var opt = el("option", { value: m }, m === TRIAL ? "evaluation" : m);
        if (m === state[axis]) opt.selected = true;
        sel.appendChild(opt);
      });
      sel.addEventListener("change", function () { state[axis] = sel.value; state.zoom = null; drawFront(); });
      lab.appendChild(sel);
      box.appendChild(lab);
    });
    box.appendChild(el("span", { class: "note" }, "Any pair of objectives (and constrained metrics) can be plotted."));
  }

  // --- scales and axes -------------------------------------------------------------------
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
    return ticks;
  }
  function extent(values, pad) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { lo -= Math.abs(lo) * 0.05 || 1; hi += Math.abs(hi) * 0.05 || 1; }
    var p = (hi - lo) * pad;
    return [lo - p, hi + p];
  }
  function frame(svg, W, H, M, xd, yd, xl, yl) {
    var sx = function (v) { return M.l + (v - xd[0]) / (xd[1] - xd[0]) * (W - M.l - M.r); };
    var sy = function (v) { return H - M.b - (v - yd[0]) / (yd[1] - yd[0]) * (H - M.t - M.b); };
    var grid = sv("g", { class: "grid" }), axis = sv("g", { class: "axis" });
    niceTicks(xd[0], xd[1], 8).forEach(function (t) {
      if (t < xd[0] || t > xd[1]) return;
      grid.appendChild(sv("line", { x1: sx(t), x2: sx(t), y1: M.t, y2: H - M.b }));
      axis.appendChild(sv("line", { x1: sx(t), x2: sx(t), y1: H - M.b, y2: H - M.b + 5, stroke: "#94a3b8" }));
      axis.appendChild(sv("text", { x: sx(t), y: H - M.b + 18, "text-anchor": "middle" }, fmt(t)));
    });
    niceTicks(yd[0], yd[1], 7).forEach(function (t) {
      if (t < yd[0] || t > yd[1]) return;
      grid.appendChild(sv("line", { x1: M.l, x2: W - M.r, y1: sy(t), y2: sy(t) }));
      axis.appendChild(sv("line", { x1: M.l - 5, x2: M.l, y1: sy(t), y2: sy(t), stroke: "#94a3b8" }));
      axis.appendChild(sv("text", { x: M.l - 8, y: sy(t) + 4, "text-anchor": "end" }, fmt(t)));
    });
    axis.appendChild(sv("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, fill: "none", stroke: "#94a3b8" }));
    axis.appendChild(sv("text", { class: "axis-label", x: M.l + (W - M.l - M.r) / 2, y: H - 12, "text-anchor": "middle" }, xl));
    axis.appendChild(sv("text", { class: "axis-label", transform: "translate(16," + (M.t + (H - M.t - M.b) / 2) + ") rotate(-90)", "text-anchor": "middle" }, yl));
    svg.appendChild(grid);
    svg.appendChild(axis);
    return { x: sx, y: sy };
  }
  function stairs(points, sx, sy, xmax) {
    // the boundary of the region the points dominate, sorted by x: horizontal-first when
    // x is minimised, vertical-first when it is maximised
    var d = "";
    points.forEach(function (p, i) {
      var X = sx(p[0]), Y = sy(p[1]);
      if (i === 0) d += "M" + X + "," + Y;
      else d += xmax ? "V" + Y + "H" + X : "H" + X + "V" + Y;
    });
    return d;
  }

  // drag a rectangle on the plot to zoom into it; double-click (or the button) to zoom out
  function zoomable(svg, W, H, M, xd, yd) {
    var start = null, box = null;
    function at(ev) {
      var r = svg.getBoundingClientRect();
      return [(ev.clientX - r.left) * W / r.width, (ev.clientY - r.top) * H / r.height];
    }
    function inv(px, py) {
      return [xd[0] + (px - M.l) / (W - M.l - M.r) * (xd[1] - xd[0]),
              yd[0] + (H - M.b - py) / (H - M.t - M.b) * (yd[1] - yd[0])];
    }
    svg.addEventListener("mousedown", function (ev) {
      if (ev.target.classList && ev.target.classList.contains("pt")) return;
      var p = at(ev);
      if (p[0] < M.l || p[0] > W - M.r || p[1] < M.t || p[1] > H - M.b) return;
      start = p;
      box = sv("rect", { class: "zoom-box", x: p[0], y: p[1], width: 0, height: 0, fill: "#2563eb", "fill-opacity": 0.08, stroke: "#2563eb", "stroke-dasharray": "3 2" });
      svg.appendChild(box);
      ev.preventDefault();
    });
    svg.addEventListener("mousemove", function (ev) {
      if (!start) return;
      var p = at(ev);
      box.setAttribute("x", Math.min(p[0], start[0])); box.setAttribute("width", Math.abs(p[0] - start[0]));
      box.setAttribute("y", Math.min(p[1], start[1])); box.setAttribute("height", Math.abs(p[1] - start[1]));
    });
    function end(ev) {
      if (!start) return;
      var p = at(ev), a = inv(start[0], start[1]), b = inv(p[0], p[1]);
      start = null;
      box.remove();
      if (+box.getAttribute("width") < 8 || +box.getAttribute("height") < 8) return;
      state.zoom = { x: [Math.min(a[0], b[0]), Math.max(a[0], b[0])], y: [Math.min(a[1], b[1]), Math.max(a[1], b[1])] };
      drawFront();
    }
    svg.addEventListener("mouseup", end);
    svg.addEventListener("mouseleave", end);
    svg.addEventListener("dblclick", function () { if (state.zoom) { state.zoom = null; drawFront(); } });
  }

  // --- series of the front plot ----------------------------------------------------------
  function seriesList() {
    var list = [];
    var seen = {};
    RUNS.forEach(function (run, r) {
      if (!run.true_front || !run.true_front.length) return;
      var sig = JSON.stringify([run.config.space, run.config.dataset, run.config.objectives, run.config.constraints]);
      if (seen[sig]) return;
      seen[sig] = true;
      list.push({ id: "true-" + r, kind: "true", run: r, label: "true front (table" + (SINGLE ? ")" : ", " + run.name + ")"), colour: "#6b7280", points: run.true_front });
    });
    RUNS.forEach(function (run, r) {
      var c = SINGLE ? null : runColour(r), pre = SINGLE ? "" : run.name + ": ";
      var by = { ok: [], infeasible: [], failed: [], front: [] };
      run.points.forEach(function (p, i) {
        var q = { run: r, idx: i, p: p };
        if (p.f) by.front.push(q); else by[p.s].push(q);
      });
      list.push({ id: "ok-" + r, kind: "ok", run: r, label: pre + "feasible", colour: c || "#60a5fa", points: by.ok });
      list.push({ id: "infeasible-" + r, kind: "infeasible", run: r, label: pre + "infeasible", colour: c || "#dc2626", points: by.infeasible });
      list.push({ id: "failed-" + r, kind: "failed", run: r, label: pre + "failed", colour: "#9ca3af", points: by.failed });
      list.push({ id: "front-" + r, kind: "front", run: r, label: pre + "found front", colour: c || "#ea580c", points: by.front });
    });
    return list;
  }
  var SERIES = seriesList();

  function plotted(s) {
    // points of a series with both coordinates, as [x, y, item]
    var out = [];
    s.points.forEach(function (q) {
      var p = q.p || q, x = value(p, state.x), y = value(p, state.y);
      if (x !== null && x !== undefined && y !== null && y !== undefined && isFinite(x) && isFinite(y)) out.push([x, y, q]);
    });
    return out;
  }

  function drawFront() {
    var host = document.getElementById("front-plot");
    host.textContent = "";
    var W = 780, H = 500, M = { l: 78, r: 22, t: 16, b: 58 };
    var svg = sv("svg", { viewBox: "0 0 " + W + " " + H, role: "img", id: "front-svg" });
    svg.appendChild(sv("title", {}, "Objective space: " + label(state.y) + " versus " + label(state.x)));
    var xs = [], ys = [];
    var visible = SERIES.filter(function (s) { return !state.hidden[s.id]; });
    var pts = {};
    SERIES.forEach(function (s) { pts[s.id] = plotted(s); });
    visible.forEach(function (s) { pts[s.id].forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    var lines = [];
    RUNS.forEach(function (run) {
      run.constraints.forEach(function (c) {
        if ((c.metric === state.x || c.metric === state.y) && !lines.some(function (l) { return l.spec === c.spec; })) lines.push(c);
      });
    });
    lines.forEach(function (c) { (c.metric === state.x ? xs : ys).push(c.bound); });
    var floor = state.zoom || state.all || !(state.y in ZOOM) ? null : ZOOM[state.y];
    if (floor !== null) ys = ys.filter(function (v) { return v >= floor; });
    var xd = state.zoom ? state.zoom.x : extent(xs, 0.04), yd = state.zoom ? state.zoom.y : extent(ys, 0.05);
    if (floor !== null) yd[0] = floor;
    var below = 0;
    var s = frame(svg, W, H, M, xd, yd, label(state.x), label(state.y));
    zoomable(svg, W, H, M, xd, yd);
    var clipId = "plot-area";
    var defs = sv("defs");
    var clip = sv("clipPath", { id: clipId });
    clip.appendChild(sv("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b }));
    defs.appendChild(clip);
    svg.appendChild(defs);
    var area = sv("g", { id: "plot-area-g", "clip-path": "url(#" + clipId + ")" });
    svg.appendChild(area);
    // constraint lines, with the infeasible side shaded
    lines.forEach(function (c) {
      var g = sv("g", { class: "constraint" });
      var bad = c.op === "<=" || c.op === "<" ? 1 : -1;
      if (c.metric === state.x) {
        var X = s.x(c.bound), edge = bad > 0 ? W - M.r : M.l;
        g.appendChild(sv("rect", { x: Math.min(X, edge), y: M.t, width: Math.abs(edge - X), height: H - M.t - M.b, fill: "#dc2626", "fill-opacity": 0.05 }));
        g.appendChild(sv("line", { x1: X, x2: X, y1: M.t, y2: H - M.b, stroke: "#dc2626", "stroke-dasharray": "6 4", "stroke-width": 1.5 }));
        var text = "constraint " + c.spec, room = 6.5 * text.length + 8;
        var right = bad > 0 ? X + room < W - M.r : X - room < M.l;  // label on the infeasible side if it fits
        g.appendChild(sv("text", { x: X + (right ? 6 : -6), y: M.t + 14, "text-anchor": right ? "start" : "end", fill: "#b91c1c", "font-size": 12 }, text));
      } else {
        var Y = s.y(c.bound), top = bad > 0 ? M.t : H - M.b;
        g.appendChild(sv("rect", { x: M.l, y: Math.min(Y, top), width: W - M.l - M.r, height: Math.abs(top - Y), fill: "#dc2626", "fill-opacity": 0.05 }));
        g.appendChild(sv("line", { x1: M.l, x2: W - M.r, y1: Y, y2: Y, stroke: "#dc2626", "stroke-dasharray": "6 4", "stroke-width": 1.5 }));
        g.appendChild(sv("text", { x: W - M.r - 6, y: Y + (bad > 0 ? -6 : 14), "text-anchor": "end", fill: "#b91c1c", "font-size": 12 }, "constraint " + c.spec));
      }
      area.appendChild(g);
    });
    // the fronts' staircases, drawn only when the plotted pair is the runs' two objectives
    visible.forEach(function (ser) {
      if (ser.kind !== "true" && ser.kind !== "front") return;
      var run = RUNS[ser.run];
      if (run.objectives.length !== 2) return;
      var names = run.objectives.map(function (o) { return o.metric; });
      if (names.indexOf(state.x) < 0 || names.indexOf(state.y) < 0 || state.x === state.y) return;
      var p = pts[ser.id].slice().sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
      if (p.length < 2) return;
      area.appendChild(sv("path", { class: "stairs " + ser.kind, d: stairs(p, s.x, s.y, direction(run, state.x) === "max"), fill: "none", stroke: ser.colour, "stroke-width": ser.kind === "true" ? 1.5 : 2, "stroke-dasharray": ser.kind === "true" ? "5 3" : null, "stroke-opacity": ser.kind === "true" ? 0.8 : 0.9 }));
    });
    var order = { "true": 0, failed: 1, ok: 2, infeasible: 3, front: 4 };
    visible.slice().sort(function (a, b) { return order[a.kind] - order[b.kind]; }).forEach(function (ser) {
      var g = sv("g", { class: "series " + ser.kind, "data-series": ser.id });
      pts[ser.id].forEach(function (p) {
        var X = s.x(p[0]), Y = s.y(p[1]), q = p[2], node;
        var edge = floor !== null && p[1] < floor;
        if (edge) Y = H - M.b;
        if (edge && ser.kind !== "true") {
          below += 1;
          node = sv("path", { d: "M" + (X - 4.5) + "," + (Y - 8) + "h9l-4.5,8z", fill: ser.kind === "failed" ? "#9ca3af" : ser.colour, "fill-opacity": 0.8 });
          node.setAttribute("class", "pt edge");
          node.setAttribute("data-run", q.run);
          node.setAttribute("data-idx", q.idx);
          node.setAttribute("pointer-events", "all");
        } else if (ser.kind === "true") {
          node = sv("circle", { class: "tf", cx: X, cy: Y, r: 3, fill: "#fff", stroke: ser.colour, "stroke-width": 1.2 });
          node.addEventListener("mouseenter", function (ev) { showTip(ev, { run: ser.run, tf: q }); });
          node.addEventListener("mouseleave", hideTip);
        } else {
          if (ser.kind === "infeasible") {
            node = sv("path", { d: "M" + (X - 3.5) + "," + (Y - 3.5) + "l7,7m0,-7l-7,7", stroke: ser.colour, "stroke-width": 1.6, "stroke-opacity": 0.75 });
          } else if (ser.kind === "failed") {
            node = sv("circle", { cx: X, cy: Y, r: 3.5, fill: "none", stroke: ser.colour, "stroke-width": 1.4 });
          } else if (ser.kind === "front") {
            node = sv("circle", { cx: X, cy: Y, r: 5, fill: ser.colour, stroke: "#fff", "stroke-width": 1.2 });
          } else {
            node = sv("circle", { cx: X, cy: Y, r: 3.5, fill: ser.colour, "fill-opacity": SINGLE ? 0.7 : 0.35 });
          }
          node.setAttribute("class", "pt");
          node.setAttribute("data-run", q.run);
          node.setAttribute("data-idx", q.idx);
          node.setAttribute("pointer-events", "all");
        }
        g.appendChild(node);
      });
      area.appendChild(g);
    });
    svg.addEventListener("mouseover", function (ev) {
      var t = ev.target;
      if (t.classList && t.classList.contains("pt")) showTip(ev, { run: +t.getAttribute("data-run"), idx: +t.getAttribute("data-idx") });
    });
    svg.addEventListener("mouseout", function (ev) {
      if (ev.target.classList && ev.target.classList.contains("pt")) hideTip();
    });
    svg.addEventListener("click", function (ev) {
      var t = ev.target;
      if (t.classList && t.classList.contains("pt")) pin(+t.getAttribute("data-run"), +t.getAttribute("data-idx"));
    });
    host.appendChild(svg);
    state.scale = s;
    markPinned();
    drawLegend(pts, below, floor);
  }

  function drawLegend(pts, below, floor) {
    var box = document.getElementById("legend");
    box.textContent = "";
    SERIES.forEach(function (ser) {
      var total = ser.points.length;
      if (!total) return;
      var shown = pts[ser.id].length;
      var b = el("button", { type: "button", "data-series": ser.id, title: "show or hide" });
      if (state.hidden[ser.id]) b.className = "off";
      var sw = sv("svg", { width: 14, height: 14, viewBox: "0 0 14 14" });
      if (ser.kind === "infeasible") sw.appendChild(sv("path", { d: "M3,3l8,8m0,-8l-8,8", stroke: ser.colour, "stroke-width": 2 }));
      else if (ser.kind === "true") { sw.appendChild(sv("line", { x1: 0, x2: 14, y1: 7, y2: 7, stroke: ser.colour, "stroke-dasharray": "3 2" })); sw.appendChild(sv("circle", { cx: 7, cy: 7, r: 3, fill: "#fff", stroke: ser.colour })); }
      else if (ser.kind === "failed") sw.appendChild(sv("circle", { cx: 7, cy: 7, r: 4, fill: "none", stroke: ser.colour, "stroke-width": 1.5 }));
      else sw.appendChild(sv("circle", { cx: 7, cy: 7, r: ser.kind === "front" ? 5 : 4, fill: ser.colour }));
      b.appendChild(sw);
      var text = ser.label + " (" + total + ")";
      if (shown < total) text += ", " + (total - shown) + " without values";
      b.appendChild(document.createTextNode(text));
      b.addEventListener("click", function () { state.hidden[ser.id] = !state.hidden[ser.id]; drawFront(); });
      box.appendChild(b);
    });
    if (below) {
      var edge = el("span", { class: "plain", id: "edge-note" }, "\u25bc " + below + " point" + (below === 1 ? "" : "s") + " below " + fmt(floor) + " on the bottom edge");
      var all = el("button", { type: "button", id: "show-all" }, "show all");
      all.addEventListener("click", function () { state.all = true; drawFront(); });
      box.appendChild(edge);
      box.appendChild(all);
    } else if (state.all && !state.zoom && state.y in ZOOM) {
      var front = el("button", { type: "button", id: "zoom-front" }, "zoom to the front");
      front.addEventListener("click", function () { state.all = false; drawFront(); });
      box.appendChild(front);
    }
    if (state.zoom) {
      var z = el("button", { type: "button", id: "zoom-reset" }, "\u21ba zoom out");
      z.addEventListener("click", function () { state.zoom = null; drawFront(); });
      box.appendChild(z);
    } else box.appendChild(el("span", { class: "plain" }, "drag on the plot to zoom"));
    var hasConstraint = RUNS.some(function (r) { return r.constraints.length; });
    if (hasConstraint) {
      var c = el("span", { class: "plain" });
      var sw = sv("svg", { width: 18, height: 14, viewBox: "0 0 18 14" });
      sw.appendChild(sv("line", { x1: 0, x2: 18, y1: 7, y2: 7, stroke: "#dc2626", "stroke-dasharray": "4 3", "stroke-width": 1.5 }));
      c.appendChild(sw);
      c.appendChild(document.createTextNode("constraint bound (shaded side infeasible)"));
      box.appendChild(c);
    }
  }

  // --- tooltip and details ---------------------------------------------------------------
  function metricRows(table, run, m, prov, withProv) {
    run.metrics.forEach(function (name) {
      var tr = el("tr", { class: "metric" });
      tr.appendChild(el("td", {}, name));
      var u = run.units[name] ? " " + run.units[name] : "";
      tr.appendChild(el("td", { class: "num" }, fmt(m[name]) + u));
      table.appendChild(tr);
      if (!withProv) return;
      var row = el("tr", { class: "prov-row" }), td = el("td", { colspan: 2 }), ul = el("ul", { class: "prov" });
      var rec = prov && prov[name] !== undefined ? DATA.provenance[prov[name]] : null;
      if (rec) Object.keys(rec).forEach(function (k) {
        if (k === "unit") return;
        var li = el("li");
        li.appendChild(el("span", { class: "prov-key" }, k + ": "));
        li.appendChild(document.createTextNode(typeof rec[k] === "object" ? JSON.stringify(rec[k]) : rec[k]));
        ul.appendChild(li);
      });
      else ul.appendChild(el("li", {}, "no provenance recorded"));
      td.appendChild(ul);
      row.appendChild(td);
      table.appendChild(row);
    });
  }
  function statusBadges(box, p) {
    box.appendChild(el("span", { class: "badge " + p.s }, p.s));
    if (p.f) { box.appendChild(document.createTextNode(" ")); box.appendChild(el("span", { class: "badge front" }, "on the found front")); }
  }
  function showTip(ev, ref) {
    var tip = document.getElementById("tooltip"), run = RUNS[ref.run];
    tip.textContent = "";
    var p = ref.tf || run.points[ref.idx];
    var head = el("div");
    if (!SINGLE) head.appendChild(el("strong", {}, run.name + " \u00b7 "));
    if (ref.tf) head.appendChild(el("strong", {}, "true front (from the table)"));
    else { head.appendChild(el("strong", {}, "evaluation " + p.t + " ")); statusBadges(head, p); }
    tip.appendChild(head);
    var pic = picture(p.pic);
    if (pic) tip.appendChild(pic);
    tip.appendChild(el("div", { class: "key" }, p.k));
    var t = el("table");
    metricRows(t, run, p.m, null, false);
    tip.appendChild(t);
    if (p.e) tip.appendChild(el("div", { class: "error" }, p.e));
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14, w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 8) y = Math.max(8, ev.clientY - h - 14);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { document.getElementById("tooltip").hidden = true; }

  function pin(r, i) {
    state.pinned = [r, i];
    var run = RUNS[r], p = run.points[i], box = document.getElementById("details");
    box.textContent = "";
    box.appendChild(el("h3", {}, (SINGLE ? "" : run.name + " \u00b7 ") + "evaluation " + p.t));
    var badges = el("div");
    statusBadges(badges, p);
    box.appendChild(badges);
    var pic = picture(p.pic);
    if (pic) box.appendChild(pic);
    box.appendChild(el("div", { class: "key" }, p.k));
    if (p.e) box.appendChild(el("p", { class: "error" }, "error: " + p.e));
    var t = el("table");
    var head = el("tr");
    head.appendChild(el("th", {}, "metric"));
    head.appendChild(el("th", { class: "num" }, "value and provenance"));
    t.appendChild(head);
    metricRows(t, run, p.m, p.p, true);
    box.appendChild(t);
    markPinned();
    document.querySelectorAll("table.front tbody tr").forEach(function (tr) {
      tr.classList.toggle("selected", +tr.getAttribute("data-run") === r && +tr.getAttribute("data-idx") === i);
    });
  }
  function markPinned() {
    var svg = document.getElementById("front-svg");
    if (!svg) return;
    var old = svg.querySelector(".halo");
    if (old) old.remove();
    svg.querySelectorAll(".pt.selected").forEach(function (n) { n.classList.remove("selected"); });
    if (!state.pinned) return;
    var node = svg.querySelector('.pt[data-run="' + state.pinned[0] + '"][data-idx="' + state.pinned[1] + '"]');
    if (!node) return;
    node.classList.add("selected");
    var p = RUNS[state.pinned[0]].points[state.pinned[1]];
    var X = state.scale.x(value(p, state.x)), Y = state.scale.y(value(p, state.y));
    svg.querySelector("#plot-area-g").appendChild(sv("circle", { class: "halo", cx: X, cy: Y, r: 9 }));
  }

  // --- hypervolume -----------------------------------------------------------------------
  function drawHV() {
    var host = document.getElementById("hv-plot");
    var W = 780, H = 320, M = { l: 78, r: 22, t: 14, b: 50 };
    var svg = sv("svg", { viewBox: "0 0 " + W + " " + H, role: "img", id: "hv-svg" });
    svg.appendChild(sv("title", {}, "Hypervolume versus evaluations"));
    var xs = [0], ys = [];
    RUNS.forEach(function (run) {
      xs.push(run.points.length);
      run.hv.curve.forEach(function (c) { if (c[1] > 0) ys.push(c[1]); });
      if (run.hv.true !== null) ys.push(run.hv.true);
    });
    var xd = [0, Math.max.apply(null, xs) || 1], yd = extent(ys, 0.06);
    var s = frame(svg, W, H, M, xd, yd, "evaluations", "hypervolume (share of the reference box)");
    var seen = {}, legend = [];
    RUNS.forEach(function (run, r) {
      var c = SINGLE ? "#2563eb" : runColour(r);
      if (run.hv.true !== null && !seen[run.hv.true]) {
        seen[run.hv.true] = true;
        var Y = s.y(run.hv.true);
        svg.appendChild(sv("line", { class: "hv-true", x1: M.l, x2: W - M.r, y1: Y, y2: Y, stroke: "#6b7280", "stroke-dasharray": "6 4", "stroke-width": 1.5 }));
        svg.appendChild(sv("text", { x: W - M.r - 6, y: Y - 6, "text-anchor": "end", "font-size": 12, fill: "#374151" }, "true front " + fmt(run.hv.true) + (SINGLE ? "" : " (" + run.name + ")")));
      }
      var d = "", last = null;
      run.hv.curve.forEach(function (pt) {
        if (pt[1] < yd[0]) return;
        var X = s.x(pt[0]), Y = s.y(pt[1]);
        d += d ? "H" + X + "V" + Y : "M" + X + "," + Y;
        last = pt;
      });
      if (!last) return;
      d += "H" + s.x(run.points.length);
      svg.appendChild(sv("path", { class: "hv-line", d: d, fill: "none", stroke: c, "stroke-width": 2 }));
      run.hv.curve.forEach(function (pt) {
        if (pt[1] < yd[0]) return;
        var dot = sv("circle", { cx: s.x(pt[0]), cy: s.y(pt[1]), r: 2.5, fill: c });
        dot.appendChild(sv("title", {}, (SINGLE ? "" : run.name + ": ") + "after " + pt[0] + " evaluations: " + fmt(pt[1])));
        svg.appendChild(dot);
      });
      legend.push([c, run.name, last[1], run]);
    });
    host.appendChild(svg);
    var box = el("div", { class: "legend" });
    legend.forEach(function (l) {
      var span = el("span", { class: "plain" });
      span.appendChild(el("span", { class: "swatch", style: "background:" + l[0] }));
      var ratio = l[3].summary.hv_ratio;
      span.appendChild(document.createTextNode(l[1] + ": " + fmt(l[2]) + (ratio !== undefined && ratio !== null ? " = " + (100 * ratio).toFixed(2) + "% of the true front" : "")));
      box.appendChild(span);
    });
    host.appendChild(box);
    var hows = [];
    RUNS.forEach(function (run) { if (hows.indexOf(run.hv.how) < 0) hows.push(run.hv.how); });
    document.getElementById("hv-note").textContent =
      "Hypervolume of the feasible found front after each evaluation (higher is better), every objective min-max normalised " +
      hows.join("; ") + ", as the share of the box between the ideal point and the reference point that the front dominates (1 is all of it)." +
      (RUNS.some(function (r) { return r.hv.true !== null; }) ? " The dashed line is the true front's hypervolume, from the table." : "");
  }

  // --- the front table -----------------------------------------------------------------------
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.setAttribute("tabindex", "0");
      function go() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var numeric = th.getAttribute("data-type") === "number";
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-value"), y = b.cells[col].getAttribute("data-value");
          if (x === null) x = a.cells[col].textContent;
          if (y === null) y = b.cells[col].textContent;
          var c;
          if (numeric) {
            var fx = x === "" ? NaN : +x, fy = y === "" ? NaN : +y;
            if (isNaN(fx) || isNaN(fy)) return isNaN(fx) - isNaN(fy);  // missing values last
            c = fx - fy;
          } else c = x < y ? -1 : x > y ? 1 : 0;
          return asc ? c : -c;
        });
        rows.forEach(function (tr) { body.appendChild(tr); });
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); go(); } });
    });
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      tr.addEventListener("click", function () {
        var r = +tr.getAttribute("data-run"), i = +tr.getAttribute("data-idx");
        pin(r, i);
        document.getElementById("front-section").scrollIntoView({ behavior: "smooth", block: "start" });
      });
    });
  }

  buildControls();
  drawFront();
  drawHV();
  document.querySelectorAll("table.front").forEach(sortable);
  document.body.setAttribute("data-ready", "1");
})();
