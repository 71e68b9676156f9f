// retl-relay status page. Plain JavaScript, no dependencies, no build step. It reads and acts
// through the admin API (/api/v1/) with the token its viewer gives it, kept in sessionStorage.
// Every piece of data is put on the page as text (textContent), never as HTML.
'use strict';

const REFRESH_MS = 5000;
const TIMEOUT_MS = 10000;  // a relay that hangs is as stale as one that refuses
// Runs per page: 50, or ?page=N (1–200) in the page's address.
const PAGE = Math.min(200, Math.max(1, parseInt(new URLSearchParams(window.location.search).get('page'), 10) || 50));
const TOKEN_KEY = 'retl-relay-admin-token';
const STATUS_NAMES = { 10: 'Success', 20: 'Error', 30: 'Cancelled' };

const state = {
  token: null,
  events: [],         // loaded runs, newest first (first page refreshed, older pages kept)
  nextBefore: null,   // cursor for "Load older"
  olderLoaded: false,
  loadingOlder: false,
  job: '',            // the job filter as last applied (Filter), not as being typed
  generation: 0,      // bumped whenever the listing starts over or the token changes
  lastOk: null,
  timer: null,
  busy: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Text from upstream (RudderStack's errors, dbt's ids, verification notes) goes in its own
// bidi-isolated box, so a U+202E in it cannot reverse the page's own text around it. Past LONG
// characters it shows its start and the whole on demand (details/summary), and it wraps
// anywhere (app.css), so a 100 KB unbroken error cannot make the page wider than the screen.
const LONG = 300;
function data(text, cls) {
  const s = text === null || text === undefined ? '' : String(text);
  if (s.length <= LONG) return el('bdi', { class: cls }, s);
  return el('details', { class: 'long' + (cls ? ' ' + cls : '') },
    el('summary', {}, el('bdi', {}, s.slice(0, LONG)), '… (' + s.length + ' characters; show all)'),
    el('bdi', { class: 'whole' }, s));
}

function pill(text) {
  return el('span', { class: 'pill s-' + String(text).replace(/[^a-z]/g, '') }, text);
}

function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function ago(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return '';
  let s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  return Math.round(s / 3600) + ' h';
}

// What an operator should check for a dead trigger's reason.
function hint(reason) {
  const r = reason || '';
  if (/\b401\b|UNAUTHENTICATED/.test(r)) return 'RudderStack refused the token: check rudderstack.token and that its role may run Reverse ETL syncs.';
  if (/\b403\b|PERMISSION/.test(r)) return 'The token is valid but not allowed: give its workspace role access to this connection.';
  if (/\b404\b|NOT_FOUND/.test(r)) return 'No such connection for this token: check the connection id in the route and the API region (rudderstack.api_base).';
  if (/\b409\b/.test(r)) return 'Another sync kept running: see the route\'s if_running policy (queue, skip, restart).';
  if (/maximum age/.test(r)) return 'Still waiting after dispatch.max_age: RudderStack was unreachable or busy for that long; the last error says why.';
  if (/outcome of sync/.test(r)) return 'The sync never reported an end within dispatch.outcome_timeout: check it in RudderStack.';
  if (/\b400\b|INVALID/.test(r)) return 'RudderStack rejected the request: check the route\'s sync_type for this connection.';
  return 'See the reason; `retl-relay event` shows every call made for it.';
}

// ---- the admin API ----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options) {
  const opts = Object.assign({ method: 'GET' }, options || {});
  const headers = { Authorization: 'Bearer ' + state.token };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  const abort = new AbortController();
  const timeout = window.setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    res = await fetch('/api/v1/' + path, { method: opts.method, headers, body: opts.body, cache: 'no-store', signal: abort.signal });
  } catch (e) {
    throw new ApiError(0, 'the relay is not answering');
  } finally {
    window.clearTimeout(timeout);
  }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || ('HTTP ' + res.status));
  return body;
}

function show(section) {
  for (const id of ['auth', 'off', 'main']) $(id).hidden = id !== section;
  $('forget').hidden = section !== 'main';
}

