import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatSpecError, PLAN_FORMAT, type Cluster, type PlanAction, type PlanCluster, type PlanDocument } from '@herd/api';
import { connectAdmin, directoryStore, SecretStore } from '@herd/coordinator';
import { KubeClient, parseKubeconfig } from '@herd/kube';
import { LABEL } from '@herd/provider';
import type { NodeSession } from '@herd/proto';
import { observeForPlan, planForCluster, type FleetStatus, type PlanWorldInput } from '@herd/reconciler';
import { createLogger, formatDuration, nodeFileSystem, processAlive, UsageError } from '@herd/sys';
import { defineCommand, outputFormat, outputOption, type CommandContext } from '../command.js';
import { defaultStateDir, ProviderPool, readJson, readStatusFile, repositoryReader, STATE_FILES, type CoordinatorRecord } from '../fleet.js';

export const planCommand = defineCommand({
  name: 'plan',
  summary: 'Show what herd would do for a commit, in order, against the world as observed now; changes nothing',
  usage: 'herd plan [REPO] [--ref REF] [--cluster NAME] [--state DIR] [--output text|json]   (exit 0: no changes, 2: changes, 1: error)',
  options: {
    ref: { type: 'string' },
    cluster: { type: 'string' },
    state: { type: 'string' },
    ...outputOption,
  },
  // terraform's detailed exit code: 2 means changes, so no failure may exit 2.
  failureExitCode: 1,
  async run({ values, positionals, stdout, stderr }) {
    const format = outputFormat(values.output);
    if (positionals.length > 1) throw new UsageError(`expected at most one REPO\nusage: ${this.usage}`);
    const repo = positionals[0] ?? '.';
    const ref = values.ref as string | undefined;
    const only = values.cluster as string | undefined;
    const stateDir = (values.state as string | undefined) ?? defaultStateDir(repo);
    const logger = createLogger({ name: 'herd', level: process.env.HERD_LOG_LEVEL ?? 'warn' });
    const reader = repositoryReader(repo, ref, logger);
    const planned = await reader.read();
    if (planned.errors.length) {
      // As `herd validate` prints them: a commit that does not validate has no plan.
      for (const error of planned.errors) stderr.write(formatSpecError(error) + '\n');
      stderr.write(`herd plan: ${planned.commit ? `commit ${planned.commit.slice(0, 12)}` : 'the working tree'} does not validate (${planned.errors.length} error(s)); no plan\n`);
      return 1;
    }
    const clusters = planned.clusters.map((c) => c.cluster).filter((c) => !only || c.metadata.name === only);
    if (only && !clusters.length) throw new UsageError(`--cluster ${only}: no such cluster in ${planned.commit ? `commit ${planned.commit.slice(0, 12)}` : repo}`);

    const hasState = existsSync(stateDir);
    const recorded = hasState ? await readStatusFile(stateDir) : undefined;
    const inForce = hasState ? await reader.lastGood(stateDir) : undefined;
    const plans = await observeAndPlan(clusters, { stateDir, hasState, recorded, inForce: inForce?.clusters.map((c) => c.cluster) ?? [], reader, logger });
    const document: PlanDocument = {
      format: PLAN_FORMAT, source: planned.source, ref: ref ?? null, commit: planned.commit ?? null, inForce: recorded?.commit ?? null,
      changes: plans.some((p) => p.steps.length > 0), clusters: plans,
    };
    if (format === 'json') stdout.write(JSON.stringify(document, null, 2) + '\n');
    else render(document, stdout);
    return plans.some((p) => p.error) ? 1 : document.changes ? 2 : 0;
  },
});

interface Context {
  stateDir: string;
  hasState: boolean;
  recorded: FleetStatus | undefined;
  inForce: Cluster[];
  reader: ReturnType<typeof repositoryReader>;
  logger: ReturnType<typeof createLogger>;
}

