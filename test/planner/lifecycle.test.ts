import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from '@herd/api';
import { CONTROL_PLANE_POOL, planCluster, type ClusterObservation, type ClusterPlan, type MemberObservation } from '@herd/planner';
import { ago, cluster, describe, m, NOW, world } from './worlds.js';

// One table per rule group (docs/lifecycle-rules.md names each case). A case is a small world:
// the cluster's spec, its members in a compact notation, and the exact plan expected.

interface Case {
  name: string;
  cluster?: Cluster;
  members: MemberObservation[];
  observed?: Partial<ClusterObservation>;
  actions: string[];
  /** Each hold, in order, as "subject: reason" containing this text. */
  holds?: string[];
}

function table(rule: string, cases: Case[]): void {
  for (const c of cases) {
    test(`${rule}: ${c.name}`, () => {
      const plan: ClusterPlan = planCluster(c.cluster ?? cluster(), world(c.members, c.observed));
      assert.deepEqual(plan.actions.map(describe), c.actions);
      const holds = plan.holds.map((h) => (h.subject ? `${h.subject}: ${h.reason}` : h.reason));
      assert.equal(holds.length, (c.holds ?? []).length, `holds: ${JSON.stringify(holds, null, 1)}`);
      (c.holds ?? []).forEach((expected, i) => assert.ok(holds[i]!.includes(expected), `hold ${i}: ${holds[i]} lacks "${expected}"`));
      for (const a of plan.actions) assert.ok(a.reason.length > 10, `${describe(a)} says why`);
      assert.deepEqual(planCluster(c.cluster ?? cluster(), world(c.members, c.observed)), plan, 'same input, same plan');
    });
  }
}

const upgrading = cluster({ cp: 3, workers: 3, version: '1.35.4' });
const three = cluster({ cp: 3 });
const inProgressUpgrade = { action: { type: 'upgrade', machine: 'cp1', pool: CONTROL_PLANE_POOL, role: 'control-plane', version: 'v1.35.4', mode: 'apply', reason: 'control plane cp1 runs v1.34.4' }, since: ago(2) } as const;

table('rule 1, in progress', [
  { name: 'the action in progress resumes alone, with creates and worker joins alongside',
    cluster: cluster({ workers: 3, version: '1.35.4' }), members: [m('cp1'), m('w1', { reboot: true }), m('w2'), m('w3', { node: false })],
    observed: { inProgress: inProgressUpgrade },
    actions: ['upgrade cp1 apply v1.35.4', 'join w3'], holds: ['cp1: upgrade on cp1 in progress since'] },
  { name: 'a machine missing from its pool is created while a removal runs',
    cluster: cluster({ workers: 3 }), members: [m('cp1'), m('w1'), m('w2')],
    observed: { inProgress: { action: { type: 'remove', machine: 'w2', pool: 'workers', role: 'worker', cause: 'unhealthy', reason: 'node w2 NotReady for 6m' }, since: ago(1) } },
    actions: ['remove w2 (unhealthy)', 'create workers'], holds: ['w2: remove on w2 in progress'] },
  { name: 'a control-plane join waits for the action in progress; a herd-cordoned worker is uncordoned',
    cluster: cluster({ cp: 3, version: '1.35.4' }), members: [m('cp1'), m('cp2'), m('cp3', { node: false }), m('w1', { cordoned: 'herd' }), m('w2')],
    observed: { inProgress: inProgressUpgrade },
    actions: ['upgrade cp1 apply v1.35.4', 'uncordon w1'], holds: ['in progress', 'cp3: joins once the upgrade on cp1 is over'] },
]);

const haltedUpgrade = { action: { type: 'upgrade', machine: 'w1', pool: 'workers', role: 'worker', version: 'v1.35.4', mode: 'node', reason: 'worker w1 runs v1.34.4' }, step: 'drain', message: 'timeout after 10m' } as const;

table('rule 2, halted', [
  { name: 'a halted rollout plans no upgrade and leaves the failed node cordoned',
    cluster: cluster({ workers: 2, version: '1.35.4' }), observed: { api: { healthy: true, version: 'v1.35.4' }, halted: { ...haltedUpgrade, version: 'v1.35.4' } },
    members: [m('cp1', { v: 'v1.35.4' }), m('w1', { cordoned: 'herd' }), m('w2')],
    actions: [], holds: ['w1: rollout halted: upgrade on w1 failed at drain: timeout after 10m'] },
  { name: 'a halt recorded for another version is over: the rollout starts afresh with that node',
    cluster: cluster({ workers: 2, version: '1.35.5' }), observed: { api: { healthy: true, version: 'v1.35.5' }, halted: { ...haltedUpgrade, version: 'v1.35.4' } },
    members: [m('cp1', { v: 'v1.35.5' }), m('w1', { cordoned: 'herd' }), m('w2')],
    actions: ['upgrade w1 node v1.35.5'], holds: ['1 worker upgrade(s) wait for the canary w1'] },
]);

