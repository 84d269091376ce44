// The status page's server on a real loopback port: the token guards the view and only the
// view, /events pushes a changed view (throttled, to a bounded number of subscribers, ended
// on close), hostile names come back escaped by the very render.js the server serves, and a
// `herd coordinator` process serves its refused commit with the token in a 0600 file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetView, type FleetStatus, type FleetView } from '@herd/reconciler';
import { isLoopback, serveStatusPage, type StatusPage } from '@herd/status-page';
import { createLogger, silentLogger } from '@herd/sys';

const ROOT = join(import.meta.dirname, '../..');
const HERD = join(ROOT, 'packages/cli/dist/main.js');
const TOKEN = 'test-token-0123456789abcdef';

const HOSTILE = '<img src=x onerror="globalThis.pwned=1">&\'`';

function status(node: string, observed: number): FleetStatus {
  return {
    time: '2026-12-01T19:00:00.000Z', source: '/repo', commit: 'a'.repeat(40), orphans: [], converged: false,
    clusters: [{
      name: 'shop', provider: 'local', converged: false, reason: `waiting for ${node}`,
      pools: [{ name: 'workers', role: 'worker', desired: 1, machines: 1 }],
      machines: [{
        name: node, pool: 'workers', role: 'worker', addresses: ['10.0.0.2'], state: 'running', converged: false,
        agent: { connected: true, unreachable: false, desiredGeneration: 2, observedGeneration: observed, commit: 'b'.repeat(40), agentVersion: '0.1.0',
          conditions: [{ type: 'Packages', status: 'False', reason: 'Failed', message: HOSTILE }], lastError: `apt: ${HOSTILE}`, rebootRequired: false, driftCorrected: [] },
      }],
      kubernetes: { initialized: false, nodes: [], running: [`join ${node}: ${HOSTILE}`], holds: ['upgrade: waits for the control plane'] },
    }],
  };
}

async function page(t: { after(fn: () => unknown): void }, view: () => FleetView, options: { maxSubscribers?: number; throttleMs?: number } = {}): Promise<StatusPage & { base: string }> {
  const served = await serveStatusPage({ host: '127.0.0.1', port: 0, token: TOKEN, view, logger: silentLogger(), throttleMs: options.throttleMs ?? 50, ...options });
  assert.ok(served, 'the page is served');
  t.after(() => served.close());
  return Object.assign(served, { base: `http://127.0.0.1:${served.port}` });
}

const auth = { authorization: `Bearer ${TOKEN}` };

/** Reads server-sent events from /events; `next()` is the next event's parsed data, or undefined when the stream ended. */
async function subscribe(base: string, t: { after(fn: () => unknown): void }) {
  const abort = new AbortController();
  t.after(() => abort.abort());
  const response = await fetch(`${base}/events`, { headers: auth, signal: abort.signal });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    abort: () => abort.abort(),
    async next(): Promise<{ event: string; data: FleetView } | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue; // a keepalive comment
          return { event: /^event: (.*)$/m.exec(block)![1]!, data: JSON.parse(data.slice(6)) as FleetView };
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffer += value;
      }
    },
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

test('the view needs the token; the page files hold no data and load without it', async (t) => {
  const view = fleetView({ status: status('shop-workers-1', 1) });
  const p = await page(t, () => view);
  const html = await fetch(`${p.base}/`);
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type')!, /^text\/html/);
  assert.match(html.headers.get('content-security-policy')!, /default-src 'none'/);
  const body = await html.text();
  assert.match(body, /<script type="module" src="\/app.js">/);
  assert.doesNotMatch(body, /shop-workers-1/, 'no fleet data without the token');
  for (const asset of ['/app.js', '/render.js', '/style.css']) assert.equal((await fetch(`${p.base}${asset}`)).status, 200, asset);

  const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }];
  for (const headers of refused) {
    for (const path of ['/state', '/events']) {
      const r = await fetch(`${p.base}${path}`, { headers });
      assert.equal(r.status, 401, `${path} with ${JSON.stringify(headers)}`);
      assert.equal(await r.text(), 'a valid bearer token is required\n');
    }
  }
  const state = await fetch(`${p.base}/state`, { headers: auth });
  assert.equal(state.status, 200);
  assert.deepEqual(await state.json(), JSON.parse(JSON.stringify(view)));
  assert.equal((await fetch(`${p.base}/state`, { method: 'POST', headers: auth })).status, 405, 'read-only');
  assert.equal((await fetch(`${p.base}/nothing`, { headers: auth })).status, 404);
});

