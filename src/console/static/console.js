// The console's only script: no build step, no framework. Everything shown
// comes from the server's event stream and is put on the page as text
// (textContent), never as markup: task contents are written by models.

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const SVG = 'http://www.w3.org/2000/svg';
const KNOWN_STATES = ['waiting', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled'];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const stateClass = (state) => `state-${KNOWN_STATES.includes(state) ? state : 'other'}`;

function ago(ms) {
  if (ms === undefined || ms === null) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
const sinceIso = (iso) => (iso ? ago(Math.max(0, Date.now() - Date.parse(iso))) + ' ago' : '–');
const taskLink = (id) => (id ? el('a', { href: `/task/${encodeURIComponent(id)}`, class: 'task-link', text: id }) : el('span', { text: '(no id)' }));

function fillRows(table, rows, empty) {
  const body = table.tBodies[0];
  body.replaceChildren(...(rows.length ? rows : [el('tr', { class: 'empty' }, el('td', { colspan: table.tHead.rows[0].cells.length, text: empty }))]));
}

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer.error || `${res.status} ${res.statusText}`);
  return answer;
}

function live(path, event, render) {
  const badge = document.getElementById('live');
  let source;
  let watchdog;
  // Frames come every half second; a stream silent for long is stuck somewhere between here and Redis: open a new one.
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(connect, 5000);
  };
  function connect() {
    source?.close();
    source = new EventSource(path);
    arm();
    source.addEventListener(event, (e) => {
      arm();
      badge.textContent = 'live';
      badge.className = 'live on';
      render(JSON.parse(e.data));
    });
    source.addEventListener('problem', (e) => {
      arm();
      badge.textContent = `Redis: ${JSON.parse(e.data).message}`;
      badge.className = 'live off';
    });
    source.addEventListener('error', () => {
      badge.textContent = 'reconnecting…';
      badge.className = 'live off';
    });
  }
  connect();
}

// ---------------------------------------------------------------- overview

function workerChips(workers) {
  return el('span', { class: 'chips' }, workers.map((w) => el('span', { class: `chip ${stateClass(w.state)}`, title: w.error || w.state, text: `${w.worker.replace(/-worker$/, '')} ${w.state}` })));
}

const deadLetterNodes = new Map();

function deadLetterCard(d) {
  const raw = el('textarea', { class: 'raw', rows: 4, spellcheck: 'false' });
  raw.value = d.raw;
  const result = el('span', { class: 'action-result' });
  const act = (what) => async () => {
    result.textContent = '…';
    // Kept by the next frames while the answer is on its way: the server drops the entry before it answers.
    card.classList.add('acting');
    try {
      const answer = await post(`/api/dead-letters/${what}`, what === 'requeue' ? { entry: d.entry, raw: raw.value } : { entry: d.entry });
      result.textContent = '';
      if (answer.taskId) result.append('requeued as ', taskLink(answer.taskId));
      else result.textContent = 'discarded';
      card.classList.add('done');
      for (const b of card.querySelectorAll('button')) b.disabled = true;
    } catch (error) {
      result.textContent = error.message;
      result.classList.add('bad');
    } finally {
      card.classList.remove('acting');
    }
  };
  const card = el(
    'div',
    { class: 'dead-letter', 'data-task-id': d.taskId ?? '' },
    el('div', { class: 'dl-head' }, el('b', { text: d.taskId ?? '(no task id)' }), el('span', { class: 'when', text: sinceIso(d.at) }), d.agentId ? el('span', { class: 'who', text: d.agentId }) : null),
    el('div', { class: 'reason', text: d.reason }),
    raw,
    el('div', { class: 'dl-actions' }, el('button', { class: 'requeue', onclick: act('requeue'), text: 'Requeue' }), el('button', { class: 'discard danger', onclick: act('discard'), text: 'Discard' }), result),
  );
  return card;
}