table('rule 3, machines', [
  { name: 'a converged cluster plans nothing (Git may omit the "v")', members: [m('cp1'), m('w1'), m('w2')], actions: [] },
  { name: 'each pool is filled up to its replicas', cluster: cluster({ cp: 3, workers: 2 }), members: [m('cp1'), m('w1')],
    actions: ['create control-plane', 'create control-plane', 'create workers'] },
  { name: 'a stale worker node is forgotten; a stale control-plane one when quorum allows',
    cluster: three, members: [m('cp1'), m('cp2'), m('w1'), m('w2')], observed: { staleNodes: [{ name: 'gone-w', role: 'worker' }, { name: 'gone-cp', role: 'control-plane' }], etcdMembers: ['cp1', 'cp2', 'gone-cp'] },
    actions: ['create control-plane', 'forget gone-w', 'forget gone-cp'] },
  { name: 'refusal: a stale control-plane node is kept while etcd quorum is lost',
    cluster: three, members: [m('cp1'), m('w1'), m('w2')], observed: { staleNodes: [{ name: 'x', role: 'control-plane' }, { name: 'y', role: 'control-plane' }], etcdMembers: ['cp1', 'x', 'y'] },
    actions: ['create control-plane', 'create control-plane'], holds: ['x: etcd quorum lost: 1 of 3 members healthy', 'y: etcd quorum lost'] },
  { name: 'refusal: an API server that does not answer stops everything but creates',
    members: [m('cp1'), m('w1', { notReady: 30 })], observed: { api: { healthy: false, version: 'v1.34.4' } },
    actions: ['create workers'], holds: ['the API server does not answer healthy'] },
]);

table('rule 4, bootstrap', [
  { name: 'an empty world gets its machines and waits for an agent',
    cluster: three, members: [], observed: { initialized: false },
    actions: ['create control-plane', 'create control-plane', 'create control-plane', 'create workers', 'create workers'],
    holds: ["control-plane: waiting for a control-plane machine's agent"] },
  { name: 'init runs once, on the oldest control plane whose agent converged; nothing else Kubernetes-side',
    cluster: three, observed: { initialized: false, api: undefined },
    members: [m('cp1', { node: false, agent: 'unconverged' }), m('cp2', { node: false }), m('cp3', { node: false }), m('w1', { node: false }), m('w2', { node: false })],
    actions: ['init cp2 v1.34.4'] },
  { name: 'refusal: a stopped or disconnected control plane is not initialized',
    observed: { initialized: false, api: undefined }, members: [m('cp1', { node: false, state: 'stopped' }), m('w1', { node: false }), m('w2', { node: false })],
    actions: [], holds: ["waiting for a control-plane machine's agent"] },
  { name: 'before init a surplus machine simply goes, newest first (no cluster to drain it from)',
    observed: { initialized: false, api: undefined },
    members: [m('cp1', { node: false, agent: 'unconverged' }), m('w1', { node: false }), m('w2', { node: false }), m('w3', { node: false }), m('x1', { node: false, pool: 'gone' })],
    actions: ['remove w3 (scale-down)'], holds: ["waiting for a control-plane machine's agent", '1 more disruptive action(s) wait: one node is disrupted at a time'] },
]);