function setLive(text, stale) {
  const live = $('live');
  live.textContent = text;
  live.classList.toggle('stale', !!stale);
}

// ---- rendering ----------------------------------------------------------------------------

function renderConnections(conns) {
  const body = $('connections').tBodies[0];
  body.replaceChildren();
  $('no-connections').hidden = conns.length > 0;
  const select = $('f-conn');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'all'));
  for (const c of conns) {
    select.append(el('option', { value: c.connection_id }, c.connection_id));
    const running = c.phase === 'running' && c.sync_id;
    const sync = running
      ? el('span', {}, el('a', { href: '#', class: 'mono', onclick: (ev) => { ev.preventDefault(); filterBySync(c.sync_id); } }, c.sync_id),
          ' for ' + ago(c.phase_since))
      : (c.sync_id ? el('span', { class: 'muted' }, (c.phase === 'waiting' ? 'behind ' : c.phase === 'stopping' ? 'stopping ' : '') + c.sync_id) : '—');
    const m = c.last_metrics;
    const records = m && c.last_outcome !== 'running' ? `${m.succeeded} of ${m.total} records` + (m.failed ? `, ${m.failed} failed` : '') : '';
    const last = c.last_outcome
      ? el('span', {}, pill(c.last_outcome), ' ', el('span', { class: 'muted' }, when(c.last_finished_at)),
        records ? el('span', { class: 'records' }, records) : null)
      : el('span', { class: 'muted' }, 'none yet');
    body.append(el('tr', { 'data-connection': c.connection_id },
      el('th', { scope: 'row', class: 'mono' }, c.connection_id),
      el('td', {}, pill(c.phase)),
      el('td', {}, sync),
      el('td', { class: 'num' }, c.pending),
      el('td', { class: 'num' }, c.dead),
      el('td', {}, last),
      el('td', {}, c.phase === 'idle' && c.pending === 0 ? '—' : when(c.next_check_at)),
      el('td', { class: 'error' }, data(c.last_error)),
      el('td', {}, el('div', { class: 'actions' },
        el('button', { type: 'button', onclick: () => act('Start an incremental sync of ' + c.connection_id + '?',
          'connections/' + encodeURIComponent(c.connection_id) + '/trigger', '{"sync_type":"incremental"}') }, 'Sync now'),
        el('button', { type: 'button', onclick: () => act('Start a FULL sync of ' + c.connection_id + '?',
          'connections/' + encodeURIComponent(c.connection_id) + '/trigger', '{"sync_type":"full"}') }, 'Full sync'),
        // Only our own running sync: in `waiting` the sync that runs is someone else's.
        running
          ? el('button', { type: 'button', onclick: () => act('Stop sync ' + c.sync_id + ' running on ' + c.connection_id + '?',
            'connections/' + encodeURIComponent(c.connection_id) + '/stop') }, 'Stop')
          : null))));
  }
  select.value = chosen;
}

function renderDead(triggers) {
  const body = $('dead').tBodies[0];
  body.replaceChildren();
  $('no-dead').hidden = triggers.length > 0;
  $('retry-all').disabled = triggers.length === 0;
  for (const t of triggers) {
    body.append(el('tr', { 'data-trigger': t.id },
      el('td', { class: 'num' }, t.id),
      el('td', { class: 'mono' }, t.connection_id),
      el('td', {}, t.route),
      el('td', {}, when(t.created_at)),
      el('td', { class: 'error' }, data(t.last_error)),
      el('td', {}, hint(t.last_error)),
      el('td', {}, el('button', { type: 'button', onclick: () => act('Retry trigger ' + t.id + '?', 'triggers/' + t.id + '/retry') }, 'Retry'))));
  }
}

function runMatches(e) {
  const conn = $('f-conn').value, st = $('f-state').value, sync = $('f-sync').value.trim();
  const links = e.links || [];
  if (conn && !links.some((l) => l.connection_id === conn)) return false;
  if (st && !links.some((l) => l.state === st && (!conn || l.connection_id === conn))) return false;
  if (sync && !links.some((l) => l.sync_id === sync)) return false;
  return true;
}