/** Observes each cluster the way a round does (read-only), then plans it. */
async function observeAndPlan(clusters: Cluster[], ctx: Context): Promise<PlanCluster[]> {
  // Read once: its holder names this state directory's coordinator in the lease, alive or not.
  const record = ctx.hasState ? await readJson<CoordinatorRecord>(join(ctx.stateDir, STATE_FILES.coordinator)) : undefined;
  const running = record && processAlive(record.pid) ? record : undefined;
  let live: NodeSession[] | undefined;
  if (running) {
    const admin = await connectAdmin({ address: running.address, store: directoryStore(ctx.stateDir, nodeFileSystem()) });
    try { live = (await admin.status('')).nodes; } finally { admin.close(); }
  }
  const providers = new ProviderPool(ctx.stateDir, ctx.reader, ctx.logger, () => ctx.recorded?.commit);
  const secrets = new SecretStore(ctx.stateDir, nodeFileSystem());
  const out: PlanCluster[] = [];
  try {
    for (const cluster of clusters) {
      const name = cluster.metadata.name;
      const previous = ctx.inForce.find((c) => c.metadata.name === name);
      let kube: KubeClient | undefined;
      try {
        // No state directory: this coordinator made nothing yet, and nothing is created to find that out.
        const provider = ctx.hasState ? await providers.get(name, (previous ?? cluster).spec.provider) : undefined;
        const machines = provider ? await provider.list({ [LABEL.cluster]: name }) : [];
        const kubeconfig = ctx.hasState ? (await secrets.get(name))?.kubeconfig : undefined;
        kube = kubeconfig ? new KubeClient(parseKubeconfig(kubeconfig), { timeoutMs: 10_000 }) : undefined;
        const status = ctx.recorded?.clusters.find((c) => c.name === name);
        const input: PlanWorldInput = {
          cluster, machines, holder: record?.holder ?? '', now: Date.now(),
          sessions: live?.filter((s) => s.cluster === name) ?? recordedSessions(name, status),
          agents: live ? 'live' : status ? 'recorded' : 'none',
          ...(kube ? { kube } : {}), ...(status?.kubernetes?.etcdMembers ? { etcdMembers: status.kubernetes.etcdMembers } : {}),
        };
        const world = await observeForPlan(input);
        const newMachineName = (pool: string, taken: ReadonlySet<string>) =>
          provider ? provider.newMachineName(name, pool, taken) : nextName(`${name}-${pool}`, taken);
        out.push(await planForCluster({ cluster, ...(previous ? { inForce: previous } : {}), world, newMachineName, measured: ctx.recorded?.measured ?? {} }));
      } catch (e) {
        out.push(failed(cluster, (e as Error).message));
      } finally {
        kube?.close();
      }
    }
  } finally {
    await providers.close();
  }
  return out;
}

function nextName(prefix: string, taken: ReadonlySet<string>): string {
  for (let i = 1; ; i++) if (!taken.has(`${prefix}-${i}`)) return `${prefix}-${i}`;
}

/** The agents as the last status recorded them, for a plan made while no coordinator runs. */
function recordedSessions(cluster: string, status: FleetStatus['clusters'][number] | undefined): NodeSession[] {
  return (status?.machines ?? []).filter((m) => m.agent).map((m) => ({
    nodeName: m.name, cluster, connected: m.agent!.connected, unreachable: m.agent!.unreachable,
    desiredGeneration: m.agent!.desiredGeneration, observedGeneration: m.agent!.observedGeneration,
    status: { commit: m.agent!.commit, conditions: m.agent!.conditions, lastError: m.agent!.lastError, rebootRequired: m.agent!.rebootRequired },
  }));
}

function failed(cluster: Cluster, error: string): PlanCluster {
  return {
    name: cluster.metadata.name, change: 'none', specChanges: [], observed: { at: new Date().toISOString(), agents: 'none', kubernetesApi: false, machines: 0 },
    steps: [], remaining: [], truncated: false, estimateSeconds: null, error,
  };
}