test('a view that cannot be made answers 500 without a stack trace', async (t) => {
  const p = await page(t, () => { throw new Error('boom at secret/place.ts:1'); });
  const r = await fetch(`${p.base}/state`, { headers: auth });
  assert.equal(r.status, 500);
  assert.doesNotMatch(await r.text(), /boom|\.ts|at /);
});

test('/events sends the view, then the view again when it changed, throttled, and nothing when it did not', async (t) => {
  let observed = 1;
  let made = 0;
  const p = await page(t, () => { made++; return fleetView({ status: status('shop-workers-1', observed) }); }, { throttleMs: 300 });
  const events = await subscribe(p.base, t);
  const first = await within(events.next(), 5000, 'first snapshot');
  assert.equal(first?.event, 'snapshot');
  assert.equal(first.data.clusters[0]!.nodes[0]!.observedGeneration, 1);

  // Ten changes in a burst: one push at the end of the throttle window, with the newest view.
  made = 0;
  for (let i = 0; i < 10; i++) { observed = 2 + i; p.changed(); }
  const second = await within(events.next(), 5000, 'the changed snapshot');
  assert.equal(second?.data.clusters[0]!.nodes[0]!.observedGeneration, 11);
  assert.equal(made, 1, 'the burst made the view once');

  // Said changed, but the view is the same: nothing is sent.
  p.changed();
  const silent = await within(events.next(), 1000, 'event').then(() => 'sent', () => 'nothing');
  assert.equal(silent, 'nothing');
});

test('a subscriber that joins while nobody watched still gets the next change', async (t) => {
  let observed = 1;
  const p = await page(t, () => fleetView({ status: status('n1', observed) }));
  const first = await subscribe(p.base, t);
  assert.equal((await first.next())?.data.clusters[0]!.nodes[0]!.observedGeneration, 1);
  observed = 2; p.changed();
  assert.equal((await within(first.next(), 5000, 'the change'))?.data.clusters[0]!.nodes[0]!.observedGeneration, 2);
  first.abort();
  await new Promise((r) => setTimeout(r, 100));
  observed = 1; p.changed(); // nobody watches: nothing is made or sent
  await new Promise((r) => setTimeout(r, 200));
  const second = await subscribe(p.base, t);
  assert.equal((await second.next())?.data.clusters[0]!.nodes[0]!.observedGeneration, 1);
  observed = 2; p.changed(); // the same view as the last one pushed, but not as the one this subscriber has
  assert.equal((await within(second.next(), 5000, 'the change'))?.data.clusters[0]!.nodes[0]!.observedGeneration, 2);
});