function renderDeadLetters(dead) {
  const box = document.getElementById('dead-letters');
  document.getElementById('dead-count').textContent = dead.total;
  const current = new Set(dead.entries.map((d) => d.entry));
  // Keyed: a card being edited is never replaced by the next frame, nor one acted on (its answer shows there).
  for (const [entry, node] of deadLetterNodes) {
    if (!current.has(entry) && !node.classList.contains('done') && !node.classList.contains('acting')) {
      node.remove();
      deadLetterNodes.delete(entry);
    }
  }
  let previous = null;
  for (const d of dead.entries) {
    let node = deadLetterNodes.get(d.entry);
    if (!node) {
      node = deadLetterCard(d);
      deadLetterNodes.set(d.entry, node);
    }
    if (previous ? previous.nextSibling !== node : box.firstChild !== node) {
      if (previous) previous.after(node);
      else box.prepend(node);
    }
    previous = node;
  }
  box.querySelector('.hint-empty')?.remove();
  if (deadLetterNodes.size === 0) box.append(el('p', { class: 'hint hint-empty', text: 'none' }));
}

function renderOverview(o) {
  document.getElementById('pending').textContent = o.pending;
  document.getElementById('inflight').textContent = o.tasks.length;
  const f = o.finished;
  document.getElementById('completed').textContent = f.completed;
  document.getElementById('failed').textContent = f.failed;
  document.getElementById('window').textContent = `last ${f.windowMinutes} min`;
  document.getElementById('failed-sub').textContent = `failed or partial, last ${f.windowMinutes} min${f.cancelled ? ` (and ${f.cancelled} cancelled)` : ''}`;
  document.getElementById('failures-title').textContent = `failures, last ${f.windowMinutes} min`;
  fillRows(
    document.getElementById('instances'),
    o.instances.map((i) =>
      el(
        'tr',
        { class: i.alive ? '' : 'dead' },
        el('td', { text: i.agentId }),
        el('td', {}, el('span', { class: `badge ${i.alive ? 'ok' : 'bad'}`, text: i.alive ? i.status : `${i.status} (no heartbeat)` })),
        el('td', { text: sinceIso(i.lastHeartbeat) }),
        el('td', { text: i.model ?? '–' }),
        el('td', { text: i.concurrency ?? '–' }),
      ),
    ),
    'no instance registered',
  );
  fillRows(
    document.getElementById('tasks'),
    o.tasks.map((t) =>
      el(
        'tr',
        { 'data-task-id': t.taskId, 'data-state': t.state },
        el('td', {}, taskLink(t.taskId)),
        el('td', { class: 'desc', text: t.description }),
        el('td', {}, el('span', { class: `badge task-${t.state}`, text: t.state })),
        el('td', { text: ago(t.elapsedMs) }),
        el('td', {}, workerChips(t.workers)),
        el('td', { text: t.owner ?? '–' }),
      ),
    ),
    'nothing in flight',
  );
  fillRows(
    document.getElementById('finished'),
    f.recent.map((r) =>
      el(
        'tr',
        { 'data-task-id': r.taskId, 'data-state': r.state },
        el('td', {}, taskLink(r.taskId)),
        el('td', { class: 'desc', text: r.description ?? '–' }),
        el('td', {}, el('span', { class: `badge task-${r.outcome === 'completed_with_warnings' ? r.outcome : r.state}`, text: r.state === 'cancelled' ? 'cancelled' : r.outcome })),
        el('td', { text: ago(Date.now() - r.at) + ' ago' }),
      ),
    ),
    'none yet',
  );
  fillRows(
    document.getElementById('failures'),
    f.failures.map((r) => el('tr', { 'data-task-id': r.taskId }, el('td', {}, taskLink(r.taskId)), el('td', { text: r.outcome }), el('td', { class: 'desc', text: r.error ?? '' }), el('td', { text: ago(Date.now() - r.at) + ' ago' }))),
    `none in the last ${f.windowMinutes} min`,
  );
  renderDeadLetters(o.deadLetters);
}

// ---------------------------------------------------------------- task page

