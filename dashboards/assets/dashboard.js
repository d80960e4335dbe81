// tlmbench dashboard (dashboards/assets/dashboard.js): renders the JSON in <script id="data"> into
// sortable, filterable tables and SVG charts. Vanilla JS, no network. When rendering ends it adds a
// div with id render-ok; any error adds one with id render-error holding the message (the tests look).
(function () {
  'use strict';

  var SVGNS = 'http://www.w3.org/2000/svg';
  // Okabe-Ito and Tableau-like colours, distinguishable for most colour vision.
  var PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#8C564B', '#4E79A7',
                 '#B07AA1', '#59A14F', '#F28E2B', '#76B7B2', '#EDC948', '#9C755F', '#BAB0AC', '#E15759'];
  var CHAR_W = 0.6;  // estimated glyph width per px of font size, for layout without measuring

  function reportError(message) {
    var box = document.getElementById('render-error');
    if (!box) {
      box = document.createElement('div');
      box.id = 'render-error';
      box.className = 'empty';
      box.style.cssText = 'background:#fde8e7;color:#8a1c13;padding:10px;margin:10px 24px;border-radius:4px';
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent = (box.textContent ? box.textContent + '\n' : '') + 'dashboard error: ' + message;
  }
  window.onerror = function (message, source, line, column, error) {
    reportError(String(message) + (line ? ' (line ' + line + ')' : '') + (error && error.stack ? '\n' + error.stack : ''));
  };

  // ---- DOM helpers ------------------------------------------------------------------------------

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function s(tag, attrs, children) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'className') e.setAttribute('class', v);
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    });
  }
  function append(e, children) {
    if (children === null || children === undefined) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
  }
  function svgTitle(text) { return s('title', { text: text }); }

  // ---- numbers and units ------------------------------------------------------------------------

  // How a stored unit is shown: bytes as MiB, fractions as percent.
  function displayUnit(unit) {
    if (unit === 'bytes') return 'MiB';
    if (unit === 'fraction') return '%';
    return unit || '';
  }
  function toDisplay(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) return null;
    if (unit === 'bytes') return value / 1048576;
    if (unit === 'fraction') return value * 100;
    return value;
  }
  function decimalsFor(unit, v) {
    if (unit === 'nats') return 4;
    if (unit === 'ratio') return 3;
    if (unit === 'fraction') return 2;
    if (unit === 'bytes') return 1;
    return Math.abs(v) >= 1000 ? 1 : 2;
  }
  function formatValue(value, unit) {
    var v = toDisplay(value, unit);
    if (v === null) return '–';
    return v.toLocaleString('en-US', { minimumFractionDigits: decimalsFor(unit, v),
                                       maximumFractionDigits: decimalsFor(unit, v) });
  }
  function formatTickNumber(v, step) {
    var decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }
  function unitSuffix(unit) { var u = displayUnit(unit); return u ? ' (' + u + ')' : ''; }

  // "Nice" ticks over [min, max]: steps of 1, 2 or 5 times a power of ten.
  function niceTicks(min, max, count) {
    if (!(max > min)) { max = min + (min === 0 ? 1 : Math.abs(min) * 0.1); }
    var raw = (max - min) / Math.max(1, count);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (st) { return st >= raw; })[0];
    var lo = Math.floor(min / step + 1e-9) * step, hi = Math.ceil(max / step - 1e-9) * step;
    var ticks = [];
    for (var v = lo; v <= hi + step * 1e-6; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return { lo: lo, hi: hi, step: step, ticks: ticks };
  }

  var DAY = 86400000;
  function timeTicks(min, max) {
    var span = Math.max(max - min, 1);
    var steps = [3600000, 3 * 3600000, 6 * 3600000, 12 * 3600000, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
                 91 * DAY, 182 * DAY, 365 * DAY];
    var step = steps.filter(function (st) { return span / st <= 7; })[0] || 365 * DAY;
    var ticks = [];
    for (var t = Math.ceil(min / step) * step; t <= max; t += step) ticks.push(t);
    return { step: step, ticks: ticks };
  }
  function formatTime(t, withClock) {
    var iso = new Date(t).toISOString();
    return withClock ? iso.slice(0, 10) + ' ' + iso.slice(11, 16) : iso.slice(0, 10);
  }
  function shortCommit(c) { return c ? String(c).slice(0, 10) : '–'; }
  function truncate(text, max) { return text.length > max ? text.slice(0, max - 1) + '…' : text; }

  // ---- tables -----------------------------------------------------------------------------------

  // columns: [{key, label, unit, numeric, value(row) -> sortable value, cell(row) -> text or node, cls}]
  function dataTable(id, columns, rows, emptyText) {
    if (!rows.length) return h('p', { className: 'empty', id: id + '-empty', text: emptyText });
    var tbody = h('tbody');
    var trs = rows.map(function (row, i) {
      var tr = h('tr', { 'data-row': i });
      columns.forEach(function (c) {
        var content = c.cell ? c.cell(row) : c.value(row);
        var td = h('td', { className: (c.numeric ? 'num ' : '') + (c.cls ? c.cls(row) : '') });
        if (content instanceof Node) td.appendChild(content);
        else td.textContent = content === null || content === undefined ? '–' : String(content);
        tr.appendChild(td);
      });
      tr._row = row;
      tbody.appendChild(tr);
      return tr;
    });
    var sortState = { col: -1, dir: 1 };
    var ths = columns.map(function (c, ci) {
      return h('th', { className: c.numeric ? 'num' : '', 'data-key': c.key, scope: 'col', title: 'Sort by ' + c.label,
                       onclick: function () { sortBy(ci); } },
               [c.label, c.unit ? h('span', { className: 'unit', text: displayUnit(c.unit) }) : null]);
    });
    var table = h('table', { className: 'data', id: id }, [h('thead', null, h('tr', null, ths)), tbody]);
    var count = h('span', { className: 'count', id: id + '-count' });
    var filter = h('input', { type: 'search', id: id + '-filter', placeholder: 'Filter rows (all words must match)',
                              'aria-label': 'Filter rows', oninput: applyFilter });
    function sortBy(ci) {
      sortState.dir = sortState.col === ci ? -sortState.dir : 1;
      sortState.col = ci;
      var c = columns[ci];
      var sorted = trs.slice().sort(function (a, b) {
        var x = c.value(a._row), y = c.value(b._row);
        var xn = x === null || x === undefined || x === '', yn = y === null || y === undefined || y === '';
        if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1;  // empty cells last either way
        if (c.numeric) return (x - y) * sortState.dir;
        return String(x).localeCompare(String(y), 'en', { numeric: true }) * sortState.dir;
      });
      sorted.forEach(function (tr) { tbody.appendChild(tr); });
      ths.forEach(function (th, i) {
        if (i === ci) th.setAttribute('aria-sort', sortState.dir > 0 ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
      });
    }
    function applyFilter() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      trs.forEach(function (tr) {
        var text = tr.textContent.toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        tr.classList.toggle('hidden', !match);
        if (match) shown++;
      });
      count.textContent = shown + ' of ' + trs.length + ' rows';
    }
    applyFilter();
    return h('div', { className: 'table-block' },
             [h('div', { className: 'table-tools' }, [filter, count]), h('div', { className: 'table-wrap' }, table)]);
  }

  function textCol(key, label, get) {
    get = get || function (r) { return r[key]; };
    return { key: key, label: label, value: get };
  }
  function numCol(key, label, unit, get) {
    return { key: key, label: label, unit: unit, numeric: true, value: get,
             cell: function (r) { var v = get(r); return v === null || v === undefined ? '–' : formatValue(v, unit); } };
  }
  function plainNumCol(key, label, get) {
    get = get || function (r) { return r[key]; };
    return { key: key, label: label, numeric: true, value: get };
  }

  // ---- charts -----------------------------------------------------------------------------------

  var chartCount = 0;
  function figure(id, caption, svgEl, note) {
    chartCount++;
    return h('figure', { className: 'chart', id: id + '-figure' },
             [h('figcaption', { text: caption }), svgEl, note ? h('p', { className: 'note', text: note }) : null]);
  }

  // A legend laid out in rows across `width`, starting at y; returns {g, height}. Clicking an item
  // hides or shows the chart elements whose data-series is that item's key.
  function legend(svgRoot, items, x0, y0, width) {
    var g = s('g', { className: 'legend', transform: 'translate(' + x0 + ',' + y0 + ')' });
    var x = 0, y = 0, rowH = 18;
    items.forEach(function (it) {
      var label = truncate(it.label, 90);
      var w = 22 + label.length * 12 * CHAR_W + 16;
      if (x > 0 && x + w > width) { x = 0; y += rowH; }
      var item = s('g', { className: 'item', transform: 'translate(' + x + ',' + y + ')', 'data-series': it.key || null },
                   [it.dashed ? s('line', { x1: 0, x2: 16, y1: 6, y2: 6, stroke: it.color, 'stroke-width': 2,
                                           'stroke-dasharray': '4 3' })
                              : s('rect', { x: 0, y: 0, width: 14, height: 12, rx: 2, fill: it.color }),
                    s('text', { x: 20, y: 10.5, text: label }), svgTitle(it.label)]);
      if (it.key) {
        item.addEventListener('click', function () {
          var off = !item.classList.contains('off');
          item.classList.toggle('off', off);
          svgRoot.querySelectorAll('.series[data-series="' + it.key + '"]').forEach(function (e) {
            e.classList.toggle('off', off);
          });
        });
      }
      g.appendChild(item);
      x += w;
    });
    return { g: g, height: y + rowH };
  }

  // Horizontal grouped bars: one group per category (a configuration), one bar per series.
  // opts: {id, categories: [label], series: [{name, unit, values: [raw or null]}], xTitle, yTitle}
  function barChart(opts) {
    var W = 640, nS = opts.series.length, barH = 12, groupGap = 10;
    var maxChars = 44;
    var labels = opts.categories.map(function (c) { return truncate(c, maxChars); });
    var longest = labels.reduce(function (m, l) { return Math.max(m, l.length); }, 0);
    var left = Math.max(90, 36 + longest * 11 * CHAR_W), right = 24, top = 10;  // 36: the rotated axis title
    var groupH = nS * barH + groupGap, plotH = opts.categories.length * groupH;
    var plotW = W - left - right;
    var all = [];
    opts.series.forEach(function (se) {
      se.values.forEach(function (v) { var d = toDisplay(v, se.unit); if (d !== null) all.push(d); });
    });
    var max = Math.max.apply(null, all.concat([0]));
    var min = Math.min.apply(null, all.concat([0]));
    var scale = niceTicks(min, max, 5);
    var X = function (v) { return left + (v - scale.lo) / (scale.hi - scale.lo) * plotW; };
    var root = s('svg', { id: opts.id, className: 'chart bar-chart', 'data-chart': 'bar', role: 'img',
                          'aria-label': opts.caption || opts.id });
    var grid = s('g', { className: 'grid' }), xAxis = s('g', { className: 'axis x-axis' });
    scale.ticks.forEach(function (t) {
      grid.appendChild(s('line', { x1: X(t), x2: X(t), y1: top, y2: top + plotH }));
      xAxis.appendChild(s('g', { className: 'tick' }, [
        s('line', { x1: X(t), x2: X(t), y1: top + plotH, y2: top + plotH + 5 }),
        s('text', { x: X(t), y: top + plotH + 17, 'text-anchor': 'middle', text: formatTickNumber(t, scale.step) })]));
    });
    xAxis.appendChild(s('line', { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH }));
    xAxis.appendChild(s('text', { className: 'axis-title', x: left + plotW / 2, y: top + plotH + 36,
                                  'text-anchor': 'middle', text: opts.xTitle }));
    var yAxis = s('g', { className: 'axis y-axis' });
    yAxis.appendChild(s('line', { x1: X(Math.max(scale.lo, 0)), x2: X(Math.max(scale.lo, 0)), y1: top, y2: top + plotH }));
    var bars = s('g', { className: 'bars' });
    opts.categories.forEach(function (cat, ci) {
      var gy = top + ci * groupH + groupGap / 2;
      yAxis.appendChild(s('g', { className: 'tick' }, [
        s('text', { x: left - 8, y: gy + nS * barH / 2 + 4, 'text-anchor': 'end', text: labels[ci] }), svgTitle(cat)]));
      opts.series.forEach(function (se, si) {
        var raw = se.values[ci], v = toDisplay(raw, se.unit);
        var seriesG = s('g', { className: 'series', 'data-series': 'b' + si });
        if (v === null) {
          seriesG.appendChild(s('text', { x: X(0) + 4, y: gy + si * barH + barH - 2, className: 'tick',
                                          'font-size': 10, fill: '#8a94a3', text: 'no data' }));
        } else {
          var x0 = X(Math.min(0, v)), x1 = X(Math.max(0, v));
          seriesG.appendChild(s('rect', { className: 'bar', x: x0, y: gy + si * barH, width: Math.max(1, x1 - x0),
                                          height: barH - 2, fill: se.color },
                                svgTitle(cat + '\n' + se.name + ': ' + formatValue(raw, se.unit) + ' ' +
                                         displayUnit(se.unit))));
        }
        bars.appendChild(seriesG);
      });
    });
    yAxis.appendChild(s('text', { className: 'axis-title', transform: 'rotate(-90)', x: -(top + plotH / 2), y: 12,
                                  'text-anchor': 'middle', text: opts.yTitle }));
    root.appendChild(grid);
    root.appendChild(bars);
    root.appendChild(xAxis);
    root.appendChild(yAxis);
    var lg = legend(root, opts.series.map(function (se, si) {
      return { key: 'b' + si, label: se.name + unitSuffix(se.unit), color: se.color };
    }), left, top + plotH + 48, plotW);
    root.appendChild(lg.g);
    var H = top + plotH + 48 + lg.height + 6;
    root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    root.setAttribute('width', W);
    root.setAttribute('height', H);
    return root;
  }

  // Lines over commit time, one per series, with change points as dashed vertical markers.
  // opts: {id, unit, yTitle, series: [{id, label, color, points: [{time, value, commit, samples}]}],
  //        changePoints: [{series, index, commit, time, magnitude_pct, p_value}]}
  function lineChart(opts) {
    var W = 1000, left = 78, right = 24, top = 26, plotH = 280, plotW = W - left - right;
    var byTime = opts.series.every(function (se) {
      return se.points.every(function (p) { return p.time && isFinite(Date.parse(p.time)); });
    });
    // Without commit times, x is the commit's place in the order of the dataset.
    var commitIndex = {};
    if (!byTime) {
      var n = 0;
      opts.series.forEach(function (se) { se.points.forEach(function (p) { if (!(p.commit in commitIndex)) commitIndex[p.commit] = n++; }); });
    }
    function xOf(p) { return byTime ? Date.parse(p.time) : commitIndex[p.commit]; }
    var xs = [], ys = [];
    opts.series.forEach(function (se) {
      se.points.forEach(function (p) {
        xs.push(xOf(p));
        var v = toDisplay(p.value, opts.unit);
        if (v !== null) ys.push(v);
      });
    });
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    if (!(xmax > xmin)) { var pad = byTime ? DAY : 1; xmin -= pad; xmax += pad; }
    var xpad = (xmax - xmin) * 0.03;
    xmin -= xpad; xmax += xpad;
    var ymin = Math.min.apply(null, ys), ymax = Math.max.apply(null, ys);
    var span = ymax - ymin || Math.abs(ymax) || 1;
    var ylo = ymin - span * 0.15;
    if (ymin >= 0 && ylo < 0) ylo = 0;  // a non-negative metric keeps a non-negative axis
    var yscale = niceTicks(ylo, ymax + span * 0.1, 6);
    var X = function (x) { return left + (x - xmin) / (xmax - xmin) * plotW; };
    var Y = function (v) { return top + plotH - (v - yscale.lo) / (yscale.hi - yscale.lo) * plotH; };

    var root = s('svg', { id: opts.id, className: 'chart line-chart', 'data-chart': 'line', role: 'img',
                          'aria-label': opts.caption || opts.id });
    var grid = s('g', { className: 'grid' }), xAxis = s('g', { className: 'axis x-axis' }),
        yAxis = s('g', { className: 'axis y-axis' });
    yscale.ticks.forEach(function (t) {
      grid.appendChild(s('line', { x1: left, x2: left + plotW, y1: Y(t), y2: Y(t) }));
      yAxis.appendChild(s('g', { className: 'tick' }, [
        s('line', { x1: left - 5, x2: left, y1: Y(t), y2: Y(t) }),
        s('text', { x: left - 8, y: Y(t) + 4, 'text-anchor': 'end', text: formatTickNumber(t, yscale.step) })]));
    });
    yAxis.appendChild(s('line', { x1: left, x2: left, y1: top, y2: top + plotH }));
    yAxis.appendChild(s('text', { className: 'axis-title', transform: 'rotate(-90)', x: -(top + plotH / 2), y: 16,
                                  'text-anchor': 'middle', text: opts.yTitle }));
    var xticks;
    if (byTime) {
      var tt = timeTicks(xmin, xmax);
      xticks = tt.ticks.map(function (t) { return { x: t, label: formatTime(t, tt.step < DAY) }; });
    } else {
      xticks = Object.keys(commitIndex).map(function (c) { return { x: commitIndex[c], label: shortCommit(c) }; });
    }
    xticks.forEach(function (t) {
      xAxis.appendChild(s('g', { className: 'tick' }, [
        s('line', { x1: X(t.x), x2: X(t.x), y1: top + plotH, y2: top + plotH + 5 }),
        s('text', { x: X(t.x), y: top + plotH + 18, 'text-anchor': 'middle', text: t.label })]));
    });
    xAxis.appendChild(s('line', { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH }));
    xAxis.appendChild(s('text', { className: 'axis-title', x: left + plotW / 2, y: top + plotH + 38,
                                  'text-anchor': 'middle',
                                  text: byTime ? 'commit time (UTC)' : 'commit (in the order the dataset holds them)' }));

    var lines = s('g', { className: 'lines' });
    opts.series.forEach(function (se) {
      var g = s('g', { className: 'series', 'data-series': se.id });
      var pts = se.points.filter(function (p) { return toDisplay(p.value, opts.unit) !== null; });
      var d = pts.map(function (p, i) {
        return (i ? 'L' : 'M') + X(xOf(p)).toFixed(1) + ',' + Y(toDisplay(p.value, opts.unit)).toFixed(1);
      }).join('');
      if (pts.length > 1) g.appendChild(s('path', { d: d, fill: 'none', stroke: se.color, 'stroke-width': 2 }));
      pts.forEach(function (p) {
        g.appendChild(s('circle', { className: 'point', cx: X(xOf(p)), cy: Y(toDisplay(p.value, opts.unit)), r: 3.5,
                                    fill: '#fff', stroke: se.color, 'stroke-width': 2, 'data-commit': p.commit || '' },
                        svgTitle(se.label + '\ncommit ' + shortCommit(p.commit) + (p.time ? ' (' + p.time + ')' : '') +
                                 '\n' + formatValue(p.value, opts.unit) + ' ' + displayUnit(opts.unit) + ', median of ' +
                                 p.samples + ' samples over ' + p.runs + ' runs')));
      });
      lines.appendChild(g);
    });

    var markers = s('g', { className: 'change-points' });
    var colorOf = {}, seriesById = {};
    opts.series.forEach(function (se) { colorOf[se.id] = se.color; seriesById[se.id] = se; });
    opts.changePoints.forEach(function (cp) {
      var se = seriesById[cp.series];
      if (!se) return;
      var p = se.points[cp.index] || { time: cp.time, commit: cp.commit };
      var x = X(xOf(p));
      var pct = cp.magnitude_pct === null || cp.magnitude_pct === undefined ? '' :
          (cp.magnitude_pct > 0 ? '+' : '') + cp.magnitude_pct.toFixed(1) + '%';
      markers.appendChild(s('g', { className: 'change-point series', 'data-series': cp.series, 'data-commit': cp.commit || '' }, [
        s('line', { x1: x, x2: x, y1: top - 4, y2: top + plotH, stroke: se.color }),
        s('text', { x: x + 3, y: top - 8, fill: se.color, text: '▼ ' + pct }),
        svgTitle('change point in ' + se.label + '\nat commit ' + shortCommit(cp.commit) + ': ' + pct +
                 (cp.p_value === null || cp.p_value === undefined ? '' : ', p = ' + cp.p_value.toPrecision(2)))]));
    });
    root.appendChild(grid);
    root.appendChild(markers);
    root.appendChild(lines);
    root.appendChild(xAxis);
    root.appendChild(yAxis);
    var items = opts.series.map(function (se) { return { key: se.id, label: se.label, color: se.color }; });
    if (opts.changePoints.length) items.push({ label: 'change point (dashed line, step in %)', color: '#5b6573', dashed: true });
    var lg = legend(root, items, left, top + plotH + 52, plotW);
    root.appendChild(lg.g);
    var H = top + plotH + 52 + lg.height + 6;
    root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    root.setAttribute('width', W);
    root.setAttribute('height', H);
    return root;
  }

  // ---- sections ---------------------------------------------------------------------------------

  function section(id, title, note, children) {
    return h('section', { id: id }, [h('h2', { text: title }), note ? h('p', { className: 'note', text: note }) : null]
                                        .concat(children));
  }
  function configParts(r) {
    return [r.device, r.backend, r.model, r.threads + 't', r.activations || '-', 'pp' + r.n_prompt + '/tg' + r.n_gen,
            r.workload === 'generate' ? '' : r.workload];
  }
  function configLabel(r) { return configParts(r).filter(Boolean).join(' · '); }
  // Chart labels name only what differs between the rows; the rest goes in a note under the chart.
  function compactLabels(rows) {
    var parts = rows.map(configParts);
    var same = parts.length ? parts[0].map(function (p, i) {
      return parts.every(function (q) { return q[i] === p; });
    }) : [];
    if (same.every(Boolean)) same = same.map(function (v, i) { return i > 1 && v; });  // keep device and backend
    return {
      labels: parts.map(function (p) { return p.filter(function (x, i) { return x && !same[i]; }).join(' · '); }),
      common: parts.length ? parts[0].filter(function (x, i) { return x && same[i]; }).join(' · ') : ''
    };
  }
  function configBarChart(id, caption, rows, series, xTitle) {
    var c = compactLabels(rows);
    return figure(id, caption,
                  barChart({ id: id, caption: caption, categories: c.labels, series: series, xTitle: xTitle,
                             yTitle: 'configuration' }),
                  c.common ? 'Every bar: ' + c.common + '.' : null);
  }
  function configColumns() {
    return [textCol('device', 'device'), textCol('backend', 'backend'), textCol('model', 'model'),
            plainNumCol('threads', 'threads'), textCol('activations', 'act.'), plainNumCol('n_prompt', 'prompt'),
            plainNumCol('n_gen', 'gen'), textCol('workload', 'workload')];
  }
  // One column per metric that some row has.
  function metricColumns(metrics, rows) {
    return metrics.filter(function (m) {
      return rows.some(function (r) { return r.values[m.name] !== null && r.values[m.name] !== undefined; });
    }).map(function (m) {
      return numCol(m.name, m.name, m.unit, function (r) { return r.values[m.name]; });
    });
  }
  function tailColumns() {
    return [plainNumCol('runs', 'runs'), textCol('verdicts', 'verdicts'),
            textCol('commit', 'commit', function (r) { return shortCommit(r.commit); }),
            textCol('commit_time', 'commit time')];
  }
  function metricByName(metrics, name) { return metrics.filter(function (m) { return m.name === name; })[0]; }
  function statusClass(v) {
    v = String(v || '').toLowerCase();
    if (v === 'ok' || v === 'pass' || v === 'passed' || v === 'valid' || v === 'done') return 'status-ok';
    if (v === 'noisy' || v === 'throttled' || v === 'warn' || v === 'running' || v === 'interrupted') return 'verdict-warn';
    if (v) return 'status-bad';
    return '';
  }
  function card(value, label, id) {
    return h('div', { className: 'card', id: id }, [h('div', { className: 'value', text: value }),
                                                   h('div', { className: 'label', text: label })]);
  }

  // A titled block that starts folded when it is long (its rows stay in the DOM either way).
  function fold(title, n, content, open) {
    return h('details', { className: 'fold', open: open || n <= 6 ? 'open' : null },
             [h('summary', null, h('h3', { text: title + ' (' + n + ')' })), content]);
  }

  function renderOverview(d) {
    var o = d.overview, c = o.counts;
    var statusText = Object.keys(c.runs_by_status).map(function (k) { return c.runs_by_status[k] + ' ' + k; }).join(', ');
    var cards = h('div', { className: 'cards', id: 'overview-counts' }, [
      card(c.sweeps, 'sweeps', 'count-sweeps'), card(c.devices, 'devices', 'count-devices'),
      card(c.runs, 'runs' + (statusText ? ' (' + statusText + ')' : ''), 'count-runs'),
      card(c.samples.toLocaleString('en-US'), 'samples', 'count-samples'),
      card(c.commits, 'build commits', 'count-commits'),
      card(c.retried_attempts, 'attempts retried', 'count-attempts')]);
    var sweeps = dataTable('table-sweeps', [
      textCol('sweep_id', 'sweep'), textCol('name', 'scenario'),
      { key: 'status', label: 'status', value: function (r) { return r.status; }, cls: function (r) { return statusClass(r.status); } },
      plainNumCol('n_runs', 'planned'), plainNumCol('runs_written', 'written'), plainNumCol('runs_ok', 'ok'),
      textCol('started_at', 'started'), textCol('finished_at', 'finished'),
      textCol('controller_commit', 'controller commit', function (r) { return shortCommit(r.controller_commit); }),
      textCol('agents', 'agents')], o.sweeps, 'No sweeps in this dataset.');
    var devices = dataTable('table-devices', [
      textCol('name', 'device'), textCol('hostname', 'host'), textCol('cpu', 'CPU'), textCol('arch', 'arch'),
      numCol('memory_bytes', 'memory', 'bytes', function (r) { return r.memory_bytes; }), textCol('os', 'OS'),
      textCol('labels', 'labels', function (r) {
        return Object.keys(r.labels || {}).map(function (k) { return k + '=' + r.labels[k]; }).join(' ');
      }),
      plainNumCol('runs', 'runs'), textCol('last_seen', 'last seen')], o.devices, 'No devices in this dataset.');
    var commits = dataTable('table-commits', [
      textCol('commit', 'commit'), textCol('commit_time', 'commit time'), plainNumCol('runs', 'runs')],
      o.commits, 'No build commits recorded.');
    var problems = dataTable('table-problems', [
      textCol('run_id', 'run'), textCol('device', 'device'), textCol('backend', 'backend'), textCol('model', 'model'),
      { key: 'status', label: 'status', value: function (r) { return r.status; }, cls: function () { return 'status-bad'; } },
      plainNumCol('attempt', 'attempt'), { key: 'error', label: 'error', value: function (r) { return r.error; },
                                           cls: function () { return 'wrap'; } }],
      o.problems, 'Every run ended ok.');
    return section('overview', 'Overview', 'What this dataset holds: sweeps, the devices that ran them, and the build commits measured.',
                   [cards, fold('Sweeps', o.sweeps.length, sweeps), fold('Devices', o.devices.length, devices),
                    fold('Build commits', o.commits.length, commits),
                    fold('Runs that did not end ok', o.problems.length, problems, true)]);
  }

  function barSeries(rows, metrics, names) {
    return names.map(function (name, i) {
      var m = metricByName(metrics, name);
      return { name: m.label, unit: m.unit, color: PALETTE[i], values: rows.map(function (r) { return r.values[name]; }) };
    });
  }
  function rowsWith(rows, names) {
    return rows.filter(function (r) { return names.some(function (n) { return r.values[n] !== null && r.values[n] !== undefined; }); });
  }

  function renderSpeed(d) {
    var sp = d.speed, rows = sp.rows;
    var table = dataTable('table-speed', configColumns().concat(metricColumns(sp.metrics, rows), tailColumns()), rows,
                          'No successful generate runs: no speed figures to show.');
    var charts = [];
    sp.metrics.forEach(function (m, i) {
      var with_ = rowsWith(rows, [m.name]);
      if (!with_.length) return;
      charts.push(configBarChart('chart-speed-' + m.name,
                                 m.label + ' (' + m.name + ', median, ' + (m.higher_is_better ? 'higher' : 'lower') + ' is better)',
                                 with_, [{ name: m.name, unit: m.unit, color: PALETTE[i],
                                           values: with_.map(function (r) { return r.values[m.name]; }) }],
                                 m.name + unitSuffix(m.unit)));
    });
    return section('speed', 'Speed: device × backend × model',
                   'Medians over every repetition of the ok runs of each configuration\'s newest commit. Click a header to sort; type to filter.',
                   [table, charts.length ? h('div', { className: 'charts' }, charts) : null]);
  }

  function renderMemory(d) {
    var me = d.memory, rows = me.rows;
    var table = dataTable('table-memory', configColumns().concat(metricColumns(me.metrics, rows), tailColumns()), rows,
                          'No memory measurements in this dataset.');
    var charts = [];
    var rss = rowsWith(rows, ['rss_peak_anon_bytes', 'rss_peak_file_bytes']);
    if (rss.length) {
      charts.push(configBarChart('chart-memory-rss', 'Peak resident memory: anonymous vs file-backed (MiB)', rss,
                                 barSeries(rss, me.metrics, ['rss_peak_anon_bytes', 'rss_peak_file_bytes']),
                                 'peak resident set (MiB)'));
    }
    var embd = rowsWith(rows, ['embd_resident_frac']);
    if (embd.length) {
      charts.push(configBarChart('chart-memory-embd', 'Embedding table residency (% of its pages in RAM)', embd,
                                 barSeries(embd, me.metrics, ['embd_resident_frac']).map(function (se) {
                                   se.color = PALETTE[2]; return se; }),
                                 'embedding resident (%)'));
    }
    return section('memory', 'Memory',
                   'Peak RSS split into anonymous pages (KV cache, activations, heap) and file-backed pages (the memory-mapped weights), and how much of the embedding table was resident.',
                   [table, charts.length ? h('div', { className: 'charts' }, charts) : null]);
  }

  function renderAccuracy(d) {
    var ac = d.accuracy, rows = ac.rows;
    var table = dataTable('table-accuracy', configColumns().concat(metricColumns(ac.metrics, rows), tailColumns()), rows,
                          'No accuracy runs in this dataset.');
    var charts = [];
    var top1 = rowsWith(rows, ['top1_agree']);
    if (top1.length) {
      charts.push(configBarChart('chart-accuracy-top1', 'Top-1 agreement with the reference (%, higher is better)', top1,
                                 barSeries(top1, ac.metrics, ['top1_agree']), 'top1_agree (%)'));
    }
    var kld = rowsWith(rows, ['kld_mean']);
    if (kld.length) {
      charts.push(configBarChart('chart-accuracy-kld', 'Mean KL divergence from the reference (nats, lower is better)', kld,
                                 barSeries(kld, ac.metrics, ['kld_mean']).map(function (se) {
                                   se.color = PALETTE[3]; return se; }),
                                 'kld_mean (nats)'));
    }
    return section('accuracy', 'Accuracy',
                   'Agreement of each configuration\'s logits with the reference: mean KL divergence, top-1 agreement and perplexity.',
                   [table, charts.length ? h('div', { className: 'charts' }, charts) : null]);
  }

  function renderTimeline(d) {
    var tl = d.timeline, children = [];
    var labelOf = {};
    tl.metrics.forEach(function (m) {
      if (!m.series.length) {
        children.push(h('p', { className: 'empty', id: 'chart-timeline-' + m.name + '-empty',
                               text: 'No ' + m.name + ' measurements to draw over commits.' }));
        return;
      }
      var series = m.series.map(function (se, i) {
        labelOf[se.id] = se.label;
        return { id: se.id, label: se.label, color: PALETTE[i % PALETTE.length], points: se.points };
      });
      var cps = tl.change_points.filter(function (cp) { return cp.metric === m.name; });
      var commits = {};
      m.series.forEach(function (se) { se.points.forEach(function (p) { commits[p.commit] = 1; }); });
      var note = Object.keys(commits).length < 2 ? 'Only one commit measured so far: the timeline needs two to show a trend.' : null;
      children.push(figure('chart-timeline-' + m.name,
                           m.label + ' over commits (' + m.name + ', ' + displayUnit(m.unit) + ', ' +
                           (m.higher_is_better ? 'higher' : 'lower') + ' is better)',
                           lineChart({ id: 'chart-timeline-' + m.name, caption: m.name + ' timeline', unit: m.unit,
                                       yTitle: m.name + ' median' + unitSuffix(m.unit), series: series, changePoints: cps }),
                           note));
    });
    var cpTable = dataTable('table-change-points', [
      textCol('metric', 'metric'), textCol('series', 'series', function (r) { return labelOf[r.series] || r.series; }),
      textCol('commit', 'first commit after', function (r) { return shortCommit(r.commit); }), textCol('time', 'commit time'),
      { key: 'magnitude_pct', label: 'step', unit: '%', numeric: true, value: function (r) { return r.magnitude_pct; },
        cell: function (r) { return r.magnitude_pct === null ? '–' : (r.magnitude_pct > 0 ? '+' : '') + r.magnitude_pct.toFixed(2); } },
      { key: 'p_value', label: 'p-value', numeric: true, value: function (r) { return r.p_value; },
        cell: function (r) { return r.p_value === null ? '–' : r.p_value.toPrecision(3); } }],
      tl.change_points, 'No change points found in any series.');
    return section('timeline', 'Regression timeline',
                   'Per-commit medians of each series (one device running one spec) over commit time; dashed lines mark change points. Click a legend entry to hide a series.',
                   [h('div', { className: 'timeline-charts' }, children), h('h3', { text: 'Change points' }), cpTable]);
  }

  function renderQualification(d) {
    var q = d.qualifications;
    if (!q.present) {
      return section('qualification', 'Qualification verdicts', null,
                     [h('p', { className: 'empty', id: 'qualification-empty', text: 'No qualification runs in this dataset.' })]);
    }
    var columns = q.columns.map(function (name, ci) {
      var numeric = q.rows.length > 0 && q.rows.every(function (r) { return r[ci] === null || typeof r[ci] === 'number'; });
      var isVerdict = /verdict|status|result|pass/.test(name);
      return { key: name, label: name, numeric: numeric, value: function (r) { return r[ci]; },
               cls: isVerdict ? function (r) { return statusClass(r[ci]); } : null };
    });
    return section('qualification', 'Qualification verdicts', 'Rows of the dataset\'s qualifications table.',
                   [dataTable('table-qualifications', columns, q.rows, 'No qualification runs in this dataset.')]);
  }

  // The conformance table (`tlmbench conform`, `tlmbench qualify`): latest row per backend, suite and case.
  function renderConformance(d) {
    var c = d.conformance || { columns: [], rows: [] };
    var columns = c.columns.map(function (name, ci) {
      var numeric = name === 'kld' || name === 'top1';
      return { key: name, label: name, numeric: numeric, value: function (r) { return r[ci]; },
               cell: numeric ? function (r) { return r[ci] === null ? '–' : Number(r[ci]).toPrecision(4); } : null,
               cls: name === 'status' ? function (r) { return statusClass(r[ci]); } : null };
    });
    return section('conformance', 'Conformance and qualification',
                   'The latest result of each backend, suite and case (tlmbench conform, tlmbench qualify --dataset); failures first.',
                   [dataTable('table-conformance', columns, c.rows, 'No conformance or qualification rows in this dataset.')]);
  }

  function render() {
    var d = JSON.parse(document.getElementById('data').textContent);
    var meta = d.meta;
    document.getElementById('page-title').textContent = meta.title;
    document.getElementById('page-meta').textContent =
        'dataset ' + meta.dataset + ' · generated ' + meta.generated_at + ' · schema v' + meta.schema_version;
    var app = document.getElementById('app');
    [renderOverview, renderSpeed, renderMemory, renderAccuracy, renderTimeline, renderConformance, renderQualification].forEach(function (f) {
      app.appendChild(f(d));
    });
    document.getElementById('footer').textContent =
        'Written by tlmbench report (build ' + (meta.generator || 'unknown') + ') from ' + meta.dataset + ' at ' +
        meta.generated_at + '. Units: tokens/s, ms, MiB (bytes / 2^20), % (fractions × 100), nats.';
    var ok = h('div', { id: 'render-ok', hidden: 'hidden', 'data-charts': chartCount,
                        'data-rows': document.querySelectorAll('table.data tbody tr').length });
    document.body.appendChild(ok);
  }

  try {
    render();
  } catch (e) {
    reportError((e && e.message ? e.message : String(e)) + (e && e.stack ? '\n' + e.stack : ''));
  }
})();
