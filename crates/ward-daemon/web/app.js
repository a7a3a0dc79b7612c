// ward's dashboard. It speaks only the public API (docs/api.md): GET /v1/status and
// /v1/usage once, then the live event stream (GET /v1/events?usage=true) says when to read
// the status again; a unit's page adds /v1/why, /v1/history, /v1/config and its log
// (GET /v1/logs?follow=true). Everything from the daemon goes into the page as text
// (textContent), never parsed as HTML, and the Content-Security-Policy allows no inline
// script: a service that prints <script> into its log shows the characters.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const LOG_LINES = 2000;
  const st = {
    access: null, csrf: null, units: [], byName: new Map(), fetchedAt: 0,
    usage: new Map(), events: null, logs: null, refreshTimer: null, unitTimer: null,
    rows: new Map(), summary: null,
  };

  // ---- small helpers ----------------------------------------------------------------

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'scope') e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function duration(ms) {
    if (ms === null || ms === undefined) return '';
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    const h = Math.floor(m / 60);
    if (h < 24) return h + 'h ' + (m % 60) + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  function bytes(n) {
    if (n === null || n === undefined) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function when(ms) { return new Date(ms).toISOString().replace('T', ' ').replace('Z', ''); }

  function notice(text, bad) {
    const n = $('notice');
    n.textContent = text;
    n.className = bad ? 'notice bad' : 'notice';
  }

  // ---- the API ----------------------------------------------------------------------

  async function api(path, method, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method && method !== 'GET' && st.csrf) headers['X-Ward-CSRF'] = st.csrf;
    const r = await fetch(path, {
      method: method || 'GET', headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    if (r.status === 401 && path !== '/v1/login') { showLogin(); throw new Error('log in first'); }
    if (!r.ok) {
      const why = data && data.error ? data.error + (data.hint ? ' (' + data.hint + ')' : '') : 'HTTP ' + r.status;
      throw new Error(why);
    }
    return data;
  }

  // ---- log in and out ---------------------------------------------------------------

  function showLogin() {
    stopStreams();
    st.access = null;
    for (const id of ['overview', 'unit']) $(id).hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('live').textContent = '';
    $('token').focus();
  }

  async function login(ev) {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      const s = await api('/v1/login', 'POST', { token: $('token').value });
      $('token').value = '';
      begin(s);
    } catch (e) {
      $('login-error').textContent = e.message;
    }
  }

  async function logout() {
    try { await api('/v1/logout', 'POST'); } catch (_) { /* the session is gone either way */ }
    showLogin();
  }

  function begin(session) {
    st.access = session.access;
    st.csrf = session.csrf;
    $('login').hidden = true;
    $('logout').hidden = false;
    document.body.classList.toggle('read-only', st.access !== 'full');
    openEvents();
    refreshStatus();
    api('/v1/usage').then((u) => {
      for (const unit of u.units) st.usage.set(unit.unit, unit.points);
      render();
    }).catch(() => {});
    route();
  }

  // ---- live data --------------------------------------------------------------------

  function stopStreams() {
    if (st.events) { st.events.close(); st.events = null; }
    if (st.logs) { st.logs.close(); st.logs = null; }
  }

  function openEvents() {
    if (st.events) st.events.close();
    const es = new EventSource('/v1/events?usage=true');
    st.events = es;
    es.onopen = () => { $('live').textContent = 'live'; $('live').className = 'live on'; refreshStatus(); };
    es.onerror = () => {
      $('live').textContent = 'reconnecting';
      $('live').className = 'live';
      // A session that ended (expired, logged out elsewhere, a new daemon) would have the
      // browser retry, and be refused, every few seconds: ask, and log in again instead.
      api('/v1/session').catch(() => {});
    };
    for (const kind of ['start', 'exit', 'crash', 'health', 'recovery', 'state', 'action', 'daemon']) {
      es.addEventListener(kind, (m) => {
        let ev = null;
        try { ev = JSON.parse(m.data); } catch (_) { return; }
        soon();
        const shown = currentUnit();
        if (shown && (ev.unit === shown || (kind === 'action' && (ev.targets || '').split(',').includes(shown)))) soonUnit(shown);
      });
    }
    es.addEventListener('usage', (m) => {
      let ev = null;
      try { ev = JSON.parse(m.data); } catch (_) { return; }
      for (const s of ev.samples) {
        const pts = st.usage.get(s.unit) || [];
        pts.push(...s.points);
        while (pts.length > 30) pts.shift();
        st.usage.set(s.unit, pts);
      }
      render();
    });
    // The daemon dropped this reader: open a new one, and read the status anew.
    es.addEventListener('dropped', () => { openEvents(); });
  }

  // Many events in a burst make one read of the status.
  function soon() {
    if (st.refreshTimer) return;
    st.refreshTimer = setTimeout(() => { st.refreshTimer = null; refreshStatus(); }, 100);
  }

  function soonUnit(name) {
    if (st.unitTimer) return;
    st.unitTimer = setTimeout(() => { st.unitTimer = null; if (currentUnit() === name) loadUnitViews(name); }, 250);
  }

  async function refreshStatus() {
    try {
      const s = await api('/v1/status');
      st.units = s.services;
      st.byName = new Map(s.services.map((u) => [u.name, u]));
      st.fetchedAt = Date.now();
      $('daemon').textContent = 'pid ' + s.daemon.pid + ' · ward ' + s.daemon.version + ' · ' + s.daemon.config;
      render();
    } catch (e) {
      if (st.access) notice('cannot read the status: ' + e.message, true);
    }
  }

  // ---- the overview -----------------------------------------------------------------

  function spark(points, pick, label) {
    const values = points.map(pick).filter((v) => v !== null && v !== undefined);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 60 16');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label + ', last ' + values.length + ' samples');
    if (values.length > 1) {
      // From the lowest to the highest value shown: a change of a few per cent shows.
      const min = Math.min(...values);
      const span = Math.max(...values) - min || 1;
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', values.map((v, i) =>
        (i * 60 / (values.length - 1)).toFixed(1) + ',' + (15 - ((v - min) / span) * 14).toFixed(1)).join(' '));
      svg.append(line);
    }
    return svg;
  }

  function uptimeOf(u) {
    if (u.uptime_ms === null || u.uptime_ms === undefined) return '';
    return duration(u.uptime_ms + (Date.now() - st.fetchedAt));
  }

  function lastExit(u) {
    if (u.verdict) return u.verdict.summary + ' (' + u.verdict.class + ', ' + when(u.verdict.at_ms) + ')';
    if (u.last_exit) return u.last_exit.description;
    return '';
  }

  // Buttons are made once per row and kept: a row drawn again between a press and its
  // release would otherwise lose the click, and a chosen signal would fall back to the first.
  function actionButtons(u, withSignal) {
    const box = el('div', { class: 'actions' });
    for (const what of ['start', 'stop', 'restart']) {
      box.append(el('button', {
        type: 'button', class: what === 'stop' ? 'danger' : undefined,
        'aria-label': what + ' ' + u.name, 'data-action': what,
        onclick: () => act(what, u.name),
      }, what[0].toUpperCase() + what.slice(1)));
    }
    if (withSignal) {
      const sel = el('select', { id: 'signal', 'aria-label': 'signal to send to ' + u.name });
      for (const s of ['HUP', 'USR1', 'USR2', 'INT', 'TERM', 'KILL']) sel.append(el('option', { value: s }, 'SIG' + s));
      box.append(sel, el('button', {
        type: 'button', 'data-action': 'signal',
        onclick: () => act('signal', u.name, sel.value),
      }, 'Send signal'));
    }
    allowActions(box);
    return box;
  }

  // A read-only session sees the actions disabled, with the reason on hover.
  // Each box remembers the access it was drawn for: redraws look no further until a new
  // session's access differs.
  function allowActions(box) {
    if (box.access === st.access) return;
    box.access = st.access;
    const readOnly = st.access !== 'full';
    const title = readOnly ? 'read-only session: log in with http.token to act' : '';
    for (const c of box.querySelectorAll('button, select')) {
      c.disabled = readOnly;
      c.title = title;
    }
  }

  function confirmDialog(text, okLabel) {
    const d = $('confirm');
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okLabel;
    return new Promise((resolve) => {
      d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
      d.showModal();
      $('confirm-ok').focus();
    });
  }

  async function act(what, name, signal) {
    if (what === 'stop' && !(await confirmDialog('Stop ' + name + '? It stays stopped until started.', 'Stop'))) return;
    if (what === 'signal' && signal === 'KILL' && !(await confirmDialog('Send SIGKILL to ' + name + '?', 'Send SIGKILL'))) return;
    const body = what === 'signal' ? { names: [name], signal } : { names: [name] };
    notice(what + ' ' + name + '…');
    try {
      const r = await api('/v1/' + what, 'POST', body);
      const lines = (r.results || []).map((x) => x.name + ': ' + x.message);
      const failed = (r.results || []).some((x) => !x.ok);
      notice(what + ' ' + name + ' — ' + lines.join('; '), failed);
    } catch (e) {
      notice(what + ' ' + name + ' failed: ' + e.message, true);
    }
    refreshStatus();
  }

  function matches(u) {
    const name = $('filter-name').value.trim().toLowerCase();
    const state = $('filter-state').value;
    return (!name || u.name.toLowerCase().includes(name)) && (!state || u.state === state);
  }

  // Writes only what changed, so the page does not churn under a stream of samples.
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function setClass(node, cls) { if (node.className !== cls) node.className = cls; }

  // A unit's state and health, each with the class that colours it; `none` without health.
  function showStateAndHealth(state, health, u, none) {
    setText(state, u.state);
    setClass(state, 'state state-' + u.state);
    setText(health, u.health || none);
    setClass(health, u.health ? 'health-' + u.health : '');
  }

  // A cell's sparkline is drawn again only when its points change.
  function setSpark(cell, points, pick, label) {
    const key = points.map(pick).join(',');
    if (cell.sparkKey === key && cell.spark) return;
    cell.sparkKey = key;
    const svg = spark(points, pick, label);
    if (cell.spark) cell.replaceChild(svg, cell.spark); else cell.append(svg);
    cell.spark = svg;
  }

  // The overview's row of a unit, made once and then updated in place.
  function overviewRow(name) {
    const td = (label, cls, ...kids) => el('td', { class: cls, 'data-label': label }, ...kids);
    const r = {
      state: el('span'), health: el('span'), cpuText: el('span'), memText: el('span'),
      pid: td('PID', 'num'), restarts: td('Restarts', 'num'), exit: td('Last exit', 'exit'),
      actions: actionButtons({ name }, false),
    };
    r.uptime = el('td', { class: 'num uptime', 'data-label': 'Uptime', 'data-unit': name });
    r.cpu = td('CPU', 'num', r.cpuText);
    r.mem = td('Memory', 'num', r.memText);
    r.tr = el('tr', { 'data-unit': name },
      td('Name', 'name', el('a', { href: '#/unit/' + encodeURIComponent(name) }, name)),
      td('State', undefined, r.state), td('Health', undefined, r.health), r.pid, r.uptime,
      r.restarts, r.cpu, r.mem, r.exit, td('', 'actions-cell', r.actions));
    return r;
  }

  function updateRow(r, u) {
    const pts = st.usage.get(u.name) || [];
    const usage = u.usage;
    showStateAndHealth(r.state, r.health, u, '');
    setText(r.pid, u.pid === null ? '' : String(u.pid));
    setText(r.uptime, uptimeOf(u));
    setText(r.restarts, String(u.restarts));
    setText(r.cpuText, usage && usage.cpu_percent !== null && usage.cpu_percent !== undefined ? usage.cpu_percent.toFixed(1) + '%' : '');
    setSpark(r.cpu, pts, (p) => p.cpu_percent, 'CPU of ' + u.name);
    setText(r.memText, usage ? bytes(usage.memory_rss_bytes) : '');
    setSpark(r.mem, pts, (p) => p.memory_rss_bytes, 'memory of ' + u.name);
    setText(r.exit, lastExit(u));
    allowActions(r.actions);
  }

  function renderOverview() {
    const body = $('units').tBodies[0];
    const shown = st.units.filter(matches);
    const keep = new Set(shown.map((u) => u.name));
    for (const [name, r] of st.rows) {
      if (!st.byName.has(name)) st.rows.delete(name);
      if (!keep.has(name) && r.tr.parentNode) r.tr.remove();
    }
    // Rows move only when the order changed; a moved row with the focus gets it back.
    const focused = document.activeElement;
    shown.forEach((u, i) => {
      let r = st.rows.get(u.name);
      if (!r) { r = overviewRow(u.name); st.rows.set(u.name, r); }
      updateRow(r, u);
      if (body.children[i] !== r.tr) body.insertBefore(r.tr, body.children[i] || null);
    });
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
    setText($('count'), shown.length + ' of ' + st.units.length + ' units');
  }

  // ---- a unit's page ----------------------------------------------------------------

  function currentUnit() {
    const m = location.hash.match(/^#\/unit\/(.+)$/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  // A unit's facts and actions, made once when its page opens and then updated in place.
  function renderUnitSummary(name) {
    const u = st.byName.get(name);
    const box = $('unit-summary');
    if (!u) {
      st.summary = null;
      clear(box);
      clear($('unit-actions'));
      box.append(el('p', { class: 'error' }, 'No unit named ' + name + '.'));
      return;
    }
    if (!st.summary || st.summary.name !== name) {
      clear(box);
      clear($('unit-actions'));
      const fact = (label) => {
        const value = el('span', { 'data-fact': label });
        box.append(el('div', {}, el('span', { class: 'muted' }, label + ' '), value));
        return value;
      };
      st.summary = {
        name, state: fact('state'), health: fact('health'), pid: fact('pid'),
        uptime: fact('uptime'), restarts: fact('restarts'), memory: fact('memory'),
        actions: actionButtons(u, true),
      };
      setClass(st.summary.uptime, 'uptime');
      $('unit-actions').append(st.summary.actions);
    }
    const s = st.summary;
    showStateAndHealth(s.state, s.health, u, '—');
    setText(s.pid, u.pid === null ? '—' : String(u.pid));
    setText(s.uptime, uptimeOf(u) || '—');
    setText(s.restarts, String(u.restarts));
    setText(s.memory, u.usage ? bytes(u.usage.memory_rss_bytes) : '—');
    allowActions(s.actions);
  }

  function fillWhy(w) {
    const dl = $('why');
    clear(dl);
    const row = (k, ...v) => dl.append(el('dt', {}, k), el('dd', {}, ...v.map((x) => el('div', {}, x))));
    if (!w || w.class === null || w.class === undefined) {
      row('verdict', (w && w.note) || 'No run of it has ended since the daemon started.');
      return;
    }
    if (w.run) row('run', w.state);
    row('verdict', w.summary + ' (' + when(w.at_ms) + ')');
    row('class', w.class + ' (' + w.severity + ')');
    row('evidence', ...w.evidence);
    if (w.recommendation) row('advice', w.recommendation);
    row('now', w.next);
    if (w.confidence) row('holds', w.confidence.explanation);
    const recent = Object.entries(w.recent_crashes || {}).map(([c, n]) => n + ' ' + c);
    if (recent.length) row('last 24h', recent.join(', '));
    if (w.stats) {
      row('24h', 'up ' + (w.stats.uptime_ratio * 100).toFixed(1) + '%, ' + w.stats.runs + ' runs, ' +
        w.stats.crashes + ' crashes, ' + w.stats.restarts_after_crash + ' restarts after crashes');
    }
    if (w.stderr && w.stderr.length) row('stderr', ...w.stderr);
  }

  function fillHistory(h) {
    const body = $('history').tBodies[0];
    clear(body);
    for (const e of h.entries.slice().reverse()) {
      body.append(el('tr', {}, el('td', { class: 'num' }, when(e.at_ms)), el('td', {}, e.kind), el('td', {}, e.detail)));
    }
  }

  function fillConfig(c) {
    $('config-file').textContent = 'From ' + c.file + ', service ' + c.service + '; defaults filled in, secrets masked.';
    const dl = $('config');
    clear(dl);
    for (const e of c.entries) dl.append(el('dt', {}, e.key), el('dd', {}, e.value));
  }

  function loadWhy(name) {
    const run = $('why-run').value;
    const q = '/v1/why?name=' + encodeURIComponent(name) + (run ? '&run=' + run : '');
    api(q).then(fillWhy).catch((e) => fillWhy({ class: null, note: e.message }));
  }

  function loadUnitViews(name) {
    const q = encodeURIComponent(name);
    loadWhy(name);
    api('/v1/history?name=' + q + '&limit=200').then(fillHistory).catch(() => {});
  }

  function followLogs(name) {
    if (st.logs) st.logs.close();
    const pre = $('logs');
    clear(pre);
    const es = new EventSource('/v1/logs?follow=true&lines=200&name=' + encodeURIComponent(name));
    st.logs = es;
    es.addEventListener('line', (m) => {
      let l = null;
      try { l = JSON.parse(m.data); } catch (_) { return; }
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(el('span', { class: l.stream }, (l.at ? l.at + ' ' : '') + l.stream + ' ' + l.text + '\n'));
      while (pre.childNodes.length > LOG_LINES) pre.removeChild(pre.firstChild);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
  }

  function showUnit(name) {
    $('overview').hidden = true;
    $('unit').hidden = false;
    $('unit-title').textContent = name;
    $('why-run').value = '';
    document.title = name + ' · ward';
    st.summary = null;
    renderUnitSummary(name);
    loadUnitViews(name);
    api('/v1/config?name=' + encodeURIComponent(name)).then(fillConfig).catch((e) => {
      $('config-file').textContent = e.message;
    });
    followLogs(name);
  }

  // ---- routing and drawing ----------------------------------------------------------

  // `moved`: the reader went to another view, where the keyboard focus follows.
  function route(moved) {
    if (!st.access) return;
    const name = currentUnit();
    if (name) { showUnit(name); } else {
      if (st.logs) { st.logs.close(); st.logs = null; }
      $('unit').hidden = true;
      $('overview').hidden = false;
      document.title = 'ward';
      renderOverview();
    }
    if (moved === true) $('main').focus({ preventScroll: true });
  }

  function render() {
    if (!st.access) return;
    const name = currentUnit();
    if (name) renderUnitSummary(name); else renderOverview();
  }

  // Uptimes count on between reads of the status: a clock here, no request.
  setInterval(() => {
    for (const cell of document.querySelectorAll('.uptime')) {
      const name = cell.getAttribute('data-unit') || currentUnit();
      const u = st.byName.get(name);
      if (u) cell.textContent = uptimeOf(u) || (cell.tagName === 'TD' ? '' : '—');
    }
  }, 1000);

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('filter-name').addEventListener('input', renderOverview);
    $('filter-state').addEventListener('change', renderOverview);
    $('why-run').addEventListener('change', () => { const n = currentUnit(); if (n) loadWhy(n); });
    window.addEventListener('hashchange', () => route(true));
    api('/v1/session').then(begin).catch(() => showLogin());
  });
})();