table('rule 5, joins', [
  { name: 'workers whose agent converged join together',
    members: [m('cp1'), m('w1', { node: false }), m('w2', { node: false })], actions: ['join w1', 'join w2'] },
  { name: 'refusal: an agent not converged, or assigned another version than the API server runs',
    members: [m('cp1'), m('w1', { node: false, agent: 'unconverged' }), m('w2', { node: false, assigned: '1.35.4' })], actions: [],
    holds: ['w1: waits for its agent to converge', 'w2: assigned v1.35.4 while the API server runs v1.34.4'] },
  { name: 'control planes join one at a time',
    cluster: three, members: [m('cp1'), m('cp2', { node: false }), m('cp3', { node: false }), m('w1'), m('w2')],
    actions: ['join cp2'], holds: ['control-plane: 1 more control-plane change(s) wait'] },
  { name: 'refusal: no control-plane join while a control-plane node is NotReady',
    cluster: three, members: [m('cp1'), m('cp2', { notReady: 2 }), m('cp3', { node: false }), m('w1'), m('w2')],
    actions: [], holds: ['cp3: control-plane join waits: cp2 NotReady'] },
  { name: 'refusal: no control-plane join while etcd has a member without a node',
    cluster: three, members: [m('cp1'), m('cp2'), m('cp3', { node: false }), m('w1'), m('w2')], observed: { etcdMembers: ['cp1', 'cp2', 'dead'] },
    actions: [], holds: ['cp3: control-plane join waits: etcd members (cp1, cp2, dead) differ from the control-plane nodes (cp1, cp2)'] },
]);

const fourWorkers = (extra = '') => cluster({ workers: 4, extra });
table('rule 6, disruption budget', [
  { name: 'maxUnavailable 1: one reboot at a time',
    members: [m('cp1'), m('w1', { reboot: true }), m('w2', { reboot: true })],
    actions: ['reboot w1'], holds: ['workers: 1 disruptive action(s) wait: disruption budget of pool workers used (maxUnavailable 1, 0 disrupted)'] },
  { name: 'maxUnavailable 50% of 4 workers: the budget admits two (rule 14 then starts one)',
    cluster: fourWorkers('  upgrade: { maxUnavailable: 50% }\n'), members: [m('cp1'), m('w1', { reboot: true }), m('w2', { reboot: true }), m('w3', { reboot: true }), m('w4')],
    actions: ['reboot w1'], holds: ['workers: 1 disruptive action(s) wait', '1 more disruptive action(s) wait: one node is disrupted at a time'] },
  { name: 'a percentage rounds down but allows one (25% of 2)',
    cluster: cluster({ extra: '  upgrade: { maxUnavailable: 25% }\n' }), members: [m('cp1'), m('w1', { reboot: true }), m('w2', { reboot: true })],
    actions: ['reboot w1'], holds: ['maxUnavailable 1'] },
  { name: 'refusal: a node already NotReady uses the budget',
    members: [m('cp1'), m('w1', { notReady: 2 }), m('w2', { reboot: true })], actions: [], holds: ['(maxUnavailable 1, 1 disrupted)'] },
  { name: 'refusal: a machine still missing uses the budget (a replacement not yet joined)',
    members: [m('cp1'), m('w1', { reboot: true }), m('w2', { node: false, agent: 'unconverged' })], actions: [], holds: ['w2: waits for its agent', '(maxUnavailable 1, 1 disrupted)'] },
  { name: 'refusal: no worker disruption while the control plane changes',
    members: [m('cp1', { reboot: true }), m('w1', { reboot: true }), m('w2')], actions: ['reboot cp1'], holds: ['1 worker disruption(s) wait while the control plane changes'] },
]);

table('rule 7, etcd quorum guard', [
  { name: 'a dead control plane is removed first when the others keep a healthy majority',
    cluster: three, members: [m('cp1'), m('cp2', { notReady: 6 }), m('cp3'), m('w1'), m('w2')],
    actions: ['remove cp2 (unhealthy)'] },
  { name: 'refusal: nothing while quorum is lost',
    cluster: cluster({ cp: 3, extra: '  health: { maxUnhealthy: 2 }\n' }), members: [m('cp1'), m('cp2', { notReady: 6 }), m('cp3', { notReady: 6 }), m('w1'), m('w2')],
    actions: [], holds: ['cp2: etcd quorum lost: 1 of 3 members healthy', 'cp3: etcd quorum lost'] },
  { name: 'refusal: never the last control plane',
    cluster: cluster({ extra: '  health: { maxUnhealthy: 1 }\n' }), members: [m('cp1', { notReady: 6 }), m('w1'), m('w2')],
    actions: [], holds: ['cp1: never removes the last control plane'] },
  { name: 'refusal: no control plane taken down while another is NotReady',
    cluster: cluster({ cp: 3, extra: '  upgrade: { maxUnavailable: 2 }\n' }), members: [m('cp1', { notReady: 1 }), m('cp2', { reboot: true }), m('cp3'), m('w1'), m('w2')],
    actions: [], holds: ['cp2: cp2 down would leave 1 of 3 etcd members healthy (quorum needs 2)'] },
  { name: 'refusal: no control-plane change while etcd membership is unknown',
    cluster: three, members: [m('cp1', { reboot: true }), m('cp2'), m('cp3'), m('w1'), m('w2')], observed: { etcdMembers: undefined },
    actions: [], holds: ['cp1: etcd membership unknown'] },
  { name: 'a single control plane may go down for a reboot (one replica accepts that downtime)',
    members: [m('cp1', { reboot: true }), m('w1'), m('w2')], actions: ['reboot cp1'] },
  { name: 'an outdated healthy control plane: the new one comes first',
    cluster: three, members: [m('cp1', { outdated: true }), m('cp2', { outdated: true }), m('cp3', { outdated: true }), m('w1'), m('w2')],
    actions: ['create control-plane'] },
  { name: 'an outdated control plane goes once its replacement is Ready, even with maxUnavailable 0 (maxSurge counts not)',
    cluster: cluster({ cp: 3, extra: '  upgrade: { maxUnavailable: 0, maxSurge: 1 }\n' }), members: [m('cp1', { outdated: true }), m('cp2', { outdated: true }), m('cp3', { outdated: true }), m('cp4'), m('w1'), m('w2')],
    actions: ['remove cp1 (outdated)'] },
]);

