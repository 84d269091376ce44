// A real Prometheus (Debian's package, its own config, storage and loopback port) scrapes a
// coordinator and agents, loads the example alerting rules of docs/prometheus/, and the test
// reads the series back through Prometheus' HTTP API. Scraped: a coordinator in this process
// (a real gRPC server) with a real herd-agent process and an Agent in this process connected
// to it, and a `herd coordinator` process on a repository that does not validate. The
// in-process Agent's converge engine is a fake: the real one would change this host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, AgentMetrics, AgentState, enroll } from '@herd/agent';
import type { ConvergeEngine, RoundReport } from '@herd/converge';
import { createLogger, MetricsRegistry, nodeFileSystem, serveMetrics, silentLogger, systemClock, type MetricsServer } from '@herd/sys';
import { createToken, LogCapture, startTestCoordinator, type TestCoordinator } from '../coordinator/harness.js';
import { eventually } from '../support.js';

const ROOT = join(import.meta.dirname, '../..');
const HERD = join(ROOT, 'packages/cli/dist/main.js');
const AGENT = join(ROOT, 'packages/agent/dist/main.js');
const RULES = join(ROOT, 'docs/prometheus/herd-alerts.yml');

/** Converges at once and reports one drift correction per round (the real engine changes the host). */
class FakeEngine implements ConvergeEngine {
  rounds = 0;
  async round(): Promise<RoundReport> {
    this.rounds++;
    return {
      conditions: [{ type: 'Sysctl', status: 'True', reason: 'DriftCorrected', message: '' }],
      drift: [{ step: 'Sysctl', item: 'net.ipv4.ip_forward', found: '0', set: '1', time: '' }],
      converged: true, changed: true, rebootRequired: false, durationMs: 7, stepDurationsMs: { Sysctl: 7 },
    };
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A process whose JSON log lines on stderr are waited for. */
function start(args: string[], t: { after(fn: () => unknown): void }) {
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HERD_LOG_LEVEL: 'info' } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = once(child, 'exit');
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } });
  return {
    log: (msg: string) => eventually(() => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${err}`);
      return err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);
    }, `"${msg}" from ${args[0]}`, { timeoutMs: 15_000 }),
  };
}

interface Sample { metric: Record<string, string>; value: [number, string] }

test('Prometheus scrapes the coordinators and agents, finds every series, and loads the example alerts', async (t) => {
  // Undone last first: processes and servers, then the directories they used.
  const cleanups: (() => unknown)[] = [];
  const later = { after: (fn: () => unknown) => { cleanups.unshift(fn); } };
  t.after(async () => { for (const fn of cleanups) await fn(); });
  const dirs: string[] = [];
  later.after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });
  const temp = async (prefix: string) => { const d = await mkdtemp(join(tmpdir(), prefix)); dirs.push(d); return d; };

  // The rules file is valid as promtool reads it, and its own unit tests pass.
  const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const unit = spawnSync('promtool', ['test', 'rules', 'herd-alerts.test.yml'], { cwd: join(ROOT, 'docs/prometheus'), encoding: 'utf8' });
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);

  // A coordinator in this process, its registry served as `herd coordinator` serves its own.
  const registry = new MetricsRegistry();
  const c: TestCoordinator = await startTestCoordinator({ metrics: registry, heartbeatTimeoutMs: 60_000 });
  later.after(() => c.close());
  const coordinatorMetrics = (await serveMetrics(registry, '127.0.0.1', 0, silentLogger()))!;
  later.after(() => coordinatorMetrics.close());

  // A real herd-agent process, enrolled with a token as an operator does, serving its metrics on a port it picks.
  const agentDir = await temp('herd-agent-');
  const processToken = await createToken(c, { cluster: 'shop', nodeName: 'box-1' });
  await writeFile(join(agentDir, 'token'), `${processToken.token}\n`, { mode: 0o600 });
  const agentProcess = start([AGENT, '--coordinator', c.address, '--token-file', join(agentDir, 'token'), '--ca-hash', processToken.caHash,
    '--state', join(agentDir, 'state'), '--heartbeat', '1s', '--metrics', '127.0.0.1:0'], later);
  const agentProcessPort = (await agentProcess.log('serving metrics')).port as number;

  // An Agent in this process, which will be assigned a spec and converge it (with the fake engine).
  const inProcessDir = await temp('herd-agent-');
  const token = await createToken(c, { cluster: 'shop', nodeName: 'box-2' });
  const creds = await enroll({ coordinator: c.address, token: token.token, caHash: token.caHash });
  const state = new AgentState(nodeFileSystem(), inProcessDir);
  await state.saveCredentials(creds);
  const agentMetrics = new AgentMetrics();
  const engine = new FakeEngine();
  const agent = new Agent({
    credentials: creds, state, engine, clock: systemClock, logger: createLogger({ name: 'herd-agent', destination: new LogCapture() }),
    facts: async () => ({ os: 'Debian', osVersion: '12', kernel: 'test', arch: 'x64', cpus: 2, memoryBytes: 1, hostname: 'box-2', addresses: [] }),
    intervalMs: 60_000, heartbeatMs: 200, metrics: agentMetrics,
  });
  const stopAgent = new AbortController();
  const running = agent.run(stopAgent.signal);
  later.after(async () => { stopAgent.abort(); await running; });
  const inProcessMetrics: MetricsServer = (await serveMetrics(agentMetrics.registry, '127.0.0.1', 0, silentLogger()))!;
  later.after(() => inProcessMetrics.close());

  // `herd coordinator` on a repository whose only cluster file does not parse: it refuses the commit.
  const repo = await temp('herd-repo-');
  await mkdir(join(repo, 'clusters'));
  await writeFile(join(repo, 'clusters/bad.yaml'), 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: [\n');
  const fleet = start([HERD, 'coordinator', '--repo', repo, '--listen', '127.0.0.1:0', '--state', await temp('herd-state-'),
    '--interval', '1s', '--metrics', '127.0.0.1:0'], later);
  const fleetPort = (await fleet.log('serving metrics')).port as number;

  // Prometheus, with this test's config, storage and port; stopped by its PID.
  const promDir = await temp('herd-prometheus-');
  const promPort = await freePort();
  const target = (port: number) => `'127.0.0.1:${port}'`;
  await writeFile(join(promDir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    `rule_files: ['${RULES}']`,
    'scrape_configs:',
    `  - { job_name: coordinator, static_configs: [{ targets: [${target(coordinatorMetrics.port)}] }] }`,
    `  - { job_name: fleet, static_configs: [{ targets: [${target(fleetPort)}] }] }`,
    `  - { job_name: agent-process, static_configs: [{ targets: [${target(agentProcessPort)}] }] }`,
    `  - { job_name: agent, static_configs: [{ targets: [${target(inProcessMetrics.port)}] }] }`,
    '',
  ].join('\n'));
  const prometheus = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promLog = '';
  prometheus.stderr.on('data', (d: Buffer) => { promLog += d.toString(); });
  const promExited = once(prometheus, 'exit');
  later.after(async () => { if (prometheus.exitCode === null) { process.kill(prometheus.pid!, 'SIGTERM'); await promExited; } });
  const api = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${promPort}${path}`);
    const body = await response.json() as { status: string; data: unknown; error?: string };
    assert.equal(body.status, 'success', `${path}: ${body.error}`);
    return body.data;
  };
  const query = async (expr: string) => ((await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { result: Sample[] }).result;
  /** The single value of `expr` once `ok` holds for it (Prometheus scrapes every second). */
  const value = (expr: string, ok: (v: number) => boolean) => eventually(async () => {
    if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
    const result = await query(expr).catch(() => []);
    const v = result.length === 1 ? Number(result[0]!.value[1]) : NaN;
    return ok(v) ? { v } : undefined;
  }, `Prometheus to see ${expr}`, { timeoutMs: 20_000 }).then((r) => r.v);

  await eventually(async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined))?.ok, 'Prometheus to be ready', { timeoutMs: 20_000 });
  assert.equal(await value('count(up == 1)', (v) => v === 4), 4, 'every target is up');

  // Agents connected: both of this test's, counted by the coordinator.
  assert.equal(await value('sum(herd_agents_connected{job="coordinator",cluster="shop"})', (v) => v === 2), 2);
  assert.equal(await value('herd_agent_connected{job="agent-process"}', (v) => v === 1), 1);

  // The fan-out histogram is there at 0, and counts the assignment once its agent acknowledged it.
  assert.equal(await value('herd_assignment_fanout_seconds_count{job="coordinator"}', (v) => v === 0), 0);
  const generation = c.coordinator.nodes.assign({ cluster: 'shop', node: 'box-2' }, { hostname: 'box-2', commit: 'abc123' });
  await eventually(() => c.coordinator.nodes.ackedGeneration({ cluster: 'shop', node: 'box-2' }) === generation, 'the ack');
  assert.equal(await value('herd_assignment_fanout_seconds_count{job="coordinator"}', (v) => v === 1), 1);
  assert.equal(await value('herd_assignment_fanout_seconds_bucket{job="coordinator",le="+Inf"}', (v) => v === 1), 1);
  const fanoutSum = await value('herd_assignment_fanout_seconds_sum{job="coordinator"}', (v) => v > 0);
  assert.ok(fanoutSum < 10, `fan-out on loopback took ${fanoutSum} s`);

  // The agent's round: counted, timed, and its drift correction named by step.
  await eventually(() => engine.rounds > 0, 'a converge round');
  assert.ok(await value('herd_agent_rounds_total{job="agent",result="converged"}', (v) => v >= 1) >= 1);
  assert.equal(await value('herd_agent_rounds_total{job="agent",result="failed"}', (v) => v === 0), 0);
  assert.ok(await value('herd_agent_round_duration_seconds_count{job="agent"}', (v) => v >= 1) >= 1);
  assert.ok(await value('herd_agent_drift_corrections_total{job="agent",step="Sysctl"}', (v) => v >= 1) >= 1);
  assert.equal(await value('herd_agent_observed_generation{job="agent"}', (v) => v === generation), generation);
  // The agent process was assigned nothing: it ran no round.
  assert.equal(await value('herd_agent_rounds_total{job="agent-process",result="converged"}', (v) => v === 0), 0);

  // The `herd coordinator` process refuses its commit, and the example alert for it is pending (it fires after 5 minutes).
  assert.equal(await value('herd_desired_state_refused{job="fleet"}', (v) => v === 1), 1);
  assert.ok(await value('herd_reconcile_last_round_timestamp_seconds{job="fleet"}', (v) => v > 0) > Date.now() / 1000 - 600);
  await eventually(async () => {
    const { alerts } = await api('/api/v1/alerts') as { alerts: { labels: Record<string, string>; state: string }[] };
    return alerts.find((a) => a.labels.alertname === 'HerdCommitRefused' && a.labels.job === 'fleet' && a.state === 'pending');
  }, 'the HerdCommitRefused alert to be pending', { timeoutMs: 20_000 });
  // Every example rule loaded and evaluates without error against the real series.
  type Rules = { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
  const rules = (await api('/api/v1/rules') as Rules).groups.flatMap((g) => g.rules);
  assert.deepEqual(rules.map((r) => r.name).sort(),
    ['HerdAgentRoundsFailing', 'HerdClusterUnhealthy', 'HerdCommitRefused', 'HerdNodesDisconnected', 'HerdRolloutHalted']);
  await eventually(async () => {
    return (await api('/api/v1/rules') as Rules).groups.flatMap((g) => g.rules).every((r) => r.health === 'ok');
  }, 'every rule to have been evaluated without error', { timeoutMs: 20_000 });
});
