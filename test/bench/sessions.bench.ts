// Sessions held: simulated agents (real gRPC streams over real mTLS, one connection each,
// 1,250 per child process) join one coordinator in steps; at each step the coordinator's
// own RSS and CPU are measured over two heartbeat periods (heartbeats every 10 s).
// Bounded: a step that does not connect within 120 s ends the run and reports what it reached.
// Usage: npm run bench -- test/bench/sessions.bench.ts   (HERD_BENCH_SESSION_STEPS=1000,2500,5000,7500,10000)
import { Fleet, machine, mib } from './fleet/fleet.js';

const steps = (process.env.HERD_BENCH_SESSION_STEPS ?? '1000,2500,5000,7500,10000').split(',').map(Number);
const HOLD_MS = 25_000;
console.log(`sessions benchmark on ${machine()}; heartbeats every 10 s; held ${HOLD_MS / 1000} s per step`);
console.log('| agents started | connected | time to connect | reachable after hold | coordinator RSS | heap used | coordinator CPU while holding |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const fleet = await Fleet.start();
let current = 0;
try {
  for (const step of steps) {
    const started = Date.now();
    await fleet.addAgents(step - current);
    current = step;
    const joined = await fleet.waitConnected(step, 120_000);
    const seconds = (Date.now() - started) / 1000;
    await fleet.stats(); // starts the CPU measurement window
    await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
    const held = await fleet.stats();
    console.log(`| ${step} | ${joined.connected} | ${seconds.toFixed(0)} s | ${held.reachable} | ${mib(held.rss)} | ${mib(held.heapUsed)} | ${held.cpuPercent.toFixed(1)} % of one core |`);
    const { refused, failedHandshakes } = held.door;
    console.log(`  front door so far: ${refused} refused at once, ${failedHandshakes} handshakes failed or waited too long`);
    if (joined.connected < step) {
      console.log(`stopped: only ${joined.connected} of ${step} connected within 120 s`);
      break;
    }
  }
} finally {
  await fleet.close();
}