/** terraform's marks: + adds, ~ changes in place, - takes away. */
const SIGN: Record<PlanAction['type'], string> = { create: '+', init: '+', join: '+', upgrade: '~', reboot: '~', uncordon: '~', remove: '-', forget: '-' };

const seconds = (s: number | null) => (s === null ? 'no estimate yet' : `~${formatDuration(s * 1000)}`);
const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

/** terraform's habit: what changes, then each step with its effects, then one summary line. */
function render(plan: PlanDocument, out: CommandContext['stdout']): void {
  const at = plan.commit ? `commit ${plan.commit.slice(0, 12)}${plan.ref ? ` (${plan.ref})` : ''}` : 'the working tree';
  out.write(`herd plan: ${at} against ${plan.inForce ? `the commit in force ${plan.inForce.slice(0, 12)}` : 'nothing in force'}\n`);
  let actions = 0;
  for (const c of plan.clusters) {
    out.write(`\ncluster ${c.name}: ${c.error ? `cannot plan: ${c.error}` : c.change === 'none' ? 'no changes' : c.change}\n`);
    if (c.error) continue;
    out.write(`  observed ${c.observed.at}: ${c.observed.machines} machine(s), agents ${c.observed.agents}, Kubernetes API ${c.observed.kubernetesApi ? 'answering' : 'not answering'}\n`);
    for (const s of c.specChanges) out.write(`  ~ ${s.path}: ${show(s.from)} → ${show(s.to)}\n`);
    c.steps.forEach((step, i) => {
      out.write(`  step ${i + 1}${step.actions.length > 1 ? ` (${step.actions.length} at once)` : ''}, ${seconds(step.estimateSeconds)}\n`);
      for (const a of step.actions) {
        actions++;
        const what = a.type === 'upgrade' ? ` to ${a.version} (kubeadm upgrade ${a.mode})` : a.type === 'remove' ? ` (${a.cause})` : '';
        out.write(`    ${SIGN[a.type]} ${a.type} ${a.machine}${what}\n`);
        out.write(`        why: ${a.reason}\n        steps: ${a.steps.join(', ')}\n`);
        if (a.etcd) out.write(`        etcd: member ${a.etcd === 'down' ? 'down while it runs' : a.etcd === 'add' ? 'added' : 'removed'}\n`);
        if (a.unschedulable.length) out.write(`        unschedulable meanwhile: ${a.unschedulable.join(', ')}\n`);
        if (a.evictions?.length) out.write(`        evicts ${a.evictions.length} pod(s): ${a.evictions.join(', ')}\n`);
        if (a.disruptionBudgets) out.write(`        disruption budgets: ${a.disruptionBudgets.allowed ? 'allow it now' : `${a.disruptionBudgets.never ? 'refuse it' : 'hold it'}: ${a.disruptionBudgets.message}`}\n`);
      }
      for (const h of step.holds) out.write(`      holding: ${h.subject ? `${h.subject}: ` : ''}${h.reason}\n`);
    });
    for (const h of c.remaining) out.write(`  will not converge by itself: ${h.subject ? `${h.subject}: ` : ''}${h.reason}\n`);
    if (c.truncated) out.write('  (more steps follow: the plan stopped after 200)\n');
  }
  const changed = plan.clusters.filter((c) => c.steps.length).length;
  // Clusters roll out side by side: the longest one is the plan's time.
  const estimates = plan.clusters.filter((c) => c.steps.length).map((c) => c.estimateSeconds);
  const longest = estimates.includes(null) ? null : Math.max(0, ...(estimates as number[]));
  out.write(plan.changes
    ? `\nPlan: ${actions} action(s) in ${changed} of ${plan.clusters.length} cluster(s), ${seconds(longest)}.\n`
    : `\nNo changes: every cluster matches ${at}.\n`);
}