test('the hostile values of a cluster and node come back escaped by the render.js the page loads', async (t) => {
  const hostile = fleetView({ status: status(HOSTILE, 1) });
  hostile.clusters[0]!.name = `</table><script>globalThis.pwned=2</script>`;
  const p = await page(t, () => hostile);
  const state = await (await fetch(`${p.base}/state`, { headers: auth })).json() as FleetView;
  assert.equal(state.clusters[0]!.nodes[0]!.name, HOSTILE, 'JSON carries the value as it is');
  // The served file, imported as the browser imports it.
  const source = await (await fetch(`${p.base}/render.js`)).text();
  const { render } = await import(`data:text/javascript,${encodeURIComponent(source)}`) as { render(v: FleetView): string };
  const html = render(state);
  assert.doesNotMatch(html, /<img|<script|<\/table><script|onerror="/);
  assert.match(html, /&lt;img src=x onerror=&quot;globalThis\.pwned=1&quot;&gt;&amp;&#39;&#96;/);
  assert.match(html, /data-node="&lt;\/table&gt;&lt;script&gt;globalThis\.pwned=2&lt;\/script&gt;\/&lt;img/);
  // The markup's own structure is intact: one node row, the tables opened as often as closed.
  assert.equal(html.match(/<tr class="node"/g)?.length, 1);
  assert.equal(html.match(/<table/g)?.length, html.match(/<\/table>/g)?.length);
});

test('subscribers are bounded, and close() ends their streams', async (t) => {
  const p = await page(t, () => fleetView({ status: status('n1', 1) }), { maxSubscribers: 2 });
  const a = await subscribe(p.base, t);
  const b = await subscribe(p.base, t);
  await a.next();
  await b.next();
  const third = await fetch(`${p.base}/events`, { headers: auth });
  assert.equal(third.status, 503);
  assert.equal(third.headers.get('retry-after'), '10');
  await third.text();
  // A subscriber that leaves frees its place.
  a.abort();
  let again: Response | undefined;
  for (let i = 0; i < 50 && again?.status !== 200; i++) {
    await again?.body?.cancel();
    await new Promise((r) => setTimeout(r, 50));
    again = await fetch(`${p.base}/events`, { headers: auth });
  }
  assert.equal(again?.status, 200);
  await again!.body!.cancel();
  await p.close();
  assert.equal(await within(b.next(), 5000, 'end of stream'), undefined, 'the stream ended on close');
});

test('herd coordinator serves its refused commit on the status page, the token in a 0600 file it removes on exit', async (t) => {
  const dirs: string[] = [];
  t.after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });
  const temp = async (prefix: string) => { const d = await mkdtemp(join(tmpdir(), prefix)); dirs.push(d); return d; };
  const repo = await temp('herd-repo-');
  await mkdir(join(repo, 'clusters'));
  await writeFile(join(repo, 'clusters/bad.yaml'), 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: [\n');
  const state = await temp('herd-state-');
  const child = spawn(process.execPath, [HERD, 'coordinator', '--repo', repo, '--listen', '127.0.0.1:0', '--state', state, '--interval', '1s',
    '--metrics', 'off', '--status-page', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HERD_LOG_LEVEL: 'info' } });
  const exited = once(child, 'exit');
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } });
  let log = '';
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  const lines = () => log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  let served: Record<string, unknown> | undefined;
  for (let i = 0; i < 300 && !served; i++) {
    assert.equal(child.exitCode, null, log);
    served = lines().find((l) => l.msg === 'serving the status page');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(served, `the log says where the page is: ${log}`);
  const tokenFile = served.tokenFile as string;
  assert.equal(tokenFile, join(state, 'status-page.token'));
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  const token = (await readFile(tokenFile, 'utf8')).trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!log.includes(token), 'the token is never logged');

  let view: FleetView | undefined;
  for (let i = 0; i < 100 && !view?.refused; i++) {
    view = await (await fetch(`${served.url as string}state`, { headers: { authorization: `Bearer ${token}` } })).json() as FleetView;
    if (!view.refused) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(view?.refused?.errors[0]?.file, 'clusters/bad.yaml');
  assert.ok(view.refused.errors[0]!.line > 0, 'the error is located');
  assert.equal(view.coordinator.running, true);
  assert.equal((await fetch(`${served.url as string}state`)).status, 401);
  // herd status reads the same model: its JSON has the page's view.
  const cli = spawnSync(process.execPath, [HERD, 'status', repo, '--state', state, '--output', 'json'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const printed = (JSON.parse(cli.stdout) as { view: FleetView }).view;
  assert.deepEqual(printed.refused, view.refused);
  assert.deepEqual(printed.coordinator, view.coordinator);

  child.kill('SIGTERM');
  await exited;
  await assert.rejects(stat(tokenFile), { code: 'ENOENT' }, 'the token file goes with the process');
  // With no coordinator, herd status prints its table from the recorded round through the same view.
  const table = spawnSync(process.execPath, [HERD, 'status', repo, '--state', state], { encoding: 'utf8' });
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^refused: +the working tree does not validate; the state above stays in force:\n  clusters\/bad\.yaml:\d+:\d+: /m);
});

test('loopback is the default; another address is served only when asked, with a warning', async (t) => {
  assert.deepEqual(['127.0.0.1', '127.3.2.1', '::1', 'localhost', '0.0.0.0', '::', '10.0.0.1', 'example.com'].map(isLoopback),
    [true, true, true, true, false, false, false, false]);
  const lines: string[] = [];
  const logger = createLogger({ name: 'test', level: 'info', destination: { write: (line: string) => { lines.push(line); } } });
  const served = await serveStatusPage({ host: '0.0.0.0', port: 0, token: TOKEN, view: () => fleetView({ status: undefined }), logger });
  assert.ok(served);
  t.after(() => served.close());
  assert.ok(lines.some((l) => /beyond this machine over plain HTTP/.test(l)), lines.join(''));
  assert.ok(!lines.some((l) => l.includes(TOKEN)), 'the token is not logged');
});

test('--status-page takes HOST:PORT or off; anything else is a usage error, not a stack trace', async () => {
  for (const command of ['coordinator', 'up']) {
    const args = command === 'up' ? ['up', '/nonexistent', '--status-page', 'everywhere'] : ['coordinator', '--repo', ROOT, '--listen', '127.0.0.1:0', '--state', '/tmp/x', '--status-page', 'everywhere'];
    const r = spawnSync(process.execPath, [HERD, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--status-page must be HOST:PORT or off, got "everywhere"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
