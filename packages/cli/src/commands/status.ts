import { connectAdmin } from '@herd/coordinator';
import { formatHostPort, type NodeSession__Output } from '@herd/proto';
import { defineCommand, outputFormat } from '../command.js';
import { adminOptions, hostPortFlag, stateFlag } from './coordinator-flags.js';

function since(iso: string, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function state(n: NodeSession__Output): string {
  if (n.unreachable) return n.connected ? 'silent' : 'unreachable';
  return n.connected ? 'connected' : 'disconnected';
}

function table(nodes: NodeSession__Output[], now: number): string {
  const rows = [
    ['CLUSTER', 'NODE', 'STATE', 'GENERATION', 'LAST SEEN', 'AGENT', 'COMMIT', 'ERROR'],
    ...nodes.map((n) => [
      n.cluster, n.nodeName, state(n), `${n.observedGeneration}/${n.desiredGeneration}`, since(n.lastHeartbeat, now),
      n.agentVersion || '-', n.status?.commit?.slice(0, 12) || '-', n.status?.lastError?.split('\n')[0] || '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'Show every node the coordinator knows: connected, generation observed/desired, last error',
  usage: 'herd status --coordinator HOST:PORT --state DIR [--cluster NAME] [--output table|json]',
  options: {
    cluster: { type: 'string' },
    ...adminOptions,
    output: { type: 'string', short: 'o', default: 'table' },
  },
  async run({ values, stdout }) {
    const format = outputFormat(values.output, ['table', 'json']);
    const address = formatHostPort(hostPortFlag('coordinator', values.coordinator, this.usage));
    const admin = await connectAdmin({ address, store: stateFlag(values.state, this.usage) });
    try {
      const response = await admin.status((values.cluster as string | undefined) ?? '');
      if (format === 'json') stdout.write(JSON.stringify(response.nodes, null, 2) + '\n');
      else stdout.write(response.nodes.length ? table(response.nodes, Date.now()) : 'no nodes have connected yet\n');
      return 0;
    } finally {
      admin.close();
    }
  },
});
