/**
 * The machine layer's costs: booting a machine on the cached image until systemd runs,
 * stopping it, booting it again, destroying it; a 3-machine world from nothing; and, with
 * HERD_BENCH_IMAGE=1, building the image itself (debootstrap from the Debian mirror, about a
 * minute, into a temporary cache). Reports medians; never fails on a number.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, freemem, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createExecutor, createLogger } from '@herd/sys';
import { Bridge, Machine, ensureImage } from '@herd/nspawn';
import { TestWorld } from '../world/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const logger = createLogger({ name: 'bench', level: 'warn' });
const exec = createExecutor({ logger });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, performance.now() - started];
}
const report = (what: string, values: number[]) =>
  console.log(`${what.padEnd(34)} median ${median(values).toFixed(0)} ms  (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)}, n=${values.length})`);

console.log(`host: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free), kernel ${release()}`);

if (process.env.HERD_BENCH_IMAGE === '1') {
  const cacheDir = await mkdtemp(join(tmpdir(), 'herd-bench-image-'));
  try {
    const image = await ensureImage({ cacheDir, exec, logger });
    const size = (await exec.run('du', ['-sm', image.path])).stdout.split('\t')[0];
    console.log(`image build (debootstrap, once)     ${(image.durationMs / 1000).toFixed(1)} s, ${size} MB`);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

const image = await ensureImage({ exec, logger });
const dir = await mkdtemp(join(tmpdir(), 'herd-bench-machines-'));
const bridge = await Bridge.create({ exec, logger });
const boot: number[] = [], stop: number[] = [], reboot: number[] = [], destroy: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const name = `bench${bridge.index}-${i}`.slice(0, 12);
    const [machine, bootMs] = await timed(() => Machine.create({ name, image: image.path, dir: join(dir, name), bridge, host: 2 + i, exec, logger }));
    boot.push(bootMs);
    stop.push((await timed(() => machine.stop()))[1]);
    reboot.push((await timed(() => machine.start()))[1]);
    destroy.push((await timed(() => machine.destroy()))[1]);
  }
} finally {
  await bridge.destroy();
  await rm(dir, { recursive: true, force: true });
}
report('boot to running (new machine)', boot);
report('stop (orderly halt)', stop);
report('boot again (existing overlay)', reboot);
report('destroy (stop, unmount, remove)', destroy);

const worlds: number[] = [];
for (let i = 0; i < Math.min(RUNS, 3); i++) {
  const [world, ms] = await timed(() => TestWorld.start(undefined, { machines: 3 }));
  worlds.push(ms);
  await world.destroy();
}
report('TestWorld.start, 3 machines', worlds);