const cpAt = (v: string) => [m('cp1', { v }), m('cp2', { v }), m('cp3', { v })];
table('rule 8, upgrades', [
  { name: 'the first control plane runs kubeadm upgrade apply; workers wait',
    cluster: upgrading, members: [...cpAt('v1.34.4'), m('w1'), m('w2'), m('w3')],
    actions: ['upgrade cp1 apply v1.35.4'], holds: ['3 worker(s) wait for the control plane to run v1.35.4', 'control-plane: 2 more control-plane change(s) wait'] },
  { name: 'the other control planes run upgrade node, one at a time',
    cluster: upgrading, observed: { api: { healthy: true, version: 'v1.35.4' } }, members: [m('cp1', { v: 'v1.35.4' }), m('cp2'), m('cp3'), m('w1'), m('w2'), m('w3')],
    actions: ['upgrade cp2 node v1.35.4'], holds: ['3 worker(s) wait', '1 more control-plane change(s) wait'] },
  { name: 'the first worker is the canary',
    cluster: upgrading, observed: { api: { healthy: true, version: 'v1.35.4' } }, members: [...cpAt('v1.35.4'), m('w1'), m('w2'), m('w3')],
    actions: ['upgrade w1 node v1.35.4'], holds: ['2 worker upgrade(s) wait for the canary w1 to be Ready at v1.35.4'] },
  { name: 'after the canary, workers within the budget, oldest first',
    cluster: upgrading, observed: { api: { healthy: true, version: 'v1.35.4' } }, members: [...cpAt('v1.35.4'), m('w1', { v: 'v1.35.4' }), m('w2'), m('w3')],
    actions: ['upgrade w2 node v1.35.4'], holds: ['workers: 1 disruptive action(s) wait'] },
  { name: 'refusal: a jump of more than one minor',
    cluster: cluster({ version: '1.36.0' }), members: [m('cp1'), m('w1'), m('w2')], actions: [],
    holds: ['refusing to upgrade Kubernetes from v1.34.4 to v1.36.0: one minor version at a time'] },
  { name: 'refusal: a downgrade',
    cluster: cluster({ version: '1.34.1' }), members: [m('cp1'), m('w1'), m('w2')], actions: [], holds: ['refusing to downgrade Kubernetes from v1.34.4 to v1.34.1'] },
  { name: 'refusal: a NotReady worker is not upgraded (a health problem); the next one goes',
    cluster: upgrading, observed: { api: { healthy: true, version: 'v1.35.4' } },
    members: [...cpAt('v1.35.4'), m('w1', { v: 'v1.35.4' }), m('w2', { notReady: 1 }), m('w3')],
    actions: [], holds: ['w2: not upgraded while its node is NotReady', 'workers: 1 disruptive action(s) wait'] },
  { name: 'refusal: workers wait while a control plane is NotReady',
    cluster: upgrading, observed: { api: { healthy: true, version: 'v1.35.4' } }, members: [m('cp1', { v: 'v1.35.4' }), m('cp2', { v: 'v1.35.4' }), m('cp3', { v: 'v1.35.4', notReady: 1 }), m('w1'), m('w2'), m('w3')],
    actions: [], holds: ['workers wait for the control plane to be Ready at v1.35.4 (NotReady: cp3)'] },
]);

