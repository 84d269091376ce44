import { connectAdmin, directoryStore } from '@herd/coordinator';
import { formatHostPort, type NodeSession__Output } from '@herd/proto';
import type { ProviderSpec } from '@herd/api';
import { formatSpecError, quote } from '@herd/api';
import { isRemoteUrl, readWorkingTree } from '@herd/source';
import { LABEL } from '@herd/provider';
import { fleetView, nodesAtCommit, sessionLink, type FleetView } from '@herd/reconciler';
import { createLogger, nodeFileSystem, UsageError } from '@herd/sys';
import { defineCommand, outputFormat, type CommandContext } from '../command.js';
import { defaultStateDir, ProviderPool, readStatusFile, repositoryReader, runningCoordinator } from '../fleet.js';
import { adminOptions, hostPortFlag, stateFlag } from './coordinator-flags.js';

function since(iso: string, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function table(nodes: NodeSession__Output[], now: number): string {
  return columns([
    ['CLUSTER', 'NODE', 'STATE', 'GENERATION', 'LAST SEEN', 'AGENT', 'COMMIT', 'ERROR'],
    ...nodes.map((n) => [
      n.cluster, n.nodeName, sessionLink(n), `${n.observedGeneration}/${n.desiredGeneration}`, since(n.lastHeartbeat, now),
      n.agentVersion || '-', n.status?.commit?.slice(0, 12) || '-', n.status?.lastError?.split('\n')[0] || '',
    ]),
  ]) + replacements(nodes);
}

/** One line per node whose identity a re-enrollment replaced: its old certificate is refused since then. */
function replacements(nodes: NodeSession__Output[]): string {
  return nodes.filter((n) => n.identityReplacedAt)
    .map((n) => `${n.cluster}/${n.nodeName}: identity replaced at ${n.identityReplacedAt} (identity ${n.identityGeneration}); `
      + 'its earlier certificates are refused\n')
    .join('');
}

/**
 * The fleet as `herd up` left it or runs it: the last recorded status (written every round),
 * with the agents' live sessions when a coordinator runs, else with the machines the
 * providers list now.
 */
async function fleetStatus(repo: string, stateDir: string, cluster: string | undefined, commit: string | undefined, format: string, { stdout }: CommandContext): Promise<number> {
  const recorded = await readStatusFile(stateDir);
  const running = await runningCoordinator(stateDir);
  const clusters = (recorded?.clusters ?? []).filter((c) => !cluster || c.name === cluster);
  let sessions: NodeSession__Output[] | undefined;
  let listed: { clusters: Set<string>; machines: Set<string> } | undefined;
  if (running) {
    const admin = await connectAdmin({ address: running.address, store: directoryStore(stateDir, nodeFileSystem()) });
    try {
      sessions = (await admin.status(cluster ?? '')).nodes;
    } finally {
      admin.close();
    }
  } else if (recorded) {
    // No coordinator: what exists is what the providers list now.
    const logger = createLogger({ name: 'herd', level: process.env.HERD_LOG_LEVEL ?? 'warn' });
    const pool = new ProviderPool(stateDir, repositoryReader(repo, undefined, logger), logger, () => recorded.commit);
    listed = { clusters: new Set(), machines: new Set() };
    try {
      // Only a local cluster's provider is made from its kind alone; other clusters show what was recorded.
      for (const c of clusters.filter((c) => c.provider === 'local')) {
        const provider = await pool.get(c.name, { kind: 'local' } as ProviderSpec);
        for (const m of await provider.list({ [LABEL.cluster]: c.name })) listed.machines.add(`${c.name}/${m.name}`);
        listed.clusters.add(c.name);
      }
    } finally {
      await pool.close();
    }
  }

  // With no coordinator to say so: a working tree that stopped validating since the last status.
  const treeNow = !running && recorded && !recorded.commit && !recorded.rejected && !isRemoteUrl(repo)
    ? await readWorkingTree(repo).catch(() => undefined) : undefined;
  const refusedNow = treeNow?.errors.length ? treeNow.errors : undefined;
  // The one model the table, the JSON and the status page read (@herd/reconciler's fleetView).
  const view = fleetView({
    status: recorded, ...(sessions ? { sessions } : {}), ...(listed ? { listed } : {}), ...(running ? { coordinator: running } : {}),
    ...(refusedNow ? { refusedNow } : {}), ...(cluster ? { cluster } : {}),
  });
  const noStatus = `no status recorded in ${stateDir}: run \`herd up ${repo}\` first\n`;
  if (commit !== undefined) return commitStatus(view, commit, recorded ? undefined : noStatus, format, stdout);
  if (format === 'json') {
    stdout.write(JSON.stringify({
      coordinator: running ?? null,
      workingTreeErrors: refusedNow ?? null,
      status: recorded ? { ...recorded, clusters } : null,
      sessions: sessions ?? null,
      machinesListedNow: listed ? [...listed.machines] : null,
      view,
    }, null, 2) + '\n');
    return 0;
  }
  if (!recorded) {
    stdout.write(noStatus);
    return running ? 0 : 1;
  }
  stdout.write(header(view, running ? `running (pid ${running.pid}, port ${running.port})` : `not running; last status from ${recorded.time}`));
  const rows = [['CLUSTER', 'POOL', 'MACHINE', 'ADDRESS', 'STATE', 'AGENT', 'GENERATION', 'COMMIT', 'CONVERGED', 'NODE', 'ERROR']];
  for (const c of view.clusters) {
    for (const n of c.nodes) {
      const k = n.kubernetes;
      const nodeState = k ? `${k.ready ? 'Ready' : 'NotReady'}${k.unschedulable ? ',cordoned' : ''} ${k.version}` : '-';
      const generation = n.observedGeneration === null ? '-' : `${n.observedGeneration}/${n.desiredGeneration}`;
      // The commit the node's state came from: which nodes a rollout has reached (herd status --commit lists them).
      rows.push([c.name, n.pool, n.name, n.address || '-', n.machine, n.agent, generation, n.commit.slice(0, 12) || '-', n.converged ? 'yes' : 'no', nodeState,
        n.lastError.split('\n')[0] ?? '']);
    }
    if (c.nodes.length === 0) rows.push([c.name, '-', '-', '-', '-', '-', '-', '-', 'no', '-', c.reason]);
  }
  stdout.write(columns(rows));
  for (const c of view.clusters) {
    const k = c.kubernetes;
    if (!k) continue;
    stdout.write(`${c.name}: Kubernetes ${k.initialized ? `${k.apiVersion || 'API not answering'} at ${k.endpoint || '?'}` : 'not initialized'}\n`);
    for (const line of [...k.running.map((r) => `running: ${r}`), ...k.holds.map((h) => `holding: ${h}`), ...(k.halted ? [`halted: ${k.halted}`] : []), ...(k.lastFailure ? [`last failure: ${k.lastFailure}`] : [])]) {
      stdout.write(`  ${line}\n`);
    }
  }
  for (const c of view.clusters.filter((c) => !c.converged)) stdout.write(`${c.name}: ${c.reason}\n`);
  return 0;
}

/**
 * `--commit`: the nodes that run a commit, from the same view. Exit 1 when none does, as
 * `grep` finding no line: a script waits for a commit to reach a node (running = total: every node).
 */
function commitStatus(view: FleetView, commit: string, noStatus: string | undefined, format: string, stdout: CommandContext['stdout']): number {
  const selection = nodesAtCommit(view, commit);
  if (selection.commits.length > 1) {
    throw new UsageError(`--commit ${commit} is ambiguous: nodes run ${selection.commits.join(', ')}; give more of the SHA`);
  }
  const found = selection.nodes.length > 0 ? 0 : 1;
  if (format === 'json') {
    stdout.write(JSON.stringify({ commit, matched: selection.commits[0] ?? null, nodes: selection.nodes, running: selection.nodes.length, total: selection.total }, null, 2) + '\n');
    return found;
  }
  if (noStatus) {
    stdout.write(noStatus);
    return 1;
  }
  if (selection.nodes.length) stdout.write(columns([['CLUSTER', 'NODE', 'COMMIT'], ...selection.nodes.map((n) => [n.cluster, n.node, n.commit])]));
  const running = selection.nodes.length;
  stdout.write(`${running} of ${selection.total} node${selection.total === 1 ? '' : 's'} run${running === 1 ? 's' : ''} commit ${selection.commits[0] ?? commit}\n`);
  return found;
}

/** A full SHA (SHA-1 or SHA-256) or a prefix of 7 hex digits or more, the length Git abbreviates to by default. */
function commitFlag(value: unknown, usage: string): string | undefined {
  if (value === undefined) return undefined;
  const commit = String(value);
  if (!/^[0-9a-f]{7,64}$/i.test(commit)) {
    throw new UsageError(`--commit must be a commit SHA or a prefix of one (7 to 64 hex digits), got ${quote(commit)}\nusage: ${usage}`);
  }
  return commit.toLowerCase();
}

function header(view: FleetView, coordinator: string): string {
  const lines = [
    `source:      ${view.source}`,
    `in force:    ${view.commit ? `commit ${view.commit}` : 'working tree'}`,
    `coordinator: ${coordinator}`,
  ];
  if (view.refused) {
    lines.push(`refused:     ${view.refused.commit ? `commit ${view.refused.commit}` : 'the working tree'} does not validate; the state above stays in force:`);
    for (const e of view.refused.errors) lines.push(`  ${formatSpecError(e)}`);
  }
  if (view.refusedNow) {
    lines.push('now:         the working tree does not validate; a coordinator keeps the state above in force:');
    for (const e of view.refusedNow) lines.push(`  ${formatSpecError(e)}`);
  }
  for (const o of view.orphans) lines.push(`orphan:      machine ${o.machine} of cluster ${o.cluster}, which Git no longer declares (herd down --cluster ${o.cluster})`);
  return lines.join('\n') + '\n\n';
}

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'Show clusters, machines and agents: connected, generation observed/desired, converged, errors, the commit in force',
  usage: 'herd status [REPO] [--state DIR] [--cluster NAME] [--commit SHA] [--output table|json]\n       herd status --coordinator HOST:PORT --state DIR [--cluster NAME] [--output table|json]',
  options: {
    cluster: { type: 'string' },
    commit: { type: 'string' },
    ...adminOptions,
    output: { type: 'string', short: 'o', default: 'table' },
  },
  async run(ctx) {
    const { values, positionals, stdout } = ctx;
    const format = outputFormat(values.output, ['table', 'json']);
    const cluster = values.cluster as string | undefined;
    const commit = commitFlag(values.commit, this.usage);
    if (values.coordinator === undefined) {
      if (positionals.length > 1) throw new UsageError(`expected at most one REPO\nusage: ${this.usage}`);
      const repo = positionals[0] ?? '.';
      return fleetStatus(repo, (values.state as string | undefined) ?? defaultStateDir(repo), cluster, commit, format, ctx);
    }
    // The fleet view is made from a state directory's status; a coordinator's sessions alone have no clusters to list.
    if (commit !== undefined) throw new UsageError(`--commit reads a state directory's fleet view; it cannot be combined with --coordinator\nusage: ${this.usage}`);
    // A coordinator named explicitly: its sessions, through the admin API.
    const address = formatHostPort(hostPortFlag('coordinator', values.coordinator, this.usage));
    const admin = await connectAdmin({ address, store: stateFlag(values.state, this.usage) });
    try {
      const response = await admin.status(cluster ?? '');
      if (format === 'json') stdout.write(JSON.stringify(response.nodes, null, 2) + '\n');
      else stdout.write(response.nodes.length ? table(response.nodes, Date.now()) : 'no nodes have connected yet\n');
      return 0;
    } finally {
      admin.close();
    }
  },
});
