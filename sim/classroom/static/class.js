/* orgsim class activity: code shared by the teacher's and the students' pages.
 *
 * Plain JavaScript, no libraries, nothing from the internet. Every piece of text a user typed
 * (names, the server's messages) goes into the page as text (textContent / createTextNode),
 * never as markup.
 */
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';

  // --- DOM helpers ---------------------------------------------------------------------------
  /** el('td', {testid: 'rank', className: 'num', data: {pid: 'p1'}}, 'text', node, ...) */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function svgEl(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'className') node.setAttribute('class', v);
      else if (k === 'testid') node.setAttribute('data-testid', v);
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'data') Object.keys(v).forEach(function (d) { node.setAttribute('data-' + d, v[d]); });
      else if (k.slice(0, 2) === 'on' && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    });
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function setText(node, text) {
    if (node && node.textContent !== String(text)) node.textContent = String(text);
  }

  function show(node, visible) {
    if (node) node.hidden = !visible;
  }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // --- text helpers --------------------------------------------------------------------------
  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  function fmt3(x) { return isNum(x) ? x.toFixed(3) : '–'; }
  function fmt2(x) { return isNum(x) ? x.toFixed(2) : '–'; }
  /** "0.912 (0.889-0.933)" */
  function interval(row) {
    if (!row || !isNum(row.mean)) return '–';
    if (!isNum(row.low) || !isNum(row.high)) return row.mean.toFixed(3);
    return row.mean.toFixed(3) + ' (' + row.low.toFixed(3) + '-' + row.high.toFixed(3) + ')';
  }
  function percent(x) { return isNum(x) ? Math.round(x * 100) + '%' : '–'; }
  function weekText(week, weeks) { return 'Week ' + (week || 0) + ' of ' + (weeks || '?'); }

  /** A display name from welcome.choices: [[config, display], ...] -> display. */
  function displayName(choices, kind, value) {
    var list = (choices && choices[kind]) || [];
    for (var i = 0; i < list.length; i++) if (list[i][0] === value) return list[i][1];
    return value == null ? '–' : String(value).replace(/_/g, ' ');
  }

  function param(name) {
    try { return new URLSearchParams(window.location.search).get(name); } catch (e) { return null; }
  }

  /** JSON, tolerating a bare NaN / Infinity outside strings (Python's json.dumps writes them). */
  function parseMessage(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      var out = '', inString = false, i = 0;
      while (i < text.length) {
        var c = text[i];
        if (inString) {
          out += c;
          if (c === '\\') { out += text[i + 1] || ''; i += 2; continue; }
          if (c === '"') inString = false;
          i += 1;
          continue;
        }
        if (c === '"') { inString = true; out += c; i += 1; continue; }
        if (text.substr(i, 3) === 'NaN') { out += 'null'; i += 3; continue; }
        if (text.substr(i, 9) === '-Infinity') { out += 'null'; i += 9; continue; }
        if (text.substr(i, 8) === 'Infinity') { out += 'null'; i += 8; continue; }
        out += c;
        i += 1;
      }
      return JSON.parse(out);
    }
  }

  // --- the websocket, reconnecting ---------------------------------------------------------------
  /**
   * connect({hello: () => object, onMessage: (msg) => void, onStatus: (connected) => void})
   * Opens /ws, sends hello() on every (re)connection, reconnects about every second when lost.
   */
  function connect(opts) {
    var ws = null, timer = null, connected = false;
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';

    function status(ok) {
      connected = ok;
      if (opts.onStatus) opts.onStatus(ok);
    }

    function open() {
      timer = null;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        retry();
        return;
      }
      ws.onopen = function () {
        status(true);
        ws.send(JSON.stringify(opts.hello()));
      };
      ws.onmessage = function (event) {
        var msg;
        try { msg = parseMessage(event.data); } catch (e) { return; }
        if (msg && typeof msg === 'object') opts.onMessage(msg);
      };
      ws.onclose = function () {
        status(false);
        retry();
      };
      ws.onerror = function () { /* onclose follows */ };
    }

    function retry() {
      if (timer === null) timer = setTimeout(open, 1000);
    }

    function send(obj) {
      if (!ws || ws.readyState !== 1) return false;
      ws.send(JSON.stringify(obj));
      return true;
    }

    /** Say hello again (the server answers with a fresh welcome). */
    function hello() {
      if (ws && ws.readyState === 1) ws.send(JSON.stringify(opts.hello()));
    }

    open();
    return { send: send, hello: hello, connected: function () { return connected; } };
  }

  // --- the line chart (hand-written SVG) ----------------------------------------------------------
  function niceStep(span, target) {
    var raw = span / Math.max(1, target);
    var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return Math.max(1, steps[i] * mag);
    return Math.max(1, 10 * mag);
  }

  /**
   * drawChart(svg, {weeks, series: [{pid, values, colour, width, opacity, cls}], shocks: [landed
   * weeks], planned: [future shock weeks], title})
   * values[i] is the performance in week i + 1. The y axis is 0..1, the x axis 0..weeks.
   */
  function drawChart(svg, opts) {
    var box = svg.getBoundingClientRect();
    var W = Math.max(200, Math.round(box.width || 600));
    var H = Math.max(140, Math.round(box.height || 320));
    var small = W < 420;
    var m = { left: small ? 46 : 58, right: 14, top: 22, bottom: small ? 36 : 42 };
    var pw = W - m.left - m.right, ph = H - m.top - m.bottom;
    var weeks = Math.max(1, opts.weeks || 1);
    function x(week) { return m.left + (week / weeks) * pw; }
    function y(v) { return m.top + (1 - Math.max(0, Math.min(1, v))) * ph; }

    clear(svg);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('role', 'img');
    if (opts.title) svg.appendChild(svgEl('title', { text: opts.title }));

    var axes = svgEl('g', { className: 'axes' });
    // y grid and ticks
    for (var t = 0; t <= 5; t++) {
      var v = t / 5, yy = y(v);
      axes.appendChild(svgEl('line', { x1: m.left, x2: m.left + pw, y1: yy, y2: yy, className: 'grid' }));
      axes.appendChild(svgEl('text', { x: m.left - 6, y: yy + 4, className: 'tick', 'text-anchor': 'end', text: v.toFixed(1) }));
    }
    // x ticks
    var step = niceStep(weeks, small ? 5 : 10);
    for (var w = 0; w <= weeks; w += step) {
      axes.appendChild(svgEl('line', { x1: x(w), x2: x(w), y1: m.top + ph, y2: m.top + ph + 5, className: 'axis' }));
      axes.appendChild(svgEl('text', { x: x(w), y: m.top + ph + 18, className: 'tick', 'text-anchor': 'middle', text: String(w) }));
    }
    axes.appendChild(svgEl('line', { x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph, className: 'axis' }));
    axes.appendChild(svgEl('line', { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph, className: 'axis' }));
    axes.appendChild(svgEl('text', { x: m.left + pw / 2, y: H - 6, className: 'axis-title', 'text-anchor': 'middle', text: 'week' }));
    axes.appendChild(svgEl('text', {
      x: 0, y: 0, className: 'axis-title', 'text-anchor': 'middle',
      transform: 'translate(' + (small ? 12 : 15) + ',' + (m.top + ph / 2) + ') rotate(-90)',
      text: small ? 'performance (1 = best)' : 'performance (1 = best possible)'
    }));
    svg.appendChild(axes);

    // planned (future) shocks: dashed grey; landed shocks: black, labelled "shock"
    (opts.planned || []).forEach(function (wk) {
      var g = svgEl('g', { className: 'planned-shock' });
      g.appendChild(svgEl('line', { x1: x(wk), x2: x(wk), y1: m.top, y2: m.top + ph, testid: 'shock-planned', data: { week: wk } }));
      g.appendChild(svgEl('text', { x: x(wk) + 3, y: m.top - 6, text: 'planned shock' }));
      svg.appendChild(g);
    });

    var lines = svgEl('g', { className: 'curves' });
    (opts.series || []).forEach(function (s) {
      var pts = [];
      (s.values || []).forEach(function (v, i) {
        if (isNum(v)) pts.push(x(i + 1).toFixed(1) + ',' + y(v).toFixed(1));
      });
      if (!pts.length) return;
      if (pts.length === 1) pts.push(pts[0]);
      lines.appendChild(svgEl('path', {
        d: 'M' + pts.join('L'),
        data: { pid: s.pid },
        className: 'curve' + (s.cls ? ' ' + s.cls : ''),
        stroke: s.colour,
        'stroke-width': s.width || 1.6,
        'stroke-opacity': s.opacity == null ? 0.85 : s.opacity,
        fill: 'none'
      }, s.label ? svgEl('title', { text: s.label }) : null));
    });
    svg.appendChild(lines);

    (opts.shocks || []).forEach(function (wk) {
      var g = svgEl('g', { className: 'shock' });
      g.appendChild(svgEl('line', { x1: x(wk), x2: x(wk), y1: m.top, y2: m.top + ph, testid: 'shock-mark', data: { week: wk } }));
      g.appendChild(svgEl('text', { x: x(wk) + 3, y: m.top - 6, text: 'shock' }));
      svg.appendChild(g);
    });
  }

  /** Legend items: {kind: 'line' | 'swatch' | 'shock' | 'planned', colour, width, label} */
  function legend(container, items) {
    clear(container);
    items.forEach(function (it) {
      var mark = svgEl('svg', { width: 26, height: 12, viewBox: '0 0 26 12', 'aria-hidden': 'true' });
      if (it.kind === 'shock') {
        mark.appendChild(svgEl('line', { x1: 13, x2: 13, y1: 0, y2: 12, stroke: '#000', 'stroke-width': 2 }));
      } else if (it.kind === 'planned') {
        mark.appendChild(svgEl('line', { x1: 13, x2: 13, y1: 0, y2: 12, stroke: '#777', 'stroke-width': 1.5, 'stroke-dasharray': '3 2' }));
      } else {
        mark.appendChild(svgEl('line', { x1: 1, x2: 25, y1: 6, y2: 6, stroke: it.colour, 'stroke-width': it.width || 3, 'stroke-linecap': 'round' }));
      }
      container.appendChild(el('span', { className: 'legend-item' }, mark, it.label));
    });
  }

  /** A small table: columns [{label, key | get(row), num}] */
  function table(columns, rows, attrs) {
    var head = el('tr', null, columns.map(function (c) { return el('th', { className: c.num ? 'num' : null, scope: 'col' }, c.label); }));
    var body = el('tbody', null, rows.map(function (r) {
      return el('tr', null, columns.map(function (c) {
        var v = c.get ? c.get(r) : r[c.key];
        return el('td', { className: c.num ? 'num' : null }, v == null ? '–' : v);
      }));
    }));
    return el('table', Object.assign({ className: 'data' }, attrs || {}), el('thead', null, head), body);
  }

  /** The debrief's table of one design choice (organisation form or strategy): both pages. */
  function choiceTable(rows, column, label) {
    return table([
      { label: label, key: column },
      { label: 'mean final performance', get: function (r) { return fmt3(r.final_performance); }, num: true },
      { label: 'mean after the shock', get: function (r) { return fmt3(r.mean_after_shock); }, num: true },
      { label: 'n', key: 'n', num: true }
    ], rows || []);
  }

  /** The replay's tables, for both pages: every design with its 95% interval, its race result
   *  and how often its replays beat the race (the row of `myName`'s design marked), then the same
   *  by organisation form and by strategy. Returns [designs table, grid of the two]. */
  function replayTables(r, myName) {
    var designs = r.designs || [];
    var byDesign = table([
      { label: 'design', key: 'design' },
      { label: 'names', get: function (d) { return (d.names || []).join(', '); } },
      { label: 'mean final performance (95% interval)', get: interval, num: true },
      { label: 'race result', get: function (d) { return fmt3(d.race); }, num: true },
      { label: 'share of replays that beat the race', get: function (d) { return percent(d.share_better_than_race); }, num: true }
    ], designs, { testid: 'replay-table' });
    $$('tbody tr', byDesign).forEach(function (tr, i) {
      if (myName && (designs[i].names || []).indexOf(myName) >= 0) tr.classList.add('you');
    });
    var grid = el('div', { className: 'debrief-grid' });
    [['by_form', 'organisation form'], ['by_strategy', 'strategy']].forEach(function (pair) {
      grid.appendChild(el('div', null, el('h4', null, 'By ' + pair[1]), table([
        { label: pair[1], key: 'choice' },
        { label: 'mean final performance (95% interval)', get: interval, num: true },
        { label: 'runs', key: 'n', num: true }
      ], r[pair[0]] || [], { testid: 'replay-' + pair[0].replace('_', '-') })));
    });
    return [byDesign, grid];
  }

  // --- the race as the pages keep it ----------------------------------------------------------------
  /** Apply a `week` message to the kept state (history, ranks, week, phase, shocks). */
  function applyWeek(S, msg) {
    if (!S) return;
    var race = S.race || (S.race = {});
    var history = race.history || (race.history = {});
    var perf = msg.perf || {};
    Object.keys(history).forEach(function (pid) { if (!(pid in perf)) delete history[pid]; });
    Object.keys(perf).forEach(function (pid) {
      var h = history[pid] || (history[pid] = []);
      if (msg.week >= 1) { h[msg.week - 1] = perf[pid]; h.length = msg.week; }
    });
    race.week = msg.week;
    race.ranks = msg.ranks || {};
    if (S.activity) {
      S.activity.week = msg.week;
      if (msg.phase) S.activity.phase = msg.phase;
      if (msg.shocks) S.activity.shocks = msg.shocks;
    }
  }

  /** Apply the state part of a message (state, shock_planned, ended, welcome). */
  function applyState(S, msg) {
    ['activity', 'join_url', 'pace', 'playing', 'replay'].forEach(function (k) {
      if (k in msg) S[k] = msg[k];
    });
    if (msg.race) S.race = msg.race;
    if (S.activity && S.race && S.race.week == null) S.race.week = S.activity.week;
  }

  function shockLists(S) {
    var a = S && S.activity;
    var week = (a && a.week) || 0;
    var all = (a && a.shocks) || [];
    return {
      landed: all.filter(function (w) { return w <= week; }),
      planned: all.filter(function (w) { return w > week; })
    };
  }

  window.OC = {
    el: el, svgEl: svgEl, clear: clear, setText: setText, show: show, $: $, $$: $$,
    isNum: isNum, fmt3: fmt3, fmt2: fmt2, interval: interval, percent: percent, weekText: weekText,
    displayName: displayName, param: param, parseMessage: parseMessage, connect: connect,
    drawChart: drawChart, legend: legend, table: table, choiceTable: choiceTable, replayTables: replayTables, applyWeek: applyWeek, applyState: applyState,
    shockLists: shockLists
  };
})();
