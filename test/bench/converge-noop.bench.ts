/**
 * A no-op converge round on a real machine with 20 pinned, held packages (plus sysctls, a
 * modules file, swap off, a file and a running unit): the round the agent repeats every 30 s.
 * Measured two ways: the engine inside the machine with the real executor and filesystem
 * (as the agent runs), and the engine on the host reaching in through nsenter (as the
 * machine tests run it). Reports medians; never fails on a number.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { silentLogger, systemClock } from '@herd/sys';
import { createEngine } from '@herd/converge';
import { TestWorld } from '../world/index.js';
import { machineFileSystem } from '../converge/machine-fs.js';
import { nodeSpec } from '../converge/spec.js';

const PACKAGES = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { rounds: values.length, median: at(0.5), p90: at(0.9), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

const fmt = (s: ReturnType<typeof stats>) =>
  `median ${s.median.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms, min ${s.min.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (${s.rounds} rounds)`;

const world = await TestWorld.start(undefined, { machines: 1 });
try {
  const machine = world.machines[0]!;
  const names = Array.from({ length: PACKAGES }, (_, i) => `herd-bench-${String(i + 1).padStart(2, '0')}`);
  await world.repo.add(...(await Promise.all(names.map((name) => world.repo.buildPackage({ name, version: '1.0-1' })))));
  const spec = nodeSpec({
    hostname: 'bench',
    swapOff: true,
    kernelModules: ['overlay', 'br_netfilter'],
    sysctls: { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '1024', 'net.ipv4.conf.all.rp_filter': '2' },
    aptSources: [{ name: 'herd-world', line: world.repo.sourceLine, key: '' }],
    packages: names.map((name) => ({ name, version: '1.0-1', hold: true, absent: false, allowDowngrade: false })),
    files: [{ path: '/etc/herd-bench/app.conf', content: 'x = 1\n', mode: 0o644, owner: 'root', group: 'root' }],
    units: [{ name: 'herd-bench.service', content: '[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n', enabled: true, running: true, restartOn: ['/etc/herd-bench/app.conf'] }],
  });

  // Converge once from the host; every later round has nothing to do.
  const host = createEngine({ executor: machine.exec, fs: machineFileSystem(machine.exec), logger: silentLogger(), clock: systemClock, stateDir: '/var/lib/herd' });
  const first = await host.round(spec);
  if (!first.converged) throw new Error(`the first round did not converge: ${first.error}`);

  // Inside the machine: a bundled runner and this host's node binary (same Debian).
  const dir = join(machine.rootfs, 'opt/herd-bench');
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [fileURLToPath(new URL('./converge-noop.inside.ts', import.meta.url))],
    outfile: join(dir, 'converge-noop.mjs'),
    bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning',
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
  });
  copyFileSync(process.execPath, join(dir, 'node'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  const run = await machine.exec.run('/opt/herd-bench/node', ['/opt/herd-bench/converge-noop.mjs', '/opt/herd-bench/spec.json', String(ROUNDS + 5)], { timeoutMs: 600_000 });
  const inside = JSON.parse(run.stdout) as { durationsMs: number[]; steps: Record<string, number[]>; changed: number };
  const insideStats = stats(inside.durationsMs.slice(5));

  const viaNsenter: number[] = [];
  let hostChanged = 0;
  for (let i = 0; i < Math.min(ROUNDS, 100) + 5; i++) {
    const started = performance.now();
    const report = await host.round(spec);
    if (i >= 5) viaNsenter.push(performance.now() - started);
    if (report.changed || !report.converged) hostChanged++;
  }
  const hostStats = stats(viaNsenter);

  console.log(`converge no-op round, ${PACKAGES} pinned held packages, 1 unit, 3 sysctls, 2 modules, 1 file`);
  console.log(`  engine inside the machine (as the agent): ${fmt(insideStats)}; rounds that changed something: ${inside.changed}`);
  console.log(`  inside, median per step: ${Object.entries(inside.steps).map(([step, ms]) => `${step} ${stats(ms.slice(5)).median} ms`).join(', ')}`);
  console.log(`  engine on the host through nsenter:       ${fmt(hostStats)}; rounds that changed something: ${hostChanged}`);
  console.log(`  target: < 150 ms`);
} finally {
  await world.destroy();
}