function renderRuns() {
  const body = $('runs').tBodies[0];
  body.replaceChildren();
  const sync = $('f-sync').value.trim();
  const shown = state.events.filter(runMatches);
  $('no-runs').hidden = shown.length > 0;
  for (const e of shown) {
    const chain = el('ul', { class: 'chain' });
    for (const l of e.links || []) {
      chain.append(el('li', {},
        el('span', { class: 'mono' }, l.connection_id), ' ', pill(l.state),
        l.sync_id ? [' → ', el('a', { href: '#', class: 'mono', 'data-sync': l.sync_id,
          onclick: (ev) => { ev.preventDefault(); filterBySync(l.sync_id); } }, l.sync_id)] : null,
        l.state === 'dead' && l.last_error ? [' ', data(l.last_error, 'error')] : null));
    }
    if (!(e.links || []).length) chain.append(el('li', { class: 'muted' }, 'no route matched'));
    body.append(el('tr', { 'data-event': e.event_id, class: sync && (e.links || []).some((l) => l.sync_id === sync) ? 'hit' : null },
      el('td', {}, when(e.received_at)),
      el('td', { class: 'num' }, e.job_id),
      el('td', { class: 'num' }, e.run_id),
      el('td', {}, STATUS_NAMES[e.run_status_code] || String(e.run_status_code),
        e.source === 'reconcile' ? el('span', { class: 'muted', title: 'no webhook arrived; found in dbt Cloud\'s runs list' }, ' (reconciled)') : null,
        e.verification ? el('span', { class: 'muted', title: e.verification.note }, ' (' + e.verification.state + ')') : null),
      el('td', {}, chain),
      el('td', {}, el('a', { href: '#', class: 'mono', onclick: (ev) => { ev.preventDefault(); openTrail(e.event_id); } }, 'trail'))));
  }
  $('older').hidden = state.nextBefore === null;
}

// An SVG bar chart of `series` (per hour): stacked parts, each {key, cls, label}.
function barChart(container, hours, parts, title) {
  const W = 480, H = 120, pad = 16;
  const max = Math.max(1, ...hours.map((h) => parts.reduce((s, p) => s + (h[p.key] || 0), 0)));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const total = hours.reduce((s, h) => s + parts.reduce((t, p) => t + (h[p.key] || 0), 0), 0);
  svg.setAttribute('aria-label', `${title}: ${total} in the last ${hours.length} hours, at most ${max === 1 && total === 0 ? 0 : max} in one hour`);
  const bw = (W - pad) / hours.length;
  const axis = document.createElementNS(ns, 'line');
  axis.setAttribute('x1', pad); axis.setAttribute('x2', W); axis.setAttribute('y1', H - 12); axis.setAttribute('y2', H - 12);
  axis.setAttribute('class', 'axis');
  svg.append(axis);
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', 0); label.setAttribute('y', 9); label.textContent = String(max);
  svg.append(label);
  hours.forEach((h, i) => {
    let y = H - 12;
    for (const p of parts) {
      const v = h[p.key] || 0;
      if (!v) continue;
      const bh = (v / max) * (H - 26);
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', pad + i * bw + 1); r.setAttribute('width', Math.max(1, bw - 2));
      r.setAttribute('y', y - bh); r.setAttribute('height', bh); r.setAttribute('class', p.cls);
      const t = document.createElementNS(ns, 'title');
      const avg = h.sync_seconds_avg != null && p.key.startsWith('syncs') ? `, mean ${Math.round(h.sync_seconds_avg)} s` : '';
      t.textContent = `${new Date(h.hour).toLocaleString()}: ${v} ${p.label}${avg}`;
      r.append(t);
      svg.append(r);
      y -= bh;
    }
    if (i % 6 === 0) {
      const tx = document.createElementNS(ns, 'text');
      tx.setAttribute('x', pad + i * bw); tx.setAttribute('y', H - 1);
      tx.textContent = new Date(h.hour).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
      svg.append(tx);
    }
  });
  container.replaceChildren(svg);
}