table('rule 9, reboots', [
  { name: 'an upgrade goes before a reboot in the same pool',
    cluster: cluster({ version: '1.34.5' }), observed: { api: { healthy: true, version: 'v1.34.5' } },
    members: [m('cp1', { v: 'v1.34.5' }), m('w1', { reboot: true, v: 'v1.34.5' }), m('w2')],
    actions: ['upgrade w2 node v1.34.5'], holds: ['workers: 1 disruptive action(s) wait'] },
  { name: 'workers of different pools: each pool\'s budget admits one (rule 14 then starts one)',
    cluster: cluster({ pools: '{ name: workers, replicas: 2 }, { name: db, replicas: 2 }' }),
    members: [m('cp1'), m('w1', { reboot: true }), m('w2', { reboot: true }), m('d1', { pool: 'db', reboot: true }), m('d2', { pool: 'db' })],
    actions: ['reboot w1'], holds: ['workers: 1 disruptive action(s) wait', '1 more disruptive action(s) wait: one node is disrupted at a time'] },
]);

table('rule 10, scale-down', [
  { name: 'the newest machines go, one at a time within the budget',
    cluster: cluster({ workers: 1 }), members: [m('cp1'), m('w1'), m('w2'), m('w3')],
    actions: ['remove w3 (scale-down)'], holds: ['workers: 1 disruptive action(s) wait'] },
  { name: 'a machine out of service goes before the newest',
    cluster: cluster({ workers: 2 }), members: [m('cp1'), m('w1', { notReady: 1 }), m('w2'), m('w3')],
    actions: ['remove w1 (scale-down)'] },
  { name: 'a pool gone from Git is removed, newest first, within its budget',
    members: [m('cp1'), m('w1'), m('w2'), m('b1', { pool: 'batch' }), m('b2', { pool: 'batch' })],
    actions: ['remove b2 (pool-removed)'], holds: ['batch: 1 disruptive action(s) wait'] },
  { name: 'the control plane shrinks (3 to 1) one member at a time, the newest first',
    members: [m('cp1'), m('cp2'), m('cp3'), m('w1'), m('w2')],
    actions: ['remove cp3 (scale-down)'], holds: ['control-plane: 1 more control-plane change(s) wait'] },
  { name: 'the control plane shrinks from 2 to 1 (the last member stays)',
    members: [m('cp1'), m('cp2'), m('w1'), m('w2')], actions: ['remove cp2 (scale-down)'] },
]);

table('rule 11, health', [
  { name: 'a machine that never joined within startupTimeout is removed (it is already out of service)',
    cluster: cluster({ workers: 3 }), members: [m('cp1'), m('w1'), m('w2', { node: false, created: 11, agent: 'unconverged' }), m('w3')],
    actions: ['remove w2 (unhealthy)'] },
  { name: 'refusal: maxUnhealthy 40% of a pool of 2 is 0 (rounded down): one unhealthy machine pauses remediation',
    members: [m('cp1'), m('w1'), m('w2', { node: false, created: 11, agent: 'unconverged' })],
    actions: [], holds: ['w2: waits for its agent', 'workers: remediation paused: 1 of 2 machines of pool workers unhealthy (more than maxUnhealthy 0)'] },
  { name: 'a node NotReady beyond unhealthyTimeout is removed, and says why',
    cluster: cluster({ workers: 3 }), members: [m('cp1'), m('w1', { notReady: 6 }), m('w2'), m('w3')],
    actions: ['remove w1 (unhealthy)'] },
  { name: 'an agent silent beyond unhealthyTimeout (a stopped machine) is removed',
    cluster: cluster({ workers: 3 }), members: [m('cp1'), m('w1', { silent: 6, state: 'stopped', agent: 'disconnected' }), m('w2'), m('w3')],
    actions: ['remove w1 (unhealthy)'] },
  { name: 'an agent never heard from since the coordinator started, or silent briefly, is no evidence',
    members: [m('cp1'), m('w1', { unheard: true, agent: 'disconnected' }), m('w2', { silent: 4 })], actions: [] },
  { name: 'a node NotReady for less than unhealthyTimeout is left alone',
    members: [m('cp1'), m('w1', { notReady: 4 }), m('w2')], actions: [] },
  { name: 'refusal: more than maxUnhealthy of a pool unhealthy pauses remediation (a partition)',
    cluster: cluster({ workers: 3 }), members: [m('cp1'), m('w1', { notReady: 6 }), m('w2', { notReady: 7 }), m('w3')],
    actions: [], holds: ['workers: remediation paused: 2 of 3 machines of pool workers unhealthy (more than maxUnhealthy 1)'] },
  { name: 'removing an unhealthy node costs no budget, but the budget it used is still used',
    cluster: cluster({ workers: 3 }), members: [m('cp1'), m('w1', { notReady: 6 }), m('w2', { reboot: true }), m('w3')],
    actions: ['remove w1 (unhealthy)'], holds: ['(maxUnavailable 1, 1 disrupted)'] },
  { name: 'a paused pool still lets its late machines join',
    cluster: cluster({ workers: 2 }), members: [m('cp1'), m('w1', { node: false, created: 20 }), m('w2', { node: false, created: 20 })],
    actions: ['join w1', 'join w2'], holds: ['workers: remediation paused: 2 of 2'] },
]);

