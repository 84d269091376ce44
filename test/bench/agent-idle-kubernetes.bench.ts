/**
 * herd-agent at rest on a converged Kubernetes node: `herd up` (the real CLI, the local
 * provider's nspawn machine, real kubeadm and kubelet from scripts/build-kubernetes.sh's
 * cache) makes a one-control-plane cluster; once its node is Ready and the agent's
 * assignment converged, the agent's RSS and CPU are sampled from /proc inside the machine
 * over BENCH_IDLE_SECONDS (default 300), and `ps` is asked too, as an operator would.
 * Targets (docs/benchmarks.md): RSS < 60 MB, < 0.5 % of one core. Reports; never fails on a number.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { commit, git } from '../support.js';
import { saveHostSysctls } from '../kubernetes/node.js';
import { Coordinator, herd, inside, machinesOf, until } from '../e2e/herd.js';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 300);
const SAMPLE_MS = 5000;
const CLK_TCK = 100;
const VERSION = process.env.BENCH_KUBERNETES_VERSION ?? '1.34.4';

const cluster = `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: idle }
spec:
  provider: { kind: local }
  kubernetes: { version: ${VERSION} }
  pools: []
`;

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

const root = mkdtempSync(join(tmpdir(), 'herd-idle-kube-'));
const repo = join(root, 'fleet');
const state = join(root, 'state');
git(root, 'init', '-q', repo);
commit(repo, { 'clusters/idle.yaml': cluster });
const restoreSysctls = await saveHostSysctls();
const up = new Coordinator([repo, '--ref', 'main', '--state', state, '--interval', '10s']);
try {
  up.start();
  const status = await until(repo, state, 'a Ready, converged control-plane node', (s) => {
    const k = s.clusters[0]?.kubernetes;
    const m = machinesOf(s);
    return m.length === 1 && Boolean(m[0]!.converged) && k?.nodes.length === 1 && k.nodes.every((n) => n.ready) && k.running.length === 0;
  }, 30 * 60_000).catch((e: Error) => { throw new Error(`${e.message}\ncoordinator log:\n${up.tail()}`); });
  const machine = machinesOf(status)[0]!.name;
  const pid = Number(inside(state, machine, 'systemctl', 'show', '-P', 'MainPID', 'herd-agent.service'));
  const sample = () => {
    const stat = inside(state, machine, 'cat', `/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // After "pid (comm) ", field 3 (state) is index 0: utime=14, stime=15, cutime=16, cstime=17.
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(inside(state, machine, 'cat', `/proc/${pid}/status`))?.[1]);
    return { own: fields[11]! + fields[12]!, children: fields[13]! + fields[14]!, rssKb, at: performance.now() };
  };
  const first = sample();
  const rss = [first.rssKb];
  let last = first;
  while (last.at - first.at < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    last = sample();
    rss.push(last.rssKb);
  }
  // procps may not be in the machine's image; /proc above is the measurement, ps the cross-check.
  let psMb = 'no ps in the machine';
  try {
    psMb = `${(Number(inside(state, machine, 'ps', '-o', 'rss=', '-p', String(pid))) / 1024).toFixed(1)} MB`;
  } catch { /* reported as such */ }
  const seconds = (last.at - first.at) / 1000;
  const pct = (ticks: number) => ((ticks / CLK_TCK / seconds) * 100).toFixed(2);
  console.log(`host: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}`);
  console.log(`agent idle on a Ready Kubernetes v${VERSION} control-plane node over ${seconds.toFixed(0)} s (${rss.length} samples, rounds every 30 s):`);
  console.log(`  RSS median ${(median(rss) / 1024).toFixed(1)} MB, max ${(Math.max(...rss) / 1024).toFixed(1)} MB; ps: ${psMb}`);
  console.log(`  CPU agent process ${pct(last.own - first.own)} % of one core; with the commands it ran ${pct(last.own - first.own + last.children - first.children)} %`);
} finally {
  await up.stop();
  const down = herd(['down', repo, '--state', state]);
  if (down.code !== 0) console.error(down.stderr);
  await restoreSysctls();
  rmSync(root, { recursive: true, force: true });
}