function renderActivity(a) {
  barChart($('chart-syncs'), a.hours, [
    { key: 'syncs_succeeded', cls: 'ok', label: 'succeeded' },
    { key: 'syncs_failed', cls: 'bad', label: 'failed' }], 'Syncs finished');
  barChart($('chart-webhooks'), a.hours, [{ key: 'webhooks', cls: 'in', label: 'webhooks' }], 'Webhooks received');
}

// ---- the event trail ----------------------------------------------------------------------

async function openTrail(eventId) {
  let e;
  try { e = await api('events/' + encodeURIComponent(eventId)); } catch (err) { return failed(err); }
  const body = $('trail-body');
  body.replaceChildren(el('p', {}, el('span', { class: 'mono' }, e.event_id), ' — job ', e.job_id, ', run ', e.run_id, ', ',
    STATUS_NAMES[e.run_status_code] || e.run_status_code, ', received ', when(e.received_at),
    e.source === 'reconcile' ? ' (reconciled from dbt Cloud\'s runs list: its webhook never arrived)' : ''));
  if (e.verification) body.append(el('p', {}, 'Verification: ', pill(e.verification.state), ' ', data(e.verification.note)));
  for (const t of e.triggers || []) {
    body.append(el('h3', {}, 'Trigger ', t.id, ' → ', el('span', { class: 'mono' }, t.connection_id), ' ', pill(t.state)));
    if (t.last_error) body.append(el('p', { class: 'error' }, data(t.last_error)));
    if (t.sync) {
      const m = t.sync.metrics || {};
      body.append(el('p', {}, 'Sync ', el('span', { class: 'mono' }, t.sync.sync_id), ' ', pill(t.sync.status),
        ` — ${m.succeeded || 0} succeeded, ${m.failed || 0} failed of ${m.total || 0} records; started ${when(t.sync.started_at)}, finished ${when(t.sync.finished_at)}`,
        t.sync.error ? [' ', data(t.sync.error, 'error')] : null));
    }
    const calls = el('ul', { class: 'chain' });
    for (const a of t.attempts || []) {
      calls.append(el('li', {}, when(a.at), ' ', el('span', { class: 'mono' }, a.kind), ' → ',
        a.http_status ? 'HTTP ' + a.http_status : 'no answer', ' (', a.latency_ms, ' ms) ', a.outcome === 'ok' ? '' : data(a.outcome, 'error')));
    }
    if ((t.attempts || []).length) body.append(calls);
  }
  if (!(e.triggers || []).length) body.append(el('p', { class: 'muted' }, 'No route matched this event.'));
  $('trail-replay').onclick = () => act('Replay event ' + e.event_id + ' (route it again, creating new triggers)?',
    'events/' + encodeURIComponent(e.event_id) + '/replay');
  $('trail').hidden = false;
  $('trail').focus();
}

// ---- actions, filters, refresh ------------------------------------------------------------

async function act(question, path, body) {
  if (!window.confirm(question)) return;
  try {
    await api(path, { method: 'POST', body });
    setLive('Done: ' + question.replace(/\?$/, ''), false);
  } catch (err) {
    failed(err);
    window.alert('Failed: ' + err.message);
    return;
  }
  await refresh();
}

function filterBySync(syncId) {
  $('f-sync').value = syncId;
  renderRuns();
  $('runs').scrollIntoView({ block: 'nearest' });
}

function eventsQuery(before) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (state.job) params.set('job_id', state.job);
  if (before) params.set('before', String(before));
  return 'events?' + params.toString();
}

function failed(err) {
  if (err.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    show('auth');
    $('auth-error').textContent = 'The relay did not accept that token.';
    stop();
    return;
  }
  if (err.status === 404 && /admin API is off/.test(err.message)) {
    show('off');
    setLive('Admin API off', false);
    return;
  }
  const since = state.lastOk ? ' since ' + state.lastOk.toLocaleTimeString() : '';
  setLive((err.status === 0 ? 'The relay is not answering' : 'Error: ' + err.message) + since + ' — retrying', true);
}