/** Steps in columns by the longest chain of dependencies before them: a db step left of the api and auth steps that need it. */
let planKey = '';

function renderPlan(plan, workers) {
  const box = document.getElementById('plan');
  // Redrawn only when something in it changed: no flicker, and a hovered step keeps its tooltip.
  const key = JSON.stringify([plan, workers.map((w) => [w.worker, w.state, w.attempt])]);
  if (key === planKey) return;
  planKey = key;
  if (!plan.length) return box.replaceChildren(el('p', { class: 'hint', text: 'no plan yet' }));
  const byWorker = new Map(plan.map((s) => [s.worker, s]));
  const depth = new Map();
  const depthOf = (w, trail = new Set()) => {
    if (depth.has(w)) return depth.get(w);
    if (trail.has(w)) return 0; // a cycle would be refused by the planner; never loop on one
    trail.add(w);
    const deps = (byWorker.get(w)?.dependsOn ?? []).filter((d) => byWorker.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(x, trail))) : 0;
    depth.set(w, d);
    return d;
  };
  const columns = [];
  for (const s of plan) (columns[depthOf(s.worker)] ??= []).push(s.worker);
  const W = 150, H = 46, CW = 220, RH = 70, P = 16;
  const tallest = Math.max(...columns.map((c) => c?.length ?? 0));
  const pos = new Map();
  columns.forEach((col, c) => (col ?? []).forEach((w, r) => pos.set(w, { x: P + c * CW, y: P + ((tallest - col.length) * RH) / 2 + r * RH })));
  const root = svg('svg', { class: 'plan', viewBox: `0 0 ${P * 2 + (columns.length - 1) * CW + W} ${P * 2 + tallest * RH - (RH - H)}` });
  root.append(svg('defs', {}, svg('marker', { id: 'plan-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z' }))));
  for (const s of plan) {
    for (const d of s.dependsOn) {
      const a = pos.get(d), b = pos.get(s.worker);
      if (!a || !b) continue;
      const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
      root.append(svg('path', { class: 'dep', d: `M${x1},${y1} C${x1 + 50},${y1} ${x2 - 50},${y2} ${x2},${y2}`, 'marker-end': 'url(#plan-arrow)', 'data-from': d, 'data-to': s.worker }));
    }
  }
  const states = new Map(workers.map((w) => [w.worker, w]));
  for (const s of plan) {
    const p = pos.get(s.worker);
    const w = states.get(s.worker);
    const state = w?.state ?? 'waiting';
    const g = svg('g', { class: `step ${stateClass(state)}`, 'data-worker': s.worker, 'data-state': state, 'data-column': depth.get(s.worker) });
    g.append(
      svg('title', {}, `${s.worker}: ${state}${w?.attempt ? `, attempt ${w.attempt}` : ''}${s.critical ? ' (critical)' : ''}`),
      svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 8 }),
      svg('text', { x: p.x + W / 2, y: p.y + 19, class: 'name' }, s.worker),
      svg('text', { x: p.x + W / 2, y: p.y + 36, class: 'sub' }, `${state}${w?.attempt > 1 ? ` #${w.attempt}` : ''}${s.critical ? ' · critical' : ''}`),
    );
    root.append(g);
  }
  box.replaceChildren(root);
  document.getElementById('legend').replaceChildren(...KNOWN_STATES.map((s) => el('span', { class: `chip ${stateClass(s)}`, text: s })));
}

const list = (items) => (items?.length ? el('ul', { class: 'files' }, items.map((f) => el('li', {}, el('code', { text: f })))) : el('span', { class: 'hint', text: 'none' }));

function usageText(u) {
  if (!u || typeof u !== 'object') return '–';
  // cost_usd null: a model without a price was used, its cost is unknown (not 0).
  return Object.entries(u).map(([k, v]) => `${k.replace(/_tokens$/, '').replace(/_/g, ' ')} ${typeof v === 'number' ? v.toLocaleString('en') : v === null ? 'unknown' : JSON.stringify(v)}`).join(' · ');
}