table('rule 12, uncordon', [
  { name: 'a Ready node herd cordoned is uncordoned; an admin\'s cordon and a NotReady node are not',
    cluster: cluster({ workers: 3, extra: '  upgrade: { maxUnavailable: 3 }\n' }), members: [m('cp1'), m('w1', { cordoned: 'herd' }), m('w2', { cordoned: 'admin' }), m('w3', { cordoned: 'herd', notReady: 1 })],
    actions: ['uncordon w1'] },
  { name: 'a node about to be disrupted again is not uncordoned first',
    members: [m('cp1'), m('w1', { cordoned: 'herd', reboot: true }), m('w2')], actions: ['reboot w1'] },
]);

table('rule 13, outdated machines', [
  { name: 'with maxSurge, new machines come first',
    cluster: cluster({ extra: '  upgrade: { maxSurge: 1 }\n' }), members: [m('cp1'), m('w1', { outdated: true }), m('w2', { outdated: true })],
    actions: ['create workers'] },
  { name: 'with maxSurge, an outdated machine goes once a new one is Ready (even with maxUnavailable 0)',
    cluster: cluster({ extra: '  upgrade: { maxSurge: 1, maxUnavailable: 0 }\n' }), members: [m('cp1'), m('w1', { outdated: true }), m('w2', { outdated: true }), m('w3')],
    actions: ['remove w1 (outdated)'] },
  { name: 'with maxSurge, a new machine not yet Ready keeps the outdated ones',
    cluster: cluster({ extra: '  upgrade: { maxSurge: 1 }\n' }), members: [m('cp1'), m('w1', { outdated: true }), m('w2', { outdated: true }), m('w3', { node: false, agent: 'unconverged' })],
    actions: [], holds: ['w3: waits for its agent'] },
  { name: 'without maxSurge, an outdated machine goes first, within the budget',
    members: [m('cp1'), m('w1', { outdated: true }), m('w2', { outdated: true })],
    actions: ['remove w1 (outdated)'], holds: ['workers: 1 disruptive action(s) wait'] },
  { name: 'refusal: without maxSurge, the next waits until the replacement serves',
    members: [m('cp1'), m('w2', { outdated: true }), m('w3', { node: false })],
    actions: ['join w3'], holds: ['workers: 1 disruptive action(s) wait: disruption budget of pool workers used (maxUnavailable 1, 1 disrupted)'] },
]);

table('rule 14, what starts now', [
  { name: 'another coordinator holds the lease: only machines are created, everything else waits',
    cluster: cluster({ workers: 3, extra: '  upgrade: { maxUnavailable: 2 }\n' }), members: [m('cp1'), m('w1', { reboot: true }), m('w2')],
    observed: { leaseHeldElsewhere: 'herd-b' },
    actions: ['create workers'], holds: ["another coordinator (herd-b) holds the cluster's lease: 1 action(s) wait"] },
  { name: 'a failed action\'s pause: no disruptive action starts before it is over, the rest does',
    cluster: cluster({ extra: '  upgrade: { maxUnavailable: 2 }\n' }), members: [m('cp1'), m('w1', { reboot: true }), m('w2', { cordoned: 'herd' })],
    observed: { retryAfter: NOW + 30_000 },
    actions: ['uncordon w2'], holds: ['1 disruptive action(s) wait until 2026-03-01T12:00:30.000Z: a failed one is retried after a pause'] },
  { name: 'the pause over, the disruptive action starts',
    members: [m('cp1'), m('w1', { reboot: true }), m('w2')], observed: { retryAfter: NOW - 1 },
    actions: ['reboot w1'] },
]);
