/**
 * herd-agent at rest on a real machine: installed by install-agent.sh, enrolled with a real
 * coordinator on the bridge, holding a converged assignment (10 pinned, held packages,
 * sysctls, swap off, a file, a running unit) and re-checking it every 30 s. RSS and CPU of
 * the agent's service are sampled over BENCH_IDLE_SECONDS (default 300). Targets
 * (herd's targets, docs/benchmarks.md): RSS < 60 MB, < 0.5 % of one core. BENCH_NODE_OPTIONS runs the agent with
 * those node flags, to compare V8 settings. Reports; never fails on a number.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { TestWorld, type Machine } from '../world/index.js';
import { eventually, MACHINE_POLL } from '../support.js';
import { buildAgentArtifact, copyArtifact, installFlags, runInstall, startBridgeCoordinator } from '../world/agent.js';
import { nodeSpec } from '../converge/spec.js';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 300);
const SAMPLE_MS = 5000;
const CLK_TCK = 100;

const afters: (() => Promise<void>)[] = [];
const hook = { after: (fn: () => Promise<void>) => { afters.push(fn); } };

/** The agent's RSS (kB) and CPU ticks: its own, and its reaped children's (apt, dpkg-query…). */
async function sample(m: Machine, pid: number) {
  const [stat, status] = await Promise.all([
    m.exec.run('cat', [`/proc/${pid}/stat`]),
    m.exec.run('cat', [`/proc/${pid}/status`]),
  ]);
  const fields = stat.stdout.slice(stat.stdout.lastIndexOf(')') + 2).split(' ').map(Number);
  // After "pid (comm) ", field 3 (state) is index 0: utime=14, stime=15, cutime=16, cstime=17.
  const own = fields[11]! + fields[12]!;
  const children = fields[13]! + fields[14]!;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status.stdout)?.[1]);
  return { own, children, rssKb, at: performance.now() };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

try {
  const artifact = await buildAgentArtifact(hook);
  const world = await TestWorld.start(hook, { machines: 1 });
  const [m] = world.machines as [Machine];
  const names = Array.from({ length: 10 }, (_, i) => `herd-idle-${i + 1}`);
  await world.repo.add(...(await Promise.all(names.map((name) => world.repo.buildPackage({ name, version: '1.0' })))));
  const coordinator = await startBridgeCoordinator(hook, world);
  const ref = { cluster: 'idle', node: m.name };
  await copyArtifact(m, artifact);
  if (process.env.BENCH_NODE_OPTIONS) {
    // To compare V8 settings: a drop-in the unit picks up when install-agent.sh starts it.
    const dropIn = join(m.rootfs, 'etc/systemd/system/herd-agent.service.d');
    await mkdir(dropIn, { recursive: true });
    await writeFile(join(dropIn, 'bench.conf'), `[Service]\nEnvironment=NODE_OPTIONS=${process.env.BENCH_NODE_OPTIONS}\n`);
  }
  const flags = await installFlags(coordinator, ref, m);
  let started = performance.now();
  await runInstall(m, flags);
  const installMs = performance.now() - started;
  await eventually(() => coordinator.nodes.isConnected(ref), 'the agent to connect', MACHINE_POLL);
  const enrolledMs = performance.now() - started;
  started = performance.now();
  await runInstall(m, flags);
  const noopInstallMs = performance.now() - started;

  const generation = coordinator.nodes.assign(ref, nodeSpec({
    hostname: m.name, cluster: 'idle', swapOff: true,
    sysctls: { 'net.core.somaxconn': '1024' },
    aptSources: [{ name: 'herd-world', line: world.repo.sourceLine, key: '' }],
    packages: names.map((name) => ({ name, version: '1.0', hold: true, absent: false, allowDowngrade: false })),
    files: [{ path: '/etc/herd-idle.conf', content: 'x = 1\n', mode: 0o644, owner: 'root', group: 'root' }],
    units: [{ name: 'herd-idle.service', content: '[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n', enabled: true, running: true, restartOn: [] }],
  }));
  await eventually(() => Number(coordinator.nodes.sessions('idle').find((s) => s.nodeName === m.name)?.observedGeneration ?? 0) >= generation,
    'the agent to converge its assignment', { ...MACHINE_POLL, timeoutMs: 180_000 });

  const pid = Number((await m.exec.run('systemctl', ['show', '-P', 'MainPID', 'herd-agent.service'])).stdout.trim());
  const first = await sample(m, pid);
  const rss: number[] = [first.rssKb];
  let last = first;
  while (last.at - first.at < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    last = await sample(m, pid);
    rss.push(last.rssKb);
  }
  const seconds = (last.at - first.at) / 1000;
  const pct = (ticks: number) => ((ticks / CLK_TCK / seconds) * 100).toFixed(2);
  console.log(`host: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}`);
  console.log(`install-agent.sh: first run ${installMs.toFixed(0)} ms (connected ${enrolledMs.toFixed(0)} ms after it began), second run (no change) ${noopInstallMs.toFixed(0)} ms`);
  if (process.env.BENCH_NODE_OPTIONS) console.log(`NODE_OPTIONS=${process.env.BENCH_NODE_OPTIONS}`);
  console.log(`agent idle over ${seconds.toFixed(0)} s (${rss.length} samples, assignment converged, rounds every 30 s):`);
  console.log(`  RSS median ${(median(rss) / 1024).toFixed(1)} MB, max ${(Math.max(...rss) / 1024).toFixed(1)} MB`);
  console.log(`  CPU agent process ${pct(last.own - first.own)} % of one core; with the commands it ran ${pct(last.own - first.own + last.children - first.children)} %`);
} finally {
  for (const fn of afters.reverse()) await fn().catch((e: unknown) => console.error(e));
}
