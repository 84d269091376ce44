/**
 * Runs inside a machine, as the agent would: the engine with the real executor and the
 * machine's own filesystem. Usage: node converge-noop.mjs SPEC_JSON ROUNDS
 * Prints {"durationsMs": [...], "steps": {STEP: [...]}, "changed": N} on stdout.
 */
import { readFileSync } from 'node:fs';
import { createEngine } from '@herd/converge';
import { createExecutor, nodeFileSystem, silentLogger, systemClock } from '@herd/sys';

const [specPath, rounds] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath!, 'utf8'));
const engine = createEngine({ executor: createExecutor(), fs: nodeFileSystem(), logger: silentLogger(), clock: systemClock, stateDir: '/var/lib/herd' });
const durationsMs: number[] = [];
const steps: Record<string, number[]> = {};
let changed = 0;
for (let i = 0; i < Number(rounds); i++) {
  const started = performance.now();
  const report = await engine.round(spec);
  durationsMs.push(performance.now() - started);
  if (report.changed || !report.converged) changed++;
  for (const [step, ms] of Object.entries(report.stepDurationsMs ?? {})) (steps[step] ??= []).push(ms);
}
process.stdout.write(`${JSON.stringify({ durationsMs, steps, changed })}\n`);