async function refresh() {
  if (!state.token || state.busy) return;
  state.busy = true;
  const generation = state.generation;
  try {
    const [status, dead, events, activity] = await Promise.all([
      api('status'), api('dead?limit=200'), api(eventsQuery(null)), api('activity?hours=24')]);
    if (generation !== state.generation) return;  // signed out, or the listing started over meanwhile
    show('main');
    renderConnections(status.connections || []);
    renderDead(dead.triggers || []);
    // Keep older pages the viewer loaded; replace the newest one.
    const fresh = events.events || [];
    if (state.olderLoaded) {
      const known = new Set(fresh.map((e) => e.event_id));
      const oldestFresh = fresh.length ? fresh[fresh.length - 1].seq : Infinity;
      state.events = fresh.concat(state.events.filter((e) => !known.has(e.event_id) && e.seq < oldestFresh));
    } else {
      state.events = fresh;
      state.nextBefore = events.next_before;
    }
    renderRuns();
    renderActivity(activity);
    state.lastOk = new Date();
    setLive('Updated ' + state.lastOk.toLocaleTimeString() + ' · every ' + REFRESH_MS / 1000 + ' s', false);
  } catch (err) {
    if (generation === state.generation) failed(err);
  } finally {
    // A refresh of an abandoned listing leaves the flag to the one that replaced it.
    if (generation === state.generation) state.busy = false;
  }
}

async function loadOlder() {
  if (state.nextBefore === null || state.loadingOlder) return;
  state.loadingOlder = true;
  const generation = state.generation;
  try {
    const page = await api(eventsQuery(state.nextBefore));
    if (generation !== state.generation) return;  // the listing started over meanwhile
    state.events = state.events.concat(page.events || []);
    state.nextBefore = page.next_before;
    state.olderLoaded = true;
    renderRuns();
  } catch (err) {
    failed(err);
  } finally {
    state.loadingOlder = false;
  }
}

// Whatever is in flight belongs to what came before (another token, another listing): its
// answers are dropped, and it no longer holds the refresh flag.
function newGeneration() {
  state.generation += 1;
  state.busy = false;
}

// The listing starts over from the newest runs (a new job filter, a cleared one).
function restartListing() {
  newGeneration();
  state.olderLoaded = false;
  state.nextBefore = null;
  const job = $('f-job').value.trim();
  state.job = /^[0-9]+$/.test(job) ? job : '';
  refresh();
}

function start() {
  stop();
  refresh();
  state.timer = window.setInterval(refresh, REFRESH_MS);
}

function stop() {
  if (state.timer) window.clearInterval(state.timer);
  state.timer = null;
}

function init() {
  // A token in the URL fragment (never sent to the server) is moved to session storage and
  // taken out of the address bar.
  const m = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
  if (m) {
    let token = m[1];
    try { token = decodeURIComponent(token); } catch (e) { /* not %-encoded: take it as it is */ }
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  state.token = sessionStorage.getItem(TOKEN_KEY);
  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    state.token = t;
    newGeneration();
    $('token').value = '';
    $('auth-error').textContent = '';
    start();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    newGeneration();
    stop();
    show('auth');
    setLive('Signed out', false);
  });
  $('retry-all').addEventListener('click', () => act('Retry every dead trigger?', 'dead/retry'));
  $('older').addEventListener('click', loadOlder);
  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    restartListing();
  });
  for (const id of ['f-conn', 'f-state']) $(id).addEventListener('change', renderRuns);
  $('f-sync').addEventListener('input', renderRuns);
  $('f-clear').addEventListener('click', () => {
    for (const id of ['f-job', 'f-sync']) $(id).value = '';
    for (const id of ['f-conn', 'f-state']) $(id).value = '';
    restartListing();
  });
  $('trail-close').addEventListener('click', () => { $('trail').hidden = true; });
  if (state.token) {
    start();
  } else {
    // Without a token the page still learns whether the admin API is on at all.
    api('status').catch((err) => {
      if (err.status === 404 && /admin API is off/.test(err.message)) show('off');
      else { show('auth'); setLive('Admin token needed', false); }
    });
  }
}

document.addEventListener('DOMContentLoaded', init);
