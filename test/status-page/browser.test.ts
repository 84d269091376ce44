/// <reference lib="dom" />
// The status page in a real headless browser (Debian's chromium, driven by puppeteer-core),
// over two real agents installed in test-world machines and connected to a real coordinator
// on the bridge. The page must show what the view says, follow the agents live without a
// reload (an assignment converged, an agent stopped, a commit refused), show hostile
// repository text as text, and refuse a wrong token. Takes a screenshot: into docs/status-page.png
// with HERD_UPDATE_SCREENSHOT=1 (the README's), else beside the browser's profile.
// The recorded round (pools, Kubernetes actions and holds) is a fixture: a real one would
// start Kubernetes; the sessions, generations, commits and errors are the agents' own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { fleetView, type FleetStatus } from '@herd/reconciler';
import { newToken, serveStatusPage } from '@herd/status-page';
import { silentLogger } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';
import { eventually, MACHINE_POLL } from '../support.js';
import { buildAgentArtifact, copyArtifact, installFlags, runInstall, startBridgeCoordinator } from '../world/agent.js';

const ROOT = join(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const CLUSTER = 'shop';
const COMMIT = '3f2a9c1e4b7d8a6f5e0c1b2a3d4e5f6a7b8c9d0e';

function recorded(machines: Machine[]): FleetStatus {
  return {
    time: new Date().toISOString(), source: 'https://git.example.com/fleet.git', commit: COMMIT, orphans: [], converged: false,
    clusters: [{
      name: CLUSTER, provider: 'local', converged: false, reason: `waiting for ${machines.map((m) => m.name).join(', ')}`,
      pools: [{ name: 'control-plane', role: 'control-plane', desired: 1, machines: 1 }, { name: 'workers', role: 'worker', desired: 1, machines: 1 }],
      machines: machines.map((m, i) => ({
        name: m.name, pool: i === 0 ? 'control-plane' : 'workers', role: i === 0 ? 'control-plane' : 'worker', addresses: [m.address],
        state: 'running', agent: null, converged: false,
      })),
      kubernetes: {
        initialized: false, nodes: [], running: [`init ${machines[0]!.name}: the first control-plane node`],
        holds: [`join ${machines[1]!.name}: waits for the control plane to be initialized`],
      },
    }],
  };
}

/** The text of a node's row, cell by cell (class name → text). */
function nodeRow(page: Page, machine: Machine): Promise<Record<string, string> | undefined> {
  return page.evaluate((key) => {
    const row = [...document.querySelectorAll('tr.node')].find((r) => r.getAttribute('data-node') === key);
    return row ? Object.fromEntries([...row.querySelectorAll('td')].map((td, i) => [td.className || String(i), td.textContent ?? ''])) : undefined;
  }, `${CLUSTER}/${machine.name}`);
}

test('the status page shows the fleet in a real browser and follows it live', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs it (scripts/host-packages.txt), or apt-get install chromium`);
  const artifact = await buildAgentArtifact(t);
  const world = await TestWorld.start(t, { machines: 2 });
  const machines = world.machines as [Machine, Machine];
  const coordinator = await startBridgeCoordinator(t, world);
  await Promise.all(machines.map(async (m) => {
    const flags = await installFlags(coordinator, { cluster: CLUSTER, node: m.name }, m);
    await copyArtifact(m, artifact);
    await runInstall(m, flags);
  }));
  await eventually(() => machines.every((m) => coordinator.nodes.isConnected({ cluster: CLUSTER, node: m.name })), 'both agents to connect', MACHINE_POLL);

  // The page over the coordinator's live sessions, pushed again on every session event as `herd coordinator` does.
  const status = recorded(machines);
  const token = newToken();
  const served = await serveStatusPage({
    host: '127.0.0.1', port: 0, token, logger: silentLogger(), throttleMs: 200,
    view: () => fleetView({ status, sessions: coordinator.nodes.sessions(CLUSTER), coordinator: { pid: process.pid, port: coordinator.port } }),
  });
  assert.ok(served);
  t.after(() => served.close());
  const changed = () => served.changed();
  for (const event of ['hello', 'status', 'ack', 'disconnect'] as const) coordinator.nodes.on(event, changed);
  t.after(() => { for (const event of ['hello', 'status', 'ack', 'disconnect'] as const) coordinator.nodes.off(event, changed); });

  const profile = await mkdtemp(join(tmpdir(), 'herd-chromium-'));
  let launched: Browser | undefined;
  // Stopped by its PID, whatever happened: the browser and every process it started; its
  // profile removed only then (removed first, the closing browser wrote it again).
  t.after(async () => {
    const pid = launched?.process()?.pid;
    await launched?.close().catch(() => {});
    if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    await rm(profile, { recursive: true, force: true });
  });
  const browser: Browser = launched = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: profile,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--no-first-run', '--disable-extensions'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1500, height: 820 });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  page.on('request', (r) => { if (!r.url().startsWith(served.url)) problems.push(`request elsewhere: ${r.url()}`); });

  await page.goto(`${served.url}#token=${token}`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', { timeout: 15_000 });
  assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
  // A mark a reload would wipe: every later update must come through the stream.
  await page.evaluate(() => { (window as unknown as { herdMark: number }).herdMark = 42; });

  // What the view says, as the browser shows it.
  const text = async () => page.evaluate(() => document.getElementById('fleet')!.innerText);
  let shown = await text();
  assert.match(shown, new RegExp(`commit ${COMMIT}`));
  assert.match(shown, /control-plane\s+control-plane\s+1 of 1/);
  assert.match(shown, new RegExp(`init ${machines[0].name}: the first control-plane node`), 'running actions');
  assert.match(shown, /waits for the control plane to be initialized/, 'holds');
  for (const m of machines) {
    const row = await nodeRow(page, m);
    assert.equal(row?.name, m.name);
    assert.equal(row?.agent, 'connected');
    assert.equal(row?.generation, '0/0');
    assert.equal(row?.converged, 'no');
    assert.match(row?.version ?? '', /^\d+\.\d+\.\d+/, 'the agent\'s own version, from its hello');
  }

  // An assignment to the first machine: its real agent converges it; the page follows.
  const generation = coordinator.nodes.assign({ cluster: CLUSTER, node: machines[0].name },
    { hostname: machines[0].name, commit: COMMIT, files: [{ path: '/etc/herd-status-page-test', content: 'hello\n' }] });
  await page.waitForFunction((key, want) => [...document.querySelectorAll('tr.node')]
    .find((r) => r.getAttribute('data-node') === key)?.querySelector('.generation')?.textContent === want,
  { timeout: 60_000 }, `${CLUSTER}/${machines[0].name}`, `${generation}/${generation}`);
  const converged = await nodeRow(page, machines[0]);
  assert.equal(converged?.converged, 'yes');
  assert.equal(converged?.commit, COMMIT.slice(0, 12), 'the commit the agent reports for its round');
  assert.match(converged?.conditions ?? '', /Files=True/);
  assert.equal(converged?.error, '');

  // The second machine is given a package that does not exist: its agent's error shows.
  coordinator.nodes.assign({ cluster: CLUSTER, node: machines[1].name },
    { hostname: machines[1].name, commit: COMMIT, packages: [{ name: 'herd-no-such-package', version: '1.0' }] });
  await page.waitForFunction((key) => ([...document.querySelectorAll('tr.node')]
    .find((r) => r.getAttribute('data-node') === key)?.querySelector('.error')?.getAttribute('title') ?? '').includes('Unable to locate package herd-no-such-package'),
  { timeout: 90_000 }, `${CLUSTER}/${machines[1].name}`);

  const failing = await nodeRow(page, machines[1]);
  assert.match(failing?.error ?? '', /^Packages: apt-get install .*…$/, 'the first line, cut short');
  assert.match(failing?.conditions ?? '', /Packages=False/);
  assert.equal(failing?.converged, 'no');

  // A refused commit with its located errors, as a round reports it.
  status.rejected = { commit: 'b7e1d2c3a4f5061728394a5b6c7d8e9f0a1b2c3d', errors: [
    { file: 'clusters/shop.yaml', line: 12, column: 17, field: 'spec.pools[1].replicas', message: 'must be an integer ≥ 0, got "three"' },
  ] };
  served.changed();
  await page.waitForFunction(() => document.querySelector('.refused') !== null, { timeout: 10_000 });
  shown = await text();
  assert.match(shown, /Refused: commit b7e1d2c3a4f5061728394a5b6c7d8e9f0a1b2c3d does not validate/);
  assert.match(shown, /clusters\/shop\.yaml:12:17 spec\.pools\[1\]\.replicas must be an integer ≥ 0, got "three"/);
  // The README's screenshot changes only when asked: a test run leaves the tree as it was.
  const shot = process.env.HERD_UPDATE_SCREENSHOT === '1' ? join(ROOT, 'docs/status-page.png') : join(profile, 'status-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot), 'the screenshot was written');

  // The first machine's agent stops: the page says so.
  await machines[0].exec.run('systemctl', ['stop', 'herd-agent.service']);
  await page.waitForFunction((key) => [...document.querySelectorAll('tr.node')]
    .find((r) => r.getAttribute('data-node') === key)?.querySelector('.agent')?.textContent === 'disconnected',
  { timeout: 30_000 }, `${CLUSTER}/${machines[0].name}`);

  // Hostile repository text is shown as text: no element made, no script run.
  const hostile = '<img src=x onerror="window.herdPwned=1"><script>window.herdPwned=2</script>';
  status.rejected = { errors: [{ file: 'clusters/<b>x</b>.yaml', line: 1, column: 1, field: '', message: `unknown field "${hostile}"` }] };
  served.changed();
  await page.waitForFunction(() => document.querySelector('.refused h2')?.textContent?.includes('the working tree'), { timeout: 10_000 });
  shown = await text();
  assert.ok(shown.includes(`unknown field "${hostile}"`), shown);
  assert.ok(shown.includes('clusters/<b>x</b>.yaml:1:1'));
  assert.equal(await page.evaluate(() => document.querySelectorAll('#fleet img, #fleet script, #fleet b').length), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { herdPwned?: number }).herdPwned), undefined);

  assert.equal(await page.evaluate(() => (window as unknown as { herdMark?: number }).herdMark), 42, 'no reload happened');
  assert.deepEqual(problems, []);

  // Another tab with a wrong token is refused, and says so.
  const other = await browser.newPage();
  await other.goto(`${served.url}#token=not-the-token`, { waitUntil: 'domcontentloaded' });
  await other.waitForFunction(() => document.getElementById('connection')?.textContent === 'token refused', { timeout: 10_000 });
  assert.doesNotMatch(await other.evaluate(() => document.body.innerText), new RegExp(machines[0].name));
});
