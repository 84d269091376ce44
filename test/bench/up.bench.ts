// `herd up examples/local --exit-when-converged` from no machines to a Kubernetes cluster of 3
// Ready nodes (machines, agents, kubeadm init, two joins), the image, the agent artifact and
// the Kubernetes packages cached; then `herd down`. Reports the median of each phase.
// Run: npm run bench test/bench/up.bench.ts   (root; HERD_BENCH_RUNS, default 5)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { saveHostSysctls } from '../kubernetes/node.js';

const ROOT = resolve(import.meta.dirname, '../..');
const HERD = join(ROOT, 'packages/cli/dist/main.js');
const runs = Number(process.env.HERD_BENCH_RUNS ?? 5);
const state = mkdtempSync(join(tmpdir(), 'herd-bench-up-'));

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };
const herd = (...args: string[]) => spawnSync(process.execPath, [HERD, ...args, '--state', state], { cwd: ROOT, encoding: 'utf8' });

const samples: { total: number; converged: number; phases: Record<string, number> }[] = [];
// The kubelets change a few host-wide kernel settings; they are put back at the end.
const restoreSysctls = await saveHostSysctls();
try {
  // One warm-up: builds the agent artifact and the image if the cache lacks them.
  for (let i = 0; i <= runs; i++) {
    const up = herd('up', 'examples/local', '--exit-when-converged', '--timeout', '15m', '--output', 'json');
    if (up.status !== 0) throw new Error(`herd up failed: ${up.stderr.slice(-2000)}`);
    const result = JSON.parse(up.stdout) as { elapsedMs: number; convergedAfterMs: number; phases: Record<string, number> };
    if (i > 0) samples.push({ total: result.elapsedMs, converged: result.convergedAfterMs, phases: result.phases });
    const down = herd('down', 'examples/local');
    if (down.status !== 0) throw new Error(`herd down failed: ${down.stderr}`);
  }
} finally {
  herd('down', 'examples/local');
  rmSync(state, { recursive: true, force: true });
  await restoreSysctls();
}

const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
console.log(`machine: ${cpus().length} cores, ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free)`);
console.log(`herd up examples/local (3 machines), ${samples.length} runs, medians:`);
const seconds = (xs: number[]) => `${(median(xs) / 1000).toFixed(1)} s (min ${(Math.min(...xs) / 1000).toFixed(1)}, max ${(Math.max(...xs) / 1000).toFixed(1)})`;
console.log(`  command start to every node Ready: ${seconds(samples.map((s) => s.converged))}`);
console.log(`  whole command, including the orderly shutdown: ${seconds(samples.map((s) => s.total))}`);
for (const phase of Object.keys(samples[0]?.phases ?? {})) {
  console.log(`  ${phase}: ${(median(samples.map((s) => s.phases[phase] ?? 0)) / 1000).toFixed(1)} s`);
}
