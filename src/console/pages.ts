/** The console's HTML shells: the script fills them from the live stream; only escaped text is interpolated. */

import { keysFor } from '../protocol/keys.ts';

const esc = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function shell(o: { title: string; domain: string; csrf: string; page: string; body: string; taskId?: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${esc(o.csrf)}">
<title>${esc(o.title)}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/console.css">
<script type="module" src="/static/console.js"></script>
</head>
<body data-page="${o.page}" data-domain="${esc(o.domain)}"${o.taskId !== undefined ? ` data-task-id="${esc(o.taskId)}"` : ''}>
<header>
  <a class="brand" href="/">backend-orchestrator</a>
  <nav><a href="/">overview</a> <a href="/tasks">tasks</a></nav>
  <span class="domain">domain <b>${esc(o.domain)}</b></span>
  <span id="live" class="live off">connecting…</span>
</header>
<main>
${o.body}
</main>
</body>
</html>
`;
}

export function overviewPage(o: { domain: string; csrf: string }): string {
  return shell({
    ...o,
    title: `console · ${o.domain}`,
    page: 'overview',
    body: `
<section class="cards">
  <div class="card"><h3>queue</h3><div class="big" id="pending">–</div><div class="sub">pending on ${esc(keysFor(o.domain).pending)}</div></div>
  <div class="card"><h3>in flight</h3><div class="big" id="inflight">–</div><div class="sub">tasks claimed</div></div>
  <div class="card"><h3>completed</h3><div class="big ok" id="completed">–</div><div class="sub" id="window">last minutes</div></div>
  <div class="card"><h3>failed</h3><div class="big bad" id="failed">–</div><div class="sub" id="failed-sub">failed or partial, same window</div></div>
  <div class="card"><h3>dead letters</h3><div class="big" id="dead-count">–</div><div class="sub">kept in Redis</div></div>
</section>
<section><h2>instances</h2><table id="instances"><thead><tr><th>agent</th><th>status</th><th>heartbeat</th><th>model</th><th>concurrency</th></tr></thead><tbody></tbody></table></section>
<section><h2>tasks in flight</h2><table id="tasks"><thead><tr><th>task</th><th>description</th><th>state</th><th>age</th><th>workers</th><th>holder</th></tr></thead><tbody></tbody></table></section>
<section class="two">
  <div><h2>recently finished</h2><table id="finished"><thead><tr><th>task</th><th>description</th><th>outcome</th><th>when</th></tr></thead><tbody></tbody></table><p class="hint"><a href="/tasks">every task, by state</a></p></div>
  <div><h2 id="failures-title">failures</h2><table id="failures"><thead><tr><th>task</th><th>outcome</th><th>error</th><th>when</th></tr></thead><tbody></tbody></table><p class="hint"><a href="/tasks?state=failed">all failed tasks</a> · <a href="/tasks?state=partial">all partial ones</a></p></div>
</section>
<section><h2>dead letters</h2><p class="hint">Messages the listener could not run. Requeue puts the (edited) text back on the queue; it must be a valid task message.</p><div id="dead-letters"></div></section>
`,
  });
}

export function taskPage(o: { domain: string; csrf: string; taskId: string; svg: string }): string {
  return shell({
    ...o,
    title: `task ${o.taskId} · console`,
    page: 'task',
    body: `
<section class="task-head">
  <div>
    <h1>task <code id="task-id">${esc(o.taskId)}</code> <span id="state" class="badge">…</span></h1>
    <p id="description" class="description"></p>
    <ul id="requirements" class="requirements"></ul>
    <p id="facts" class="facts"></p>
  </div>
  <div class="actions"><button id="cancel" class="danger" hidden>Cancel task</button><span id="action-result"></span></div>
</section>
<section><h2>task machine</h2><div id="machine" class="diagram">${o.svg}</div></section>
<section class="two">
  <div><h2>plan</h2><div id="plan" class="diagram"><p class="hint">no plan yet</p></div><div class="legend" id="legend"></div></div>
  <div><h2>progress log</h2><pre id="logs" class="logs"></pre></div>
</section>
<section><h2>workers</h2><div id="workers" class="workers"></div></section>
<section id="checks-section" hidden><h2>checks</h2><div id="checks" class="checks"></div></section>
<section id="git-section" hidden><h2>git</h2><dl id="git" class="kv"></dl></section>
<section><h2>output</h2><pre id="output" class="output">not published yet</pre></section>
`,
  });
}

/** Every task Redis holds, by state, searchable, a page at a time; the script fills it from `/api/tasks`. */
export function tasksPage(o: { domain: string; csrf: string }): string {
  return shell({
    ...o,
    title: `tasks · ${o.domain}`,
    page: 'tasks',
    body: `
<section>
  <h1>tasks</h1>
  <nav id="state-tabs" class="tabs"></nav>
  <form id="search" class="search" role="search">
    <input id="q" name="q" type="search" placeholder="id prefix or words of the description" autocomplete="off" size="40">
    <button type="submit">Search</button>
  </form>
  <table id="task-list"><thead><tr><th>task</th><th>state</th><th>description</th><th>outcome / error</th><th>when</th></tr></thead><tbody></tbody></table>
  <div class="pager"><button id="prev" type="button">← newer</button> <span id="page-info"></span> <button id="next" type="button">older →</button></div>
  <p class="hint">Running and queued tasks come from the queue's lists; finished ones from the tasks index every instance writes as it publishes (the newest 5,000 of each state); dead letters from their list. An older task is still found by its id: open <code>/task/&lt;id&gt;</code>.</p>
</section>
`,
  });
}

/** A prefix that begins several task ids: each one, to choose from. */
export function ambiguousPage(o: { domain: string; csrf: string; prefix: string; matches: string[] }): string {
  return shell({
    ...o,
    title: `${o.prefix}… · console`,
    page: 'ambiguous',
    body: `
<section>
  <h1>task id <code>${esc(o.prefix)}</code> is ambiguous</h1>
  <p>It begins ${o.matches.length} task ids; choose one (or give more characters):</p>
  <ul id="matches" class="matches">
${o.matches.slice(0, 100).map((m) => `    <li><a class="task-link" href="/task/${encodeURIComponent(m)}">${esc(m)}</a></li>`).join('\n')}
  </ul>
${o.matches.length > 100 ? `  <p class="hint">and ${o.matches.length - 100} more: search them on <a href="/tasks?q=${encodeURIComponent(o.prefix)}">the tasks page</a>.</p>` : ''}
</section>
`,
  });
}
