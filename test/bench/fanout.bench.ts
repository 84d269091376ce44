// Fan-out latency: a new assignment for every connected agent, timed until each one has
// acknowledged it. Agents are real gRPC clients over mTLS in child processes.
// Usage: npm run bench -- test/bench/fanout.bench.ts   (HERD_BENCH_FANOUT_SIZES=100,1000, HERD_BENCH_ROUNDS=10)
import { Fleet, machine, median, percentile } from './fleet/fleet.js';

const sizes = (process.env.HERD_BENCH_FANOUT_SIZES ?? '100,1000').split(',').map(Number);
const rounds = Number(process.env.HERD_BENCH_ROUNDS ?? 10);
console.log(`fan-out benchmark on ${machine()}; ${rounds} rounds per size; median over rounds`);
console.log('| agents | p50 ack | p99 ack | last ack (all acked) | assign() to all | acked |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const size of sizes) {
  const fleet = await Fleet.start();
  try {
    await fleet.addAgents(size, { perProcess: 500 });
    const { connected } = await fleet.waitConnected(size, 60_000);
    const p50: number[] = [];
    const p99: number[] = [];
    const last: number[] = [];
    const assign: number[] = [];
    let acked = 0;
    for (let round = 1; round <= rounds; round++) {
      const r = await fleet.fanout(round);
      p50.push(percentile(r.latencies, 50));
      p99.push(percentile(r.latencies, 99));
      last.push(Math.max(...r.latencies));
      assign.push(r.assignMs);
      acked = Math.min(round === 1 ? Infinity : acked, r.acked);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    console.log(`| ${connected} | ${ms(median(p50))} | ${ms(median(p99))} | ${ms(median(last))} | ${ms(median(assign))} | ${acked}/${connected} (worst round) |`);
  } finally {
    await fleet.close();
  }
}
