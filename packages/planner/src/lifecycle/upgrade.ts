/**
 * Which nodes the version rollout wants upgraded now, in order: one minor at a time, the
 * control plane first (the first one with `kubeadm upgrade apply`), workers only once the
 * whole control plane runs the new version, the first worker alone as a canary. The budget
 * and the quorum guard then decide how many of these run (plan.ts).
 */
import type { MemberObservation } from './types.js';
import type { Hold, DisruptiveAction } from './types.js';
import { compareVersions, normaliseVersion, parseVersion } from './policy.js';
import type { World } from './world.js';

export interface UpgradeWants {
  /** Machine → its upgrade, control plane oldest first, then workers pool by pool, oldest first. */
  upgrades: Map<string, DisruptiveAction>;
  holds: Hold[];
}

const kubelet = (m: MemberObservation) => normaliseVersion(m.node!.kubeletVersion);

export function upgradesWanted(world: World): UpgradeWants {
  const upgrades = new Map<string, DisruptiveAction>();
  const holds: Hold[] = [];
  const want = world.policy.desiredVersion;
  const api = world.apiVersion;
  if (!api || world.halted?.action.type === 'upgrade') return { upgrades, holds };

  const nodesOf = (role: 'control-plane' | 'worker') => world.pools.filter((p) => p.inSpec && p.role === role)
    .flatMap((p) => p.members.filter((m) => m.node && m.machine !== world.halted?.action.machine));
  const controlPlanes = nodesOf('control-plane');
  const workers = nodesOf('worker');
  const behind = (ms: MemberObservation[]) => ms.filter((m) => kubelet(m) !== want);
  if (api === want && behind(controlPlanes).length === 0 && behind(workers).length === 0) return { upgrades, holds };

  const from = parseVersion(api);
  const to = parseVersion(want);
  if (!from || !to) return { upgrades, holds: [{ reason: `cannot compare Kubernetes versions ${api} (API server) and ${want} (Git)` }] };
  if (compareVersions(to, from) < 0) return { upgrades, holds: [{ reason: `refusing to downgrade Kubernetes from ${api} to ${want}` }] };
  if (to.major !== from.major || to.minor > from.minor + 1) {
    return { upgrades, holds: [{ reason: `refusing to upgrade Kubernetes from ${api} to ${want}: one minor version at a time` }] };
  }

  const add = (m: MemberObservation, mode: 'apply' | 'node', reason: string) => {
    if (!m.node!.ready) holds.push({ subject: m.machine, reason: `not upgraded while its node is NotReady (a health problem first)` });
    else upgrades.set(m.machine, { type: 'upgrade', machine: m.machine, pool: m.pool, role: m.role, version: want, mode, reason });
  };

  // Control plane first; while the API server is behind, whichever goes first runs `upgrade apply`.
  const cpBehind = behind(controlPlanes).length ? behind(controlPlanes) : api !== want ? controlPlanes : [];
  if (cpBehind.length) {
    const mode = api !== want ? 'apply' : 'node';
    for (const m of cpBehind) add(m, mode, `control plane ${m.machine} runs ${kubelet(m)}, the cluster wants ${want} (kubeadm upgrade ${mode})`);
    if (behind(workers).length) holds.push({ reason: `${behind(workers).length} worker(s) wait for the control plane to run ${want}` });
    return { upgrades, holds };
  }
  const notReady = controlPlanes.filter((m) => !m.node!.ready);
  if (notReady.length) {
    holds.push({ reason: `workers wait for the control plane to be Ready at ${want} (NotReady: ${notReady.map((m) => m.machine).join(', ')})` });
    return { upgrades, holds };
  }

  for (const m of behind(workers)) add(m, 'node', `worker ${m.machine} runs ${kubelet(m)}, the cluster wants ${want}`);
  // The canary: while no worker is Ready at the new version, only the first one goes.
  const canaryDone = workers.some((m) => m.node!.ready && kubelet(m) === want);
  if (!canaryDone && upgrades.size > 1) {
    const [first] = upgrades.keys();
    holds.push({ reason: `${upgrades.size - 1} worker upgrade(s) wait for the canary ${first} to be Ready at ${want}` });
    for (const machine of [...upgrades.keys()].slice(1)) upgrades.delete(machine);
  }
  return { upgrades, holds };
}
