/**
 * herd against Ansible, preparing identical fresh machines in the same run: the same 20
 * pinned, held packages from the world's local repository (each also there at a newer
 * version, so the pin matters), 3 sysctls, 2 kernel modules, a file and a running unit
 * restarted when the file changes. For N machines at a time:
 *  - herd: the agent copied in, installed by install-agent.sh, enrolled with a real
 *    coordinator on the bridge and converged to its assignment (timed from the copy to the
 *    last agent's converged status); the re-run is a new assignment of the same spec (a new
 *    commit) until every agent reports it converged;
 *  - Ansible: test/bench/ansible/playbook.yml over SSH (Debian's ansible package), forks = N;
 *    the re-run is the same playbook again;
 *  - the floor: `apt-get update` and the same `apt-get install` run directly on each machine
 *    (through nsenter), and for the re-run one `dpkg-query -W` of the packages.
 * Every machine boots from the same image, with python3 and python3-apt (what Ansible needs on
 * a target; untimed). Reports medians and ratios; never fails on a number, but fails when a
 * tool did not do the work (a re-run that changed something, a host that failed).
 * Run: npm run bench test/bench/ansible.bench.ts
 *   BENCH_SIZES (default 3,10), BENCH_RUNS (first runs per size, default 3), BENCH_RUNS_10
 *   (first runs at N >= 10, default 2), BENCH_RERUNS (re-runs after each first run, default 2).
 * Needs `ansible` (Debian's package; installed here with apt-get when missing, as root).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createExecutor } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';
import { buildAgentArtifact, copyArtifact, installFlags, runInstall, startBridgeCoordinator } from '../world/agent.js';
import { testSshKey } from '../world/ssh.js';
import { nodeSpec } from '../converge/spec.js';

const SIZES = (process.env.BENCH_SIZES ?? '3,10').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RUNS_10 = Number(process.env.BENCH_RUNS_10 ?? 2);
const RERUNS = Number(process.env.BENCH_RERUNS ?? 2);
const HERE = resolve(import.meta.dirname, 'ansible');
const PLAYBOOK = join(HERE, 'playbook.yml');
const TIMEOUT_MS = 20 * 60_000;

const afters: (() => Promise<void>)[] = [];
const hook = { after: (fn: () => Promise<void>) => { afters.push(fn); } };
const host = createExecutor();
const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };
const load = () => loadavg()[0]!.toFixed(1);

/** Ansible from Debian, installed the way setup.sh installs host packages. */
function ensureAnsible(): string {
  const version = () => execFileSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  try {
    return version();
  } catch {
    console.log('ansible-playbook not found: apt-get install ansible (Debian\'s package, ansible-core and its collections)');
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible'],
      { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return version();
  }
}

interface Sample { floor: number; herd: number; ansible: number; herdPhases: { installed: number; connected: number } }
const results = new Map<number, { first: Sample[]; rerun: Sample[]; loads: string[] }>();

try {
  const ansibleVersion = ensureAnsible();
  const artifact = await buildAgentArtifact(hook);
  const key = await testSshKey(hook);
  const world = await TestWorld.start(hook, { machines: 0, authorizedKeys: [key.publicKey], extraImagePackages: ['python3', 'python3-apt'] });
  const coordinator = await startBridgeCoordinator(hook, world);
  // Inventories, variables, Ansible's temporary and control-socket directories: in the
  // world's directory, which goes with the world, also when the bench is interrupted.
  const dir = join(world.dir, 'ansible');
  await mkdir(dir);

  // The work, once: the herd spec and Ansible's variables are both made from it.
  const names = Array.from({ length: 20 }, (_, i) => `herd-bench-${String(i + 1).padStart(2, '0')}`);
  const debs = await Promise.all(names.flatMap((name) => ['1.0-1', '2.0-1'].map((version) => world.repo.buildPackage({ name, version }))));
  await world.repo.add(...debs);
  const work = {
    apt_source_name: 'herd-bench',
    apt_source: world.repo.sourceLine,
    packages: names.map((name) => ({ name, version: '1.0-1' })),
    sysctls: { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '1024', 'net.ipv4.conf.all.rp_filter': '2' },
    kernel_modules: ['overlay', 'br_netfilter'],
    files: [{ path: '/etc/herd-bench/app.conf', content: 'x = 1\n', mode: '0644' }],
    units: [{ name: 'herd-bench.service', content: '[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n' }],
  };
  const varsFile = join(dir, 'vars.json');
  await writeFile(varsFile, JSON.stringify(work));
  const spec = (commit: string) => nodeSpec({
    cluster: 'bench', commit,
    kernelModules: work.kernel_modules,
    sysctls: work.sysctls,
    aptSources: [{ name: work.apt_source_name, line: work.apt_source, key: '' }],
    packages: work.packages.map((p) => ({ ...p, hold: true, absent: false, allowDowngrade: false })),
    files: work.files.map((f) => ({ path: f.path, content: f.content, mode: parseInt(f.mode, 8), owner: 'root', group: 'root' })),
    units: work.units.map((u) => ({ ...u, enabled: true, running: true, restartOn: work.files.map((f) => f.path) })),
  });
  const pins = work.packages.map((p) => `${p.name}=${p.version}`);

  /** Resolves when every node reported a converged status at or above its generation. */
  const convergedAll = (refs: { cluster: string; node: string }[], generations: number[]) => new Promise<void>((done, fail) => {
    const waiting = new Map(refs.map((r, i) => [r.node, generations[i]!]));
    const timer = setTimeout(() => {
      coordinator.nodes.off('status', onStatus);
      const left = coordinator.nodes.sessions('bench').filter((s) => waiting.has(s.nodeName));
      fail(new Error(`agents not converged after ${TIMEOUT_MS} ms: ${left.map((s) => `${s.nodeName}: ${s.status?.lastError ?? 'no status'}`).join('; ')}`));
    }, TIMEOUT_MS);
    const onStatus = (ref: { node: string }, status: { observedGeneration: number | string; actions: string[] }) => {
      const want = waiting.get(ref.node);
      if (want === undefined || Number(status.observedGeneration) < want) return;
      waiting.delete(ref.node);
      if (!waiting.size) {
        clearTimeout(timer);
        coordinator.nodes.off('status', onStatus);
        done();
      }
    };
    coordinator.nodes.on('status', onStatus);
  });

  /** The agents on `ms`, from copying the artifact in to every one converged; then no-change re-runs. */
  async function herd(ms: Machine[]): Promise<{ first: number; installed: number; connected: number; reruns: number[] }> {
    const refs = ms.map((m) => ({ cluster: 'bench', node: m.name }));
    const flags = await Promise.all(refs.map((ref, i) => installFlags(coordinator, ref, ms[i]!)));
    const generations = refs.map((ref) => coordinator.nodes.assign(ref, spec('first')));
    const connectedAt: number[] = [];
    const onHello = () => { connectedAt.push(performance.now()); };
    coordinator.nodes.on('hello', onHello);
    const started = performance.now();
    const converged = convergedAll(refs, generations);
    const installedAt = await Promise.all(ms.map(async (m, i) => {
      await copyArtifact(m, artifact);
      if (process.env.BENCH_AGENT_LOG) console.log(`${m.name}: artifact copied after ${(performance.now() - started).toFixed(0)} ms`);
      await runInstall(m, [...flags[i]!, '--move']); // as the providers run it: their copy is throwaway
      return performance.now();
    }));
    await converged;
    const first = performance.now() - started;
    if (process.env.BENCH_AGENT_LOG) {
      console.log((await ms[0]!.exec.run('journalctl', ['-u', 'herd-agent', '-o', 'short-precise', '--no-pager'])).stdout);
    }
    coordinator.nodes.off('hello', onHello);
    const reruns: number[] = [];
    for (let r = 0; r < RERUNS; r++) {
      const t = performance.now();
      const again = refs.map((ref) => coordinator.nodes.assign(ref, spec(`rerun-${r}`)));
      await convergedAll(refs, again);
      reruns.push(performance.now() - t);
      // A re-run must have found nothing to do.
      for (const s of coordinator.nodes.sessions('bench').filter((s) => refs.some((ref) => ref.node === s.nodeName))) {
        if (s.status?.actions.length) throw new Error(`herd's re-run on ${s.nodeName} changed something: ${s.status.actions.join(', ')}`);
      }
    }
    return { first, installed: Math.max(...installedAt) - started, connected: Math.max(...connectedAt) - started, reruns };
  }

  /** The playbook over SSH on `ms`; the first run, then no-change re-runs (checked in the recap). */
  async function ansible(ms: Machine[]): Promise<{ first: number; reruns: number[] }> {
    const inventory = join(dir, `inventory-${ms[0]!.name}.ini`);
    await writeFile(inventory, [
      '[nodes]',
      ...ms.map((m) => `${m.name} ansible_host=${m.address}`),
      '[nodes:vars]',
      'ansible_user=root',
      `ansible_ssh_common_args='${key.options.join(' ')}'`,
      '',
    ].join('\n'));
    const env = {
      ANSIBLE_CONFIG: join(HERE, 'ansible.cfg'), ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'cp'), ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'), ANSIBLE_NOCOLOR: '1',
    };
    const play = async (what: string) => {
      const t = performance.now();
      const args = ['-i', inventory, '-e', `@${varsFile}`, '--forks', String(ms.length), PLAYBOOK];
      const run = await host.run('ansible-playbook', args, { env, timeoutMs: TIMEOUT_MS, allowFailure: true });
      const ms_ = performance.now() - t;
      const recap = [...run.stdout.matchAll(/^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)];
      const bad = recap.filter((r) => r[4] !== '0' || r[5] !== '0');
      if (run.exitCode !== 0 || recap.length !== ms.length || bad.length) {
        throw new Error(`ansible-playbook (${what}) failed, exit ${run.exitCode}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
      }
      const changed = recap.reduce((n, r) => n + Number(r[3]), 0);
      if (what === 're-run' && changed) throw new Error(`Ansible's re-run changed ${changed} things:\n${run.stdout.slice(-3000)}`);
      if (what === 'first' && !changed) throw new Error(`Ansible's first run changed nothing:\n${run.stdout.slice(-3000)}`);
      return ms_;
    };
    const first = await play('first');
    const reruns: number[] = [];
    for (let r = 0; r < RERUNS; r++) reruns.push(await play('re-run'));
    return { first, reruns };
  }

  /** apt-get itself on `ms`, in parallel: update and the install; then dpkg-query as the re-run. */
  async function floor(ms: Machine[]): Promise<{ first: number; reruns: number[] }> {
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    const t = performance.now();
    await Promise.all(ms.map(async (m) => {
      await m.exec.run('apt-get', ['update', '-qq'], { env, timeoutMs: TIMEOUT_MS });
      await m.exec.run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pins], { env, timeoutMs: TIMEOUT_MS });
    }));
    const first = performance.now() - t;
    const reruns: number[] = [];
    for (let r = 0; r < RERUNS; r++) {
      const t2 = performance.now();
      await Promise.all(ms.map((m) => m.exec.run('dpkg-query', ['-W', '-f=${Package}\t${Version}\t${Status}\n', ...names])));
      reruns.push(performance.now() - t2);
    }
    return { first, reruns };
  }

  /**
   * N fresh machines, booted before anything is timed, for one tool; destroyed after it.
   * One tool's machines at a time: every machine's systemd holds inotify instances, and the
   * host's limit (fs.inotify.max_user_instances, 128) is shared by everything root runs.
   */
  async function onFresh<T>(n: number, toolWritesSource: boolean, measure: (ms: Machine[]) => Promise<T>): Promise<T> {
    const booted = await Promise.all(Array.from({ length: n }, () => world.addMachine()));
    try {
      // herd and Ansible each write the repository's source themselves; the floor uses the world's.
      if (toolWritesSource) await Promise.all(booted.map((m) => rm(join(m.rootfs, 'etc/apt/sources.list.d/herd-world.list'))));
      return await measure(booted);
    } finally {
      await Promise.all(booted.map((m) => m.destroy()));
      world.machines.splice(0, world.machines.length, ...world.machines.filter((m) => !booted.includes(m)));
    }
  }

  for (const n of SIZES) {
    const entry = { first: [] as Sample[], rerun: [] as Sample[], loads: [] as string[] };
    results.set(n, entry);
    const runs = n >= 10 ? RUNS_10 : RUNS;
    for (let run = 0; run < runs; run++) {
      entry.loads.push(load());
      const f = await onFresh(n, false, floor);
      // Alternate which tool goes first, so that neither always runs right after the floor.
      let h: Awaited<ReturnType<typeof herd>>;
      let a: Awaited<ReturnType<typeof ansible>>;
      if (run % 2 === 0) {
        h = await onFresh(n, true, herd);
        a = await onFresh(n, true, ansible);
      } else {
        a = await onFresh(n, true, ansible);
        h = await onFresh(n, true, herd);
      }
      entry.loads.push(load());
      entry.first.push({ floor: f.first, herd: h.first, ansible: a.first, herdPhases: { installed: h.installed, connected: h.connected } });
      for (let r = 0; r < RERUNS; r++) {
        entry.rerun.push({ floor: f.reruns[r]!, herd: h.reruns[r]!, ansible: a.reruns[r]!, herdPhases: { installed: 0, connected: 0 } });
      }
      const sec = (ms: number) => (ms / 1000).toFixed(1);
      const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join('/');
      console.log(`N=${n} run ${run + 1}: first floor ${sec(f.first)} s, herd ${sec(h.first)} s (installed ${sec(h.installed)}, `
        + `connected ${sec(h.connected)}), ansible ${sec(a.first)} s; re-runs floor ${list(f.reruns)} ms, herd ${list(h.reruns)} ms, `
        + `ansible ${list(a.reruns)} ms; load ${entry.loads.slice(-2).join(' → ')}`);
    }
  }

  const s = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: HERE }).trim();
  console.log(`\ncommit ${commit}, ${new Date().toISOString()}; host: ${cpus().length} × ${cpus()[0]?.model}, `
    + `${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}; ${ansibleVersion}`);
  console.log('| N | run | floor | herd | Ansible | herd above floor | Ansible above floor | Ansible / herd (total) '
    + '| Ansible / herd (above floor) | samples |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [n, { first, rerun, loads }] of results) {
    for (const [what, samples] of [['first', first], ['re-run', rerun]] as const) {
      if (!samples.length) continue;
      const fl = median(samples.map((x) => x.floor));
      const he = median(samples.map((x) => x.herd));
      const an = median(samples.map((x) => x.ansible));
      // Overheads per sample (the floor of the same run), then their medians.
      const herdAbove = median(samples.map((x) => x.herd - x.floor));
      const ansibleAbove = median(samples.map((x) => x.ansible - x.floor));
      console.log(`| ${n} | ${what} | ${s(fl)} | ${s(he)} | ${s(an)} | ${s(herdAbove)} | ${s(ansibleAbove)} `
        + `| ${(an / he).toFixed(1)}× | ${(ansibleAbove / herdAbove).toFixed(1)}× | ${samples.length} |`);
    }
    const f = first.map((x) => x.herdPhases);
    console.log(`  N=${n} herd first run, medians: every install-agent.sh done ${s(median(f.map((p) => p.installed)))}, `
      + `every agent connected ${s(median(f.map((p) => p.connected)))}; load average ${loads.join(', ')}`);
  }
} finally {
  for (const fn of afters.reverse()) await fn().catch((e: unknown) => console.error(e));
}
