// The coordinator under benchmark, alone in its process so its RSS and CPU are its own.
// Driven over IPC by fleet.ts: stats, fanout, stop.
import { performance } from 'node:perf_hooks';
import { directoryStore, startCoordinator, type NodeRef } from '@herd/coordinator';
import { createLogger, nodeFileSystem } from '@herd/sys';
import { benchSpec } from './spec.js';

const stateDir = process.argv[2]!;
const coordinator = await startCoordinator({
  store: directoryStore(stateDir, nodeFileSystem()), host: '127.0.0.1', port: 0,
  logger: createLogger({ name: 'coordinator', level: 'warn' }), heartbeatTimeoutMs: 30_000,
});
const send = (m: object) => process.send!(m);
let cpuMark = process.cpuUsage();
let timeMark = performance.now();

function stats() {
  const sessions = coordinator.nodes.sessions();
  const cpu = process.cpuUsage(cpuMark);
  const elapsedMs = performance.now() - timeMark;
  cpuMark = process.cpuUsage();
  timeMark = performance.now();
  return {
    rss: process.memoryUsage().rss,
    heapUsed: process.memoryUsage().heapUsed,
    connected: sessions.filter((s) => s.connected).length,
    reachable: sessions.filter((s) => s.connected && !s.unreachable).length,
    /** CPU since the previous stats call, in % of one core. */
    cpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    /** What the front door turned away so far (refused, timed out, silent). */
    door: coordinator.connections(),
  };
}

/** Assigns a new spec to every connected node and times each acknowledgement. */
async function fanout(round: number, timeoutMs: number) {
  const targets: NodeRef[] = coordinator.nodes.sessions().filter((s) => s.connected).map((s) => ({ cluster: s.cluster, node: s.nodeName }));
  const waiting = new Map<string, number>();
  const latencies: number[] = [];
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    const onAck = (ref: NodeRef, generation: number) => {
      const key = `${ref.cluster}/${ref.node}`;
      const want = waiting.get(key);
      if (want !== undefined && generation >= want) {
        waiting.delete(key);
        latencies.push(performance.now() - started);
        if (waiting.size === 0) finish();
      }
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => { clearTimeout(timer); coordinator.nodes.off('ack', onAck); resolve(); };
    coordinator.nodes.on('ack', onAck);
  });
  for (const ref of targets) waiting.set(`${ref.cluster}/${ref.node}`, coordinator.nodes.assign(ref, benchSpec(ref.node, `round-${round}`)));
  const assignMs = performance.now() - started;
  await done;
  return { targets: targets.length, acked: latencies.length, assignMs, latencies };
}

process.on('message', (m: { type: string; round?: number; timeoutMs?: number }) => {
  if (m.type === 'stats') send({ type: 'stats', ...stats() });
  else if (m.type === 'fanout') void fanout(m.round!, m.timeoutMs!).then((r) => send({ type: 'fanout', ...r }));
  else if (m.type === 'stop') void coordinator.close().then(() => process.exit(0));
});
send({ type: 'ready', port: coordinator.port });