function value(v) {
  if (v === undefined || v === null) return '–';
  if (typeof v === 'object') return el('pre', { class: 'inline-json', text: JSON.stringify(v, null, 2) });
  return String(v);
}

const SHOWN = new Set(['status', 'task', 'attempts', 'summary', 'files_created', 'files_modified', 'usage', 'error', 'depends_on']);

// Prompts the reader opened stay open across the live redraws.
const openPrompts = new Set();

function promptBlock(w) {
  if (typeof w.prompt !== 'string') return '–';
  const summary = `full prompt${w.promptAttempt > 1 ? ` (attempt ${w.promptAttempt})` : ''}, ${w.prompt.length.toLocaleString()} characters`;
  return el(
    'details',
    { class: 'prompt-full', open: openPrompts.has(w.worker), ontoggle: (e) => (e.target.open ? openPrompts.add(w.worker) : openPrompts.delete(w.worker)) },
    el('summary', { text: summary }),
    el('pre', { text: w.prompt }),
  );
}

function workerCard(w, step) {
  const d = w.detail ?? {};
  const rows = [
    ['state', el('span', { class: `chip ${stateClass(w.state)}`, text: w.state + (w.sinceMs !== undefined && w.sinceMs !== null ? ` for ${ago(w.sinceMs)}` : '') })],
    ['attempts', String(w.attempt || d.attempts || 0)],
    ['asked to', step?.instructions ? el('div', { class: 'prompt', text: step.instructions }) : '–'],
    ['prompt', promptBlock(w)],
    ['summary', d.summary ? el('div', { class: 'summary', text: d.summary }) : '–'],
    ['files created', list(d.files_created)],
    ['files modified', list(d.files_modified)],
    ['usage', usageText(d.usage)],
  ];
  if (w.error) rows.push(['error', el('span', { class: 'bad', text: w.error })]);
  if (d.issues?.length) rows.push(['issues', list(d.issues)]);
  // Fields other writers add (cost, duration, report, ...) show up without a change here.
  for (const [k, v] of Object.entries(d)) if (!SHOWN.has(k) && k !== 'issues') rows.push([k.replace(/_/g, ' '), value(v)]);
  return el(
    'div',
    { class: `worker ${stateClass(w.state)}`, 'data-worker': w.worker },
    el('h3', { text: w.worker }),
    el('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)])),
  );
}

let logCount = 0;

/** One check (`--verify`): its command, passed or failed, exit code or why it could not run, time, runs, and its output's tail, all as text. */
function checkCard(c) {
  const passed = c.passed === true;
  const how = typeof c.error === 'string' ? `could not run: ${c.error}` : `exit code ${c.exit_code ?? 'none'}`;
  const rows = [
    ['result', how],
    ['duration', ago(c.duration_ms)],
    ['rounds', String(c.rounds)],
  ];
  return el(
    'div',
    { class: `check ${stateClass(passed ? 'succeeded' : 'failed')}`, 'data-passed': String(passed) },
    el('h3', {}, el('code', { class: 'command', text: String(c.command) }), ' ', el('span', { class: `chip ${stateClass(passed ? 'succeeded' : 'failed')}`, text: passed ? 'passed' : 'failed' })),
    el('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])),
    c.output_tail ? el('pre', { class: 'tail', text: String(c.output_tail) }) : el('p', { class: 'hint', text: 'no output' }),
  );
}

let checksKey = '';

/** The states the task passed shaded, the edges and labels of the transitions it took drawn, the current state lit. */
function drawPath(path, current) {
  const visited = new Set(path.flatMap((s) => [s.from, s.to]));
  if (current) visited.add(current);
  for (const node of document.querySelectorAll('#machine .state')) {
    node.classList.toggle('lit', node.dataset.state === current);
    node.classList.toggle('visited', visited.has(node.dataset.state));
  }
  const taken = new Set(path.map((s) => `${s.from}\u0000${s.to}`));
  const labels = new Set(path.map((s) => `${s.from}\u0000${s.to}\u0000${s.label}`));
  for (const edge of document.querySelectorAll('#machine .edge')) {
    const pair = `${edge.dataset.from}\u0000${edge.dataset.to}`;
    edge.classList.toggle('taken', taken.has(pair));
    for (const label of edge.querySelectorAll('tspan[data-label]')) label.classList.toggle('taken', labels.has(`${pair}\u0000${label.dataset.label}`));
  }
}

function renderTask(t) {
  const state = document.getElementById('state');
  state.textContent = t.missing ? 'not found' : t.state;
  state.className = `badge task-${t.state}`;
  document.body.dataset.state = t.state;
  document.getElementById('description').textContent = t.description ?? (t.missing ? 'Redis has no record of this task (never sent, or its results were removed).' : '');
  document.getElementById('requirements').replaceChildren(...(t.requirements ?? []).map((r) => el('li', { text: r })));
  const facts = [];
  if (t.owner) facts.push(`held by ${t.owner}`);
  if (t.elapsedMs !== undefined && t.elapsedMs !== null) facts.push(`running for ${ago(t.elapsedMs)}`);
  if (t.startedAt) facts.push(`started ${sinceIso(t.startedAt)}`);
  if (t.completedAt) facts.push(`finished ${sinceIso(t.completedAt)}`);
  if (t.error) facts.push(`error: ${t.error}`);
  document.getElementById('facts').textContent = facts.join(' · ');
  document.getElementById('cancel').hidden = !t.cancellable;

  drawPath(t.path ?? [], t.machineState);
  renderPlan(t.plan ?? [], t.workers ?? []);
  const steps = new Map((t.plan ?? []).map((s) => [s.worker, s]));
  document.getElementById('workers').replaceChildren(...(t.workers ?? []).map((w) => workerCard(w, steps.get(w.worker))));

  const logs = document.getElementById('logs');
  if ((t.logs ?? []).length !== logCount) {
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    logs.textContent = (t.logs ?? []).join('\n');
    logCount = (t.logs ?? []).length;
    if (atBottom) logs.scrollTop = logs.scrollHeight;
  }
  const checks = Array.isArray(t.checks) ? t.checks : [];
  document.getElementById('checks-section').hidden = checks.length === 0;
  // Redrawn only when they change: a tail being read keeps its scroll.
  if (JSON.stringify(checks) !== checksKey) {
    checksKey = JSON.stringify(checks);
    document.getElementById('checks').replaceChildren(...checks.map(checkCard));
  }
  const git = t.output?.git;
  document.getElementById('git-section').hidden = !git;
  if (git && typeof git === 'object') document.getElementById('git').replaceChildren(...Object.entries(git).flatMap(([k, v]) => [el('dt', { text: k.replace(/_/g, ' ') }), el('dd', {}, value(v))]));
  document.getElementById('output').textContent = t.output ? JSON.stringify(t.output, null, 2) : 'not published yet';
}

function setupCancel(taskId) {
  const button = document.getElementById('cancel');
  const result = document.getElementById('action-result');
  button.addEventListener('click', async () => {
    if (!confirm(`Cancel task ${taskId}? It is published as failed (cancelled).`)) return;
    button.disabled = true;
    try {
      const answer = await post(`/api/task/${encodeURIComponent(taskId)}/cancel`, { reason: 'cancelled' });
      result.textContent = answer.cancelled === 'queued' ? 'removed from the queue' : 'its holder was told to stop it';
    } catch (error) {
      result.textContent = error.message;
      result.className = 'bad';
    } finally {
      button.disabled = false;
    }
  });
}

// ---------------------------------------------------------------- tasks page

const TASK_TABS = ['all', 'running', 'queued', 'completed', 'partial', 'failed', 'cancelled', 'dead-lettered'];

function tasksPage() {
  const params = new URLSearchParams(location.search);
  const view = { state: params.get('state') || 'all', q: params.get('q') || '', offset: Number(params.get('offset')) || 0, limit: 25 };
  const input = document.getElementById('q');
  input.value = view.q;
  const badge = document.getElementById('live');
  let timer;

  const address = () => {
    const p = new URLSearchParams();
    if (view.state !== 'all') p.set('state', view.state);
    if (view.q) p.set('q', view.q);
    if (view.offset) p.set('offset', String(view.offset));
    return p;
  };

  // Only the latest request is drawn: an answer to an earlier view (a refresh, the tab before) that comes late is dropped.
  let latest = 0;
  async function load() {
    clearTimeout(timer);
    const p = address();
    p.set('limit', String(view.limit));
    const mine = ++latest;
    try {
      const res = await fetch(`/api/tasks?${p}`);
      const list = await res.json();
      if (mine !== latest) return;
      if (!res.ok) throw new Error(list.error || res.statusText);
      render(list);
      badge.textContent = 'live';
      badge.className = 'live on';
    } catch (error) {
      if (mine !== latest) return;
      badge.textContent = `Redis: ${error.message}`;
      badge.className = 'live off';
    }
    // Refreshed while open, as the other pages are.
    timer = setTimeout(load, 2000);
  }

  const go = (change) => {
    Object.assign(view, change);
    const a = address().toString();
    history.replaceState(null, '', `/tasks${a ? `?${a}` : ''}`);
    void load();
  };

  function render(list) {
    const total = Object.values(list.counts).reduce((a, b) => a + b, 0);
    document.getElementById('state-tabs').replaceChildren(
      ...TASK_TABS.map((s) =>
        el('a', { href: `/tasks${s === 'all' ? '' : `?state=${s}`}`, class: `tab${view.state === s ? ' on' : ''}`, 'data-state': s, onclick: (e) => (e.preventDefault(), go({ state: s, offset: 0 })) }, `${s} `, el('span', { class: 'count', text: String(s === 'all' ? total : list.counts[s] ?? 0) })),
      ),
    );
    fillRows(
      document.getElementById('task-list'),
      list.rows.map((r) =>
        el(
          'tr',
          { 'data-task-id': r.taskId ?? '', 'data-state': r.state },
          el('td', {}, taskLink(r.taskId)),
          el('td', {}, el('span', { class: `badge task-${r.outcome === 'completed_with_warnings' ? r.outcome : r.state}`, text: r.outcome === 'completed_with_warnings' ? r.outcome : r.state })),
          el('td', { class: 'desc', text: r.description ?? '–' }),
          el('td', { class: 'desc', text: [r.outcome && r.outcome !== r.state ? r.outcome : '', r.error ?? ''].filter(Boolean).join(': ') || '–' }),
          el('td', { text: r.at ? ago(Math.max(0, Date.now() - r.at)) + ' ago' : '–' }),
        ),
      ),
      view.q ? `no task matches "${view.q}"` : 'none',
    );
    const first = list.rows.length ? list.offset + 1 : 0;
    document.getElementById('page-info').textContent = `${first}–${list.offset + list.rows.length}${list.total !== undefined ? ` of ${list.total}` : ''}`;
    document.getElementById('prev').disabled = list.offset === 0;
    document.getElementById('next').disabled = !list.more;
  }

  document.getElementById('search').addEventListener('submit', (e) => {
    e.preventDefault();
    go({ q: input.value.trim(), offset: 0 });
  });
  document.getElementById('prev').addEventListener('click', () => go({ offset: Math.max(0, view.offset - view.limit) }));
  document.getElementById('next').addEventListener('click', () => go({ offset: view.offset + view.limit }));
  void load();
}

if (document.body.dataset.page === 'overview') live('/events', 'overview', renderOverview);
if (document.body.dataset.page === 'tasks') tasksPage();
if (document.body.dataset.page === 'ambiguous') document.getElementById('live').remove();
if (document.body.dataset.page === 'task') {
  const id = document.body.dataset.taskId;
  setupCancel(id);
  live(`/events/task/${encodeURIComponent(id)}`, 'task', renderTask);
}
