// The fleet view (FleetView of @herd/reconciler, as GET /state and /events send it) as HTML.
// Every value is repository or agent content, hostile until proven otherwise: each one goes
// through esc() before it is part of the markup, text and attributes alike. Pure, so the
// tests run it in Node too.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** `value` as HTML text or a quoted attribute's value. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

const yesNo = (ok, yes = 'yes', no = 'no') => `<span class="badge ${ok ? 'ok' : 'warn'}">${ok ? yes : no}</span>`;

function errorList(errors) {
  return `<ul class="errors">${errors.map((e) => {
    const at = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
    return `<li><code class="at">${esc(at)}</code> ${e.field ? `<code class="field">${esc(e.field)}</code> ` : ''}<span class="message">${esc(e.message)}</span></li>`;
  }).join('')}</ul>`;
}

function agentClass(agent) {
  if (agent === 'connected') return 'ok';
  if (agent === 'not enrolled' || agent.startsWith('was ')) return 'muted';
  return 'bad';
}

function conditions(list) {
  return list.map((c) => `<span class="condition ${c.status === 'True' ? 'ok' : 'warn'}" title="${esc(`${c.reason} ${c.message}`.trim())}">${esc(c.type)}=${esc(c.status)}</span>`).join(' ');
}

/** An error's first line, cut short: the whole of it is in the cell's title. */
function firstLine(text, max = 160) {
  const line = text.split('\n')[0];
  return line.length > max || line !== text ? `${line.slice(0, max)}…` : line;
}

function nodeRow(cluster, n) {
  const generation = n.observedGeneration === null ? '-' : `${n.observedGeneration}/${n.desiredGeneration}`;
  const k = n.kubernetes;
  return `<tr class="node" data-node="${esc(`${cluster}/${n.name}`)}">`
    + `<td class="name">${esc(n.name)}</td><td>${esc(n.pool)}</td><td>${esc(n.address || '-')}</td><td>${esc(n.machine)}</td>`
    + `<td class="agent"><span class="badge ${agentClass(n.agent)}">${esc(n.agent)}</span></td>`
    + `<td class="generation">${esc(generation)}</td><td class="converged">${yesNo(n.converged)}</td>`
    + `<td class="commit"><code title="${esc(n.commit)}">${esc(n.commit.slice(0, 12) || '-')}</code></td>`
    + `<td class="version">${esc(n.agentVersion || '-')}</td>`
    + `<td class="conditions">${conditions(n.conditions)}</td>`
    + `<td class="kube">${k ? esc(`${k.ready ? 'Ready' : 'NotReady'}${k.unschedulable ? ',cordoned' : ''} ${k.version}`) : '-'}</td>`
    + `<td class="error" title="${esc(n.lastError)}">${esc(firstLine(n.lastError))}</td></tr>`;
}

function lines(title, cls, items) {
  return items.length ? `<div class="${cls}"><h3>${esc(title)}</h3><ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul></div>` : '';
}

function cluster(c) {
  const k = c.kubernetes;
  const kube = k ? `<p class="kubernetes">Kubernetes ${k.initialized ? esc(`${k.apiVersion || 'API not answering'} at ${k.endpoint || '?'}`) : 'not initialized'}</p>` : '';
  return `<section class="cluster" data-cluster="${esc(c.name)}">`
    + `<h2><span class="name">${esc(c.name)}</span> <span class="muted">${esc(c.provider)}</span> ${yesNo(c.converged, 'converged', 'converging')}</h2>`
    + (c.converged ? '' : `<p class="reason">${esc(c.reason)}</p>`)
    + (c.error ? `<p class="error">${esc(c.error)}</p>` : '')
    + `<table class="pools"><thead><tr><th>pool</th><th>role</th><th>machines</th></tr></thead><tbody>`
    + c.pools.map((p) => `<tr><td>${esc(p.name)}</td><td>${esc(p.role)}</td><td>${esc(`${p.machines} of ${p.desired}`)}</td></tr>`).join('')
    + `</tbody></table>`
    + kube
    + (k ? lines('Running', 'running', k.running) + lines('Holding', 'holds', k.holds)
      + lines('Halted', 'halted', k.halted ? [k.halted] : []) + lines('Last failure', 'failure', k.lastFailure ? [k.lastFailure] : []) : '')
    + `<table class="nodes"><thead><tr><th>node</th><th>pool</th><th>address</th><th>machine</th><th>agent</th><th>generation</th>`
    + `<th>converged</th><th>commit</th><th>agent version</th><th>conditions</th><th>Kubernetes</th><th>last error</th></tr></thead><tbody>`
    + (c.nodes.length ? c.nodes.map((n) => nodeRow(c.name, n)).join('') : '<tr><td colspan="12" class="muted">no machines</td></tr>')
    + `</tbody></table></section>`;
}

/** The whole page body for `view`. */
export function render(view) {
  const refused = view.refused
    ? `<section class="refused"><h2>Refused: ${esc(view.refused.commit ? `commit ${view.refused.commit}` : 'the working tree')} does not validate</h2>`
      + `<p>The state below stays in force.</p>${errorList(view.refused.errors)}</section>` : '';
  const refusedNow = view.refusedNow
    ? `<section class="refused"><h2>The working tree does not validate now</h2>${errorList(view.refusedNow)}</section>` : '';
  return `<section class="summary">`
    + `<p><span class="label">in force</span> <code class="in-force">${esc(view.commit ? `commit ${view.commit}` : view.time ? 'working tree' : 'nothing yet')}</code> ${yesNo(view.converged, 'converged', 'not converged')}</p>`
    + `<p><span class="label">source</span> <code>${esc(view.source || '-')}</code></p>`
    + `<p><span class="label">last round</span> <time>${esc(view.time || '-')}</time></p>`
    + `</section>`
    + refused + refusedNow
    + (view.clusters.length ? view.clusters.map(cluster).join('') : '<p class="muted">No cluster in force.</p>')
    + lines('Orphans (Git no longer declares their cluster; herd down removes them)', 'orphans', view.orphans.map((o) => `${o.cluster}/${o.machine}`));
}
